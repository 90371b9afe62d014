from ._buffers import Int8Buffer, Int32Buffer

class SlidingWindowAttention:
    """Attention over a ring of window_size rows: position i lives in row i % window_size."""

    def __init__(self, window_size: int, head_dim: int) -> None: ...
    @property
    def window_size(self) -> int: ...
    @property
    def head_dim(self) -> int: ...
    def forward(
        self,
        query: Int8Buffer,
        keys: Int8Buffer,
        values: Int8Buffer,
        cache_len: int,
        output: Int32Buffer,
    ) -> None:
        """output[0:head_dim] = attention over the last min(cache_len, window_size) positions."""
