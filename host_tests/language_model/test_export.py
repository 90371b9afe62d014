"""The host side of a model of one's own: model files of versions 1 and 2, the numpy int8
model of both kinds against the format's computation written row by row, the converter on
any shape, and the torch modules against the numpy float model (skipped without torch)."""

import os
import struct
import zlib

import numpy as np
import pytest
import tinymodels
from conftest import ROOT

from tinylm import convert, export, float_model, model_file, int8_model
from tinylm import int8_ops as ops
from tinylm.arch import Config

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(
    torch is None, reason="torch not installed (make train installs it)"
)

KINDS = [
    {},
    {"activation": "gelu"},
    {"kind": "classifier", "features": 3, "attention": "full", "pooling": "mean"},
    {
        "kind": "classifier",
        "features": 5,
        "attention": "causal",
        "pooling": "cls",
        "activation": "silu",
    },
    {"kind": "classifier", "attention": "full", "pooling": "cls", "activation": "tanh"},
]


def model(seed, version=2, method="max", **kw):
    sizes = {"vocab": 6, "dim": 8, "heads": 2, "layers": 2, "hidden": 12, "context": 5}
    sizes.update(kw)
    return tinymodels.quantised(seed, version=version, method=method, **sizes)


@pytest.mark.parametrize("kw", KINDS, ids=lambda kw: "-".join(map(str, kw.values())) or "decoder")
def test_version_2_files_round_trip_with_their_crc(kw):
    h, tensors = model(1, **kw)
    raw = model_file.to_bytes(h, tensors)
    assert struct.unpack_from("<4sHH", raw) == (b"I8TM", 2, h["kind"])
    stored = struct.unpack_from("<I", raw, 40)[0]
    assert stored == zlib.crc32(raw[:40] + bytes(4) + raw[44:])
    h2, t2 = model_file.parse(raw)
    assert h2 == h
    assert sorted(t2) == sorted(tensors)
    for name, (data, scales) in tensors.items():
        assert np.array_equal(t2[name][0], data), name
        assert (scales is None and t2[name][1] is None) or np.array_equal(t2[name][1], scales)
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 1
    with pytest.raises(ValueError, match="CRC"):
        model_file.parse(bytes(flipped))


def test_version_1_files_still_read_and_run(tmp_path):
    """The reversal model as version 1 (max ranges, as first shipped): the host reads and
    runs it, and the board's decoder gives the numpy model's logits."""
    from attention.decoder import Decoder

    p, c = float_model.load(os.path.join(ROOT, "tools", "tinylm", "reverse-float.npz"))
    h, tensors, _ = convert.convert(p, c, convert.calibration_samples(), "max", 1)
    path = tmp_path / "v1.bin"
    model_file.write(str(path), h, tensors)
    raw = path.read_bytes()
    assert raw[4:6] == b"\x01\x00" and len(raw) == 21708  # noqa: PLR2004
    h2, t2 = model_file.read(str(path))
    assert h2["version"] == 1 and h2["kind"] == 0 and h2["requant"] == 0
    assert model_file.to_bytes(h2, t2) == raw
    m = int8_model.build(h2, t2)
    assert m.generate("abc|", None, ".") == "cba."
    board = Decoder.load(str(path))
    m.reset()
    for token in [0, 3, 10, 2]:
        board.feed(token)
        assert list(board.logits) == m.feed(token).tolist()


def test_vocabularies_above_256_and_tokens_of_many_bytes():
    texts = ["tok%d" % i for i in range(300)] + ["ß", "→", ""]
    h, tensors = model(2, vocab=len(texts), texts=texts)
    assert h["vocab"] == 303 and tensors["vocab"][0].shape == (303, 6)
    h2, t2 = model_file.parse(model_file.to_bytes(h, tensors))
    assert model_file.texts(h2, t2) == texts
    m = int8_model.build(h2, t2)
    assert m.logits_of([[302, 0, 299]]).shape == (1, 3, 303)


@pytest.mark.parametrize("requant", [0, 1])
def test_every_scaled_row_keeps_the_promise_of_its_requant(requant):
    p, c = tinymodels.float_params(3, vocab=6, dim=8, heads=2, layers=2, hidden=12, context=5)
    samples = tinymodels.samples_for(c, np.random.default_rng(4))
    h, tensors, info = convert.convert(p, c, samples, "max", 2, requant)
    assert h["requant"] == requant
    for name, (data, scales) in tensors.items():
        if scales is None:
            continue
        for row, (m, s) in zip(data, scales):
            assert 0 <= m <= 32767, name
            if requant:
                assert 1 <= s <= 31 and 128 * int(np.abs(row).sum()) * m + 2 ** (s - 1) < 2**31
            else:
                assert 17 <= s <= 40


def test_requant_0_and_1_compute_the_same_formula():
    """acc * m / 2**s rounded half up: version 1's split form equals the one multiply."""
    rng = np.random.default_rng(5)
    for _ in range(2000):
        s = int(rng.integers(17, 32))
        m = int(rng.integers(0, 32768))
        bound = (2**31 - 2 ** (s - 1)) // max(m, 1)
        a = int(rng.integers(-bound, bound + 1))
        split = ((a >> 16) * m + 2 ** (s - 17) + (((a & 0xFFFF) * m) >> 16)) >> (s - 16)
        assert split == (a * m + 2 ** (s - 1)) >> s == ops.requant([a], np.array([[m, s]]))[0]


def test_a_version_2_decoder_computes_as_version_1():
    """The same scales in both versions (requant 0): the same logits, every position."""
    p, c = tinymodels.float_params(6, vocab=6, dim=8, heads=2, layers=2, hidden=12, context=7)
    c.texts = list("abcdef")
    samples = tinymodels.samples_for(c, np.random.default_rng(7))
    one = int8_model.build(*convert.convert(p, c, samples, "max", 1)[:2])
    two = int8_model.build(*convert.convert(p, c, samples, "max", 2, 0)[:2])
    ids = np.random.default_rng(8).integers(0, 6, (20, 7))
    assert np.array_equal(one.logits_of(ids), two.logits_of(ids))


def test_feeding_token_by_token_equals_whole_sequences():
    m = int8_model.build(*model(9, activation="gelu", context=9))
    ids = np.random.default_rng(10).integers(0, 6, (4, 9))
    whole = m.logits_of(ids)
    for row in range(4):
        m.reset()
        for t in range(9):
            assert m.feed(int(ids[row, t])).tolist() == whole[row, t].tolist()


def plain_classifier(h, t, window):
    """The classifier of docs/model-format.md, one row at a time, with the scalar ops."""
    d, T = h["dim"], h["context"]
    num, down = ops.norm_constants(d, h["norm_frac"])
    norm = lambda x: ops.rms_norm(x, num, down)  # noqa: E731
    lin = lambda name, x: ops.linear8(t[name][0], t[name][1], x)  # noqa: E731
    table = t["act"][0][0] if h["activation"] else int8_model.relu_table()
    pos = t["pos_emb"][0]
    if h["input"]:
        x = [ops.saturate8(lin("in_proj", window[r]) + pos[r]) for r in range(T)]
    else:
        x = [ops.saturate8(t["tok_emb"][0][window[r]] + pos[r]) for r in range(T)]
    if h["pooling"] == 2:
        x.append(ops.saturate8(t["cls"][0][0] + pos[T]))
    for i in range(h["layers"]):
        keys, values, queries = [], [], []
        for row in x:
            n = norm(row)
            queries.append(lin("%d.wq" % i, n))
            keys.append(lin("%d.wk" % i, n))
            values.append(lin("%d.wv" % i, n))
        for r in range(len(x)):
            seen = len(x) if h["attention"] else r + 1
            a = ops.saturate8(
                ops.attention(
                    queries[r],
                    np.array(keys[:seen]),
                    np.array(values[:seen]),
                    h["heads"],
                    h["logit_shift"],
                )
            )
            x[r] = ops.saturate8(x[r] + lin("%d.wo" % i, a))
            f = lin("%d.w1" % i, norm(x[r]))
            x[r] = ops.saturate8(x[r] + lin("%d.w2" % i, table[f & 255]))
    if h["pooling"] == 2:
        p = x[T]
    else:
        p = np.array([(sum(int(row[j]) for row in x[:T]) + T // 2) // T for j in range(d)])
    return ops.requant(ops.matvec(t["head"][0], norm(p)), t["head"][1]).tolist()


@pytest.mark.parametrize("kw", KINDS[2:], ids=["mean-full", "cls-causal", "tokens-cls"])
def test_numpy_classifier_follows_the_format_row_by_row(kw):
    h, tensors = model(11, **kw)
    m = int8_model.build(h, tensors)
    rng = np.random.default_rng(12)
    shape = (6, h["context"], h["features"]) if h["input"] else (6, h["context"])
    windows = rng.integers(-128, 128, shape) if h["input"] else rng.integers(0, h["vocab"], shape)
    batch = m.logits(windows)
    for w, got in zip(windows, batch):
        assert got.tolist() == plain_classifier(h, tensors, w)
    label, scores = m.classify(windows[0])
    assert label == int(np.argmax(batch[0])) and abs(sum(scores) - 256) <= len(scores)


SHAPES = [
    {"vocab": 1}, {"vocab": 2}, {"vocab": 11}, {"context": 1}, {"context": 2}, {"context": 16},
    {"dim": 1, "heads": 1}, {"dim": 2, "heads": 2, "hidden": 1}, {"layers": 1, "hidden": 1},
]  # fmt: skip


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join("%s%d" % kv for kv in s.items()))
def test_converter_takes_small_vocabularies_contexts_and_dim_1(sizes, version):
    for method in convert.METHODS:
        h, tensors = model(13, version=version, method=method, **sizes)
        m = int8_model.build(*model_file.parse(model_file.to_bytes(h, tensors)))
        ids = np.zeros((1, h["context"]), dtype=int)
        assert m.logits_of(ids).shape == (1, h["context"], h["vocab"])


def test_converter_takes_a_model_of_zeros():
    p, c = tinymodels.float_params(14, vocab=3, dim=4, heads=1, layers=1, hidden=4, context=3)
    p = {k: np.zeros_like(v) for k, v in p.items()}
    h, tensors, _ = convert.convert(p, c, [[0, 1, 2]], "mse", 2)
    assert int8_model.build(h, tensors).logits_of([[0, 1, 2]]).tolist() == [[[0] * 3] * 3]


def test_converter_refuses_inputs_outside_the_model_with_a_message():
    p, c = tinymodels.float_params(15, vocab=4, dim=4, heads=1, layers=1, hidden=4, context=3)
    with pytest.raises(ValueError, match="token ids 0..3"):
        convert.convert(p, c, [[0, 4]])
    with pytest.raises(ValueError, match="1..3 ids"):
        convert.convert(p, c, [[0, 1, 2, 3]])


@pytest.mark.parametrize("method", convert.METHODS)
def test_per_layer_report_names_every_quantised_tensor(method):
    p, c = tinymodels.float_params(16, vocab=5, dim=8, heads=2, layers=2, hidden=12, context=6)
    samples = tinymodels.samples_for(c, np.random.default_rng(17))
    h, tensors, info = convert.convert(p, c, samples, method)
    rows = convert.compare(p, c, h, tensors, info, samples)
    names = [r[0] for r in rows]
    per_layer = ["q", "k", "v", "attn", "res1", "w1", "act", "res2"]
    assert names == ["embed"] + ["%d.%s" % (i, n) for i in range(2) for n in per_layer] + [
        "logits"
    ]
    embed = rows[0]
    assert embed[2] <= 1.0 and embed[4] > 0.99  # noqa: PLR2004  (rounding only: one step off at most)
    assert all(r[3] > 5 and r[4] > 0.9 for r in rows)  # noqa: PLR2004


def test_export_from_a_numpy_checkpoint_reports_and_writes(tmp_path):
    p, c = tinymodels.float_params(
        18,
        vocab=4,
        dim=8,
        heads=2,
        layers=1,
        hidden=8,
        context=6,
        kind="classifier",
        features=3,
        attention="full",
        pooling="mean",
    )
    ckpt = tmp_path / "m.npz"
    float_model.save(ckpt, p, c)
    rng = np.random.default_rng(19)
    cal = tmp_path / "cal.npz"
    np.savez(cal, frames=rng.integers(-128, 128, (50, 6, 3)).astype(np.int8))
    frames = rng.integers(-128, 128, (40, 6, 3)).astype(np.int8)
    p32 = {k: v.astype(np.float32).astype(np.float64) for k, v in p.items()}
    labels = float_model.forward(p32, c, frames).argmax(-1)
    held = tmp_path / "held.npz"
    np.savez(held, frames=frames, labels=labels)
    lines = []
    got = export.export(str(ckpt), str(tmp_path / "m.bin"), str(cal), str(held), log=lines.append)
    assert got["accuracy"]["float"] == 1.0 and got["accuracy"]["count"] == 40
    assert got["accuracy"]["int8"] >= 0.8  # noqa: PLR2004
    assert lines[0].startswith("calibration: max") and "tensor" in lines[3]
    assert lines[-1].startswith("task accuracy: float 100.00%")
    h, _ = model_file.read(tmp_path / "m.bin")
    assert (h["kind"], h["input"], h["features"], h["pooling"]) == (1, 1, 3, 1)


@needs_torch
@pytest.mark.parametrize("kw", KINDS, ids=lambda kw: "-".join(map(str, kw.values())) or "decoder")
def test_torch_modules_compute_the_numpy_float_model(kw):
    from tinylm import nets

    torch.manual_seed(0)
    sizes = {"vocab": 6, "dim": 8, "heads": 2, "layers": 2, "hidden": 12, "context": 5}
    c = Config(**sizes, **kw, input_scale=1 / 32)
    m = nets.TinyTransformer(c)
    with torch.no_grad():
        for v in m.parameters():
            v.add_(torch.randn_like(v) * 0.3)  # gains away from 1
    rng = np.random.default_rng(1)
    if c.frames:
        x = rng.integers(-128, 128, (3, 5, c.features))
        want = m(torch.tensor(x, dtype=torch.float32)).detach().double().numpy()
    else:
        x = rng.integers(0, 6, (3, 5))
        want = m(torch.tensor(x)).detach().double().numpy()
    got = float_model.forward(nets.params(m), c, x)
    assert np.allclose(got, want, atol=1e-4)


@needs_torch
def test_export_a_trained_module_and_its_checkpoint(tmp_path):
    from tinylm import nets

    torch.manual_seed(1)
    c = Config(
        kind="classifier",
        vocab=2,
        features=2,
        dim=8,
        heads=2,
        layers=1,
        hidden=8,
        context=4,
        attention="full",
        pooling="cls",
        activation="gelu",
        input_scale=1 / 64,
    )
    m = nets.TinyTransformer(c)
    rng = np.random.default_rng(2)

    def batch(step):
        x = rng.integers(-128, 128, (64, 4, 2))
        y = (x[:, :, 0].sum(1) > 0).astype(np.int64)  # the sign of the first feature's sum
        return torch.tensor(x, dtype=torch.float32), torch.tensor(y)

    nets.fit(m, batch, 300, lr=1e-2, log_every=0)
    x = rng.integers(-128, 128, (400, 4, 2)).astype(np.int8)
    held = {"frames": x, "labels": (x[:, :, 0].astype(int).sum(1) > 0).astype(int)}
    cal = {"frames": rng.integers(-128, 128, (100, 4, 2)).astype(np.int8)}
    got = export.export(m, str(tmp_path / "a.bin"), cal, held, log=lambda s: None)
    assert got["accuracy"]["float"] > 0.9  # noqa: PLR2004
    assert got["accuracy"]["int8"] >= got["accuracy"]["float"] - 0.03
    nets.save(m, tmp_path / "m.pt")
    again = export.export(
        str(tmp_path / "m.pt"),
        str(tmp_path / "b.bin"),
        cal,
        held,
        method=got["info"]["method"],
        log=lambda s: None,
    )
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()
    assert again["accuracy"] == got["accuracy"]


@needs_torch
@pytest.mark.parametrize("name", ["reverse", "gesture"])
def test_training_is_repeatable_on_one_machine(name):
    """make train's steps, a few of each: the same seed gives the same weights, bit for bit."""
    from tinylm import nets, train

    a = nets.params(train.train(name, steps=3, size=4, quantised_steps=2))
    b = nets.params(train.train(name, steps=3, size=4, quantised_steps=2))
    assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)
