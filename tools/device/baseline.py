"""The package as it was before the current kernels and checks, kept as a speed baseline.

Run in front of bench.py (`make bench`): the MicroAttention pipeline through the previous
public methods (their argument checks, with the item-size memo, and their kernels),
and through the previous kernels called directly (no checks, which favours them),
beside the package in the same process. Not part of the package; not maintained
beyond that use.
"""

from array import array

import micropython


@micropython.viper
def baseline_fill(dst: ptr32, start: int, stop: int, value: int):
    """dst[i] = value for start <= i < stop."""
    i = start
    while i < stop:
        dst[i] = value
        i += 1


@micropython.viper
def baseline_load_int8(dst: ptr32, src: ptr8, n: int):
    """dst[i] = int8(src[i]) for i < n."""
    i = 0
    while i < n:
        dst[i] = (src[i] ^ 0x80) - 0x80
        i += 1


@micropython.viper
def baseline_dot_rows(
    keys: ptr8, query: ptr32, scores: ptr32, n: int, dim: int, stride: int, first: int, shift: int
):
    """scores[i] = (sum(query[first + j] * int8(keys[first + i*stride + j]) for j < dim)) >> shift

    for i < n. query holds int32 values (see load_int8). The sum is exact in
    int32 for dim < 131072; >> floors. keys and query come first because viper
    keeps only the first locals in registers on the ESP32: the inner loop steps
    these two pointers, eight elements at a time.
    """
    sign = 1
    sign <<= 31
    low32 = sign + sign - 1
    q0 = int(query) + (first << 2)
    query = ptr32(q0)
    qsum = 0
    j = 0
    while j < dim:
        qsum += query[j]
        j += 1
    bias = qsum << 7  # sum q*k = sum q*(k + 128) - 128 * sum q
    eights = dim & (0 - 8)
    row = int(keys) + first
    i = 0
    while i < n:
        keys = ptr8(row)
        query = ptr32(q0)
        end = row + eights
        acc = 0
        while int(keys) < end:
            acc += (
                query[0] * (keys[0] ^ 0x80)
                + query[1] * (keys[1] ^ 0x80)
                + query[2] * (keys[2] ^ 0x80)
                + query[3] * (keys[3] ^ 0x80)
                + query[4] * (keys[4] ^ 0x80)
                + query[5] * (keys[5] ^ 0x80)
                + query[6] * (keys[6] ^ 0x80)
                + query[7] * (keys[7] ^ 0x80)
            )
            keys = ptr8(int(keys) + 8)
            query = ptr32(int(query) + 32)
        end = row + dim
        while int(keys) < end:
            acc += query[0] * (keys[0] ^ 0x80)
            keys = ptr8(int(keys) + 1)
            query = ptr32(int(query) + 4)
        acc = (((acc - bias) & low32) ^ sign) - sign
        scores[i] = acc >> shift
        row += stride
        i += 1


@micropython.viper
def baseline_softmax_q8(scores: ptr32, n: int):
    """Linear fixed-point softmax in place, weights in Q8 (256 == 1.0).

    x = scores[i] - max (exact, no overflow), clamped to [-512, 0];
    e = max(256 + trunc(x / 2), 1); scores[i] = (e * 256) // sum(e).
    """
    sign = 1
    sign <<= 31
    lowest = 0 - sign  # -2**31 on every target
    top = lowest
    i = 0
    while i < n:
        v = (scores[i] ^ sign) - sign
        if v > top:
            top = v
        i += 1
    # x >= -511 exactly when v >= floor (floor = top - 511, kept inside int32).
    floor = lowest
    if top >= lowest + 511:
        floor = top - 511
    total = 0
    i = 0
    while i < n:
        v = (scores[i] ^ sign) - sign
        e = 1
        if v >= floor:
            e = 256 - ((top - v) >> 1)  # top - v in 0..511: e = 256 + trunc(x / 2) >= 1
        scores[i] = e
        total += e
        i += 1
    i = 0
    while i < n:
        scores[i] = (scores[i] << 8) // total
        i += 1


@micropython.viper
def baseline_weighted_rows(
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
    j = 0
    while j < dim:
        out[j] = 0
        j += 1
    eights = dim & (0 - 8)
    wsum = 0
    row = int(values) + first
    i = 0
    while i < n:
        w = weights[i]
        wsum += w
        values = ptr8(row)
        out = ptr32(o0)
        end = row + eights
        while int(values) < end:
            out[0] = out[0] + w * (values[0] ^ 0x80)
            out[1] = out[1] + w * (values[1] ^ 0x80)
            out[2] = out[2] + w * (values[2] ^ 0x80)
            out[3] = out[3] + w * (values[3] ^ 0x80)
            out[4] = out[4] + w * (values[4] ^ 0x80)
            out[5] = out[5] + w * (values[5] ^ 0x80)
            out[6] = out[6] + w * (values[6] ^ 0x80)
            out[7] = out[7] + w * (values[7] ^ 0x80)
            values = ptr8(int(values) + 8)
            out = ptr32(int(out) + 32)
        end = row + dim
        while int(values) < end:
            out[0] = out[0] + w * (values[0] ^ 0x80)
            values = ptr8(int(values) + 1)
            out = ptr32(int(out) + 4)
        row += stride
        i += 1
    bias = wsum << 7  # sum w*v = sum w*(v + 128) - 128 * sum w
    out = ptr32(o0)
    j = 0
    while j < dim:
        out[j] = ((((out[j] - bias) & low32) ^ sign) - sign) >> 8
        j += 1


def baseline_pipeline(query, keys, values, scores, output, head_dim, n, shift, scratch):
    """compute_scores, apply_causal_mask(n - 1), softmax_fixed and weighted_sum of one
    head, on the previous kernels called directly."""
    baseline_load_int8(scratch, query, head_dim)
    baseline_dot_rows(keys, scratch, scores, n, head_dim, head_dim, 0, shift)
    baseline_fill(scores, n, n, -1073741824)
    baseline_softmax_q8(scores, n)
    baseline_weighted_rows(values, output, scores, n, head_dim, head_dim, 0)


# The previous public methods: item sizes remembered for the last 16 buffers (which
# kept them alive), checks in bytecode.
_baseline_itemsizes = []


def _baseline_itemsize(buf):
    for known in _baseline_itemsizes:
        if known[0] is buf:
            return known[1]
    size = len(bytes(memoryview(buf)[:1])) if len(buf) else 0
    if size and not isinstance(buf[0], int):
        size = -1
    if len(_baseline_itemsizes) >= 16:
        _baseline_itemsizes.pop()
    _baseline_itemsizes.insert(0, (buf, size))
    return size


def _baseline_int8(name, buf, need):
    kind = type(buf)
    if kind is not bytearray and kind is not bytes:
        if (kind is not array and kind is not memoryview) or _baseline_itemsize(buf) not in (0, 1):
            raise TypeError(name + ": expected an int8 buffer")
    size = len(buf)
    if size < need:
        raise ValueError("%s: expected at least %d int8 values, got %d" % (name, need, size))
    return size


def _baseline_int32(name, buf, need):
    kind = type(buf)
    if (kind is not array and kind is not memoryview) or _baseline_itemsize(buf) not in (0, 4):
        raise TypeError(name + ": expected an int32 buffer")
    size = len(buf)
    if size < need:
        raise ValueError("%s: expected at least %d int32 items, got %d" % (name, need, size))
    return size


def _baseline_rows(name, size, width):
    if size % width:
        raise ValueError(
            "%s: length %d is not a multiple of the row width %d" % (name, size, width)
        )
    return size // width


def _baseline_count(name, n, available):
    if n is None:
        n = available
    elif type(n) is not int:
        raise TypeError(name + ": expected an int")
    elif n < 0 or n > available:
        raise ValueError("%s: expected 0..%d, got %d" % (name, available, n))
    if n > 4194304:
        raise ValueError("%s: at most 4194304 rows, got %d" % (name, n))
    return n


class BaselineMicro:
    """The previous MicroAttention(head_dim, 1): the four methods of the pipeline."""

    def __init__(self, head_dim, scale_shift):
        self.head_dim = head_dim
        self.scale_shift = scale_shift
        self._query = array("i", bytes(4 * head_dim))

    def compute_scores(self, query, keys, scores, n=None):
        head_dim = self.head_dim
        _baseline_int8("query", query, head_dim)
        rows = _baseline_rows("keys", _baseline_int8("keys", keys, 0), head_dim)
        n = _baseline_count("n", n, rows)
        _baseline_int32("scores", scores, n)
        baseline_load_int8(self._query, query, head_dim)
        baseline_dot_rows(keys, self._query, scores, n, head_dim, head_dim, 0, self.scale_shift)

    def apply_causal_mask(self, scores, current_pos, n=None):
        n = _baseline_count("n", n, _baseline_int32("scores", scores, 0))
        if type(current_pos) is not int:
            raise TypeError("current_pos: expected an int")
        if current_pos < 0:
            raise ValueError("current_pos: expected >= 0, got %d" % current_pos)
        if current_pos < n:
            baseline_fill(scores, current_pos + 1, n, -1073741824)

    def softmax_fixed(self, scores, n=None):
        n = _baseline_count("n", n, _baseline_int32("scores", scores, 0))
        baseline_softmax_q8(scores, n)

    def weighted_sum(self, weights, values, output, n=None):
        head_dim = self.head_dim
        size = _baseline_int32("weights", weights, 0)
        rows = _baseline_rows("values", _baseline_int8("values", values, 0), head_dim)
        n = _baseline_count("n", n, min(size, rows))
        _baseline_int32("output", output, head_dim)
        baseline_weighted_rows(values, output, weights, n, head_dim, head_dim, 0)
