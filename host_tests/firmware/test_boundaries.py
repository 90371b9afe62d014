"""Fixed examples at the edges where an off-by-one would hide: the softmax clamp, the
halving of LinearAttention, the scores buffer of forward(), and where LinearAttention's
read-out leaves int32 (long inputs are in test_blocks.py). Every expected value
comes from host_tests/model.py or is derived here by hand from the reference's arithmetic."""

from array import array

import model
import pytest
from attention import LinearAttention, MicroAttention, _kernels

# ---------------------------------------------------------------- softmax_fixed clamp
# x = score - max is clamped to [-512, 0]; e = max(256 + trunc(x / 2), 1). The clamp's
# edge: -509 -> 2, -510 -> 1, -511 -> 1, -512 -> 0 -> 1, -513 -> clamped -> 1.


@pytest.mark.parametrize("x", [-508, -509, -510, -511, -512, -513, -514, -1024])
@pytest.mark.parametrize("top", [0, 1000, -(2**31) + 1024, 2**31 - 1])
def test_softmax_fixed_at_the_clamp(x, top):
    scores = [top, top + x, top + x // 2, top - 1]
    got = array("i", scores)
    MicroAttention(4, 1).softmax_fixed(got)
    want, overflow = model.softmax_fixed(scores)
    assert not overflow
    assert list(got) == want


def test_softmax_fixed_clamp_by_hand():
    # e = [256, 2, 1, 1, 1, 1] for x = 0, -509, -510, -511, -512, -513; sum 262.
    got = array("i", [0, -509, -510, -511, -512, -513])
    MicroAttention(4, 1).softmax_fixed(got)
    assert list(got) == [250, 1, 0, 0, 0, 0]  # 65536 // 262, 512 // 262, 256 // 262


@pytest.mark.parametrize("x", [-511, -512, -513])
def test_softmax_fixed_many_rows_at_the_edge(x):
    # Many weights at e = 1 next to one at 256: the sum, and so every weight, shows any
    # change of the edge value (0 or 2 instead of 1).
    scores = [0] + [x] * 300
    got = array("i", scores)
    MicroAttention(4, 1).softmax_fixed(got)
    assert list(got) == model.softmax_fixed(scores)[0]
    assert got[0] == 256 * 256 // (256 + 300)


# ------------------------------------------------------- softmax_exp2 rounding
# weight = (e * 256 + sum(e) // 2) // sum(e): a quotient whose fraction is just below
# one half, (sum - 1) / 2 over an odd sum, rounds down; (sum + 1) // 2 would round it up.


def test_exp2_rounds_a_weight_just_below_one_half_down():
    # By hand, from softmax_exp2's documented arithmetic at logit_shift 9. d = 0 gives
    # e = 65536. d = 1650: z = (1650 * 23637) >> 9 = 76173, integer part 76173 >> 14 = 4,
    # fraction 10637 = 41 * 256 + 141; table[k] = round(65536 * 2**(-k / 64)), so
    # a = table[41] = 42037, b = table[42] = 41584, and
    # e = (42037 - ((42037 - 41584) * 141 >> 8)) >> 4 = (42037 - 249) >> 4 = 2611.
    # sum = 2 * 65536 + 2611 = 133683, odd; 65536 * 256 = 125 * 133683 + 66841 and
    # 66841 = 133683 // 2: 125 + (66841 + 66841) / 133683 stays below 126.
    table = [round(65536 * 2 ** (-k / 64)) for k in range(65)]
    assert (table[41], table[42]) == (42037, 41584)
    z = (1650 * 23637) >> 9
    assert (z >> 14, (z & 0x3FFF) >> 8, z & 0xFF) == (4, 41, 141)
    e = (42037 - (((42037 - 41584) * 141) >> 8)) >> 4
    total = 2 * 65536 + e
    assert (e, total, 65536 * 256 % total, total // 2) == (2611, 133683, 66841, 66841)
    want = [(x * 256 + total // 2) // total for x in (65536, 65536, e)]
    assert want == [125, 125, 5]  # (sum + 1) // 2 would give 126, 126, 5: 257 in all
    scores = array("i", [0, 0, -1650])
    MicroAttention(8, 1, softmax="exp2", logit_shift=9).softmax(scores)
    assert list(scores) == want


# ------------------------------------------------------------- LinearAttention halving
# These tests read and write LinearAttention's state, sums: an array('i') of
# 4 * feature_dim items laid out [C low | K low | C high | K high], each sum being
# high * 65536 + low with low in 0..65535 (see linear.py).


def set_sums(attn, context, key_sums):
    dim = attn.feature_dim
    sums = attn.sums
    for i, value in enumerate(list(context) + list(key_sums)):
        sums[2 * dim + i] = value >> 16  # floor, so that low is in 0..65535
        sums[i] = value & 0xFFFF


def get_sums(attn):
    dim = attn.feature_dim
    sums = attn.sums
    values = [sums[2 * dim + i] * 65536 + sums[i] for i in range(2 * dim)]
    assert all(0 <= sums[i] <= 0xFFFF for i in range(2 * dim))
    return values[:dim], values[dim:]


HALVING_STATE = (
    # context: odd negative high words (-3, -1, -(2**27) - 1) with odd and even low
    # words, and odd positive ones for contrast
    [
        -3 * 65536 + 12345,
        -3 * 65536 + 12346,
        -1,
        -65536,
        -(2**27 + 1) * 65536 + 65535,
        5 * 65536 + 1,
    ],
    [7 * 65536 + 3, 2**43 + 65535, 1, 0, 3 * 65536, (2**27 - 1) * 65536 + 1],
)


def test_halve_floors_odd_negative_high_words():
    attn = LinearAttention(6)
    set_sums(attn, *HALVING_STATE)
    attn._halve()  # private: the cold path, reached on its own only after ~2**30 rows
    context, key_sums = get_sums(attn)
    assert context == [v // 2 for v in HALVING_STATE[0]]  # // floors: -184263 // 2 = -92132
    assert key_sums == [v // 2 for v in HALVING_STATE[1]]
    assert context[0] == -92132
    assert attn.halvings == 1


def test_update_past_the_limit_halves_the_exact_sums():
    # A K sum just below 2**44 (high word 2**28 - 1): one more row carries it to 2**28,
    # and update() halves every sum, floor(value / 2) of the exact sums after the row.
    dim = 6
    attn = LinearAttention(dim)
    context = list(HALVING_STATE[0])
    key_sums = list(HALVING_STATE[1])
    key_sums[0] = (2**28 - 1) * 65536 + 65500
    set_sums(attn, context, key_sums)
    key = [127, -128, 0, 5, -1, 64]
    value = [-128, 127, -1, 3, 0, -77]
    attn.update(array("b", key), array("b", value))
    phi = [model.feature_map(k) for k in key]
    s = sum(phi)
    added_c = [c + s * v for c, v in zip(context, value)]
    added_k = [k + p for k, p in zip(key_sums, phi)]
    assert added_k[0] >= 2**44
    assert attn.halvings == 1
    assert get_sums(attn) == ([v // 2 for v in added_c], [v // 2 for v in added_k])
    query = [127, 3, -128, 0, 64, -2]
    output = array("i", bytes(4 * dim))
    attn.attend(array("b", query), output)
    halved = ([v // 2 for v in added_c], [v // 2 for v in added_k])
    assert list(output) == model.linear_from_sums(query, *halved)[0]


@pytest.mark.parametrize(
    "context, flagged",
    [(-(2**44), 0), (-(2**44) - 1, 1), (-(2**44) + 65535, 0), (2**44 - 1, 0), (2**44, 1)],
)
def test_carry16_flags_a_sum_past_either_limit(context, flagged):
    # A sum may reach 2**44 - 1 and fall to -2**44 (high words -2**28..2**28 - 1); one
    # step past either side asks for the halving. The state is [C low | K low | C high |
    # K high] of one feature, K = 7.
    sums = array("i", [context & 0xFFFF, 7, context >> 16, 0])
    assert _kernels.carry16(sums, 2) == flagged
    assert list(sums) == [context & 0xFFFF, 7, context >> 16, 0]


def test_update_past_the_negative_limit_halves_the_exact_sums():
    # feature_dim 512, keys 127 and values -128: a row adds S * -128 = 512 * 128 * -128 =
    # -2**23 to every C and 128 to every K. After 2**21 rows C = -2**44 (the lowest kept)
    # and K = 2**28; the next row takes C below -2**44, and every sum is halved (floor).
    dim, rows = 512, 2**21
    attn = LinearAttention(dim)
    set_sums(attn, [-(2**23) * rows] * dim, [128 * rows] * dim)
    attn.update(array("b", [127] * dim), array("b", [-128] * dim))
    assert attn.halvings == 1
    context, key_sums = -(2**23) * (rows + 1), 128 * (rows + 1)
    assert get_sums(attn) == ([context // 2] * dim, [key_sums // 2] * dim)
    output = array("i", bytes(4 * dim))
    attn.attend(array("b", bytes(dim)), output)
    exact = model.linear_formula([0] * dim, [context] * dim, [key_sums] * dim)[0]
    assert exact == [-128] * dim
    assert list(output) == exact


# ---------------------------------------------------- forward() and its scores buffer


def extreme_rows(dim, n, seed):
    state = seed
    out = array("b", bytes(dim * n))
    for i in range(dim * n):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = 127 if state & 0x10000 else -128
    return out


def model_forward(embed_dim, num_heads, query, keys, values, n, pos):
    head_dim = embed_dim // num_heads

    def columns(flat, first):
        return [flat[i * embed_dim + first : i * embed_dim + first + head_dim] for i in range(n)]

    out = []
    for first in range(0, embed_dim, head_dim):
        scores, _ = model.compute_scores(
            query[first : first + head_dim], columns(keys, first), head_dim
        )
        if pos is not None:
            scores = model.apply_causal_mask(scores, pos)
        weights, _ = model.softmax_fixed(scores)
        out += model.weighted_sum(weights, columns(values, first), head_dim)[0]
    return out


@pytest.mark.parametrize("pos", [None, 2, 5, 6])
def test_forward_at_max_len_and_one_past_it(pos):
    embed_dim, num_heads, max_len = 16, 2, 5
    query = list(extreme_rows(embed_dim, 1, 4))
    keys = list(extreme_rows(embed_dim, 8, 5))
    values = list(extreme_rows(embed_dim, 8, 6))
    attn = MicroAttention(embed_dim, num_heads, max_len=max_len)
    output = array("i", bytes(4 * embed_dim))
    for n in (max_len, max_len + 1, max_len + 3, 2, max_len + 1):
        k, v = array("b", keys[: n * embed_dim]), array("b", values[: n * embed_dim])
        attn.forward(array("b", query), k, v, output, n, pos)
        want = model_forward(embed_dim, num_heads, query, keys, values, n, pos)
        assert list(output) == want, n


def test_forward_without_max_len_grows_from_nothing():
    embed_dim = 8
    query = list(extreme_rows(embed_dim, 1, 7))
    keys, values = list(extreme_rows(embed_dim, 3, 8)), list(extreme_rows(embed_dim, 3, 9))
    attn = MicroAttention(embed_dim, 1)
    output = array("i", bytes(4 * embed_dim))
    for n in (1, 2, 3):
        attn.forward(array("b", query), array("b", keys), array("b", values), output, n)
        assert list(output) == model_forward(embed_dim, 1, query, keys, values, n, None)


# ------------------------------------------------- where the read-out leaves int32
# The scaled read-out itself, and its bound, are in test_scaled.py.


# The unscaled read-out is used exactly when every p * C and sum(p * K) fit in int32.
FITS = {
    "p*C = 2**31 - 128": ([127, 0], [2**24 - 1, 5], [1000, 1]),
    "p*C = 2**31": ([127, 0], [2**24, 5], [1000, 1]),
    "p*C = -2**31": ([127, 0], [-(2**24), 5], [1000, 1]),
    "p*C = -2**31 - 128": ([127, 0], [-(2**24) - 1, 5], [1000, 1]),
    "D = 2**31 - 1": ([127, -1], [5000, -7], [2**24 - 1, 127]),
    "D = 2**31": ([127, -1], [5000, -7], [2**24 - 1, 128]),
    "K = 2**31": ([-1, 0], [5000, -7], [2**31, 0]),
    "D = 0": ([127, -1], [5000, -70000], [0, 0]),
}


@pytest.mark.parametrize("name", sorted(FITS))
def test_unscaled_read_out_up_to_the_int32_edge(name):
    query, context, key_sums = FITS[name]
    want, r = model.linear_from_sums(query, context, key_sums)
    phi = [model.feature_map(q) for q in query]
    den = sum(p * k for p, k in zip(phi, key_sums))
    fits = den < 2**31 and all(-(2**31) <= p * c < 2**31 for p, c in zip(phi, context))
    assert (r is None) == fits
    attn = LinearAttention(len(query))
    set_sums(attn, context, key_sums)
    output = array("i", bytes(4 * len(query)))
    attn.attend(array("b", query), output)
    assert list(output) == want


# ------------------------------------------- the plain oracle of the device self-check


def test_plain_scale_shift_follows_the_reference():
    # tools/device/plain.py derives the shift itself; the self-check and the benchmark
    # compare the package against it, so it must not come from the package.
    from device import plain  # noqa: PLC0415

    for head_dim in (1, 15, 16, 31, 32, 33, 63, 64, 65, 32768):
        assert plain.plain_scale_shift(head_dim) == model.scale_shift(head_dim), head_dim
