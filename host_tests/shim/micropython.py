"""A CPython stand-in for MicroPython's `micropython` module, with the ESP32's viper semantics.

`@micropython.viper` rewrites the decorated function's source so that it computes
what a 32-bit ESP32 computes:
- every int operation wraps to int32 (two's complement); a shift count outside 0..31
  is an error (Xtensa and RISC-V take it mod 32, ARM Thumb gives 0: no portable answer);
- `ptr8`/`ptr16` loads are unsigned, `ptr32` loads are signed int32; stores keep the
  low 8/16/32 bits;
- pointers have addresses: `int(p)` gives one (a signed int32, as a 32-bit register
  holds it) and `ptr8(address)` finds the buffer again, in a simulated 32-bit address
  space where every access is bounds-checked (an out-of-bounds access raises
  IndexError: on a board it would corrupt memory); a pointer made from an int inside no
  buffer is only that int until it is accessed. Buffers are placed in turn in three
  ranges: below 0x40000000 (the ESP32s), 0x40000000-0x7FFFFFFF (the ESP32-C6; regions
  there cross into 0x80000000 as the heap grows) and from 0xC0000000 (32-bit Linux,
  SDRAM on other boards);
- int literals outside +-2**30 are refused when the function is defined, as
  mpy-cross refuses them;
- arguments annotated `int` are truncated to a machine word, and a `-> int`
  result too; anything but an int or a bool there is a TypeError, as on a board;
- `//` and `%` follow MicroPython's C helpers (py/smallint.c) step by step in
  int32, so they overflow near -2**31 as a board does; a zero divisor raises
  ZeroDivisionError (a board does not stop);
- `uint` is the same 32 bits seen unsigned: `uint(x)`, `uint` arguments and
  `-> uint` results; the type of a binary operation follows its left operand,
  `>>` on a uint is logical, comparing a uint with an int raises TypeError
  (viper refuses it when compiling), and so do `//` and `%` on a uint;
- a store through a pointer into a `bytes` object happens, as on a board
  (viper does not know bytes are immutable); only 0- and 1-byte bytes objects,
  which CPython shares, stay read-only;
- objects have simulated 32-bit headers (see `_header`); `id(x)` in a viper function
  gives what a 32-bit port's id() gives (see `_id`), and `array('O')` holds raw object
  pointers as MicroPython's does (see `_ObjectArray`).
Importing this module puts `ptr`, `ptr8`, `ptr16`, `ptr32` and `uint` into builtins,
because CPython evaluates `a: ptr8` annotations when the function is defined, and
makes `array.array` accept the typecode 'O'.
"""

from array import array
import array as _array_module
import ast
import builtins
import ctypes
import functools
import inspect
import struct
import textwrap

_BITS = 32
_MASK = (1 << _BITS) - 1
_SIGN = 1 << (_BITS - 1)
_LITERAL_LIMIT = 1 << 30


def _wrap(value):
    """The int32 that a 32-bit register holds after computing value."""
    return ((int(value) + _SIGN) & _MASK) - _SIGN


def const(value):
    return value


def native(function):
    return function


def heap_lock():
    return 0


def heap_unlock():
    return 0


def mem_info(*args):
    pass


def opt_level(*args):
    return 0


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
_depth = 0


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


class uint(int):
    """A viper uint: the 32 bits of a register, read as 0 .. 2**32-1."""

    __slots__ = ()

    def __new__(cls, value=0):
        return int.__new__(cls, int(value) & _MASK)

    def _same_kind(self, other):
        if type(other) is not uint:
            raise TypeError("viper: comparison of int and uint")

    def __lt__(self, other):
        self._same_kind(other)
        return int(self) < int(other)

    def __le__(self, other):
        self._same_kind(other)
        return int(self) <= int(other)

    def __gt__(self, other):
        self._same_kind(other)
        return int(self) > int(other)

    def __ge__(self, other):
        self._same_kind(other)
        return int(self) >= int(other)

    def __eq__(self, other):
        self._same_kind(other)
        return int(self) == int(other)

    def __ne__(self, other):
        self._same_kind(other)
        return int(self) != int(other)

    __hash__ = int.__hash__


for _name in ("ptr", "ptr8", "ptr16", "ptr32", "uint"):
    setattr(builtins, _name, globals()[_name])


# --- the rewrite ---------------------------------------------------------------------


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


def _binop(op, a, b):
    if type(a) is uint:
        return _uint_binop(op, a, b)
    # _wrap, inlined: this runs for every operation of every kernel
    a = ((int(a) + 0x80000000) & 0xFFFFFFFF) - 0x80000000
    b = ((int(b) + 0x80000000) & 0xFFFFFFFF) - 0x80000000
    if op == "<<":
        return _wrap(a << _count(b))
    if op == ">>":
        return a >> _count(b)
    if op == "//":
        return _floor_divide(a, b)
    if op == "%":
        return _modulo(a, b)
    return ((_OPS[op](a, b) + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def _uint_binop(op, a, b):
    """The left operand is a uint, so the result is one (the right one's bits are used)."""
    a, b = int(a), int(b) & _MASK
    if op == ">>":
        return uint(a >> _count(_wrap(b)))  # logical
    if op == "<<":
        return uint(a << _count(_wrap(b)))
    if op in ("//", "%"):
        raise TypeError("viper: div/mod not implemented for uint")
    return uint(_OPS[op](a, b))


def _count(b):
    """A shift count, which must be 0..31 (an int32 b)."""
    if not 0 <= b <= 31:
        raise ValueError(
            "viper: shift count %d is outside 0..31 (Xtensa and RISC-V take it mod 32, "
            "ARM Thumb gives 0)" % b
        )
    return b


def _check_divisor(denom):
    if denom == 0:
        raise ZeroDivisionError("viper: division by zero (an ESP32 would not stop here)")


def _c_divide(num, denom):
    """C's int32 num / denom: truncates toward zero; INT_MIN / -1 wraps to INT_MIN."""
    quotient = abs(num) // abs(denom)
    return _wrap(quotient if (num < 0) == (denom < 0) else -quotient)


def _floor_divide(num, denom):
    """mp_small_int_floor_divide on a 32-bit port, every step in int32."""
    _check_divisor(denom)
    if num >= 0:
        if denom < 0:
            num = _wrap(num + (-denom - 1))
    elif denom >= 0:
        num = _wrap(num + (-denom + 1))
    return _c_divide(num, denom)


def _modulo(dividend, divisor):
    """mp_small_int_modulo on a 32-bit port: C's % (sign of the dividend), then shifted."""
    _check_divisor(divisor)
    dividend = _wrap(dividend - divisor * _c_divide(dividend, divisor))
    if (dividend < 0 and divisor > 0) or (dividend > 0 and divisor < 0):
        dividend = _wrap(dividend + divisor)
    return dividend


_OPS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "&": lambda a, b: a & b,
    "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
}
_SYMBOLS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
}


class _Rewrite(ast.NodeTransformer):
    def __init__(self, name, namespace):
        self.name = name
        self.namespace = namespace  # the module's globals, as the function sees them

    def _call(self, helper, *args):
        return ast.Call(ast.Name(helper, ast.Load()), list(args), [])

    def visit_Constant(self, node):
        if isinstance(node.value, int) and not isinstance(node.value, bool):
            if not -_LITERAL_LIMIT <= node.value < _LITERAL_LIMIT:
                raise SyntaxError(
                    "viper %s: literal %d is outside +-2**30 (mpy-cross refuses it)"
                    % (self.name, node.value)
                )
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if type(node.op) not in _SYMBOLS:
            raise SyntaxError(
                "viper %s: operator %s is not allowed on ints" % (self.name, node.op)
            )
        symbol = ast.Constant(_SYMBOLS[type(node.op)])
        return self._call("_viper_binop", symbol, node.left, node.right)

    def visit_UnaryOp(self, node):
        if isinstance(node.operand, ast.Constant) and isinstance(node.op, ast.USub):
            return self.visit_Constant(ast.copy_location(ast.Constant(-node.operand.value), node))
        self.generic_visit(node)
        if isinstance(node.op, (ast.USub, ast.Invert)):
            raise SyntaxError(
                "viper %s: unary - and ~ are miscompiled by some viper builds; "
                "write 0 - x or x ^ -1" % self.name
            )
        return node

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        target_load = ast.parse(ast.unparse(node.target), mode="eval").body
        value = ast.BinOp(target_load, node.op, node.value)
        assign = ast.Assign([node.target], self.visit_BinOp(value))
        return ast.copy_location(assign, node)

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in _CALLS:
            node.func = ast.Name(_CALLS[node.func.id], ast.Load())
        return node

    def visit_Name(self, node):
        # id taken as a value, or a module global bound to the builtin (_ID = id)
        if isinstance(node.ctx, ast.Load) and (
            node.id == "id" or self.namespace.get(node.id) is builtins.id
        ):
            return ast.copy_location(ast.Name("_viper_id", ast.Load()), node)
        return node


_CALLS = {"int": "_viper_int", "id": "_viper_id"}


def _argument(annotation, value):
    if annotation in (ptr, ptr8, ptr16, ptr32):
        if value is None:
            raise TypeError("viper: can't convert None to a pointer")
        return annotation(value)
    if annotation is int:
        return _wrap(_object_int(value))
    if annotation is uint:
        return uint(_object_int(value))
    return value


def _result(annotation, value):
    if annotation is int:
        return _wrap(value)
    if annotation is uint:
        return int(value) & _MASK
    if type(value) is uint:
        return int(value)
    return value


def viper(function):
    source = textwrap.dedent(inspect.getsource(function))
    tree = ast.parse(source)
    ast.increment_lineno(tree, function.__code__.co_firstlineno - 1)
    definition = tree.body[0]
    definition.decorator_list = []
    namespace = function.__globals__
    _Rewrite(function.__name__, namespace).visit(definition)
    ast.fix_missing_locations(tree)
    namespace.setdefault("_viper_binop", _binop)
    namespace.setdefault("_viper_int", _int)
    namespace.setdefault("_viper_id", _id)
    code = compile(tree, inspect.getsourcefile(function), "exec")
    scope = {}
    exec(code, namespace, scope)
    rewritten = scope[function.__name__]
    signature = inspect.signature(function)
    annotations = [p.annotation for p in signature.parameters.values()]
    returns = signature.return_annotation

    @functools.wraps(function)
    def call(*args):
        global _depth
        if len(args) != len(annotations):
            raise TypeError(
                "%s takes %d positional arguments but %d were given"
                % (function.__name__, len(annotations), len(args))
            )
        _depth += 1
        try:
            result = rewritten(*[_argument(a, v) for a, v in zip(annotations, args)])
        finally:
            _depth -= 1
            if not _depth:
                _reset()
        return _result(returns, result)

    call.viper_source = source
    return call
