"""Viper kernels of a model's step: embedding, RMSNorm, projection, attention of all heads.

Each kernel reads its sizes and offsets from a record of int32 words in the model's
blob at byte offset at (the plan, built and checked against the buffers when the model
is loaded; see model.py); offsets are in bytes. Arguments are checked by the caller:
nothing here checks bounds or allocates. The portability rules of _kernels.py hold.

Buffers:
- blob: the model's constants. A projection is rows of stride = (cols + 3 & ~3) + 16
  bytes: row r's weights as biased bytes u = w + 128 (0..255), then, in the row's last
  16 bytes, four int32 constants (c, m, r, t): c = 16384 * cols - 128 * sum(u of row r)
  + 2**30 (0 .. 2**31 - 1: a ptr32 load gives it unchanged on every word size), and the
  scale (m, s), the real multiplier m / 2**s, ready for one of two formulas
  (docs/model-format.md): version 1's, r = 2**(s - 17) and t = s - 16 (see
  _layers.requant8), or the one multiply of a file that promises
  |sum| * m + 2**(s - 1) < 2**31, r = 2**(s - 1), t = s. Embeddings are int8.
- state: the activations. An int8 vector x is given to a projection as a prepared input:
  the bytes v = x + 128, then, at a 4-aligned offset, the int32 sum(v). Then
    sum(w * x) = sum(u * v) + (c - 2**30) - 128 * sum(v),
  so the multiply-accumulate loop multiplies two unsigned bytes and adds: no sign work.
  int32 parts of state (4-aligned) hold the attention's query, scores and sums.
Every result is exact in int32 for widths up to 32768, as in _kernels.py and _layers.py.
"""

import micropython
from micropython import const

# What project() does with row r's requantised sum y = round(sum(w * x) * m / 2**s):
INT8 = const(0)  # out[r] = saturate8(y), int8
ADD8 = const(1)  # out[r] = saturate8(out[r] + saturate8(y)): the residual add, int8
TABLE = const(2)  # v = table[saturate8(y) & 255] + 128 (an activation), a prepared input
INT32 = const(3)  # out[r] = y, int32 (logits)
ONE_MULTIPLY = const(4)  # added to the mode: the rows' constants are for one multiply


@micropython.viper
def project(blob: ptr8, state: ptr8, out: ptr8, at: int, extra: int):
    """Rows of weights times a prepared input, each row's sum requantised into out by mode.

    Record at blob[at]: w_off, x_off, sum_off, out_off, rows, cols, mode, aux. The rows
    start at blob[w_off], stride bytes apart (see above); the input is state[x_off ...]
    (v) with sum(v) at state[sum_off]. Row by row, with the weight cursor and the sum in
    the two register locals (blob, state): the sum a = sum(w * x), 32 columns a pass
    (then 4, then 1; a row of exactly 32 in one pass without a loop), then
      y = ((a >> 16) * m + r + (((a & 65535) * m) >> 16)) >> t    (as _layers.requant8)
    or, with ONE_MULTIPLY in the mode, y = (a * m + r) >> t, goes to
    out[out_off + extra + r] by mode, or to its int32 item (INT32); TABLE looks up the
    256 int8 at blob[aux] and writes a prepared input: v, then sum(v) at the 4-aligned
    out[out_off + rows + 3 & ~3].
    """
    rec = ptr32(int(blob) + at)
    base = int(blob)
    x0 = int(state) + rec[1]
    lift = 1
    lift <<= 30  # 2**30 (a literal would not be a small int on 32-bit)
    bias = 0 - (ptr32(int(state) + rec[2])[0] << 7) - lift  # -128 * sum(v) - 2**30
    o = ptr8(int(out) + rec[3] + extra)  # steps along the output
    rows = rec[4]
    cols = rec[5]
    mode = rec[6]
    one = mode & ONE_MULTIPLY
    mode -= one
    narrow = mode == INT8
    add = mode == ADD8
    look = mode == TABLE
    table = base + rec[7]
    total = 0
    whole = x0 + (cols & (0 - 32))  # where the input's passes of 32, of 4 and of 1 end
    fours = x0 + (cols & (0 - 4))
    ones = x0 + cols
    rest = cols & 31
    pad = (0 - cols) & 3
    single = cols == 32
    xs = ptr8(x0)  # the input, for rows of 32
    blob = ptr8(base + rec[0])  # the weight cursor: row after row
    last = int(blob) + rows * (cols + pad + 16)  # rows of stride bytes
    while last - int(blob):
        state = ptr8(bias)  # the sum: a value, never accessed
        if single:  # cols is 32: one pass, no loop
            state = ptr8(blob[0] * xs[0] + int(state))
            state = ptr8(blob[1] * xs[1] + int(state))
            state = ptr8(blob[2] * xs[2] + int(state))
            state = ptr8(blob[3] * xs[3] + int(state))
            state = ptr8(blob[4] * xs[4] + int(state))
            state = ptr8(blob[5] * xs[5] + int(state))
            state = ptr8(blob[6] * xs[6] + int(state))
            state = ptr8(blob[7] * xs[7] + int(state))
            state = ptr8(blob[8] * xs[8] + int(state))
            state = ptr8(blob[9] * xs[9] + int(state))
            state = ptr8(blob[10] * xs[10] + int(state))
            state = ptr8(blob[11] * xs[11] + int(state))
            state = ptr8(blob[12] * xs[12] + int(state))
            state = ptr8(blob[13] * xs[13] + int(state))
            state = ptr8(blob[14] * xs[14] + int(state))
            state = ptr8(blob[15] * xs[15] + int(state))
            state = ptr8(blob[16] * xs[16] + int(state))
            state = ptr8(blob[17] * xs[17] + int(state))
            state = ptr8(blob[18] * xs[18] + int(state))
            state = ptr8(blob[19] * xs[19] + int(state))
            state = ptr8(blob[20] * xs[20] + int(state))
            state = ptr8(blob[21] * xs[21] + int(state))
            state = ptr8(blob[22] * xs[22] + int(state))
            state = ptr8(blob[23] * xs[23] + int(state))
            state = ptr8(blob[24] * xs[24] + int(state))
            state = ptr8(blob[25] * xs[25] + int(state))
            state = ptr8(blob[26] * xs[26] + int(state))
            state = ptr8(blob[27] * xs[27] + int(state))
            state = ptr8(blob[28] * xs[28] + int(state))
            state = ptr8(blob[29] * xs[29] + int(state))
            state = ptr8(blob[30] * xs[30] + int(state))
            state = ptr8(blob[31] * xs[31] + int(state))
            blob = ptr8(32 + int(blob))
        else:
            xb = ptr8(x0)
            while whole - int(xb):
                state = ptr8(blob[0] * xb[0] + int(state))
                state = ptr8(blob[1] * xb[1] + int(state))
                state = ptr8(blob[2] * xb[2] + int(state))
                state = ptr8(blob[3] * xb[3] + int(state))
                state = ptr8(blob[4] * xb[4] + int(state))
                state = ptr8(blob[5] * xb[5] + int(state))
                state = ptr8(blob[6] * xb[6] + int(state))
                state = ptr8(blob[7] * xb[7] + int(state))
                state = ptr8(blob[8] * xb[8] + int(state))
                state = ptr8(blob[9] * xb[9] + int(state))
                state = ptr8(blob[10] * xb[10] + int(state))
                state = ptr8(blob[11] * xb[11] + int(state))
                state = ptr8(blob[12] * xb[12] + int(state))
                state = ptr8(blob[13] * xb[13] + int(state))
                state = ptr8(blob[14] * xb[14] + int(state))
                state = ptr8(blob[15] * xb[15] + int(state))
                state = ptr8(blob[16] * xb[16] + int(state))
                state = ptr8(blob[17] * xb[17] + int(state))
                state = ptr8(blob[18] * xb[18] + int(state))
                state = ptr8(blob[19] * xb[19] + int(state))
                state = ptr8(blob[20] * xb[20] + int(state))
                state = ptr8(blob[21] * xb[21] + int(state))
                state = ptr8(blob[22] * xb[22] + int(state))
                state = ptr8(blob[23] * xb[23] + int(state))
                state = ptr8(blob[24] * xb[24] + int(state))
                state = ptr8(blob[25] * xb[25] + int(state))
                state = ptr8(blob[26] * xb[26] + int(state))
                state = ptr8(blob[27] * xb[27] + int(state))
                state = ptr8(blob[28] * xb[28] + int(state))
                state = ptr8(blob[29] * xb[29] + int(state))
                state = ptr8(blob[30] * xb[30] + int(state))
                state = ptr8(blob[31] * xb[31] + int(state))
                blob = ptr8(32 + int(blob))
                xb = ptr8(32 + int(xb))
            if rest:  # cols is not a multiple of 32: four, then one column a pass
                while fours - int(xb):
                    state = ptr8(blob[0] * xb[0] + int(state))
                    state = ptr8(blob[1] * xb[1] + int(state))
                    state = ptr8(blob[2] * xb[2] + int(state))
                    state = ptr8(blob[3] * xb[3] + int(state))
                    blob = ptr8(4 + int(blob))
                    xb = ptr8(4 + int(xb))
                while ones - int(xb):
                    state = ptr8(blob[0] * xb[0] + int(state))
                    blob = ptr8(1 + int(blob))
                    xb = ptr8(1 + int(xb))
                blob = ptr8(pad + int(blob))
        # blob is at the row's constants: int(state) + c is sum(w * x), exact.
        state = ptr8(ptr32(blob)[0] + int(state))
        if one:
            y = (int(state) * ptr32(blob)[1] + ptr32(blob)[2]) >> ptr32(blob)[3]
        else:  # version 1's formula
            y = (
                (((int(state) & 0xFFFF) * ptr32(blob)[1]) >> 16)
                + (int(state) >> 16) * ptr32(blob)[1]
                + ptr32(blob)[2]
            ) >> ptr32(blob)[3]
        blob = ptr8(16 + int(blob))
        if narrow:  # INT8
            if (y + 128) >> 8:  # y outside -128..127: saturate
                if y > 0:
                    y = 127
                else:
                    y = 0 - 128
            o[0] = y
        elif add:  # ADD8: out[r] = saturate8(out[r] + saturate8(y))
            if (y + 128) >> 8:
                if y > 0:
                    y = 127
                else:
                    y = 0 - 128
            y += (o[0] ^ 0x80) - 0x80
            if (y + 128) >> 8:
                if y > 0:
                    y = 127
                else:
                    y = 0 - 128
            o[0] = y
        elif look:  # TABLE: the entry for y's byte, as v = entry + 128
            if (y + 128) >> 8:
                if y > 0:
                    y = 127
                else:
                    y = 0 - 128
            y = ptr8(table)[y & 255] ^ 0x80
            o[0] = y
            total += y
        else:  # INT32
            ptr32(o)[0] = y
            o = ptr8(3 + int(o))
        o = ptr8(1 + int(o))
    if mode == TABLE:
        ptr32(int(out) + ((rec[3] + extra + rows + 3) & (0 - 4)))[0] = total


@micropython.viper
def norm(blob: ptr8, state: ptr8, at: int, extra: int):
    """The integer RMSNorm of an int8 vector, as a prepared input (see _layers.rms_norm8).

    Record at blob[at]: x_off, out_off, sum_off, n, num, down. With ss = sum(x**2) of
    the n int8 x = state[x_off + extra ...]: ss = 0 gives y = 0; else e, r and inv as in
    rms_norm8 and y = saturate8((x * inv + 2**(t - 1)) >> t), t = down - e. Writes
    v = y + 128 to state[out_off ...] and sum(v) to the int32 at state[sum_off].
    In both passes blob is the cursor over x; state holds the sum of squares, then
    the cursor over the output.
    """
    rec = ptr32(int(blob) + at)
    s0 = int(state)
    x0 = s0 + rec[0] + extra
    out = s0 + rec[1]
    sum_at = s0 + rec[2]
    n = rec[3]
    num = rec[4]
    down = rec[5]
    end = x0 + n
    fours = x0 + (n & (0 - 4))
    blob = ptr8(x0)
    state = ptr8(0)
    while fours - int(blob):
        state = ptr8(((blob[0] ^ 0x80) - 0x80) * ((blob[0] ^ 0x80) - 0x80) + int(state))
        state = ptr8(((blob[1] ^ 0x80) - 0x80) * ((blob[1] ^ 0x80) - 0x80) + int(state))
        state = ptr8(((blob[2] ^ 0x80) - 0x80) * ((blob[2] ^ 0x80) - 0x80) + int(state))
        state = ptr8(((blob[3] ^ 0x80) - 0x80) * ((blob[3] ^ 0x80) - 0x80) + int(state))
        blob = ptr8(4 + int(blob))
    while end - int(blob):
        state = ptr8(((blob[0] ^ 0x80) - 0x80) * ((blob[0] ^ 0x80) - 0x80) + int(state))
        blob = ptr8(1 + int(blob))
    ss = int(state)
    inv = 0  # ss = 0: every y is 0
    t = 1
    if ss:
        e = 0
        while ss < 0x100000:
            ss <<= 8
            e += 4
        while ss < 0x10000000:
            ss <<= 2
            e += 1
        # r = isqrt(ss), ss in 2**28 .. 2**30 - 1: Newton's method from above, from
        # (ss >> 16) + 2**14 >= sqrt(ss) there (the difference is (sqrt(ss) - 2**15)**2 / 2**16).
        r = (ss >> 16) + 0x4000
        while True:
            y = (r + ss // r) >> 1
            if y >= r:
                break
            r = y
        inv = num // r
        t = down - e
    # y = (x * inv + 2**(t - 1)) >> t with x = v - 128, v = blob[0] ^ 0x80 the biased byte.
    base = (1 << (t - 1)) - (inv << 7)
    total = 0
    blob = ptr8(x0)
    state = ptr8(out)
    twos = x0 + (n & (0 - 2))
    while twos - int(blob):  # two bytes a pass, then the last one
        u = (((blob[0] ^ 0x80) * inv + base) >> t) + 128
        if u >> 8:  # y outside -128..127: saturate
            if u > 0:
                u = 255
            else:
                u = 0
        state[0] = u
        total += u
        u = (((blob[1] ^ 0x80) * inv + base) >> t) + 128
        if u >> 8:
            if u > 0:
                u = 255
            else:
                u = 0
        state[1] = u
        total += u
        blob = ptr8(2 + int(blob))
        state = ptr8(2 + int(state))
    if n & 1:
        u = (((blob[0] ^ 0x80) * inv + base) >> t) + 128
        if u >> 8:
            if u > 0:
                u = 255
            else:
                u = 0
        state[0] = u
        total += u
    ptr32(sum_at)[0] = total


@micropython.viper
def embed(blob: ptr8, state: ptr8, at: int, token: int, pos: int, extra: int):
    """x = saturate8(tok_emb[token] + pos_emb[pos]), int8, into state[x_off + extra ...].

    Record at blob[at]: tok_off, pos_off, x_off, d: rows of d int8 in blob.
    """
    rec = ptr32(int(blob) + at)
    d = rec[3]
    tok = int(blob) + rec[0] + token * d
    apart = rec[1] + pos * d - rec[0] - token * d  # the position's row, from the token's
    end = tok + d
    blob = ptr8(tok)  # steps along the token's row
    state = ptr8(int(state) + rec[2] + extra)  # and along x
    while end - int(blob):
        # u = y + 128: the token's byte biased, plus the position's signed.
        u = (blob[0] ^ 0x80) + (ptr8(int(blob) + apart)[0] ^ 0x80) - 0x80
        if u >> 8:  # y outside -128..127: saturate
            if u > 0:
                u = 255
            else:
                u = 0
        state[0] = u ^ 0x80
        blob = ptr8(1 + int(blob))
        state = ptr8(1 + int(state))


@micropython.viper
def prep(blob: ptr8, state: ptr8, src: ptr8, at: int, src_off: int):
    """An int8 vector of src as a prepared input: v = x + 128, then sum(v) (see project).

    Record at blob[at]: out_off, sum_off, n. Reads src[src_off .. src_off + n - 1], writes
    v to state[out_off ...] and sum(v) to the int32 at state[sum_off]. src steps along
    the input, state along the output.
    """
    rec = ptr32(int(blob) + at)
    sum_at = int(state) + rec[1]
    end = int(src) + src_off + rec[2]
    src = ptr8(int(src) + src_off)
    state = ptr8(int(state) + rec[0])
    total = 0
    while end - int(src):
        u = src[0] ^ 0x80
        state[0] = u
        total += u
        src = ptr8(1 + int(src))
        state = ptr8(1 + int(state))
    ptr32(sum_at)[0] = total


@micropython.viper
def pool(blob: ptr8, state: ptr8, at: int):
    """The mean of rows of int8: p[j] = floor((sum_t x_t[j] + rows // 2) / rows), int8.

    Record at blob[at]: x_off, rows, d, out_off: rows of d int8 at state[x_off ...],
    p into state[out_off ...].
    """
    rec = ptr32(int(blob) + at)
    rows = rec[1]
    d = rec[2]
    half = rows >> 1
    x = int(state) + rec[0]
    out = ptr8(int(state) + rec[3])
    last = x + rows * d
    j = 0
    while j < d:
        blob = ptr8(x + j)  # steps down column j
        total = half
        while last - int(blob) > 0:
            total += (blob[0] ^ 0x80) - 0x80
            blob = ptr8(d + int(blob))
        out[j] = total // rows
        j += 1


@micropython.viper
def attend(blob: ptr8, state: ptr8, at: int, n: int, extra: int):
    """All heads of one query over n rows of a KV cache, as the o-projection's prepared input.

    Record at blob[at]: q_off, kv_off, stride, v_col, heads, hd, shift, logit_shift,
    scores_off, acc_off, exp2_off, out_off, sum_off. The query is int8 at
    state[q_off + extra ...], widened per head into the int32 scratch at acc_off; row i of the
    cache is at state[kv_off + i * stride], its keys
    there and its values v_col bytes on, int8, head h in columns h*hd .. h*hd + hd - 1.
    Per head, as MicroAttention.forward with softmax_exp2 (see _kernels.py):
      scores[i] = sum(q[j] * k[i, j]) >> shift;  weights = softmax_exp2(scores, logit_shift)
      a[j] = saturate8(sum(weights[i] * v[i, j]) >> 8),
    and v = a + 128 goes to state[out_off + h*hd + j], sum(v) to the int32 at state[sum_off].
    int32 scratch: scores (n items), acc (2 * hd items), the exp2 table (65 items).
    """
    sign = 1
    sign <<= 31
    low32 = sign + sign - 1
    lowest = 0 - sign
    rec = ptr32(int(blob) + at)
    s0 = int(state)
    heads = rec[4]
    hd = rec[5]
    shift = rec[6]
    logit_shift = rec[7]
    stride = rec[2]
    scores = ptr32(s0 + rec[8])
    acc = s0 + rec[9]
    table = ptr32(s0 + rec[10])
    outb = s0 + rec[11]
    kv = s0 + rec[1]
    q8 = s0 + rec[0] + extra
    back = hd << 2
    qh = acc + back  # the head's query, widened to int32
    v_col = rec[3]
    sixteens = hd & (0 - 16)
    eights = hd & (0 - 8)
    rest = hd & 15
    rest8 = hd & 8
    total = 0
    h = 0
    while h < heads:
        col = h * hd
        # The head's query, widened: blob steps along its bytes, state along the int32;
        # the sums of the weighted rows, hd items before it, are zeroed on the way.
        blob = ptr8(q8 + col)
        state = ptr8(qh)
        end = qh + (hd << 2)
        qsum = 0
        while end - int(state):
            v = (blob[0] ^ 0x80) - 0x80
            ptr32(state)[0] = v
            ptr32(int(state) - back)[0] = 0
            qsum += v
            blob = ptr8(1 + int(blob))
            state = ptr8(4 + int(state))
        start = 0 - (qsum << 7)  # sum q*k = sum q*(k + 128) - 128 * sum q
        # Scores and their maximum: blob steps along a key row, state holds the sum.
        top = lowest
        row = kv + col
        sp = int(scores)  # steps along the scores
        send = sp + (n << 2)
        while send - sp:
            blob = ptr8(row)
            qp = ptr32(qh)
            state = ptr8(start)
            end = row + sixteens
            while end - int(blob):
                state = ptr8((blob[0] ^ 0x80) * qp[0] + int(state))
                state = ptr8((blob[1] ^ 0x80) * qp[1] + int(state))
                state = ptr8((blob[2] ^ 0x80) * qp[2] + int(state))
                state = ptr8((blob[3] ^ 0x80) * qp[3] + int(state))
                state = ptr8((blob[4] ^ 0x80) * qp[4] + int(state))
                state = ptr8((blob[5] ^ 0x80) * qp[5] + int(state))
                state = ptr8((blob[6] ^ 0x80) * qp[6] + int(state))
                state = ptr8((blob[7] ^ 0x80) * qp[7] + int(state))
                state = ptr8((blob[8] ^ 0x80) * qp[8] + int(state))
                state = ptr8((blob[9] ^ 0x80) * qp[9] + int(state))
                state = ptr8((blob[10] ^ 0x80) * qp[10] + int(state))
                state = ptr8((blob[11] ^ 0x80) * qp[11] + int(state))
                state = ptr8((blob[12] ^ 0x80) * qp[12] + int(state))
                state = ptr8((blob[13] ^ 0x80) * qp[13] + int(state))
                state = ptr8((blob[14] ^ 0x80) * qp[14] + int(state))
                state = ptr8((blob[15] ^ 0x80) * qp[15] + int(state))
                blob = ptr8(16 + int(blob))
                qp = ptr32(64 + int(qp))
            if rest:  # hd is not a multiple of 16: eight, then one column at a time
                if rest8:
                    state = ptr8((blob[0] ^ 0x80) * qp[0] + int(state))
                    state = ptr8((blob[1] ^ 0x80) * qp[1] + int(state))
                    state = ptr8((blob[2] ^ 0x80) * qp[2] + int(state))
                    state = ptr8((blob[3] ^ 0x80) * qp[3] + int(state))
                    state = ptr8((blob[4] ^ 0x80) * qp[4] + int(state))
                    state = ptr8((blob[5] ^ 0x80) * qp[5] + int(state))
                    state = ptr8((blob[6] ^ 0x80) * qp[6] + int(state))
                    state = ptr8((blob[7] ^ 0x80) * qp[7] + int(state))
                    blob = ptr8(8 + int(blob))
                    qp = ptr32(32 + int(qp))
                end = row + hd
                while end - int(blob):
                    state = ptr8((blob[0] ^ 0x80) * qp[0] + int(state))
                    blob = ptr8(1 + int(blob))
                    qp = ptr32(4 + int(qp))
            v = (((int(state) & low32) ^ sign) - sign) >> shift
            ptr32(sp)[0] = v
            if v > top:
                top = v
            row += stride
            sp += 4
        # softmax_exp2 in place on scores[0:n] (see _kernels.softmax_exp2); state steps
        # along the scores, blob points at the table's entry.
        limit = 17 << logit_shift
        floor = lowest
        if top >= lowest + limit:
            floor = top - limit
        down = 0
        i = n
        while i > 32767:
            i >>= 1
            down += 1
        weight_sum = 0
        state = ptr8(int(scores))
        end = int(scores) + (n << 2)
        while end - int(state):
            v = (ptr32(state)[0] ^ sign) - sign
            e = 0
            if v >= floor:
                z = ((top - v) * 23637) >> logit_shift
                # table[k], k = (z & 0x3FFF) >> 8: bits 8..13 of z, as a byte offset
                blob = ptr8(int(table) + ((z >> 6) & 0xFC))
                a = ptr32(blob)[0]
                e = ((a - (((a - ptr32(blob)[1]) * (z & 0xFF)) >> 8)) >> (z >> 14)) >> down
            ptr32(state)[0] = e
            weight_sum += e
            state = ptr8(4 + int(state))
        half = weight_sum >> 1
        wsum = 0
        # Weighted sum of the value rows, each weight w = round(e * 256 / weight_sum) made
        # as its row is used: blob steps along a value row, state along acc.
        row = kv + v_col + col
        sp = int(scores)
        while send - sp:
            w = ((ptr32(sp)[0] << 8) + half) // weight_sum
            wsum += w
            blob = ptr8(row)
            state = ptr8(acc)
            end = row + eights
            while end - int(blob):
                ptr32(state)[0] = (blob[0] ^ 0x80) * w + ptr32(state)[0]
                ptr32(state)[1] = (blob[1] ^ 0x80) * w + ptr32(state)[1]
                ptr32(state)[2] = (blob[2] ^ 0x80) * w + ptr32(state)[2]
                ptr32(state)[3] = (blob[3] ^ 0x80) * w + ptr32(state)[3]
                ptr32(state)[4] = (blob[4] ^ 0x80) * w + ptr32(state)[4]
                ptr32(state)[5] = (blob[5] ^ 0x80) * w + ptr32(state)[5]
                ptr32(state)[6] = (blob[6] ^ 0x80) * w + ptr32(state)[6]
                ptr32(state)[7] = (blob[7] ^ 0x80) * w + ptr32(state)[7]
                blob = ptr8(8 + int(blob))
                state = ptr8(32 + int(state))
            if hd & 7:  # hd is not a multiple of 8: one column a pass
                end = row + hd
                while end - int(blob):
                    ptr32(state)[0] = (blob[0] ^ 0x80) * w + ptr32(state)[0]
                    blob = ptr8(1 + int(blob))
                    state = ptr8(4 + int(state))
            row += stride
            sp += 4
        # sum w*v = sum w*(v + 128) - 128 * sum w, and u = y + 128 = (that + 2**15) >> 8.
        # Every sum w*(v + 128) is 0 .. 255 * sum w < 2**31: a ptr32 load gives it as is.
        bias = (wsum << 7) - 32768
        # Narrowed to int8, prepared: blob steps along the sums, state along the output.
        blob = ptr8(acc)
        state = ptr8(outb + col)
        end = acc + (hd << 2)
        while end - int(blob):
            u = (ptr32(blob)[0] - bias) >> 8
            if u >> 8:  # y outside -128..127: saturate
                if u > 0:
                    u = 255
                else:
                    u = 0
            state[0] = u
            total += u
            blob = ptr8(4 + int(blob))
            state = ptr8(1 + int(state))
        h += 1
    ptr32(s0 + rec[12])[0] = total


@micropython.viper
def prepare(blob: ptr8, w_off: int, rows: int, cols: int, one: int) -> int:
    """Ready a projection read from a model file, in place: rows of stride bytes at
    blob[w_off] (see above), row r's int8 weights w, then in its last 16 bytes its scale
    (m, s) as two int32. Each w becomes u = w + 128 (w ^ 0x80) and the 16 bytes become
    (c, m, r, t) with c = 16384 * cols - 128 * sum(u of row r) + 2**30 (see project):
    (m, 2**(s - 17), s - 16) for version 1's formula, or with one set (m, 2**(s - 1), s)
    for one multiply, whose promise is checked: 128 * sum(|w|) * m + 2**(s - 1) < 2**31
    (compared as sum(|w|) <= ((2**31 - 1 - 2**(s - 1)) >> 7) // m, inside int32).
    Returns the first row that breaks the promise, or -1.
    """
    lift = 1
    lift <<= 30  # 2**30
    stride = ((cols + 3) & (0 - 4)) + 16
    w = ptr8(int(blob) + w_off)
    bad = -1
    r = 0
    while r < rows:
        params = ptr32(int(w) + stride - 16)
        m = params[0]
        s = params[1]
        params[1] = m
        if one:
            params[2] = 1 << (s - 1)
            params[3] = s
        else:
            params[2] = 1 << (s - 17)
            params[3] = s - 16
        total = 0
        size = 0  # sum(|w|)
        j = 0
        while j < cols:
            u = w[j] ^ 0x80
            w[j] = u
            total += u
            if u < 128:
                size += 128 - u
            else:
                size += u - 128
            j += 1
        params[0] = (cols << 14) - (total << 7) + lift  # c, 0 .. 2**31 - 1
        if one and bad < 0:
            # 128 * size * m + r < 2**31, i.e. size * m <= (2**31 - 1 - r) >> 7 (floor).
            top = 0x3FFFFFFF
            top = top + top + 1 - params[2]  # 2**31 - 1 - r, inside int32
            if m and size > (top >> 7) // m:
                bad = r
        w = ptr8(stride + int(w))
        r += 1
    return bad
