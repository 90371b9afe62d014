"""Bad input is refused before any kernel runs, with the argument named, and no buffer changes."""

from array import array

import pytest
from attention import LinearAttention, MicroAttention, SlidingWindowAttention


def snapshot(*buffers):
    return [bytes(b) if b is not None else None for b in buffers]


def refused(error, match, call, *buffers):
    before = snapshot(*buffers)
    with pytest.raises(error, match=match):
        call()
    assert snapshot(*buffers) == before


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((64, 0), ValueError, "num_heads"),
        ((64, -2), ValueError, "num_heads"),
        ((64, 3), ValueError, "num_heads"),
        ((0, 1), ValueError, "embed_dim"),
        ((64, 2.0), TypeError, "num_heads"),
        ((1 << 20, 1), ValueError, "embed_dim"),
    ],
)
def test_micro_configuration(args, error, match):
    with pytest.raises(error, match=match):
        MicroAttention(*args)


@pytest.mark.parametrize("args", [(0, 4), (-1, 4), (4, 0)])
def test_window_configuration(args):
    with pytest.raises(ValueError, match="window_size|head_dim"):
        SlidingWindowAttention(*args)


def test_linear_configuration():
    with pytest.raises(ValueError, match="feature_dim"):
        LinearAttention(0)


def setup_micro():
    attn = MicroAttention(8, 2)  # head_dim 4
    query = array("b", [1, 2, 3, 4])
    keys = array("b", range(12))  # 3 rows
    scores = array("i", [9, 9, 9])
    return attn, query, keys, scores


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda q, k, s: (q[:3], k, s, None), ValueError, "query: expected at least 4"),
        (lambda q, k, s: (q, k[:11], s, None), ValueError, "keys: length 11 .* row width 4"),
        (lambda q, k, s: (q, k, s[:2], None), ValueError, "scores: expected at least 3"),
        (lambda q, k, s: (q, k, s, 4), ValueError, "n: expected 0..3"),
        (lambda q, k, s: (q, k, s, -1), ValueError, "n: expected 0..3"),
        (lambda q, k, s: (q, k, s, 1.5), TypeError, "n"),
        (lambda q, k, s: ([1, 2, 3, 4], k, s, None), TypeError, "query"),
        (lambda q, k, s: (q, None, s, None), TypeError, "keys"),
        (lambda q, k, s: (q, k, array("l", [0] * 3), None), TypeError, "scores"),
        (lambda q, k, s: (q, k, array("h", [0] * 3), None), TypeError, "scores"),
        (lambda q, k, s: (q, k, array("f", [0] * 3), None), TypeError, "scores"),
        (lambda q, k, s: (q, k, bytearray(12), None), TypeError, "scores"),
        (lambda q, k, s: (array("h", [1] * 4), k, s, None), TypeError, "query"),
        (lambda q, k, s: (array("f", [1] * 4), k, s, None), TypeError, "query"),
    ],
)
def test_compute_scores_refuses(change, error, match):
    attn, query, keys, scores = setup_micro()
    args = change(query, keys, scores)
    refused(error, match, lambda: attn.compute_scores(*args), *args[:3])


def test_mask_and_softmax_refuse():
    attn, _, _, scores = setup_micro()
    refused(ValueError, "current_pos", lambda: attn.apply_causal_mask(scores, -1), scores)
    refused(TypeError, "current_pos", lambda: attn.apply_causal_mask(scores, None), scores)
    refused(ValueError, "n: expected 0..3", lambda: attn.apply_causal_mask(scores, 0, 4), scores)
    refused(ValueError, "n: expected 0..3", lambda: attn.softmax_fixed(scores, 4), scores)
    refused(TypeError, "scores", lambda: attn.softmax_fixed(array("b", [1, 2])))


def test_weighted_sum_refuses():
    attn, _, keys, weights = setup_micro()
    out = array("i", [0] * 4)
    refused(
        ValueError,
        "output: expected at least 4",
        lambda: attn.weighted_sum(weights, keys, out[:3]),
        weights,
        keys,
    )
    refused(
        ValueError,
        "values: length 10",
        lambda: attn.weighted_sum(weights, keys[:10], out),
        weights,
        keys,
        out,
    )
    refused(
        ValueError,
        "weights: expected at least 3 int32 items, got 2",
        lambda: attn.weighted_sum(weights[:2], keys, out, 3),
        weights,
        keys,
        out,
    )
    refused(
        TypeError,
        "output",
        lambda: attn.weighted_sum(weights, keys, array("l", [0] * 4)),
        weights,
        keys,
    )


def test_linear_refuses():
    attn = LinearAttention(4)
    q, k, v, out = (
        array("b", [1] * 4),
        array("b", [1] * 8),
        array("b", [1] * 8),
        array("i", [3] * 4),
    )
    refused(ValueError, "query", lambda: attn.forward(q[:3], k, v, out), q, k, v, out)
    refused(ValueError, "keys", lambda: attn.forward(q, k[:7], v, out), q, k, v, out)
    refused(ValueError, "values", lambda: attn.forward(q, k, v[:6], out, 2), q, k, v, out)
    refused(ValueError, "output", lambda: attn.forward(q, k, v, out[:3]), q, k, v)
    refused(TypeError, "output", lambda: attn.forward(q, k, v, array("l", [0] * 4)), q, k, v)
    refused(ValueError, "x: expected -128..127", lambda: attn.feature_map(128))
    refused(TypeError, "x", lambda: attn.feature_map("1"))


def test_window_refuses():
    attn = SlidingWindowAttention(3, 2)
    q, k, v, out = (
        array("b", [1] * 2),
        array("b", [1] * 6),
        array("b", [1] * 6),
        array("i", [3] * 2),
    )
    refused(ValueError, "cache_len", lambda: attn.forward(q, k, v, -1, out), q, k, v, out)
    refused(TypeError, "cache_len", lambda: attn.forward(q, k, v, 1.0, out), q, k, v, out)
    refused(
        ValueError,
        "keys: expected at least 6",
        lambda: attn.forward(q, k[:5], v, 5, out),
        q,
        k,
        v,
        out,
    )
    refused(
        ValueError,
        "values: expected at least 4",
        lambda: attn.forward(q, k, v[:3], 2, out),
        q,
        k,
        v,
        out,
    )
    refused(ValueError, "output", lambda: attn.forward(q, k, v, 2, out[:1]), q, k, v)
    refused(ValueError, "query", lambda: attn.forward(q[:1], k, v, 2, out), q, k, v, out)
