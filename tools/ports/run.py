"""`make ports`: build 32-bit MicroPython from a source tree, run the device suite on each.

    python tools/ports/run.py --src ~/micropython [--record] [--only NAME ...]
        [--parts selftest,cases,fuzz,heap,eval,classify] [--link pipe|pty] [--form .py|.mpy]

Builds (tools/ports/build.py) the 32-bit unix port and the qemu port for a Cortex-M3 and
a 32-bit RISC-V board into build/ports/, then runs, on every target of
tools/ports/targets.py (each heap address range), the parts of tools/ports/parts.py and
prints one line per target:

    NAME [port arch]: MicroPython VERSION, mpy arch, heap RANGE at ADDRESS | PART PASS|FAIL (why) | ...

The exit status is 1 when any part fails on any target. What each script printed is
kept in build/ports/runs/NAME/PART.txt. With --record, the recorded cases of every
target that ran them all are written to host_tests/fixtures/ (or --fixtures DIR) as
<chip>-<arch>[-<variant>]-heap-<range>.json, with where they were recorded in the
provenance.
Without --src (MICROPYTHON_SRC), prints how to get a MicroPython source tree and exits 0;
--no-build uses what an earlier run built.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # run as a script: tools/ is the import root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ports import build
from ports import package
from ports import parts
from ports import project
from ports import targets


class Context:
    """What every part needs: how to run a script, the references, the settings."""

    def __init__(self, args, out):
        self.out = Path(out)
        self.link = args.link
        self.scale = args.timeout_scale
        self.fuzz_seeds = [int(s) for s in args.fuzz_seeds.split(",")]
        self.fuzz_calls = args.fuzz_calls
        self.examples = project.eval_examples(args.eval_count)
        self._gesture = None
        self.reference = parts.load_reference()
        self.reference_name = project.REFERENCE_FIXTURE.name
        self.packages = {}  # target name -> folder (unix) or ROMFS image (qemu)
        self.cases_runs = {}
        self._eval_reference = False
        self.verbose = args.verbose

    def run(self, target, script, part):
        timeout = parts.TIMEOUTS[part] * self.scale
        try:
            run = targets.run(target, script, self.packages[target.name], timeout, self.link)
        except Exception as exc:  # noqa: BLE001  (a host-side surprise is a failed part)
            run = targets.Run("broken", "", "host error: %r" % (exc,))
        log = self.out / "runs" / target.name / (part + ".txt")
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as f:
            f.write(
                "=== %s: %s in %.1f s\n%s\n--- stderr\n%s\n"
                % (part, run.status, run.seconds, run.out, run.err)
            )
        if self.verbose:
            print(
                "  %s %s: %s in %.1f s" % (target.name, part, run.status, run.seconds), flush=True
            )
        return run

    @property
    def gesture(self):
        """(windows as bytes, the numpy int8 model's class of each), made once."""
        if self._gesture is None:
            self._gesture = project.gesture_windows(parts.CLASSIFY_COUNT)
        return self._gesture

    def eval_reference(self):
        """The shipped model's answers on the 64-bit unix port (None without one)."""
        if self._eval_reference is False:
            try:
                program = project.tool("micropython")
            except Exception:  # noqa: BLE001  (no 64-bit unix port: nothing to compare with)
                self._eval_reference = None
                return None
            ref = targets.Target("unix-x64", "unix", "x64", "low", program, {})
            run = targets.run_unix(
                ref,
                parts.eval_script(self.examples),
                project.FIRMWARE,
                parts.TIMEOUTS["eval"] * self.scale,
            )
            self._eval_reference = parts.eval_answers(run.out) if run.status == "ok" else None
        return self._eval_reference


def prepare_packages(ctx, chosen, form, built_mpy_cross):
    """Put the package where each chosen target finds it (folder or ROMFS image)."""
    images = {}
    for target in chosen:
        if form == ".py":
            root = project.FIRMWARE
        else:
            root = ctx.out / ("package-mpy-" + target.mpy_arch)
            if target.mpy_arch not in images:
                package.compile_mpy(built_mpy_cross, target.mpy_arch, root)
        if target.port == "unix":
            ctx.packages[target.name] = root
            continue
        key = (form, target.mpy_arch if form == ".mpy" else "")
        if key not in images:
            name = "package-py.rom" if form == ".py" else "package-%s.rom" % target.mpy_arch
            images[key] = package.write_image(root, ctx.out / name)
        ctx.packages[target.name] = images[key]


def qemu_version(target):
    try:
        done = subprocess.run(
            [target.qemu[0], "--version"], capture_output=True, text=True, check=False
        )
        return done.stdout.splitlines()[0].strip()
    except (OSError, IndexError):
        return None


def record(ctx, target, info, tree_version, fixtures):
    """Write the fixture of a target's cases run; returns the line saying what happened."""
    run = ctx.cases_runs.get(target.name)
    if run is None:
        return "record %s: the cases part did not run" % target.name
    target_info, outputs = parts.case_lines(run.out)
    if run.status != "ok" or target_info is None or len(outputs) != len(ctx.reference):
        return "record %s: not written, the cases did not all run (%s)" % (target.name, run.reason)
    lines = [{"target": target_info}] + [
        {"case": n, "outputs": outputs[n]} for n in sorted(outputs)
    ]
    fixture = ctx_fixture(lines, target, info, tree_version)
    name = fixture_file_name(target, target_info, info)
    path = Path(fixtures) / name
    written = project.write_fixture(path, fixture)
    return "record %s: %d cases -> %s%s" % (
        target.name,
        len(outputs),
        path,
        "" if written else " (unchanged: only the date would differ)",
    )


def fixture_file_name(target, target_info, info):
    """<chip>-<arch>[-<variant>]-heap-<range>.json: what the target reported, the build
    variant when two builds report the same, and the heap's address range."""
    return project.fixture_name(target_info, {"variant": target.variant, "heap": info["range"]})


def ctx_fixture(lines, target, info, tree_version):
    fixture = project.build_fixture(lines, "make ports RECORD=1 (tools/ports/run.py)")
    fixture["provenance"]["built"] = {
        "micropython": info["version"],
        "source_tree": tree_version,
        "port": target.port,
        "board": target.board or None,
        "qemu_machine": target.machine or None,
        "qemu": qemu_version(target) if target.qemu else None,
        "heap_range": targets.RANGE_TEXT[info["range"]],
        "heap": info["range"],
        "variant": target.variant,
        "heap_address": "0x%08x" % info["address"],
        "heap_bytes": info["heap"],
    }
    return fixture


def run_target(ctx, target, chosen_parts):
    """(info, [Part], problem) of one target."""
    if not Path(target.program).is_file():
        return None, [], "not built: %s is missing" % target.program
    probe = ctx.run(target, parts.PROBE, "probe")
    info = parts.parse_probe(probe.out)
    if info is None:
        return None, [], "the interpreter did not start: " + probe.reason
    results = []
    for name in chosen_parts:
        try:
            results.append(parts.RUNNERS[name](ctx, target))
        except Exception as exc:  # noqa: BLE001  (a host-side surprise: report, go on)
            results.append(parts.Part(name, False, "host error: %r" % (exc,)))
    return info, results, None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", help="a MicroPython source tree (MICROPYTHON_SRC)")
    parser.add_argument("--out", default=str(build.OUT), help="build folder (build/ports)")
    parser.add_argument("--no-build", action="store_true", help="use what is built already")
    parser.add_argument("--only", action="append", default=[], help="a target name (repeat)")
    parser.add_argument("--parts", default=",".join(parts.PARTS), help="comma-separated parts")
    parser.add_argument(
        "--link",
        choices=("pipe", "pty"),
        default="pipe",
        help="how to reach a QEMU board's serial port (default pipe)",
    )
    parser.add_argument("--form", choices=(".py", ".mpy"), default=".py")
    parser.add_argument("--record", action="store_true", help="write fixtures of the cases")
    parser.add_argument("--fixtures", default=str(project.FIXTURES))
    parser.add_argument("--fuzz-calls", type=int, default=parts.FUZZ_CALLS)
    parser.add_argument(
        "--fuzz-seeds",
        default=",".join(map(str, parts.FUZZ_SEEDS)),
        help="comma-separated seeds of the fuzzer (make fuzz SEED= replays one)",
    )
    parser.add_argument("--eval-count", type=int, default=parts.EVAL_COUNT)
    parser.add_argument("--timeout-scale", type=float, default=1.0)
    parser.add_argument("--verbose", action="store_true", help="a line per script run")
    args = parser.parse_args(argv)
    chosen = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in parts.PARTS]
    if unknown:
        parser.error("unknown part %s; parts: %s" % (", ".join(unknown), ", ".join(parts.PARTS)))
    args.parts = chosen
    names = [t.name for t in targets.targets()]
    for name in args.only:
        if name not in names:
            parser.error("unknown target %s; targets: %s" % (name, ", ".join(names)))
    if args.record and "cases" not in chosen:
        parser.error("--record needs the cases part")
    return args


def main(argv=None):
    args = parse_args(argv)
    if not args.src and not args.no_build:
        print(build.HOW_TO_GET)
        return 0
    problem = build.check_tree(args.src) if args.src else None
    if problem:
        print("ports: %s" % problem, file=sys.stderr)
        return 1
    out = Path(args.out).resolve()
    chosen = [t for t in targets.targets(out) if not args.only or t.name in args.only]
    tree_version = build.tree_version(args.src) if args.src else "unknown (--no-build)"
    if not args.no_build:
        start = time.monotonic()
        boards = sorted({t.board for t in chosen if t.board})
        try:
            build.build(args.src, out, boards=boards, unix=any(t.port == "unix" for t in chosen))
        except build.BuildError as exc:
            print("ports: %s" % exc, file=sys.stderr)
            return 1
        print(
            "ports: built from %s (%s) in %.0f s"
            % (args.src, tree_version, time.monotonic() - start)
        )
    ctx = Context(args, out)
    try:
        prepare_packages(ctx, chosen, args.form, out / "mpy-cross" / "mpy-cross")
    except package.PackageError as exc:
        print("ports: %s" % exc, file=sys.stderr)
        return 1
    for target in chosen:  # fresh logs of this run
        for old in (out / "runs" / target.name).glob("*.txt"):
            old.unlink()
    print(
        "ports: package %s form, %s; parts: %s"
        % (args.form, "QEMU serial over a " + args.link, ", ".join(args.parts)),
        flush=True,
    )
    failed = 0
    notes = []
    for target in chosen:
        info, results, problem = run_target(ctx, target, args.parts)
        print(parts.line(target, info, results, problem), flush=True)
        failed += not parts.passed(info, target, results, problem)
        if args.record and info is not None:
            notes.append(record(ctx, target, info, tree_version, args.fixtures))
    for note in notes:
        print(note)
    print(
        "ports: %d of %d targets passed every part; outputs in %s"
        % (len(chosen) - failed, len(chosen), os.path.relpath(out / "runs"))
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
