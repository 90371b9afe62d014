"""tools/report/per_token.py: the MAC and row counts of a token against the model file's
own tensor list, the mean over a context against numpy, a random model the decoder loads,
and the shipped model's tables against the counts they come from."""

import re

import numpy as np
import pytest
from conftest import MICROPYTHON
from machine_code import qemu_run, token_counts
from report import per_token
from tinylm import model_file

SHAPE = {"dim": 16, "layers": 3, "heads": 4, "hidden": 40, "context": 20, "vocab": 50}


def _scaled(h, logits):
    """(rows, cols) of every projection a token runs, from the file's tensor list: all of
    them, or without logits all but the last layer's q, o, w1, w2 and the LM head."""
    last = "%d." % (h["layers"] - 1)
    out = []
    for name, rows, cols, scaled in model_file.tensor_list(h):
        if not scaled:
            continue
        stops = name == "lm_head" or (name.startswith(last) and name[-2:] not in ("wk", "wv"))
        if stops and not logits:
            continue
        out.append((rows, cols))
    return out


@pytest.mark.parametrize("logits", [True, False])
@pytest.mark.parametrize("position", [0, 7, 19])
def test_macs_and_rows_are_the_tensors_and_the_cache(position, logits):
    h = SHAPE
    layers = h["layers"] if logits else h["layers"] - 1
    attend = layers * 2 * (position + 1) * h["dim"]
    project = sum(r * c for r, c in _scaled(h, logits))
    assert per_token.split_macs(h, position, logits) == {"project": project, "attend": attend}
    assert per_token.macs(h, position, logits) == project + attend
    rows = per_token.split_rows(h, position, logits)
    assert rows == {
        "project": sum(r for r, _ in _scaled(h, logits)),
        "attend": layers * (position + 1) * h["heads"],
    }


def test_the_mean_over_a_context_interpolates_linearly():
    points = {0: 10.0, 5: 30.0, 9: 14.0}
    expected = np.interp(np.arange(10), list(points), list(points.values())).mean()
    assert per_token.interpolated_mean(points, 10) == pytest.approx(expected)
    assert per_token.sample_positions(512) == [0, 64, 128, 192, 256, 320, 384, 448, 511]


def test_a_random_model_loads_and_runs(tmp_path):
    from attention.decoder import Decoder

    path = tmp_path / "random.bin"
    h = per_token.random_model(SHAPE, path)
    _, tensors = model_file.read(path)
    for name, rows, cols, scaled in model_file.tensor_list(h):
        data, scales = tensors[name]
        assert data.shape == (rows, cols)
        if scaled:
            assert (scales[:, 0] < 32768).all() and (17 <= scales[:, 1]).all()
    model = Decoder.load(str(path))
    out = bytearray(6)
    assert model.generate_into(bytes([1]), out) == 6
    assert len(set(model.logits)) > 10  # spread logits: the scales keep activations alive


@pytest.mark.skipif(
    any(qemu_run.missing_tools(a) for a in per_token.ESP32_ARCHES) or not MICROPYTHON,
    reason="needs QEMU and the unix port",
)
def test_the_shipped_tables_are_the_counts(monkeypatch):
    """The report's 'all kernels' row and its ESP32 estimate come from the replayed counts:
    us = instructions x CPI / MHz."""
    text, totals, whole = per_token.shipped_report(None)
    mean, _, full = totals["xtensawin"]
    rec = token_counts.record()
    counts = token_counts.replay(rec, "xtensawin")
    assert mean.total == pytest.approx(token_counts.per_token(rec, counts).total)
    row = re.search(r"\| all kernels +\| +([\d.]+) \| +(\d+) \|", text)
    assert int(row.group(2)) == round(mean.total)
    line = re.search(
        r"ESP32 / ESP32-S3, kernels \(xtensawin, counted\) +\| +240 \| +(\d+) \| +(\d+) \| +(\d+)",
        text,
    )
    assert int(line.group(2)) == round(mean.total * per_token.CPI / 240)
    assert int(line.group(3)) == round(full.total * per_token.CPI / 240)
    assert whole is None and "Whole token on RV32 MicroPython: skipped" in text
