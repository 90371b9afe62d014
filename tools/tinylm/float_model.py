"""The float model in numpy: what a module of nets.py computes, for accuracy and calibration.

Parameters are a dict of float arrays named as nets.TinyTransformer's state_dict
(tok_emb.weight or in_proj.weight, pos_emb.weight, cls, layers.<i>.{norm1, wq, wk, wv,
wo, norm2, w1, w2}.weight, norm_f.weight, head.weight; weights as (out, in)) with a
Config (arch.py). load() reads such a checkpoint (.npz, see save()) and the older
.npz of train.py (tok_emb, layers.<i>.wq, lm_head, num_heads, vocab).

forward() runs a batch and can record every tensor the int8 model quantises, under the
int8 model's names (embed, <i>.q, <i>.k, <i>.v, <i>.attn, <i>.res1, <i>.w1, <i>.act,
<i>.res2, pool, logits) and the RMSNorm outputs (<i>.n1, <i>.n2, final), without their
gains: those are folded into the projections after them, as the converter does.
"""

import numpy as np

from .arch import Config

LAYER_WEIGHTS = ("norm1", "wq", "wk", "wv", "wo", "norm2", "w1", "w2")


def act(name, x):
    """The activation of a Config, in numpy (float64)."""
    if name == "relu":
        return np.maximum(x, 0)
    if name == "gelu":
        return 0.5 * x * (1 + np.tanh(0.7978845608028654 * (x + 0.044715 * x**3)))
    if name == "silu":
        return x / (1 + np.exp(-x))
    if name == "tanh":
        return np.tanh(x)
    raise ValueError("activation %r" % name)


def save(path, p, config):
    """A checkpoint without torch: the arrays and the Config (as JSON) in one .npz."""
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in p.items()}
    np.savez(path, config=np.array(config.to_json()), **arrays)


def load(path):
    """(params, Config) of a .npz checkpoint (save()'s, or train.py's older form)."""
    with np.load(path) as z:
        raw = {k: z[k] for k in z.files}
    if "config" in raw:
        config = Config.from_json(str(raw.pop("config")))
        return {k: v.astype(np.float64) for k, v in raw.items()}, config
    return legacy(raw)


def legacy(raw):
    """(params, Config) of the .npz train.py wrote before nets.py existed."""
    p = {"head.weight": raw["lm_head"], "norm_f.weight": raw["norm_f"]}
    p["tok_emb.weight"] = raw["tok_emb"]
    p["pos_emb.weight"] = raw["pos_emb"]
    layers = len({k.split(".")[1] for k in raw if k.startswith("layers.")})
    for i in range(layers):
        for n in LAYER_WEIGHTS:
            p["layers.%d.%s.weight" % (i, n)] = raw["layers.%d.%s" % (i, n)]
    vocab = str(raw["vocab"])
    d = p["tok_emb.weight"].shape[1]
    config = Config(
        vocab=len(vocab),
        dim=d,
        heads=int(raw["num_heads"]),
        layers=layers,
        hidden=p["layers.0.w1.weight"].shape[0],
        context=p["pos_emb.weight"].shape[0],
        texts=list(vocab),
    )
    return {k: np.asarray(v, dtype=np.float64) for k, v in p.items()}, config


def from_state_dict(state_dict):
    """Float64 numpy arrays of a state_dict (torch tensors or arrays)."""
    out = {}
    for k, v in state_dict.items():
        if hasattr(v, "detach"):
            v = v.detach().cpu().numpy()
        out[k] = np.asarray(v, dtype=np.float64)
    return out


def rms_norm(x, gain=None):
    y = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6)
    return y if gain is None else y * gain


def _rec(record, name, value):
    if record is not None:
        record.setdefault(name, []).append(value)


def embed(p, c, inputs):
    """The residual stream's first rows (B, rows, dim) of a batch of inputs."""
    if c.frames:
        x = (np.asarray(inputs, dtype=np.float64) * c.input_scale) @ p["in_proj.weight"].T
    else:
        x = p["tok_emb.weight"][np.asarray(inputs, dtype=np.int64)]
    t = x.shape[1]
    x = x + p["pos_emb.weight"][:t]
    if c.pooling == "cls":
        row = p["cls"].reshape(1, 1, -1) + p["pos_emb.weight"][c.context]
        x = np.concatenate([x, np.broadcast_to(row, (x.shape[0], 1, x.shape[2]))], axis=1)
    return x


def layer(p, c, i, x, record=None):
    w = lambda n: p["layers.%d.%s.weight" % (i, n)]  # noqa: E731
    b, t, d = x.shape
    hd = d // c.heads
    n1 = rms_norm(x)
    _rec(record, "%d.n1" % i, n1)
    h = n1 * w("norm1")
    q, k, v = h @ w("wq").T, h @ w("wk").T, h @ w("wv").T
    for name, a in (("q", q), ("k", k), ("v", v)):
        _rec(record, "%d.%s" % (i, name), a)
    out = np.zeros_like(x)
    mask = np.triu(np.full((t, t), -np.inf), 1) if c.attention == "causal" else 0
    if c.kind == "decoder":
        mask = np.triu(np.full((t, t), -np.inf), 1)
    for hh in range(c.heads):
        s = slice(hh * hd, (hh + 1) * hd)
        sc = q[..., s] @ k[..., s].transpose(0, 2, 1) / np.sqrt(hd) + mask
        sc = np.exp(sc - sc.max(-1, keepdims=True))
        out[..., s] = (sc / sc.sum(-1, keepdims=True)) @ v[..., s]
    _rec(record, "%d.attn" % i, out)
    x = x + out @ w("wo").T
    _rec(record, "%d.res1" % i, x)
    n2 = rms_norm(x)
    _rec(record, "%d.n2" % i, n2)
    f = (n2 * w("norm2")) @ w("w1").T
    _rec(record, "%d.w1" % i, f)
    a = act(c.activation, f)
    _rec(record, "%d.act" % i, a)
    x = x + a @ w("w2").T
    _rec(record, "%d.res2" % i, x)
    return x


def forward(p, c, inputs, record=None):
    """Logits of a batch: (B, T, vocab) for a decoder's token ids (B, T), (B, classes)
    for a classifier's windows (B, T, F) or (B, T); record collects the activations."""
    inputs = np.asarray(inputs)
    if inputs.ndim == (2 if c.frames else 1):
        inputs = inputs[None]
    x = embed(p, c, inputs)
    _rec(record, "embed", x[:, : inputs.shape[1]])
    if c.pooling == "cls":
        _rec(record, "cls", x[:, c.context :])
    for i in range(c.layers):
        x = layer(p, c, i, x, record)
    if c.kind == "classifier":
        x = x[:, c.context] if c.pooling == "cls" else x.mean(1)
        _rec(record, "pool", x)
    nf = rms_norm(x)
    _rec(record, "final", nf)
    logits = (nf * p["norm_f.weight"]) @ p["head.weight"].T
    _rec(record, "logits", logits)
    return logits


def generate(p, c, prompt_ids, max_new, stop=None):
    """Greedy continuation of prompt_ids by a decoder: the new token ids."""
    ids = list(prompt_ids)
    out = []
    while len(out) < max_new and len(ids) <= c.context:
        token = int(np.argmax(forward(p, c, np.array([ids]))[0, -1]))
        out.append(token)
        if token == stop or len(ids) == c.context:
            break
        ids.append(token)
    return out
