"""The torch modules of what the board runs: one TinyTransformer(Config), two kinds.

    from tinylm.arch import Config
    from tinylm.nets import TinyTransformer, fit
    model = TinyTransformer(Config(kind="classifier", vocab=8, features=3, context=32,
                                   attention="full", pooling="mean", input_scale=1 / 32))
    fit(model, batches, steps=2000)          # or a training loop of your own
    export.export(model, "model.bin", calibration="cal.npz", held_out="held.npz")

Exactly the float computation of docs/model-format.md (version 2), which the converter
quantises: embeddings (token ids) or an input projection of int8 frames (times
input_scale), plus learned positions; pre-norm layers of RMSNorm (a gain, folded into
the projection after it), multi-head attention without biases (causal or full),
RMSNorm, a feed-forward of the Config's activation; a final RMSNorm and a head without
bias, on every row (a decoder) or on the mean of the rows or a class token's row (a
classifier). Nothing else: no biases, no dropout, no other norm, so what trains here
is what the board runs.
"""

import numpy as np
import torch
from torch import nn

from .arch import Config


def activation(name):
    if name == "relu":
        return torch.relu
    if name == "gelu":
        return lambda x: nn.functional.gelu(x, approximate="tanh")
    if name == "silu":
        return nn.functional.silu
    if name == "tanh":
        return torch.tanh
    raise ValueError("activation %r" % name)


class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-6) * self.weight


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c.heads
        self.causal = c.attention == "causal" or c.kind == "decoder"
        self.act = activation(c.activation)
        dim, hidden = c.dim, c.hidden
        self.norm1 = RMSNorm(dim)
        self.wq = nn.Linear(dim, dim, bias=False)
        self.wk = nn.Linear(dim, dim, bias=False)
        self.wv = nn.Linear(dim, dim, bias=False)
        self.wo = nn.Linear(dim, dim, bias=False)
        self.norm2 = RMSNorm(dim)
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        hd = d // self.heads
        h = self.norm1(x)
        q, k, v = (
            w(h).view(b, t, self.heads, hd).transpose(1, 2) for w in (self.wq, self.wk, self.wv)
        )
        a = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        x = x + self.wo(a.transpose(1, 2).reshape(b, t, d))
        return x + self.w2(self.act(self.w1(self.norm2(x))))


class TinyTransformer(nn.Module):
    """A decoder (token ids (B, T) -> logits (B, T, vocab)) or a classifier (frames
    (B, T, features) of int8 values, or token ids (B, T) -> logits (B, classes))."""

    def __init__(self, config):
        super().__init__()
        c = self.config = config
        if c.frames:
            self.in_proj = nn.Linear(c.features, c.dim, bias=False)
        else:
            self.tok_emb = nn.Embedding(c.vocab, c.dim)
        self.pos_emb = nn.Embedding(c.rows, c.dim)
        if c.pooling == "cls":
            self.cls = nn.Parameter(torch.randn(1, c.dim) * 0.02)
        self.layers = nn.ModuleList(Layer(c) for _ in range(c.layers))
        self.norm_f = RMSNorm(c.dim)
        self.head = nn.Linear(c.dim, c.vocab, bias=False)

    def forward(self, inputs):
        c = self.config
        if c.frames:
            x = self.in_proj(inputs.float() * c.input_scale)
        else:
            x = self.tok_emb(inputs)
        t = x.shape[1]
        x = x + self.pos_emb.weight[:t]
        if c.pooling == "cls":
            row = (self.cls + self.pos_emb.weight[c.context]).expand(x.shape[0], 1, -1)
            x = torch.cat([x, row], dim=1)
        for layer in self.layers:
            x = layer(x)
        if c.kind == "classifier":
            x = x[:, c.context] if c.pooling == "cls" else x.mean(1)
        return self.head(self.norm_f(x))


def fit(model, batches, steps, lr=3e-3, weight_decay=0.01, log_every=250):
    """Train with AdamW and a one-cycle schedule: batches(step) gives (inputs, targets)
    (class ids; a decoder's targets -100 where no loss). Returns the last loss."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    loss = None
    for step in range(steps):
        inputs, targets = batches(step)
        logits = model(inputs)
        loss = nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if log_every and (step % log_every == 0 or step == steps - 1):
            print("step %5d  loss %.4f" % (step, loss.item()), flush=True)
    return float(loss.detach())


def save(model, path):
    """A checkpoint: the Config and the state_dict (torch.save)."""
    torch.save({"config": model.config.to_json(), "state_dict": model.state_dict()}, path)


def load(path):
    """The TinyTransformer of a checkpoint save() wrote."""
    got = torch.load(path, map_location="cpu", weights_only=True)
    model = TinyTransformer(Config.from_json(got["config"]))
    model.load_state_dict(got["state_dict"])
    return model


def params(model):
    """The float_model params (numpy float64) of a module."""
    return {k: v.detach().cpu().double().numpy() for k, v in model.state_dict().items()}


def to_numpy_checkpoint(model, path):
    """The .npz checkpoint float_model.load reads (no torch needed to export it)."""
    arrays = {k: v.astype(np.float32) for k, v in params(model).items()}
    np.savez(path, config=np.array(model.config.to_json()), **arrays)


# Quantisation-aware fine-tuning: the forward pass on the int8 grid the converter chose.


def _grid(x, step, lo=-128, hi=127):
    """x rounded to multiples of step within lo..hi steps; the gradient passes straight."""
    return x + (torch.clamp(torch.round(x / step), lo, hi) * step - x).detach()


def _rows(w):
    """w rounded per row to symmetric int8 (as the converter stores weights)."""
    step = w.detach().abs().amax(1, keepdim=True).clamp_min(1e-12) / 127
    return _grid(w, step, -127, 127)


def quantised_forward(model, inputs, scales):
    """The module's output with every tensor the board holds in int8 on its grid: the
    weights (gains and input_scale folded in first), the residual stream, the norms'
    outputs, q, k, v, the attention's Q8 weights and its floored output, the
    feed-forward's input and output. scales: convert.convert()'s info["scales"]."""
    c = model.config
    s_res, s_norm = scales["embed"], scales["norm"]

    def norm(x):
        return _grid(x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-6), s_norm)

    pos = _grid(model.pos_emb.weight, s_res, -127, 127)
    if c.frames:
        w = _rows(model.in_proj.weight * c.input_scale)
        x = _grid(inputs.float() @ w.T, s_res) + pos[: inputs.shape[1]]
    else:
        x = _grid(model.tok_emb.weight, s_res, -127, 127)[inputs] + pos[: inputs.shape[1]]
    x = _grid(x, s_res)
    if c.pooling == "cls":
        row = _grid(model.cls + model.pos_emb.weight[c.context], s_res, -127, 127)
        x = torch.cat([x, row.expand(x.shape[0], 1, -1)], dim=1)
    for i, layer in enumerate(model.layers):
        b, t, d = x.shape
        hd = d // layer.heads
        n = norm(x)
        g = layer.norm1.weight
        q, k, v = (
            _grid(n @ _rows(lin.weight * g).T, scales["%d.%s" % (i, name)])
            .view(b, t, layer.heads, hd)
            .transpose(1, 2)
            for lin, name in ((layer.wq, "q"), (layer.wk, "k"), (layer.wv, "v"))
        )
        # The board's softmax weights are Q8 (256 == 1) and its sum of weighted values
        # is floored: a = floor(sum(w * v) / 256) in v's steps.
        score = q @ k.transpose(-1, -2) / hd**0.5
        if layer.causal:
            score = score.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
        w = _grid(torch.softmax(score, -1), 1 / 256, 0, 256)
        a = (w @ v).transpose(1, 2).reshape(b, t, d) / scales["%d.v" % i]
        a = (a + (torch.clamp(torch.floor(a), -128, 127) - a).detach()) * scales["%d.v" % i]
        x = _grid(x + _grid(a @ _rows(layer.wo.weight).T, s_res), s_res)
        f = _grid(norm(x) @ _rows(layer.w1.weight * layer.norm2.weight).T, scales["%d.w1" % i])
        f = _grid(layer.act(f), scales["%d.act" % i])
        x = _grid(x + _grid(f @ _rows(layer.w2.weight).T, s_res), s_res)
    if c.kind == "classifier":
        x = x[:, c.context] if c.pooling == "cls" else _grid(x.mean(1), s_res)
    return norm(x) @ _rows(model.head.weight * model.norm_f.weight).T


def fine_tune_quantised(
    model, batches, steps, calibration, method="mse", lr=3e-4, every=50, log_every=100
):
    """Quantisation-aware fine-tuning: train on quantised_forward(), the int8 grid chosen
    again by the converter (on the calibration inputs, by method) every `every` steps.
    Returns the last loss."""
    from . import convert  # noqa: PLC0415

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    loss = None
    scales = None
    for step in range(steps):
        if step % every == 0:
            _, _, info = convert.convert(params(model), model.config, calibration, method)
            scales = info["scales"]
        inputs, targets = batches(step)
        logits = quantised_forward(model, inputs, scales)
        loss = nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log_every and (step % log_every == 0 or step == steps - 1):
            print("quantised step %5d  loss %.4f" % (step, loss.item()), flush=True)
    return float(loss.detach())
