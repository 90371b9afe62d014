from array import array

from ._buffers import Int8Buffer, Int32Buffer

MAX_MULT: int  # 32767, the largest m of a requantisation scale (m, s)
MIN_SHIFT: int  # 17, the smallest s
MAX_SHIFT: int  # 40, the largest s
MAX_NORM_DIM: int  # 16384, the widest RMSNorm

def check_scales(name: str, scales: array, rows: int) -> None:
    """Raise unless scales is array('i') of rows (m, s) pairs within the limits."""

class Linear:
    """out = requant(weights @ x): int8 weights (rows, cols) row-major, per-row scales."""

    def __init__(self, weights: Int8Buffer, scales: array, rows: int, cols: int) -> None: ...
    @property
    def rows(self) -> int: ...
    @property
    def cols(self) -> int: ...
    @property
    def weights(self) -> Int8Buffer:
        """The weights given at construction: not a copy."""
    @property
    def scales(self) -> array:
        """array('i') of 2 * rows: (m, s) of row i at 2i, 2i + 1."""
    def accumulate(self, x: Int8Buffer) -> array:
        """The int32 sums weights @ x, in a scratch array('i') of rows items (not a copy)."""
    def forward(self, x: Int8Buffer, out: Int8Buffer) -> None:
        """out[0:rows] = saturate8(round(sum_j w[i, j] * x[j] * m_i / 2**s_i))."""
    def forward32(self, x: Int8Buffer, out: Int32Buffer) -> None:
        """out[0:rows] = round(sum_j w[i, j] * x[j] * m_i / 2**s_i), int32."""

class RMSNorm:
    """out = x / rms(x) in Q(frac) (2**frac == 1.0), integer arithmetic only; no gain."""

    def __init__(self, dim: int, frac: int) -> None: ...
    @property
    def dim(self) -> int: ...
    @property
    def frac(self) -> int: ...
    def forward(self, x: Int8Buffer, out: Int8Buffer) -> None:
        """out[0:dim] = the norm of x[0:dim] (int8 each, out apart from x)."""

class Embedding:
    """rows of dim int8 values; lookup(i, out) copies row i."""

    def __init__(self, table: Int8Buffer, rows: int, dim: int) -> None: ...
    @property
    def rows(self) -> int: ...
    @property
    def dim(self) -> int: ...
    @property
    def table(self) -> Int8Buffer:
        """The table given at construction: not a copy."""
    def lookup(self, index: int, out: Int8Buffer) -> None:
        """out[0:dim] = row index of the table."""

def add_saturate(out: Int8Buffer, x: Int8Buffer, n: int | None = None) -> None:
    """out[i] = saturate8(out[i] + x[i]) for i < n (the residual add)."""

def relu(buf: Int8Buffer, n: int | None = None) -> None:
    """buf[i] = max(buf[i], 0) for i < n, in place."""

def activate(buf: Int8Buffer, table: Int8Buffer, n: int | None = None) -> None:
    """buf[i] = table[buf[i] & 255] for i < n, in place: an activation as 256 bytes."""

def narrow(
    src: Int32Buffer,
    out: Int8Buffer,
    n: int | None = None,
    m: int | None = None,
    s: int | None = None,
) -> None:
    """out[i] = saturate8(src[i]), or saturate8(round(src[i] * m / 2**s)) with m and s given."""
