"""How much heap each board tool needs: `make heap`, the table of docs/boards.md.

    python tools/report/heap_table.py [--micropython PATH ...] [--heap 110K] [--no-write]

Runs the device scripts of every board tool (run, device-test, accuracy, bench, eval,
fuzz, record) on the unix port with the package compiled to .mpy (FORM=mpy, as `make
deploy` puts it on a board), once with the heap of an ESP32 without PSRAM (--heap, 110K)
and then at the heaps a bisection picks, to find the smallest heap with which the tool
runs to its end with nothing skipped. A tool that does not find what it needs skips a
part with one line (`skipped ...`, `... left out`, `... steps skipped`): those lines are
counted. Each --micropython is a unix port to measure (default: .venv's; a 32-bit build
counts as an ESP32 does, 4-byte objects); the table goes into docs/boards.md unless
--no-write. bench runs its quick form (one call per measurement: the same objects, fewer
loops); fuzz 1500 calls of seed 1; eval 40 held-out examples and 40 gesture windows.
"""

import argparse
import functools
import os
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from board import board_check, target
from report import doc_block
from tinylm import gesture, task

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "boards.md"
LOW, HIGH, STEP = 32, 1024, 2  # KB: where the bisection looks, and how close it gets
SKIP_SIGNS = ("skipped ", " left out", " steps skipped")


@functools.lru_cache(maxsize=None)  # made once, for every heap the bisection tries
def examples(count=40, seed=2025):
    pairs = [task.example(s) for s in task.strings(count, seed, held=True)]
    return "EXAMPLES = %r\n" % "".join("%s\t%s\n" % pair for pair in pairs)


@functools.lru_cache(maxsize=None)
def windows(count=40):
    """The prelude of eval_classifier.py: a file of count held-out gesture windows."""
    path = ROOT / "build" / "eval" / "heap-windows.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gesture.dataset(count, gesture.HELD_SEED)[0].astype("int8").tobytes())
    return "WINDOWS = %r\nCOUNT = %d\n" % (str(path), count)


TOOLS = (
    ("run", ((["demo.py"], ""), (["generate.py"], ""), (["classify.py"], ""))),
    ("device-test", ((["selftest.py"], ""),)),
    ("accuracy", ((["accuracy.py"], ""),)),
    (
        "bench",
        (
            (["plain.py", "baseline.py", "bench.py"], "QUICK = True\n"),
            (["bench_model.py"], ""),
            (["bench_previous.py"], ""),
        ),
    ),
    ("eval", ((["eval_model.py"], examples), (["eval_classifier.py"], windows))),
    ("fuzz", ((["fuzz.py"], "SEED = 1; CALLS = 1500; VERBOSE = False\n"),)),
    ("record", ((["cases.py"], ""),)),
)


def attempt(runs, micropython, heap_kb):
    """(whether every script ran to its end, how many lines say a part was skipped)."""
    saved = {k: os.environ.get(k) for k in ("HEAP", "MICROPYTHON", "FORM")}
    os.environ.update(HEAP="%dK" % heap_kb, MICROPYTHON=micropython, FORM="mpy")
    try:
        ok, skipped = True, 0
        for names, prelude in runs:
            prelude = prelude() if callable(prelude) else prelude
            done = target.run(names, capture=True, timeout=900, prelude=prelude)
            ok = ok and done.returncode == 0
            skipped += sum(
                1 for line in done.stdout.splitlines() if any(s in line for s in SKIP_SIGNS)
            )
        return ok, skipped
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def smallest(runs, micropython):
    """The smallest heap (KB, to STEP) at which every script ends with nothing skipped."""

    def whole(kb):
        ok, skipped = attempt(runs, micropython, kb)
        return ok and not skipped

    lo, hi = LOW, HIGH
    if not whole(hi):
        return None
    while hi - lo > STEP:
        mid = (lo + hi) // 2
        if whole(mid):
            hi = mid
        else:
            lo = mid
    return hi


def measure(micropythons, heap_kb, out=sys.stdout):
    """Rows of the table: (tool, then for each interpreter: at heap_kb, all of it needs)."""
    rows = []
    for name, runs in TOOLS:
        row = ["`make %s`" % name]
        for micropython in micropythons:
            ok, skipped = attempt(runs, micropython, heap_kb)
            at = ("ends" if ok else "**fails**") + (
                ", %d part(s) skipped" % skipped if skipped else ", nothing skipped"
            )
            need = smallest(runs, micropython)
            row += [at, "%d KB" % need if need else "more than %d KB" % HIGH]
            print("%s %s: %s; needs %s" % (name, micropython, at, row[-1]), file=out, flush=True)
        rows.append(row)
    return rows


def arch_of(micropython):
    return board_check.arch(target.unix_mpy(micropython))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--micropython", action="append", help="a unix port (repeatable)")
    parser.add_argument("--heap", default="110K", help="the heap of the first column (110K)")
    parser.add_argument("--no-write", action="store_true", help="print, do not write the page")
    args = parser.parse_args(argv)
    micropythons = args.micropython or [target.interpreter()]
    heap_kb = int(args.heap.rstrip("Kk"))
    rows = measure(micropythons, heap_kb)
    head = ["tool"]
    for micropython in micropythons:
        arch = arch_of(micropython)
        head += ["%s: at %d KB" % (arch, heap_kb), "%s: nothing skipped from" % arch]
    text = doc_block.table(head, rows)
    print(text)
    if not args.no_write:
        doc_block.update(PAGE, "heap-table", text)
        print("written into %s" % PAGE.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
