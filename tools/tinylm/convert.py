"""Post-training quantisation: a float model to a model file for the board (docs/model-format.md).

    python tools/tinylm/convert.py MODEL.npz OUT.bin [--calibration FILE.npz] [--method max]
                                                     [--version 2] [--held-out FILE.npz]

The library under export.py (which takes torch modules and checkpoints too): convert()
quantises params + Config (float_model.py) calibrated on sample inputs; report() compares
the float and int8 models tensor by tensor. Without --calibration the reversal task's
examples calibrate (the shipped model's data).

Weights: symmetric int8 per output row (a norm's gain folded in first, and a frame's
input_scale into in_proj). Activations: one scale for the residual stream (embeddings,
every residual add, the class token), Q(norm_frac) after each norm, one scale per
projection output, calibrated on the samples by `method`:
  max         the largest magnitude seen;
  percentile  the PERCENTILE-th percentile of the magnitudes (values beyond saturate);
  mse         the range whose int8 grid gives the least squared error on the values.
q's scale is set so that the attention's exp2 softmax with logit_shift computes the
float softmax(q.k / sqrt(head_dim)). Each projection's real multiplier r = s_in *
s_w[row] / s_out becomes (m, s): with requant 1 (version 2) the largest s whose m meets
the file's promise 128 * sum|w| * m + 2**(s-1) < 2**31; when a row cannot meet it with
m >= 256 (a relative error above 2**-9) the whole file uses requant 0 instead
(17 <= s <= 40, m <= 32767), and says so.
"""

import argparse
import math
import os
import sys

import numpy as np

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tinylm import float_model, int8_model, model_file, task
from tinylm import model_file as mf
from tinylm.int8_ops import scale_shift

MIN_SHIFT, MAX_SHIFT, MAX_MULT = 17, 40, 32767
R_MAX = MAX_MULT / 2**MIN_SHIFT * 0.999  # the largest multiplier requant 0 can hold
PROMISE = 2**31
METHODS = ("max", "percentile", "mse")
PERCENTILE = 99.99
TINY = 1e-6  # the range given to a tensor that was 0 everywhere


def multiplier(r):
    """(m, s) with m / 2**s closest to r >= 0, 0 <= m <= 32767, 17 <= s <= 40 (requant 0)."""
    if not 0 <= r < MAX_MULT / 2**MIN_SHIFT:
        raise ValueError(
            "multiplier %g is out of range (0 .. %g): raise the output scale"
            % (r, MAX_MULT / 2**MIN_SHIFT)
        )
    if r == 0:
        return 0, MIN_SHIFT
    s = min(max(14 - math.floor(math.log2(r)), MIN_SHIFT), MAX_SHIFT)
    m = round(r * 2**s)
    if m > MAX_MULT:
        m, s = round(r * 2 ** (s - 1)), s - 1
    return m, s


def multiplier1(r, weight_sum):
    """(m, s) for requant 1: the largest s (1..31) whose m = round(r * 2**s) <= 32767
    meets 128 * weight_sum * m + 2**(s - 1) < 2**31; None when none does."""
    for s in range(31, 0, -1):
        m = round(r * 2**s)
        if m <= MAX_MULT and 128 * weight_sum * m + 2 ** (s - 1) < PROMISE:
            return m, s
    return None


def exact_enough(r, weight_sum, m, s):
    """True when (m, s) is r within 2**-9, or when every output of the row rounds to 0."""
    half = 0.5
    if 128 * weight_sum * r < half and 128 * weight_sum * m / 2**s < half:
        return True
    return r > 0 and abs(m / 2**s - r) <= r * 2**-9


def quantise_rows(w):
    """int8 rows and each row's scale: w ~ q * scale[:, None]."""
    scale = np.maximum(np.abs(w).max(axis=1), 1e-12) / 127
    return np.clip(np.round(w / scale[:, None]), -127, 127).astype(np.int64), scale


def value_range(values, method, percentile=PERCENTILE):
    """The calibrated range of a tensor's values (a flat float array) by method."""
    a = np.abs(np.asarray(values, dtype=np.float64).ravel())
    top = float(a.max(initial=0))
    if top == 0:
        return TINY
    if method == "max":
        return top
    if method == "percentile":
        return max(float(np.percentile(a, percentile)), top * 1e-3)
    if method == "mse":
        if a.size > 200000:
            a = np.random.default_rng(0).choice(a, 200000, replace=False)
        best, best_err = top, None
        for c in top * np.linspace(0.25, 1.0, 76):
            s = c / 127
            err = float(((np.minimum(np.round(a / s), 127) * s - a) ** 2).mean())
            if best_err is None or err < best_err:
                best, best_err = c, err
        return best
    raise ValueError("method: one of %s, got %r" % (METHODS, method))


def check_samples(config, samples):
    """The calibration inputs as a list of batches (arrays of equal shape), checked."""
    c = config
    if c.frames:
        x = np.asarray(samples)
        if x.ndim != 3 or x.shape[1:] != (c.context, c.features):
            raise ValueError(
                "frames: expected (N, %d, %d) int8, got %s" % (c.context, c.features, x.shape)
            )
        if x.min() < -128 or x.max() > 127:
            raise ValueError("frames: int8 values (-128..127) expected")
        return [x[i : i + 256] for i in range(0, len(x), 256)]
    seqs = [np.asarray(s, dtype=np.int64) for s in samples]
    for s in seqs:
        if s.ndim != 1 or not 1 <= len(s) <= c.context:
            raise ValueError(
                "a token sequence of 1..%d ids expected, got %d" % (c.context, len(s))
            )
        if c.kind == "classifier" and len(s) != c.context:
            raise ValueError("a classifier's window holds %d tokens" % c.context)
        if s.min() < 0 or s.max() >= c.vocab:
            raise ValueError("token ids 0..%d expected, got %d" % (c.vocab - 1, s.max()))
    by_len = {}
    for s in seqs:
        by_len.setdefault(len(s), []).append(s)
    return [np.array(v) for _, v in sorted(by_len.items())]


def record_float(p, config, batches):
    """{name: flat float values} of every recorded activation over the batches."""
    rec = {}
    for b in batches:
        float_model.forward(p, config, b, rec)
    return {k: np.concatenate([a.reshape(-1) for a in v]) for k, v in rec.items()}


def fold(p, config):
    """The float weights the int8 model multiplies: each norm's gain folded into the
    projections after it, the frames' input_scale into in_proj."""
    w = {}
    for i in range(config.layers):
        g = lambda n: p["layers.%d.%s.weight" % (i, n)]  # noqa: E731
        for n in ("wq", "wk", "wv"):
            w["%d.%s" % (i, n)] = g(n) * g("norm1")
        w["%d.wo" % i] = g("wo")
        w["%d.w1" % i] = g("w1") * g("norm2")
        w["%d.w2" % i] = g("w2")
    w["head"] = p["head.weight"] * p["norm_f.weight"]
    if config.frames:
        w["in_proj"] = p["in_proj.weight"] * config.input_scale
    return w


def convert(p, config, samples, method="max", version=2, requant="auto", percentile=PERCENTILE):
    """(header, tensors, info) of the quantised model.

    samples: a decoder's (or token classifier's) token id sequences, or a frame
    classifier's windows (N, T, F) int8. info: the scales of every activation, the
    calibration method and the requant chosen, with why.
    """
    c = config
    if method not in METHODS:
        raise ValueError("method: one of %s, got %r" % (METHODS, method))
    if version == 1 and (c.kind != "decoder" or c.activation != "relu" or c.vocab > 256):
        raise ValueError("version 1 holds a ReLU decoder of at most 256 tokens only")
    rec = record_float(p, config, check_samples(c, samples))
    rng = lambda names: value_range(  # noqa: E731
        np.concatenate([rec[n] for n in names]), method, percentile
    )
    w = fold(p, c)
    qw = {name: quantise_rows(a) for name, a in w.items()}
    d, hd = c.dim, c.dim // c.heads
    ss = scale_shift(hd)

    def floor(name, s_in):
        """The least output scale whose multipliers requant 0 can hold."""
        return s_in * float(qw[name][1].max()) / R_MAX

    norms = ["final"] + ["%d.n%d" % (i, k) for i in range(c.layers) for k in (1, 2)]
    norm_frac = int(min(7, max(0, math.floor(math.log2(127 / rng(norms))))))
    s_norm = 2.0**-norm_frac
    s = {}
    table = c.activation != "relu"  # one table for every layer: they share its scales
    all_w1 = ["%d.w1" % i for i in range(c.layers)]
    for i in range(c.layers):
        s["%d.v" % i] = max(rng(["%d.v" % i]) / 127, floor("%d.wv" % i, s_norm))
        # ReLU: only the positive part of W1's output matters (the rest becomes 0).
        s["%d.w1" % i] = max(
            rng(all_w1 if table else ["%d.act" % i]) / 127,
            *(floor(n, s_norm) for n in (all_w1 if table else ["%d.w1" % i])),
        )
        if table:
            s["%d.act" % i] = rng(["%d.act" % j for j in range(c.layers)]) / 127
        else:
            s["%d.act" % i] = s["%d.w1" % i]
        s["%d.k" % i] = max(rng(["%d.k" % i]) / 127, floor("%d.wk" % i, s_norm))
    # The residual stream: embeddings, every residual add, the class token's row.
    stream = ["embed"] + ["%d.res%d" % (i, k) for i in range(c.layers) for k in (1, 2)]
    stream += ["cls"] if c.pooling == "cls" else []
    s_res = rng(stream) / 127
    tables = [p["pos_emb.weight"]] + ([] if c.frames else [p["tok_emb.weight"]])
    if method == "max":  # every table entry representable, as before calibration methods
        s_res = max([s_res] + [float(np.abs(t).max()) / 127 for t in tables])
    s_res = max(
        [s_res]
        + [floor("%d.wo" % i, s["%d.v" % i]) for i in range(c.layers)]
        + [floor("%d.w2" % i, s["%d.act" % i]) for i in range(c.layers)]
        + ([floor("in_proj", 1.0)] if c.frames else [])
    )
    # One logit_shift for all layers: the largest that leaves q unsaturated everywhere
    # (and q's multipliers in range).
    shifts = []
    for i in range(c.layers):
        q_scale = max(rng(["%d.q" % i]) / 127, floor("%d.wq" % i, s_norm))
        shifts.append(math.floor(math.log2(math.sqrt(hd) / (2**ss * s["%d.k" % i] * q_scale))))
    logit_shift = int(min(12, max(0, min(shifts))))
    for i in range(c.layers):
        s["%d.q" % i] = math.sqrt(hd) / (2 ** (ss + logit_shift) * s["%d.k" % i])
    # The head's output: logits in Q(logit_frac), with room to spare in int32.
    peak_logits = float(np.abs(rec["logits"]).max(initial=0))
    logit_frac = 8
    while logit_frac > 0 and (
        s_norm * float(qw["head"][1].max()) * 2**logit_frac >= R_MAX
        or peak_logits * 2**logit_frac >= 2**21
    ):
        logit_frac -= 1
    s["logits"] = 2.0**-logit_frac

    # Every projection: (name, input scale, output scale).
    plan = [("in_proj", 1.0, s_res)] if c.frames else []
    for i in range(c.layers):
        plan += [
            ("%d.wq" % i, s_norm, s["%d.q" % i]),
            ("%d.wk" % i, s_norm, s["%d.k" % i]),
            ("%d.wv" % i, s_norm, s["%d.v" % i]),
            ("%d.wo" % i, s["%d.v" % i], s_res),
            ("%d.w1" % i, s_norm, s["%d.w1" % i]),
            ("%d.w2" % i, s["%d.act" % i], s_res),
        ]
    plan.append(("head", s_norm, s["logits"]))
    ratios = {name: [s_in * float(sw) / s_out for sw in qw[name][1]] for name, s_in, s_out in plan}
    use1, why = version == 2 and requant != 0, ""
    pairs1 = {}
    if use1:
        for name, rs in ratios.items():
            sums = np.abs(qw[name][0]).sum(axis=1)
            pairs1[name] = [multiplier1(r, int(t)) for r, t in zip(rs, sums)]
            bad = [
                row
                for row, (r, t, ms) in enumerate(zip(rs, sums, pairs1[name]))
                if ms is None or not exact_enough(r, int(t), *ms)
            ]
            if bad:
                use1 = False
                why = "%s row %d: no (m, s) meets the requant 1 promise within 2**-9" % (
                    name,
                    bad[0],
                )
                break
    if requant == 1 and not use1:
        raise ValueError("requant 1 impossible: " + (why or "version 1"))
    tensors = {}
    for name, _, _ in plan:
        pairs = pairs1[name] if use1 else [multiplier(r) for r in ratios[name]]
        key = "lm_head" if name == "head" and version == 1 else name
        tensors[key] = (qw[name][0], np.array(pairs, dtype=np.int64))
    emb = lambda a: np.clip(np.round(a / s_res), -127, 127).astype(np.int64)  # noqa: E731
    texts = c.names()
    if version == 1:
        raw = "".join(texts).encode("latin-1")
        if len(raw) != c.vocab:
            raise ValueError("version 1: one single-byte character per token")
        tensors["vocab"] = (np.frombuffer(raw, dtype=np.uint8).astype(np.int64)[None], None)
    else:
        tensors["vocab"] = (mf.vocab_rows(texts), None)
    pos = p["pos_emb.weight"][: c.context]
    if not c.frames:
        tensors["tok_emb"] = (emb(p["tok_emb.weight"]), None)
    if c.pooling == "cls":
        # The class token's row already holds its position: pos_emb[T] is 0, so the board
        # may add it or not.
        pos = np.concatenate([pos, np.zeros((1, d))])
        tensors["cls"] = (emb(p["cls"].reshape(1, d) + p["pos_emb.weight"][c.context]), None)
    tensors["pos_emb"] = (emb(pos), None)
    act = {"relu": mf.RELU}.get(c.activation, mf.TABLE)
    if act == mf.TABLE:
        b = np.arange(256)
        vals = np.where(b < 128, b, b - 256) * s["0.w1"]
        table = np.clip(np.round(float_model.act(c.activation, vals) / s["0.act"]), -128, 127)
        tensors["act"] = (table.astype(np.int64)[None], None)
    h = {
        "version": version,
        "kind": mf.DECODER if c.kind == "decoder" else mf.CLASSIFIER,
        "input": mf.FRAMES if c.frames else mf.TOKENS,
        "vocab": c.vocab,
        "features": c.features,
        "dim": d,
        "heads": c.heads,
        "layers": c.layers,
        "hidden": c.hidden,
        "context": c.context,
        "norm_frac": norm_frac,
        "logit_shift": logit_shift,
        "logit_frac": logit_frac,
        "activation": act,
        "attention": mf.CAUSAL if c.attention == "causal" or c.kind == "decoder" else mf.FULL,
        "pooling": {"none": mf.NO_POOLING, "mean": mf.MEAN, "cls": mf.CLS}[c.pooling],
        "requant": 1 if use1 else 0,
    }
    if version == 1:
        h = {k: h[k] for k in ("version", *mf.FIELDS_V1)}
    s.update({"embed": s_res, "norm": s_norm, "pool": s_res})
    for i in range(c.layers):
        s["%d.attn" % i] = s["%d.v" % i]
        s["%d.res1" % i] = s["%d.res2" % i] = s_res
    info = {
        "scales": s,
        "method": method,
        "requant": h.get("requant", 0),
        "why": why or ("version 1" if version == 1 else ""),
    }
    return h, tensors, info


# The per-layer report: float against int8, tensor by tensor, on the same inputs.


def records(p, config, h, tensors, batches):
    """({name: float values}, {name: int8-model integers}) of every quantised tensor, with
    the int8 model's logits and the float logits of each input (for accuracy)."""
    model = int8_model.build(h, tensors)
    frec, irec = {}, {}
    for b in batches:
        float_model.forward(p, config, b, frec)
        if config.kind == "decoder":
            model.logits_of(b, irec)
        else:
            model.logits(b, irec)
    flat = lambda r: {k: np.concatenate([a.reshape(-1) for a in v]) for k, v in r.items()}  # noqa: E731
    return flat(frec), flat(irec)


ORDER = ("embed", "q", "k", "v", "attn", "res1", "w1", "act", "res2", "pool", "logits")


def compare(p, config, h, tensors, info, samples):
    """Rows (name, scale, max |error| in steps, SNR dB, cosine, saturated %) of every
    quantised tensor output, float against int8, over the samples."""
    f, q = records(p, config, h, tensors, check_samples(config, samples))
    names = sorted(q, key=lambda n: (n[0].isdigit() and int(n.split(".")[0]) + 1, n))
    names = sorted(
        names,
        key=lambda n: (
            0 if n == "embed" else int(n.split(".")[0]) + 1 if n[0].isdigit() else 10**6,
            ORDER.index(n.split(".")[-1]),
        ),
    )
    rows = []
    for n in names:
        scale = info["scales"][n.split(".")[-1] if n in ("embed", "pool", "logits") else n]
        fv, iv = f[n], q[n].astype(np.float64)
        steps = np.abs(iv - fv / scale)
        noise = float(((fv - iv * scale) ** 2).sum())
        signal = float((fv**2).sum())
        snr = 10 * math.log10(signal / noise) if noise > 0 and signal > 0 else float("inf")
        norm = float(np.linalg.norm(fv) * np.linalg.norm(iv))
        cos = float(fv @ iv) / norm if norm else 1.0
        top = 2**31 if n == "logits" else 127.5
        rows.append(
            (
                n,
                scale,
                float(steps.max()),
                snr,
                cos,
                100 * float((np.abs(fv / scale) > top).mean()),
            )
        )
    return rows


def format_report(rows):
    lines = [
        "%-8s %11s %9s %8s %9s %7s" % ("tensor", "step", "max|err|", "SNR dB", "cosine", "sat %")
    ]
    for n, scale, err, snr, cos, sat in rows:
        lines.append("%-8s %11.3e %9.2f %8.1f %9.6f %7.3f" % (n, scale, err, snr, cos, sat))
    return "\n".join(lines)


def accuracy(p, config, h, tensors, held):
    """(float, int8, count, what) task accuracy on held-out data: a classifier's labels,
    or a decoder's targets (a sequence is right when every target is)."""
    model = int8_model.build(h, tensors)
    if config.kind == "classifier":
        x = held["frames"] if config.frames else held["tokens"]
        labels = np.asarray(held["labels"])
        fl = np.concatenate(
            [
                float_model.forward(p, config, x[i : i + 256]).argmax(-1)
                for i in range(0, len(x), 256)
            ]
        )
        il = model.predict(x)
        return float((fl == labels).mean()), float((il == labels).mean()), len(labels), "windows"
    tokens, targets = np.asarray(held["tokens"]), np.asarray(held["targets"])
    right_f, right_i = [], []
    for i in range(0, len(tokens), 256):
        t, g = tokens[i : i + 256], targets[i : i + 256]
        has = g >= 0
        fl = float_model.forward(p, config, t).argmax(-1)
        il = model.logits_of(t).argmax(-1)
        right_f.append(((fl == g) | ~has).all(-1))
        right_i.append(((il == g) | ~has).all(-1))
    return (
        float(np.concatenate(right_f).mean()),
        float(np.concatenate(right_i).mean()),
        len(tokens),
        "sequences",
    )


def load_inputs(path, config):
    """The inputs of a calibration or held-out .npz (docs/models.md): a frame classifier's
    `frames` (N, T, F) int8; else `tokens` (N, T) ids, with `lengths` (N,) when the rows
    are of several lengths (row i is tokens[i, :lengths[i]]), as a list of sequences."""
    with np.load(path) as z:
        if config.frames:
            return np.asarray(z["frames"])
        tokens = np.asarray(z["tokens"])
        lengths = np.asarray(z["lengths"]) if "lengths" in z.files else None
    if lengths is None:
        return list(tokens)
    return [row[:n] for row, n in zip(tokens, lengths)]


def calibration_samples(count=256, seed=7):
    """The reversal task's examples (prompt and answer) as token id lists: the shipped
    model's calibration data."""
    return [task.encode("".join(task.example(s))[:-1]) for s in task.strings(count, seed)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a .npz checkpoint (float_model.save, or train.py's)")
    parser.add_argument("out")
    parser.add_argument("--calibration", help="calibration inputs (.npz, see docs/models.md)")
    parser.add_argument("--held-out", help="held-out inputs and answers (.npz)")
    parser.add_argument("--method", choices=METHODS, default="max")
    parser.add_argument("--version", type=int, choices=(1, 2), default=2)
    args = parser.parse_args()
    p, config = float_model.load(args.model)
    samples = load_inputs(args.calibration, config) if args.calibration else calibration_samples()
    h, tensors, info = convert(p, config, samples, args.method, args.version)
    model_file.write(args.out, h, tensors)
    print("wrote %s: %d bytes, %s" % (args.out, os.path.getsize(args.out), h))


if __name__ == "__main__":
    main()
