"""Train the float model of the reversal task with torch (CPU, fixed seeds) and write it as .npz.

    python tools/tinylm/train.py --out build/reverse.npz [--steps 3000] [--seed 1]

The architecture is the one the board runs (see docs/model-format.md): token and
position embeddings, pre-norm decoder layers of (RMSNorm, causal multi-head
attention without biases, RMSNorm, ReLU feed-forward), a final RMSNorm and an LM
head of its own. Training data is made by task.py; held-out strings never appear.
The .npz holds float32 arrays named as float_model.py reads them.
"""

import argparse
import os
import random
import sys

import numpy as np
import torch
from torch import nn

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tinylm import task

DIM = 32
HEADS = 2
LAYERS = 2
HIDDEN = 64


class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-6) * self.weight


class Layer(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.heads = heads
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
        a = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.wo(a.transpose(1, 2).reshape(b, t, d))
        return x + self.w2(torch.relu(self.w1(self.norm2(x))))


class Decoder(nn.Module):
    def __init__(self, vocab, context, dim=DIM, heads=HEADS, layers=LAYERS, hidden=HIDDEN):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, dim)
        self.pos_emb = nn.Embedding(context, dim)
        self.layers = nn.ModuleList(Layer(dim, heads, hidden) for _ in range(layers))
        self.norm_f = RMSNorm(dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)

    def forward(self, ids):
        x = self.tok_emb(ids) + self.pos_emb(torch.arange(ids.shape[1]))
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm_f(x))


def batch(rng, size):
    """Token ids (size, CONTEXT) and loss targets (-100 where no loss: the prompt, padding)."""
    ids = np.full((size, task.CONTEXT), task.VOCAB.index(task.END), dtype=np.int64)
    targets = np.full((size, task.CONTEXT), -100, dtype=np.int64)
    for row in range(size):
        s = task.random_string(rng)
        while task.held_out(s):
            s = task.random_string(rng)
        prompt, answer = task.example(s)
        tokens = task.encode(prompt + answer)
        ids[row, : len(tokens)] = tokens
        start = len(prompt) - 1  # the position whose next token is the first answer token
        targets[row, start : len(tokens) - 1] = tokens[start + 1 :]
    return torch.from_numpy(ids), torch.from_numpy(targets)


def export(model, path):
    arrays = {
        "tok_emb": model.tok_emb.weight,
        "pos_emb": model.pos_emb.weight,
        "norm_f": model.norm_f.weight,
        "lm_head": model.lm_head.weight,
    }
    for i, layer in enumerate(model.layers):
        for name in ("norm1", "wq", "wk", "wv", "wo", "norm2", "w1", "w2"):
            arrays["layers.%d.%s" % (i, name)] = getattr(layer, name).weight
    out = {k: v.detach().numpy().astype(np.float32) for k, v in arrays.items()}
    out["num_heads"] = np.array(model.layers[0].heads, dtype=np.int32)
    out["vocab"] = np.array(task.VOCAB)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(path, **out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build/reverse.npz")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    rng = random.Random(args.seed)
    model = Decoder(len(task.VOCAB), task.CONTEXT)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=args.steps)
    for step in range(args.steps):
        ids, targets = batch(rng, args.batch)
        logits = model(ids)
        loss = nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0 or step == args.steps - 1:
            print("step %5d  loss %.4f" % (step, loss.item()), flush=True)
    export(model, args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
