"""Small random float models, quantised by the converter: inputs for the decoder tests."""

import os

import numpy as np

from conftest import ROOT
from tinylm import convert, model_file
from tinylm.int8_model import Int8Model

SHIPPED = os.path.join(ROOT, "firmware", "attention", "reverse.bin")


def float_params(seed, vocab=7, dim=16, heads=2, layers=2, hidden=24, context=9):
    """A float model as float_model.load gives it, with random weights."""
    rng = np.random.default_rng(seed)
    p = {
        "tok_emb": rng.normal(0, 1, (vocab, dim)),
        "pos_emb": rng.normal(0, 0.5, (context, dim)),
        "norm_f": rng.uniform(0.5, 1.5, dim),
        "lm_head": rng.normal(0, 0.3, (vocab, dim)),
        "heads": heads,
        "layers": layers,
        "vocab": "abcdefghijklmnopqrstuvwxyz0123456789"[:vocab],
    }
    for i in range(layers):
        for name, shape in (
            ("wq", (dim, dim)),
            ("wk", (dim, dim)),
            ("wv", (dim, dim)),
            ("wo", (dim, dim)),
            ("w1", (hidden, dim)),
            ("w2", (dim, hidden)),
        ):
            p["layers.%d.%s" % (i, name)] = rng.normal(0, 1 / np.sqrt(shape[1]), shape)
        p["layers.%d.norm1" % i] = rng.uniform(0.5, 1.5, dim)
        p["layers.%d.norm2" % i] = rng.uniform(0.5, 1.5, dim)
    return p


def quantised(seed, **sizes):
    """(header, tensors) of a random model, calibrated on random token sequences."""
    p = float_params(seed, **sizes)
    rng = np.random.default_rng(seed + 1)
    context = p["pos_emb"].shape[0]
    vocab = p["tok_emb"].shape[0]
    samples = [rng.integers(0, vocab, rng.integers(1, context + 1)).tolist() for _ in range(40)]
    return convert.convert(p, samples)


def write(path, seed, **sizes):
    """Write a random model file at path; returns the numpy int8 model of it."""
    h, tensors = quantised(seed, **sizes)
    model_file.write(str(path), h, tensors)
    return Int8Model(*model_file.read(str(path)))


def shipped():
    return Int8Model(*model_file.read(SHIPPED))
