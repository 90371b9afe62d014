"""Edge cases: empty and single rows, positions past the end, ties, extremes, head_dim 1,
long contexts where the reference's int32 arithmetic overflows."""

from array import array

import model
import pytest
from attention import LinearAttention, MicroAttention, SlidingWindowAttention
from attention.micro import MASKED


def pipeline(attn, query, keys, values, pos=None):
    head_dim = attn.head_dim
    n = len(keys) // head_dim
    scores = array("i", [0] * n)
    attn.compute_scores(array("b", query), array("b", keys), scores)
    if pos is not None:
        attn.apply_causal_mask(scores, pos)
    attn.softmax_fixed(scores)
    output = array("i", [7] * head_dim)
    attn.weighted_sum(scores, array("b", values), output)
    return list(scores), list(output)


def reference_pipeline(head_dim, query, keys, values, pos=None):
    scores, _ = model.compute_scores(query, model.rows(keys, head_dim), head_dim)
    if pos is not None:
        scores = model.apply_causal_mask(scores, pos)
    weights, _ = model.softmax_fixed(scores)
    output, _ = model.weighted_sum(weights, model.rows(values, head_dim), head_dim)
    return weights, output


def test_no_rows_gives_zero_output():
    attn = MicroAttention(8, 2)
    weights, output = pipeline(attn, [1, 2, 3, 4], [], [])
    assert weights == [] and output == [0, 0, 0, 0]


def test_one_row_gets_all_the_weight():
    attn = MicroAttention(4, 1)
    weights, output = pipeline(attn, [5, -5, 5, -5], [1, 2, 3, 4], [100, -100, 50, -128])
    assert weights == [256]
    assert output == [100, -100, 50, -128]


def test_all_equal_scores_share_the_weight():
    weights, _ = pipeline(MicroAttention(4, 1), [3] * 4, [2] * 4 * 5, [0] * 4 * 5)
    assert weights == [51] * 5  # 256 * 256 // 1280


@pytest.mark.parametrize("pos", [0, 2, 5, 6, 100])
def test_mask_positions(pos):
    query, keys, values = [9] * 4, list(range(-12, 12)), list(range(24))
    assert pipeline(MicroAttention(4, 1), query, keys, values, pos) == reference_pipeline(
        4, query, keys, values, pos
    )


def test_mask_past_the_end_changes_nothing():
    scores = array("i", [1, 2, 3])
    MicroAttention(4, 1).apply_causal_mask(scores, 10)
    assert list(scores) == [1, 2, 3]


def test_mask_value_is_half_of_int32_min():
    scores = array("i", [1, 2, 3])
    MicroAttention(4, 1).apply_causal_mask(scores, 0)
    assert list(scores) == [1, MASKED, MASKED] and MASKED == model.I32_MIN // 2


@pytest.mark.parametrize("fill", [-128, 127])
def test_extreme_values(fill):
    head_dim = 64
    query, keys, values = [fill] * head_dim, [-128] * head_dim * 3, [fill] * head_dim * 3
    got = pipeline(MicroAttention(head_dim, 1), query, keys, values)
    assert got == reference_pipeline(head_dim, query, keys, values)


def test_head_dim_one():
    query, keys, values = [-128], [-128, 127, 0, 1], [127, -128, 5, 6]
    got = pipeline(MicroAttention(3, 3), query, keys, values)
    assert got == reference_pipeline(1, query, keys, values)


def test_largest_head_dim_dot_product_is_exact():
    attn = MicroAttention(32768, 1)
    scores = array("i", [0, 0])
    keys = array("b", [-128] * 32768 + [127] * 32768)
    attn.compute_scores(array("b", [-128] * 32768), keys, scores)
    assert list(scores) == [(32768 * 16384) >> 3, (32768 * -128 * 127) >> 3]


def test_softmax_without_overflow_where_the_reference_wraps():
    scores = array("i", [model.I32_MAX, model.I32_MIN, 0])
    MicroAttention(4, 1).softmax_fixed(scores)
    assert list(scores) == [254, 0, 0]  # x is exact: the far scores get e = 1, not 256


def test_window_partly_filled_ring():
    query, keys, values = [1, 2], [10, 20, 30, 40], [1, 2, 3, 4]
    output = array("i", [0, 0])
    SlidingWindowAttention(4, 2).forward(
        array("b", query), array("b", keys), array("b", values), 2, output
    )
    expected, _ = model.window_forward(query, [[10, 20], [30, 40]], [[1, 2], [3, 4]], 2, 4, 2)
    assert list(output) == expected


def test_window_of_one():
    output = array("i", [0] * 3)
    attn = SlidingWindowAttention(1, 3)
    attn.forward(array("b", [1, 2, 3]), array("b", [4, 5, 6]), array("b", [-7, 8, 127]), 9, output)
    assert list(output) == [-7, 8, 127]


def test_linear_long_context_where_the_reference_overflows():
    dim, n = 16, 1200
    query = [127] * dim
    keys = [127 if (t + j) % 3 else -128 for t in range(n) for j in range(dim)]
    values = [127 - (t + j) % 5 for t in range(n) for j in range(dim)]
    key_rows, value_rows = model.rows(keys, dim), model.rows(values, dim)
    _, overflow = model.linear_forward(query, key_rows, value_rows)
    assert overflow
    exact, _ = model.linear_forward(query, key_rows, value_rows, wrap=False)
    output = array("i", [0] * dim)
    LinearAttention(dim).forward(array("b", query), array("b", keys), array("b", values), output)
    assert list(output) == model.linear_documented(query, key_rows, value_rows)
    assert all(abs(o - e) <= 1 <= abs(o) - abs(e) + 1 for o, e in zip(output, exact))  # one step


def test_linear_no_rows():
    output = array("i", [5] * 4)
    LinearAttention(4).forward(array("b", [1] * 4), array("b"), array("b"), output)
    assert list(output) == [0] * 4


def test_linear_feature_map():
    attn = LinearAttention(4)
    assert [attn.feature_map(x) for x in (-128, -1, 0, 1, 127)] == [1, 1, 1, 2, 128]


@pytest.mark.parametrize("kind", ["bytearray", "bytes", "memoryview"])
def test_byte_buffers_read_as_twos_complement(kind):
    raw = bytes([246, 10, 128, 127])  # -10, 10, -128, 127
    make = {"bytearray": bytearray, "bytes": bytes, "memoryview": memoryview}[kind]
    scores = array("i", [0])
    MicroAttention(4, 1).compute_scores(make(raw), make(raw), scores)
    assert list(scores) == [(100 + 100 + 16384 + 16129) >> 1]
