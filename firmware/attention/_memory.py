"""The viper reader of what MicroPython does not tell Python cheaply: a buffer's kind,
length, writability and address, read from its object header.

Headers (py/obj.h, py/objarray.h, py/objstr.h), one machine word per field:
  array, bytearray, memoryview: [type, typecode:8 | free, len, items]
  bytes:                        [type, hash, len, data]
typecode is 1 for a bytearray; a memoryview adds 0x80 when it may be written, and its
free field (24 bits on a 32-bit port) is its offset, in items, into its parent's items.

A header's address is an object pointer. Viper cannot take one from an object, and id()
is no help on a 32-bit port (it drops bit 31 of an address below 0x80000000 and
allocates a long int at or above it), so each object has a frame: an array('O'), whose
items are raw object pointers, one machine word each:
  frame[0]      the slot: a buffer is stored there, then read back with ptr32 (None
                between calls)
  frame[1]      facts, an array('i') of FACTS items that measure() fills
  frame[2:6]    the types bytes, bytearray, array and memoryview
  frame[6:]     the object's own scratch buffers (see SCRATCH)
An object measures its scratch buffers with the caller's in the same call, so no
attribute, public or private, can make a kernel write past one of them. Nothing here
allocates, and the slot holds no caller's buffer once measure() returns.
"""

import micropython
from micropython import const

INT8 = const(1)  # bytes, bytearray, array('b'), array('B'), or a memoryview of one
INT32 = const(2)  # array('i'), or a memoryview of one
BUFFERS = const(12)  # buffers one call can measure: out, a, b, c, then 8 of scratch
FACTS = const(24)  # items of facts: a size, then an address, per buffer
SCRATCH = const(6)  # frame[SCRATCH + k] is scratch buffer k, measured as buffer 4 + k
READ_ONLY = const(-2)  # facts[0] (or a scratch buffer's) when it is read-only
BROKEN = const(-64)  # measure()'s status when the frame itself is not one


@micropython.viper
def measure(out, a, b, c, kinds: int, frame) -> int:
    """The kind, length, writability and overlaps of out, inputs a, b, c and the scratch.

    kinds holds two bits per buffer, out's lowest, then a, b, c and scratch buffers
    0..7: 0 (not looked at), INT8 or INT32. out and the scratch buffers are written,
    so they must be writable; a, b and c are only read. For each buffer i looked at,
    sets facts[i] (facts = frame[1]) to its length in items and facts[BUFFERS + i] to
    the low 32 bits of its data address. Stops at the first buffer that is not of its
    kind, setting facts[i] to -1 and facts[BUFFERS + i] to its typecode (0 if it has
    none), or that is read-only where it must be written (facts[i] = READ_ONLY), and
    returns -1 - i. Returns BROKEN, writing nothing, when frame is not an array('O') of
    the layout above with room for the scratch buffers in kinds. Else returns a mask
    with bit i (1..3) set where input i shares bytes with out: 0 when all is well.
    """
    word = 4  # bytes in a machine word: 2**32 is 0 in 32 bits (no shift count reaches 32)
    low = 1
    low <<= 16
    low <<= 16
    if low:
        word = 8
    low = 0xFFFF
    low = (low << 16) | 0xFFFF  # the low 32 bits of a word (all of them on a 32-bit port)
    frame[0] = frame  # TypeError unless frame can hold objects; then its own pointer
    slots = int(ptr32(frame))  # TypeError unless frame is a buffer: an array('O') left
    array_type = ptr32(slots + (word << 2))[0]  # frame[4]; types compare by their low words
    count = 0  # buffers looked at: 1 + the highest i whose kind is nonzero
    while kinds >> (count << 1):
        count += 1
    if count > BUFFERS:
        return BROKEN
    # The frame's own header (slot 0 holds it): an array('O') long enough for the scratch.
    header = ptr32(slots)[0]
    if word == 8:
        header = (header & low) | (ptr32(slots + 4)[0] << 32)  # only on a 64-bit port
    if (
        ptr32(header)[0] != array_type
        or ptr8(header + word)[0] != 0x4F  # 'O'
        or ptr32(header + (word << 1))[0] < SCRATCH + count - 4
    ):
        return BROKEN
    # facts (frame[1]): an array('i') of FACTS items at least.
    header = ptr32(slots + word)[0]
    if word == 8:
        header = (header & low) | (ptr32(slots + 12)[0] << 32)
    if (
        ptr32(header)[0] != array_type
        or ptr8(header + word)[0] != 0x69  # 'i'
        or ptr32(header + (word << 1))[0] < FACTS
    ):
        return BROKEN
    items = ptr32(header + word * 3)[0]
    if word == 8:
        items = (items & low) | (ptr32(header + 28)[0] << 32)
    facts = ptr32(items)
    status = 0
    start = 0  # out's bytes: start .. start + length - 1
    length = 0
    i = 0
    while i < count:
        kind = (kinds >> (i << 1)) & 3
        if kind:
            place = slots  # where the buffer's pointer is: the slot for out, a, b and c
            if i == 0:
                frame[0] = out
            elif i == 1:
                frame[0] = a
            elif i == 2:
                frame[0] = b
            elif i == 3:
                frame[0] = c
            else:
                place = slots + (SCRATCH + i - 4) * word
            header = ptr32(place)[0]
            if word == 8:
                header = (header & low) | (ptr32(place + 4)[0] << 32)
            written = i == 0 or i > 3  # out and the scratch buffers
            size = -1
            code = 0  # the typecode, with 0x80 when the buffer may be written
            view = 0
            if (header & 3) == 0:  # an object, not an immediate value (int, None, bool)
                kind_of = ptr32(header)[0]
                if kind_of == ptr32(slots + (word << 1))[0]:  # bytes: read-only
                    code = 1
                elif kind_of == ptr32(slots + word * 3)[0]:  # bytearray
                    code = 0x81
                elif kind_of == array_type:
                    code = ptr8(header + word)[0] | 0x80
                elif kind_of == ptr32(slots + word * 5)[0]:  # memoryview
                    code = ptr8(header + word)[0]
                    view = 1
            typecode = code & 0x7F
            if kind == INT8 and (typecode == 1 or typecode == 0x62 or typecode == 0x42):
                size = ptr32(header + (word << 1))[0]  # 'b', 'B' or a bytearray's: bytes
            elif kind == INT32 and typecode == 0x69:  # 'i'
                size = ptr32(header + (word << 1))[0]
            if size >= 0 and written and (code & 0x80) == 0:
                size = READ_ONLY
            if size < 0:
                facts[i] = size
                facts[BUFFERS + i] = typecode
                status = -1 - i
                break
            first = ptr32(header + word * 3)[0]
            if word == 8:
                first = (first & low) | (ptr32(header + 28)[0] << 32)
            if view:  # a memoryview's items are its parent's: its own start free items on
                offset = (ptr32(header + word)[0] >> 8) & 0xFFFFFF
                if word == 8:
                    offset |= ptr32(header + 12)[0] << 24
                if kind == INT32:
                    offset <<= 2
                first += offset
            facts[i] = size
            facts[BUFFERS + i] = first
            if kind == INT32:
                size <<= 2  # in bytes
            if i == 0:
                start = first
                length = size
            elif i < 4 and length and size:
                # Shared bytes: out's first byte lies in the input's, or the input's in
                # out's; distances compared unsigned (an address may be above 2**31).
                if uint(start - first) < uint(size) or uint(first - start) < uint(length):
                    status |= 1 << i
        i += 1
    frame[0] = None  # the slot keeps no caller's buffer
    return status


@micropython.viper
def measure_at(out, a, kinds: int, frame, where: ptr32) -> int:
    """measure(out, a, None, None, kinds, frame), then, in the same call and when it
    accepted them, the low 32 bits of the data addresses of out and a (those kinds looks
    at) as a ptr8 cast gives them, in where[0] and where[1]: for the import check."""
    status = int(measure(out, a, None, None, kinds, frame))
    if status == 0 and kinds & 3:
        where[0] = int(ptr8(out))
    if status == 0 and kinds >> 2:
        where[1] = int(ptr8(a))
    return status
