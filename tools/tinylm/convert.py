"""Post-training quantisation: a float model (.npz) to a model file for the board.

    python tools/tinylm/convert.py build/reverse.npz firmware/attention/reverse.bin

Weights: symmetric int8 per output row (a norm's gain folded in first).
Activations: scales calibrated on sample inputs (the largest magnitude seen):
one scale for the residual stream, Q(norm_frac) after each norm, one scale per
projection output; q's scale is set so that the attention's exp2 softmax with
logit_shift computes the float softmax(q.k / sqrt(head_dim)) exactly up to rounding.
Each projection's real multiplier r = s_in * s_w[row] / s_out becomes (m, s) with
m / 2**s = r (docs/model-format.md).
"""

import argparse
import math
import os
import sys

import numpy as np

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tinylm import float_model, model_file, task
from tinylm.int8_ops import scale_shift

MIN_SHIFT, MAX_SHIFT, MAX_MULT = 17, 40, 32767


def multiplier(r):
    """(m, s) with m / 2**s closest to r > 0, 0 <= m <= 32767, 17 <= s <= 40."""
    if r >= MAX_MULT / 2**MIN_SHIFT:
        raise ValueError(
            "multiplier %g is too large (at most %g): raise the output scale"
            % (r, MAX_MULT / 2**MIN_SHIFT)
        )
    s = min(max(14 - math.floor(math.log2(r)), MIN_SHIFT), MAX_SHIFT)
    m = round(r * 2**s)
    if m > MAX_MULT:
        m, s = round(r * 2 ** (s - 1)), s - 1
    return m, s


def quantise_rows(w):
    """int8 rows and each row's scale: w ~ q * scale[:, None]."""
    scale = np.maximum(np.abs(w).max(axis=1), 1e-8) / 127
    return np.clip(np.round(w / scale[:, None]), -127, 127).astype(np.int64), scale


def calibrate(p, samples):
    """The largest magnitude of each recorded activation over the sample token sequences."""
    rec = {}
    for ids in samples:
        float_model.forward(p, np.array(ids), rec)
    return {k: max(float(np.abs(a).max()) for a in v) for k, v in rec.items()}


def convert(p, samples):
    """(header, tensors) of the quantised model."""
    peak = calibrate(p, samples)
    d = p["tok_emb"].shape[1]
    hd = d // p["heads"]
    ss = scale_shift(hd)
    s_res = max(peak["residual"], np.abs(p["tok_emb"]).max(), np.abs(p["pos_emb"]).max()) / 127
    norm_frac = int(min(7, math.floor(math.log2(127 / peak["norm"]))))
    s_norm = 2.0**-norm_frac
    layers = p["layers"]
    # One logit_shift for all layers: the largest that leaves q unsaturated everywhere.
    s_k = [peak["%d.k" % i] / 127 for i in range(layers)]
    shifts = [
        math.floor(math.log2(math.sqrt(hd) / (2**ss * s_k[i] * peak["%d.q" % i] / 127)))
        for i in range(layers)
    ]
    logit_shift = int(min(12, max(0, min(shifts))))
    tensors = {}

    def project(name, w, s_in, s_out):
        q, sw = quantise_rows(w)
        tensors[name] = (q, np.array([multiplier(s_in * sw[r] / s_out) for r in range(len(sw))]))

    emb = lambda a: np.clip(np.round(a / s_res), -127, 127).astype(np.int64)  # noqa: E731
    tensors["vocab"] = (
        np.frombuffer(p["vocab"].encode(), dtype=np.uint8).astype(np.int64).reshape(1, -1),
        None,
    )
    tensors["tok_emb"] = (emb(p["tok_emb"]), None)
    tensors["pos_emb"] = (emb(p["pos_emb"]), None)
    for i in range(layers):
        w = lambda n: p["layers.%d.%s" % (i, n)]  # noqa: E731
        s_q = math.sqrt(hd) / (2 ** (ss + logit_shift) * s_k[i])
        s_v = peak["%d.v" % i] / 127
        s_f = peak["%d.f" % i] / 127
        project("%d.wq" % i, w("wq") * w("norm1"), s_norm, s_q)
        project("%d.wk" % i, w("wk") * w("norm1"), s_norm, s_k[i])
        project("%d.wv" % i, w("wv") * w("norm1"), s_norm, s_v)
        project("%d.wo" % i, w("wo"), s_v, s_res)
        project("%d.w1" % i, w("w1") * w("norm2"), s_norm, s_f)
        project("%d.w2" % i, w("w2"), s_f, s_res)
    head = p["lm_head"] * p["norm_f"]
    _, sw = quantise_rows(head)
    logit_frac = 12
    while logit_frac > 0 and (
        s_norm * sw.max() * 2**logit_frac >= MAX_MULT / 2**MIN_SHIFT
        or peak["logits"] * 2**logit_frac >= 2**21
    ):
        logit_frac -= 1
    logit_frac = min(logit_frac, 8)
    project("lm_head", head, s_norm, 2.0**-logit_frac)
    h = {
        "vocab": len(p["vocab"]),
        "dim": d,
        "heads": p["heads"],
        "layers": layers,
        "hidden": p["layers.0.w1"].shape[0],
        "context": p["pos_emb"].shape[0],
        "norm_frac": norm_frac,
        "logit_shift": logit_shift,
        "logit_frac": logit_frac,
        "activation": 0,
    }
    return h, tensors


def calibration_samples(count=256, seed=7):
    """Full training-distribution examples (prompt and answer) as token id lists."""
    return [task.encode("".join(task.example(s))[:-1]) for s in task.strings(count, seed)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("npz")
    parser.add_argument("out")
    args = parser.parse_args()
    p = float_model.load(args.npz)
    h, tensors = convert(p, calibration_samples())
    model_file.write(args.out, h, tensors)
    print("wrote %s: %d bytes, %s" % (args.out, os.path.getsize(args.out), h))


if __name__ == "__main__":
    main()
