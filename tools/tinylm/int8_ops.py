"""The int8 arithmetic of the board's layers, written plainly with numpy int64 and Python ints.

An independent reading of the formulas in firmware/attention/_layers.py,
_kernels.py and docs/model-format.md: the oracle of the host tests and the
engine of int8_model.py. Nothing here imports the firmware.

The functions take one vector or a batch of them (the last axis is the vector's);
products of int8 are summed in float64, which holds every such sum exactly (|sum| <
2**53), so the batched forms run on BLAS and stay exact.
"""

import math

import numpy as np

MASKED = -(2**30)
# 65536 * 2**(-k / 64) for k = 0..64, rounded (the softmax_exp2 fraction table).
EXP2 = [round(65536 * 2 ** (-k / 64)) for k in range(65)]


def saturate8(v):
    return np.clip(v, -128, 127).astype(np.int64)


def requant(acc, scales):
    """round(acc * m / 2**s), half up, per item; scales: (n, 2) of (m, s)."""
    acc = np.asarray(acc, dtype=np.int64)
    m = scales[:, 0].astype(np.int64)
    s = scales[:, 1].astype(np.int64)
    return (acc * m + (np.int64(1) << (s - 1))) >> s


def matvec(weights, x):
    """int32 accumulators of weights (rows, cols) int8 times x (cols) int8.

    x may be a batch (..., cols): the result is then (..., rows).
    """
    x = np.asarray(x)
    if x.ndim == 1:
        return np.asarray(weights, dtype=np.int64) @ x.astype(np.int64)
    exact = x.astype(np.float64) @ np.asarray(weights, dtype=np.float64).T
    return np.rint(exact).astype(np.int64)


def linear8(weights, scales, x):
    """saturate8(requant(weights @ x)): one projection, int8 in, int8 out."""
    return saturate8(requant(matvec(weights, x), scales))


def norm_constants(dim, frac):
    """(num, down) of the integer RMSNorm of width dim with output in Q(frac)."""
    k = 0
    while math.isqrt(dim << (2 * (k + 1))) < 2**30:
        k += 1
    return math.isqrt(dim << (2 * k)), k - frac


def rms_norm(x, num, down):
    """x / rms(x) in Q(frac), in the board's integer steps (see _layers.rms_norm8).

    x: one int8 vector or a batch (..., n), each normalised on its own.
    """
    x = np.asarray(x, dtype=np.int64)
    if x.ndim == 1:
        ss = int((x * x).sum())
        if ss == 0:
            return np.zeros_like(x)
        e = 0
        while ss < 2**28:
            ss <<= 2
            e += 1
        inv = num // math.isqrt(ss)
        t = down - e
        return saturate8((x * inv + (1 << (t - 1))) >> t)
    ss = (x * x).sum(-1, keepdims=True)
    e = np.zeros_like(ss)
    for _ in range(16):
        low = (ss > 0) & (ss < 2**28)
        if not low.any():
            break
        ss = np.where(low, ss << 2, ss)
        e += low
    inv = np.where(ss > 0, num // np.maximum(isqrt(ss), 1), 0)
    t = np.where(ss > 0, down - e, 1)
    return saturate8((x * inv + (np.int64(1) << (t - 1))) >> t)


def isqrt(v):
    """floor(sqrt(v)) of each item of an int64 array below 2**52."""
    v = np.asarray(v, dtype=np.int64)
    r = np.floor(np.sqrt(v.astype(np.float64))).astype(np.int64)
    r = np.where(r * r > v, r - 1, r)
    return np.where((r + 1) * (r + 1) <= v, r + 1, r)


def softmax_exp2(scores, shift):
    """Q8 weights of the exponential softmax, as _kernels.softmax_exp2 computes them."""
    scores = [int(v) for v in scores]
    n = len(scores)
    top = max(scores)
    limit = 17 << shift
    down = 0
    rest = n
    while rest > 32767:
        rest >>= 1
        down += 1
    es = []
    for v in scores:
        e = 0
        if v >= top - limit:
            z = ((top - v) * 23637) >> shift
            frac = z & 0x3FFF
            k = frac >> 8
            a = EXP2[k]
            e = ((a - (((a - EXP2[k + 1]) * (frac & 0xFF)) >> 8)) >> (z >> 14)) >> down
        es.append(e)
    total = sum(es)
    return [((e << 8) + (total >> 1)) // total for e in es]


EXP2_TABLE = np.array(EXP2, dtype=np.int64)


def softmax_exp2_rows(scores, shift, valid=None):
    """softmax_exp2 of every row (last axis) of scores at once; valid (a boolean array
    broadcast to scores) leaves items out, as if the row held only the valid ones."""
    s = np.asarray(scores, dtype=np.int64)
    if valid is None:
        valid = np.ones(s.shape, dtype=bool)
    valid = np.broadcast_to(valid, s.shape)
    if valid.sum(-1).max(initial=0) > 32767:
        raise ValueError("softmax_exp2_rows: rows of at most 32767 items")
    top = np.where(valid, s, np.int64(-(2**62))).max(-1, keepdims=True)
    keep = valid & (s >= top - (17 << shift))
    z = np.where(keep, ((top - s) * 23637) >> shift, 0)
    frac = z & 0x3FFF
    a = EXP2_TABLE[frac >> 8]
    b = EXP2_TABLE[(frac >> 8) + 1]
    e = np.where(keep, (a - (((a - b) * (frac & 0xFF)) >> 8)) >> (z >> 14), 0)
    total = e.sum(-1, keepdims=True)
    return ((e << 8) + (total >> 1)) // np.maximum(total, 1)


def scale_shift(head_dim):
    """The attention's right shift of q.k, as MicroAttention chooses it."""
    return 3 if head_dim >= 32 else 2 if head_dim >= 16 else 1


def attention(q, keys, values, heads, logit_shift):
    """MicroAttention(dim, heads, softmax="exp2").forward of one query over n cached rows.

    q: (dim,) int8; keys, values: (n, dim) int8; returns (dim,) int32 in the values' scale.
    """
    q = np.asarray(q, dtype=np.int64)
    keys = np.asarray(keys, dtype=np.int64)
    values = np.asarray(values, dtype=np.int64)
    dim = q.shape[0]
    hd = dim // heads
    out = np.zeros(dim, dtype=np.int64)
    for h in range(heads):
        cols = slice(h * hd, (h + 1) * hd)
        scores = (keys[:, cols] @ q[cols]) >> scale_shift(hd)
        w = np.array(softmax_exp2(scores, logit_shift), dtype=np.int64)
        out[cols] = (w @ values[:, cols]) >> 8
    return out


def attention_rows(q, keys, values, heads, logit_shift, causal, start=0):
    """All heads of many queries at once, each narrowed to int8 as the board's attend does.

    q: (B, Tq, dim) int8, the queries at positions start .. start + Tq - 1; keys, values:
    (B, n, dim) int8, the cache rows 0..n-1. causal: a query at position p sees rows 0..p;
    else every row. Returns (B, Tq, dim): saturate8((weights @ values) >> 8) per head.
    """
    q = np.asarray(q, dtype=np.float64)
    keys = np.asarray(keys, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    _, tq, dim = q.shape
    n = keys.shape[1]
    hd = dim // heads
    valid = None
    if causal:
        valid = np.arange(n)[None, :] <= (start + np.arange(tq))[:, None]
    out = np.zeros(q.shape, dtype=np.int64)
    for h in range(heads):
        c = slice(h * hd, (h + 1) * hd)
        scores = np.rint(q[..., c] @ keys[..., c].transpose(0, 2, 1)).astype(np.int64)
        w = softmax_exp2_rows(scores >> scale_shift(hd), logit_shift, valid)
        if valid is not None:
            w = np.where(valid, w, 0)
        out[..., c] = np.rint(w.astype(np.float64) @ values[..., c]).astype(np.int64) >> 8
    return saturate8(out)


def temper(logits, k, t):
    """Logits scaled by 256 / t (Q8 temperature t), all but the k largest masked."""
    v = np.clip(np.asarray(logits, dtype=np.int64), -(2**22), 2**22)
    kept = sorted(v.tolist(), reverse=True)
    bound = kept[min(k, len(kept)) - 1]
    return [MASKED if x < bound else (x << 8) // t for x in v.tolist()]


def draw(weights, state):
    """(index, new state): the board's generator and pick (see _layers.draw)."""
    state = (state * 69069 + 1) % 2**31
    r = ((state >> 15) * sum(weights)) >> 16
    run = 0
    for i, w in enumerate(weights):
        run += w
        if run > r:
            return i, state
    return len(weights) - 1, state
