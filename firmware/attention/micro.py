"""MicroAttention: single-head scaled dot-product attention on int8 data."""

from array import array

from micropython import const

from . import _check, _kernels

MASKED = const(-1073741824)  # the reference's i32::MIN / 2, given to masked scores


def scale_shift(head_dim):
    """Right shift approximating 1/sqrt(head_dim), as the reference chooses it."""
    if head_dim >= 32:
        return 3
    if head_dim >= 16:
        return 2
    return 1


class MicroAttention:
    """Attention for one query over n rows of keys and values, one head at a time.

    head_dim = embed_dim // num_heads. Queries, keys and values are int8;
    keys and values are one contiguous buffer of n rows of head_dim (a KV cache).
    Scores are int32; softmax weights are Q8 (256 == 1.0).
    """

    def __init__(self, embed_dim, num_heads):
        _check.dim("embed_dim", embed_dim)
        if type(num_heads) is not int:
            raise TypeError("num_heads: expected an int")
        if num_heads <= 0 or embed_dim % num_heads:
            raise ValueError("num_heads: expected a positive divisor of embed_dim %d" % embed_dim)
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.scale_shift = scale_shift(self.head_dim)
        self._query = array("i", bytes(4 * embed_dim))  # the query, sign-extended

    def compute_scores(self, query, keys, scores, n=None):
        """scores[i] = dot(query, keys row i) >> scale_shift, for i < n.

        query: head_dim int8; keys: rows of head_dim int8; scores: int32, len >= n.
        n defaults to the number of rows in keys.
        """
        head_dim = self.head_dim
        _check.int8("query", query, head_dim)
        rows = _check.rows("keys", _check.int8("keys", keys, 0), head_dim)
        n = _check.count("n", n, rows)
        _check.int32("scores", scores, n)
        _kernels.load_int8(self._query, query, head_dim)
        _kernels.dot_rows(keys, self._query, scores, n, head_dim, head_dim, 0, self.scale_shift)

    def apply_causal_mask(self, scores, current_pos, n=None):
        """scores[i] = MASKED for current_pos < i < n (positions in the future)."""
        n = _check.count("n", n, _check.int32("scores", scores, 0))
        if type(current_pos) is not int:
            raise TypeError("current_pos: expected an int")
        if current_pos < 0:
            raise ValueError("current_pos: expected >= 0, got %d" % current_pos)
        if current_pos < n:
            _kernels.fill(scores, current_pos + 1, n, MASKED)

    def softmax_fixed(self, scores, n=None):
        """Linear fixed-point softmax of scores[0:n] in place, giving Q8 weights.

        e_i = max(256 + trunc(max(x_i, -512) / 2), 1) with x_i = scores[i] - max(scores);
        weight_i = e_i * 256 // sum(e).
        """
        n = _check.count("n", n, _check.int32("scores", scores, 0))
        _kernels.softmax_q8(scores, n)

    def weighted_sum(self, weights, values, output, n=None):
        """output[j] = sum(weights[i] * values row i [j] for i < n) >> 8, for j < head_dim.

        weights: int32 Q8; values: rows of head_dim int8; output: int32, len >= head_dim
        (items past head_dim are left as they are). n defaults to the number of
        weights or of value rows, whichever is smaller.
        """
        head_dim = self.head_dim
        size = _check.int32("weights", weights, 0)
        rows = _check.rows("values", _check.int8("values", values, 0), head_dim)
        n = _check.count("n", n, min(size, rows))
        _check.int32("output", output, head_dim)
        _kernels.weighted_rows(values, output, weights, n, head_dim, head_dim, 0)
