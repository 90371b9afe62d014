"""The decoder as it was before the fused kernels of _step.py, kept as a speed baseline.

Frozen from the package at commit 876a8b8 (firmware/attention/decoder.py, and what its
feed() and pick() ran): the Decoder over a KVCache per layer and MicroAttention.forward
(exp2 softmax), with their per-call buffer checks, and the viper kernels they called
(_kernels.dot_rows, copy8, fill, softmax_exp2, weighted_rows; _layers.gather8, add8,
rms_norm8, requant8, clamp8, relu8, requant32, argmax32), copied here under a prev_
prefix so that later changes to the package do not move the baseline; so are its
reader of version 1 model files (modelfile.tensor_list and the reading, without the
checks of scan(), at load time only) and _fixed.norm_constants. The buffer measurement
of the checks is the package's (attention._memory.measure through a frame of
attention._check: the package at 876a8b8 read object headers through id(), which the
package has since replaced because id() is no address on some 32-bit ports; the calls
are made where they were, one per check), and so is the exp2 table. Greedy decoding
only (pick() is argmax).

Its viper kernels are in baseline_kernels.py, joined in front of this file. Run in
front of bench_previous.py (`make bench`): PreviousDecoder(path) is fed the same
tokens as the package's Decoder and gives the same logits. Not part of the package; not
maintained beyond that use.
"""

# with: baseline_kernels.py

import struct
from array import array

import micropython
from attention import _check, _memory
from attention._softmax import EXP2 as _EXP2

_PREV_LAYER_TENSORS = ("wq", "wk", "wv", "wo", "w1", "w2")
_PREV_FIELDS = ("vocab", "dim", "heads", "layers", "hidden", "context", "norm_frac")
_PREV_FIELDS += ("logit_shift", "logit_frac", "activation", "tensors")


def prev_tensor_list(h):
    """modelfile.tensor_list at 876a8b8: (name, rows, cols, scaled), in file order."""
    d, f, v = h["dim"], h["hidden"], h["vocab"]
    out = [("vocab", 1, v, 0), ("tok_emb", v, d, 0), ("pos_emb", h["context"], d, 0)]
    for i in range(h["layers"]):
        for name in _PREV_LAYER_TENSORS:
            rows, cols = (f, d) if name == "w1" else (d, f) if name == "w2" else (d, d)
            out.append(("%d.%s" % (i, name), rows, cols, 1))
    out.append(("lm_head", v, d, 1))
    return out


def prev_isqrt(v):
    if v < 2:
        return v
    x = v
    y = (x + 1) >> 1
    while y < x:
        x = y
        y = (x + v // x) >> 1
    return x


def prev_norm_constants(dim, frac):
    """_fixed.norm_constants at 876a8b8."""
    k = 0
    while prev_isqrt(dim << (2 * k + 2)) < 0x40000000:
        k += 1
    return prev_isqrt(dim << (2 * k)), k - frac


_PREV_APPEND = _check.kinds(_memory.INT8, _memory.INT8, _memory.INT8)
_PREV_FORWARD = _check.kinds(_memory.INT32, _memory.INT8, _memory.INT8, _memory.INT8)
_PREV_FORWARD_NAMES = ("output", "query", "keys", "values")
_PREV_MASKED = -1073741824


class PrevCache:
    """KVCache(capacity, width) at 876a8b8: append() and its checks."""

    def __init__(self, capacity, width):
        self._capacity = capacity
        self._width = width
        self._keys = array("b", bytes(capacity * width))
        self._values = array("b", bytes(capacity * width))
        self._count = 0
        self._frame = _check.frame()

    keys = property(lambda self: self._keys)
    values = property(lambda self: self._values)

    def __len__(self):
        return min(self._count, self._capacity)

    def append(self, key, value):
        width = self._width
        facts = self._frame[1]
        self._measure("keys", self._keys, key, value)
        self._measure("values", self._values, key, value)
        if facts[1] != width:
            raise ValueError("key: expected %d int8 values, got %d" % (width, facts[1]))
        if facts[2] != width:
            raise ValueError("value: expected %d int8 values, got %d" % (width, facts[2]))
        if self._count >= self._capacity:
            raise ValueError("KVCache: full at %d rows" % self._capacity)
        start = (self._count % self._capacity) * width
        prev_copy8(self._keys, key, start, width)
        prev_copy8(self._values, value, start, width)
        self._count += 1

    def _measure(self, name, rows, key, value):
        frame = self._frame
        status = _memory.measure(rows, key, value, None, _PREV_APPEND, frame)
        if status:
            _check.refuse(status, (name, "key", "value"), _PREV_APPEND, frame, rows, key, value)
        if frame[1][0] < self._capacity * self._width:
            _check.short(name, frame[1][0], self._capacity * self._width)

    def clear(self):
        self._count = 0


@micropython.native
def prev_rows(n, name, size, width):
    """_check.rows at 876a8b8."""
    available = size // width
    if available * width != size:
        raise ValueError(
            "%s: length %d is not a multiple of the row width %d" % (name, size, width)
        )
    if n is None:
        n = available
    elif n.__class__ is not int or n < 0 or n > available:
        _check.number("n", n, 0, available)
    if n > 4194304:
        raise ValueError("n: at most %d rows, got %d" % (4194304, n))
    return n


@micropython.native
def prev_pair(n, key_size, value_size, width):
    """_check.pair at 876a8b8."""
    if key_size % width:
        prev_rows(None, "keys", key_size, width)
    if value_size % width:
        prev_rows(None, "values", value_size, width)
    if n is None and key_size != value_size:
        raise ValueError(
            "keys and values: %d and %d rows; pass n to use fewer"
            % (key_size // width, value_size // width)
        )
    return prev_rows(n, "keys", key_size if key_size < value_size else value_size, width)


class PrevAttention:
    """MicroAttention(embed_dim, num_heads, softmax="exp2", logit_shift, max_len) at
    876a8b8: forward() and its checks."""

    def __init__(self, embed_dim, num_heads, logit_shift, max_len):
        self._embed_dim = embed_dim
        self._head_dim = embed_dim // num_heads
        hd = self._head_dim
        self._scale_shift = 3 if hd >= 32 else 2 if hd >= 16 else 1
        self._exp2 = True
        self._logit_shift = logit_shift
        self._query = array("i", bytes(4 * embed_dim))
        self._frame = _check.frame()
        self._scores = array("i", bytes(4 * max_len))

    @micropython.native
    def forward(self, query, keys, values, output, n=None, pos=None):
        frame = self._frame
        facts = frame[1]
        status = _memory.measure(output, query, keys, values, _PREV_FORWARD, frame)
        if status:
            _check.refuse(
                status, _PREV_FORWARD_NAMES, _PREV_FORWARD, frame, output, query, keys, values
            )
        embed_dim = self._embed_dim
        head_dim = self._head_dim
        if facts[1] < embed_dim:
            _check.short("query", facts[1], embed_dim)
        n = prev_pair(n, facts[2], facts[3], embed_dim)
        if facts[0] < embed_dim:
            _check.short("output", facts[0], embed_dim, "int32 items")
        if pos is not None:
            if pos.__class__ is not int:
                raise TypeError("pos: expected an int or None, got %s" % type(pos).__name__)
            if pos < 0:
                raise ValueError("pos: expected >= 0, got %d" % pos)
        if n > len(self._scores):
            self._scores = array("i", bytes(4 * n))
        scores = self._scores
        first = 0
        while first < embed_dim:
            prev_dot_rows(
                keys, self._query, scores, n, head_dim, embed_dim, first, self._scale_shift, query
            )
            if pos is not None and pos < n:
                prev_fill(scores, pos + 1, n, _PREV_MASKED)
            if self._exp2:
                prev_softmax_exp2(scores, _EXP2, n, self._logit_shift)
            prev_weighted_rows(values, output, scores, n, head_dim, embed_dim, first)
            first += head_dim


class PreviousDecoder:
    """Decoder at 876a8b8: load, reset, feed, pick (greedy), generate_into."""

    def __init__(self, path):
        with open(path, "rb") as f:
            values = struct.unpack("<4sHHHHHHHHHHHHI", f.read(32))
            if values[:2] != (b"I8TM", 1):
                raise ValueError("model file: not a version 1 model file")
            h = dict(zip(_PREV_FIELDS, values[2:13]))
            self._setup(h)
            for name, rows, cols, scaled in prev_tensor_list(h):
                f.read(16)  # the tensor's record
                data, scales = self._buffers[name]
                if scaled:
                    f.readinto(scales)
                f.readinto(data)
                f.read(-(rows * cols) % 4)

    def _setup(self, h):
        self._h = h
        d, f, v, t = h["dim"], h["hidden"], h["vocab"], h["context"]
        self._buffers = buffers = {}
        for name, rows, cols, scaled in prev_tensor_list(h):
            scales = array("i", bytes(8 * rows)) if scaled else None
            buffers[name] = (bytearray(rows * cols), scales)
        self._layers = tuple(
            tuple(buffers["%d.%s" % (i, name)] for name in _PREV_LAYER_TENSORS)
            + (PrevCache(t, d),)
            for i in range(h["layers"])
        )
        self._attention = PrevAttention(d, h["heads"], h["logit_shift"], t)
        self._num, self._down = prev_norm_constants(d, h["norm_frac"])
        wide = max(d, f, v)
        self._x = bytearray(d)
        self._h_ = bytearray(d)
        self._q = bytearray(d)
        self._k = bytearray(d)
        self._v = bytearray(d)
        self._a = bytearray(d)
        self._o = bytearray(d)
        self._f = bytearray(f)
        self._x32 = array("i", bytes(4 * wide))
        self._acc = array("i", bytes(4 * wide))
        self._att = array("i", bytes(4 * d))
        self._logits = array("i", bytes(4 * v))
        self._pos = 0

    logits = property(lambda self: self._logits)

    def reset(self):
        for layer in self._layers:
            layer[6].clear()
        self._pos = 0

    def feed(self, token):
        h = self._h
        if type(token) is not int:
            raise TypeError("token: expected an int, got %s" % type(token).__name__)
        if not 0 <= token < h["vocab"]:
            raise ValueError("token: expected 0..%d, got %d" % (h["vocab"] - 1, token))
        logits = self._logits
        if len(logits) != h["vocab"]:
            raise ValueError(
                "logits: resized to %d items, expected %d" % (len(logits), h["vocab"])
            )
        pos = self._pos
        if pos >= h["context"]:
            raise ValueError("context: full at %d tokens; reset() first" % h["context"])
        d = h["dim"]
        f = h["hidden"]
        x = self._x
        hn = self._h_
        x32 = self._x32
        acc = self._acc
        num = self._num
        down = self._down
        prev_gather8(x, self._buffers["tok_emb"][0], token * d, d)
        prev_add8(x, self._buffers["pos_emb"][0], pos * d, d)
        for wq, wk, wv, wo, w1, w2, cache in self._layers:
            prev_rms_norm8(x, hn, d, num, down)
            prev_dot_rows(wq[0], x32, acc, d, d, d, 0, 0, hn)
            prev_requant8(acc, self._q, wq[1], d, 2)
            prev_dot_rows(wk[0], x32, acc, d, d, d, 0, 0, hn)
            prev_requant8(acc, self._k, wk[1], d, 2)
            prev_dot_rows(wv[0], x32, acc, d, d, d, 0, 0, hn)
            prev_requant8(acc, self._v, wv[1], d, 2)
            cache.append(self._k, self._v)
            self._attention.forward(self._q, cache.keys, cache.values, self._att, pos + 1, pos)
            prev_clamp8(self._att, self._a, d)
            prev_dot_rows(wo[0], x32, acc, d, d, d, 0, 0, self._a)
            prev_requant8(acc, self._o, wo[1], d, 2)
            prev_add8(x, self._o, 0, d)
            prev_rms_norm8(x, hn, d, num, down)
            prev_dot_rows(w1[0], x32, acc, f, d, d, 0, 0, hn)
            prev_requant8(acc, self._f, w1[1], f, 2)
            prev_relu8(self._f, f)
            prev_dot_rows(w2[0], x32, acc, d, f, f, 0, 0, self._f)
            prev_requant8(acc, self._o, w2[1], d, 2)
            prev_add8(x, self._o, 0, d)
        prev_rms_norm8(x, hn, d, num, down)
        head = self._buffers["lm_head"]
        v = h["vocab"]
        prev_dot_rows(head[0], x32, acc, v, d, d, 0, 0, hn)
        prev_requant32(acc, self._logits, head[1], v, 2)
        self._pos = pos + 1

    def pick(self):
        v = self._h["vocab"]
        logits = self._logits
        if len(logits) != v:
            raise ValueError("logits: resized to %d items, expected %d" % (len(logits), v))
        return prev_argmax32(logits, v)

    def generate_into(self, prompt, out, stop=-1):
        if type(out) is not bytearray:
            raise TypeError("out: expected a bytearray, got %s" % type(out).__name__)
        if len(prompt) < 1 or len(prompt) > self._h["context"]:
            raise ValueError(
                "prompt: expected 1..%d tokens, got %d" % (self._h["context"], len(prompt))
            )
        self.reset()
        for token in prompt:
            self.feed(token)
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
