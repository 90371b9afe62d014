"""Argument checks shared by every mechanism.

Viper kernels do no bounds checking, so every public method checks its buffers
here first and raises TypeError (wrong kind of buffer) or ValueError (wrong
size), naming the argument, before any kernel touches memory.
"""

from array import array

from micropython import const

MAX_DIM = const(32768)  # row width limit: keeps every int8 sum of products inside int32
MAX_ROWS = const(4194304)  # row count limit: keeps sums of Q8 weights inside int32
_REMEMBERED = const(16)

# MicroPython arrays and memoryviews do not tell their item size; finding it
# needs a small allocation. The answer is remembered for the last few buffers
# seen (it holds a reference to them), which keeps repeated calls on the same
# preallocated buffers allocation-free. 0 means empty, -1 not integers.
_itemsizes = []


def _itemsize(buf):
    for known in _itemsizes:
        if known[0] is buf:
            return known[1]
    size = len(bytes(memoryview(buf)[:1])) if len(buf) else 0
    if size and not isinstance(buf[0], int):
        size = -1  # array('f') or array('d')
    if len(_itemsizes) >= _REMEMBERED:
        _itemsizes.pop()
    _itemsizes.insert(0, (buf, size))  # newest first: the buffers in use are found at once
    return size


def int8(name, buf, need):
    """Check that buf is a buffer of at least need int8 values; return its length."""
    kind = type(buf)
    if kind is not bytearray and kind is not bytes:
        if (kind is not array and kind is not memoryview) or _itemsize(buf) not in (0, 1):
            raise TypeError(name + ": expected an int8 buffer (array('b'), bytearray, bytes)")
    size = len(buf)
    if size < need:
        raise ValueError("%s: expected at least %d int8 values, got %d" % (name, need, size))
    return size


def int32(name, buf, need):
    """Check that buf is an int32 buffer (array('i')) of at least need items; return its length."""
    kind = type(buf)
    if (kind is not array and kind is not memoryview) or _itemsize(buf) not in (0, 4):
        raise TypeError(name + ": expected an int32 buffer, array('i') (4 bytes per item)")
    size = len(buf)
    if size < need:
        raise ValueError("%s: expected at least %d int32 items, got %d" % (name, need, size))
    return size


def rows(name, size, width):
    """Number of whole rows of width values in a buffer of size values."""
    if size % width:
        raise ValueError(
            "%s: length %d is not a multiple of the row width %d" % (name, size, width)
        )
    return size // width


def count(name, n, available):
    """n, or available when n is None; 0 <= n <= available."""
    if n is None:
        n = available
    elif type(n) is not int:
        raise TypeError(name + ": expected an int")
    elif n < 0 or n > available:
        raise ValueError("%s: expected 0..%d, got %d" % (name, available, n))
    if n > MAX_ROWS:
        raise ValueError("%s: at most %d rows, got %d" % (name, MAX_ROWS, n))
    return n


def dim(name, value):
    """A positive width or size, at most MAX_DIM."""
    if type(value) is not int:
        raise TypeError(name + ": expected an int")
    if value <= 0 or value > MAX_DIM:
        raise ValueError("%s: expected 1..%d, got %d" % (name, MAX_DIM, value))
    return value
