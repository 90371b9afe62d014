"""docs/models.md's walk, as written: its Python blocks train a classifier and a small
language model of their own shapes and export them (needs torch); the files then run on
the unix port bit for bit as the numpy int8 model, and the REPL lines of the walk hold."""

import json
import os
import re
import subprocess

import numpy as np
import pytest
from conftest import MICROPYTHON, ROOT

from tinylm import int8_model

try:
    import torch  # noqa: F401
except ImportError:
    torch = None

DOC = os.path.join(ROOT, "docs", "models.md")


def blocks():
    with open(DOC) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


@pytest.mark.skipif(torch is None, reason="torch not installed (make train installs it)")
@pytest.mark.skipif(not MICROPYTHON, reason="micropython (unix port) not installed")
def test_the_walk_of_docs_models_md(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    scope = {}
    for code in blocks():
        exec(compile(code, DOC, "exec"), scope)  # noqa: S102
    printed = capsys.readouterr().out
    (tmp_path / "printed.txt").write_text(printed)
    assert "float against int8 on the calibration data" in printed
    assert re.search(
        r"task accuracy: float [\d.]+%, int8 [\d.]+% on 1000 held-out windows", printed
    )
    classifier = int8_model.load("mine.bin")
    lm = int8_model.load("lm.bin")
    frames = scope["frames"][:20]
    script = tmp_path / "board.py"
    script.write_text(
        "import json\n"
        "from attention.classifier import Classifier\n"
        "from attention.decoder import Decoder\n"
        "c = Classifier.load('mine.bin')\n"
        "out = [[c.classify(bytes(w)), list(c.scores)] for w in json.loads(%r)]\n"
        "m = Decoder.load('lm.bin')\n"
        "out.append(m.generate('the quick', 6))\n"
        "print(json.dumps(out))\n"
        % json.dumps([w.ravel().view(np.uint8).tolist() for w in frames])
    )
    done = subprocess.run(
        [MICROPYTHON, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, MICROPYPATH=os.path.join(ROOT, "firmware")),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    for w, (label, scores) in zip(frames, got[:-1]):
        assert [label, scores] == list(classifier.classify(w))
    assert got[-1] == lm.generate("the quick", 6)
    assert np.mean([g[0] for g in got[:-1]] == scope["labels"][:20]) > 0.5  # noqa: PLR2004
