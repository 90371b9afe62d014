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
- objects have simulated 32-bit headers; `id(x)` in a viper function gives what a
  32-bit port's id() gives, and `array('O')` holds raw object pointers as MicroPython's
  does (the memory, pointers and objects are in viper_memory.py).
Importing this module puts `ptr`, `ptr8`, `ptr16`, `ptr32` and `uint` into builtins,
because CPython evaluates `a: ptr8` annotations when the function is defined, and
makes `array.array` accept the typecode 'O'.
"""

import ast
import builtins
import functools
import inspect
import textwrap

from viper_memory import (  # noqa: F401  (_host_address: for the tests)
    _MASK,
    _SIGN,
    _host_address,
    _id,
    _int,
    _object_int,
    _Pointer,
    _reset,
    _wrap,
    ptr,
    ptr8,
    ptr16,
    ptr32,
)

_LITERAL_LIMIT = 1 << 30
_depth = 0  # nesting of viper calls: the memory is reset when the outermost returns


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
