"""Decoder: a decoder-only int8 transformer, one token at a time.

Per token (x is the int8 residual stream, one scale for the whole model):
  x = saturate8(tok_emb[token] + pos_emb[pos])
  per layer: h = norm(x); q, k, v = Wq h, Wk h, Wv h (int8; k and v into the KV cache);
             a = attention of q over the cache (exp2 softmax, every head), narrowed to int8;
             x = saturate8(x + Wo a); h = norm(x); x = saturate8(x + W2 act(W1 h))
  logits = LM head (norm(x)), int32 in Q(logit_frac).
The context is at most the model's context: a full cache is an error (ValueError),
reset() starts over. See docs/model-format.md for the file and the scales, model.py for
the buffers.
"""

from array import array

import micropython

from micropython import const

from . import _check, _memory
from ._kernels import softmax_exp2
from ._layers import argmax32, draw, temper
from ._step import INT32, attend, embed, norm, project
from ._softmax import EXP2, MASKED
from .model import BLOB, EMBED, Model, OBJECT_WORDS, OUTPUT, Plan, STATE, WORD, blocks

_TEMPERED = const(9)  # the frame's buffers after OUTPUT (the logits)
_RNG = const(10)
_STEP = _check.kinds(0, 0, 0, 0, _memory.INT8, _memory.INT8, _memory.INT32)
_PICK = _check.kinds(0, 0, 0, 0, 0, 0, _memory.INT32, _memory.INT32, _memory.INT32)


def _plan(h):
    """The decoder's Plan and spec: (blob size, state size, the least lengths of logits,
    tempered and rng, context, cache row bytes, embed, norm, head, the layers' records)."""
    plan = Plan(h)
    d, t = h["dim"], h["context"]
    x = plan.state.take(d)
    q = plan.state.take(d)
    kv = plan.state.take(h["layers"] * t * 2 * d)
    layers = tuple(plan.layer(i, kv + i * t * 2 * d, q, x) for i in range(h["layers"]))
    embed_at = plan.record(EMBED, (plan.tensors["tok_emb"][0], plan.tensors["pos_emb"][0], x, d))
    norm_at = plan.norm(x)
    head = plan.project("lm_head" if h["version"] == 1 else "head", plan.xb, plan.xb_sum, 0, INT32)
    v = h["vocab"]
    spec = (plan.blob.size, plan.state.size, (v, v, 1), t, 2 * d, embed_at, norm_at, head, layers)
    return plan, spec


def ram_needed(h):
    """Bytes of heap a model with header h takes once loaded, on this port: its buffers,
    the objects around them, and the vocabulary (see blocks)."""
    plan, spec = _plan(h)
    v = h["vocab"]
    word = WORD
    layers = len(spec[-1])
    total = blocks(
        plan.blob.size, plan.state.size, 4 * v, 4 * v, 4, 4 * _memory.FACTS,  # buffers
        *([4 * word] * 6),  # their objects
        word * (2 + _RNG + 2), word * (2 + len(spec)), word * (2 + layers),  # frame, spec
        *([word * 8] * layers),  # each layer's records
        v * h.get("vocab_width", 1) + 2 * word,  # the vocabulary
    )  # fmt: skip
    return total + OBJECT_WORDS * word


class Decoder(Model):
    """A loaded model: feed(token) one step, pick() the next token, generate() text.

    Make one with Decoder.load(path). logits (array('i') of vocab items) holds the
    last step's logits in Q(logit_frac): real logit = logits[i] / 2**logit_frac.
    Decoder(h) makes a model of header h whose weights are all 0 (it outputs 0).
    """

    _KIND = 0
    _ram_needed = staticmethod(ram_needed)

    def __init__(self, h):
        h.setdefault("version", 1)
        h.setdefault("requant", 0)
        h.setdefault("vocab_width", 1)
        h.setdefault("kind", 0)
        h.setdefault("input", 0)
        h.setdefault("pooling", 0)
        h.setdefault("activation", 0)
        self._h = h
        plan, spec = _plan(h)
        v = h["vocab"]
        self._build(
            plan, (array("i", bytes(4 * v)), array("i", bytes(4 * v)), array("i", [1])), spec
        )
        self._temperature = 0
        self._top_k = v
        self._pos = 0
        self._names = ""

    # Hyperparameters, read-only.
    vocab = property(lambda self: self._names)  # a str of one character each, else a tuple
    dim = property(lambda self: self._h["dim"])
    heads = property(lambda self: self._h["heads"])
    layers = property(lambda self: self._h["layers"])
    hidden = property(lambda self: self._h["hidden"])
    context = property(lambda self: self._h["context"])
    logit_frac = property(lambda self: self._h["logit_frac"])
    position = property(lambda self: self._pos)
    logits = property(lambda self: self._frame[OUTPUT])
    ram = property(lambda self: ram_needed(self._h))

    def reset(self):
        """Forget the context: the next token fed is at position 0."""
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
        self._frame[_RNG][0] = seed & 0x7FFFFFFF  # seed mod 2**31

    @micropython.native
    def feed(self, token, logits=True):
        """Run one token through the model at the next position; logits are then ready.

        logits=False: the token's keys and values go into the caches but its logits
        are not computed (the last layer stops there): for a prompt token whose logits
        nobody reads; logits keep what they held.
        """
        spec = self._measure(_STEP, 1)
        frame = self._frame
        _, _, needs, context, row, embed_at, norm_at, head, layers = spec
        vocab = needs[0]
        if token.__class__ is not _check.INT:
            raise TypeError("token: expected an int, got %s" % type(token).__name__)
        if not 0 <= token < vocab:
            raise ValueError("token: expected 0..%d, got %d" % (vocab - 1, token))
        pos = self._pos
        if not 0 <= pos < context:
            raise ValueError("context: full at %d tokens; reset() first" % context)
        blob = frame[BLOB]
        state = frame[STATE]
        embed(blob, state, embed_at, token, pos, 0)
        kv_row = pos * row
        n = pos + 1
        left = len(layers)
        for kv, q, attention, o, w1, w2 in layers:
            norm(blob, state, norm_at, 0)
            project(blob, state, state, kv, kv_row)
            left -= 1
            if not (left or logits):
                break  # the rest of the last layer only makes the logits
            project(blob, state, state, q, 0)
            attend(blob, state, attention, n, 0)
            project(blob, state, state, o, 0)
            norm(blob, state, norm_at, 0)
            project(blob, state, state, w1, 0)
            project(blob, state, state, w2, 0)
        else:
            norm(blob, state, norm_at, 0)
            project(blob, state, frame[OUTPUT], head, 0)
        self._pos = n

    @micropython.native
    def pick(self):
        """The next token from logits: argmax, or a draw as sampling() set."""
        v = self._measure(_PICK, 3)[2][0]
        frame = self._frame
        logits = frame[OUTPUT]
        if not self._temperature:
            return argmax32(logits, v)
        w = frame[_TEMPERED]
        temper(logits, w, v, self._top_k, self._temperature, MASKED)
        softmax_exp2(w, EXP2, v, self._h["logit_frac"])
        return draw(w, v, frame[_RNG])

    def generate_into(self, prompt, out, stop=-1):
        """Feed the token ids prompt, then fill out with picked tokens.

        prompt: a sequence of token ids (bytes, or array('H') past 256 tokens); out: a
        bytearray, or past 256 tokens an array('H'). Stops after a token equal to stop, when out is full or
        the context is: returns how many tokens were written. Allocates nothing.
        """
        wide = self._h["vocab"] > 256  # token ids past a byte: out is an array('H')
        if type(out) is not (array if wide else bytearray):
            raise TypeError(
                "out: expected %s, got %s"
                % ("an array('H')" if wide else "a bytearray", type(out).__name__)
            )
        if len(prompt) < 1 or len(prompt) > self._h["context"]:
            raise ValueError(
                "prompt: expected 1..%d tokens, got %d" % (self._h["context"], len(prompt))
            )
        self.reset()
        last = len(prompt) - 1
        for i in range(last):  # only the last prompt token's logits are read
            self.feed(prompt[i], False)
        self.feed(prompt[last])
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
        """Token ids of text: bytes (array('H') past 256 tokens). The longest token that
        matches comes first; ValueError names a part outside the vocabulary."""
        names = self._names
        if type(names) is str:
            ids = bytearray(len(text)) if len(names) <= 256 else array("H", bytes(2 * len(text)))
            for i, c in enumerate(text):
                j = names.find(c)
                if j < 0:
                    raise ValueError("text: %r is not in the vocabulary %r" % (c, names))
                ids[i] = j
            return bytes(ids) if type(ids) is bytearray else ids
        found = []
        i = 0
        while i < len(text):
            best = -1
            for j, token in enumerate(names):
                if (
                    token
                    and text.startswith(token, i)
                    and (best < 0 or len(token) > len(names[best]))
                ):
                    best = j
            if best < 0:
                raise ValueError(
                    "text: %r at %d starts no token of the vocabulary" % (text[i : i + 8], i)
                )
            found.append(best)
            i += len(names[best])
        return bytes(found) if len(names) <= 256 else array("H", found)

    def generate(self, prompt, max_new=None, stop=None):
        """The text generated after prompt (a str), up to max_new tokens or stop (a token's text)."""
        ids = self.encode(prompt)
        room = self._h["context"] - len(ids) + 1  # as many as the context can take
        if max_new is not None:
            if type(max_new) is not int:
                raise TypeError("max_new: expected an int, got %s" % type(max_new).__name__)
            if max_new < room:
                room = max_new
        room = max(room, 0)
        names = self._names
        out = bytearray(room) if len(names) <= 256 else array("H", bytes(2 * room))
        stop_id = -1 if stop is None else _index(names, stop)
        count = self.generate_into(ids, out, stop_id)
        return "".join(names[t] for t in out[:count])


def _index(names, text):
    """The id of the token whose text is text, or -1."""
    if type(names) is str:
        return names.find(text) if len(text) == 1 else -1
    for i, name in enumerate(names):
        if name == text:
            return i
    return -1


def shipped(name="reverse.bin"):
    """The path of a model file shipped inside the package (beside this module).

    On a board after `make deploy` that is /lib/attention/reverse.bin. A package
    frozen into the firmware has no files: copy the model file to the board instead.
    """
    return __file__.rsplit("/", 1)[0] + "/" + name
