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

from . import _check, _kernels, _layers, _memory
from ._fixed import MAX_MULT, MAX_SHIFT, MIN_SHIFT, norm_constants

MAX_NORM_DIM = const(16384)

_ONE = _check.kinds(_memory.INT8)
_ONE_NAMES = ("buf",)
_MAP = _check.kinds(_memory.INT8, _memory.INT8)
_LINEAR8 = _check.kinds(_memory.INT8, _memory.INT8, _memory.INT8)
_LINEAR32 = _check.kinds(_memory.INT32, _memory.INT8, _memory.INT8)
_ACCUMULATE = _check.kinds(0, _memory.INT8, _memory.INT8)
_NARROW = _check.kinds(_memory.INT8, _memory.INT32)
_facts = _check.facts()  # scratch of the module-level functions


def _measure(kinds, names, out, a=None, b=None):
    status = _memory.measure(out, a, b, None, kinds, _facts)
    if status:
        _check.refuse(status, names, kinds, out, a, b)
    return _facts


def check_scales(name, scales, rows):
    """Raise unless scales is array('i') of rows (m, s) pairs within the limits above."""
    if type(scales) is not array or _memory.typecode(scales, _check.WORD) != 0x69:
        raise TypeError("%s: expected array('i') of (m, s) pairs" % name)
    if len(scales) != 2 * rows:
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
        facts = _measure(_ONE, ("weights",), weights)
        if facts[0] != rows * cols:
            raise ValueError("weights: expected %d int8 values, got %d" % (rows * cols, facts[0]))
        check_scales("scales", scales, rows)
        self._weights = weights
        self._scales = scales
        self._x = array("i", bytes(4 * cols))
        self._acc = array("i", bytes(4 * rows))
        self._facts = _check.facts()

    rows = property(lambda self: self._rows)
    cols = property(lambda self: self._cols)
    weights = property(lambda self: self._weights)
    scales = property(lambda self: self._scales)

    def _check(self, kinds, x, out, unit):
        """x, out (when kinds looks at it) and the weights and scales kept, as they are now:
        the caller may have resized the arrays it gave in place."""
        facts = self._facts
        status = _memory.measure(out, x, self._weights, None, kinds, facts)
        if status:
            _check.refuse(status, ("out", "x", "weights"), kinds, out, x, self._weights)
        if facts[1] < self._cols:
            _check.short("x", facts[1], self._cols)
        if kinds & 3 and facts[0] < self._rows:
            _check.short("out", facts[0], self._rows, unit)
        if facts[2] != self._rows * self._cols:
            raise ValueError("weights: resized to %d int8 values" % facts[2])
        if len(self._scales) != 2 * self._rows:
            raise ValueError("scales: resized to %d int32 items" % len(self._scales))

    def _accumulate(self, x):
        cols = self._cols
        _kernels.dot_rows(self._weights, self._x, self._acc, self._rows, cols, cols, 0, 0, x)
        return self._acc

    def accumulate(self, x):
        """The int32 sums weights @ x, in the scratch buffer returned (rows items)."""
        self._check(_ACCUMULATE, x, None, None)
        return self._accumulate(x)

    def forward(self, x, out):
        """out[0:rows] = saturate8(round(sum_j w[i, j] * x[j] * m_i / 2**s_i)): int8 x, int8 out."""
        self._check(_LINEAR8, x, out, "int8 values")
        _layers.requant8(self._accumulate(x), out, self._scales, self._rows, 2)

    def forward32(self, x, out):
        """out[0:rows] = round(sum_j w[i, j] * x[j] * m_i / 2**s_i): int8 x, int32 out."""
        self._check(_LINEAR32, x, out, "int32 items")
        _layers.requant32(self._accumulate(x), out, self._scales, self._rows, 2)


class RMSNorm:
    """out = x / rms(x) in Q(frac) (2**frac == 1.0), integer arithmetic only.

    No gain: a trained gain is folded into the weights of the projection that
    reads the norm's output. dim up to 16384, frac 0..7.
    """

    def __init__(self, dim, frac):
        self._dim = _check.number("dim", dim, 1, MAX_NORM_DIM)
        self._frac = _check.number("frac", frac, 0, 7)
        self._num, self._down = norm_constants(dim, frac)
        self._facts = _check.facts()

    dim = property(lambda self: self._dim)
    frac = property(lambda self: self._frac)

    def forward(self, x, out):
        """out[0:dim] = the norm of x[0:dim] (int8 each, out apart from x)."""
        facts = self._facts
        status = _memory.measure(out, x, None, None, _MAP, facts)
        if status:
            _check.refuse(status, ("out", "x"), _MAP, out, x)
        if facts[1] < self._dim:
            _check.short("x", facts[1], self._dim)
        if facts[0] < self._dim:
            _check.short("out", facts[0], self._dim)
        _layers.rms_norm8(x, out, self._dim, self._num, self._down)


class Embedding:
    """rows of dim int8 values; lookup(i, out) copies row i."""

    def __init__(self, table, rows, dim):
        self._rows = _check.dim("rows", rows)
        self._dim = _check.dim("dim", dim)
        facts = _measure(_ONE, ("table",), table)
        if facts[0] != rows * dim:
            raise ValueError("table: expected %d int8 values, got %d" % (rows * dim, facts[0]))
        self._table = table
        self._facts = _check.facts()

    rows = property(lambda self: self._rows)
    dim = property(lambda self: self._dim)
    table = property(lambda self: self._table)

    def lookup(self, index, out):
        """out[0:dim] = row index of the table."""
        facts = self._facts
        status = _memory.measure(out, self._table, None, None, _MAP, facts)
        if status:
            _check.refuse(status, ("out", "table"), _MAP, out, self._table)
        _check.number("index", index, 0, self._rows - 1)
        if facts[0] < self._dim:
            _check.short("out", facts[0], self._dim)
        if facts[1] != self._rows * self._dim:
            raise ValueError("table: resized to %d int8 values" % facts[1])
        _layers.gather8(out, self._table, index * self._dim, self._dim)


def add_saturate(out, x, n=None):
    """out[i] = saturate8(out[i] + x[i]) for i < n (the residual add; n: both lengths' minimum)."""
    facts = _measure(_MAP, ("out", "x"), out, x)
    n = _check.rows(n, "n", min(facts[0], facts[1]), 1)
    _layers.add8(out, x, 0, n)


def relu(buf, n=None):
    """buf[i] = max(buf[i], 0) for i < n, in place."""
    facts = _measure(_ONE, _ONE_NAMES, buf)
    _layers.relu8(buf, _check.rows(n, "n", facts[0], 1))


def activate(buf, table, n=None):
    """buf[i] = table[buf[i] & 255] for i < n, in place: an activation (GELU, SiLU) as 256 bytes."""
    facts = _measure(_MAP, ("buf", "table"), buf, table)
    if facts[1] < 256:
        _check.short("table", facts[1], 256)
    _layers.lookup8(buf, table, _check.rows(n, "n", facts[0], 1))


def narrow(src, out, n=None, m=None, s=None):
    """out[i] = saturate8(src[i]), or saturate8(round(src[i] * m / 2**s)) with m and s given.

    The attention's int32 output is in the values' int8 scale: narrow() makes it
    int8 for the next projection; (m, s) rescales it on the way.
    """
    facts = _measure(_NARROW, ("out", "src"), out, src)
    n = _check.rows(n, "n", min(facts[0], facts[1]), 1)
    if m is None and s is None:
        _layers.clamp8(src, out, n)
        return
    _check.number("m", m, 0, MAX_MULT)
    _check.number("s", s, MIN_SHIFT, MAX_SHIFT)
    _scale[0] = m
    _scale[1] = s
    _layers.requant8(src, out, _scale, n, 0)


_scale = array("i", (0, 0))
