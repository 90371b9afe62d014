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
