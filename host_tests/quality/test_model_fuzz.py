"""The board's loader on mutated model files (tools/quality/model_fuzz.py): hundreds of seeded
mutations of both shipped files, on the shim and on the unix port (also with a 110 KB heap).
Every load either succeeds or raises ValueError with a message: never MemoryError,
UnicodeError (a ValueError without a message), IndexError, KeyError, struct.error ..."""

import json
import os
import subprocess
import sys

import pytest
from conftest import MICROPYTHON, ROOT
from board import board_check, boards, target
from quality import model_fuzz

SHIPPED = {
    name: os.path.join(ROOT, "firmware", "attention", name)
    for name in ("reverse.bin", "gesture.bin")
}
FIRMWARE = os.path.join(ROOT, "firmware")
LOADER = {"reverse.bin": "Decoder", "gesture.bin": "Classifier"}
COUNT = 300
SEEDS = {"reverse.bin": 1, "gesture.bin": 2}


def cases(name, count=COUNT):
    with open(SHIPPED[name], "rb") as f:
        return model_fuzz.mutations(f.read(), SEEDS[name], count)


def verdict(kind, message):
    """None when the outcome is one the loader promises, else what went wrong."""
    if kind in ("ok", "ValueError") and (kind == "ok" or message):
        return None
    return "%s(%r)" % (kind, message)


def load_on_shim(loader, path):
    from attention.classifier import Classifier
    from attention.decoder import Decoder

    cls = {"Decoder": Decoder, "Classifier": Classifier}[loader]
    try:
        cls.load(path)
    except Exception as e:  # noqa: BLE001  (every kind of failure is what is looked for)
        return type(e).__name__, str(e)
    return "ok", ""


def failures(name, outcomes, mutated):
    bad = []
    for i, ((label, _), (kind, message)) in enumerate(zip(mutated, outcomes)):
        why = verdict(kind, message)
        if why:
            bad.append("#%d %s (seed %d): %s" % (i, label, SEEDS[name], why))
    return bad


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_loader_survives_mutated_files_on_the_shim(tmp_path, name):
    mutated = cases(name)
    outcomes = []
    for i, (_, data) in enumerate(mutated):
        path = tmp_path / ("%d.bin" % i)
        path.write_bytes(data)
        outcomes.append(load_on_shim(LOADER[name], str(path)))
    bad = failures(name, outcomes, mutated)
    assert not bad, "\n".join(bad)
    assert sum(k == "ok" for k, _ in outcomes) < len(outcomes) // 2  # most damage is found


RUNNER = """
import gc, json, sys
if sys.argv[2] == "Decoder":
    from attention.decoder import Decoder as cls
else:
    from attention.classifier import Classifier as cls
for i in range(int(sys.argv[3])):
    gc.collect()
    try:
        cls.load("%s/%d.bin" % (sys.argv[1], i))
        print("ok")
    except Exception as e:
        print(json.dumps([type(e).__name__, str(e)]))
"""


@pytest.fixture(scope="module")
def precompiled(tmp_path_factory):
    """firmware/attention compiled for the unix port's arch, as a folder for MICROPYPATH
    (once for every heap and model of this module)."""
    out = tmp_path_factory.mktemp("mpy")
    boards.compile_package(boards.SRC, out, board_check.arch(target.unix_mpy(MICROPYTHON)))
    return str(out)


def run_unix(tmp_path, name, heap, precompiled):
    mutated = cases(name)
    folder = tmp_path / name
    folder.mkdir()
    for i, (_, data) in enumerate(mutated):
        (folder / ("%d.bin" % i)).write_bytes(data)
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    args = [MICROPYTHON] + (["-X", "heapsize=" + heap] if heap else [])
    done = subprocess.run(
        [*args, str(runner), str(folder), LOADER[name], str(len(mutated))],
        capture_output=True,
        text=True,
        timeout=600,
        # A small heap imports the package compiled by mpy-cross, as a board does:
        # compiling the .py sources on the target takes more heap than 110 KB.
        env=dict(os.environ, MICROPYPATH=precompiled if heap else FIRMWARE),
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == len(mutated), done.stdout[-2000:]
    outcomes = [("ok", "") if line == "ok" else tuple(json.loads(line)) for line in lines]
    return mutated, outcomes


@pytest.mark.skipif(not MICROPYTHON, reason="micropython (unix port) not installed")
@pytest.mark.parametrize(
    "heap", ["", "110K", "100K"], ids=["default_heap", "heap_110K", "heap_100K"]
)
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_loader_survives_mutated_files_on_the_unix_port(tmp_path, name, heap, precompiled):
    mutated, outcomes = run_unix(tmp_path, name, heap, precompiled)
    bad = failures(name, outcomes, mutated)
    assert not bad, "\n".join(bad)


def test_mutations_are_seeded_and_labelled():
    a, b = cases("reverse.bin", 40), cases("reverse.bin", 40)
    assert a == b and len({label for label, _ in a}) > 30  # noqa: PLR2004
    with open(SHIPPED["reverse.bin"], "rb") as f:
        assert model_fuzz.mutations(f.read(), 99, 40) != a
