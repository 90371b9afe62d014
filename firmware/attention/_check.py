"""Argument checks shared by every mechanism.

Viper kernels do no bounds checking, so every public method checks its arguments
here first and raises TypeError (wrong kind of buffer) or ValueError (wrong
size, or an output sharing memory with an input), naming the argument, before
any kernel touches memory.

A method measures its buffers with one call of _memory.measure(), which reads
each buffer's kind and length from its object header as it is at that call:
nothing is remembered between calls, nothing is allocated unless a check
fails, and no reference to a buffer is kept. The sizes are then checked here.
"""

from array import array

import micropython
from micropython import const

from . import _memory
from ._memory import INT8, INT32

MAX_DIM = const(32768)  # row width limit: keeps every int8 sum of products inside int32
MAX_ROWS = const(4194304)  # row count limit: keeps sums of Q8 weights inside int32

_KINDS = {
    INT8: "an int8 buffer (array('b'), array('B'), bytearray, bytes, or a memoryview of one)",
    INT32: "an int32 buffer (array('i') or a memoryview of one)",
}
# int as a module global: x.__class__ is INT costs one dict lookup, type(x) is int four and
# a call (__class__ needs MICROPY_CPYTHON_COMPAT: on from the core-features level up).
INT = int
WORD = _memory.word_bytes()  # bytes in a machine word, for _memory.typecode()


def kinds(out=0, a=0, b=0, c=0):
    """The kinds argument of _memory.measure() for buffers out, a, b, c."""
    return out | a << 2 | b << 4 | c << 6


def facts():
    """A scratch array for _memory.measure(): made once per object, at construction."""
    table = array("i", bytes(4 * _memory.FACTS))
    table[8] = WORD
    for slot, kind in ((4, bytes), (5, bytearray), (6, array), (7, memoryview)):
        _memory.note_type(table, slot, kind)
    return table


def _got(buf):
    kind = type(buf)
    if kind is array or kind is memoryview:
        code = _memory.typecode(buf, WORD)
        return "%s('%s')" % (kind.__name__, chr(code) if code > 1 else "B")
    return kind.__name__


def refuse(status, names, kinds, out, a=None, b=None, c=None):
    """Raise the error that a nonzero status of _memory.measure() stands for."""
    buffers = (out, a, b, c)
    if status < 0:
        i = -1 - status
        raise TypeError(
            "%s: expected %s, got %s"
            % (names[i], _KINDS[(kinds >> (2 * i)) & 3], _got(buffers[i]))
        )
    for i in (1, 2, 3):
        if status >> i & 1:
            raise ValueError(
                "%s: shares memory with %s; pass a separate buffer" % (names[0], names[i])
            )


def short(name, size, need, unit="int8 values"):
    """Raise: buffer name holds size values where need were expected."""
    raise ValueError("%s: expected at least %d %s, got %d" % (name, need, unit, size))


def number(name, value, least, most):
    """value, which must be an int (not a bool) in least..most."""
    if type(value) is not int:
        raise TypeError("%s: expected an int, got %s" % (name, type(value).__name__))
    if value < least or value > most:
        raise ValueError("%s: expected %d..%d, got %d" % (name, least, most, value))
    return value


@micropython.native
def rows(n, name, size, width):
    """n, or all of them when n is None, of the rows of width values in buffer name,
    which holds size values: whole rows, and 0 <= n <= its rows, at most MAX_ROWS."""
    available = size // width
    if available * width != size:
        raise ValueError(
            "%s: length %d is not a multiple of the row width %d" % (name, size, width)
        )
    if n is None:
        n = available
    elif n.__class__ is not INT or n < 0 or n > available:  # see INT
        number("n", n, 0, available)  # raises, saying which
    if n > MAX_ROWS:
        raise ValueError("n: at most %d rows, got %d" % (MAX_ROWS, n))
    return n


@micropython.native
def pair(n, key_size, value_size, width):
    """rows() of keys and values read together: both whole rows, n must fit both, and
    when n is None both must hold the same number of rows."""
    if key_size % width:
        rows(None, "keys", key_size, width)  # raises: not whole rows
    if value_size % width:
        rows(None, "values", value_size, width)
    if n is None and key_size != value_size:
        raise ValueError(
            "keys and values: %d and %d rows; pass n to use fewer"
            % (key_size // width, value_size // width)
        )
    return rows(n, "keys", key_size if key_size < value_size else value_size, width)


def dim(name, value):
    """A positive width or size, at most MAX_DIM."""
    return number(name, value, 1, MAX_DIM)
