"""make eval's tool on the unix port: its lines for both shipped models, the tasks solved, and
the shipped files what the converter makes of the committed float models."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import MICROPYTHON, ROOT

REVERSE = re.compile(
    r"reverse: int8 ([\d.]+)% on the unix port, float ([\d.]+)% \(numpy\), (\d+) examples, (\d+) tokens/s"
)
GESTURE = re.compile(
    r"gesture: int8 ([\d.]+)% on the unix port, float ([\d.]+)% \(numpy\), (\d+) held-out windows, "
    r"([\d.]+) ms per window, (\d+) bytes of RAM"
)


@pytest.mark.skipif(not MICROPYTHON, reason="micropython (unix port) not installed")
def test_eval_reports_both_models():
    done = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "tools", "report", "eval_model.py"),
            "--count",
            "24",
            "--windows",
            "240",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=os.path.join(ROOT, "tools"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    rev = next(REVERSE.fullmatch(line) for line in lines if line.startswith("reverse: int8"))
    int8, float_, count, speed = (float(v) for v in rev.groups())
    assert count == 24 and speed > 0
    assert float_ >= 95 and int8 >= float_ - 2  # noqa: PLR2004
    assert "gesture: the target's classes equal the numpy int8 model's on 240 windows" in lines
    ges = GESTURE.fullmatch(lines[-1])
    assert ges, done.stdout
    int8, float_, count, ms, ram = (float(v) for v in ges.groups())
    assert count == 240 and ms > 0 and ram < 40000  # noqa: PLR2004
    assert float_ >= 97 and int8 >= float_ - 1  # noqa: PLR2004


def test_held_out_strings_are_never_trained_on():
    import random

    from tinylm import task

    held = task.strings(200, 2025, held=True)
    assert all(task.held_out(s) for s in held) and len(set(held)) == 200
    rng = random.Random(0)
    assert not any(task.held_out(s) for s in task.strings(500, 1))
    share = sum(task.held_out(task.random_string(rng)) for _ in range(4000))
    assert abs(share - 4000 // task.HOLD_OUT) < 150  # one string in HOLD_OUT


def test_gesture_sets_are_apart_and_seeded():
    from tinylm import gesture

    a, la = gesture.dataset(16, gesture.HELD_SEED)
    b, lb = gesture.dataset(16, gesture.HELD_SEED)
    c, _ = gesture.dataset(16, gesture.CAL_SEED)
    assert np.array_equal(a, b) and np.array_equal(la, lb) and not np.array_equal(a, c)
    assert a.dtype == np.int8 and a.shape == (16, gesture.WINDOW, 3)
    assert sorted(set(la.tolist())) == list(range(8))
    assert len({gesture.TRAIN_SEED, gesture.HELD_SEED, gesture.CAL_SEED}) == 3  # noqa: PLR2004


@pytest.mark.parametrize("name", ["reverse", "gesture"])
def test_shipped_files_are_the_export_of_the_committed_float_models(name, tmp_path):
    """`make train`'s export step, without the training: the committed .npz and the data of
    data.py give the committed model file, byte for byte."""
    from tinylm import data, export

    cal, held = data.reverse() if name == "reverse" else data.gesture_data()
    out = tmp_path / (name + ".bin")
    ckpt = os.path.join(ROOT, "tools", "tinylm", name + ".npz")
    export.export(
        ckpt,
        str(out),
        cal,
        None,
        method=data.METHOD[name],
        version=data.VERSION[name],
        log=lambda s: None,
    )
    shipped = os.path.join(ROOT, "firmware", "attention", name + ".bin")
    assert out.read_bytes() == open(shipped, "rb").read()
