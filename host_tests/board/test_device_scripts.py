"""Device scripts as tools/board/target.py joins them: helpers named in `# with:` lines first,
each once, and the joined file has no undefined name (ruff's F821, as `make lint` runs it);
and the data a demo script carries is what it says it is."""

import os
import subprocess
import sys

import pytest
from board import target
from conftest import ROOT

SCRIPTS = sorted(n for n in os.listdir(target.DEVICE) if n.endswith(".py"))
RUFF = os.path.join(os.path.dirname(sys.executable), "ruff")
# ruff as `make lint` runs it (pyproject.toml), on the joined text: undefined names only
CHECK = [RUFF, "check", "--no-cache", "--select", "F821", "--stdin-filename", "joined.py", "-"]


def write(folder, files):
    for name, text in files.items():
        (folder / name).write_text(text)


def test_helpers_come_first_each_once_in_the_order_named(tmp_path, monkeypatch):
    monkeypatch.setattr(target, "DEVICE", str(tmp_path))
    write(
        tmp_path,
        {
            "base.py": "B = 1\n",
            "one.py": '"""One."""\n\n# with: base.py\nONE = B\n',
            "two.py": "# with: base.py one.py\nTWO = ONE\n",
            "script.py": '"""A script."""\n\n# with: two.py one.py\nprint(TWO)\n',
        },
    )
    assert target.order(["script.py"]) == ["base.py", "one.py", "two.py", "script.py"]
    assert target.order(["one.py", "script.py"]) == ["base.py", "one.py", "two.py", "script.py"]
    out = tmp_path / "out"
    out.mkdir()
    path = target.bundle(["script.py"], str(out), prelude="QUICK = True\n")
    text = open(path).read()
    assert text.startswith("QUICK = True\nB = 1\n") and text.count("B = 1") == 1


def test_helpers_naming_each_other_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(target, "DEVICE", str(tmp_path))
    write(tmp_path, {"a.py": "# with: b.py\n", "b.py": "# with: a.py\n"})
    with pytest.raises(ValueError, match="a.py -> b.py -> a.py"):
        target.order(["a.py"])


@pytest.mark.skipif(not os.path.exists(RUFF), reason="ruff is not installed next to python")
@pytest.mark.parametrize("script", SCRIPTS)
def test_the_joined_script_defines_every_name_it_uses(script, tmp_path):
    joined = target.bundle([script], str(tmp_path))
    with open(joined) as f:
        text = f.read()
    done = subprocess.run(CHECK, input=text, capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_classify_demos_windows_are_the_simulators_first_held_out_ones():
    # classify.py says its windows are gesture.dataset(8, HELD_SEED), one per gesture in
    # order; the numpy int8 model (independent of the board's code) names each so.
    import ast

    from tinylm import gesture, int8_model

    tree = ast.parse(open(os.path.join(target.DEVICE, "classify.py")).read())
    found = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    windows, labels = gesture.dataset(8, gesture.HELD_SEED)
    assert found["WINDOWS"] == windows.astype("int8").tobytes().hex()
    assert found["NAMES"] == gesture.LABELS and list(labels) == list(range(8))
    model = int8_model.load(os.path.join(ROOT, "firmware", "attention", "gesture.bin"))
    assert list(model.predict(windows)) == list(range(8))
