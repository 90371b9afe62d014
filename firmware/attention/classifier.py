"""Classifier: an int8 transformer encoder over a window of feature frames (a sensor stream).

A window is T frames of F int8 values (frame 0 the oldest). As docs/model-format.md
(version 2) says:
  x_t = saturate8(requant(in_proj @ frame_t) + pos_emb[t]); with a class token, one more
  row x_T = saturate8(cls + pos_emb[T]); then per layer, every row's keys and values
  into the cache, then every row: attention (over every row, or rows 0..t when causal),
  x_t = saturate8(x_t + Wo a); x_t = saturate8(x_t + W2 act(W1 norm(x_t)));
  p = the class token's row, or the rows' mean; logits = head @ norm(p) (Q(logit_frac));
  scores = softmax_exp2(logits): Q8, 256 == 1.0.
classify(frames) classifies one window; push(frame) adds a frame to a ring of the last T
(the oldest goes) and classify() classifies it: a stream, allocating nothing per frame.
"""

from array import array

import micropython

from micropython import const

from . import _check, _kernels, _memory
from ._softmax import EXP2
from ._layers import argmax32
from ._step import ADD8, INT32, attend, embed, norm, pool, prep, project
from .model import BLOB, EMBED, Model, OBJECT_WORDS, OUTPUT, POOL, PREP, Plan, STATE, WORD, blocks

_SCORES = const(9)  # the frame's buffers after OUTPUT (the logits)
_WINDOW = _check.kinds(0, _memory.INT8, 0, 0, _memory.INT8, _memory.INT8, _memory.INT32)
_WINDOW |= _check.kinds(0, 0, 0, 0, 0, 0, 0, _memory.INT32)
_STREAM = _WINDOW & ~0xC  # no frames argument: the ring in the state
_PUSH = _check.kinds(0, _memory.INT8, 0, 0, _memory.INT8, _memory.INT8, _memory.INT32)


def _plan(h):
    """The classifier's Plan and spec (see Classifier.classify for its fields)."""
    plan = Plan(h)
    take = plan.state.take
    d, t, f = h["dim"], h["context"], h["features"]
    rows = plan.rows
    x = take(rows * d)  # every row's residual stream
    q = take(rows * d)  # every row's query, in this layer
    kv = take(rows * 2 * d)  # this layer's cache
    pooled = take(d)
    frame = take(f)  # a frame, prepared for in_proj
    frame_sum = take(4, 4)
    ring = take(t * f)  # the stream's last t frames
    zero = plan.blob.take(d)  # a row of 0: x_t starts at pos_emb[t]
    pos = plan.tensors["pos_emb"][0]
    starts = plan.record(EMBED, (zero, pos, x, d))
    cls = plan.tensors.get("cls")
    token = plan.record(EMBED, (cls[0] if cls else zero, pos, x, d))
    prep_at = plan.record(PREP, (frame, frame_sum, f))
    in_proj = plan.project("in_proj", frame, frame_sum, x, ADD8)
    layers = tuple(plan.layer(i, kv, q, x) for i in range(h["layers"]))
    norm_x = plan.norm(x)
    pool_at = plan.record(POOL, (x, t, d, pooled))
    norm_p = plan.norm(pooled if h["pooling"] == 1 else x + t * d)
    head = plan.project("head", plan.xb, plan.xb_sum, 0, INT32)
    steps = (starts, token, prep_at, in_proj, norm_x, pool_at, norm_p, head, layers)
    c = h["vocab"]
    spec = (plan.blob.size, plan.state.size, (c, c), t, rows, d, f, h["attention"], ring)
    return plan, spec + steps


def ram_needed(h):
    """Bytes of heap a classifier with header h takes once loaded, on this port."""
    plan, spec = _plan(h)
    c = h["vocab"]
    word = WORD
    layers = h["layers"]
    total = blocks(
        plan.blob.size, plan.state.size, 4 * c, 4 * c, 4 * _memory.FACTS,  # buffers
        *([4 * word] * 5),  # their objects
        word * (2 + _SCORES + 2), word * (2 + len(spec)), word * (2 + layers),  # frame, spec
        *([word * 8] * layers),  # each layer's records
        c * (h.get("vocab_width", 1) + 4 * word),  # the class names
    )  # fmt: skip
    return total + OBJECT_WORDS * word


class Classifier(Model):
    """A loaded classifier: classify(frames) or push(frame) then classify().

    Make one with Classifier.load(path). After a classification, logits (array('i') of
    one item per class, Q(logit_frac)) and scores (array('i'), Q8: 256 == 1.0) hold the
    window's; labels names the classes.
    """

    _KIND = 1
    _ram_needed = staticmethod(ram_needed)

    def __init__(self, h):
        self._h = h
        plan, spec = _plan(h)
        c = h["vocab"]
        self._build(plan, (array("i", bytes(4 * c)), array("i", bytes(4 * c))), spec)
        self._count = 0  # frames pushed since reset()
        self._names = ()

    labels = property(lambda self: self._names)  # the classes' names
    classes = property(lambda self: self._h["vocab"])
    features = property(lambda self: self._h["features"])  # int8 values of a frame
    window = property(lambda self: self._h["context"])  # frames of a window
    count = property(lambda self: self._count)  # frames pushed since reset()
    logits = property(lambda self: self._frame[OUTPUT])
    scores = property(lambda self: self._frame[_SCORES])
    ram = property(lambda self: ram_needed(self._h))

    def reset(self):
        """Forget the frames pushed."""
        self._count = 0

    @micropython.native
    def push(self, frame):
        """Add one frame (features int8) to the stream: the oldest of the last window goes."""
        spec = self._measure(_PUSH, 1, frame, "frame")
        f, ring, t = spec[6], spec[8], spec[3]
        facts = self._frame[1]
        if facts[1] < f:
            _check.short("frame", facts[1], f)
        count = self._count
        if count.__class__ is not _check.INT or count < 0:
            _check.changed()
        _kernels.copy8(self._frame[STATE], frame, ring + (count % t) * f, f)
        self._count = count + 1

    @micropython.native
    def classify(self, frames=None):
        """The class of a window: frames (window * features int8, the oldest first), or
        without frames, the last window pushed. Its logits and scores are then ready."""
        if frames is None:
            spec = self._measure(_STREAM, 2)
            count = self._count
            if count.__class__ is not _check.INT or count < spec[3]:
                raise ValueError(
                    "classify: %r frames pushed, a window is %d" % (self._count, spec[3])
                )
            src = self._frame[STATE]
            first = count % spec[3]  # the oldest frame's place in the ring
        else:
            spec = self._measure(_WINDOW, 2, frames)
            need = spec[3] * spec[6]
            if self._frame[1][1] < need:
                _check.short("frames", self._frame[1][1], need)
            src = frames
            first = -1
        frame = self._frame
        blob = frame[BLOB]
        state = frame[STATE]
        _, _, needs, t, rows, d, f, full, ring = spec[:9]
        c = needs[0]
        starts, token, prep_at, in_proj, norm_x, pool_at, norm_p, head, layers = spec[9:]
        at = 0
        row = 0
        while row < t:
            embed(blob, state, starts, 0, row, at)
            where = row * f if first < 0 else ring + ((first + row) % t) * f
            prep(blob, state, src, prep_at, where)
            project(blob, state, state, in_proj, at)
            row += 1
            at += d
        if rows > t:
            embed(blob, state, token, 0, t, at)
        for kv, q, attention, o, w1, w2 in layers:
            row = 0
            while row < rows:
                norm(blob, state, norm_x, row * d)
                project(blob, state, state, kv, 2 * row * d)
                project(blob, state, state, q, row * d)
                row += 1
            row = 0
            while row < rows:
                at = row * d
                attend(blob, state, attention, rows if full else row + 1, at)
                project(blob, state, state, o, at)
                norm(blob, state, norm_x, at)
                project(blob, state, state, w1, 0)
                project(blob, state, state, w2, at)
                row += 1
        if rows == t:
            pool(blob, state, pool_at)
        norm(blob, state, norm_p, 0)
        logits = frame[OUTPUT]
        project(blob, state, logits, head, 0)
        scores = frame[_SCORES]
        _kernels.copy8(scores, logits, 0, 4 * c)
        _kernels.softmax_exp2(scores, EXP2, c, self._h["logit_frac"])
        return argmax32(logits, c)


def shipped(name="gesture.bin"):
    """The path of a classifier file shipped inside the package (beside this module)."""
    return __file__.rsplit("/", 1)[0] + "/" + name
