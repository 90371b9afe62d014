"""Viper readers of buffer facts that MicroPython does not expose: typecodes and addresses.

Nothing here allocates or keeps a reference to a buffer. The caller (_check)
decides which objects may be passed: typecode() reads an object header, so it
must only see an array or a memoryview.
"""

import micropython


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
def typecode(buf, word: int) -> int:
    """The typecode of an array or memoryview, read from its object header.

    py/objarray.h: the header is [type, typecode:8 | free, len, items], one
    machine word (word bytes) each; memoryviews add 0x80 to the typecode when
    writable, and a bytearray (or a memoryview of one) has typecode 1.
    id() is the object's address. On a 32-bit port it comes back as a small int
    that lost bit 31 and copied bit 30 into it (addresses 0x40000000 and up, as
    on the ESP32-C6): keeping the low word * 8 - 1 bits gives the address back.
    """
    top = 1
    top <<= (word << 3) - 1  # the sign bit of a machine word
    address = int(id(buf)) & (top - 1)  # noqa: RUF046 (int() makes a native int in viper)
    return ptr8(address + word)[0] & 0x7F


@micropython.viper
def overlap(a: ptr8, a_size: int, b: ptr8, b_size: int) -> int:
    """1 if the bytes [a, a + a_size) and [b, b + b_size) share an address, else 0."""
    if a_size <= 0 or b_size <= 0:
        return 0
    start_a = int(a)
    start_b = int(b)
    if start_a < start_b + b_size and start_b < start_a + a_size:
        return 1
    return 0
