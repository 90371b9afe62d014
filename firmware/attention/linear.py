"""LinearAttention: kernelised attention whose state does not grow with the context."""

from array import array

from micropython import const

from . import _check, _kernels, _memory

_ROW_BUDGET = const(65536)  # rows * dim per kernel call: keeps the low words inside int32
_HALF = const(32768)
# What measure() is handed: output, query, keys, values (where forward() has them), then
# the scratch, the sums (int32).
_SUMS = _memory.SCRATCH
_UPDATE = _check.kinds(0, 0, _memory.INT8, _memory.INT8, _memory.INT32)
_ATTEND = _check.kinds(_memory.INT32, _memory.INT8, 0, 0, _memory.INT32)
_RESET = _check.kinds(0, 0, 0, 0, _memory.INT32)
_FORWARD = _check.kinds(_memory.INT32, _memory.INT8, _memory.INT8, _memory.INT8, _memory.INT32)
_FORWARD_NAMES = ("output", "query", "keys", "values")
# phi of an int8 by its byte u (two's complement), for _kernels.linear_rows.
_PHI = bytes(u + 1 if u < 128 else 1 for u in range(256))


def _phi(x):
    return (x if x > 0 else 0) + 1


class LinearAttention:
    """Linear attention with the feature map phi(x) = max(x, 0) + 1 (ELU + 1 for int8).

    The state is two running sums over the rows seen: the context
    C[i] = sum over rows t of S_t * v_t[i], with S_t = sum(phi(k_t)), and the key
    sums K[j] = sum over rows t of phi(k_t[j]). forward() resets the state, adds
    n rows and reads it out; reset(), update() and attend() do the same a few
    rows at a time (streaming), in O(feature_dim) memory whatever the context.

    The output is the reference's
      out[i] = trunc(((phi(q_i) * C[i]) >> 8 << 8) / sum(phi(q_j) * K[j]))
    with C and K exact, the same bits as the reference wherever its int32 arithmetic
    does not overflow. Where it would (long contexts, where the reference wraps), the
    formula runs on the exact sums with the denominator cut to its top 30 bits (see
    _kernels.linear_finish_scaled): each output is then the exact value or one step
    further from zero, never more, for every feature_dim and however long the
    context, and exact while the denominator is below 2**30. (That holds for every
    state update() leaves, where |output| <= 128 * phi(q_i); a state written into
    sums by hand needs |output| < 2**29 for it.) Past about
    2**44 / (16384 * feature_dim) rows every sum is halved (floor), halvings counts it:
    rows seen before a halving then weigh half as much as the rows after it, and the
    bound holds for the halved sums.
    """

    def __init__(self, feature_dim):
        self._feature_dim = _check.dim("feature_dim", feature_dim)
        # Each sum is kept as high * 65536 + low: [C low | K low | C high | K high].
        self._frame = _check.frame(array("i", bytes(16 * feature_dim)))
        self._block = _ROW_BUDGET // feature_dim
        self._halvings = 0

    # Read-only: the state is sized by feature_dim.
    feature_dim = property(lambda self: self._feature_dim)
    halvings = property(lambda self: self._halvings)  # times the sums were halved
    # The state itself: array('i') of 4 * feature_dim, [C low | K low | C high | K high],
    # each sum high * 65536 + low (low in 0..65535). Read it to save a stream, write it
    # back to resume one; any values are safe, the next update() or attend() reads them.
    sums = property(lambda self: self._frame[_SUMS])

    def feature_map(self, x):
        """phi(x) = max(x, 0) + 1 for an int8 x."""
        if type(x) is not int:
            raise TypeError("x: expected an int, got %s" % type(x).__name__)
        if x < -128 or x > 127:
            raise ValueError("x: expected -128..127, got %d" % x)
        return _phi(x)

    def reset(self):
        """Forget every row seen."""
        frame = self._frame
        status = _memory.measure(None, None, None, None, _RESET, frame)
        if status:
            _check.refuse(status, _FORWARD_NAMES, _RESET, frame)
        dim = self._feature_dim
        if not 0 < dim or frame[1][4] < 4 * dim:
            _check.changed()
        _kernels.fill(frame[_SUMS], 0, 4 * dim, 0)
        self._halvings = 0

    def update(self, keys, values, n=None):
        """Add n rows of keys and values (rows of feature_dim int8) to the state.

        n defaults to the rows in keys, which must then equal the rows in values.
        """
        frame = self._frame
        status = _memory.measure(None, None, keys, values, _UPDATE, frame)
        if status:
            _check.refuse(status, _FORWARD_NAMES, _UPDATE, frame, None, None, keys, values)
        self._add(keys, values, self._rows(n))

    def attend(self, query, output):
        """output[0:feature_dim] = the attention of query (feature_dim int8) over the state.

        output: int32, len >= feature_dim, apart from query.
        """
        frame = self._frame
        status = _memory.measure(output, query, None, None, _ATTEND, frame)
        if status:
            _check.refuse(status, _FORWARD_NAMES, _ATTEND, frame, output, query)
        self._check_sizes()
        self._finish(query, output)

    def forward(self, query, keys, values, output, n=None):
        """Attention of query over n rows of keys and values; output: int32, len >= feature_dim.

        n defaults to the rows in keys, which must then equal the rows in values.
        output is apart from the inputs. Equivalent to reset(), update(keys, values, n),
        attend(query, output).
        """
        frame = self._frame
        status = _memory.measure(output, query, keys, values, _FORWARD, frame)
        if status:
            _check.refuse(status, _FORWARD_NAMES, _FORWARD, frame, output, query, keys, values)
        n = self._rows(n)
        self._check_sizes()
        self.reset()
        self._add(keys, values, n)
        self._finish(query, output)

    def _rows(self, n):
        """n, from the measured sizes of keys and values (facts[2], facts[3]), and the sums'."""
        dim = self._feature_dim
        facts = self._frame[1]
        if not 0 < dim or facts[4] < 4 * dim or self._block < 1:
            _check.changed()
        return _check.pair(n, facts[2], facts[3], dim)

    def _check_sizes(self):
        """The measured sizes of output and query (facts[0], facts[1]), and the sums'."""
        dim = self._feature_dim
        facts = self._frame[1]
        if not 0 < dim or facts[4] < 4 * dim:
            _check.changed()
        if facts[1] < dim:
            _check.short("query", facts[1], dim)
        if facts[0] < dim:
            _check.short("output", facts[0], dim, "int32 items")

    def _add(self, keys, values, n):
        sums = self._frame[_SUMS]
        dim = self._feature_dim
        first = 0
        while first < n:
            count = min(self._block, n - first)
            _kernels.linear_rows(keys, sums, values, first, count, dim, _PHI)
            if _kernels.carry16(sums, 2 * dim):
                self._halve()
            first += count

    def _halve(self):
        # Halve every sum (floor), high and low words together: a cold path,
        # reached after about 2**44 / (16384 * feature_dim) rows.
        sums = self._frame[_SUMS]
        count = 2 * self._feature_dim
        for i in range(count):
            high = sums[count + i]
            sums[i] = (high & 1) * _HALF + (sums[i] >> 1)
            sums[count + i] = high >> 1
        self._halvings += 1

    def _finish(self, query, output):
        sums = self._frame[_SUMS]
        if not _kernels.linear_finish(output, query, sums, self._feature_dim):
            _kernels.linear_finish_scaled(output, query, sums, self._feature_dim)
