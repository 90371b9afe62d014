from array import array

from ._buffers import Int8Buffer

class KVCache:
    """capacity rows of width int8 keys and values, filled by append()."""

    def __init__(self, capacity: int, width: int, ring: bool = False) -> None: ...
    @property
    def capacity(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def ring(self) -> bool: ...
    @property
    def count(self) -> int:
        """Rows appended since clear() (the cache_len of a ring)."""
    @property
    def keys(self) -> array:
        """The whole key buffer, array('b') of capacity * width: not a copy."""
    @property
    def values(self) -> array:
        """The whole value buffer, array('b') of capacity * width: not a copy."""
    def __len__(self) -> int: ...
    def append(self, key: Int8Buffer, value: Int8Buffer) -> None:
        """Copy one row of width int8 keys and one of values into the cache."""
    def clear(self) -> None:
        """Forget every row (the buffers keep their bytes)."""
