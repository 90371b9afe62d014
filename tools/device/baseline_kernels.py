"""The viper kernels of the decoder before the fused kernels (baseline_model.py).

Frozen from the package at commit 876a8b8 (_kernels.py and _layers.py), under a prev_
prefix, so that later changes to the package do not move the baseline: dot_rows, copy8,
fill, softmax_exp2, weighted_rows; gather8, add8, rms_norm8, requant8, clamp8, relu8,
requant32, argmax32. A helper joined in front of baseline_model.py (bench_previous.py's
`# with:` line). Not part of the package; not maintained beyond that use.
"""

import micropython


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
