"""make eval FULL=1's engine (tools/tinylm/sweep.c): its int8 logits are the numpy int8
model's, bit for bit, and its verdicts per string are greedy generation's."""

import numpy as np
import pytest
import tinymodels

from tinylm import float_model, int8_model, model_file, sweep, task

needs_cc = pytest.mark.skipif(not sweep.compiler(), reason="no C compiler (cc)")


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    h, _ = model_file.read(sweep.MODEL)
    out = tmp_path_factory.mktemp("sweep") / "sweep"
    path = sweep.build(h, str(out))
    dump = str(out) + ".model"
    sweep.dump(dump)
    return path, dump


@needs_cc
def test_sweep_logits_are_the_numpy_int8_models(program):
    model = int8_model.load(sweep.MODEL)
    rng = np.random.default_rng(3)
    seqs = [rng.integers(0, 12, int(rng.integers(1, 19))).tolist() for _ in range(60)]
    got = sweep.logits(*program, seqs)
    want = [row for s in seqs for row in model.logits_of([s])[0].tolist()]
    assert got == want


def strings(n):
    grid = np.array(np.meshgrid(*[list(task.LETTERS)] * n, indexing="ij")).reshape(n, -1).T
    return ["".join(t) for t in grid]


@needs_cc
def test_sweep_verdicts_are_greedy_generations(tmp_path):
    """Every string of 1..3 letters through a damaged int8 model (its embeddings shifted):
    wrong in the sweep exactly when greedy generation answers it wrong."""
    h, t = model_file.read(sweep.MODEL)
    rng = np.random.default_rng(4)
    emb = t["tok_emb"][0] + rng.integers(-25, 26, t["tok_emb"][0].shape)
    t["tok_emb"] = (np.clip(emb, -127, 127), None)
    damaged = tmp_path / "damaged.bin"
    model_file.write(str(damaged), h, t)
    results = sweep.sweep([1, 2, 3], jobs=2, model_path=str(damaged), log=lambda s: None)
    model = int8_model.build(h, t)
    for n, (count, w8, _, wrong) in results.items():
        assert count == 10**n
        bad = [s for s in strings(n) if model.generate(s + "|", n + 1, ".") != s[::-1] + "."]
        assert sorted(wrong) == sorted(bad) and w8 == len(bad)
    assert sum(r[1] for r in results.values()) > 50  # noqa: PLR2004  (damage shows)
    # Drawn strings (--sample): each answered as in the search over all of them.
    drawn = sweep.sweep([3], jobs=2, model_path=str(damaged), log=lambda s: None, sample=500)
    picks = np.random.default_rng((1, 3)).integers(0, 10, (500, 3))
    picked = ["".join(task.LETTERS[i] for i in row) for row in picks.tolist()]
    all_wrong = set(results[3][3])
    assert drawn[3][0] == 500 and drawn[3][1] == sum(s in all_wrong for s in picked)


@needs_cc
def test_sweep_float_verdicts_are_the_float_models():
    results = sweep.sweep([1, 2], jobs=1, log=lambda s: None)
    p, c = float_model.load(sweep.FLOAT)
    for n, (_, _, wf, _) in results.items():
        bad = [
            s for s in strings(n)
            if task.decode(float_model.generate(p, c, task.encode(s + "|"), n + 1, 11)) != s[::-1] + "."
        ]  # fmt: skip
        assert wf == len(bad)
