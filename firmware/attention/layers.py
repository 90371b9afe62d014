"""The int8 layers around the attention, checked: projection, embedding, RMSNorm, activations.

Int8 activations are bytes of two's complement (array('b'), bytearray, ...), int32
ones array('i'), as everywhere in the package. A requantisation scale is a pair
(m, s), 0 <= m < 2**15 and 17 <= s <= 40, the real multiplier m / 2**s; results
are rounded half up and saturated to -128..127 (see _layers.py for the exact
integer steps). Every method checks its buffers before a kernel runs and
allocates nothing.
"""

from array import array

from micropython import const

from . import _check, _kernels, _memory
from ._layers import add8, clamp8, gather8, lookup8, relu8, requant8, requant32, rms_norm8
from ._fixed import MAX_MULT, MAX_SHIFT, MIN_SHIFT, norm_constants
from ._memory import INT8 as _INT8
from ._memory import INT32 as _INT32

MAX_NORM_DIM = const(16384)

_ONE = _check.kinds(_INT8)
_KEPT = _check.kinds(0, _INT8)  # a buffer a layer keeps: only read
_ONE_NAMES = ("buf",)
_MAP = _check.kinds(_INT8, _INT8)
_SCALES = _check.kinds(0, _INT32)
# Linear: out, x, weights, scales, then its scratch: x widened to int32, the sums.
_LINEAR8 = _check.kinds(_INT8, _INT8, _INT8, _INT32, _INT32, _INT32)
_LINEAR32 = _check.kinds(_INT32, _INT8, _INT8, _INT32, _INT32, _INT32)
_ACCUMULATE = _check.kinds(0, _INT8, _INT8, _INT32, _INT32, _INT32)
_LINEAR_NAMES = ("out", "x", "weights", "scales")
_X = _memory.SCRATCH
_ACC = _memory.SCRATCH + 1
_NARROW = _check.kinds(_INT8, _INT32)
# The module-level functions' frame: shared, so they are for one thread at a time.
_frame = _check.frame()


def _measure(kinds, names, out, a=None, b=None):
    status = _memory.measure(out, a, b, None, kinds, _frame)
    if status:
        _check.refuse(status, names, kinds, _frame, out, a, b)
    return _frame[1]


def check_scales(name, scales, rows):
    """Raise unless scales is array('i') of rows (m, s) pairs within the limits above."""
    status = _memory.measure(None, scales, None, None, _SCALES, _frame)
    if status:
        raise TypeError("%s: expected array('i') of (m, s) pairs" % name)
    if _frame[1][1] != 2 * rows:
        raise ValueError(
            "%s: expected %d int32 items (m, s per row), got %d" % (name, 2 * rows, len(scales))
        )
    for i in range(rows):
        m = scales[2 * i]
        s = scales[2 * i + 1]
        if not 0 <= m <= MAX_MULT or not MIN_SHIFT <= s <= MAX_SHIFT:
            raise ValueError(
                "%s: row %d has m=%d s=%d; expected m 0..%d, s %d..%d"
                % (name, i, m, s, MAX_MULT, MIN_SHIFT, MAX_SHIFT)
            )


class Linear:
    """out = requant(weights @ x): int8 weights (rows, cols) row-major, per-row scales.

    weights: rows * cols int8; scales: array('i') of 2 * rows, (m, s) of row i at
    2i, 2i + 1. The int32 sums are exact; forward() rounds and saturates them to
    int8, forward32() only rounds (int32 out). Keeps cols int32 and rows int32 of
    scratch.
    """

    def __init__(self, weights, scales, rows, cols):
        self._rows = _check.dim("rows", rows)
        self._cols = _check.dim("cols", cols)
        facts = _measure(_KEPT, ("", "weights"), None, weights)
        if facts[1] != rows * cols:
            raise ValueError("weights: expected %d int8 values, got %d" % (rows * cols, facts[1]))
        check_scales("scales", scales, rows)
        self._weights = weights
        self._scales = scales
        self._frame = _check.frame(array("i", bytes(4 * cols)), array("i", bytes(4 * rows)))

    rows = property(lambda self: self._rows)
    cols = property(lambda self: self._cols)
    weights = property(lambda self: self._weights)
    scales = property(lambda self: self._scales)

    def _check(self, kinds, x, out, unit):
        """x, out (when kinds looks at it), the weights and scales kept and the scratch, as
        they are now: the caller may have resized the arrays it gave in place."""
        frame = self._frame
        weights = self._weights
        scales = self._scales
        status = _memory.measure(out, x, weights, scales, kinds, frame)
        if status:
            _check.refuse(status, _LINEAR_NAMES, kinds, frame, out, x, weights, scales)
        facts = frame[1]
        rows = self._rows
        cols = self._cols
        if not 0 < cols <= facts[4] or not 0 < rows <= facts[5]:
            _check.changed()
        if facts[1] < cols:
            _check.short("x", facts[1], cols)
        if kinds & 3 and facts[0] < rows:
            _check.short("out", facts[0], rows, unit)
        if facts[2] != rows * cols:
            raise ValueError("weights: resized to %d int8 values" % facts[2])
        if facts[3] != 2 * rows:
            raise ValueError("scales: resized to %d int32 items" % facts[3])
        return weights, scales

    def _accumulate(self, weights, x):
        cols = self._cols
        frame = self._frame
        acc = frame[_ACC]
        _kernels.dot_rows(weights, frame[_X], acc, self._rows, cols, cols, 0, 0, x)
        return acc

    def accumulate(self, x):
        """The int32 sums weights @ x, in the scratch buffer returned (rows items)."""
        weights, _ = self._check(_ACCUMULATE, x, None, None)
        return self._accumulate(weights, x)

    def forward(self, x, out):
        """out[0:rows] = saturate8(round(sum_j w[i, j] * x[j] * m_i / 2**s_i)): int8 x, int8 out."""
        weights, scales = self._check(_LINEAR8, x, out, "int8 values")
        requant8(self._accumulate(weights, x), out, scales, self._rows, 2)

    def forward32(self, x, out):
        """out[0:rows] = round(sum_j w[i, j] * x[j] * m_i / 2**s_i): int8 x, int32 out."""
        weights, scales = self._check(_LINEAR32, x, out, "int32 items")
        requant32(self._accumulate(weights, x), out, scales, self._rows, 2)


class RMSNorm:
    """out = x / rms(x) in Q(frac) (2**frac == 1.0), integer arithmetic only.

    No gain: a trained gain is folded into the weights of the projection that
    reads the norm's output. dim up to 16384, frac 0..7.
    """

    def __init__(self, dim, frac):
        self._dim = _check.number("dim", dim, 1, MAX_NORM_DIM)
        self._frac = _check.number("frac", frac, 0, 7)
        self._num, self._down = norm_constants(dim, frac)
        self._frame = _check.frame()

    dim = property(lambda self: self._dim)
    frac = property(lambda self: self._frac)

    def forward(self, x, out):
        """out[0:dim] = the norm of x[0:dim] (int8 each, out apart from x)."""
        frame = self._frame
        status = _memory.measure(out, x, None, None, _MAP, frame)
        if status:
            _check.refuse(status, ("out", "x"), _MAP, frame, out, x)
        facts = frame[1]
        if facts[1] < self._dim:
            _check.short("x", facts[1], self._dim)
        if facts[0] < self._dim:
            _check.short("out", facts[0], self._dim)
        rms_norm8(x, out, self._dim, self._num, self._down)


class Embedding:
    """rows of dim int8 values; lookup(i, out) copies row i."""

    def __init__(self, table, rows, dim):
        self._rows = _check.dim("rows", rows)
        self._dim = _check.dim("dim", dim)
        facts = _measure(_KEPT, ("", "table"), None, table)
        if facts[1] != rows * dim:
            raise ValueError("table: expected %d int8 values, got %d" % (rows * dim, facts[1]))
        self._table = table
        self._frame = _check.frame()

    rows = property(lambda self: self._rows)
    dim = property(lambda self: self._dim)
    table = property(lambda self: self._table)

    def lookup(self, index, out):
        """out[0:dim] = row index of the table."""
        frame = self._frame
        table = self._table
        status = _memory.measure(out, table, None, None, _MAP, frame)
        if status:
            _check.refuse(status, ("out", "table"), _MAP, frame, out, table)
        facts = frame[1]
        _check.number("index", index, 0, self._rows - 1)
        if facts[0] < self._dim:
            _check.short("out", facts[0], self._dim)
        if facts[1] != self._rows * self._dim:
            raise ValueError("table: resized to %d int8 values" % facts[1])
        gather8(out, table, index * self._dim, self._dim)


def add_saturate(out, x, n=None):
    """out[i] = saturate8(out[i] + x[i]) for i < n (the residual add; n: both lengths' minimum)."""
    facts = _measure(_MAP, ("out", "x"), out, x)
    n = _check.rows(n, "n", min(facts[0], facts[1]), 1)
    add8(out, x, 0, n)


def relu(buf, n=None):
    """buf[i] = max(buf[i], 0) for i < n, in place."""
    facts = _measure(_ONE, _ONE_NAMES, buf)
    relu8(buf, _check.rows(n, "n", facts[0], 1))


def activate(buf, table, n=None):
    """buf[i] = table[buf[i] & 255] for i < n, in place: an activation (GELU, SiLU) as 256 bytes."""
    facts = _measure(_MAP, ("buf", "table"), buf, table)
    if facts[1] < 256:
        _check.short("table", facts[1], 256)
    lookup8(buf, table, _check.rows(n, "n", facts[0], 1))


def narrow(src, out, n=None, m=None, s=None):
    """out[i] = saturate8(src[i]), or saturate8(round(src[i] * m / 2**s)) with m and s given.

    The attention's int32 output is in the values' int8 scale: narrow() makes it
    int8 for the next projection; (m, s) rescales it on the way.
    """
    facts = _measure(_NARROW, ("out", "src"), out, src)
    n = _check.rows(n, "n", min(facts[0], facts[1]), 1)
    if m is None and s is None:
        clamp8(src, out, n)
        return
    _check.number("m", m, 0, MAX_MULT)
    _check.number("s", s, MIN_SHIFT, MAX_SHIFT)
    _scale[0] = m
    _scale[1] = s
    requant8(src, out, _scale, n, 0)


_scale = array("i", (0, 0))
