"""Decoder: a decoder-only int8 transformer, one token at a time, over a KVCache per layer.

Per token (x is the int8 residual stream, one scale for the whole model):
  x = saturate8(tok_emb[token] + pos_emb[pos])
  per layer: h = norm(x); q, k, v = Wq h, Wk h, Wv h (int8); cache.append(k, v);
             a = MicroAttention(softmax="exp2").forward(q, cache, causal at pos), narrowed
             to int8; x = saturate8(x + Wo a); h = norm(x); x = saturate8(x + W2 relu(W1 h))
  logits = LM head (norm(x)), int32 in Q(logit_frac).
The context is at most the model's context: a full cache is an error (ValueError),
reset() starts over. See docs/model-format.md for the file and the scales.
"""

import gc
from array import array

from . import _kernels, _layers, modelfile
from .cache import KVCache
from ._fixed import norm_constants
from .micro import _EXP2, MASKED, MicroAttention

_OBJECT_BYTES = 48  # a buffer's object and header, rounded up to heap blocks (16 bytes)


def ram_needed(h):
    """Bytes of heap a model with header h takes once loaded (buffers and their headers)."""
    d, f, v, t, n = h["dim"], h["hidden"], h["vocab"], h["context"], h["layers"]
    wide = max(d, f, v)
    total = 0
    buffers = 0
    for _, rows, cols, scaled in modelfile.tensor_list(h):
        total += rows * cols + 8 * rows * scaled
        buffers += 1 + scaled
    total += n * (2 * t * d + 4 * d + 4 * t)  # KV caches; attention's query and scores
    buffers += 4 * n
    total += 7 * d + f + 4 * wide + 4 * wide + 4 * d + 8 * v + 4  # activations, scratch, rng
    buffers += 13
    return total + buffers * _OBJECT_BYTES + 64 * n + 4096  # + the objects and their dicts


class Decoder:
    """A loaded model: feed(token) one step, pick() the next token, generate() text.

    Make one with Decoder.load(path). logits (array('i') of vocab items) holds the
    last step's logits in Q(logit_frac): real logit = logits[i] / 2**logit_frac.
    Its size is checked before each use, like a KVCache's buffers.
    """

    @staticmethod
    def load(path):
        """Check the file at path, say what RAM it needs, then allocate and read it."""
        with open(path, "rb") as f:
            h = modelfile.scan(f)
            need = ram_needed(h)
            gc.collect()
            free = gc.mem_free() if hasattr(gc, "mem_free") else -1
            if 0 <= free < need:
                raise ValueError(
                    "model file: the model needs %d bytes of RAM, %d are free" % (need, free)
                )
            model = Decoder(h)
            modelfile.load_into(f, h, model._buffers)
        model._vocab = bytes(model._buffers["vocab"][0]).decode()
        return model

    def __init__(self, h):
        self._h = h
        d, f, v, t = h["dim"], h["hidden"], h["vocab"], h["context"]
        self._buffers = buffers = {}
        for name, rows, cols, scaled in modelfile.tensor_list(h):
            scales = array("i", bytes(8 * rows)) if scaled else None
            buffers[name] = (bytearray(rows * cols), scales)
        self._layers = tuple(
            tuple(buffers["%d.%s" % (i, name)] for name in modelfile.LAYER_TENSORS)
            + (KVCache(t, d),)
            for i in range(h["layers"])
        )
        self._attention = MicroAttention(
            d, h["heads"], softmax="exp2", logit_shift=h["logit_shift"], max_len=t
        )
        self._num, self._down = norm_constants(d, h["norm_frac"])
        wide = max(d, f, v)
        self._x = bytearray(d)  # the residual stream
        self._h_ = bytearray(d)  # a norm's output
        self._q = bytearray(d)
        self._k = bytearray(d)
        self._v = bytearray(d)
        self._a = bytearray(d)  # attention output, int8
        self._o = bytearray(d)  # a projection back into the residual stream
        self._f = bytearray(f)  # feed-forward hidden
        self._x32 = array("i", bytes(4 * wide))  # the input of a projection, widened
        self._acc = array("i", bytes(4 * wide))  # a projection's int32 sums
        self._att = array("i", bytes(4 * d))
        self._logits = array("i", bytes(4 * v))
        self._tempered = array("i", bytes(4 * v))
        self._state = array("i", [1])
        self._temperature = 0
        self._top_k = v
        self._pos = 0
        self._vocab = ""

    # Hyperparameters, read-only.
    vocab = property(lambda self: self._vocab)
    dim = property(lambda self: self._h["dim"])
    heads = property(lambda self: self._h["heads"])
    layers = property(lambda self: self._h["layers"])
    hidden = property(lambda self: self._h["hidden"])
    context = property(lambda self: self._h["context"])
    logit_frac = property(lambda self: self._h["logit_frac"])
    position = property(lambda self: self._pos)
    logits = property(lambda self: self._logits)
    ram = property(lambda self: ram_needed(self._h))

    def reset(self):
        """Forget the context: the next token fed is at position 0."""
        for layer in self._layers:
            layer[6].clear()
        self._pos = 0

    def sampling(self, temperature=0, top_k=0, seed=1):
        """How pick() chooses: temperature 0 is greedy (argmax); else sample.

        temperature: a float or int > 0 (1.0 leaves the logits as they are), kept as
        round(256 * temperature); top_k: sample among the k largest logits (0: all);
        seed: the generator's start, an int (taken mod 2**31).
        """
        if type(temperature) is not int and type(temperature) is not float:
            raise TypeError("temperature: expected a number, got %s" % type(temperature).__name__)
        if not 0 <= temperature <= 256:  # nan too
            raise ValueError("temperature: expected 0..256, got %r" % (temperature,))
        t = int(temperature * 256 + 0.5)
        v = self._h["vocab"]
        if type(top_k) is not int or not 0 <= top_k <= v:
            raise ValueError("top_k: expected an int 0..%d, got %r" % (v, top_k))
        if type(seed) is not int:
            raise TypeError("seed: expected an int, got %s" % type(seed).__name__)
        self._temperature = t
        self._top_k = top_k or v
        self._state[0] = seed & 0x7FFFFFFF  # seed mod 2**31

    def feed(self, token):
        """Run one token through the model at the next position; logits are then ready."""
        h = self._h
        if type(token) is not int:
            raise TypeError("token: expected an int, got %s" % type(token).__name__)
        if not 0 <= token < h["vocab"]:
            raise ValueError("token: expected 0..%d, got %d" % (h["vocab"] - 1, token))
        logits = self._logits
        if len(logits) != h["vocab"]:  # resized in place by its user: the kernel would overrun it
            raise ValueError(
                "logits: resized to %d items, expected %d" % (len(logits), h["vocab"])
            )
        pos = self._pos
        if pos >= h["context"]:
            raise ValueError("context: full at %d tokens; reset() first" % h["context"])
        d = h["dim"]
        f = h["hidden"]
        x = self._x
        hn = self._h_
        x32 = self._x32
        acc = self._acc
        num = self._num
        down = self._down
        _layers.gather8(x, self._buffers["tok_emb"][0], token * d, d)
        _layers.add8(x, self._buffers["pos_emb"][0], pos * d, d)
        for wq, wk, wv, wo, w1, w2, cache in self._layers:
            _layers.rms_norm8(x, hn, d, num, down)
            _kernels.dot_rows(wq[0], x32, acc, d, d, d, 0, 0, hn)
            _layers.requant8(acc, self._q, wq[1], d, 2)
            _kernels.dot_rows(wk[0], x32, acc, d, d, d, 0, 0, hn)
            _layers.requant8(acc, self._k, wk[1], d, 2)
            _kernels.dot_rows(wv[0], x32, acc, d, d, d, 0, 0, hn)
            _layers.requant8(acc, self._v, wv[1], d, 2)
            cache.append(self._k, self._v)
            self._attention.forward(self._q, cache.keys, cache.values, self._att, pos + 1, pos)
            _layers.clamp8(self._att, self._a, d)
            _kernels.dot_rows(wo[0], x32, acc, d, d, d, 0, 0, self._a)
            _layers.requant8(acc, self._o, wo[1], d, 2)
            _layers.add8(x, self._o, 0, d)
            _layers.rms_norm8(x, hn, d, num, down)
            _kernels.dot_rows(w1[0], x32, acc, f, d, d, 0, 0, hn)
            _layers.requant8(acc, self._f, w1[1], f, 2)
            _layers.relu8(self._f, f)
            _kernels.dot_rows(w2[0], x32, acc, d, f, f, 0, 0, self._f)
            _layers.requant8(acc, self._o, w2[1], d, 2)
            _layers.add8(x, self._o, 0, d)
        _layers.rms_norm8(x, hn, d, num, down)
        head = self._buffers["lm_head"]
        v = h["vocab"]
        _kernels.dot_rows(head[0], x32, acc, v, d, d, 0, 0, hn)
        _layers.requant32(acc, self._logits, head[1], v, 2)
        self._pos = pos + 1

    def pick(self):
        """The next token from logits: argmax, or a draw as sampling() set."""
        v = self._h["vocab"]
        logits = self._logits
        if len(logits) != v:
            raise ValueError("logits: resized to %d items, expected %d" % (len(logits), v))
        if not self._temperature:
            return _layers.argmax32(logits, v)
        w = self._tempered
        _layers.temper(logits, w, v, self._top_k, self._temperature, MASKED)
        _kernels.softmax_exp2(w, _EXP2, v, self._h["logit_frac"])
        return _layers.draw(w, v, self._state)

    def generate_into(self, prompt, out, stop=-1):
        """Feed the token ids prompt (bytes), then fill out (bytearray) with picked tokens.

        Stops after a token equal to stop, when out is full or the context is: returns
        how many tokens were written. Allocates nothing.
        """
        if type(out) is not bytearray:
            raise TypeError("out: expected a bytearray, got %s" % type(out).__name__)
        if len(prompt) < 1 or len(prompt) > self._h["context"]:
            raise ValueError(
                "prompt: expected 1..%d tokens, got %d" % (self._h["context"], len(prompt))
            )
        self.reset()
        for token in prompt:
            self.feed(token)
        count = 0
        room = len(out)
        context = self._h["context"]
        while count < room:
            token = self.pick()
            out[count] = token
            count += 1
            if token == stop or self._pos >= context:
                break
            if count < room:
                self.feed(token)
        return count

    def encode(self, text):
        """Token ids of text (bytes); ValueError names a character outside the vocabulary."""
        ids = bytearray(len(text))
        for i, c in enumerate(text):
            j = self._vocab.find(c)
            if j < 0:
                raise ValueError("text: %r is not in the vocabulary %r" % (c, self._vocab))
            ids[i] = j
        return bytes(ids)

    def generate(self, prompt, max_new=None, stop=None):
        """The text generated after prompt (a str), up to max_new tokens or stop (a character)."""
        room = self._h["context"] - len(prompt) + 1  # as many as the context can take
        if max_new is not None:
            if type(max_new) is not int:
                raise TypeError("max_new: expected an int, got %s" % type(max_new).__name__)
            if max_new < room:
                room = max_new
        out = bytearray(max(room, 0))
        stop_id = -1 if stop is None else self._vocab.find(stop)
        count = self.generate_into(self.encode(prompt), out, stop_id)
        return "".join(self._vocab[t] for t in out[:count])


def shipped(name="reverse.bin"):
    """The path of a model file shipped inside the package (beside this module).

    On a board after `make deploy` that is /lib/attention/reverse.bin. A package
    frozen into the firmware has no files: copy the model file to the board instead.
    """
    return __file__.rsplit("/", 1)[0] + "/" + name
