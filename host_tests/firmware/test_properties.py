"""Random cases: the package (through the shim) against the plain model of the reference."""

from array import array

import model
from attention import LinearAttention, MicroAttention, SlidingWindowAttention
from hypothesis import assume, given, settings
from hypothesis import strategies as st

int8 = st.integers(-128, 127)
extreme = st.sampled_from([-128, -127, -1, 0, 1, 126, 127])
values8 = st.one_of(int8, extreme)
head_dims = st.sampled_from([1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 64])


@st.composite
def attention_case(draw, max_rows=12):
    num_heads = draw(st.integers(1, 4))
    head_dim = draw(head_dims)
    n = draw(st.integers(0, max_rows))
    query = draw(st.lists(values8, min_size=head_dim, max_size=head_dim))
    keys = draw(st.lists(values8, min_size=n * head_dim, max_size=n * head_dim))
    values = draw(st.lists(values8, min_size=n * head_dim, max_size=n * head_dim))
    return num_heads, head_dim, n, query, keys, values


@settings(max_examples=150, deadline=None)
@given(attention_case(), st.integers(0, 14))
def test_micro_pipeline_matches_reference(case, pos):
    num_heads, head_dim, n, query, keys, values = case
    attn = MicroAttention(num_heads * head_dim, num_heads)
    scores = array("i", [0] * n)
    attn.compute_scores(array("b", query), array("b", keys), scores)
    expected, overflow = model.compute_scores(query, model.rows(keys, head_dim), head_dim)
    assert not overflow
    assert list(scores) == expected

    attn.apply_causal_mask(scores, pos)
    expected = model.apply_causal_mask(expected, pos)
    assert list(scores) == expected

    attn.softmax_fixed(scores)
    expected, overflow = model.softmax_fixed(expected)
    assert not overflow
    assert list(scores) == expected

    output = array("i", [0] * head_dim)
    attn.weighted_sum(scores, array("b", values), output)
    expected, overflow = model.weighted_sum(expected, model.rows(values, head_dim), head_dim)
    assert not overflow
    assert list(output) == expected


int32 = st.integers(model.I32_MIN, model.I32_MAX)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(int32, st.integers(-2000, 2000)), max_size=40))
def test_softmax_matches_reference_on_any_int32(scores):
    expected, overflow = model.softmax_fixed(scores)
    assume(not overflow)
    buf = array("i", scores)
    MicroAttention(8, 1).softmax_fixed(buf)
    assert list(buf) == expected


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 16), st.data())
def test_weighted_sum_wraps_like_the_reference(head_dim, data):
    n = data.draw(st.integers(0, 6))
    weights = data.draw(st.lists(int32, min_size=n, max_size=n))
    values = data.draw(st.lists(values8, min_size=n * head_dim, max_size=n * head_dim))
    output = array("i", [0] * head_dim)
    MicroAttention(head_dim, 1).weighted_sum(array("i", weights), array("b", values), output)
    # Where the reference overflows, the package wraps as a Rust release build does.
    expected, _ = model.weighted_sum(weights, model.rows(values, head_dim), head_dim)
    assert list(output) == expected


@st.composite
def linear_case(draw, max_rows=8):
    dim = draw(st.integers(1, 24))
    n = draw(st.integers(0, max_rows))
    query = draw(st.lists(values8, min_size=dim, max_size=dim))
    keys = draw(st.lists(values8, min_size=n * dim, max_size=n * dim))
    values = draw(st.lists(values8, min_size=n * dim, max_size=n * dim))
    return dim, query, keys, values


@settings(max_examples=150, deadline=None)
@given(linear_case())
def test_linear_matches_reference(case):
    dim, query, keys, values = case
    output = array("i", [0] * dim)
    LinearAttention(dim).forward(array("b", query), array("b", keys), array("b", values), output)
    key_rows, value_rows = model.rows(keys, dim), model.rows(values, dim)
    expected, overflow = model.linear_forward(query, key_rows, value_rows)
    assert list(output) == model.linear_documented(query, key_rows, value_rows)
    if not overflow:
        assert list(output) == expected


@st.composite
def window_case(draw):
    window_size = draw(st.integers(1, 10))
    head_dim = draw(head_dims)
    cache_len = draw(st.integers(0, 3 * window_size))
    query = draw(st.lists(values8, min_size=head_dim, max_size=head_dim))
    size = window_size * head_dim
    keys = draw(st.lists(values8, min_size=size, max_size=size))
    values = draw(st.lists(values8, min_size=size, max_size=size))
    return window_size, head_dim, cache_len, query, keys, values


@settings(max_examples=150, deadline=None)
@given(window_case())
def test_window_matches_reference(case):
    window_size, head_dim, cache_len, query, keys, values = case
    output = array("i", [0] * head_dim)
    attn = SlidingWindowAttention(window_size, head_dim)
    attn.forward(array("b", query), array("b", keys), array("b", values), cache_len, output)
    expected, overflow = model.window_forward(
        query,
        model.rows(keys, head_dim),
        model.rows(values, head_dim),
        cache_len,
        window_size,
        head_dim,
    )
    assert not overflow
    assert list(output) == expected
