"""What a loaded model file is on the board: three buffers and a plan, in a frame.

A model (a Decoder or a Classifier) lives in buffers made once, at load: the blob
(weights, per-row constants, tables, and the plan: the records of offsets and sizes
that the kernels of _step.py read), the state (activations and KV caches) and the
outputs (logits, and a classifier's scores). They sit in the object's frame (see
_memory.py) with the spec (the plan's entry points and the limits the Python side
checks): every step measures them first, so no attribute assignment can make a kernel
write outside them. Loading checks the whole file first (modelfile.scan), then the RAM.
"""

import gc
import sys

import micropython

from micropython import const

from . import _check, _memory
from ._fixed import norm_constants
from ._softmax import EXP2, scale_shift
from ._step import ADD8, INT8, ONE_MULTIPLY, TABLE, prepare
from .modelfile import load_into, scan
from .modelfile import tensors as file_tensors

BLOB = const(6)  # the frame's buffers (_memory.SCRATCH on), then the spec
STATE = const(7)
OUTPUT = const(8)  # logits (int32)
# Bytes of a record of each kernel in the plan.
_PROJECT = const(32)
_NORM = const(24)
_ATTEND = const(52)
EMBED = const(16)
POOL = const(16)
PREP = const(12)
OBJECT_WORDS = const(160)  # the model object, its dictionary, the header dict's


class Layout:
    """Offsets of regions in a buffer being planned: take() one after another."""

    def __init__(self):
        self.size = 0

    def take(self, size, align=1):
        start = (self.size + align - 1) & (0 - align)
        self.size = start + size
        return start


class Plan:
    """The blob's and the state's layouts of a model with header h, and its records.

    tensors: {name: [offset, stride or None, rows, cols]} in the blob: a projection's
    rows are stride bytes apart, each its weights then its four constants (see _step.py),
    other tensors rows * cols bytes; records: [(offset, words)], the int32 words to
    write into the blob.
    """

    def __init__(self, h):
        self.h = h
        self.blob = Layout()
        self.state = Layout()
        self.records = []
        self.tensors = {}
        d = h["dim"]
        for name, rows, cols, has_scales in file_tensors(h):
            if name == "vocab":
                continue
            if has_scales:
                stride = ((cols + 3) & ~3) + 16
                self.tensors[name] = [self.blob.take(rows * stride, 4), stride, rows, cols]
            else:
                self.tensors[name] = [self.blob.take(rows * cols), None, rows, cols]
        if "act" in self.tensors:
            self.table = self.tensors["act"][0]
        else:
            self.table = self.blob.take(256)  # ReLU, filled at construction
        self.one = ONE_MULTIPLY if h["requant"] else 0
        take = self.state.take
        self.xb = take(d)  # a prepared input of d: a norm's or the attention's output
        self.xb_sum = take(4, 4)
        self.fb = take(h["hidden"])  # the feed-forward's hidden layer, prepared
        self.fb_sum = take(4, 4)
        self.acc = take(8 * d, 4)  # the attention's int32 scratch: 2 * head_dim items a head
        self.exp2 = take(4 * len(EXP2), 4)
        self.rows = h["context"] + (h["pooling"] == 2)  # cache rows: a class token's too
        self.scores = take(4 * self.rows, 4)

    def record(self, size, words):
        self.records.append((self.blob.take(size, 4), words))
        return self.records[-1][0]

    def project(self, name, x_off, sum_off, out_off, mode, rows=None):
        w, _, r, c = self.tensors[name]
        words = (w, x_off, sum_off, out_off, rows or r, c, mode | self.one, self.table)
        return self.record(_PROJECT, words)

    def norm(self, x_off):
        h = self.h
        num, down = norm_constants(h["dim"], h["norm_frac"])
        return self.record(_NORM, (x_off, self.xb, self.xb_sum, h["dim"], num, down))

    def attend(self, q_off, kv_off):
        h = self.h
        d = h["dim"]
        hd = d // h["heads"]
        words = (q_off, kv_off, 2 * d, d, h["heads"], hd, scale_shift(hd), h["logit_shift"])
        return self.record(
            _ATTEND, words + (self.scores, self.acc, self.exp2, self.xb, self.xb_sum)
        )

    def layer(self, i, kv_off, q_off, x_off):
        """The records of layer i: (kv, q, attention, o, w1, w2)."""
        d = self.h["dim"]
        xb, xb_sum, fb, fb_sum = self.xb, self.xb_sum, self.fb, self.fb_sum
        # wk and wv are next to each other in the blob (file order), and their constants
        # too: one projection writes a cache row [k | v].
        return (
            self.project("%d.wk" % i, xb, xb_sum, kv_off, INT8, rows=2 * d),
            self.project("%d.wq" % i, xb, xb_sum, q_off, INT8),
            self.attend(q_off, kv_off),
            self.project("%d.wo" % i, xb, xb_sum, x_off, ADD8),
            self.project("%d.w1" % i, xb, xb_sum, fb, TABLE),
            self.project("%d.w2" % i, fb, fb_sum, x_off, ADD8),
        )


WORD = 8 if getattr(sys, "maxsize", 0x7FFFFFFF) > 0xFFFFFFFF else 4  # bytes in a machine word


def blocks(*sizes):
    """Bytes of heap that allocations of sizes take: each rounded up to whole blocks of
    4 words (16 bytes on a 32-bit port)."""
    block = 4 * WORD
    total = 0
    for size in sizes:
        total += (size + block - 1) // block * block
    return total


class Model:
    """Shared by Decoder and Classifier: loading, the frame, measuring it per step."""

    @classmethod
    def load(cls, path):
        """Check the file at path, say what RAM it needs, then allocate and read it."""
        with open(path, "rb") as f:
            h = scan(f)
            if h["kind"] != cls._KIND:
                raise ValueError(
                    "model file: a %s, not a %s"
                    % (("decoder", "classifier")[h["kind"]], cls.__name__.lower())
                )
            need = cls._ram_needed(h)
            gc.collect()
            free = gc.mem_free() if hasattr(gc, "mem_free") else -1
            if 0 <= free < need:
                raise ValueError(
                    "model file: the model needs %d bytes of RAM, %d are free" % (need, free)
                )
            try:
                model = cls(h)
                model._read(f)
            except MemoryError:
                raise ValueError(
                    "model file: the model needs %d bytes of RAM, the weights in one block; "
                    "the heap has %d free, but not in blocks that large" % (need, free)
                ) from None
        return model

    def _build(self, plan, outputs, spec):
        """Make the blob and the state of plan, the frame holding them and outputs."""
        blob = bytearray(plan.blob.size)
        state = bytearray(plan.state.size)
        self._frame = _check.frame(*((blob, state) + outputs + (spec,)))
        for offset, values in plan.records:
            view = memoryview(blob)[offset : offset + 4 * len(values)]
            for i, value in enumerate(values):
                view[4 * i : 4 * i + 4] = value.to_bytes(4, "little")
        for w, stride, rows, cols in plan.tensors.values():
            if stride:  # weights 0 and scales (0, 17): every output is 0
                for r in range(rows):
                    blob[w + r * stride + stride - 12] = 17
                prepare(blob, w, rows, cols, 0)
        if "act" not in plan.tensors:
            for i in range(128):  # ReLU as a table: entries 0..127 are bytes 0..127, the rest 0
                blob[plan.table + i] = i
        for i, value in enumerate(EXP2):
            state[plan.exp2 + 4 * i : plan.exp2 + 4 * i + 4] = value.to_bytes(4, "little")

    def _read(self, f):
        """Read every tensor of the file f (checked by modelfile.scan) into the blob."""
        h = self._h
        blob = self._frame[BLOB]
        view = memoryview(blob)
        tensors = Plan(h).tensors
        text = []

        def place(name, rows, cols):
            if name == "vocab":
                text.append(bytearray(rows * cols))
                return text[0], None
            w, stride, _, _ = tensors[name]
            return view[w : w + rows * (stride or cols)], stride

        load_into(f, h, place)
        for name, (w, stride, rows, cols) in tensors.items():
            if stride:
                bad = prepare(blob, w, rows, cols, h["requant"])
                if bad >= 0:
                    raise ValueError(
                        "model file: tensor %s row %d breaks the one-multiply promise "
                        "(128 * sum|w| * m + 2**(s - 1) < 2**31)" % (name, bad)
                    )
        self._names = _texts(text[0], h["vocab"], h["vocab_width"], h["version"])

    @micropython.native
    def _measure(self, kinds, outputs, a=None, name="frames"):
        """The spec, once the frame's buffers are measured against it as they are now:
        the blob, the state and the first outputs of spec[2] (logits, then the rest: at
        least the lengths spec[2] gives; logits exactly), and a, the caller's buffer, if
        kinds looks at it."""
        frame = self._frame
        status = _memory.measure(None, a, None, None, kinds, frame)
        if status:
            _check.refuse(status, ("", name), kinds, frame, None, a)
        facts = frame[1]
        spec = frame[-1]
        if facts[4] < spec[0] or facts[5] < spec[1]:
            raise ValueError("the model's buffers were resized: load it again")
        needs = spec[2]
        if facts[6] != needs[0]:
            raise ValueError("logits: resized to %d items, expected %d" % (facts[6], needs[0]))
        k = 1
        while k < outputs:
            if facts[6 + k] < needs[k]:
                _check.changed()
            k += 1
        return spec


def _texts(table, count, width, version):
    """The vocabulary or the class names: a str (one character each), else a tuple of str."""
    if version == 1:
        return bytes(table).decode()
    names = []
    single = True
    for i in range(count):
        row = table[i * width : (i + 1) * width]
        end = width
        while end and not row[end - 1]:
            end -= 1
        names.append(str(row[:end], "utf-8"))
        single = single and len(names[-1]) == 1
    return "".join(names) if single else tuple(names)
