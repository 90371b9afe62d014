"""The inner loop of each kernel, static: which loop, its unroll, its instruction count.

    from machine_code import kernel_loops
    kernel_loops.inner_loops("xtensawin")   # {kernel: its inner loop, with muls and unroll}

What `make inspect`'s static table (tools/report/bench.py --loops) and its executed
counts under QEMU (tools/machine_code/qemu_inspect.py) both stand on: the kernels file,
the architectures, the unroll of each kernel, the assumed clock and CPI of the ESP32
estimate, and the text table both print.
"""

from pathlib import Path

from board import boards
from machine_code import inspect_native

KERNELS = Path(boards.SRC) / "_kernels.py"
ARCHES = ("xtensawin", "rv32imc", "armv6m", "armv7emsp")
# the multiply viper emits for `a * b` (Thumb: the 16-bit MULS, on ARMv7E-M too)
MUL = {"xtensawin": "mull", "rv32imc": "mul", "armv6m": "muls", "armv7emsp": "muls"}

# Elements handled per iteration of each kernel's inner loop (the loop picked below).
# Kernel authors: update this when a loop is unrolled or rolled back; missing means 1.
UNROLL = {
    "copy8": 1,
    "fill": 1,
    "dot_rows": 16,
    "softmax_q8": 1,
    "softmax_exp2": 1,
    "weighted_rows": 8,
    "linear_rows": 8,
    "carry16": 1,
    "linear_finish": 1,
}

# The ESP32 estimate. CPI is an assumption, not a measurement: the LX6 issues one
# instruction per cycle at best; the stack loads and stores of viper's spilled locals,
# load-use stalls and taken branches add to that. perf-baseline.md modelled 60-65
# cycles for a 52-55 instruction loop (about 1.2); 1.3 leaves room for the stack traffic.
ESP32_MHZ = 240
CPI = 1.3


def table(head, rows, align):
    """Markdown-like lines, columns padded; 'r' in align right-aligns a column."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells):
        padded = [c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, align)]
        return "| " + " | ".join(padded) + " |"

    dashes = ["-" * (w + 1) + (":" if a == "r" else "-") for w, a in zip(widths, align)]
    return "\n".join([line(head), "|" + "|".join(dashes) + "|"] + [line(r) for r in rows])


def inner_loops(arch, path=KERNELS):
    """{function: its inner loop} for every viper function of path.

    The inner loop is, among a function's innermost loops, the one with the most
    multiplies (the unrolled one when there is also a tail loop), else the largest.
    Each loop is inspect_native's dict plus 'muls', 'unroll' and 'per_element'.
    """
    picked = {}
    for name, _, insns, loops in inspect_native.analyse(path, arch):
        for lp in loops:
            body = [i for i in insns if lp["start"] <= i.addr <= lp["end"] and i.kind != "data"]
            lp["muls"] = sum(i.mnem == MUL[arch] for i in body)
        if loops:
            lp = max(loops, key=lambda lp: (lp["muls"], lp["instructions"]))
            lp["unroll"] = UNROLL.get(name, 1)
            lp["per_element"] = lp["instructions"] / lp["unroll"]
            picked[name] = lp
    return picked
