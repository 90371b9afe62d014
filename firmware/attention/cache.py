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
        self._capacity = _check.number("capacity", capacity, 1, _check.MAX_ROWS)
        self._width = _check.dim("width", width)
        self._ring = bool(ring)
        self._keys = array("b", bytes(capacity * width))
        self._values = array("b", bytes(capacity * width))
        self._count = 0  # rows appended since clear()

    # Read-only: append() writes rows where these say.
    capacity = property(lambda self: self._capacity)
    width = property(lambda self: self._width)
    ring = property(lambda self: self._ring)
    keys = property(lambda self: self._keys)
    values = property(lambda self: self._values)
    count = property(lambda self: self._count)

    def __len__(self):
        return min(self._count, self._capacity)

    def append(self, key, value):
        """Copy one row of width int8 keys and one of values into the cache."""
        width = self._width
        key_size = _check.int8("key", key, width)
        if key_size != width:
            raise ValueError("key: expected %d int8 values, got %d" % (width, key_size))
        value_size = _check.int8("value", value, width)
        if value_size != width:
            raise ValueError("value: expected %d int8 values, got %d" % (width, value_size))
        if self._count >= self._capacity and not self._ring:
            raise ValueError(
                "KVCache: full at %d rows; clear() it or use ring=True" % self._capacity
            )
        # keys and values are the user's to read, and an array can be resized in
        # place: check them as any other buffer before writing into them.
        size = self._capacity * width
        keys = self._keys
        values = self._values
        _check.int8("keys", keys, size)
        _check.int8("values", values, size)
        _check.apart("keys", keys, size, "key", key, width)
        _check.apart("keys", keys, size, "value", value, width)
        _check.apart("values", values, size, "key", key, width)
        _check.apart("values", values, size, "value", value, width)
        start = (self._count % self._capacity) * width
        _kernels.copy8(keys, key, start, width)
        _kernels.copy8(values, value, start, width)
        self._count += 1

    def clear(self):
        """Forget every row (the buffers keep their bytes)."""
        self._count = 0
