"""The reference's own three tests, on the package."""

from array import array

from attention import LinearAttention, MicroAttention


def test_micro_attention():
    attn = MicroAttention(64, 4)
    query = array("b", [10] * 16)
    keys = array("b", [10] * 16 + [5] * 16)
    scores = array("i", [0, 0])
    attn.compute_scores(query, keys, scores)
    assert scores[0] > scores[1]


def test_softmax_fixed():
    attn = MicroAttention(64, 4)
    scores = array("i", [100, 50, 0, -50])
    attn.softmax_fixed(scores)
    assert abs(sum(scores) - 256) < 10
    assert scores[0] > scores[1] > scores[2] > scores[3]


def test_linear_attention():
    attn = LinearAttention(16)
    output = array("i", [0] * 16)
    attn.forward(array("b", [10] * 16), array("b", [10] * 16), array("b", [5] * 16), output)
    assert any(output)
