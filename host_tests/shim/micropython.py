"""A CPython stand-in for MicroPython's `micropython` module, with the ESP32's viper semantics.

`@micropython.viper` rewrites the decorated function's source so that it computes
what a 32-bit ESP32 computes:
- every int operation wraps to int32 (two's complement); shift counts are taken mod 32;
- `ptr8`/`ptr16` loads are unsigned, `ptr32` loads are signed int32; stores keep the
  low 8/16/32 bits;
- pointers have addresses: `int(p)` gives one and `ptr8(address)` finds the buffer
  again, in a simulated address space where every access is bounds-checked
  (an out-of-bounds access raises IndexError: on a board it would corrupt memory);
- int literals outside +-2**30 are refused when the function is defined, as
  mpy-cross refuses them;
- arguments annotated `int` are truncated to a machine word, and a `-> int`
  result too.
Importing this module puts `ptr`, `ptr8`, `ptr16`, `ptr32` and `uint` into builtins,
because CPython evaluates `a: ptr8` annotations when the function is defined.
"""

import ast
import builtins
import functools
import inspect
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
# made, and keep them for as long as the outermost viper call runs.
_FIRST_ADDRESS = 0x3FFB0000
_regions = []  # (start, end, memoryview of its bytes, the buffer object)
_depth = 0


def _region_of(buf):
    for start, end, view, known in _regions:
        if known is buf:
            return start, view
    view = memoryview(buf).cast("B")
    start = _regions[-1][1] + 64 if _regions else _FIRST_ADDRESS
    start = (start + 15) & ~15
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
            for start, end, view, _ in _regions:
                if start <= target <= end:
                    self.view, self.base, self.address = view, start, target
                    return
            raise IndexError("viper: address 0x%x is in no buffer" % target)
        self.base, self.view = _region_of(target)
        self.address = self.base

    def _offset(self, index):
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
        return self.address

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
    pass


for _name in ("ptr", "ptr8", "ptr16", "ptr32", "uint"):
    setattr(builtins, _name, globals()[_name])


# --- the rewrite ---------------------------------------------------------------------


def _int(value):
    """viper's int(x): a pointer's address, or an int truncated to a machine word."""
    if isinstance(value, _Pointer):
        return value.address
    return _wrap(value)


def _binop(op, a, b):
    a, b = _wrap(a), _wrap(b)
    if op == "<<":
        return _wrap(a << (b & 31))
    if op == ">>":
        return a >> (b & 31)
    if op in ("//", "%") and b == 0:
        raise ZeroDivisionError("viper: division by zero (an ESP32 would not stop here)")
    return _wrap(_OPS[op](a, b))


_OPS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "//": lambda a, b: a // b,
    "%": lambda a, b: a % b,
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
    def __init__(self, name):
        self.name = name

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
        if isinstance(node.func, ast.Name) and node.func.id == "int":
            node.func = ast.Name("_viper_int", ast.Load())
        return node


def _argument(annotation, value):
    if annotation in (ptr, ptr8, ptr16, ptr32):
        if value is None:
            raise TypeError("viper: can't convert None to a pointer")
        return annotation(value)
    if annotation is int:
        return _wrap(value)
    return value


def viper(function):
    source = textwrap.dedent(inspect.getsource(function))
    tree = ast.parse(source)
    ast.increment_lineno(tree, function.__code__.co_firstlineno - 1)
    definition = tree.body[0]
    definition.decorator_list = []
    _Rewrite(function.__name__).visit(definition)
    ast.fix_missing_locations(tree)
    namespace = function.__globals__
    namespace.setdefault("_viper_binop", _binop)
    namespace.setdefault("_viper_int", _int)
    code = compile(tree, inspect.getsourcefile(function), "exec")
    scope = {}
    exec(code, namespace, scope)
    rewritten = scope[function.__name__]
    signature = inspect.signature(function)
    annotations = [p.annotation for p in signature.parameters.values()]
    returns_int = signature.return_annotation is int

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
                _regions.clear()
        return _wrap(result) if returns_int else result

    call.viper_source = source
    return call
