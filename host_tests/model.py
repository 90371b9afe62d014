"""The reference's arithmetic written plainly: the oracle for the property tests.

A line-by-line reading of the Rust reference (attention.rs) with Python lists and
ints, independent of the kernels: no sign tricks, no carries, no pointer work.
Rust's rounding is spelled out: `/` truncates toward zero, `>>` floors. Every i32
operation goes through an I32 tracker, which wraps the value as a Rust release
build does and records whether it overflowed: where it did, the reference's
result is not defined, and the tests compare against the package's documented
behaviour instead. Only the reference's fixed caps (64 features, 32 window slots)
are left out.
"""

I32_MIN = -(2**31)
I32_MAX = 2**31 - 1


class I32:
    """Wraps results to i32 as Rust release builds do; remembers any overflow."""

    def __init__(self):
        self.overflow = False

    def __call__(self, value):
        if not I32_MIN <= value <= I32_MAX:
            self.overflow = True
            value = (value - I32_MIN) % 2**32 + I32_MIN
        return value


def trunc_div(a, b):
    """Rust's integer `/`: the quotient truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def rows(flat, width):
    return [flat[i : i + width] for i in range(0, len(flat) - width + 1, width)]


def scale_shift(head_dim):
    if head_dim >= 64:
        return 3
    if head_dim >= 32:
        return 3
    if head_dim >= 16:
        return 2
    return 1


def compute_scores(query, keys, head_dim):
    """MicroAttention::compute_scores over keys (a list of rows); returns (scores, overflow)."""
    i32 = I32()
    shift = scale_shift(head_dim)
    scores = []
    for key in keys:
        dot = 0
        for j in range(head_dim):
            dot = i32(dot + query[j] * key[j])
        scores.append(dot >> shift)
    return scores, i32.overflow


def apply_causal_mask(scores, current_pos):
    scores = list(scores)
    for i in range(current_pos + 1, len(scores)):
        scores[i] = trunc_div(I32_MIN, 2)
    return scores


def softmax_fixed(scores):
    """MicroAttention::softmax_fixed; returns (weights, overflow)."""
    i32 = I32()
    scores = list(scores)
    if not scores:
        return scores, False
    max_score = max(scores)
    total = 0  # i64 in the reference
    for i, score in enumerate(scores):
        x = i32(score - max_score)
        x_clamped = min(max(x, -512), 0)
        scores[i] = max(256 + trunc_div(x_clamped, 2), 1)
        total += scores[i]
    if total > 0:
        scores = [trunc_div(s * 256, total) for s in scores]
    return scores, i32.overflow


def weighted_sum(weights, values, head_dim):
    """MicroAttention::weighted_sum (values: list of rows); returns (output, overflow)."""
    i32 = I32()
    output = [0] * head_dim
    for weight, value in zip(weights, values):
        for j in range(head_dim):
            output[j] = i32(output[j] + i32(weight * value[j]))
    return [o >> 8 for o in output], i32.overflow


def feature_map(x):
    return max(x, 0) + 1


def linear_forward(query, keys, values, wrap=True):
    """LinearAttention::forward, without the 64-feature cap; returns (output, overflow).

    With wrap=False the same loops run on unbounded ints: the exact value of the
    reference's formula, which the package returns where the reference overflows.
    """
    i32 = I32() if wrap else (lambda v: v)
    dim = len(query)
    kv = [[0] * dim for _ in range(dim)]
    for key, value in zip(keys, values):
        for i in range(dim):
            phi_k = feature_map(key[i])
            for j in range(dim):
                kv[i][j] = i32(kv[i][j] + phi_k * value[j])
    output = [0] * dim
    for i in range(dim):
        phi_q = feature_map(query[i])
        total = 0
        for j in range(dim):
            total = i32(total + i32(phi_q * kv[j][i]))
        output[i] = total >> 8
    k_sum = [0] * dim
    for key in keys:
        for i in range(dim):
            k_sum[i] = i32(k_sum[i] + feature_map(key[i]))
    denom = 0
    for i in range(dim):
        denom = i32(denom + i32(feature_map(query[i]) * k_sum[i]))
    if denom > 0:
        output = [trunc_div(i32(o << 8), denom) for o in output]
    return output, getattr(i32, "overflow", False)


def window_forward(query, keys, values, cache_len, window_size, head_dim):
    """SlidingWindowAttention::forward (keys, values: ring of rows); returns (output, overflow)."""
    i32 = I32()
    window_start = max(cache_len - window_size, 0)
    scores = [0] * window_size
    for i in range(window_start, cache_len):
        dot = 0
        for j in range(head_dim):
            dot = i32(dot + query[j] * keys[i % window_size][j])
        scores[i - window_start] = dot >> 3
    window_len = cache_len - window_start
    window = scores[:window_len]
    top = max(window) if window else 0
    total = 0
    for i, s in enumerate(window):
        window[i] = max(256 + trunc_div(i32(s - top), 2), 1)
        total = i32(total + window[i])
    output = [0] * head_dim
    for i in range(window_len):
        weight = trunc_div(i32(window[i] * 256), max(total, 1))
        value = values[(window_start + i) % window_size]
        for j in range(head_dim):
            output[j] = i32(output[j] + i32(weight * value[j]))
    return [o >> 8 for o in output], i32.overflow


def linear_documented(query, keys, values):
    """What LinearAttention returns: the reference's formula on exact sums (see
    linear_from_sums for where its int32 arithmetic would overflow)."""
    return linear_from_sums(query, *linear_sums(keys, values, len(query)))[0]


def linear_sums(keys, values, dim):
    """The exact sums C_i = sum_t S_t * v_t[i] (S_t = sum(phi(k_t))) and K_j = sum_t phi(k_t[j])."""
    context, key_sums = [0] * dim, [0] * dim
    for key, value in zip(keys, values):
        s = sum(feature_map(k) for k in key)
        for j in range(dim):
            key_sums[j] += feature_map(key[j])
            context[j] += s * value[j]
    return context, key_sums


def linear_formula(query, context, key_sums):
    """The reference's read-out on given sums, in unbounded ints: (output, numerators, den)."""
    phi = [feature_map(q) for q in query]
    den = sum(p * k for p, k in zip(phi, key_sums))
    nums = [p * c for p, c in zip(phi, context)]
    if den <= 0:  # the reference divides only when denom > 0
        return [num >> 8 for num in nums], nums, den
    return [trunc_div((num >> 8) << 8, den) for num in nums], nums, den


def wrap32(value):
    """The low 32 bits of value as a signed int32 (what an int32 store keeps)."""
    return (value - I32_MIN) % 2**32 + I32_MIN


def linear_from_sums(query, context, key_sums):
    """LinearAttention's output from its exact sums C (context) and K (key_sums):
    returns (output, e), e None when the formula fits int32.

    Else the denominator D is cut to its top 30 bits, dm = D >> e with
    e = max(0, bits(D) - 30), and each |M| = |(N >> 8) << 8| is cut by the same e:
    out = sign(M) * ((|M| >> e) // dm). Exact when e = 0; else trunc(M / D) or one step
    further from zero. D <= 0 gives N >> 8 (as the formula does for D = 0), mod 2**32."""
    output, nums, den = linear_formula(query, context, key_sums)
    if den <= I32_MAX and all(I32_MIN <= num <= I32_MAX for num in nums):
        return output, None
    if den <= 0:
        return [wrap32(num >> 8) for num in nums], 0
    e = max(0, den.bit_length() - 30)
    dm = den >> e
    out = []
    for num in nums:
        m = (num >> 8) << 8
        q = (abs(m) >> e) // dm
        out.append(wrap32(q if m >= 0 else -q))
    return out, e
