"""The int8 model in numpy, bit for bit what attention.decoder computes on a board.

Built from a model file's (header, tensors) (model_file.read), it runs one token
at a time with the same integer steps (int8_ops), keeping its own KV rows.
"""

import numpy as np

from . import int8_ops as ops


class Int8Model:
    def __init__(self, h, tensors):
        self.h = h
        self.t = tensors
        self.vocab = bytes(tensors["vocab"][0].astype(np.uint8)).decode()
        self.num, self.down = ops.norm_constants(h["dim"], h["norm_frac"])
        self.reset()
        self.sampling()

    def reset(self):
        self.keys = [[] for _ in range(self.h["layers"])]
        self.values = [[] for _ in range(self.h["layers"])]
        self.pos = 0

    def sampling(self, temperature=0, top_k=0, seed=1):
        self.temperature = int(temperature * 256 + 0.5)
        self.top_k = top_k or self.h["vocab"]
        self.state = seed % 2**31

    def _linear(self, name, x):
        w, s = self.t[name]
        return ops.linear8(w, s, x)

    def feed(self, token):
        """One step; returns the logits (int, Q(logit_frac))."""
        h, t = self.h, self.t
        if self.pos >= h["context"]:
            raise ValueError("context full")
        x = ops.saturate8(t["tok_emb"][0][token] + t["pos_emb"][0][self.pos])
        for i in range(h["layers"]):
            n = ops.rms_norm(x, self.num, self.down)
            q = self._linear("%d.wq" % i, n)
            self.keys[i].append(self._linear("%d.wk" % i, n))
            self.values[i].append(self._linear("%d.wv" % i, n))
            a = ops.attention(
                q, np.array(self.keys[i]), np.array(self.values[i]), h["heads"], h["logit_shift"]
            )
            x = ops.saturate8(x + self._linear("%d.wo" % i, ops.saturate8(a)))
            n = ops.rms_norm(x, self.num, self.down)
            f = np.maximum(self._linear("%d.w1" % i, n), 0)
            x = ops.saturate8(x + self._linear("%d.w2" % i, f))
        n = ops.rms_norm(x, self.num, self.down)
        w, s = t["lm_head"]
        self.logits = ops.requant(ops.matvec(w, n), s)
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
        room = self.h["context"] - len(prompt) + 1 if max_new is None else max_new
        ids = [self.vocab.index(c) for c in prompt]
        stop_id = -1 if stop is None else self.vocab.find(stop)
        return "".join(self.vocab[i] for i in self.generate_ids(ids, room, stop_id))
