"""The shim's 32-bit memory: buffers at simulated addresses, viper's pointers into them,
and MicroPython's object headers, id() and array('O') (see micropython.py).

Every address is 32 bits, in three ranges taken in turn (below 0x40000000, from just
below 0x80000000 across it, from 0xC0000000), so that code which treats an address as a
signed int, or id() as an address, fails here as it fails on a board. Every access
through a pointer is bounds-checked: on a board an out-of-bounds one corrupts memory.
"""

from array import array
import array as _array_module
import ctypes
import struct

_MASK = 0xFFFFFFFF
_SIGN = 0x80000000


def _wrap(value):
    """The int32 that a 32-bit register holds after computing value."""
    return ((int(value) + _SIGN) & _MASK) - _SIGN


# The simulated address space: buffers get addresses when a pointer to them is
# made, and keep them for as long as the outermost viper call runs. Successive
# regions go to three ranges in turn, where a 32-bit port's id() behaves differently
# (a positive small int, a negative one, a long int): the kernels and measure() must
# give the same results in all three. The second range starts 32 KiB below 0x80000000,
# so that its regions soon cross the sign bit of an int32.
_RANGES = ((0x20000000, 0x40000000), (0x7FFF8000, 0xC0000000), (0xC0000000, 0xFFFF0000))
_regions = []  # (start, end, memoryview of its bytes, the buffer object)
_headers = {}  # id() of an object -> address of its simulated header
_next = [start for start, _ in _RANGES]
_turn = [0]


def _reset():
    _regions.clear()
    _headers.clear()
    _next[:] = [start for start, _ in _RANGES]
    _turn[0] = 0


def _allocate(size):
    """A 16-byte aligned address for size bytes, in the next range in turn."""
    for _ in _RANGES:
        which = _turn[0]
        _turn[0] = (which + 1) % len(_RANGES)
        start = (_next[which] + 15) & ~15
        if start + size <= _RANGES[which][1]:
            _next[which] = start + size + 64
            return start
    raise MemoryError("viper: the simulated address space is full")


class _Py_buffer(ctypes.Structure):
    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("obj", ctypes.c_void_p),
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p),
        ("shape", ctypes.c_void_p),
        ("strides", ctypes.c_void_p),
        ("suboffsets", ctypes.c_void_p),
        ("internal", ctypes.c_void_p),
    ]


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = (ctypes.py_object, ctypes.POINTER(_Py_buffer), ctypes.c_int)
_get_buffer.restype = ctypes.c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = (ctypes.POINTER(_Py_buffer),)
_release_buffer.restype = None


def _host_address(buf):
    """Where CPython keeps buf's bytes (a real host address)."""
    info = _Py_buffer()
    _get_buffer(buf, ctypes.byref(info), 0)
    try:
        return info.buf
    finally:
        _release_buffer(ctypes.byref(info))


def _writable(view, buf):
    """A writable view of a read-only buffer's bytes: viper stores into bytes too."""
    if isinstance(buf, bytes) and len(buf) < 2:
        return view  # CPython shares these objects; writing one would corrupt them all
    alias = (ctypes.c_ubyte * len(view)).from_address(_host_address(buf))
    return memoryview(alias).cast("B")


def _region_of(buf):
    for start, end, view, known in _regions:
        if known is buf:
            return start, view
    if type(buf) is _ObjectArray:
        view = _ObjectWords(buf)
        start = _allocate(len(view))
    elif type(buf) is memoryview and buf.obj is not None:
        # A memoryview shares its parent's bytes and, on a board, its items pointer:
        # give it the matching place inside the parent's region.
        parent_start, parent_view = _region_of(buf.obj)
        offset = _host_address(buf) - _host_address(buf.obj)
        size = buf.nbytes
        if not 0 <= offset <= offset + size <= len(parent_view):
            raise TypeError("viper: a memoryview that is not inside its parent's bytes")
        start, view = parent_start + offset, parent_view[offset : offset + size]
    else:
        view = memoryview(buf).cast("B")
        if view.readonly:
            view = _writable(view, buf)
        start = _allocate(len(view))
    _regions.append((start, start + len(view), view, buf))
    return start, view


class _Pointer:
    width = 1
    signed = False

    def __init__(self, target):
        if isinstance(target, _Pointer):
            self.view, self.base, self.address = target.view, target.base, target.address
            return
        if isinstance(target, int):
            target = int(target) & _MASK  # an address is the 32 bits of a register
            for start, end, view, _ in _regions:
                if start <= target <= end:
                    self.view, self.base, self.address = view, start, target
                    return
            # Any int makes a pointer (viper only relabels the word, so a kernel may
            # keep a plain value in a pointer-typed local); an access through it fails.
            self.view, self.base, self.address = None, target, target
            return
        self.base, self.view = _region_of(target)
        self.address = self.base

    def _offset(self, index):
        if self.view is None:
            raise IndexError("viper: address 0x%x is in no buffer" % self.address)
        offset = self.address - self.base + _wrap(index) * self.width
        if offset < 0 or offset + self.width > len(self.view):
            raise IndexError(
                "viper: out-of-bounds %s access at byte %d of a %d-byte buffer"
                % (type(self).__name__, offset, len(self.view))
            )
        return offset

    def __getitem__(self, index):
        offset = self._offset(index)
        data = self.view[offset : offset + self.width]
        return int.from_bytes(data, "little", signed=self.signed)

    def __setitem__(self, index, value):
        offset = self._offset(index)
        value = int(value) & ((1 << (8 * self.width)) - 1)
        self.view[offset : offset + self.width] = value.to_bytes(self.width, "little")

    def __int__(self):
        return _wrap(self.address)

    __index__ = __int__


class ptr8(_Pointer):
    width = 1


class ptr16(_Pointer):
    width = 2


class ptr32(_Pointer):
    width = 4
    signed = True


class ptr(ptr8):
    pass


def _int(value):
    """viper's int(x): a pointer's address, or an int truncated to a machine word."""
    if isinstance(value, _Pointer):
        return _wrap(value.address)
    return _wrap(_object_int(value))


def _object_int(value):
    """An object made a native int as mp_obj_get_int_truncated does: ints and bools only."""
    if not isinstance(value, int):
        raise TypeError("can't convert %s to int" % type(value).__name__)
    return value


# Made-up addresses of type objects, as word 0 of an instance's header holds them:
# nonzero, one per type, stable for the whole run.
_TYPE_WORDS = {array: 0x3F400010, bytearray: 0x3F400020, memoryview: 0x3F400030, bytes: 0x3F400040}
_BYTEARRAY_TYPECODE = 1
_WRITABLE_FLAG = 0x80
# Immediate objects (py/obj.h, representation A): not pointers, so their bits are
# never a multiple of 4.
_IMMEDIATES = {None: 6, False: 14, True: 30}


def _type_word(kind):
    if issubclass(kind, array) or kind is _ObjectArray:
        kind = array  # array.array as this module makes it, and its 'O' arrays
    if kind not in _TYPE_WORDS:
        _TYPE_WORDS[kind] = 0x3F400040 + 16 * len(_TYPE_WORDS)
    return _TYPE_WORDS[kind]


def _raw(obj):
    """The 32 bits a MicroPython object is on a 32-bit port: its header's address,
    or the bits of an immediate object (an int n is 2 * n + 1)."""
    if type(obj) is bool or obj is None:
        return _IMMEDIATES[obj]
    if type(obj) is int:
        return (2 * obj + 1) & _MASK
    if isinstance(obj, type):
        return _type_word(obj)
    return _header(obj)


def _id(obj):
    """viper's id(x) on a 32-bit port (py/modbuiltins.c): an immediate object's bits
    (a small int); an object's address as a small int when it is below 0x80000000,
    which keeps 31 bits (bit 30 becomes the sign: 0x40000000 and up come out
    negative); from 0x80000000 on, a long int (on a board, one allocated per call)."""
    bits = _raw(obj)
    if bits & 3:
        return _wrap(bits)  # mp_obj_new_int of the word
    if bits < 0x80000000:
        return ((bits + (1 << 30)) & ((1 << 31) - 1)) - (1 << 30)
    return bits


def _header(obj):
    """The address of obj's object header, as a 32-bit port lays it out.

    Every object gets a header of four words in the simulated address space, for the
    outermost viper call (the same object keeps its header throughout it): word 0 the
    address of its type. Arrays, bytearrays and memoryviews follow py/objarray.h:
    word 1 the typecode in its low 8 bits (a memoryview adds 0x80 when writable; a
    bytearray and a memoryview of one have typecode 1) with the upper 24 bits `free`
    (for a memoryview, its offset in elements into its parent, kept to 24 bits), word
    2 the length in elements, word 3 the items pointer (for a memoryview, its
    parent's: the data starts `free` elements further on). bytes follows py/objstr.h:
    word 1 the hash (0 here), word 2 the length, word 3 the data pointer. Other objects
    have zeros there.
    """
    known = _headers.get(id(obj))
    if known is not None:
        return known[0]
    kind = type(obj)
    free = typecode = length = items = 0
    if isinstance(obj, array):
        typecode, length, items = ord(obj.typecode), len(obj), _region_of(obj)[0]
    elif kind is _ObjectArray:
        typecode, length, items = ord("O"), len(obj), _region_of(obj)[0]
    elif kind is bytearray:
        typecode, length, items = _BYTEARRAY_TYPECODE, len(obj), _region_of(obj)[0]
    elif kind is bytes:
        length, items = len(obj), _region_of(obj)[0]
    elif kind is memoryview:
        data, _ = _region_of(obj)
        parent = obj.obj
        items, _ = _region_of(parent)
        typecode = _BYTEARRAY_TYPECODE if type(parent) is bytearray else ord(obj.format[-1])
        if not obj.readonly:
            typecode |= _WRITABLE_FLAG
        free = ((data - items) & _MASK) // obj.itemsize
        length = len(obj)
    fields = (_type_word(kind), typecode | (free & 0xFFFFFF) << 8, length, items)
    header = bytearray(struct.pack("<IIII", *fields))
    address = _allocate(len(header))
    _regions.append((address, address + len(header), memoryview(header), header))
    _headers[id(obj)] = (address, obj)  # obj kept: its id() is not reused during the call
    return address


class _ObjectArray:
    """MicroPython's array('O'): each item is a raw object pointer, one word.

    Python sees the objects; a viper pointer made from it reads the words they are
    (see _raw), as they are when read. Stores through a pointer are refused: viper
    cannot store an object there either.
    """

    typecode = "O"
    itemsize = 4

    def __init__(self, items=()):
        self._items = list(items)

    def __len__(self):
        return len(self._items)

    def __getitem__(self, index):
        return self._items[index]

    def __setitem__(self, index, value):
        self._items[index] = value


_ObjectArray.__name__ = _ObjectArray.__qualname__ = "array"


class _ObjectWords:
    """The bytes a pointer to an _ObjectArray reads: the raw words of its objects."""

    def __init__(self, objects):
        self.objects = objects

    def __len__(self):
        return 4 * len(self.objects)

    def __getitem__(self, part):
        data = b"".join(_raw(obj).to_bytes(4, "little") for obj in self.objects._items)
        return data[part]

    def __setitem__(self, part, value):
        raise TypeError("viper: a store through a pointer into an array('O')")


class _Array(array):
    """array.array, which also makes MicroPython's array('O') (see _ObjectArray)."""

    __slots__ = ()

    def __new__(cls, typecode, *initializer):
        if typecode == "O":
            return _ObjectArray(*initializer)
        return array.__new__(cls, typecode, *initializer)


_Array.__name__ = _Array.__qualname__ = "array"
_Array.__module__ = "array"
_array_module.array = _Array
