"""The int8 model in numpy, bit for bit what the board computes from a model file.

Built from a model file's (header, tensors) (model_file.read), version 1 or 2:
- Int8Model, a decoder (kind 0): feed(token) one step at a time as attention.decoder
  does, keeping its own KV rows; logits_of(ids) runs whole sequences at once (the
  same integers: a row's keys and values depend only on the rows before it).
- Int8Classifier (kind 1): logits(frames) of windows of int8 frames, classify(frames)
  the class and its Q8 scores, as docs/model-format.md's classifier computes them.
load(path) gives the right one. Both take batches (the first axis) and can record
every quantised tensor's output (record=dict: name -> list of int arrays) for the
converter's per-layer report.

Every projection's output is saturated to int8 before anything else uses it, the ones
added to the residual stream (in_proj, Wo, W2) too: saturate8(x + saturate8(y)).
"""

import numpy as np

from . import int8_ops as ops
from . import model_file as mf


def relu_table():
    """The activation table of ReLU: the int8 whose byte is b goes to max(that int8, 0)."""
    return np.array([b if b < 128 else 0 for b in range(256)], dtype=np.int64)


class _Base:
    def __init__(self, h, tensors):
        self.h = dict(h)
        self.t = tensors
        self.texts = mf.texts(h, tensors)
        self.num, self.down = ops.norm_constants(h["dim"], h["norm_frac"])
        self.head = tensors[mf.head_name(h)]
        if h.get("activation", 0) == mf.TABLE:
            self.table = np.asarray(tensors["act"][0][0], dtype=np.int64)
        else:
            self.table = relu_table()

    def _project(self, name, x):
        """saturate8(requant(W @ x)) of a batch of int8 rows."""
        w, s = self.t[name]
        return ops.saturate8(ops.requant(ops.matvec(w, x), s))

    def norm(self, x):
        return ops.rms_norm(x, self.num, self.down)

    def layer(self, i, x, cache, start, causal, record=None):
        """One layer over rows x (B, Tq, dim) at positions start..; cache: [keys, values]
        of rows before start (B, start, dim) or None; returns (x, cache)."""
        h = self.h
        n = self.norm(x)
        q = self._project("%d.wq" % i, n)
        k = self._project("%d.wk" % i, n)
        v = self._project("%d.wv" % i, n)
        if cache is not None:
            k = np.concatenate([cache[0], k], axis=1)
            v = np.concatenate([cache[1], v], axis=1)
        a = ops.attention_rows(q, k, v, h["heads"], h["logit_shift"], causal, start)
        x = ops.saturate8(x + self._project("%d.wo" % i, a))
        res1 = x
        f = self._project("%d.w1" % i, self.norm(x))
        act = self.table[f & 255]
        x = ops.saturate8(x + self._project("%d.w2" % i, act))
        if record is not None:
            for name, value in (
                ("q", q),
                ("k", k[:, start:]),
                ("v", v[:, start:]),
                ("attn", a),
                ("res1", res1),
                ("w1", f),
                ("act", act),
                ("res2", x),
            ):
                record.setdefault("%d.%s" % (i, name), []).append(value)
        return x, [k, v]

    def head_logits(self, rows):
        """The head's int32 logits (Q(logit_frac)) of int8 rows (..., dim)."""
        w, s = self.head
        return ops.requant(ops.matvec(w, self.norm(rows)), s)


class Int8Model(_Base):
    """A decoder: token ids in, logits (int, Q(logit_frac)) out, one token at a time."""

    def __init__(self, h, tensors):
        super().__init__(h, tensors)
        if self.h.get("kind", 0) != mf.DECODER:
            raise ValueError("not a decoder (kind %d)" % self.h["kind"])
        self.vocab = "".join(self.texts) if mf.version(h) == 1 else self.texts
        self.causal = self.h.get("attention", 0) == mf.CAUSAL
        self.reset()
        self.sampling()

    def reset(self):
        self.cache = [None] * self.h["layers"]
        self.pos = 0

    def sampling(self, temperature=0, top_k=0, seed=1):
        self.temperature = int(temperature * 256 + 0.5)
        self.top_k = top_k or self.h["vocab"]
        self.state = seed % 2**31

    def embed(self, ids, start=0):
        """x = saturate8(tok_emb[id] + pos_emb[position]) of token ids (B, T)."""
        ids = np.asarray(ids, dtype=np.int64)
        pos = self.t["pos_emb"][0][start : start + ids.shape[1]]
        return ops.saturate8(self.t["tok_emb"][0][ids] + pos[None])

    def run(self, ids, start=0, caches=None, record=None):
        """(final rows, caches) of token ids (B, T) at positions start.. after caches."""
        x = self.embed(ids, start)
        if record is not None:
            record.setdefault("embed", []).append(x)
        caches = caches or [None] * self.h["layers"]
        out = []
        for i in range(self.h["layers"]):
            # A decoder's row sees rows 0..its own position, whatever the attention field
            # says: the rows after it do not exist yet when it is fed.
            x, c = self.layer(i, x, caches[i], start, True, record)
            out.append(c)
        return x, out

    def logits_of(self, ids, record=None):
        """Logits (B, T, vocab) of every position of token ids (B, T), from position 0."""
        x, _ = self.run(np.atleast_2d(ids), record=record)
        logits = self.head_logits(x)
        if record is not None:
            record.setdefault("logits", []).append(logits)
        return logits

    def feed(self, token):
        """One step; returns the logits (int, Q(logit_frac))."""
        if self.pos >= self.h["context"]:
            raise ValueError("context full")
        caches = None if self.pos == 0 else self.cache
        x, self.cache = self.run([[token]], self.pos, caches)
        self.logits = self.head_logits(x)[0, 0]
        self.pos += 1
        return self.logits

    def pick(self):
        if not self.temperature:
            return int(np.argmax(self.logits))
        scaled = ops.temper(self.logits, self.top_k, self.temperature)
        weights = ops.softmax_exp2(scaled, self.h["logit_frac"])
        token, self.state = ops.draw(weights, self.state)
        return token

    def generate_ids(self, prompt, room, stop=-1):
        self.reset()
        for token in prompt:
            self.feed(token)
        out = []
        while len(out) < room:
            token = self.pick()
            out.append(token)
            if token == stop or self.pos >= self.h["context"]:
                break
            if len(out) < room:
                self.feed(token)
        return out

    def generate(self, prompt, max_new=None, stop=None):
        """Text after prompt; tokens of one character each (a version 1 vocabulary)."""
        room = self.h["context"] - len(prompt) + 1 if max_new is None else max_new
        vocab = list(self.vocab)
        ids = [vocab.index(c) for c in prompt]
        stop_id = -1 if stop is None else vocab.index(stop) if stop in vocab else -1
        return "".join(vocab[i] for i in self.generate_ids(ids, room, stop_id))


class Int8Classifier(_Base):
    """A classifier of windows of `context` int8 frames of `features` values."""

    def __init__(self, h, tensors):
        super().__init__(h, tensors)
        if self.h.get("kind") != mf.CLASSIFIER:
            raise ValueError("not a classifier")
        self.labels = self.texts

    def embed(self, inputs):
        """x rows (B, T, dim) of a batch of windows: frames (B, T, F) or token ids (B, T)."""
        t = self.t
        pos = t["pos_emb"][0]
        if self.h["input"] == mf.FRAMES:
            frames = np.asarray(inputs, dtype=np.int64)
            w, s = t["in_proj"]
            y = ops.saturate8(ops.requant(ops.matvec(w, frames), s))
        else:
            y = t["tok_emb"][0][np.asarray(inputs, dtype=np.int64)]
        return ops.saturate8(y + pos[None, : y.shape[1]])

    def logits(self, inputs, record=None):
        """int32 logits (B, classes) in Q(logit_frac) of a batch of windows."""
        h = self.h
        inputs = np.asarray(inputs)
        if inputs.ndim == (2 if h["input"] == mf.FRAMES else 1):
            inputs = inputs[None]
        x = self.embed(inputs)
        if x.shape[1] != h["context"]:
            raise ValueError("a window holds %d frames, got %d" % (h["context"], x.shape[1]))
        if record is not None:
            record.setdefault("embed", []).append(x)
        if h["pooling"] == mf.CLS:
            cls = ops.saturate8(self.t["cls"][0] + self.t["pos_emb"][0][h["context"]])
            x = np.concatenate([x, np.broadcast_to(cls, (x.shape[0], 1, x.shape[2]))], axis=1)
        causal = h["attention"] == mf.CAUSAL
        for i in range(h["layers"]):
            x, _ = self.layer(i, x, None, 0, causal, record)
        if h["pooling"] == mf.CLS:
            p = x[:, h["context"]]
        else:
            t = h["context"]
            p = (x.sum(1) + t // 2) // t
        logits = self.head_logits(p)
        if record is not None:
            record.setdefault("pool", []).append(p)
            record.setdefault("logits", []).append(logits)
        return logits

    def scores(self, logits):
        """The Q8 scores (256 == 1.0) of one window's logits: softmax_exp2 in Q(logit_frac)."""
        return ops.softmax_exp2(logits, self.h["logit_frac"])

    def classify(self, frames):
        """(class, Q8 scores) of one window (T, F); the class is the first largest logit."""
        logits = self.logits(frames)[0]
        return int(np.argmax(logits)), self.scores(logits)

    def predict(self, windows, batch=512):
        """The class of every window of a batch (B, T, F)."""
        out = [
            np.argmax(self.logits(windows[i : i + batch]), axis=-1)
            for i in range(0, len(windows), batch)
        ]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def build(h, tensors):
    """Int8Model or Int8Classifier, as the header's kind says."""
    if h.get("kind", 0) == mf.CLASSIFIER:
        return Int8Classifier(h, tensors)
    return Int8Model(h, tensors)


def load(path):
    return build(*mf.read(path))
