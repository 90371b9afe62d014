"""Argument checks shared by every mechanism.

Viper kernels do no bounds checking, so every public method checks its arguments
here first and raises TypeError (wrong kind of buffer) or ValueError (wrong
size, or an output sharing memory with an input), naming the argument, before
any kernel touches memory.

A method measures its buffers with one call of _memory.measure(), which reads
each buffer's kind, length and writability from its object header as it is at
that call, the object's own scratch buffers with the caller's: nothing is
remembered between calls, nothing is allocated unless a check fails, and no
reference to a caller's buffer is kept. The sizes are then checked here.
"""

from array import array

import micropython
from micropython import const

from ._memory import BROKEN, BUFFERS, FACTS, INT8, INT32, READ_ONLY

MAX_DIM = const(32768)  # row width limit: keeps every int8 sum of products inside int32
MAX_ROWS = const(4194304)  # row count limit: keeps sums of Q8 weights inside int32

_KINDS = {
    INT8: "an int8 buffer (array('b'), array('B'), bytearray, bytes, or a memoryview of one)",
    INT32: "an int32 buffer (array('i') or a memoryview of one)",
}
# int as a module global: x.__class__ is INT costs one dict lookup, type(x) is int four and
# a call (__class__ needs MICROPY_CPYTHON_COMPAT: on from the core-features level up).
INT = int


def kinds(out=0, a=0, b=0, c=0, *scratch):
    """The kinds argument of _memory.measure() for buffers out, a, b, c and scratch ones."""
    bits = out | a << 2 | b << 4 | c << 6
    for k, kind in enumerate(scratch):
        bits |= kind << (8 + 2 * k)
    return bits


def frame(*scratch):
    """An object's frame for _memory.measure() (see there), with its scratch buffers.

    Made once per object, at construction; frame[1] holds the facts measure() writes.
    """
    return array(
        "O",
        [None, array("i", bytes(4 * FACTS)), bytes, bytearray, array, memoryview] + list(scratch),
    )


def _got(buf, code):
    """What buf is, for an error message; code is its typecode as measure() saw it."""
    name = type(buf).__name__
    if code and (name == "array" or name == "memoryview"):
        return "%s('%s')" % (name, chr(code) if code > 1 else "B")
    return name


def refuse(status, names, kinds, frame, out=None, a=None, b=None, c=None):
    """Raise the error that a nonzero status of _memory.measure() stands for."""
    if status == BROKEN:
        raise ValueError("the object's frame was replaced: make a new object")
    facts = frame[1]
    if status < 0:
        i = -1 - status
        if i > 3:
            raise ValueError(
                "the object's scratch buffer %d was replaced: make a new object" % (i - 4)
            )
        got = _got((out, a, b, c)[i], facts[BUFFERS + i])
        if facts[i] == READ_ONLY:
            raise TypeError("%s: expected a writable buffer, got %s (read-only)" % (names[i], got))
        raise TypeError(
            "%s: expected %s, got %s" % (names[i], _KINDS[(kinds >> (2 * i)) & 3], got)
        )
    for i in (1, 2, 3):
        if status >> i & 1:
            raise ValueError(
                "%s: shares memory with %s; pass a separate buffer" % (names[0], names[i])
            )


def changed():
    """Raise: a private size of the object no longer matches its buffers."""
    raise ValueError("the object's sizes were changed: make a new object")


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
