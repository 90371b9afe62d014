"""Mutation testing: plant each bug of tools/quality/mutants.py in a copy of the tree, run the tests.

    python tools/quality/mutate.py              # every mutant
    python tools/quality/mutate.py -k halve     # only mutants whose description contains "halve"
    python tools/quality/mutate.py -k decoder.py  # only the mutants of one file (path or description)
    python tools/quality/mutate.py --list       # check the list against the sources and print it

Each mutant replaces one snippet of firmware/attention/ that must occur exactly once
(the run stops before testing anything if one does not). The tests run in a temporary
copy of firmware/, host_tests/ and tools/, so the working tree is never modified, even
when the run is interrupted. A mutant is `caught` when the tests fail or time out, and
`survived` when they pass. Before any mutant, the tests must pass on the copy as it is
and on the copy with a comment added to a firmware file: a test that fails on any edit
of firmware/ (a hash of it, say) is deselected (DESELECTED), or every mutant would count
as caught. Prints `mutation score: K of N` last; exits 1 if a mutant survived that
tools/quality/mutants.py does not list as equivalent.
"""

import argparse
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from quality.mutants import EQUIVALENT, MUTANTS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.join("firmware", "attention")
COPIED = ("firmware", "host_tests", "tools", "pyproject.toml")
# Fast files first: pytest -x stops at the first failure.
TESTS = (
    "host_tests/firmware/test_reference.py",
    "host_tests/firmware/test_edges.py",
    "host_tests/firmware/test_errors.py",
    "host_tests/firmware/test_safety.py",
    "host_tests/firmware/test_boundaries.py",
    "host_tests/firmware/test_headers.py",
    "host_tests/firmware/test_limits.py",
    "host_tests/firmware/test_fixtures.py",
    "host_tests/firmware/test_beyond.py",
    "host_tests/firmware/test_properties.py",
    "host_tests/firmware/test_blocks.py",
    "host_tests/firmware/test_scaled.py",
    "host_tests/firmware/test_unix_port.py",
    "host_tests/quality/test_fuzz.py",
    "host_tests/machine_code/test_qemu.py",  # skips itself when QEMU is not installed
)
# The model's tests: for a mutant of the model's files they run first, then the rest.
MODEL_FILES = (
    "_layers.py",
    "layers.py",
    "_step.py",
    "model.py",
    "decoder.py",
    "classifier.py",
    "modelfile.py",
    "_fixed.py",
)
MODEL_TESTS = (
    "host_tests/language_model/test_modelfile.py",
    "host_tests/language_model/test_layers.py",
    "host_tests/language_model/test_decoder.py",
    "host_tests/language_model/test_generate.py",
    "host_tests/language_model/test_version2.py",
    "host_tests/language_model/test_board_export.py",
    "host_tests/quality/test_model_fuzz.py",
    "host_tests/machine_code/test_qemu_layers.py",  # skips itself when QEMU is not installed
    "host_tests/language_model/test_eval.py",
)
# Any change to firmware/ fails the fixture hash check: it would catch every mutant.
# A fresh fuzz seed would make verdicts vary between runs: the fixed seeds stay. The
# QEMU tests of instruction counts, and those that plant their own kernel bugs, are
# not about the outputs.
DESELECTED = (
    "recorded_from_the_current_firmware",
    "fresh_seed",
    "broken_kernels_differ",
    "counts_are_executed_instructions",
    "inspect_per_pass_is_the_inner_loop",
    "requant_without_sign_extension_differs",
)
DESELECT = " and ".join("not " + name for name in DESELECTED)
LOG = "pytest.log"  # in each copy: the output of its last test run


def failures(tree):
    """The failure lines of the last test run in tree, for a run that must pass."""
    with open(os.path.join(tree, LOG)) as f:
        lines = f.read().splitlines()
    return [line for line in lines if line.startswith(("FAILED", "ERROR", "E "))][:12]


def check(mutants):
    """Every original snippet occurs exactly once; returns the problems found."""
    problems = []
    for path, original, replacement, description in mutants:
        full = os.path.join(ROOT, PACKAGE, path)
        if not os.path.exists(full):
            problems.append("%s: no such file (%s)" % (path, description))
            continue
        with open(full) as f:
            found = f.read().count(original)
        if found != 1:
            problems.append("%s: %r occurs %d times (%s)" % (path, original, found, description))
        if original == replacement:
            problems.append("%s: replacement equals the original (%s)" % (path, description))
    return problems


def copy_tree(dest):
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")
    for name in COPIED:
        source = os.path.join(ROOT, name)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(dest, name), ignore=ignore)
        else:
            shutil.copy(source, dest)


def tests_for(path):
    """Every test file, those of the mutated file's part first (pytest -x stops early)."""
    if path in MODEL_FILES:
        return MODEL_TESTS + TESTS
    return TESTS + MODEL_TESTS


def run_tests(tree, timeout, tests=TESTS + MODEL_TESTS):
    """'passed', 'failed' or 'timeout', and the seconds taken."""
    shutil.rmtree(os.path.join(tree, ".hypothesis"), ignore_errors=True)  # no replayed examples
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    command += ["--hypothesis-seed=0", "--hypothesis-profile=mutate", "-k", DESELECT, *tests]
    start = time.monotonic()
    with open(os.path.join(tree, LOG), "w") as log:  # the last run's output, for a failure
        process = subprocess.Popen(command, cwd=tree, stdout=log, stderr=subprocess.STDOUT)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return "timeout", time.monotonic() - start
    finally:
        if process.poll() is None:  # interrupted: leave no test run behind
            process.kill()
            process.wait()
    return ("passed" if code == 0 else "failed"), time.monotonic() - start


def run_edited(tree, timeout):
    """run_tests with a comment appended to one firmware file: an edit that changes no
    behaviour, which every test but those deselected must pass."""
    full = os.path.join(tree, PACKAGE, "_kernels.py")
    with open(full) as f:
        source = f.read()
    with open(full, "w") as f:
        f.write(source + "\n# an edit that changes no behaviour\n")
    try:
        return run_tests(tree, timeout)
    finally:
        with open(full, "w") as f:
            f.write(source)


def mutate_and_test(tree, mutant, timeout):
    path, original, replacement, _ = mutant
    full = os.path.join(tree, PACKAGE, path)
    with open(full) as f:
        source = f.read()
    with open(full, "w") as f:
        f.write(source.replace(original, replacement, 1))
    try:
        return run_tests(tree, timeout, tests_for(path))
    finally:
        with open(full, "w") as f:
            f.write(source)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-k",
        action="append",
        help="only mutants whose file or description contains this (repeatable)",
    )
    parser.add_argument("-j", type=int, default=os.cpu_count() or 1, help="parallel runs")
    parser.add_argument(
        "--timeout",
        type=float,
        default=180,
        help="seconds per mutant, at least twice what the unmutated tests take",
    )
    parser.add_argument("--list", action="store_true", help="check and print the mutants")
    args = parser.parse_args()

    problems = check(MUTANTS)
    described = {m[3] for m in MUTANTS}
    problems += ["EQUIVALENT names no mutant: " + d for d in sorted(EQUIVALENT - described)]
    if problems:
        print("mutate: the mutant list does not match the sources:", file=sys.stderr)
        for problem in problems:
            print("  " + problem, file=sys.stderr)
        print("edit tools/quality/mutants.py to match firmware/attention/", file=sys.stderr)
        return 2
    mutants = [m for m in MUTANTS if not args.k or any(k in m[0] + " " + m[3] for k in args.k)]
    if args.list:
        for number, (path, _, _, description) in enumerate(mutants, 1):
            print("%3d %-12s %s" % (number, path, description))
        return 0

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutate-") as scratch:
        trees = queue.Queue()
        for worker in range(max(1, min(args.j, len(mutants)))):
            tree = os.path.join(scratch, str(worker))
            os.makedirs(tree)
            copy_tree(tree)
            trees.put(tree)
        # The unmutated tree must pass, and so must one with an edit that changes no
        # behaviour (a test that fails on any edit of firmware/ would catch every mutant).
        first = [trees.get() for _ in range(trees.qsize())]
        checks = {}

        def check_run(edited, tree):
            checks[edited] = (run_edited if edited else run_tests)(tree, args.timeout * 5)

        if len(first) > 1:
            runs = [
                threading.Thread(target=check_run, args=(e, t)) for e, t in enumerate(first[:2])
            ]
            for run in runs:
                run.start()
            for run in runs:
                while run.is_alive():
                    run.join(0.5)
        else:
            check_run(0, first[0])
            check_run(1, first[0])
        for tree in first:
            trees.put(tree)
        outcome, seconds = checks[0]
        if outcome != "passed":
            print("mutate: the tests fail without any mutant (%s)" % outcome, file=sys.stderr)
            print("\n".join(failures(first[0])), file=sys.stderr)
            return 2
        if checks[1][0] != "passed":
            print(
                "mutate: the tests fail after an edit of firmware/ that changes no behaviour "
                "(%s): deselect the test that does (DESELECTED)" % checks[1][0],
                file=sys.stderr,
            )
            print("\n".join(failures(first[1] if len(first) > 1 else first[0])), file=sys.stderr)
            return 2
        # A mutant the tests miss runs them all: only a run far longer than that is a hang.
        timeout = max(args.timeout, 2 * seconds)
        print("unmutated tests pass in %.0f s, and with an edit that changes nothing" % seconds)
        print("%d mutants, %.0f s each at most" % (len(mutants), timeout))

        results = [None] * len(mutants)
        lock = threading.Lock()
        todo = queue.Queue()
        for number in range(len(mutants)):
            todo.put(number)

        def work():
            tree = trees.get()
            while True:
                try:
                    number = todo.get_nowait()
                except queue.Empty:
                    return
                outcome, seconds = mutate_and_test(tree, mutants[number], timeout)
                results[number] = outcome
                path, _, _, description = mutants[number]
                verdict = "survived" if outcome == "passed" else "caught"
                if outcome == "passed" and description in EQUIVALENT:
                    verdict = "survived (equivalent)"
                note = " (timeout)" if outcome == "timeout" else ""
                with lock:
                    print(
                        "%-8s %3d %-12s %s%s  [%.0f s]"
                        % (verdict, number + 1, path, description, note, seconds),
                        flush=True,
                    )

        workers = [threading.Thread(target=work, daemon=True) for _ in range(trees.qsize())]
        for worker in workers:
            worker.start()
        for worker in workers:
            while worker.is_alive():
                worker.join(0.5)  # short waits, so that Ctrl-C is seen at once
    caught = sum(1 for outcome in results if outcome != "passed")
    survivors = [m[3] for m, outcome in zip(mutants, results) if outcome == "passed"]
    unexplained = [d for d in survivors if d not in EQUIVALENT]
    for description in survivors:
        note = " (equivalent, see docs/mutation.md)" if description in EQUIVALENT else ""
        print("survivor: " + description + note)
    print("total %.0f s" % (time.monotonic() - started))
    print("mutation score: %d of %d" % (caught, len(mutants)))
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
