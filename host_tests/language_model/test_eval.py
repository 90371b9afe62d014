"""make eval's tool on the unix port: the last line's format, and the task solved."""

import os
import re
import subprocess
import sys

import pytest
from conftest import MICROPYTHON, ROOT

LAST = re.compile(
    r"task accuracy: int8 ([\d.]+)% on the unix port, float ([\d.]+)% \(numpy\), (\d+) examples, (\d+) tokens/s"
)


@pytest.mark.skipif(not MICROPYTHON, reason="micropython (unix port) not installed")
def test_eval_ends_with_the_accuracy_line():
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "report", "eval_model.py"), "--count", "24"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=os.path.join(ROOT, "tools"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    last = LAST.fullmatch(done.stdout.splitlines()[-1])
    assert last, done.stdout
    int8, float_, count, speed = (float(v) for v in last.groups())
    assert count == 24 and speed > 0
    assert float_ >= 95 and int8 >= float_ - 2


def test_held_out_strings_are_never_trained_on():
    import random

    from tinylm import task

    held = task.strings(200, 2025, held=True)
    assert all(task.held_out(s) for s in held) and len(set(held)) == 200
    rng = random.Random(0)
    assert not any(task.held_out(s) for s in task.strings(500, 1))
    share = sum(task.held_out(task.random_string(rng)) for _ in range(4000))
    assert abs(share - 4000 // task.HOLD_OUT) < 150  # one string in HOLD_OUT
