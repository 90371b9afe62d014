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

Run in front of bench_model.py (`make bench`): PreviousDecoder(path) is fed the same
tokens as the package's Decoder and gives the same logits. Not part of the package; not
maintained beyond that use.
"""

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


@micropython.viper
def prev_copy8(dst: ptr8, src: ptr8, start: int, n: int):
    """dst[start + i] = src[i] for i < n."""
    i = 0
    while i < n:
        dst[start + i] = src[i]
        i += 1


@micropython.viper
def prev_fill(dst: ptr32, start: int, stop: int, value: int):
    """dst[i] = value for start <= i < stop."""
    i = start
    while i < stop:
        dst[i] = value
        i += 1


@micropython.viper
def prev_dot_rows(
    keys: ptr8,
    query: ptr32,
    scores: ptr32,
    n: int,
    dim: int,
    stride: int,
    first: int,
    shift: int,
    source: ptr8,
):
    """scores[i] = (sum(q[j] * int8(keys[first + i*stride + j]) for j < dim)) >> shift

    for i < n, with q[j] = int8(source[first + j]), which is first written to
    query[first + j] (int32 scratch) as the query sum is taken, in one pass. The sum is exact in
    int32 for dim < 131072; >> floors. Viper keeps only the first two locals in
    registers on the ESP32, so the loops use both parameter slots: in the query's
    pass keys steps over the query bytes and query over the scratch; then keys
    steps along the key row, sixteen elements at a time, and query (read first)
    holds the running sum as a plain int; the query cursor qp is on the stack.
    Sixteen, then four, then one element per pass.
    """
    sign = 1
    sign <<= 31
    low32 = sign + sign - 1
    q0 = int(query) + (first << 2)
    row = int(keys) + first
    keys = ptr8(int(source) + first)  # the query's bytes, for this first loop
    query = ptr32(q0)
    end = q0 + (dim << 2)
    qsum = 0 - (dim << 7)  # sum q = sum (u ^ 0x80) - 128 * dim
    while end - int(query):
        b = keys[0] ^ 0x80
        query[0] = b - 0x80
        qsum += b
        keys = ptr8(1 + int(keys))
        query = ptr32(4 + int(query))
    bias = qsum << 7  # sum q*k = sum q*(k + 128) - 128 * sum q
    sixteens = dim & (0 - 16)
    fours = dim & (0 - 4)
    rest = dim & 15
    start = 0 - bias  # each sum starts at -bias
    last = int(scores) + (n << 2)
    while last - int(scores):  # scores steps along the rows' scores
        keys = ptr8(row)
        qp = ptr32(q0)
        query = ptr32(start)  # the sum, in a register: a value, never accessed
        end = row + sixteens
        while end - int(keys):
            query = ptr32((keys[0] ^ 0x80) * qp[0] + int(query))
            query = ptr32((keys[1] ^ 0x80) * qp[1] + int(query))
            query = ptr32((keys[2] ^ 0x80) * qp[2] + int(query))
            query = ptr32((keys[3] ^ 0x80) * qp[3] + int(query))
            query = ptr32((keys[4] ^ 0x80) * qp[4] + int(query))
            query = ptr32((keys[5] ^ 0x80) * qp[5] + int(query))
            query = ptr32((keys[6] ^ 0x80) * qp[6] + int(query))
            query = ptr32((keys[7] ^ 0x80) * qp[7] + int(query))
            query = ptr32((keys[8] ^ 0x80) * qp[8] + int(query))
            query = ptr32((keys[9] ^ 0x80) * qp[9] + int(query))
            query = ptr32((keys[10] ^ 0x80) * qp[10] + int(query))
            query = ptr32((keys[11] ^ 0x80) * qp[11] + int(query))
            query = ptr32((keys[12] ^ 0x80) * qp[12] + int(query))
            query = ptr32((keys[13] ^ 0x80) * qp[13] + int(query))
            query = ptr32((keys[14] ^ 0x80) * qp[14] + int(query))
            query = ptr32((keys[15] ^ 0x80) * qp[15] + int(query))
            keys = ptr8(16 + int(keys))
            qp = ptr32(64 + int(qp))
        if rest:  # dim is not a multiple of 16: four, then one element per pass
            end = row + fours
            while end - int(keys):
                query = ptr32((keys[0] ^ 0x80) * qp[0] + int(query))
                query = ptr32((keys[1] ^ 0x80) * qp[1] + int(query))
                query = ptr32((keys[2] ^ 0x80) * qp[2] + int(query))
                query = ptr32((keys[3] ^ 0x80) * qp[3] + int(query))
                keys = ptr8(4 + int(keys))
                qp = ptr32(16 + int(qp))
            end = row + dim
            while end - int(keys):
                query = ptr32((keys[0] ^ 0x80) * qp[0] + int(query))
                keys = ptr8(1 + int(keys))
                qp = ptr32(4 + int(qp))
        acc = ((int(query) & low32) ^ sign) - sign
        scores[0] = acc >> shift
        scores = ptr32(4 + int(scores))
        row += stride


@micropython.viper
def prev_softmax_exp2(scores: ptr32, table: ptr32, n: int, shift: int):
    """Exponential fixed-point softmax in place, weights in Q8 (256 == 1.0).

    With d_i = max - scores[i] and z_i = (d_i * 23637) >> shift, which is
    d_i * log2(e) / 2**shift in Q14 (23637 = log2(e) * 2**14):
      e_i = 65536 * 2**(-z_i / 16384), from table[k] = 65536 * 2**(-k / 64) for
            k = 0..64 with linear interpolation, then >> the integer part of z_i;
            e_i = 0 when d_i > 17 << shift (weight below 2**-24);
      scores[i] = (e_i * 256 + sum(e) // 2) // sum(e)   (rounded to nearest).
    So weights approximate 256 * softmax(scores / 2**shift); shift is 0..12,
    which keeps d_i * 23637 inside int32. For n > 32767 every e_i is shifted right
    so that sum(e) stays inside int32.
    """
    sign = 1
    sign <<= 31
    lowest = 0 - sign  # -2**31 on every target
    first = int(scores)
    last = first + (n << 2)  # scores steps along the scores in each pass
    top = lowest
    while last - int(scores):
        v = (scores[0] ^ sign) - sign
        if v > top:
            top = v
        scores = ptr32(4 + int(scores))
    limit = 17 << shift
    floor = lowest
    if top >= lowest + limit:
        floor = top - limit
    down = 0
    rest = n
    while rest > 32767:
        rest >>= 1
        down += 1
    total = 0
    scores = ptr32(first)
    while last - int(scores):
        v = (scores[0] ^ sign) - sign
        e = 0
        if v >= floor:
            z = ((top - v) * 23637) >> shift
            frac = z & 0x3FFF
            k = frac >> 8
            a = table[k]
            e = ((a - (((a - table[k + 1]) * (frac & 0xFF)) >> 8)) >> (z >> 14)) >> down
        scores[0] = e
        total += e
        scores = ptr32(4 + int(scores))
    half = total >> 1
    scores = ptr32(first)
    while last - int(scores):
        scores[0] = ((scores[0] << 8) + half) // total
        scores = ptr32(4 + int(scores))


@micropython.viper
def prev_weighted_rows(
    values: ptr8, out: ptr32, weights: ptr32, n: int, dim: int, stride: int, first: int
):
    """out[first + j] = (sum(weights[i] * int8(values[first + i*stride + j]) for i < n)) >> 8

    for j < dim, in int32 arithmetic (wrapping), >> floors. values and out come
    first so that they stay in registers: the inner loop steps both pointers
    along a row, eight elements at a time.
    """
    sign = 1
    sign <<= 31
    low32 = sign + sign - 1
    o0 = int(out) + (first << 2)
    out = ptr32(o0)
    o1 = o0 + (dim << 2)  # past the last output
    while o1 - int(out):
        out[0] = 0
        out = ptr32(4 + int(out))
    eights = dim & (0 - 8)
    rest = dim & 7
    wsum = 0
    row = int(values) + first
    last = int(weights) + (n << 2)
    while last - int(weights):  # weights steps along the rows' weights
        w = weights[0]
        weights = ptr32(4 + int(weights))
        wsum += w
        values = ptr8(row)
        out = ptr32(o0)
        end = row + eights
        while end - int(values):
            out[0] = (values[0] ^ 0x80) * w + out[0]
            out[1] = (values[1] ^ 0x80) * w + out[1]
            out[2] = (values[2] ^ 0x80) * w + out[2]
            out[3] = (values[3] ^ 0x80) * w + out[3]
            out[4] = (values[4] ^ 0x80) * w + out[4]
            out[5] = (values[5] ^ 0x80) * w + out[5]
            out[6] = (values[6] ^ 0x80) * w + out[6]
            out[7] = (values[7] ^ 0x80) * w + out[7]
            values = ptr8(8 + int(values))
            out = ptr32(32 + int(out))
        if rest:  # dim is not a multiple of 8: one element per pass
            end = row + dim
            while end - int(values):
                out[0] = (values[0] ^ 0x80) * w + out[0]
                values = ptr8(1 + int(values))
                out = ptr32(4 + int(out))
        row += stride
    bias = wsum << 7  # sum w*v = sum w*(v + 128) - 128 * sum w
    out = ptr32(o0)
    while o1 - int(out):
        out[0] = ((((out[0] - bias) & low32) ^ sign) - sign) >> 8
        out = ptr32(4 + int(out))


@micropython.viper
def prev_requant8(acc: ptr32, out: ptr8, scales: ptr32, n: int, step: int):
    """out[i] = saturate8(round(acc[i] * m / 2**s)) for i < n, (m, s) = scales[i*step : i*step+2].

    step 2 gives every item its own scale (per output row), step 0 one scale for all.
    saturate8 clamps to -128..127; out holds the two's complement byte.
    """
    sign = 1
    sign <<= 31
    i = 0
    j = 0
    while i < n:
        a = (acc[i] ^ sign) - sign
        m = scales[j]
        s = scales[j + 1]
        y = ((a >> 16) * m + (1 << (s - 17)) + (((a & 0xFFFF) * m) >> 16)) >> (s - 16)
        if y > 127:
            y = 127
        elif y < 0 - 128:
            y = 0 - 128
        out[i] = y
        i += 1
        j += step


@micropython.viper
def prev_requant32(acc: ptr32, out: ptr32, scales: ptr32, n: int, step: int):
    """out[i] = round(acc[i] * m / 2**s) for i < n, as requant8 but kept in int32."""
    sign = 1
    sign <<= 31
    i = 0
    j = 0
    while i < n:
        a = (acc[i] ^ sign) - sign
        m = scales[j]
        s = scales[j + 1]
        out[i] = ((a >> 16) * m + (1 << (s - 17)) + (((a & 0xFFFF) * m) >> 16)) >> (s - 16)
        i += 1
        j += step


@micropython.viper
def prev_clamp8(src: ptr32, out: ptr8, n: int):
    """out[i] = saturate8(src[i]) for i < n: an int32 already in int8 units, as int8."""
    sign = 1
    sign <<= 31
    i = 0
    while i < n:
        y = (src[i] ^ sign) - sign
        if y > 127:
            y = 127
        elif y < 0 - 128:
            y = 0 - 128
        out[i] = y
        i += 1


@micropython.viper
def prev_gather8(out: ptr8, table: ptr8, start: int, n: int):
    """out[i] = table[start + i] for i < n: one row of an embedding table."""
    i = 0
    while i < n:
        out[i] = table[start + i]
        i += 1


@micropython.viper
def prev_add8(out: ptr8, src: ptr8, start: int, n: int):
    """out[i] = saturate8(int8(out[i]) + int8(src[start + i])) for i < n (residual add)."""
    i = 0
    while i < n:
        y = ((out[i] ^ 0x80) - 0x80) + ((src[start + i] ^ 0x80) - 0x80)
        if y > 127:
            y = 127
        elif y < 0 - 128:
            y = 0 - 128
        out[i] = y
        i += 1


@micropython.viper
def prev_relu8(buf: ptr8, n: int):
    """buf[i] = max(int8(buf[i]), 0) for i < n, in place."""
    i = 0
    while i < n:
        if buf[i] > 127:
            buf[i] = 0
        i += 1


@micropython.viper
def prev_rms_norm8(x: ptr8, out: ptr8, n: int, num: int, down: int):
    """out[i] = saturate8(round(x[i] * num * 2**e / (r * 2**down))), the integer RMSNorm.

    ss = sum(int8(x[i])**2 for i < n) (1 <= n <= 16384 keeps it below 2**28);
    ss = 0 gives out = 0. Otherwise ss * 4**e lies in [2**28, 2**30) for the
    smallest e >= 0, r = isqrt(ss * 4**e) (2**14 <= r < 2**15, bit by bit), so
    sqrt(ss) ~ r / 2**e; inv = num // r and out[i] = (x[i] * inv + 2**(t - 1)) >> t
    with t = down - e. With num = isqrt(n * 4**K) and down = K - frac, out is
    x / rms(x) in Q(frac). The caller keeps num < 2**30 and down >= 15.
    """
    ss = 0
    i = 0
    while i < n:
        v = (x[i] ^ 0x80) - 0x80
        ss += v * v
        i += 1
    if ss == 0:
        i = 0
        while i < n:
            out[i] = 0
            i += 1
        return
    e = 0
    while ss < 0x10000000:
        ss <<= 2
        e += 1
    r = 0
    bit = 0x10000000  # the largest power of 4 <= ss
    while bit:
        if ss >= r + bit:
            ss -= r + bit
            r = (r >> 1) + bit
        else:
            r >>= 1
        bit >>= 2
    inv = num // r
    t = down - e
    half = 1 << (t - 1)
    i = 0
    while i < n:
        y = (((x[i] ^ 0x80) - 0x80) * inv + half) >> t
        if y > 127:
            y = 127
        elif y < 0 - 128:
            y = 0 - 128
        out[i] = y
        i += 1


@micropython.viper
def prev_argmax32(values: ptr32, n: int) -> int:
    """The first index of the largest values[i], i < n (n >= 1)."""
    sign = 1
    sign <<= 31
    best = 0
    top = (values[0] ^ sign) - sign
    i = 1
    while i < n:
        v = (values[i] ^ sign) - sign
        if v > top:
            top = v
            best = i
        i += 1
    return best


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
