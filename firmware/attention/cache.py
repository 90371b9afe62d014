"""KVCache: preallocated rows of int8 keys and values for decoding one token at a time."""

from array import array

from . import _check, _kernels


class KVCache:
    """capacity rows of width int8 keys and values, filled by append().

    keys and values are the whole buffers (capacity * width int8 each); the
    first len(cache) rows hold data, so they go to the attention methods as they
    are, with n=len(cache), without copying. In ring mode (for
    SlidingWindowAttention) appending to a full cache overwrites the oldest row:
    position p lives in row p % capacity, and count is the cache_len to pass.
    """

    def __init__(self, capacity, width, ring=False):
        self.capacity = _check.count("capacity", capacity, _check.MAX_ROWS)
        if capacity <= 0:
            raise ValueError("capacity: expected >= 1, got %d" % capacity)
        self.width = _check.dim("width", width)
        self.ring = bool(ring)
        self.keys = array("b", bytes(capacity * width))
        self.values = array("b", bytes(capacity * width))
        self.count = 0  # rows appended since clear()

    def __len__(self):
        return min(self.count, self.capacity)

    def append(self, key, value):
        """Copy one row of width int8 keys and one of values into the cache."""
        width = self.width
        if _check.int8("key", key, width) != width:
            raise ValueError("key: expected %d int8 values, got %d" % (width, len(key)))
        if _check.int8("value", value, width) != width:
            raise ValueError("value: expected %d int8 values, got %d" % (width, len(value)))
        if self.count >= self.capacity and not self.ring:
            raise ValueError(
                "KVCache: full at %d rows; clear() it or use ring=True" % self.capacity
            )
        start = (self.count % self.capacity) * width
        _kernels.copy8(self.keys, key, start, width)
        _kernels.copy8(self.values, value, start, width)
        self.count += 1

    def clear(self):
        """Forget every row (the buffers keep their bytes)."""
        self.count = 0
