"""Decoder: a decoder-only int8 transformer, one token at a time.

Per token (x is the int8 residual stream, one scale for the whole model):
  x = saturate8(tok_emb[token] + pos_emb[pos])
  per layer: h = norm(x); q, k, v = Wq h, Wk h, Wv h (int8; k and v into the KV cache);
             a = attention of q over the cache (exp2 softmax, every head), narrowed to int8;
             x = saturate8(x + Wo a); h = norm(x); x = saturate8(x + W2 relu(W1 h))
  logits = LM head (norm(x)), int32 in Q(logit_frac).
The context is at most the model's context: a full cache is an error (ValueError),
reset() starts over. See docs/model-format.md for the file and the scales.

All of a loaded model lives in three buffers, made once: the blob (weights, per-row
constants and the plan: the offsets and sizes each kernel of _step.py reads), the
state (activations and the KV caches of every layer) and the logits. They, and the
spec (the plan's entry points and the limits the Python side checks), sit in the
object's frame (see _memory.py): every step measures them first, so no attribute
assignment can make a kernel write outside them.
"""

import gc
import sys
from array import array

from micropython import const

from . import _check, _layers, _memory, _step, modelfile
from ._fixed import norm_constants
from ._kernels import softmax_exp2
from ._memory import measure
from .micro import _EXP2, MASKED, scale_shift

_BLOB = const(6)  # the frame's buffers (_memory.SCRATCH on)
_STATE = const(7)
_LOGITS = const(8)
_TEMPERED = const(9)
_RNG = const(10)
_SPEC = const(11)  # a tuple, not a buffer: see _spec()
_STEP = _check.kinds(0, 0, 0, 0, _memory.INT8, _memory.INT8, _memory.INT32)
_PICK = _check.kinds(0, 0, 0, 0, 0, 0, _memory.INT32, _memory.INT32, _memory.INT32)
_OBJECT_BYTES = const(128)  # words of the Decoder object and of its and _h's dictionaries
_PROJECT = const(40)  # bytes of a record of each kernel in the plan
_NORM = const(24)
_ATTEND = const(52)
_EMBED = const(16)


class _Layout:
    """Offsets of regions in a buffer being planned: take() one after another."""

    def __init__(self):
        self.size = 0

    def take(self, size, align=1):
        start = (self.size + align - 1) & (0 - align)
        self.size = start + size
        return start


def _plan(h):
    """The layout of a model with header h: (blob size, state size, tensors, records, spec).

    tensors: {name: (weights offset, params offset or None, rows, cols)} in the blob;
    records: [(offset, words)] of the plan, int32 words to write into the blob.
    """
    d, f, v, t, layers = h["dim"], h["hidden"], h["vocab"], h["context"], h["layers"]
    heads = h["heads"]
    hd = d // heads
    blob = _Layout()
    state = _Layout()
    tensors = {}
    projections = []
    for name, rows, cols, scaled in modelfile.tensor_list(h):
        if name != "vocab":
            tensors[name] = [blob.take(rows * cols), None, rows, cols]
            if scaled:
                projections.append(name)
    for name in projections:
        tensors[name][1] = blob.take(16 * tensors[name][2], 4)
    x = state.take(d)
    xb = state.take(d)  # a prepared input of d: a norm's or the attention's output
    xb_sum = state.take(4, 4)
    fb = state.take(f)  # the feed-forward's hidden layer, prepared
    fb_sum = state.take(4, 4)
    q = state.take(d)
    acc = state.take(4 * max(2 * d, f, v), 4)  # a projection's sums; the attention's query
    scores = state.take(4 * t, 4)
    exp2 = state.take(4 * len(_EXP2), 4)
    kv = state.take(layers * t * 2 * d)
    relu = blob.take(256)
    num, down = norm_constants(d, h["norm_frac"])
    records = []

    def record(size, words):
        records.append((blob.take(size, 4), words))
        return records[-1][0]

    def project(name, x_off, sum_off, out_off, mode, rows=None):
        w, p, r, c = tensors[name]
        return record(_PROJECT, (w, p, x_off, sum_off, out_off, rows or r, c, mode, acc, relu))

    norm_at = record(_NORM, (x, xb, xb_sum, d, num, down))
    steps = []
    for i in range(layers):
        kv_i = kv + i * t * 2 * d
        # wk and wv are next to each other in the blob (file order): one projection
        # writes a cache row [k | v].
        steps.append(
            (
                project("%d.wk" % i, xb, xb_sum, kv_i, _step.INT8, rows=2 * d),
                project("%d.wq" % i, xb, xb_sum, q, _step.INT8),
                record(
                    _ATTEND,
                    (q, kv_i, 2 * d, d, heads, hd, scale_shift(hd), h["logit_shift"])
                    + (scores, acc, exp2, xb, xb_sum),
                ),
                project("%d.wo" % i, xb, xb_sum, x, _step.ADD8),
                project("%d.w1" % i, xb, xb_sum, fb, _step.TABLE),
                project("%d.w2" % i, fb, fb_sum, x, _step.ADD8),
            )
        )
    embed_at = record(_EMBED, (tensors["tok_emb"][0], tensors["pos_emb"][0], x, d))
    head_at = project("lm_head", xb, xb_sum, 0, _step.INT32)
    spec = (t, v, 2 * d, blob.size, state.size, exp2, embed_at, norm_at, head_at, tuple(steps))
    spec = spec + (relu,)
    return blob.size, state.size, tensors, records, spec


def ram_needed(h):
    """Bytes of heap a model with header h takes once loaded, on this port.

    The heap hands out blocks of 4 words (16 bytes on a 32-bit port): every buffer is
    counted as its object and its data, each rounded up to blocks; the Decoder object,
    its dictionaries, the frame, the spec's tuples and the vocabulary as blocks too.
    """
    blob, state, _, _, spec = _plan(h)
    word = 8 if sys.maxsize > 0xFFFFFFFF else 4
    block = 4 * word

    def blocks(size):
        return (size + block - 1) // block * block

    v = h["vocab"]
    total = blocks(blob) + blocks(state) + 2 * blocks(4 * v) + blocks(4)  # logits, tempered, rng
    total += blocks(4 * _memory.FACTS)  # facts
    total += 6 * block  # the objects of those six buffers
    total += blocks(word * (2 + _SPEC + 1))  # the frame
    total += blocks(word * (2 + len(spec))) + blocks(word * (2 + len(spec[9])))
    total += len(spec[9]) * blocks(word * 8)  # each layer's offsets
    total += blocks(2 * v + 2 * word)  # the vocabulary, a str
    return total + _OBJECT_BYTES * word  # the Decoder and its dictionaries, _h's


class Decoder:
    """A loaded model: feed(token) one step, pick() the next token, generate() text.

    Make one with Decoder.load(path). logits (array('i') of vocab items) holds the
    last step's logits in Q(logit_frac): real logit = logits[i] / 2**logit_frac.
    Decoder(h) makes a model of header h whose weights are all 0 (it outputs 0).
    """

    @staticmethod
    def load(path):
        """Check the file at path, say what RAM it needs, then allocate and read it."""
        with open(path, "rb") as f:
            h = modelfile.scan(f)
            need = ram_needed(h)
            gc.collect()
            free = gc.mem_free() if hasattr(gc, "mem_free") else -1
            if 0 <= free < need:
                raise ValueError(
                    "model file: the model needs %d bytes of RAM, %d are free" % (need, free)
                )
            try:
                model = Decoder(h)
            except MemoryError:
                raise ValueError(
                    "model file: the model needs %d bytes of RAM in a few large blocks; "
                    "the heap has %d free but not in blocks that large" % (need, free)
                ) from None
            model._read(f)
        return model

    def __init__(self, h):
        self._h = h
        size, state_size, tensors, records, spec = _plan(h)
        v = h["vocab"]
        blob = bytearray(size)
        state = bytearray(state_size)
        self._frame = _check.frame(
            blob, state, array("i", bytes(4 * v)), array("i", bytes(4 * v)), array("i", [1]), spec
        )
        for offset, words in records:
            ptr = memoryview(blob)[offset : offset + 4 * len(words)]
            for i, word in enumerate(words):
                ptr[4 * i : 4 * i + 4] = word.to_bytes(4, "little")
        for w, p, rows, cols in tensors.values():
            if p is not None:  # weights 0 and scales (0, 17): every output is 0
                for r in range(rows):
                    blob[p + 8 * r + 4] = 17
                _step.prepare(blob, w, p, rows, cols)
        for i in range(128):  # ReLU as a table: entries 0..127 are bytes 0..127, the rest 0
            blob[spec[10] + i] = i
        exp2 = spec[5]
        for i, value in enumerate(_EXP2):
            state[exp2 + 4 * i : exp2 + 4 * i + 4] = value.to_bytes(4, "little")
        self._temperature = 0
        self._top_k = v
        self._pos = 0
        self._vocab = ""

    def _read(self, f):
        """Read every tensor of the file f (checked by modelfile.scan) into the blob."""
        blob = self._frame[_BLOB]
        view = memoryview(blob)
        tensors = _plan(self._h)[2]
        buffers = {}
        for name, rows, cols, scaled in modelfile.tensor_list(self._h):
            if name == "vocab":
                buffers[name] = (bytearray(cols), None)
                continue
            w, p, _, _ = tensors[name]
            scales = view[p : p + 8 * rows] if scaled else None
            buffers[name] = (view[w : w + rows * cols], scales)
        modelfile.load_into(f, self._h, buffers)
        for w, p, rows, cols in tensors.values():
            if p is not None:
                _step.prepare(blob, w, p, rows, cols)
        self._vocab = bytes(buffers["vocab"][0]).decode()

    # Hyperparameters, read-only.
    vocab = property(lambda self: self._vocab)
    dim = property(lambda self: self._h["dim"])
    heads = property(lambda self: self._h["heads"])
    layers = property(lambda self: self._h["layers"])
    hidden = property(lambda self: self._h["hidden"])
    context = property(lambda self: self._h["context"])
    logit_frac = property(lambda self: self._h["logit_frac"])
    position = property(lambda self: self._pos)
    logits = property(lambda self: self._frame[_LOGITS])
    ram = property(lambda self: ram_needed(self._h))

    def reset(self):
        """Forget the context: the next token fed is at position 0."""
        self._pos = 0

    def sampling(self, temperature=0, top_k=0, seed=1):
        """How pick() chooses: temperature 0 is greedy (argmax); else sample.

        temperature: a float or int > 0 (1.0 leaves the logits as they are), kept as
        round(256 * temperature); top_k: sample among the k largest logits (0: all);
        seed: the generator's start, an int (taken mod 2**31).
        """
        if type(temperature) is not int and type(temperature) is not float:
            raise TypeError("temperature: expected a number, got %s" % type(temperature).__name__)
        if not 0 <= temperature <= 256:  # nan too
            raise ValueError("temperature: expected 0..256, got %r" % (temperature,))
        t = int(temperature * 256 + 0.5)
        v = self._h["vocab"]
        if type(top_k) is not int or not 0 <= top_k <= v:
            raise ValueError("top_k: expected an int 0..%d, got %r" % (v, top_k))
        if type(seed) is not int:
            raise TypeError("seed: expected an int, got %s" % type(seed).__name__)
        self._temperature = t
        self._top_k = top_k or v
        self._frame[_RNG][0] = seed & 0x7FFFFFFF  # seed mod 2**31

    def _measure(self, kinds):
        """The spec, once the frame's buffers are measured as they are now against it."""
        frame = self._frame
        status = measure(None, None, None, None, kinds, frame)
        if status:
            _check.refuse(status, (), kinds, frame)
        facts = frame[1]
        spec = frame[_SPEC]
        if facts[4] < spec[3] or facts[5] < spec[4] or facts[6] != spec[1]:
            raise ValueError(
                "logits: resized to %d items, expected %d" % (facts[6], spec[1])
                if facts[6] != spec[1]
                else "the model's buffers were resized: load it again"
            )
        return spec

    def feed(self, token, logits=True):
        """Run one token through the model at the next position; logits are then ready.

        logits=False: the token's keys and values go into the caches but its logits
        are not computed (the last layer stops there): for a prompt token whose logits
        nobody reads; logits keep what they held.
        """
        spec = self._measure(_STEP)
        frame = self._frame
        context, vocab, row, _, _, _, embed_at, norm_at, head_at, steps, _ = spec
        if token.__class__ is not _check.INT:
            raise TypeError("token: expected an int, got %s" % type(token).__name__)
        if not 0 <= token < vocab:
            raise ValueError("token: expected 0..%d, got %d" % (vocab - 1, token))
        pos = self._pos
        if not 0 <= pos < context:
            raise ValueError("context: full at %d tokens; reset() first" % context)
        blob = frame[_BLOB]
        state = frame[_STATE]
        _step.embed(blob, state, embed_at, token, pos)
        kv_row = pos * row
        n = pos + 1
        layers = len(steps)
        for kv, q, attention, o, w1, w2 in steps:
            _step.norm(blob, state, norm_at)
            _step.project(blob, state, state, kv, kv_row)
            layers -= 1
            if not (layers or logits):
                break  # the rest of the last layer only makes the logits
            _step.project(blob, state, state, q, 0)
            _step.attend(blob, state, attention, n)
            _step.project(blob, state, state, o, 0)
            _step.norm(blob, state, norm_at)
            _step.project(blob, state, state, w1, 0)
            _step.project(blob, state, state, w2, 0)
        else:
            _step.norm(blob, state, norm_at)
            _step.project(blob, state, frame[_LOGITS], head_at, 0)
        self._pos = n

    def pick(self):
        """The next token from logits: argmax, or a draw as sampling() set."""
        v = self._measure(_PICK)[1]
        frame = self._frame
        logits = frame[_LOGITS]
        if not self._temperature:
            return _layers.argmax32(logits, v)
        w = frame[_TEMPERED]
        _layers.temper(logits, w, v, self._top_k, self._temperature, MASKED)
        softmax_exp2(w, _EXP2, v, self._h["logit_frac"])
        return _layers.draw(w, v, frame[_RNG])

    def generate_into(self, prompt, out, stop=-1):
        """Feed the token ids prompt (bytes), then fill out (bytearray) with picked tokens.

        Stops after a token equal to stop, when out is full or the context is: returns
        how many tokens were written. Allocates nothing.
        """
        if type(out) is not bytearray:
            raise TypeError("out: expected a bytearray, got %s" % type(out).__name__)
        if len(prompt) < 1 or len(prompt) > self._h["context"]:
            raise ValueError(
                "prompt: expected 1..%d tokens, got %d" % (self._h["context"], len(prompt))
            )
        self.reset()
        last = len(prompt) - 1
        for i in range(last):  # only the last prompt token's logits are read
            self.feed(prompt[i], False)
        self.feed(prompt[last])
        count = 0
        room = len(out)
        context = self._h["context"]
        while count < room:
            token = self.pick()
            out[count] = token
            count += 1
            if token == stop or self._pos >= context:
                break
            if count < room:
                self.feed(token)
        return count

    def encode(self, text):
        """Token ids of text (bytes); ValueError names a character outside the vocabulary."""
        ids = bytearray(len(text))
        for i, c in enumerate(text):
            j = self._vocab.find(c)
            if j < 0:
                raise ValueError("text: %r is not in the vocabulary %r" % (c, self._vocab))
            ids[i] = j
        return bytes(ids)

    def generate(self, prompt, max_new=None, stop=None):
        """The text generated after prompt (a str), up to max_new tokens or stop (a character)."""
        room = self._h["context"] - len(prompt) + 1  # as many as the context can take
        if max_new is not None:
            if type(max_new) is not int:
                raise TypeError("max_new: expected an int, got %s" % type(max_new).__name__)
            if max_new < room:
                room = max_new
        out = bytearray(max(room, 0))
        stop_id = -1 if stop is None else self._vocab.find(stop)
        count = self.generate_into(self.encode(prompt), out, stop_id)
        return "".join(self._vocab[t] for t in out[:count])


def shipped(name="reverse.bin"):
    """The path of a model file shipped inside the package (beside this module).

    On a board after `make deploy` that is /lib/attention/reverse.bin. A package
    frozen into the firmware has no files: copy the model file to the board instead.
    """
    return __file__.rsplit("/", 1)[0] + "/" + name
