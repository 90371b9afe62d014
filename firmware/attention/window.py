"""SlidingWindowAttention: attention over the last window_size positions of a ring buffer."""

from array import array

from micropython import const

from . import _check, _kernels, _memory

_SHIFT = const(3)  # the reference scales window scores by >> 3 whatever the head size
# The output, the inputs, then the scratch: the query (int32) and the scores.
_QUERY = _memory.SCRATCH
_SCORES = _memory.SCRATCH + 1
_FORWARD = _check.kinds(
    _memory.INT32, _memory.INT8, _memory.INT8, _memory.INT8, _memory.INT32, _memory.INT32
)
_FORWARD_NAMES = ("output", "query", "keys", "values")


class SlidingWindowAttention:
    """Attention over a ring buffer of window_size rows of head_dim int8 keys and values.

    Position i lives in row i % window_size; with cache_len positions written,
    the last min(cache_len, window_size) of them are attended to.
    """

    def __init__(self, window_size, head_dim):
        self._window_size = _check.dim("window_size", window_size)
        self._head_dim = _check.dim("head_dim", head_dim)
        self._frame = _check.frame(
            array("i", bytes(4 * head_dim)), array("i", bytes(4 * window_size))
        )

    # Read-only: the scratch buffers are sized by them.
    window_size = property(lambda self: self._window_size)
    head_dim = property(lambda self: self._head_dim)

    def forward(self, query, keys, values, cache_len, output):
        """output[0:head_dim] = attention of query over the window, as int32.

        query: head_dim int8; keys, values: ring of window_size rows of head_dim int8
        (at least the rows in use); output: int32, len >= head_dim, apart from the inputs.
        """
        head_dim = self._head_dim
        if cache_len.__class__ is not _check.INT:
            raise TypeError("cache_len: expected an int, got %s" % type(cache_len).__name__)
        if cache_len < 0:
            raise ValueError("cache_len: expected >= 0, got %d" % cache_len)
        frame = self._frame
        status = _memory.measure(output, query, keys, values, _FORWARD, frame)
        if status:
            _check.refuse(status, _FORWARD_NAMES, _FORWARD, frame, output, query, keys, values)
        facts = frame[1]
        n = min(cache_len, self._window_size)
        if not 0 < head_dim <= facts[4] or not 0 <= n <= facts[5]:  # scratch: query, scores
            _check.changed()
        if facts[1] < head_dim:
            _check.short("query", facts[1], head_dim)
        if facts[2] < n * head_dim:
            _check.short("keys", facts[2], n * head_dim)
        if facts[3] < n * head_dim:
            _check.short("values", facts[3], n * head_dim)
        if facts[0] < head_dim:
            _check.short("output", facts[0], head_dim, "int32 items")
        scores = frame[_SCORES]
        # Rows are visited in ring order, not in time order: max, sums and the
        # weighted sum do not depend on the order, so the result is the same.
        _kernels.dot_rows(keys, frame[_QUERY], scores, n, head_dim, head_dim, 0, _SHIFT, query)
        _kernels.softmax_q8(scores, n)
        _kernels.weighted_rows(values, output, scores, n, head_dim, head_dim, 0)
