"""Viper readers of what MicroPython does not tell Python cheaply: a buffer's kind, length
and address, read from its object header.

Headers (py/obj.h, py/objarray.h, py/objstr.h), one machine word per field:
  array, bytearray, memoryview: [type, typecode:8 | free, len, items]
  bytes:                        [type, hash, len, data]
id(x) is the address of x's header; an int, None, True or False is an immediate
object instead, whose id() is never a multiple of 4. On a 32-bit port id() comes
back as a small int that lost bit 31 and copied bit 30 into it (addresses from
0x40000000, as on the ESP32-C6): keeping the low word * 8 - 1 bits gives the
address back. Nothing here allocates or keeps a reference to a buffer.
"""

import micropython
from micropython import const

INT8 = const(1)  # bytes, bytearray, array('b'), array('B'), or a memoryview of one
INT32 = const(2)  # array('i'), or a memoryview of one
FACTS = const(9)  # items in a facts array: 4 sizes, 4 type addresses, the word size
_ID = id  # a module global: one dictionary lookup instead of two for the builtin


@micropython.viper
def word_bytes() -> int:
    """Bytes in a machine word: 4 on a 32-bit port, 8 on a 64-bit one.

    Shift counts wrap at the word size, so 1 << 32 is 1 only on a 32-bit port.
    """
    bits = 32
    if (1 << bits) == 1:
        return 4
    return 8


@micropython.viper
def note_type(facts: ptr32, slot: int, kind):
    """facts[slot] = the address of the type object kind (its low 32 bits)."""
    word = facts[8]
    top = 1
    top <<= (word << 3) - 1  # the sign bit of a machine word
    facts[slot] = int(id(kind)) & (top - 1)  # noqa: RUF046 (int() makes a native int)


@micropython.viper
def measure(out, a, b, c, kinds: int, facts: ptr32) -> int:
    """The kind, length and overlaps of up to four buffers: out, then inputs a, b, c.

    kinds holds two bits per buffer, out's lowest: 0 (not looked at), INT8 or INT32.
    facts[4:8] hold the addresses of bytes, bytearray, array and memoryview and
    facts[8] the bytes in a machine word (see _check.facts()). Sets facts[i] to the
    length in items of buffer i, or -1 when it is not of its kind, and returns
    -1 - i for the first such buffer; else a mask with bit i (1..3) set where the
    bytes of input i share an address with those of out (none when out is not looked
    at or empty): 0 when all is well.
    """
    word = facts[8]
    top = 1
    top <<= (word << 3) - 1  # the sign bit of a machine word
    low = top - 1
    address = _ID  # one lookup for the four buffers
    start = 0  # out's bytes: start .. end
    end = 0
    mask = 0
    i = 0
    while kinds >> (i << 1):  # up to the last buffer looked at
        kind = (kinds >> (i << 1)) & 3
        size = 0
        if kind:
            obj = out
            if i == 1:
                obj = a
            elif i == 2:
                obj = b
            elif i == 3:
                obj = c
            size = -1
            header = int(address(obj)) & low  # noqa: RUF046 (int() makes a native int)
            if (header & 3) == 0:  # an object, not an immediate value
                type_ = ptr32(header)[0] & low
                code = 0
                if type_ == facts[4] or type_ == facts[5]:  # bytes, bytearray
                    code = 1
                elif type_ == facts[6] or type_ == facts[7]:  # array, memoryview
                    code = ptr8(header + word)[0] & 0x7F  # without memoryview's writable flag
                if kind == INT8 and (code == 1 or code == 0x62 or code == 0x42):  # 'b', 'B'
                    size = ptr32(header + (word << 1))[0]
                elif kind == INT32 and code == 0x69:  # 'i'
                    size = ptr32(header + (word << 1))[0] << 2  # in bytes, for now
            if size < 0:
                facts[i] = -1
                return -1 - i
            # The first byte: the items (word 3), and for a memoryview, free (the upper
            # bits of word 1) items further on.
            first = ptr32(header + word * 3)[0]
            if word == 8:
                first |= ptr32(header + 28)[0] << 32
            if type_ == facts[7]:
                offset = ptr32(header + word)[0] >> 8
                if kind == INT32:
                    offset <<= 2
                first += offset
            if i == 0:
                start = first
                end = first + size
            elif first < end and start < first + size:
                mask |= 1 << i
            if kind == INT32:
                size >>= 2
        facts[i] = size
        i += 1
    if start == end:
        mask = 0  # an empty out shares nothing
    return mask


@micropython.viper
def typecode(buf, word: int) -> int:
    """The typecode of an array or memoryview (only: it reads an array's header)."""
    top = 1
    top <<= (word << 3) - 1
    return ptr8((int(id(buf)) & (top - 1)) + word)[0] & 0x7F  # noqa: RUF046
