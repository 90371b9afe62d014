"""The import-time check that _memory.measure() sees buffers as this MicroPython makes them.

measure() reads object headers laid out as py/objarray.h and py/objstr.h say. Here
it measures buffers of every kind the package accepts, made on the spot, and each
answer (kind, length, writability, data address, overlap) is compared with what
Python says (len(), and the address a ptr8 cast gives): a MicroPython whose objects
are laid out otherwise raises ImportError, naming the field, before any kernel runs.
"""

import sys
from array import array

from . import _check
from ._memory import BUFFERS, INT8, INT32, READ_ONLY, measure, measure_at


def _fail(what, field, got, expected):
    impl = sys.implementation
    arch = getattr(impl, "_mpy", 0) >> 10
    raise ImportError(
        "attention: %s on %s (mpy arch %d): %s of %s is %r, expected %r; "
        "the package cannot check buffers on this port"
        % (
            "%s %s" % (impl.name, ".".join(str(v) for v in impl.version[:3])),
            sys.platform,
            arch,
            field,
            what,
            got,
            expected,
        )
    )


def _expect(frame, what, buf, kind, written, size):
    """Measure buf alone, as an output when written, else as an input."""
    i = 0 if written else 1
    where = array("i", (0, 0))
    status = (
        measure_at(buf, None, kind, frame, where)
        if written
        else measure_at(None, buf, kind << 2, frame, where)
    )
    facts = frame[1]
    if facts[i] != size:
        field = "the length"
        if size == -1 or facts[i] == -1:
            field = "the kind"
        elif size == READ_ONLY or facts[i] == READ_ONLY:
            field = "the writability"
        _fail(what, field, facts[i], size)
    if status != (0 if size >= 0 else -1 - i):
        _fail(what, "the status", status, -1 - i)
    if size >= 0 and facts[BUFFERS + i] != where[i]:
        _fail(what, "the data address", facts[BUFFERS + i], where[i])


def run():
    try:
        frame = _check.frame()
    except ValueError:
        _fail("array('O')", "the typecode", "refused", "raw object pointers")
    ints = array("i", (1, 2, 3, 4, 5, 6, 7, 8))
    data = bytearray(16)
    constant = bytes(9)
    for what, buf, kind, written, size in (
        ("bytearray", data, INT8, True, 16),
        ("array('b')", array("b", (1, 2, 3, 4, 5)), INT8, True, 5),
        ("array('B')", array("B", (1, 2, 3)), INT8, True, 3),
        ("array('i')", ints, INT32, True, 8),
        ("array('i') as int8", ints, INT8, False, -1),
        ("array('h')", array("h", (1, 2)), INT8, False, -1),
        ("bytes", constant, INT8, False, 9),
        ("bytes as an output", constant, INT8, True, READ_ONLY),
        ("memoryview(bytearray)[3:11]", memoryview(data)[3:11], INT8, True, 8),
        ("memoryview(array('i'))[2:5]", memoryview(ints)[2:5], INT32, True, 3),
        ("memoryview(bytes)", memoryview(constant)[1:], INT8, False, 8),
        ("memoryview(bytes) as an output", memoryview(constant), INT8, True, READ_ONLY),
        ("a list", [0, 0], INT8, False, -1),
        ("an int", 0, INT8, False, -1),
    ):
        _expect(frame, what, buf, kind, written, size)
    view = memoryview(data)
    for what, a, expected in (
        ("overlapping views", view[4:12], 2),
        ("adjacent views", view[8:], 0),
    ):
        status = measure(view[:8], a, None, None, _check.kinds(INT8, INT8), frame)
        if status != expected:
            _fail(what, "the overlap mask", status, expected)


run()
