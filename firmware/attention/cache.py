"""KVCache: preallocated rows of int8 keys and values for decoding one token at a time."""

from array import array


from . import _check, _kernels, _memory

_APPEND = _check.kinds(_memory.INT8, _memory.INT8, _memory.INT8)  # a cache buffer, key, value
_KEYS = _memory.SCRATCH  # the frame's scratch: the keys, then the values
_VALUES = _memory.SCRATCH + 1


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
        size = capacity * width
        self._frame = _check.frame(array("b", bytes(size)), array("b", bytes(size)))
        self._count = 0  # rows appended since clear()

    # Read-only: append() writes rows where these say.
    capacity = property(lambda self: self._capacity)
    width = property(lambda self: self._width)
    ring = property(lambda self: self._ring)
    keys = property(lambda self: self._frame[_KEYS])
    values = property(lambda self: self._frame[_VALUES])
    count = property(lambda self: self._count)

    def __len__(self):
        return min(self._count, self._capacity)

    def append(self, key, value):
        """Copy one row of width int8 keys and one of values into the cache."""
        width = self._width
        frame = self._frame
        facts = frame[1]
        keys = frame[_KEYS]
        values = frame[_VALUES]
        # keys and values are the user's to read, and an array can be resized in
        # place: they are checked as any other buffer before a row goes in.
        self._measure("keys", keys, key, value)
        self._measure("values", values, key, value)
        if facts[1] != width:
            raise ValueError("key: expected %d int8 values, got %d" % (width, facts[1]))
        if facts[2] != width:
            raise ValueError("value: expected %d int8 values, got %d" % (width, facts[2]))
        if self._count >= self._capacity and not self._ring:
            raise ValueError(
                "KVCache: full at %d rows; clear() it or use ring=True" % self._capacity
            )
        start = (self._count % self._capacity) * width
        _kernels.copy8(keys, key, start, width)
        _kernels.copy8(values, value, start, width)
        self._count += 1

    def _measure(self, name, rows, key, value):
        frame = self._frame
        status = _memory.measure(rows, key, value, None, _APPEND, frame)
        if status:
            _check.refuse(status, (name, "key", "value"), _APPEND, frame, rows, key, value)
        facts = frame[1]
        if not 0 < self._capacity or facts[0] < self._capacity * self._width:
            _check.short(name, facts[0], self._capacity * self._width)

    def clear(self):
        """Forget every row (the buffers keep their bytes)."""
        self._count = 0
