"""Task accuracy of the shipped model: `make eval [PORT=...]`.

    python tools/report/eval_model.py [--port PORT] [--count 200]

Makes count held-out examples (tools/tinylm/task.py), answers them with the float
model in numpy (tools/tinylm/reverse.npz) here, and with the int8 model on the
target (tools/device/eval_model.py: the unix port, or the board at PORT with the
package deployed), then prints the target's mistakes and, last:
task accuracy: int8 X% on <target>, float Y% (numpy), N examples, T tokens/s
(T: generated tokens per second of generate_into, prompt steps included).
"""

import argparse
import os
import re
import sys

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from board import target
from tinylm import float_model, task

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLOAT = os.path.join(ROOT, "tools", "tinylm", "reverse.npz")
SEED = 2025


def float_accuracy(examples):
    p, c = float_model.load(FLOAT)
    stop = task.VOCAB.index(task.END)
    right = 0
    for prompt, answer in examples:
        ids = float_model.generate(p, c, task.encode(prompt), len(answer), stop)
        right += task.decode(ids) == answer
    return right


def run_on_target(examples, port):
    return target.run(
        ["eval_model.py"], port, capture=True, prelude="EXAMPLES = %r\n" % (examples,)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", help="serial port of a board (default: the local unix port)")
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    examples = [task.example(s) for s in task.strings(args.count, SEED, held=True)]
    done = run_on_target(examples, args.port)
    sys.stdout.write(done.stdout)
    last = re.search(r"int8 (\d+) of (\d+) correct, (\d+) tokens in (\d+) us", done.stdout)
    where = re.search(r"target: (.*)", done.stdout)
    if done.returncode or not last or not where:
        sys.stderr.write(done.stderr)
        print("eval: FAILED on %s" % (args.port or "the unix port"), file=sys.stderr)
        return 1
    right, total, tokens, us = (int(v) for v in last.groups())
    name = where.group(1) if args.port else "the unix port"
    print(
        "task accuracy: int8 %.1f%% on %s, float %.1f%% (numpy), %d examples, %.0f tokens/s"
        % (
            100 * right / total,
            name,
            100 * float_accuracy(examples) / len(examples),
            total,
            tokens * 1e6 / max(us, 1),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
