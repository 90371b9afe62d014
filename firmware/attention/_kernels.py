"""Viper kernels: every per-element loop of the package, and nothing else.

Arguments are already checked by the caller: these functions do no bounds
checking and allocate nothing. Buffers are ptr8 (int8 data) or ptr32 (int32).

Portability rules, so that a 64-bit host and a 32-bit ESP32 give the same bits:
- ptr8 loads are unsigned (0..255). A signed byte k is (u ^ 0x80) - 128, and
  sums of products with k are computed as sums with b = u ^ 0x80 = k + 128,
  minus 128 times the sum of the other factor: one correction per call.
- ptr32 loads are sign-extended on the ESP32 but zero-extended on x86-64.
  Sums of products are right modulo 2**32 either way; a value is turned back
  into a signed int32 before any shift or comparison: a loaded value with
  (v ^ sign) - sign, any other with ((v & low32) ^ sign) - sign, where sign = 1 << 31
  and low32 = 2 * sign - 1 (all ones on a 32-bit target). Both are built at run
  time: mpy-cross refuses literals beyond +-2**30.
- No unary minus (broken in some viper builds): write 0 - x.
"""

import micropython


@micropython.viper
def copy8(dst: ptr8, src: ptr8, start: int, n: int):
    """dst[start + i] = src[i] for i < n."""
    i = 0
    while i < n:
        dst[start + i] = src[i]
        i += 1


@micropython.viper
def fill(dst: ptr32, start: int, stop: int, value: int):
    """dst[i] = value for start <= i < stop."""
    i = start
    while i < stop:
        dst[i] = value
        i += 1


@micropython.viper
def dot_rows(
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
def softmax_q8(scores: ptr32, n: int):
    """Linear fixed-point softmax in place, weights in Q8 (256 == 1.0).

    x = scores[i] - max (exact, no overflow), clamped to [-512, 0];
    e = max(256 + trunc(x / 2), 1); scores[i] = (e * 256) // sum(e).
    The two parameters are the register locals: scores steps along the scores in
    each pass, and n, once the end is known, holds the running maximum, then the sum.
    """
    sign = 1
    sign <<= 31
    lowest = 0 - sign  # -2**31 on every target
    first = int(scores)
    last = first + (n << 2)
    n = lowest
    while last - int(scores):
        v = (scores[0] ^ sign) - sign
        if v > n:
            n = v
        scores = ptr32(4 + int(scores))
    top = n
    # x >= -511 exactly when v >= floor (floor = top - 511, kept inside int32).
    floor = lowest
    if top >= lowest + 511:
        floor = top - 511
    n = 0
    scores = ptr32(first)
    while last - int(scores):
        v = (scores[0] ^ sign) - sign
        e = 1
        if v >= floor:
            e = 256 - ((top - v) >> 1)  # top - v in 0..511: e = 256 + trunc(x / 2) >= 1
        scores[0] = e
        n += e
        scores = ptr32(4 + int(scores))
    scores = ptr32(first)
    while last - int(scores):
        scores[0] = (scores[0] << 8) // n
        scores = ptr32(4 + int(scores))


@micropython.viper
def softmax_exp2(scores: ptr32, table: ptr32, n: int, shift: int):
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
def weighted_rows(
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
def linear_rows(keys: ptr8, sums: ptr32, values: ptr8, first: int, n: int, dim: int, phi: ptr8):
    """Add rows first .. first + n - 1 of keys and values to the linear-attention sums.

    With phi(k) = max(k, 0) + 1 and s_t = sum(phi(keys[t*dim + j]) for j < dim):
      sums[j]       += sum(s_t * int8(values[t*dim + j]) for each row t)   (context, low word)
      sums[dim + j] += sum(phi(keys[t*dim + j]) for each row t)           (key sums, low word)
    phi(k) is read from the table phi: phi[u] for the byte u of k, which must hold
    u + 1 for u < 128 and 1 for u >= 128 (negative k). The caller keeps n small
    enough for the sums to stay inside int32. Viper keeps the first two locals in
    registers on the ESP32: over a key row, keys is the cursor and sums holds phi(k)
    as a plain int (the key-sum cursor ks and s are on the stack); over a value row,
    keys and sums are the cursors. Eight elements per pass, then one.
    """
    context = int(sums)
    key_row = int(keys) + first * dim
    value_row = int(values) + first * dim
    eights = dim & (0 - 8)
    total = 0
    t = 0
    while t < n:
        keys = ptr8(key_row)
        ks = ptr32(context + (dim << 2))
        end = key_row + eights
        s = 0
        while end - int(keys):
            sums = ptr32(phi[keys[0]])
            ks[0] = ks[0] + int(sums)
            s = s + int(sums)
            sums = ptr32(phi[keys[1]])
            ks[1] = ks[1] + int(sums)
            s = s + int(sums)
            sums = ptr32(phi[keys[2]])
            ks[2] = ks[2] + int(sums)
            s = s + int(sums)
            sums = ptr32(phi[keys[3]])
            ks[3] = ks[3] + int(sums)
            s = s + int(sums)
            sums = ptr32(phi[keys[4]])
            ks[4] = ks[4] + int(sums)
            s = s + int(sums)
            sums = ptr32(phi[keys[5]])
            ks[5] = ks[5] + int(sums)
            s = s + int(sums)
            sums = ptr32(phi[keys[6]])
            ks[6] = ks[6] + int(sums)
            s = s + int(sums)
            sums = ptr32(phi[keys[7]])
            ks[7] = ks[7] + int(sums)
            s = s + int(sums)
            keys = ptr8(8 + int(keys))
            ks = ptr32(32 + int(ks))
        end = key_row + dim
        while end - int(keys):
            sums = ptr32(phi[keys[0]])
            ks[0] = ks[0] + int(sums)
            s = s + int(sums)
            keys = ptr8(1 + int(keys))
            ks = ptr32(4 + int(ks))
        keys = ptr8(value_row)  # the same cursor, now over the value row
        sums = ptr32(context)
        end = value_row + eights
        while end - int(keys):
            sums[0] = (keys[0] ^ 0x80) * s + sums[0]
            sums[1] = (keys[1] ^ 0x80) * s + sums[1]
            sums[2] = (keys[2] ^ 0x80) * s + sums[2]
            sums[3] = (keys[3] ^ 0x80) * s + sums[3]
            sums[4] = (keys[4] ^ 0x80) * s + sums[4]
            sums[5] = (keys[5] ^ 0x80) * s + sums[5]
            sums[6] = (keys[6] ^ 0x80) * s + sums[6]
            sums[7] = (keys[7] ^ 0x80) * s + sums[7]
            keys = ptr8(8 + int(keys))
            sums = ptr32(32 + int(sums))
        end = value_row + dim
        while end - int(keys):
            sums[0] = (keys[0] ^ 0x80) * s + sums[0]
            keys = ptr8(1 + int(keys))
            sums = ptr32(4 + int(sums))
        key_row += dim
        value_row += dim
        total += s
        t += 1
    bias = total << 7  # sum s*v = sum s*(v + 128) - 128 * sum s
    sums = ptr32(context)
    j = 0
    while j < dim:
        sums[j] = sums[j] - bias
        j += 1


@micropython.viper
def carry16(acc: ptr32, count: int) -> int:
    """Move all but the low 16 bits of acc[i] into acc[count + i], for i < count.

    Afterwards acc[i] is in 0..65535 and the value is acc[count + i] * 65536 + acc[i].
    Returns 1 if some high word reached +-2**28 (time to rescale), else 0.
    """
    sign = 1
    sign <<= 31
    big = 0
    i = 0
    while i < count:
        lo = (acc[i] ^ sign) - sign
        hi = ((acc[count + i] ^ sign) - sign) + (lo >> 16)
        acc[count + i] = hi
        acc[i] = lo & 0xFFFF
        if hi >= 0x10000000 or hi < 0 - 0x10000000:
            big = 1
        i += 1
    return big


@micropython.viper
def linear_finish(out: ptr32, query: ptr8, acc: ptr32, dim: int) -> int:
    """The linear-attention output from carried sums (see carry16), in int32.

    With p_i = phi(query[i]), C_i = acc[2*dim + i] * 65536 + acc[i] (context) and
    K_j = acc[3*dim + j] * 65536 + acc[dim + j] (key sums):
      D = sum(p_j * K_j);  N_i = p_i * C_i
      out[i] = trunc(((N_i >> 8) << 8) / D)  if D > 0, else N_i >> 8.
    Returns 1 after writing out[0:dim], or 0, writing nothing, when some N_i or D
    does not fit in int32 (the caller then uses linear_finish_scaled).
    """
    sign = 1
    sign <<= 31
    hi_ctx = 2 * dim
    hi_key = 3 * dim
    dhi = 0
    dlo = 0
    j = 0
    while j < dim:
        u = query[j]
        p = (u & ((u >> 7) - 1)) + 1
        khi = (acc[hi_key + j] ^ sign) - sign
        if khi >= 0x8000:
            return 0
        dlo += p * acc[dim + j]
        dhi += p * khi + (dlo >> 16)
        dlo &= 0xFFFF
        if dhi >= 0x8000:
            return 0
        j += 1
    i = 0
    while i < dim:
        u = query[i]
        p = (u & ((u >> 7) - 1)) + 1
        chi = (acc[hi_ctx + i] ^ sign) - sign
        if chi >= 0x8000 or chi < 0 - 0x8000:
            return 0
        nhi = p * chi + ((p * acc[i]) >> 16)
        if nhi >= 0x8000 or nhi < 0 - 0x8000:
            return 0
        i += 1
    d = (dhi << 16) + dlo
    i = 0
    while i < dim:
        u = query[i]
        p = (u & ((u >> 7) - 1)) + 1
        num = p * ((((acc[hi_ctx + i] ^ sign) - sign) << 16) + acc[i])
        if d > 0:
            num = (num >> 8) << 8
            if num >= 0:
                out[i] = num // d
            else:
                out[i] = (num + d - 1) // d  # trunc toward zero == ceil for num < 0
        else:
            out[i] = num >> 8
        i += 1
    return 1


@micropython.viper
def linear_finish_scaled(out: ptr32, query: ptr8, sums: ptr32, dim: int):
    """linear_finish for carried sums of any size, within one step, in int32 arithmetic.

    With p_i, C_i, K_j and N_i = p_i * C_i as in linear_finish, M_i = (N_i >> 8) << 8
    and D = sum(p_j * K_j): D is summed exactly (16-bit limbs), then cut to its top 30
    bits, dm = D >> e with e = max(0, bits(D) - 30), and each |M_i| >> e (from N_i's
    limbs) is divided by dm: q_i = (|M_i| >> e) // dm by long division, its bits above
    bit 24 with one //, the rest one at a time, and out[i] = q_i with the sign of M_i.
    So out[i] is the exact trunc(M_i / D) when D < 2**30, and otherwise that or one
    step further from zero: |M|/D lies in [q - q/(dm + 1), q + 1), dm >= 2**29, so
    while |M_i / D| < 2**29 (every state update() leaves: |out| < 2**22) out[i] misses
    it by at most 1. If D <= 0 (no state update() leaves), out[i] = N_i >> 8 as in
    linear_finish, modulo 2**32. Low words must be in 0..65535, as carry16 leaves them.
    """
    sign = 1
    sign <<= 31
    count = 2 * dim
    # D = d3 * 2**48 + d2 * 2**32 + d1 * 2**16 + d0, with d0, d1, d2 in 0..65535
    d0 = 0
    d1 = 0
    d2 = 0
    d3 = 0
    j = 0
    while j < dim:
        u = query[j]
        p = (u & ((u >> 7) - 1)) + 1
        hi = (sums[count + dim + j] ^ sign) - sign
        d0 += p * sums[dim + j]
        d1 += p * (hi & 0xFFFF) + (d0 >> 16)
        d2 += p * (hi >> 16) + (d1 >> 16)
        d3 += d2 >> 16
        d0 &= 0xFFFF
        d1 &= 0xFFFF
        d2 &= 0xFFFF
        j += 1
    divide = 0
    e = 0
    dm = 0
    if d3 >= 0 and (d3 | d2 | d1 | d0) != 0:  # D > 0
        divide = 1
        # e = bits(D) - 30, at least 0; a nonzero limb is shifted by at most 29
        top = d3
        e = 48
        if top == 0:
            top = d2
            e = 32
        if top == 0:
            top = d1
            e = 16
        if top == 0:
            top = d0
            e = 0
        while top:
            top >>= 1
            e += 1
        e -= 30
        if e < 0:
            e = 0
        # dm = D >> e, limb by limb (their bits do not overlap)
        if d3:
            dm = d3 << (48 - e)
        if d2:
            if e > 32:
                dm += d2 >> (e - 32)
            else:
                dm += d2 << (32 - e)
        if d1:
            if e > 16:
                dm += d1 >> (e - 16)
            else:
                dm += d1 << (16 - e)
        if e < 16:
            dm += d0 >> e
    i = 0
    while i < dim:
        u = query[i]
        p = (u & ((u >> 7) - 1)) + 1
        hi = (sums[count + i] ^ sign) - sign
        # N = n2 * 2**32 + n1 * 2**16 + n0, with n0, n1 in 0..65535
        n0 = p * sums[i]
        n1 = p * (hi & 0xFFFF) + (n0 >> 16)
        n2 = p * (hi >> 16) + (n1 >> 16)
        n0 &= 0xFFFF
        n1 &= 0xFFFF
        if divide:
            n0 &= 0xFF00  # M = (N >> 8) << 8
            negative = 0
            if n2 < 0:  # |M| = -M: complement and add 1, carried
                negative = 1
                n0 = 0x10000 - n0
                n1 = 0xFFFF - n1 + (n0 >> 16)
                n2 = (0 - n2) - 1 + (n1 >> 16)
                n0 &= 0xFFFF
                n1 &= 0xFFFF
            # q = (|M| >> e) // dm: first the bits from s = max(e, 24) up (< 2**30) ...
            s = 24
            if e > 24:
                s = e
            if s > 32:
                r = n2 >> (s - 32)
            else:
                r = (n2 << (32 - s)) + (n1 >> (s - 16))
            q = r // dm
            r -= q * dm
            # ... then bits s - 1 down to e, one at a time (r < dm < 2**30)
            low = (n1 << 16) + n0
            while s > e:
                s -= 1
                r = (r << 1) + ((low >> s) & 1)
                q <<= 1
                if r >= dm:
                    r -= dm
                    q += 1
            if negative:
                q = 0 - q
            out[i] = q
        else:
            out[i] = (n2 << 24) + (n1 << 8) + (n0 >> 8)  # N >> 8, modulo 2**32
        i += 1
