"""Long inputs, slow through the shim: LinearAttention over contexts longer than one
internal block (one kernel call adds at most 65536 // feature_dim rows, and the sums must
stay exact across calls), and softmax_exp2 past 32767 scores. The expected values come
from host_tests/model.py or by hand; like test_boundaries.py, the linear tests read the
state, sums ([C low | K low | C high | K high], value = high * 65536 + low)."""

from array import array

import model
import pytest
from attention import LinearAttention, MicroAttention
from test_boundaries import extreme_rows, get_sums


@pytest.mark.parametrize("n", [1025, 2048])
def test_linear_forward_across_row_blocks(n):
    dim = 64
    query = extreme_rows(dim, 1, 1)
    keys, values = extreme_rows(dim, n, 2), extreme_rows(dim, n, 3)
    output = array("i", bytes(4 * dim))
    attn = LinearAttention(dim)
    attn.forward(query, keys, values, output)
    sums = model.linear_sums(model.rows(list(keys), dim), model.rows(list(values), dim), dim)
    assert get_sums(attn) == sums  # the state, see the module docstring
    assert list(output) == model.linear_from_sums(list(query), *sums)[0]


@pytest.mark.parametrize("dim, n", [(64, 3073), (3, 21846)])
def test_linear_forward_of_the_largest_rows_across_blocks(dim, n):
    # keys 127 and values -128: every context low word falls as fast as it can,
    # -2**20 a row at feature_dim 64. A block holds 1024 rows there; one of more than
    # 2048 rows would leave int32. At feature_dim 3 blocks are 21845 rows (65536 is no
    # multiple of 3).
    keys, values = array("b", [127] * (dim * n)), array("b", [-128] * (dim * n))
    query = array("b", ([127, -3, 40] * dim)[:dim])
    output = array("i", bytes(4 * dim))
    attn = LinearAttention(dim)
    attn.forward(query, keys, values, output)
    # By hand: S_t = dim * 128; C_i = n * S_t * -128; K_j = n * 128.
    sums = [n * dim * 128 * -128] * dim, [n * 128] * dim
    assert get_sums(attn) == sums
    assert list(output) == model.linear_from_sums(list(query), *sums)[0]


# ------------------------------------------------ softmax_exp2 past 32767 scores


def test_exp2_shifts_every_e_right_from_32768_scores():
    # By hand, from the arithmetic documented in softmax_exp2 (logit_shift 0): for
    # d = 11, z = 11 * 23637 = 260007, whose integer part 260007 >> 14 = 15 and fraction
    # 14247 != 0, so e = (a value in 32768..65535) >> 15 = 1; for d = 0, e = 65536.
    # From n = 32768 on, every e is shifted right once more: 32768 and 0, sum 32768,
    # weights (32768 * 256 + 16384) // 32768 = 256 and 16384 // 32768 = 0. (Without
    # that shift: e = 65536 and 1, sum 98303, and the first weight would be 171.)
    n = 32768
    scores = array("i", [0] + [-11] * (n - 1))
    MicroAttention(4, 1, softmax="exp2", logit_shift=0).softmax(scores)
    assert scores[0] == 256
    assert scores[1:] == array("i", bytes(4 * (n - 1)))
    # One score fewer, no extra shift: e = 65536 and 1, sum 65536 + 32766 = 98302.
    scores = array("i", [0] + [-11] * (n - 2))
    MicroAttention(4, 1, softmax="exp2", logit_shift=0).softmax(scores)
    assert scores[0] == (65536 * 256 + 49151) // 98302
