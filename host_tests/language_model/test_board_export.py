"""Files the converter writes, on the board's code: the shim and the unix port against the
numpy int8 model (tools/tinylm/int8_model.py), bit for bit: decoders and classifiers of
version 2 (vocabularies past 256, tokens of several bytes, activation tables, both
poolings and attentions, both requantisations) and the shipped gesture classifier."""

import json
import os
import subprocess

import numpy as np
import pytest
import tinymodels
from attention.classifier import Classifier
from attention.decoder import Decoder
from conftest import MICROPYTHON, ROOT

from tinylm import int8_model, model_file

needs_unix = pytest.mark.skipif(not MICROPYTHON, reason="micropython (unix port) not installed")
GESTURE = os.path.join(ROOT, "firmware", "attention", "gesture.bin")

SIZES = {"vocab": 6, "dim": 8, "heads": 2, "layers": 2, "hidden": 12, "context": 6}
DECODERS = {
    "gelu-300": {"vocab": 300, "activation": "gelu", "texts": ["w%d" % i for i in range(300)]},
    "relu-utf8": {"vocab": 4, "texts": ["ab", "→", "é", "."]},
    "tanh-dim1": {"dim": 1, "heads": 1, "activation": "tanh", "hidden": 3},
}
CLASSIFIERS = {
    "mean-full-relu": {"features": 3, "attention": "full", "pooling": "mean"},
    "mean-causal-gelu": {
        "features": 4,
        "attention": "causal",
        "pooling": "mean",
        "activation": "gelu",
    },
    "cls-full-silu": {"features": 2, "attention": "full", "pooling": "cls", "activation": "silu"},
    "cls-causal-relu": {"features": 1, "attention": "causal", "pooling": "cls", "context": 1},
}


def make(tmp_path, name, seed, kind, kw, method="mse"):
    sizes = dict(SIZES, **kw)
    if kind == "classifier":
        sizes["kind"] = "classifier"
    h, tensors = tinymodels.quantised(seed, version=2, method=method, **sizes)
    path = tmp_path / (name + ".bin")
    model_file.write(str(path), h, tensors)
    return str(path), int8_model.build(h, tensors)


def decoder_cases(ref, seed, count=6):
    rng = np.random.default_rng(seed)
    t, v = ref.h["context"], ref.h["vocab"]
    return [rng.integers(0, v, int(rng.integers(1, t + 1))).tolist() for _ in range(count)]


def classifier_cases(ref, seed, count=6):
    rng = np.random.default_rng(seed)
    shape = (count, ref.h["context"], ref.h["features"])
    return rng.integers(-128, 128, shape).astype(np.int8)


def want_decoder(ref, ids):
    return ref.logits_of([ids])[0].tolist()


def want_classifier(ref, frames):
    logits = ref.logits(frames)[0]
    return [int(np.argmax(logits)), logits.tolist(), ref.scores(logits)]


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_shim_decoder_of_version_2_equals_numpy(tmp_path, name):
    path, ref = make(tmp_path, name, 1, "decoder", DECODERS[name])
    m = Decoder.load(path)
    assert list(m.vocab) == ref.texts or m.vocab == "".join(ref.texts)
    for ids in decoder_cases(ref, 2):
        m.reset()
        got = []
        for t in ids:
            m.feed(t)
            got.append(list(m.logits))
        assert got == want_decoder(ref, ids), ids


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_shim_classifier_of_version_2_equals_numpy(tmp_path, name):
    path, ref = make(tmp_path, name, 3, "classifier", CLASSIFIERS[name])
    m = Classifier.load(path)
    assert list(m.labels) == ref.labels or m.labels == "".join(ref.labels)
    for frames in classifier_cases(ref, 4):
        label = m.classify(bytes(frames.tobytes()))
        assert [label, list(m.logits), list(m.scores)] == want_classifier(ref, frames)


def test_shim_gesture_model_equals_numpy_on_held_out_windows():
    from tinylm import gesture

    ref = int8_model.load(GESTURE)
    m = Classifier.load(GESTURE)
    frames, _ = gesture.dataset(24, gesture.HELD_SEED)
    for w in frames:
        label = m.classify(w.tobytes())
        assert [label, list(m.logits), list(m.scores)] == want_classifier(ref, w)


RUNNER = """
import json, sys
from attention.classifier import Classifier
from attention.decoder import Decoder
out = []
for line in open(sys.argv[1]):
    c = json.loads(line)
    if c["kind"] == "decoder":
        m = Decoder.load(c["path"])
        m.reset()
        got = []
        for t in c["ids"]:
            m.feed(t)
            got.append(list(m.logits))
    else:
        m = Classifier.load(c["path"])
        frames = bytes(v & 255 for v in c["frames"])
        if c.get("stream"):
            for i in range(len(c["frames"]) // m.features):
                m.push(frames[i * m.features : (i + 1) * m.features])
            label = m.classify()
        else:
            label = m.classify(frames)
        got = [label, list(m.logits), list(m.scores)]
    print(json.dumps(got))
"""


@needs_unix
def test_unix_port_runs_exported_files_bit_for_bit(tmp_path):
    from tinylm import gesture

    cases, want = [], []
    for i, (name, kw) in enumerate(sorted(DECODERS.items())):
        path, ref = make(tmp_path, name, 10 + i, "decoder", kw)
        for ids in decoder_cases(ref, 20 + i):
            cases.append({"kind": "decoder", "path": path, "ids": ids})
            want.append(want_decoder(ref, ids))
    for i, (name, kw) in enumerate(sorted(CLASSIFIERS.items())):
        for requant, method in (("1", "mse"), ("max", "max")):
            path, ref = make(tmp_path, name + requant, 30 + i, "classifier", kw, method)
            for j, frames in enumerate(classifier_cases(ref, 40 + i)):
                cases.append(
                    {"kind": "classifier", "path": path, "frames": frames.ravel().tolist()}
                )
                want.append(want_classifier(ref, frames))
                if j == 0:  # the stream: two windows pushed, the last one classified
                    older = classifier_cases(ref, 50 + i, 1)[0]
                    both = np.concatenate([older, frames]).ravel().tolist()
                    cases.append(dict(cases[-1], frames=both, stream=True))
                    want.append(want[-1])
    ref = int8_model.load(GESTURE)
    frames, _ = gesture.dataset(40, gesture.HELD_SEED)
    for w in frames:
        cases.append({"kind": "classifier", "path": GESTURE, "frames": w.ravel().tolist()})
        want.append(want_classifier(ref, w))
    vectors = tmp_path / "cases.jsonl"
    vectors.write_text("".join(json.dumps(c) + "\n" for c in cases))
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    done = subprocess.run(
        [MICROPYTHON, str(runner), str(vectors)],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, MICROPYPATH=os.path.join(ROOT, "firmware")),
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    got = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(got) == len(cases)
    for c, g, w in zip(cases, got, want):
        assert g == w, {k: v for k, v in c.items() if k != "frames"}


def test_a_classifier_of_token_ids_is_refused_with_a_message(tmp_path):
    """The header can say a classifier reads token ids (kind 1, input 0); the board runs
    classifiers of frames and refuses it before anything is allocated."""
    path, _ = make(tmp_path, "tokens", 60, "classifier", {"attention": "full", "pooling": "mean"})
    with pytest.raises(ValueError, match=r"a classifier reads frames \(input 1\)"):
        Classifier.load(path)
