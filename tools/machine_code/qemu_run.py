#!/usr/bin/env python3
"""Run viper functions' machine code bare-metal under QEMU, many calls per boot.

The functions of a .py file are compiled with ``mpy-cross -march=xtensawin`` (ESP32,
ESP32-S3), ``-march=rv32imc`` (ESP32-C3/C6), ``-march=armv6m`` (RP2040) or
``-march=armv7emsp`` (RP2350); each function's machine code is read out of the .mpy
(tools/machine_code/inspect_native.py) and loaded, with its arguments, into the RAM of a
QEMU machine whose core runs that instruction set:

    xtensawin  qemu-system-xtensa -M sim -cpu sample_controller (windowed ABI, MUL32, DIV32)
    rv32imc    qemu-system-riscv32 -M virt -bios none
    armv6m     qemu-system-arm -M mps2-an385 (Cortex-M3, ARMv7-M: runs ARMv6-M code; the
               driver sets CCR.UNALIGN_TRP, so unaligned halfword and word accesses fault
               as on the RP2040's Cortex-M0+; that the code holds ARMv6-M instructions
               only is checked statically, host_tests/machine_code/test_inspect_native.py)
    armv7emsp  qemu-system-arm -M mps2-an386 (Cortex-M4, ARMv7E-M; the RP2350's
               Cortex-M33, ARMv8-M Mainline, runs the same code: MicroPython's rp2
               port reports armv7emsp for it)

A small driver (tools/machine_code/drivers/<arch>_driver.S, assembled here with the cross binutils)
calls each function as MicroPython calls a native function, and answers the few
runtime calls viper code makes through MicroPython's fun table: object/native
conversions are the identity (so buffer arguments are raw addresses and int
arguments raw ints, and the return value is the raw native int), ``//`` and ``%``
follow py/smallint.c, and any other entry stops the run with an error. Every
executed instruction of a call is counted: QEMU's -icount makes its virtual clock
advance a fixed time per instruction, and the driver reads a counter of that clock
around each call (Xtensa CCOUNT; RISC-V instret; on the Cortex-M boards the CMSDK
timer 0 at 25 MHz, 25.6 ticks per instruction at -icount shift=10, as QEMU models no
DWT cycle counter). A buffer argument is copied
for its call alone, unless it is a Shared object: that is placed once per boot, so a
sequence of calls can run on one memory as the interpreter ran it (a model's token:
tools/machine_code/token_counts.py); functions of several modules go in one boot with
NativeCode.merge().

RAM layout (offsets from the RAM base; LAYOUT below, passed to the assembler):

    0x0000  exception vectors               0x1800  fun table (128 entries)
    0x0800  driver entry, stubs             0x1a00  None, False, True marker words
    0x1000  trap stubs, 16 bytes each       0x8000  stack top, and the job:
    job     header (16 words), call records (6 words), context, function objects,
            machine code, argument arrays, buffers with guard bytes on both sides

    header  magic, n_calls, calls, length, status, detail, address, current,
            null2, null10 (calibration), then unused
    call    function object, code address, nargs, args address, returned, counter

The driver writes the whole job back to the semihosting console (QEMU's stdout).

    python tools/machine_code/qemu_run.py [--arch ARCH|all] FILE.py FUNCTION ARG...
    (an ARG is an int, or b:HEX / i:INT,INT,... for an int8 or int32 buffer)
"""

import argparse
import hashlib
import shutil
import struct
import subprocess
import sys
import tempfile
from collections import namedtuple
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine_code import inspect_native, mpy_file

ROOT = Path(__file__).resolve().parents[2]
DRIVERS = Path(__file__).resolve().parent / "drivers"
BUILD = ROOT / "build" / "qemu"
HEADER = ("magic", "ncalls", "calls", "length", "status", "detail", "address", "current")
HEADER += ("null2", "null10")
CALL = ("fun", "code", "nargs", "args", "ret", "count")
HEADER_WORDS, MAGIC = 16, 0x4A4F4221
STATUS = {0: "never finished", 1: "done", 2: "exception", 3: "unknown fun-table entry"}
GUARD = b"\xa5" * 16
LAYOUT = {
    "START": 0x800,
    "TRAPS": 0x1000,
    "FUNTAB": 0x1800,
    "CONSTS": 0x1A00,
    "STACK_TOP": 0x8000,
    "JOB": 0x8000,
}
CONSTANTS = {
    "TRAP_SIZE": 16,
    "FUNTAB_ENTRIES": 128,
    "C_SIZE": 4 * len(CALL),
    "STATUS_DONE": 1,
    "STATUS_EXCEPTION": 2,
    "STATUS_UNKNOWN_ENTRY": 3,
    **{f"H_{k.upper()}": 4 * i for i, k in enumerate(HEADER)},
    **{f"C_{k.upper()}": 4 * i for i, k in enumerate(CALL)},
}


@dataclass(frozen=True)
class Arch:
    name: str
    ram: int
    qemu: tuple
    binutils: str  # prefix of the cross assembler, linker, objcopy
    as_flags: tuple
    ld_flags: tuple
    counts_per_instruction: Fraction  # counter ticks per executed instruction
    driver: str  # drivers/<driver>_driver.S
    packages: tuple  # the Debian packages of the QEMU and the binutils above
    defines: tuple = ()  # (symbol, value) pairs more for the assembler
    vectors_at_zero: bool = False  # boots from a vector table at 0 (Cortex-M), not a set PC

    def tools(self):
        return [self.qemu[0]] + [self.binutils + t for t in ("as", "ld", "objcopy")]


ARCHS = {
    # sample_controller's CCOUNT runs at 10 MHz; -icount shift=10 is 1024 ns per instruction.
    "xtensawin": Arch(
        "xtensawin",
        0x60000000,
        ("qemu-system-xtensa", "-M", "sim", "-cpu", "sample_controller", "-icount", "shift=10"),
        "xtensa-lx106-elf-",
        ("--text-section-literals",),
        (),
        Fraction(1024 * 10, 1000),
        "xtensa",
        ("qemu-system-misc", "binutils-xtensa-lx106"),
    ),
    # With -icount, the instret counter counts executed instructions.
    "rv32imc": Arch(
        "rv32imc",
        0x80000000,
        ("qemu-system-riscv32", "-M", "virt", "-bios", "none", "-icount", "shift=0"),
        "riscv64-unknown-elf-",
        ("-march=rv32imc_zicsr", "-mabi=ilp32"),
        ("-m", "elf32lriscv"),
        Fraction(1),
        "rv32",
        ("qemu-system-misc", "binutils-riscv64-unknown-elf"),
    ),
    # The MPS2 boards' 16 MB PSRAM at 0x21000000; their timer 0 counts at 25 MHz, so
    # -icount shift=10 (1024 ns per instruction) gives 25.6 ticks per instruction.
    "armv6m": Arch(
        "armv6m",
        0x21000000,
        ("qemu-system-arm", "-M", "mps2-an385", "-icount", "shift=10"),
        "arm-none-eabi-",
        ("-mcpu=cortex-m3",),
        (),
        Fraction(1024 * 25, 1000),
        "arm",
        ("qemu-system-arm", "binutils-arm-none-eabi"),
        (("ALIGNMENT_TRAP", 1),),
        True,
    ),
    "armv7emsp": Arch(
        "armv7emsp",
        0x21000000,
        ("qemu-system-arm", "-M", "mps2-an386", "-icount", "shift=10"),
        "arm-none-eabi-",
        ("-mcpu=cortex-m4",),
        (),
        Fraction(1024 * 25, 1000),
        "arm",
        ("qemu-system-arm", "binutils-arm-none-eabi"),
        (("ALIGNMENT_TRAP", 0),),
        True,
    ),
}


def install_hint(*archs) -> str:
    """The command that installs what the archs (default: every arch) need, on Debian/Ubuntu."""
    chosen = [ARCHS[a] for a in archs] or ARCHS.values()
    packages = dict.fromkeys(p for a in chosen for p in a.packages)
    return f"apt-get install {' '.join(packages)} (or: make qemu-tools)"


INSTALL_HINT = install_hint()

Call = namedtuple("Call", "function args")  # args: ints, buffers (bytes-like) and Shared
Result = namedtuple("Result", "ret buffers instructions damaged")
# ret: the returned native int (None for a function returning None); buffers: bytes of
# each buffer argument after the call, in order (a Shared one: after the job's last
# call); damaged: indices of buffers whose guard bytes changed (a write outside the buffer).


class Shared:
    """A buffer placed once per job: every argument that is this object, in one call or
    in several, is the same memory, as one MicroPython object passed to several calls
    (or twice to one) is. Calls see each other's writes, in order. A plain bytes-like
    argument is a fresh copy for its call alone."""

    def __init__(self, data):
        self.data = bytes(data)


class QemuError(RuntimeError):
    """QEMU or the driver could not run the calls."""


def missing_tools(arch=None) -> list:
    """Programs needed for arch (default: every arch) that are not on PATH."""
    names = [t for a in ([ARCHS[arch]] if arch else ARCHS.values()) for t in a.tools()]
    return [t for t in dict.fromkeys(names) if not shutil.which(t)]


def _symbols(arch: Arch) -> dict:
    addresses = {k: arch.ram + v for k, v in LAYOUT.items()}
    return {**addresses, "RAM": arch.ram, **CONSTANTS, **dict(arch.defines)}


def build_driver(arch_name: str, build_dir=BUILD) -> bytes:
    """The driver image for arch (assembled once per source and layout, then cached)."""
    arch = ARCHS[arch_name]
    src = DRIVERS / f"{arch.driver}_driver.S"
    syms = _symbols(arch)
    key = hashlib.sha256(src.read_bytes() + repr(sorted(syms.items())).encode()).hexdigest()
    out = Path(build_dir) / f"{arch_name}-{key[:16]}.bin"
    if out.exists():
        return out.read_bytes()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        obj, elf = Path(tmp) / "driver.o", Path(tmp) / "driver.elf"
        defs = [a for k, v in syms.items() for a in ("--defsym", f"{k}={v}")]
        for cmd in (
            [arch.binutils + "as", *arch.as_flags, *defs, "-o", str(obj), str(src)],
            [arch.binutils + "ld", *arch.ld_flags, f"-Ttext={arch.ram:#x}", "-e", "_start"]
            + ["-o", str(elf), str(obj)],
            [arch.binutils + "objcopy", "-O", "binary", str(elf), str(out)],
        ):
            res = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if res.returncode:
                raise QemuError(f"{cmd[0]} failed:\n{res.stderr or res.stdout}")
    data = out.read_bytes()
    if len(data) > LAYOUT["FUNTAB"]:
        raise QemuError(f"driver image is {len(data)} bytes, past the fun table")
    return data


class NativeCode(dict):
    """{name: machine code}, and fun_table: the slot of the module's constant objects
    where the code looks up MicroPython's function table (slots: per function, for
    code merged from several modules, see merge())."""

    fun_table = 0

    def __init__(self, *args):
        super().__init__(*args)
        self.slots = {}

    def slot(self, name):
        return self.slots.get(name, self.fun_table)

    @staticmethod
    def merge(*codes):
        """The functions of several modules in one job; each keeps its module's slot."""
        merged = NativeCode()
        for code in codes:
            for name in code:
                if name in merged:
                    raise QemuError(f"two modules define {name!r}")
                merged[name] = code[name]
                merged.slots[name] = code.slot(name) if isinstance(code, NativeCode) else 0
        return merged


def native_code(source, arch: str, build_dir=None) -> NativeCode:
    """{name: machine code} of every viper/native function of a .py file, for arch."""
    mpy_arch, root = mpy_file.read_mpy(inspect_native.compile_py(source, arch, build_dir))
    if mpy_arch != arch:
        raise QemuError(f"{source}: mpy-cross produced {mpy_arch} code, not {arch}")
    code = NativeCode()
    code.fun_table = root.fun_table
    for name, rc in mpy_file.native_functions(root):
        if rc.data_size:
            raise QemuError(f"{name}: rodata/bss are not supported by this runner")
        code[name] = rc.code
    return code


class _Image:
    """The job: bytes to load at its base address, allocated upwards."""

    def __init__(self, base: int):
        self.base, self.data = base, bytearray()

    def put(self, blob: bytes, align: int = 8) -> int:
        self.data += bytes(-len(self.data) % align)
        addr = self.base + len(self.data)
        self.data += blob
        return addr

    def word(self, addr: int, value: int):
        struct.pack_into("<I", self.data, addr - self.base, value & 0xFFFFFFFF)


def _build_job(arch: Arch, code: dict, calls: list):
    job = _Image(arch.ram + LAYOUT["JOB"])
    job.put(bytes(4 * HEADER_WORDS))
    records = job.put(bytes(4 * len(CALL) * len(calls)))
    contexts = {}  # fun-table slot -> the context of functions whose module has it there

    def context(slot):  # the other constant objects are left 0
        if slot not in contexts:
            table = struct.pack(f"<{slot + 1}I", *[0] * slot, arch.ram + LAYOUT["FUNTAB"])
            consts = (0, 0, arch.ram + LAYOUT["CONSTS"], job.put(table))
            contexts[slot] = job.put(struct.pack("<4I", *consts))
        return contexts[slot]

    funs, placed = {}, {}
    for name in dict.fromkeys(c.function for c in calls):
        if name not in code:
            raise QemuError(f"no machine code for {name!r} (have: {', '.join(code)})")
        slot = code.slot(name) if isinstance(code, NativeCode) else 0
        fun = job.put(struct.pack("<4I", 0, context(slot), 0, 0))
        funs[name] = (fun, job.put(code[name], 16))
        placed[funs[name][1]] = name
    shared = {}  # id of a Shared argument -> its (address, size)
    buffers = []  # per call: [(address, size)]
    for i, call in enumerate(calls):
        words, spans = [], []
        for arg in call.args:
            if isinstance(arg, int):
                words.append(arg)
                continue
            if isinstance(arg, Shared):
                if id(arg) not in shared:
                    addr = job.put(GUARD + arg.data + GUARD) + len(GUARD)
                    shared[id(arg)] = (addr, len(arg.data))
                addr, size = shared[id(arg)]
            else:
                blob = bytes(arg)
                addr = job.put(GUARD + blob + GUARD) + len(GUARD)
                size = len(blob)
            words.append(addr)
            spans.append((addr, size))
        args = job.put(struct.pack(f"<{len(words)}I", *(w & 0xFFFFFFFF for w in words)) or b"")
        fun, entry = funs[call.function]
        for k, value in enumerate((fun, entry, len(words), args, 0, 0)):
            job.word(records + 4 * (len(CALL) * i + k), value)
        buffers.append(spans)
    header = (MAGIC, len(calls), records, len(job.data))
    for k, value in enumerate(header):
        job.word(job.base + 4 * k, value)
    return job, buffers, placed


def _where(addr: int, arch: Arch, placed: dict, code: dict) -> str:
    if arch.name == "xtensawin":  # a return address carries the window increment on top
        addr = addr & 0x3FFFFFFF | arch.ram & 0xC0000000
    for start, name in placed.items():
        if start <= addr < start + len(code[name]):
            return f"{name}+{addr - start:#x}"
    if arch.ram <= addr < arch.ram + LAYOUT["FUNTAB"]:
        return f"driver+{addr - arch.ram:#x}"
    return f"{addr:#x}"


# Cortex-M: the bits of the configurable fault status register (CFSR) a fault sets.
CFSR_BITS = {0: "IACCVIOL", 1: "DACCVIOL", 8: "IBUSERR", 9: "PRECISERR", 10: "IMPRECISERR",
             16: "UNDEFINSTR", 17: "INVSTATE", 18: "INVPC", 19: "NOCP", 24: "UNALIGNED",
             25: "DIVBYZERO"}  # fmt: skip


def _cause(arch: Arch, detail: int) -> str:
    """The exception's cause as the driver reported it: the cause register's value
    (Xtensa EXCCAUSE, RISC-V mcause), or the CFSR's set bits on a Cortex-M."""
    if arch.driver != "arm":
        return f"cause {detail}"
    names = [name for bit, name in CFSR_BITS.items() if detail >> bit & 1]
    return f"cause CFSR {detail:#010x}" + (f" {'|'.join(names)}" if names else "")


def run(arch_name: str, code: dict, calls: list, timeout: float = 60, build_dir=BUILD):
    """Make every call on QEMU in one boot; return one Result per call, in order."""
    arch = ARCHS[arch_name]
    missing = missing_tools(arch_name)
    if missing:
        raise QemuError(f"not installed: {', '.join(missing)}; {install_hint(arch_name)}")
    driver = build_driver(arch_name, build_dir)
    job, buffers, placed = _build_job(arch, code, calls)
    with tempfile.TemporaryDirectory() as tmp:
        drv, img = Path(tmp) / "driver.bin", Path(tmp) / "job.bin"
        drv.write_bytes(driver)
        img.write_bytes(job.data)
        cmd = [
            *arch.qemu,
            *("-nodefaults", "-display", "none", "-monitor", "none", "-serial", "none"),
            *("-semihosting-config", "enable=on,target=native"),
            *("-device", f"loader,file={drv},addr={arch.ram:#x}"),
            *("-device", f"loader,file={img},addr={job.base:#x}"),
        ]
        if arch.vectors_at_zero:  # the image starts with its vector table
            cmd += ["-device", f"loader,file={drv},addr=0"]
        else:
            cmd += ["-device", f"loader,addr={arch.ram + LAYOUT['START']:#x},cpu-num=0"]
        try:
            res = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise QemuError(
                f"{arch_name}: no answer within {timeout} s (a call that never returns?)"
            )
    out = res.stdout
    if len(out) != len(job.data) or out[:4] != job.data[:4]:
        said = res.stderr.decode(errors="replace").splitlines()
        said = [line for line in said if not line.endswith("has no peer")]  # MPS2's NIC
        raise QemuError(
            f"{arch_name}: QEMU exited with {res.returncode} and no job back:\n" + "\n".join(said)
        )
    head = dict(zip(HEADER, struct.unpack_from(f"<{len(HEADER)}I", out)))
    if head["status"] != 1:
        current = (head["current"] - (job.base + 4 * HEADER_WORDS)) // (4 * len(CALL))
        what = STATUS.get(head["status"], head["status"])
        detail = f"entry {head['detail']}" if head["status"] == 3 else _cause(arch, head["detail"])
        raise QemuError(
            f"{arch_name}: {what} ({detail}, at {_where(head['address'], arch, placed, code)})"
            f" in call {current} ({calls[current].function})"
        )
    null = head["null2"]
    if round((head["null10"] - null) / arch.counts_per_instruction) != 8:
        raise QemuError(f"{arch_name}: the instruction counter does not count instructions")
    results = []
    for i, spans in enumerate(buffers):
        rec = dict(zip(CALL, struct.unpack_from("<6I", out, head["calls"] - job.base + 24 * i)))
        ret = rec["ret"] - (rec["ret"] >> 31 << 32)
        rets_none = rec["ret"] == arch.ram + LAYOUT["CONSTS"]
        count = round(((rec["count"] - null) & 0xFFFFFFFF) / arch.counts_per_instruction) + 2
        bufs, damaged = [], []
        for k, (addr, size) in enumerate(spans):
            pos = addr - job.base
            bufs.append(bytes(out[pos : pos + size]))
            if (
                out[pos - len(GUARD) : pos] + out[pos + size : pos + size + len(GUARD)]
                != GUARD * 2
            ):
                damaged.append(k)
        results.append(Result(None if rets_none else ret, bufs, count, damaged))
    return results


def _parse_arg(text: str):
    if text.startswith("b:"):
        return bytes.fromhex(text[2:])
    if text.startswith("i:"):
        values = [int(v, 0) for v in text[2:].split(",") if v]
        return struct.pack(f"<{len(values)}i", *values)
    return int(text, 0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", metavar="FILE.py")
    ap.add_argument("function")
    ap.add_argument("args", nargs="*", help="int, b:HEX (int8 buffer), i:1,-2 (int32 buffer)")
    ap.add_argument("--arch", choices=[*ARCHS, "all"], default="all")
    args = ap.parse_args(argv)
    call = Call(args.function, [_parse_arg(a) for a in args.args])
    try:
        for arch in list(ARCHS) if args.arch == "all" else [args.arch]:
            res = run(arch, native_code(args.file, arch), [call])[0]
            print(f"[{arch}] returned {res.ret}, {res.instructions} instructions")
            for k, buf in enumerate(res.buffers):
                print(
                    f"  buffer {k}: {buf.hex()}"
                    + ("  (guard damaged)" if k in res.damaged else "")
                )
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
