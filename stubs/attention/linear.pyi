from array import array

from ._buffers import Int8Buffer, Int32Buffer

class LinearAttention:
    """Linear attention, phi(x) = max(x, 0) + 1; its state does not grow with the context."""

    def __init__(self, feature_dim: int) -> None: ...
    @property
    def feature_dim(self) -> int: ...
    @property
    def halvings(self) -> int:
        """Times the running sums were halved to stay inside int32."""
    @property
    def sums(self) -> array:
        """The state: array('i') of 4 * feature_dim, [C low | K low | C high | K high]."""
    def feature_map(self, x: int) -> int:
        """phi(x) = max(x, 0) + 1 for an int8 x."""
    def reset(self) -> None:
        """Forget every row seen."""
    def update(self, keys: Int8Buffer, values: Int8Buffer, n: int | None = None) -> None:
        """Add n rows of keys and values (rows of feature_dim int8) to the state."""
    def attend(self, query: Int8Buffer, output: Int32Buffer) -> None:
        """output[0:feature_dim] = the attention of query over the state."""
    def forward(
        self,
        query: Int8Buffer,
        keys: Int8Buffer,
        values: Int8Buffer,
        output: Int32Buffer,
        n: int | None = None,
    ) -> None:
        """reset(), update(keys, values, n), attend(query, output)."""
