"""LinearAttention over contexts longer than one internal block: one kernel call adds at
most 65536 // feature_dim rows, and the sums must stay exact across calls. The expected
sums come from host_tests/model.py or by hand; like test_boundaries.py, these read the
private state _sums ([C low | K low | C high | K high], value = high * 65536 + low)."""

from array import array

import model
import pytest
from attention import LinearAttention
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
    assert get_sums(attn) == sums  # private state, see the module docstring
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
