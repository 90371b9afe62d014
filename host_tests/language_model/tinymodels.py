"""Small random float models, quantised by the converter: inputs for the decoder tests."""

import os

import numpy as np

from conftest import ROOT
from tinylm import convert, model_file
from tinylm.arch import Config
from tinylm.int8_model import Int8Model

SHIPPED = os.path.join(ROOT, "firmware", "attention", "reverse.bin")


def float_params(seed, vocab=7, dim=16, heads=2, layers=2, hidden=24, context=9, **kw):
    """(params, Config) of a float model as float_model.load gives it, random weights.

    kw: more Config fields (kind, features, activation, attention, pooling, ...).
    """
    rng = np.random.default_rng(seed)
    c = Config(
        vocab=vocab, dim=dim, heads=heads, layers=layers, hidden=hidden, context=context, **kw
    )
    p = {
        "pos_emb.weight": rng.normal(0, 0.5, (c.rows, dim)),
        "norm_f.weight": rng.uniform(0.5, 1.5, dim),
        "head.weight": rng.normal(0, 0.3, (vocab, dim)),
    }
    if c.frames:
        p["in_proj.weight"] = rng.normal(0, 1 / np.sqrt(c.features), (dim, c.features))
    else:
        p["tok_emb.weight"] = rng.normal(0, 1, (vocab, dim))
    if c.pooling == "cls":
        p["cls"] = rng.normal(0, 1, (1, dim))
    for i in range(layers):
        for name, shape in (
            ("wq", (dim, dim)),
            ("wk", (dim, dim)),
            ("wv", (dim, dim)),
            ("wo", (dim, dim)),
            ("w1", (hidden, dim)),
            ("w2", (dim, hidden)),
        ):
            p["layers.%d.%s.weight" % (i, name)] = rng.normal(0, 1 / np.sqrt(shape[1]), shape)
        p["layers.%d.norm1.weight" % i] = rng.uniform(0.5, 1.5, dim)
        p["layers.%d.norm2.weight" % i] = rng.uniform(0.5, 1.5, dim)
    return p, c


def samples_for(c, rng, count=40):
    """Random calibration inputs of Config c."""
    if c.frames:
        return rng.integers(-128, 128, (count, c.context, c.features))
    if c.kind == "classifier":
        return [rng.integers(0, c.vocab, c.context).tolist() for _ in range(count)]
    return [
        rng.integers(0, c.vocab, rng.integers(1, c.context + 1)).tolist() for _ in range(count)
    ]


def quantised(seed, version=1, method="max", **sizes):
    """(header, tensors) of a random model, calibrated on random inputs."""
    p, c = float_params(seed, **sizes)
    rng = np.random.default_rng(seed + 1)
    if "texts" not in sizes and c.kind == "decoder" and version == 1:
        c.texts = list("abcdefghijklmnopqrstuvwxyz0123456789"[: c.vocab])
    h, tensors, _ = convert.convert(p, c, samples_for(c, rng), method, version)
    return h, tensors


def write(path, seed, **sizes):
    """Write a random model file at path; returns the numpy int8 model of it."""
    h, tensors = quantised(seed, **sizes)
    model_file.write(str(path), h, tensors)
    from tinylm import int8_model

    return int8_model.load(str(path))


def shipped():
    return Int8Model(*model_file.read(SHIPPED))
