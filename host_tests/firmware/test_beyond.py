"""Multi-head forward over a KV cache, streaming linear attention, and the exp2 softmax."""

import math
from array import array

import model
import pytest
from attention import KVCache, LinearAttention, MicroAttention
from attention._softmax import EXP2 as _EXP2
from hypothesis import given, settings
from hypothesis import strategies as st

int8 = st.integers(-128, 127)


def float_softmax(scores, shift):
    top = max(scores)
    exps = [math.exp((s - top) / 2**shift) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def test_exp2_table_is_two_to_the_minus_k_over_64():
    assert list(_EXP2) == [round(65536 * 2 ** (-k / 64)) for k in range(65)]


scores32 = st.one_of(
    st.integers(-3000, 3000), st.integers(model.I32_MIN, model.I32_MAX), st.just(-(2**30))
)


@settings(max_examples=200, deadline=None)
@given(st.lists(scores32, min_size=1, max_size=40), st.integers(0, 12))
def test_exp2_softmax_within_one_q8_step_of_float(scores, shift):
    attn = MicroAttention(8, 1, softmax="exp2", logit_shift=shift)
    buf = array("i", scores)
    attn.softmax(buf)
    for got, want in zip(buf, float_softmax(scores, shift)):
        assert abs(got / 256 - want) <= 1 / 256


@pytest.mark.parametrize("shift", [0, 4, 9, 12])
def test_exp2_adversarial_vectors(shift):
    spread = 2**shift
    cases = [
        [0],
        [5] * 37,
        [model.I32_MAX, model.I32_MIN],
        [0, -(2**30), -(2**30)],  # masked positions
        [i * spread // 3 for i in range(-20, 20)],
        [0, -spread, -2 * spread, -17 * spread, -18 * spread],
        [-(2**30)] * 4,
    ]
    attn = MicroAttention(8, 1, softmax="exp2", logit_shift=shift)
    for scores in cases:
        buf = array("i", scores)
        attn.softmax(buf)
        for got, want in zip(buf, float_softmax(scores, shift)):
            assert abs(got / 256 - want) <= 1 / 256, (scores, list(buf))


def test_masked_positions_get_weight_zero_with_exp2():
    attn = MicroAttention(8, 1, softmax="exp2")
    scores = array("i", [40, 10, -5, 0])
    attn.apply_causal_mask(scores, 1)
    attn.softmax(scores)
    assert scores[2] == scores[3] == 0 and scores[0] + scores[1] == 256


def test_linear_softmax_is_softmax_fixed():
    attn = MicroAttention(8, 1)
    a, b = array("i", [100, 50, 0, -50]), array("i", [100, 50, 0, -50])
    attn.softmax(a)
    attn.softmax_fixed(b)
    assert a == b


@st.composite
def layer_case(draw):
    num_heads = draw(st.integers(1, 4))
    head_dim = draw(st.sampled_from([1, 3, 4, 8, 16]))
    n = draw(st.integers(0, 10))
    embed = num_heads * head_dim
    query = draw(st.lists(int8, min_size=embed, max_size=embed))
    keys = draw(st.lists(int8, min_size=n * embed, max_size=n * embed))
    values = draw(st.lists(int8, min_size=n * embed, max_size=n * embed))
    pos = draw(st.one_of(st.none(), st.integers(0, 12)))
    kind = draw(st.sampled_from(["linear", "exp2"]))
    return num_heads, head_dim, n, query, keys, values, pos, kind


def columns(flat, n, embed, first, width):
    return array("b", [flat[i * embed + first + j] for i in range(n) for j in range(width)])


@settings(max_examples=120, deadline=None)
@given(layer_case())
def test_forward_equals_the_single_head_methods(case):
    num_heads, head_dim, n, query, keys, values, pos, kind = case
    embed = num_heads * head_dim
    attn = MicroAttention(embed, num_heads, softmax=kind)
    output = array("i", [0] * embed)
    attn.forward(array("b", query), array("b", keys), array("b", values), output, n, pos)
    expected = []
    for h in range(num_heads):
        first = h * head_dim
        scores = array("i", [0] * n)
        head_out = array("i", [0] * head_dim)
        attn.compute_scores(
            array("b", query[first : first + head_dim]),
            columns(keys, n, embed, first, head_dim),
            scores,
        )
        if pos is not None:
            attn.apply_causal_mask(scores, pos)
        attn.softmax(scores)
        attn.weighted_sum(scores, columns(values, n, embed, first, head_dim), head_out)
        expected += list(head_out)
    assert list(output) == expected


def test_forward_over_a_kv_cache_decoding_token_by_token():
    embed, heads = 8, 2
    attn = MicroAttention(embed, heads, max_len=6)
    cache = KVCache(6, embed)
    output = array("i", [0] * embed)
    for t in range(6):
        row = array("b", [(t * 37 + j * 11) % 256 - 128 for j in range(embed)])
        cache.append(row, row)
        attn.forward(row, cache.keys, cache.values, output, len(cache), t)
        full = array("i", [0] * embed)
        attn.forward(
            row, cache.keys[: len(cache) * embed], cache.values[: len(cache) * embed], full
        )
        assert output == full  # masking after pos == t changes nothing: no future rows yet


def test_forward_refuses_bad_input():
    attn = MicroAttention(8, 2)
    q, kv, out = array("b", [1] * 8), array("b", [1] * 16), array("i", [0] * 8)
    for args, error in [
        ((q[:7], kv, kv, out), ValueError),
        ((q, kv[:15], kv, out), ValueError),
        ((q, kv, kv, out[:7]), ValueError),
        ((q, kv, kv, out, 3), ValueError),
        ((q, kv, kv, out, None, -1), ValueError),
        ((q, kv, kv, out, None, 1.0), TypeError),
    ]:
        before = bytes(out)
        with pytest.raises(error):
            attn.forward(*args)
        assert bytes(out) == before
    with pytest.raises(ValueError, match="softmax"):
        MicroAttention(8, 1, softmax="exp")
    with pytest.raises(ValueError, match="logit_shift"):
        MicroAttention(8, 1, softmax="exp2", logit_shift=13)


def test_kv_cache():
    cache = KVCache(3, 2)
    assert len(cache) == 0
    cache.append(array("b", [1, 2]), bytearray([3, 4]))
    cache.append(bytes([5, 6]), array("b", [-7, -8]))
    assert len(cache) == 2
    assert list(cache.keys[:4]) == [1, 2, 5, 6] and list(cache.values[:4]) == [3, 4, -7, -8]
    cache.append(array("b", [9, 9]), array("b", [9, 9]))
    with pytest.raises(ValueError, match="full"):
        cache.append(array("b", [0, 0]), array("b", [0, 0]))
    with pytest.raises(ValueError, match="key: expected 2"):
        cache.append(array("b", [0, 0, 0]), array("b", [0, 0]))
    with pytest.raises(ValueError, match="value: expected 2 int8 values, got 1"):
        cache.append(array("b", [0, 0]), array("b", [0]))
    cache.clear()
    assert len(cache) == 0


def test_kv_cache_ring_keeps_the_last_rows():
    cache = KVCache(3, 1, ring=True)
    for t in range(7):
        cache.append(array("b", [t]), array("b", [-t]))
    assert len(cache) == 3 and cache.count == 7
    assert [cache.keys[t % 3] for t in range(4, 7)] == [4, 5, 6]


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 12), st.data())
def test_streaming_linear_equals_forward_over_the_prefix(dim, data):
    steps = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=6))
    total = sum(steps)
    keys = data.draw(st.lists(int8, min_size=total * dim, max_size=total * dim))
    values = data.draw(st.lists(int8, min_size=total * dim, max_size=total * dim))
    query = array("b", data.draw(st.lists(int8, min_size=dim, max_size=dim)))
    stream, whole = LinearAttention(dim), LinearAttention(dim)
    stream.reset()
    seen = 0
    for rows in steps:
        chunk = slice(seen * dim, (seen + rows) * dim)
        stream.update(array("b", keys[chunk]), array("b", values[chunk]))
        seen += rows
        got, want = array("i", [0] * dim), array("i", [0] * dim)
        stream.attend(query, got)
        whole.forward(
            query, array("b", keys[: seen * dim]), array("b", values[: seen * dim]), want
        )
        assert got == want


def test_streaming_linear_halves_its_sums_before_they_overflow():
    dim = 4
    attn = LinearAttention(dim)
    row = array("b", [127] * dim)
    attn.update(row, row)
    context, key_sum = attn.sums[0] + attn.sums[2 * dim] * 65536, attn.sums[dim]
    assert (context, key_sum) == (4 * 128 * 127, 128)
    # Pretend a very long context of that row: the high words just under the limit.
    rows = (0x0FFFFFFE * 65536) // context
    for i in range(dim):
        for offset, total in ((0, context * rows), (dim, key_sum * rows)):
            attn.sums[offset + i] = total & 0xFFFF
            attn.sums[2 * dim + offset + i] = total >> 16
    for _ in range(4):
        attn.update(row, row)
    assert attn.halvings == 1
    value = attn.sums[0] + attn.sums[2 * dim] * 65536
    assert abs(value * 2 - context * (rows + 4)) <= 2  # halved, floor
    output, one_row = array("i", [0] * dim), array("i", [0] * dim)
    attn.attend(row, output)
    LinearAttention(dim).forward(row, row, row, one_row)
    assert output == one_row  # every row is the same: the ratio survives the halving
