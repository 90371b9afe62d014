"""Task accuracy of the shipped models: `make eval [PORT=...] [FULL=1]`.

    python tools/report/eval_model.py [--port PORT] [--count 200] [--windows N] [--full]

reverse.bin: count held-out examples of the reversal task (tools/tinylm/task.py),
answered by the int8 model on the target (tools/device/eval_model.py: the unix port, or
the board at PORT with the package deployed) and by the float model in numpy
(tools/tinylm/reverse.npz). gesture.bin: N held-out windows of tools/tinylm/gesture.py
(6000 on the unix port, 400 on a board) classified on the target
(tools/device/eval_classifier.py), checked against the numpy int8 model window by
window, and by the float model (tools/tinylm/gesture.npz). Last lines:
  reverse: int8 X% on <target>, float Y% (numpy), N examples, T tokens/s
  gesture: int8 X% on <target>, float Y% (numpy), N held-out windows, U ms per window, R bytes of RAM
--full: every string of 1..8 letters through the int8 and float models (tools/tinylm/
sweep.py: the numpy int8 model's integer steps in C, too many strings for the unix
port), errors by length; then the target answers a sample (every int8 failure up to
100, and 40 strings of each length) and must give the int8 model's answers.
"""

import argparse
import os
import random
import re
import subprocess
import sys

import numpy as np

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from board import target
from board.boards import tool
from tinylm import float_model, gesture, int8_model, sweep, task

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLOAT = os.path.join(ROOT, "tools", "tinylm", "reverse.npz")
GESTURE_FLOAT = os.path.join(ROOT, "tools", "tinylm", "gesture.npz")
GESTURE = os.path.join(ROOT, "firmware", "attention", "gesture.bin")
REVERSE = os.path.join(ROOT, "firmware", "attention", "reverse.bin")
SEED = 2025


def float_answers(examples):
    p, c = float_model.load(FLOAT)
    stop = task.VOCAB.index(task.END)
    return [
        task.decode(float_model.generate(p, c, task.encode(prompt), len(answer), stop))
        for prompt, answer in examples
    ]


def answers_on_target(examples, port):
    """(the target's answers, its name, tokens, us, its output) or None on failure (printed)."""
    text = "".join("%s\t%s\n" % pair for pair in examples)  # one string: light on a board
    done = target.run(["eval_model.py"], port, capture=True, prelude="EXAMPLES = %r\n" % text)
    last = re.search(r"int8 (\d+) of (\d+) correct, (\d+) tokens in (\d+) us", done.stdout)
    where = re.search(r"target: (.*)", done.stdout)
    if done.returncode or not last or not where:
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        if target.out_of_heap(done.stdout + done.stderr):
            print("eval: the heap ran out (not a wrong answer)", file=sys.stderr)
        return None
    wrong = dict(re.findall(r"wrong: (\S*) -> (\S*)", done.stdout))
    got = [wrong.get(prompt, answer) for prompt, answer in examples]
    name = where.group(1) if port else "the unix port"
    return got, name, int(last.group(3)), int(last.group(4)), done.stdout


def reverse(args):
    examples = [task.example(s) for s in task.strings(args.count, SEED, held=True)]
    run = answers_on_target(examples, args.port)
    if run is None:
        print("eval: reverse FAILED on %s" % (args.port or "the unix port"), file=sys.stderr)
        return 1
    got, name, tokens, us, said = run
    sys.stdout.write(said)  # the target's own lines: wrong answers, then int8 N of M correct
    right = sum(g == a for g, (_, a) in zip(got, examples))
    float_right = sum(g == a for g, (_, a) in zip(float_answers(examples), examples))
    print(
        "reverse: int8 %.1f%% on %s, float %.1f%% (numpy), %d examples, %.0f tokens/s"
        % (
            100 * right / len(examples),
            name,
            100 * float_right / len(examples),
            len(examples),
            tokens * 1e6 / max(us, 1),
        )
    )
    return 0


def classify_on_target(windows, port):
    """(classes, target name, us, ram) of windows (N, T, F) int8 on the target, or None."""
    folder = os.path.join(ROOT, "build", "eval")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "gesture-windows.bin")
    with open(path, "wb") as f:
        f.write(windows.astype(np.int8).tobytes())
    where = path
    if port:
        where = "gesture-windows.bin"
        subprocess.run([tool("mpremote"), "connect", port, "cp", path, ":" + where], check=True)
    prelude = "WINDOWS = %r\nCOUNT = %d\n" % (where, len(windows))
    done = target.run(["eval_classifier.py"], port, capture=True, prelude=prelude)
    classes = re.search(r"classes: (\d*)", done.stdout)
    last = re.search(r"classified (\d+) windows in (\d+) us", done.stdout)
    name = re.search(r"target: (.*)", done.stdout)
    ram = re.search(r"ram: (\d+) bytes", done.stdout)
    if done.returncode or not (classes and last and name and ram):
        sys.stdout.write(done.stdout[-3000:])
        sys.stderr.write(done.stderr[-3000:])
        if target.out_of_heap(done.stdout + done.stderr):
            print("eval: the heap ran out (not a wrong answer)", file=sys.stderr)
        return None
    got = np.array([ord(c) - 48 for c in classes.group(1)])
    return got, name.group(1) if port else "the unix port", int(last.group(2)), int(ram.group(1))


def gesture_eval(args):
    count = args.windows or (400 if args.port else 6000)
    windows, labels = gesture.dataset(count, gesture.HELD_SEED)
    run = classify_on_target(windows, args.port)
    if run is None:
        print("eval: gesture FAILED on %s" % (args.port or "the unix port"), file=sys.stderr)
        return 1
    got, name, us, ram = run
    numpy_int8 = int8_model.load(GESTURE).predict(windows)
    p, c = float_model.load(GESTURE_FLOAT)
    floats = np.concatenate(
        [float_model.forward(p, c, windows[i : i + 500]).argmax(-1) for i in range(0, count, 500)]
    )
    differ = int((got != numpy_int8).sum())
    print(
        "gesture: the target's classes %s the numpy int8 model's on %d windows"
        % ("equal" if not differ else "DIFFER from (%d windows)" % differ, count)
    )
    per_class = [
        "%s %.1f%%" % (gesture.LABELS[k], 100 * (got[labels == k] == k).mean())
        for k in range(len(gesture.LABELS))
    ]
    print("gesture: int8 by class: " + ", ".join(per_class))
    print(
        "gesture: int8 %.2f%% on %s, float %.2f%% (numpy), %d held-out windows, "
        "%.2f ms per window, %d bytes of RAM"
        % (
            100 * (got == labels).mean(),
            name,
            100 * (floats == labels).mean(),
            count,
            us / 1000 / count,
            ram,
        )
    )
    return 1 if differ else 0


def full(args):
    """Every string of 1..8 letters: errors by length; then a sample on the target."""
    results = sweep.sweep(range(1, task.MAX_LEN + 1), args.jobs, REVERSE, FLOAT)
    print("length  strings      int8 wrong          float wrong")
    for n, (count, w8, wf, _) in results.items():
        print(
            "%6d %9d %8d %8.4f%% %8d %8.4f%%"
            % (n, count, w8, 100 * w8 / count, wf, 100 * wf / count)
        )
    rng = random.Random(SEED)
    sample = [s for r in results.values() for s in r[3]][:100]
    for n in range(1, task.MAX_LEN + 1):
        sample += ["".join(rng.choice(task.LETTERS) for _ in range(n)) for _ in range(40)]
    examples = [task.example(s) for s in sample]
    run = answers_on_target(examples, args.port)
    if run is None:
        print("eval: FULL sample FAILED on %s" % (args.port or "the unix port"), file=sys.stderr)
        return 1
    got, name = run[:2]
    model = int8_model.load(REVERSE)
    want = [model.generate(prompt, len(answer), task.END) for prompt, answer in examples]
    same = sum(g == w for g, w in zip(got, want))
    print(
        "sample on %s: %d of %d answers equal the int8 model's (%d int8 failures among them)"
        % (name, same, len(examples), min(100, sum(r[1] for r in results.values())))
    )
    return 0 if same == len(examples) else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", help="serial port of a board (default: the local unix port)")
    parser.add_argument("--count", type=int, default=200, help="reversal examples")
    parser.add_argument("--windows", type=int, help="gesture windows (6000; 400 on a board)")
    parser.add_argument("--full", action="store_true", help="every string of 1..8 letters")
    parser.add_argument("--jobs", type=int, default=2, help="--full: processes")
    parser.add_argument("--only", choices=("reverse", "gesture"))
    args = parser.parse_args()
    code = 0
    if args.only != "gesture":
        code |= reverse(args)
    if args.only != "reverse":
        code |= gesture_eval(args)
    if args.full:
        code |= full(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
