"""The int8 decoder in plain Python (bytecode only): the baseline of `make bench`.

PlainDecoder(path) reads the model file itself (the format of docs/model-format.md,
nothing of attention.decoder) and computes the same integer steps with Python loops
and ints: feed(token) fills logits (a list), equal to Decoder.logits after
Decoder.feed(token) on a model loaded from the same file.
"""

import struct
from array import array

from attention._softmax import EXP2 as _EXP2


def _sat(v):
    return 127 if v > 127 else (-128 if v < -128 else v)


def _requant(a, m, s):
    return (a * m + (1 << (s - 1))) >> s


def _read(path):
    """(header, {name: (int8 array, int32 array of scales or None)}) of a version 1 model
    file, each tensor read into its array as it comes."""
    fields = ("vocab", "dim", "heads", "layers", "hidden", "context", "norm_frac")
    fields += ("logit_shift", "logit_frac", "activation", "tensors")
    with open(path, "rb") as f:
        h = dict(zip(fields, struct.unpack("<4sHHHHHHHHHHHHI", f.read(32))[2:13]))
        tensors = {}
        for _ in range(h["tensors"]):
            name, rows, cols, scaled, _ = struct.unpack("<8sHHHH", f.read(16))
            # scales: int32 pairs, little-endian, as the targets store them
            scales = array("i", f.read(8 * rows)) if scaled else None
            data = array("b", f.read(rows * cols))  # read back as signed ints
            f.read(-(rows * cols) % 4)
            tensors[name.rstrip(b"\0").decode()] = (data, scales)
    return h, tensors


def _norm_constants(dim, frac):
    """(num, down) as _fixed.norm_constants: num = isqrt(dim * 4**k) < 2**30 for the largest k."""
    k = 0
    while _isqrt(dim << (2 * k + 2)) < 0x40000000:
        k += 1
    return _isqrt(dim << (2 * k)), k - frac


def _isqrt(v):
    x = v
    while x * x > v:
        x = (x + v // x) >> 1
    return x


class PlainDecoder:
    def __init__(self, path):
        h, b = _read(path)
        self.h = h
        self.dim = h["dim"]
        self.heads = h["heads"]
        self.head_dim = self.dim // self.heads
        self.shift = 3 if self.head_dim >= 32 else 2 if self.head_dim >= 16 else 1
        self.num, self.down = _norm_constants(self.dim, h["norm_frac"])
        # Weights as array('b') and scales as array('i'): a byte and a word each, where
        # lists of ints would take a word and more per weight.
        self.vocab = bytes(b["vocab"][0]).decode()  # token i is character i
        self.tok = b["tok_emb"][0]
        self.pos_emb = b["pos_emb"][0]
        self.layer_weights = []
        for i in range(h["layers"]):
            self.layer_weights.append(
                [b["%d.%s" % (i, n)] for n in ("wq", "wk", "wv", "wo", "w1", "w2")]
            )
        self.head = b["lm_head"]
        del b
        self.reset()

    def reset(self):
        self.keys = [[] for _ in range(self.h["layers"])]
        self.values = [[] for _ in range(self.h["layers"])]
        self.pos = 0

    def norm(self, x):
        ss = 0
        for v in x:
            ss += v * v
        if ss == 0:
            return [0] * len(x)
        e = 0
        while ss < 0x10000000:
            ss <<= 2
            e += 1
        r = 0
        bit = 0x10000000
        while bit:
            if ss >= r + bit:
                ss -= r + bit
                r = (r >> 1) + bit
            else:
                r >>= 1
            bit >>= 2
        inv = self.num // r
        t = self.down - e
        half = 1 << (t - 1)
        return [_sat((v * inv + half) >> t) for v in x]

    def matvec(self, weights, x, rows):
        cols = len(x)
        w, scales = weights
        out = []
        for i in range(rows):
            acc = 0
            base = i * cols
            for j in range(cols):
                acc += w[base + j] * x[j]
            out.append(_requant(acc, scales[2 * i], scales[2 * i + 1]))
        return out

    def softmax(self, scores, shift):
        top = max(scores)
        limit = 17 << shift
        es = []
        for v in scores:
            e = 0
            if v >= top - limit:
                z = ((top - v) * 23637) >> shift
                frac = z & 0x3FFF
                k = frac >> 8
                a = _EXP2[k]
                e = (a - (((a - _EXP2[k + 1]) * (frac & 0xFF)) >> 8)) >> (z >> 14)
            es.append(e)
        total = sum(es)
        return [((e << 8) + (total >> 1)) // total for e in es]

    def attend(self, q, keys, values):
        hd = self.head_dim
        out = [0] * self.dim
        for h in range(self.heads):
            first = h * hd
            scores = []
            for k in keys:
                dot = 0
                for j in range(first, first + hd):
                    dot += q[j] * k[j]
                scores.append(dot >> self.shift)
            w = self.softmax(scores, self.h["logit_shift"])
            for j in range(first, first + hd):
                acc = 0
                for i in range(len(values)):
                    acc += w[i] * values[i][j]
                out[j] = _sat(acc >> 8)
        return out

    def feed(self, token):
        d, f = self.dim, self.h["hidden"]
        x = [_sat(self.tok[token * d + j] + self.pos_emb[self.pos * d + j]) for j in range(d)]
        for i, (wq, wk, wv, wo, w1, w2) in enumerate(self.layer_weights):
            n = self.norm(x)
            q = [_sat(v) for v in self.matvec(wq, n, d)]
            self.keys[i].append([_sat(v) for v in self.matvec(wk, n, d)])
            self.values[i].append([_sat(v) for v in self.matvec(wv, n, d)])
            a = self.attend(q, self.keys[i], self.values[i])
            o = self.matvec(wo, a, d)
            x = [_sat(x[j] + _sat(o[j])) for j in range(d)]
            n = self.norm(x)
            hidden = [max(_sat(v), 0) for v in self.matvec(w1, n, f)]
            o = self.matvec(w2, hidden, d)
            x = [_sat(x[j] + _sat(o[j])) for j in range(d)]
        self.logits = self.matvec(self.head, self.norm(x), self.h["vocab"])
        self.pos += 1
        return self.logits
