"""The package's arithmetic in plain Python: no viper, no native code.

The baseline that `make bench` times beside the viper kernels, and the oracle of
the on-device self-check. Same buffers as the package (int8 inputs as array('b'),
int32 outputs as array('i')); same algorithms, written the obvious way.
"""


def plain_scale_shift(head_dim):
    """The reference's score shift, approximating 1/sqrt(head_dim): 3 from 32, 2 from 16, else 1."""
    if head_dim >= 32:
        return 3
    if head_dim >= 16:
        return 2
    return 1


def plain_compute_scores(query, keys, scores, n, head_dim, shift):
    for i in range(n):
        base = i * head_dim
        dot = 0
        for j in range(head_dim):
            dot += query[j] * keys[base + j]
        scores[i] = dot >> shift


def plain_mask(scores, pos, n):
    for i in range(pos + 1, n):
        scores[i] = -1073741824


def plain_softmax(scores, n):
    if n == 0:
        return
    top = max(scores[i] for i in range(n))
    total = 0
    for i in range(n):
        x = max(scores[i] - top, -512)
        e = 256 - ((0 - x) >> 1)  # 256 + x / 2, truncated toward zero
        e = e if e > 1 else 1
        scores[i] = e
        total += e
    for i in range(n):
        scores[i] = scores[i] * 256 // total


def plain_weighted_sum(weights, values, output, n, head_dim):
    for j in range(head_dim):
        output[j] = 0
    for i in range(n):
        w = weights[i]
        base = i * head_dim
        for j in range(head_dim):
            output[j] += w * values[base + j]
    for j in range(head_dim):
        output[j] >>= 8


def plain_micro(query, keys, values, scores, output, n, head_dim, shift, pos):
    plain_compute_scores(query, keys, scores, n, head_dim, shift)
    plain_mask(scores, pos, n)
    plain_softmax(scores, n)
    plain_weighted_sum(scores, values, output, n, head_dim)


def plain_linear(query, keys, values, output, n, dim):
    """out[i] = trunc(((phi(q_i) * C_i) >> 8 << 8) / sum(phi(q_j) * K_j)), with
    C_i = sum_t S_t * v_t[i], S_t = sum(phi(k_t)), K_j = sum_t phi(k_t[j])."""
    context = [0] * dim
    key_sums = [0] * dim
    for t in range(n):
        plain_linear_update(context, key_sums, keys, values, t, dim)
    plain_linear_attend(context, key_sums, query, output, dim)


def plain_linear_update(context, key_sums, keys, values, row, dim):
    """Add row `row` of keys and values to the sums C (context) and K (key_sums)."""
    base = row * dim
    s = 0
    for j in range(dim):
        k = keys[base + j]
        p = (k if k > 0 else 0) + 1
        key_sums[j] += p
        s += p
    for j in range(dim):
        context[j] += s * values[base + j]


def plain_linear_attend(context, key_sums, query, output, dim):
    """The formula on the sums; past int32, the denominator cut to its top 30 bits."""
    phi = [(q if q > 0 else 0) + 1 for q in query[:dim]]
    den = 0
    for j in range(dim):
        den += phi[j] * key_sums[j]
    big = den > 2147483647
    for i in range(dim):
        num = phi[i] * context[i]
        big = big or num > 2147483647 or num < -2147483648
    e = 0
    if big and den > 0:  # D >> e and each |M| >> e, e = max(0, bits(D) - 30)
        e = max(0, _bit_length(den) - 30)
    for i in range(dim):
        num = phi[i] * context[i]
        if den > 0:
            num = (num >> 8) << 8
            q = (num if num >= 0 else 0 - num) >> e
            q //= den >> e
            q = q if num >= 0 else 0 - q
        else:
            q = num >> 8
        output[i] = (q + 2147483648) % 4294967296 - 2147483648  # as an int32 store keeps it


def _bit_length(x):
    bits = 0
    while x:
        x >>= 1
        bits += 1
    return bits


def plain_window(query, keys, values, scores, output, cache_len, window_size, head_dim):
    n = min(cache_len, window_size)
    plain_compute_scores(query, keys, scores, n, head_dim, 3)
    plain_softmax(scores, n)
    plain_weighted_sum(scores, values, output, n, head_dim)
