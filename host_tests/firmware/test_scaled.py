"""LinearAttention's read-out where the reference's int32 formula would overflow
(_kernels.linear_finish_scaled): within one output step of exact big-integer arithmetic,
for every feature_dim 1..32768 and every state update() can leave, halved or not.

The bound: with N_i = phi(q_i) * C_i, M_i = (N_i >> 8) << 8, D = sum(phi(q_j) * K_j) and
exact_i = trunc(M_i / D) (host_tests/model.py's linear_formula), the output is exact_i or
one step further from zero; exactly exact_i while D < 2**30. host_tests/model.py's
linear_from_sums spells the kernel's arithmetic out with Python ints; the tests check
the package against it bit for bit and against exact_i within the bound.

The states are reached without streaming: set_sums writes a state into
LinearAttention.sums, and streamed() derives by hand what update() leaves after n equal
rows: one block of 65536 // feature_dim rows per kernel call, after each block every sum
halved (floor) when one of them reached 2**44 or fell below -2**44 (its high word outside
-2**28..2**28 - 1), as linear.py and _kernels.carry16 document.
"""

from array import array

import model
import pytest
from attention import LinearAttention
from hypothesis import given, settings
from hypothesis import strategies as st
from test_boundaries import get_sums, set_sums


def attend(query, context, key_sums):
    attn = LinearAttention(len(query))
    set_sums(attn, context, key_sums)
    output = array("i", bytes(4 * len(query)))
    attn.attend(array("b", query), output)
    return list(output)


def bound_holds(query, context, key_sums, output):
    """output[i] is trunc(M_i / D) or one step further from zero (the sign of M_i)."""
    exact, nums, _ = model.linear_formula(query, context, key_sums)
    for o, e, num in zip(output, exact, nums):
        away = 1 if (num >> 8) << 8 > 0 else -1
        if o != e and o != e + away:
            return False
    return True


def streamed(dim, n, phi, value):
    """(context, key_sums, halvings) after update() of n rows, each with phi(key) = phi
    and values value (lists of dim), derived by hand (see the module docstring)."""
    block = 65536 // dim
    s = sum(phi)
    context, key_sums = [0] * dim, [0] * dim
    halvings = 0
    done = 0
    while done < n:
        rows = min(block, n - done)
        context = [c + rows * s * v for c, v in zip(context, value)]
        key_sums = [k + rows * p for k, p in zip(key_sums, phi)]
        done += rows
        if any(not -(2**28) <= x >> 16 < 2**28 for x in context + key_sums):
            context = [c >> 1 for c in context]
            key_sums = [k >> 1 for k in key_sums]
            halvings += 1
    return context, key_sums, halvings


def streamed_columns(dim, n, phi, value):
    """streamed() where every column takes one of a few values: computed on those few."""
    kinds = sorted(set(zip(phi, value)))
    s = sum(phi)
    block = 65536 // dim
    sums = {kind: [0, 0] for kind in kinds}
    halvings = done = 0
    while done < n:
        rows = min(block, n - done)
        for (p, v), pair in sums.items():
            pair[0] += rows * s * v
            pair[1] += rows * p
        done += rows
        if any(not -(2**28) <= x >> 16 < 2**28 for pair in sums.values() for x in pair):
            for pair in sums.values():
                pair[0] >>= 1
                pair[1] >>= 1
            halvings += 1
    context = [sums[(p, v)][0] for p, v in zip(phi, value)]
    key_sums = [sums[(p, v)][1] for p, v in zip(phi, value)]
    return context, key_sums, halvings


def test_streamed_states_follow_update():
    # streamed() against update() itself, across the first halving: feature_dim 8, keys
    # 127 and values -128, so C = 8 * 128 * -128 = -2**17 a row and one block is 8192
    # rows. From 2**27 - 8192 rows, one block brings C to -2**44 (high word -2**28, kept),
    # the next past it (halved).
    dim, phi, value = 8, [128] * 8, [-128] * 8
    block = 65536 // dim
    start = 2**27 - block
    context, key_sums, halvings = streamed(dim, start, phi, value)
    assert halvings == 0
    attn = LinearAttention(dim)
    set_sums(attn, context, key_sums)
    rows = array("b", [127] * (dim * block)), array("b", [-128] * (dim * block))
    for n, halved in ((1, 0), (2, 1)):
        attn.update(*rows)
        context, key_sums, halvings = streamed(dim, start + n * block, phi, value)
        assert halvings == halved
        assert (get_sums(attn), attn.halvings) == ((context, key_sums), halvings), n
    assert context[0] == (2**27 + block) * -(2**17) // 2
    # streamed_columns() gives streamed()'s state, on a few distinct columns
    phi, value = [128, 1] * 4, [-128, 127, -1, 100, 5, 0, 9, -7]
    for n in (1, 3 * block + 5, 2**28 + 3 * block):
        assert streamed_columns(dim, n, phi, value) == streamed(dim, n, phi, value)
    assert streamed(dim, n, phi, value)[2] == 1  # S = 516: C passes -2**44 after 2**28 rows


# ------------------------------------------ the extremes at feature_dim 32768

DIM = 32768


def exact_answer(n, phi, value, query):
    """The reference's formula on the exact sums of n equal rows: model's big ints."""
    s = sum(phi)
    context = [n * s * v for v in value]
    key_sums = [n * p for p in phi]
    return model.linear_formula(query, context, key_sums)[0]


def check_streamed(n, phi, value, query):
    context, key_sums, halvings = streamed_columns(DIM, n, phi, value)
    output = attend(query, context, key_sums)
    assert model.linear_from_sums(query, context, key_sums)[1] is not None  # the scaled path
    assert output == model.linear_from_sums(query, context, key_sums)[0]
    assert bound_holds(query, context, key_sums, output)
    return output, halvings


def test_largest_dim_after_halvings_gives_the_exact_answer():
    # LinearAttention(32768), 65,536 rows of keys 127 and values -128, query 0: the exact
    # answer is -128 (every row alike: C_i / K_j = S * -128 with S = 128 * 32768, p = 1).
    phi, value, query = [128] * DIM, [-128] * DIM, [0] * DIM
    assert exact_answer(65536, phi, value, query) == [-128] * DIM
    output, halvings = check_streamed(65536, phi, value, query)
    assert halvings == 2
    assert output == [-128] * DIM


def test_largest_dim_positive_values_after_halvings():
    phi, value, query = [128] * DIM, [127] * DIM, [0] * DIM
    assert exact_answer(65536, phi, value, query) == [127] * DIM
    output, halvings = check_streamed(65536, phi, value, query)
    assert halvings == 2
    assert output == [127] * DIM


def test_largest_dim_mixed_signs_after_halvings():
    # keys 127 and -128 (phi 128 and 1), values -128, 127, -1 and 100, queries with
    # phi 128, 1, 6 and 1: exact answers that are not whole (the trunc shows).
    phi = [(128, 1, 128, 1)[j % 4] for j in range(DIM)]
    value = [(-128, 127, -1, 100)[j % 3] for j in range(DIM)]
    query = [(127, -128, 5, 0)[j % 4] for j in range(DIM)]
    exact = exact_answer(65536, phi, value, query)
    output, halvings = check_streamed(65536, phi, value, query)
    assert halvings >= 1
    assert all(abs(o - e) <= 1 for o, e in zip(output, exact))
    assert sorted(set(output)) == sorted(set(exact))  # here no output is off at all


@pytest.mark.parametrize("n", [32768, 32770])
def test_largest_dim_at_the_first_halving(n):
    # C = -2**29 per row: after 32768 rows its high word is -2**28 exactly, the lowest
    # kept; the next block (2 rows) goes past it and the sums are halved.
    phi, value, query = [128] * DIM, [-128] * DIM, [0] * DIM
    output, halvings = check_streamed(n, phi, value, query)
    assert halvings == (n > 32768)
    assert output == [-128] * DIM


def test_largest_dim_largest_state():
    # Every sum at the largest magnitude update() leaves: high words 2**28 - 1 and
    # -2**28, low words 65535 and 0; queries with phi 128, so D is about 2**66.
    context = [((2**28 - 1) * 65536 + 65535, -(2**44))[i % 2] for i in range(DIM)]
    key_sums = [(2**28 - 1) * 65536 + 65535] * DIM
    query = [127] * DIM
    output = attend(query, context, key_sums)
    assert output == model.linear_from_sums(query, context, key_sums)[0]
    assert bound_holds(query, context, key_sums, output)


def test_largest_dim_largest_outputs():
    # |out_i| <= 128 * phi(q_i) for every state update() leaves (|v| <= 128 and D >= the
    # sum of S_t). Near it: keys -128 in column 0 (phi 1) and 127 elsewhere, values -128,
    # and the query 127 in column 0 only: out_0 = -128 * 128 * S / (128 + 128 * 32767)
    # with S = 1 + 128 * 32767: -16383.5, trunc -16383.
    phi = [1] + [128] * (DIM - 1)
    value = [-128] * DIM
    query = [127] + [-128] * (DIM - 1)
    exact = exact_answer(65536, phi, value, query)
    assert exact[0] == model.trunc_div(-128 * (1 + 128 * 32767), 32768) == -16383
    output, halvings = check_streamed(65536, phi, value, query)
    assert halvings >= 1
    assert output[0] == -16383
    assert all(abs(o - e) <= 1 for o, e in zip(output, exact))


# ------------------------------------------------------- where D is cut


def test_denominator_cut_at_30_bits():
    # By hand: phi(q) = [128, 1], C_0 = 2**24, so N_0 = 2**31 (past int32, scaled).
    # D = 128 * K_0 + K_1. Below 2**30 nothing is cut: exact. From 2**30 on, D loses its
    # last bit: D = 2**30 + 1 is read as 2**30, and 2**31 / D = 1.99..., out 2.
    query, context = [127, 0], [2**24, 0]
    for key_sums, e, want in (
        ([2**23 - 1, 127], 0, 2),  # D = 2**30 - 1: 2**31 / D = 2.000000002 -> 2
        ([2**23, 0], 1, 2),  # D = 2**30: exactly 2
        ([2**23, 1], 1, 2),  # D = 2**30 + 1: exact 1, one step further from zero
        ([2**23 - 1, 129], 1, 2),  # D = 2**30 + 1 as well
        ([2**23 + 1, 0], 1, 1),  # D = 2**30 + 128: 2**31 / D rounds down to 1
    ):
        assert model.linear_from_sums(query, context, key_sums) == ([want, 0], e)
        assert attend(query, context, key_sums) == [want, 0], key_sums
    assert model.linear_formula(query, context, [2**23, 1])[0] == [1, 0]


# D = 2**b - 1: every bit of every 16-bit limb is set, so a limb shifted wrong shows.
# The context sums are near 2**46 (written states; update() keeps them below 2**44), so
# that the outputs (about 2**53 / D) stay large enough to tell the cut's bits apart.
@pytest.mark.parametrize("bits", [30, 31, 32, 40, 45, 46, 47, 48, 49, 50, 51, 52])
def test_denominator_limbs(bits):
    dim = 64
    query = [127] * (dim - 1) + [0]  # phi 128, and 1 for the last column
    each = (2**bits - 1) // (128 * (dim - 1))
    key_sums = [each] * (dim - 1) + [2**bits - 1 - 128 * each * (dim - 1)]
    context = [(-1) ** i * (2**45 + 3**i * 7919 % 2**45) for i in range(dim)]
    den = model.linear_formula(query, context, key_sums)[2]
    assert den == 2**bits - 1
    output = attend(query, context, key_sums)
    want, e = model.linear_from_sums(query, context, key_sums)
    assert e == max(0, bits - 30)
    assert output == want
    assert bound_holds(query, context, key_sums, output)
    assert max(abs(o) for o in output) >= 2 ** (52 - bits)


def test_numerator_truncated_before_the_division():
    # By hand: phi(q) = [128, 1], C_0 = 2**25 - 1, so N_0 = 2**32 - 128 (scaled path);
    # K = [0, 3], D = 3 (nothing cut). M_0 = (N_0 >> 8) << 8 = 2**32 - 256, and
    # trunc(M_0 / 3) = 1431655680, where N_0 / 3 would give 1431655722.
    query, context, key_sums = [127, 0], [2**25 - 1, 0], [0, 3]
    want = [(2**32 - 256) // 3, 0]
    assert want[0] == 1431655680
    assert model.linear_from_sums(query, context, key_sums) == (want, 0)
    assert attend(query, context, key_sums) == want


def test_negative_numerators_whose_low_half_is_zero():
    # M a multiple of 65536 (and of 2**32): negating it carries through both low limbs.
    query, key_sums = [127, 127, 127], [1, 1, 1]  # D = 384
    context = [-(2**25), -(2**24) * 3, -(2**25) - 1]  # N = -2**32, -3 * 2**31, ...
    want = [model.trunc_div((128 * c >> 8) << 8, 384) for c in context]
    assert want == [-11184810, -16777216, -11184811]
    assert model.linear_from_sums(query, context, key_sums)[0] == want
    assert attend(query, context, key_sums) == want


def test_no_positive_denominator_gives_the_numerator():
    # D <= 0 leaves the formula's division out, as the reference does: out = N >> 8,
    # modulo 2**32 where it does not fit (no state update() leaves is like this).
    # By hand: N_0 = 128 * (2**40 + 12345) = 2**47 + 1580160, >> 8 = 2**39 + 6172, whose
    # low 32 bits are 6172; N_1 = -(2**33) - 1, >> 8 = -(2**25) - 1; N_2 = 7 * 65536.
    query = [127, 0, -5]
    context = [2**40 + 12345, -(2**33) - 1, 7 * 65536]
    want = [6172, -(2**25) - 1, 7 * 256]
    for key_sums in ([0, 0, 0], [-1, 2, 0], [-(2**40), 2**20, 3]):
        assert model.linear_formula(query, context, key_sums)[2] <= 0
        assert model.linear_from_sums(query, context, key_sums) == (want, 0)
        assert attend(query, context, key_sums) == want


# --------------------------------------------- any state, any width


@st.composite
def scaled_state(draw):
    dim = draw(st.sampled_from([1, 2, 3, 7, 8, 9, 16, 33, 64]))
    query = draw(st.lists(st.integers(-128, 127), min_size=dim, max_size=dim))
    top = draw(st.integers(1, 44))
    key_sums = draw(st.lists(st.integers(0, 2**top), min_size=dim, max_size=dim))
    largest = max(key_sums)
    # update() leaves K_j >= max(K) / 128 (phi is 1..128), and |C_i| <= 128 * dim * max(K)
    key_sums = [max(k, largest // 128) for k in key_sums]
    reach = min(128 * 128 * dim * max(largest, 1), 2**44)
    context = draw(st.lists(st.integers(-reach, reach), min_size=dim, max_size=dim))
    return query, context, key_sums


@settings(max_examples=300, deadline=None)
@given(scaled_state())
def test_any_state_within_one_step(state):
    query, context, key_sums = state
    output = attend(query, context, key_sums)
    assert output == model.linear_from_sums(query, context, key_sums)[0]
    assert bound_holds(query, context, key_sums, output)
