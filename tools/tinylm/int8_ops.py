"""The int8 arithmetic of the board's layers, written plainly with numpy int64 and Python ints.

An independent reading of the formulas in firmware/attention/_layers.py,
_kernels.py and docs/model-format.md: the oracle of the host tests and the
engine of int8_model.py. Nothing here imports the firmware.
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
    """int32 accumulators of weights (rows, cols) int8 times x (cols) int8."""
    return np.asarray(weights, dtype=np.int64) @ np.asarray(x, dtype=np.int64)


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
    """x / rms(x) in Q(frac), in the board's integer steps (see _layers.rms_norm8)."""
    x = np.asarray(x, dtype=np.int64)
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
