#!/usr/bin/env python3
"""Executed instructions of every kernel, measured on each arch's machine code under QEMU.

    python tools/machine_code/qemu_inspect.py

For each viper function of firmware/attention/_kernels.py that has a workload below,
runs its code for every arch of tools/machine_code/kernel_loops.py (xtensawin and rv32imc,
the ESP32s; armv6m and armv7emsp, the RP2040 and RP2350) under QEMU
(tools/machine_code/qemu_run.py) and prints, beside the static count of its inner loop
(tools/machine_code/kernel_loops.py, from the disassembly):

    per call     executed instructions of one call at the size shown
    per pass     executed instructions per pass of the inner loops, from differences
                 of calls: for row kernels (loops over rows of d) [c(2 rows, 2d) - c(1 row, 2d)] -
                 [c(2 rows, d) - c(1 row, d)] over d / unroll passes (only the inner
                 loop differs); for the others [c(2n) - c(n)] / n (all of the
                 kernel's loops over n, so it can exceed the inner loop alone)

These are instructions, not cycles: QEMU's cores are not the LX6, the C3's core, the
Cortex-M0+ or the Cortex-M33. An arch whose QEMU or binutils are missing is left out,
with a line saying what to install.
"""

import os
import random
import struct
import sys

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from machine_code import kernel_loops, qemu_run

N, DIM = 64, 64  # the size of the per-call column (head_dim 64, 64 rows)


def _int8(rng, size):
    return bytes(rng.getrandbits(8) for _ in range(size))


def _int32(rng, size, low, high):
    return struct.pack(f"<{size}i", *(rng.randint(low, high) for _ in range(size)))


def _carried(rng, dim):
    """carry16 output of moderate sums: low words, then small high words."""
    return _int32(rng, 2 * dim, 0, 65535) + _int32(rng, dim, -50, 50) + _int32(rng, dim, 0, 5)


EXP2 = struct.pack("<65i", *(round(65536 * 2 ** (-k / 64)) for k in range(65)))
PHI = bytes(u + 1 if u < 128 else 1 for u in range(256))  # phi by byte, for linear_rows
# name: (kind, arguments for size n and width d). 'rows' kernels loop over n rows of d.
WORKLOADS = {
    "copy8": ("flat", lambda r, n, d: [bytes(n), _int8(r, n), 0, n]),
    "fill": ("flat", lambda r, n, d: [bytes(4 * n), 0, n, 7]),
    "dot_rows": (
        "rows",
        lambda r, n, d: [_int8(r, n * d), bytes(4 * d), bytes(4 * n), n, d, d, 0, 3, _int8(r, d)],
    ),
    "softmax_q8": ("flat", lambda r, n, d: [_int32(r, n, -3000, 3000), n]),
    "softmax_exp2": ("flat", lambda r, n, d: [_int32(r, n, -3000, 3000), EXP2, n, 9]),
    "weighted_rows": (
        "rows",
        lambda r, n, d: [_int8(r, n * d), bytes(4 * d), _int32(r, n, 0, 256), n, d, d, 0],
    ),
    "linear_rows": (
        "rows",
        lambda r, n, d: [_int8(r, n * d), bytes(8 * d), _int8(r, n * d), 0, n, d, PHI],
    ),
    "carry16": ("flat", lambda r, n, d: [_int32(r, 2 * n, -(2**20), 2**20), n]),
    "linear_finish": ("flat", lambda r, n, d: [bytes(4 * n), _int8(r, n), _carried(r, n), n]),
    "linear_finish_scaled": (
        "flat",
        lambda r, n, d: [bytes(4 * n), _int8(r, n), _carried(r, n), n],
    ),
}


def _sizes(kind):
    """(n, d) of the calls: the per-call size, then those the per-pass figure needs."""
    if kind == "rows":
        return [(N, DIM), (1, DIM), (2, DIM), (1, 2 * DIM), (2, 2 * DIM)]
    return [(N, DIM), (N, DIM), (2 * N, DIM)]


def measure(arch, names):
    """{kernel: (instructions per call, per inner-loop pass)} on arch, in one QEMU boot."""
    calls = []
    for name in names:
        kind, build = WORKLOADS[name]
        # the same data for every size of one kernel: the counts differ only by size
        calls += [qemu_run.Call(name, build(random.Random(1), n, d)) for n, d in _sizes(kind)]
    counts = [
        r.instructions
        for r in qemu_run.run(arch, qemu_run.native_code(kernel_loops.KERNELS, arch), calls)
    ]
    out, pos = {}, 0
    for name in names:
        kind = WORKLOADS[name][0]
        c = counts[pos : pos + len(_sizes(kind))]
        pos += len(c)
        if kind == "rows":
            per_pass = ((c[4] - c[3]) - (c[2] - c[1])) / (DIM / kernel_loops.UNROLL.get(name, 1))
        else:
            per_pass = (c[2] - c[1]) / N
        out[name] = (c[0], per_pass)
    return out


def report():
    arches = [a for a in kernel_loops.ARCHES if not qemu_run.missing_tools(a)]
    left_out = [
        f"(no QEMU measurement of {a}: {', '.join(qemu_run.missing_tools(a))} missing; "
        f"{qemu_run.install_hint(a)})"
        for a in kernel_loops.ARCHES
        if a not in arches
    ]
    if not arches:
        return "\n".join(left_out)
    static = {a: kernel_loops.inner_loops(a) for a in arches}
    names = [n for n in static[arches[0]] if n in WORKLOADS]
    measured = {a: measure(a, names) for a in arches}
    head, rows = ["kernel", "size"], []
    for arch in arches:
        head += [f"{arch} per call", "per pass", "static"]
    for name in names:
        kind = WORKLOADS[name][0]
        row = [name, f"n {N}, d {DIM}" if kind == "rows" else f"n {N}"]
        for arch in arches:
            per_call, per_pass = measured[arch][name]
            row += [per_call, f"{per_pass:.1f}", static[arch][name]["instructions"]]
        rows.append(row)
    return "\n".join(
        [
            "## Executed instructions under QEMU (each arch's machine code; not cycles)\n",
            kernel_loops.table(head, rows, "ll" + "r" * (3 * len(arches))),
            *left_out,
            "\nper call: one call at the size shown. per pass: one pass of the inner loops "
            "over a row\n(row kernels; linear_rows has two, over the key and the value row), "
            "or one element over\nall of the kernel's loops (the others). static: the "
            "inner loop's instructions in the\ndisassembly (a loop with conditional code "
            "executes fewer of them).",
            "",
            whole_call(measured["xtensawin"]) if "xtensawin" in measured else "",
        ]
    )


# One MicroAttention pipeline call at head_dim 64, n 64 (compute_scores, softmax_fixed,
# weighted_sum) runs these kernels once each, at the size measured above.
PIPELINE = ("dot_rows", "softmax_q8", "weighted_rows")
BASELINE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "device", "baseline.py"
)


def baseline_instructions(arch):
    """Instructions of the same pipeline on the previous kernels (tools/device/baseline.py)."""
    rng = random.Random(1)
    keys, query = _int8(rng, N * DIM), _int8(rng, DIM)
    sign_extended = struct.pack(f"<{DIM}i", *(b - 256 if b > 127 else b for b in query))
    softmax = WORKLOADS["softmax_q8"][1](random.Random(1), N, DIM)
    weighted = WORKLOADS["weighted_rows"][1](random.Random(1), N, DIM)
    calls = [
        qemu_run.Call("baseline_load_int8", [bytes(4 * DIM), query, DIM]),
        qemu_run.Call("baseline_dot_rows", [keys, sign_extended, bytes(4 * N), N, DIM, DIM, 0, 3]),
        qemu_run.Call("baseline_softmax_q8", softmax),
        qemu_run.Call("baseline_weighted_rows", weighted),
    ]
    code = qemu_run.native_code(BASELINE, arch)
    return sum(r.instructions for r in qemu_run.run(arch, code, calls))


def whole_call(measured):
    """The ESP32 estimate of one pipeline call, from the measured kernel instructions."""
    kernels = sum(measured[name][0] for name in PIPELINE)
    us = kernels * kernel_loops.CPI / kernel_loops.ESP32_MHZ
    before = baseline_instructions("xtensawin")
    return (
        "## ESP32 (xtensawin, %d MHz): one whole call, ESTIMATE\n\n"
        "  MicroAttention compute_scores + softmax_fixed + weighted_sum, head_dim %d, n %d:\n"
        "  %s\n"
        "  = %d instructions executed (every loop and the per-row and per-call parts of\n"
        "  the kernels, counted under QEMU) x %.1f CPI / %d MHz = %.0f us.\n"
        "  CPI %.1f is an assumption (see tools/machine_code/kernel_loops.py). Not included: the Python-level\n"
        "  part of the three public calls (argument checks, method calls), which needs a\n"
        "  MicroPython firmware to run; `make bench` gives its share on the unix port.\n"
        "  The previous kernels (tools/device/baseline.py) execute %d instructions for\n"
        "  the same call: %.2fx as many."
        % (
            kernel_loops.ESP32_MHZ,
            DIM,
            N,
            " + ".join("%s %d" % (name, measured[name][0]) for name in PIPELINE),
            kernels,
            kernel_loops.CPI,
            kernel_loops.ESP32_MHZ,
            us,
            kernel_loops.CPI,
            before,
            before / kernels,
        )
    )


def main():
    try:
        print(report())
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
