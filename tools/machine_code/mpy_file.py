"""Read a .mpy file: its arch, and the raw code of every function with its name.

.mpy v6 layout parsed here (py/persistentcode.c, mpy-cross 1.29 emits v6.3). A vuint is
7 bits per byte, MSB group first, bit 7 set when more bytes follow.

    header   'M', 6, arch << 2 | sub_version, small_int_bits
    tables   vuint n_qstr, vuint n_obj; each qstr: vuint v, v odd -> static qstr v >> 1,
             else v >> 1 bytes + NUL; each obj: type byte (0..4 no payload, 5/6 str/bytes
             vuint len + data + NUL, 7..9 int/float/complex vuint len + text, 10 tuple).
    raw code vuint len << 3 | has_children << 2 | kind (0 bytecode, 1 native, 2 viper, 3 asm)
             fun_data[len]
             native: vuint prelude_offset (machine code is fun_data[:prelude_offset])
             viper/asm: vuint scope_flags (asm: + vuint n_pos_args, vuint type_sig)
             viper: rodata_size if flags & 0x20, bss_size if flags & 0x40, rodata bytes
             has_children: vuint n, then n raw codes (recursively)
             flags & 0x10 (relocations): op bytes until 0xff (mpy-cross never emits these)

Names: bytecode and native code carry a prelude (signature bytes, size bytes, then the
simple name as a qstr-table index). Viper and asm raw codes carry no name, so the parent's
bytecode is decoded and ``MAKE_FUNCTION child_idx ... STORE_NAME qstr`` gives the name;
methods are qualified with their class body's name (``Class.method``).
"""

from dataclasses import dataclass, field

ARCH_IDS = {"xtensawin": 10, "rv32imc": 11, "armv6m": 4, "armv7emsp": 7}  # py/persistentcode.h
KINDS = ("bytecode", "native", "viper", "asm")
# py/makeqstrdata.py static_qstr_list; static qstr N is entry N - 1 (0 is MP_QSTRnull).
STATIC_QSTRS = (
    ["", "__dir__", "\n", " ", "*", "/"]
    + """<module> _ __call__ __class__ __delitem__
__enter__ __exit__ __getattr__ __getitem__ __hash__ __init__ __int__ __iter__ __len__ __main__
__module__ __name__ __new__ __next__ __qualname__ __repr__ __setitem__ __str__ ArithmeticError
AssertionError AttributeError BaseException EOFError Ellipsis Exception GeneratorExit ImportError
IndentationError IndexError KeyError KeyboardInterrupt LookupError MemoryError NameError NoneType
NotImplementedError OSError OverflowError RuntimeError StopIteration SyntaxError SystemExit
TypeError ValueError ZeroDivisionError abs all any append args bool builtins bytearray bytecode
bytes callable chr classmethod clear close const copy count dict dir divmod end endswith eval exec
extend find format from_bytes get getattr globals hasattr hash id index insert int isalpha isdigit
isinstance islower isspace issubclass isupper items iter join key keys len list little locals lower
lstrip main map micropython next object open ord pop popitem pow print range read readinto readline
remove replace repr reverse rfind rindex round rsplit rstrip self send sep set setattr setdefault
sort sorted split start startswith staticmethod step stop str strip sum super throw to_bytes tuple
type update upper utf-8 value values write zip""".split()
)


class MpyError(ValueError):
    """The data is not a .mpy file this reader understands."""


@dataclass
class RawCode:
    kind: str
    code: bytes  # machine code only (empty for bytecode)
    name: str | None = None
    children: list = field(default_factory=list)
    data_size: int = 0  # viper rodata + bss bytes the code expects beside it
    fun_table: int = 0  # the module's root only: where mp_fun_table is in its constant objects


class _Reader:
    def __init__(self, data: bytes, pos: int = 0):
        self.data, self.pos = data, pos

    def bytes(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MpyError("truncated .mpy file")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def uint(self) -> int:
        val, more = 0, True
        while more:
            b = self.bytes(1)[0]
            val, more = val << 7 | b & 0x7F, b & 0x80
        return val


def _prelude(data: bytes, ip: int) -> tuple[int, int]:
    """Skip a bytecode prelude; return (simple-name qstr index, offset of the opcodes)."""
    while data[ip] & 0x80:  # signature: xSSSSEAA, then xFSSKAED continuation bytes
        ip += 1
    ip, n_info, n_cell, n, z = ip + 1, 0, 0, 0, 0x80
    while z & 0x80:  # sizes: xIIIIIIC
        z, ip = data[ip], ip + 1
        n_cell, n_info, n = n_cell | (z & 1) << n, n_info | (z & 0x7E) >> 1 << 6 * n, n + 1
    return _Reader(data, ip).uint(), ip + n_info + n_cell


def _stored_names(data: bytes, qstrs: list) -> dict:
    """Decode bytecode: child index -> name, from MAKE_FUNCTION/CLOSURE ... STORE_NAME."""
    ip, names, pending = _prelude(data, 0)[1], {}, None
    while ip < len(data):
        op, arg, ip = data[ip], None, ip + 1
        fmt = 0x3A4 >> 2 * (op >> 4) & 3  # MP_BC_FORMAT: byte, qstr, var-uint, offset
        if fmt in (1, 2):
            r = _Reader(data, ip)
            arg, ip = r.uint(), r.pos
        elif fmt == 3:
            ip += 1 if data[ip] < 0x80 else 2
        ip += (op & 0x9E) == 0  # MP_BC_MASK_EXTRA_BYTE
        if op in (0x32, 0x33, 0x20, 0x21):  # MAKE_FUNCTION(_DEFARGS), MAKE_CLOSURE(_DEFARGS)
            pending = arg
        elif op in (0x16, 0x17) and pending is not None:  # STORE_NAME, STORE_GLOBAL
            names[pending], pending = qstrs[arg], None
        elif op != 0x34:  # CALL_FUNCTION (a decorator) keeps the function pending
            pending = None
    return names


def _raw_code(r: _Reader, qstrs: list) -> RawCode:
    kind_len = r.uint()
    kind, fun_data, flags = KINDS[kind_len & 3], r.bytes(kind_len >> 3), 0
    rc = RawCode(kind, fun_data)
    if kind == "bytecode":
        rc.code, rc.name = b"", qstrs[_prelude(fun_data, 0)[0]]
    elif kind == "native":
        off = r.uint()
        rc.code, rc.name = fun_data[:off], qstrs[_prelude(fun_data, off)[0]]
    else:
        flags = r.uint()
        if kind == "asm":
            r.uint(), r.uint()  # n_pos_args, type_sig
        rodata = r.uint() if kind == "viper" and flags & 0x20 else 0
        bss = r.uint() if kind == "viper" and flags & 0x40 else 0
        r.bytes(rodata)
        rc.data_size = rodata + bss
    if kind_len & 4:
        rc.children = [_raw_code(r, qstrs) for _ in range(r.uint())]
    while flags & 0x10 and (op := r.bytes(1)[0]) != 0xFF:  # relocations
        if op & 1:
            r.uint()
        if 1 <= op >> 1 <= 5 and op >> 1 & 1:
            r.uint()
    names = _stored_names(fun_data, qstrs) if kind == "bytecode" else {}
    for i, child in enumerate(rc.children):
        child.name = child.name or names.get(i, f"<child{i}>")
    return rc


def read_mpy(data: bytes) -> tuple[str, RawCode]:
    """Parse .mpy v6 data; return (arch name, or 'none' for bytecode only; module raw code)."""
    if len(data) < 4 or data[0] != ord("M"):
        raise MpyError("not a .mpy file (missing 'M' magic byte)")
    if data[1] != 6:
        raise MpyError(f"unsupported .mpy version {data[1]} (this reader handles v6)")
    arch = {0: "none", **{v: k for k, v in ARCH_IDS.items()}}.get(data[2] >> 2, "other")
    r, qstrs = _Reader(data, 4), []
    n_qstr, n_obj = r.uint(), r.uint()
    for _ in range(n_qstr):
        v = r.uint()
        if not v & 1:
            qstrs.append(r.bytes((v >> 1) + 1)[:-1].decode("utf-8", "replace"))
        else:
            qstrs.append(dict(enumerate(STATIC_QSTRS, 1)).get(v >> 1, f"q{v >> 1}"))

    def skip_obj():
        t = r.bytes(1)[0]
        for _ in range(r.uint() if t == 10 else 0):  # tuple
            skip_obj()
        if 5 <= t <= 9:
            r.bytes(r.uint() + (t in (5, 6)))  # str/bytes end with NUL
        return t

    fun_table = 0
    for i in range(n_obj):
        if skip_obj() == 0:  # MP_PERSISTENT_OBJ_FUN_TABLE: native code reaches it here
            fun_table = i
    try:
        root = _raw_code(r, qstrs)
    except IndexError as exc:
        raise MpyError(f"malformed .mpy file ({exc})") from None
    if r.pos != len(data):
        raise MpyError(f"{len(data) - r.pos} unexpected bytes after the raw code tree")
    root.fun_table = fun_table
    return arch, root


def native_functions(rc: RawCode, prefix: str = ""):
    """Yield (qualified name, raw code) for every machine-code function, in file order."""
    qual = rc.name if prefix in ("", "<module>") else f"{prefix}.{rc.name}"
    if rc.kind != "bytecode":
        yield qual, rc
    for child in rc.children:
        yield from native_functions(child, qual)
