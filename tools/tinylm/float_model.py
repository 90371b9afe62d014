"""The float model in numpy: what train.py learned, for accuracy and for calibration.

Arrays as train.py writes them (.npz): tok_emb (vocab, dim), pos_emb (context, dim),
layers.<i>.{norm1, wq, wk, wv, wo, norm2, w1, w2} (weights as (out, in)), norm_f,
lm_head (vocab, dim), num_heads, vocab (the characters).
"""

import numpy as np


def load(path):
    """The .npz as a dict of arrays, plus "layers" (their count) and "heads"."""
    with np.load(path) as z:
        p = {k: z[k] for k in z.files}
    p["layers"] = len({k.split(".")[1] for k in p if k.startswith("layers.")})
    p["heads"] = int(p["num_heads"])
    p["vocab"] = str(p["vocab"])
    return p


def rms_norm(x, gain=None):
    y = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6)
    return y if gain is None else y * gain


def forward(p, ids, record=None):
    """Logits (len(ids), vocab) of the token ids; record (a dict) collects the activations."""
    t = len(ids)
    x = p["tok_emb"][ids] + p["pos_emb"][:t]
    rec = record if record is not None else {}
    rec.setdefault("residual", []).append(x)
    heads = p["heads"]
    for i in range(p["layers"]):
        w = {
            n: p["layers.%d.%s" % (i, n)]
            for n in ("norm1", "wq", "wk", "wv", "wo", "norm2", "w1", "w2")
        }
        n1 = rms_norm(x)
        rec.setdefault("norm", []).append(n1)
        h = n1 * w["norm1"]
        q, k, v = h @ w["wq"].T, h @ w["wk"].T, h @ w["wv"].T
        for name, a in (("q", q), ("k", k), ("v", v)):
            rec.setdefault("%d.%s" % (i, name), []).append(a)
        d = x.shape[1]
        hd = d // heads
        out = np.zeros_like(x)
        mask = np.triu(np.full((t, t), -np.inf), 1)
        for hh in range(heads):
            c = slice(hh * hd, (hh + 1) * hd)
            s = q[:, c] @ k[:, c].T / np.sqrt(hd) + mask
            s = np.exp(s - s.max(-1, keepdims=True))
            out[:, c] = (s / s.sum(-1, keepdims=True)) @ v[:, c]
        x = x + out @ w["wo"].T
        rec.setdefault("residual", []).append(x)
        n2 = rms_norm(x)
        rec.setdefault("norm", []).append(n2)
        f = np.maximum(n2 * w["norm2"] @ w["w1"].T, 0)
        rec.setdefault("%d.f" % i, []).append(f)
        x = x + f @ w["w2"].T
        rec.setdefault("residual", []).append(x)
    nf = rms_norm(x)
    rec.setdefault("norm", []).append(nf)
    logits = nf * p["norm_f"] @ p["lm_head"].T
    rec.setdefault("logits", []).append(logits)
    return logits


def generate(p, prompt_ids, max_new, stop=None):
    """Greedy continuation of prompt_ids: the new token ids."""
    ids = list(prompt_ids)
    out = []
    context = p["pos_emb"].shape[0]
    while len(out) < max_new and len(ids) <= context:
        token = int(np.argmax(forward(p, np.array(ids))[-1]))
        out.append(token)
        if token == stop or len(ids) == context:
            break
        ids.append(token)
    return out
