"""Argument checks shared by every mechanism.

Viper kernels do no bounds checking, so every public method checks its buffers
here first and raises TypeError (wrong kind of buffer) or ValueError (wrong
size, or an output sharing memory with an input), naming the argument, before
any kernel touches memory. Each check reads the buffer as it is at that call:
nothing is remembered between calls, nothing is allocated unless the check
fails, and no reference to a buffer is kept.
"""

from array import array

from micropython import const

from . import _memory

MAX_DIM = const(32768)  # row width limit: keeps every int8 sum of products inside int32
MAX_ROWS = const(4194304)  # row count limit: keeps sums of Q8 weights inside int32

_WORD = _memory.word_bytes()  # bytes in a machine word (an object header field)
_INT8 = b"bB\x01"  # typecodes of one-byte ints: array('b'), array('B'), bytearray's 1
_INT32 = b"i"  # array('i'): 4 bytes on every MicroPython port ('l' is 8 on 64-bit ones)


def _got(buf):
    kind = type(buf)
    if kind is array or kind is memoryview:
        code = _memory.typecode(buf, _WORD)
        return "%s('%s')" % (kind.__name__, chr(code) if code > 1 else "B")
    return kind.__name__


def int8(name, buf, need):
    """Check that buf is a buffer of at least need int8 values; return its length."""
    kind = type(buf)
    if kind is not bytearray and kind is not bytes:
        if (kind is not array and kind is not memoryview) or _memory.typecode(
            buf, _WORD
        ) not in _INT8:
            raise TypeError(
                "%s: expected an int8 buffer (array('b'), array('B'), bytearray, bytes, "
                "or a memoryview of one), got %s" % (name, _got(buf))
            )
    size = len(buf)
    if size < need:
        raise ValueError("%s: expected at least %d int8 values, got %d" % (name, need, size))
    return size


def int32(name, buf, need):
    """Check that buf is an int32 buffer (array('i') or a memoryview of one) of at least
    need items; return its length."""
    kind = type(buf)
    if (kind is not array and kind is not memoryview) or _memory.typecode(
        buf, _WORD
    ) not in _INT32:
        raise TypeError(
            "%s: expected an int32 buffer (array('i') or a memoryview of one), got %s"
            % (name, _got(buf))
        )
    size = len(buf)
    if size < need:
        raise ValueError("%s: expected at least %d int32 items, got %d" % (name, need, size))
    return size


def apart(out_name, out, out_bytes, name, buf, size):
    """Refuse an output whose out_bytes bytes share memory with the size bytes of an input."""
    if _memory.overlap(out, out_bytes, buf, size):
        raise ValueError("%s: shares memory with %s; pass a separate buffer" % (out_name, name))


def rows(name, size, width):
    """Number of whole rows of width values in a buffer of size values."""
    if size % width:
        raise ValueError(
            "%s: length %d is not a multiple of the row width %d" % (name, size, width)
        )
    return size // width


def number(name, value, least, most):
    """value, which must be an int (not a bool) in least..most."""
    if type(value) is not int:
        raise TypeError("%s: expected an int, got %s" % (name, type(value).__name__))
    if value < least or value > most:
        raise ValueError("%s: expected %d..%d, got %d" % (name, least, most, value))
    return value


def count(name, n, available):
    """n, or available when n is None: 0 <= n <= available, at most MAX_ROWS."""
    if n is None:
        n = available
    else:
        number(name, n, 0, available)
    if n > MAX_ROWS:
        raise ValueError("%s: at most %d rows, got %d" % (name, MAX_ROWS, n))
    return n


def pair(key_rows, value_rows, n):
    """Rows of a call over keys and values: n if it fits both, else both counts must agree."""
    if n is None and key_rows != value_rows:
        raise ValueError(
            "keys and values: %d and %d rows; pass n to use fewer" % (key_rows, value_rows)
        )
    return count("n", n, key_rows if key_rows < value_rows else value_rows)


def dim(name, value):
    """A positive width or size, at most MAX_DIM."""
    return number(name, value, 1, MAX_DIM)
