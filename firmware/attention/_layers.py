"""Viper kernels of the layers around the attention: requantisation, norm, activation, sampling.

Arguments are already checked by the caller: these functions do no bounds
checking and allocate nothing. Buffers are ptr8 (int8 data) or ptr32 (int32).
The portability rules of _kernels.py hold here too: ptr8 loads are unsigned and
sign-extended with (u ^ 0x80) - 0x80; a loaded int32 is made signed with
(v ^ sign) - sign; no literal beyond +-2**30, no unary minus, every intermediate
inside int32. Rounding is "half up": floor(v / 2**s + 1/2).

A requantisation scale is a pair (m, s) with 0 <= m < 2**15 and 17 <= s <= 40,
standing for the real multiplier m / 2**s. For an int32 a the kernels compute
round(a * m / 2**s) exactly, without leaving int32: with a = h * 65536 + l,
0 <= l < 65536, a * m = h * m * 65536 + l * m, where |h * m| < 2**30 and
0 <= l * m < 2**31, so

    round(a * m / 2**s) = (h * m + 2**(s - 17) + ((l * m) >> 16)) >> (s - 16).
"""

import micropython


@micropython.viper
def requant8(acc: ptr32, out: ptr8, scales: ptr32, n: int, step: int):
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
def requant32(acc: ptr32, out: ptr32, scales: ptr32, n: int, step: int):
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
def clamp8(src: ptr32, out: ptr8, n: int):
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
def gather8(out: ptr8, table: ptr8, start: int, n: int):
    """out[i] = table[start + i] for i < n: one row of an embedding table."""
    i = 0
    while i < n:
        out[i] = table[start + i]
        i += 1


@micropython.viper
def add8(out: ptr8, src: ptr8, start: int, n: int):
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
def relu8(buf: ptr8, n: int):
    """buf[i] = max(int8(buf[i]), 0) for i < n, in place."""
    i = 0
    while i < n:
        if buf[i] > 127:
            buf[i] = 0
        i += 1


@micropython.viper
def lookup8(buf: ptr8, table: ptr8, n: int):
    """buf[i] = table[buf[i]] for i < n, in place: any activation given as 256 bytes

    indexed by the input's byte (0..127 for 0..127, 128..255 for -128..-1).
    """
    i = 0
    while i < n:
        buf[i] = table[buf[i]]
        i += 1


@micropython.viper
def rms_norm8(x: ptr8, out: ptr8, n: int, num: int, down: int):
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
def argmax32(values: ptr32, n: int) -> int:
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


@micropython.viper
def temper(logits: ptr32, out: ptr32, n: int, k: int, t: int, masked: int):
    """out[i] = (clamp(logits[i], +-2**22) * 256) // t, or masked for the items below the k-th largest.

    Of logits[0:n] the k largest are kept (all items equal to the k-th largest
    too); k >= n keeps all. t >= 1 is the temperature in Q8 (256 == 1.0).
    """
    sign = 1
    sign <<= 31
    big = 0x400000
    bound = 0x3FFFFFFF  # above every clamped logit
    kept = 0
    while kept < k:
        top = 0 - 0x3FFFFFFF
        found = 0
        i = 0
        while i < n:
            v = (logits[i] ^ sign) - sign
            if v > big:
                v = big
            elif v < 0 - big:
                v = 0 - big
            if v < bound:
                if v > top or not found:
                    top = v
                found = 1
            i += 1
        if not found:
            break
        i = 0
        while i < n:
            v = (logits[i] ^ sign) - sign
            if v > big:
                v = big
            elif v < 0 - big:
                v = 0 - big
            if v == top:
                kept += 1
            i += 1
        bound = top
    i = 0
    while i < n:
        v = (logits[i] ^ sign) - sign
        if v > big:
            v = big
        elif v < 0 - big:
            v = 0 - big
        if v < bound:
            out[i] = masked
        else:
            out[i] = (v << 8) // t
        i += 1


@micropython.viper
def draw(weights: ptr32, n: int, state: ptr32) -> int:
    """Advance the generator, then pick an index with probability weights[i] / sum(weights).

    The generator: state[0] = (state[0] * 69069 + 1) mod 2**31, u = state[0] >> 15
    (0..65535). With w = sum(weights[0:n]) (w >= 1, each weight >= 0, w < 2**15),
    r = (u * w) >> 16 and the pick is the first i whose running sum exceeds r.
    """
    low31 = 1
    low31 = (low31 << 31) - 1
    x = (state[0] * 69069 + 1) & low31
    state[0] = x
    total = 0
    i = 0
    while i < n:
        total += weights[i]
        i += 1
    r = ((x >> 15) * total) >> 16
    run = 0
    i = 0
    while i < n:
        run += weights[i]
        if run > r:
            return i
        i += 1
    return n - 1
