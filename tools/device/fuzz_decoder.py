"""The fuzzer's plans for attention.decoder: the one Decoder of a run (the shipped model,
loaded once; a tiny zero model where the file is missing) with tokens, prompts, out
buffers, sampling settings and its logits resized in place.

Part of tools/device/fuzz.py (joined by tools/board/target.py), on fuzz_arena.py.
"""

# with: fuzz_arena.py

from array import array

try:
    import hashlib
except ImportError:  # a firmware without it: a hash of the blob read in chunks
    hashlib = None

try:  # a stand-in package may hold the mechanisms only
    decoder = family("attention.decoder")
except ImportError:
    decoder = None


HUGE_T = 1e6  # a temperature beyond any the model takes, still finite times 256
TINY = {"vocab": 12, "dim": 8, "heads": 2, "layers": 1, "hidden": 16, "context": 6}
TINY.update({"norm_frac": 5, "logit_shift": 8, "logit_frac": 8, "activation": 0})


class Model:
    """The one Decoder of a run and what is known of it between calls."""

    def __init__(self):
        before = guard()
        try:
            self.obj = decoder.Decoder.load(decoder.shipped())
            label = "m"
        except (OSError, MemoryError, ValueError):  # frozen, or a small board
            self.obj = decoder.Decoder(TINY)  # weights 0: logits 0
            label = "tiny"
        names = ("vocab", "dim", "heads", "layers", "hidden", "context", "logit_frac")
        attrs = [(name, getattr(self.obj, name)) for name in names]
        self.subject = Subject(self.obj, label, attrs, before, guard())
        self.logits = self.obj.logits  # as made: an assignment to a private attribute
        self.vocab = len(self.logits)  # of the model changes none of these
        self.text = self.obj.vocab
        self.context = self.obj.context
        self.position = 0
        self.logits_guard = guard()
        self.blob = self.obj._frame[6]  # weights, scales and plan (decoder.py's _BLOB)
        self.weights = self.fingerprint()

    def fingerprint(self):
        """A hash of the blob (weights, scales and plan: no kernel may write them), read in
        place: a copy of the blob would take as much heap again as the model."""
        if hashlib is not None:
            return hashlib.sha256(self.blob).digest()
        view, h = memoryview(self.blob), 0
        for i in range(0, len(view), 256):
            h = (h * 31 + hash(bytes(view[i : i + 256]))) & 0xFFFFFFFF
        return h

    def check(self):
        if self.subject.tampered:
            return None
        if self.logits_guard != GUARD:
            return "the guard after the logits changed"
        if self.obj.position != self.position:
            return "position %d, expected %d" % (self.obj.position, self.position)
        return None

    def resize(self, rng):
        """Grow, shrink or restore the logits array in place; describes the change."""
        logits = self.logits
        old = len(logits)
        if old != self.vocab and rng.chance(40):
            if old > self.vocab:
                logits[self.vocab :] = array("i")
            else:
                logits.extend(array("i", bytes(4 * (self.vocab - old))))
        elif old and rng.chance(50):
            logits[rng.below(old) :] = array("i")
        else:
            logits.extend(array("i", bytes(4 * rng.pick((1, 3, 64)))))
        self.logits_guard = guard()
        return "%s.logits %d -> %d" % (self.subject.label, old, len(logits))


MODEL = []  # the Model, made at its first use


def token_value(rng, vocab):
    return rng.pick((rng.below(vocab),) * 6 + (vocab, 255, 256, -1, True, 1.0, 2**40, None, "a"))


def valid_tokens(prompt, vocab):
    """False when an item of prompt is no token (bools may go either way)."""
    for t in prompt:
        if type(t) is not bool and (type(t) is not int or not 0 <= t < vocab):
            return False
    return True


def hostile_prompt(rng, model):
    """generate_into's prompt: token ids of a random length and kind, some not tokens."""
    v = model.vocab
    length = rng.pick((0, 1, 2, 5, model.context - 1, model.context, model.context + 1, 40))
    tokens = [rng.below(v) for _ in range(length)]
    kind = rng.below(10)
    if kind < 2 and tokens:
        tokens[rng.below(length)] = rng.pick((v, -1, True, 1.0, None, 256, 2**40))
        return tokens
    if kind < 4:
        return tokens
    if kind == 4:
        return memoryview(bytearray(tokens))
    if kind == 5 and tokens and v < 256:
        tokens[rng.below(length)] = rng.pick((v, 255))
    if kind == 6:
        return rng.pick((None, 5, 1.5))
    return bytes(tokens)


def hostile_text(rng, model, prompt_room):
    vocab = model.text or "ab"
    length = rng.pick((0, 1, 3, 8, prompt_room - 1, prompt_room, prompt_room + 1, 30))
    text = "".join(vocab[rng.below(len(vocab))] for _ in range(max(length, 0)))
    roll = rng.below(10)
    if roll == 0 and text:
        i = rng.below(len(text))
        return text[:i] + rng.pick(("z", "\u00e9", "\x00", "~")) + text[i + 1 :]
    if roll == 1:
        return rng.pick((None, 5, b"ab", ["a", "b"], b""))
    return text


def text_refused(text, vocab):
    """Whether encode(text) must refuse."""
    if type(text) is str:
        return any(c not in vocab for c in text) or (not vocab and len(text) > 0)
    return text is None or type(text) is int or (type(text) is bytes and len(text) > 0)


def plan_decoder(call, model):
    """Arguments for one Decoder method; returns the bound method's name and the method."""
    rng = call.rng
    m = model.obj
    v, context, pos = model.vocab, model.context, model.position
    resized = len(model.logits) != v
    name = rng.pick(("feed",) * 6 + ("pick", "pick", "sampling", "generate_into"))
    name = rng.pick((name,) * 6 + ("generate", "encode", "reset"))

    def moved(returned):
        model.position = m.position
        if not 0 <= m.position <= context:
            return "position %d outside 0..%d" % (m.position, context)
        return None

    call.after = moved
    if name == "feed":
        token = token_value(rng, v)
        call.add(token)
        if type(token) is not bool and (type(token) is not int or not 0 <= token < v):
            call.must_refuse("token %r is no token" % (token,))
        if resized or pos >= context:
            call.must_refuse("logits resized" if resized else "the context is full")

        def fed(returned):
            want = pos + 1 if returned else pos
            model.position = m.position
            return None if m.position == want else "position %d, expected %d" % (m.position, want)

        call.after = fed
    elif name == "pick":
        if resized:
            call.must_refuse("logits resized")
        call.expect = lambda t: None if type(t) is int and 0 <= t < v else "picked %r" % (t,)
    elif name == "sampling":
        plan_sampling(call, v)
    elif name == "generate_into":
        plan_generate_into(call, model, resized)
    elif name == "generate":
        plan_generate(call, model, resized)
    elif name == "reset":
        call.expect = lambda r: None if m.position == 0 else "position %d" % m.position
    elif name == "encode":
        text = hostile_text(rng, model, context)
        call.add(text)
        if text_refused(text, model.text):
            call.must_refuse("text holds what is not in the vocabulary")
        call.expect = lambda ids: (
            None
            if type(ids) is bytes and len(ids) == len(text) and all(i < v for i in ids)
            else "encoded to %r" % (ids,)
        )
    return name, getattr(m, name)


def plan_sampling(call, v):
    rng = call.rng
    t = rng.pick((0, 0.0, 1, 1.0, 1.5, 0.01, 256, 257, -1, -0.5, 1e9, 1e308, True, None, "1"))
    t = rng.pick((t, t, t, float("inf"), float("-inf"), float("nan"), 2**100))
    call.add(t)
    if type(t) in (int, float):
        if not -HUGE_T < t < HUGE_T or not 0 <= int(t * 256 + 0.5) <= 65536:  # nan fails the first
            call.must_refuse("temperature out of range")
    elif type(t) is not bool:
        call.must_refuse("temperature is no number")
    if rng.chance(60):
        k = rng.pick((0, 1, 3, v, v + 1, -1, True, 1.0, None, 2**40))
        call.add(k)
        if type(k) is not bool and (type(k) is not int or not 0 <= k <= v):
            call.must_refuse("top_k out of range")
        if rng.chance(60):
            seed = rng.pick((1, 0, -1, 2**31, 2**100, 1.0, None, "1", True))
            call.add(seed)
            if type(seed) not in (int, bool):
                call.must_refuse("seed is no int")


def plan_generate_into(call, model, resized):
    rng = call.rng
    v, context = model.vocab, model.context
    prompt = hostile_prompt(rng, model)
    call.add(prompt)
    if type(prompt) in (type(None), int, float) or not valid_tokens(prompt, v):
        call.must_refuse("the prompt holds what is no token")
    elif not 1 <= len(prompt) <= context:
        call.must_refuse("prompt of %d tokens" % len(prompt))
    size = rng.pick((0, 1, 3, context, 64))
    call.guards.append(guard())
    out = bytearray(b"\xee" * size)
    kind = rng.below(10)
    if kind == 0:
        out = rng.pick((bytes(out), array("b", out), memoryview(out), list(out), None))
        call.must_refuse("out is no bytearray")
    call.guards.append(guard())
    call.add(out)
    call.add(rng.pick((-1, -1, rng.below(v), v, 256, None, "a", 1.5, True)))
    if resized:
        call.must_refuse("logits resized")

    def written(count):
        if type(count) is not int or not 0 <= count <= size:
            return "returned %r for out of %d" % (count, size)
        if any(t >= v for t in out[:count]) or any(b != 0xEE for b in out[count:]):
            return "out holds %r after %d tokens" % (bytes(out), count)
        want = len(prompt) + max(count - 1, 0)
        if model.obj.position != want:
            return "position %d, expected %d" % (model.obj.position, want)
        return None

    call.expect = written


def plan_generate(call, model, resized):
    rng = call.rng
    vocab, context = model.text, model.context
    prompt = hostile_text(rng, model, context)
    call.add(prompt)
    if text_refused(prompt, vocab) or (type(prompt) is str and not 1 <= len(prompt) <= context):
        call.must_refuse("the prompt")
    most = rng.pick((None, None, 0, 1, 5, context, 100, -1, 2**31, 2**62, 2**100, 1.5, "3", True))
    stop = rng.pick((None, None, ".", "a", "", 5, "zz"))
    if most is not None or rng.chance(50):
        call.add(most)
        if type(most) in (float, str):
            call.must_refuse("max_new is no int")
        if stop is not None or rng.chance(50):
            call.add(stop)
            if type(stop) is int:
                call.must_refuse("stop is no character")
    if resized:
        call.must_refuse("logits resized")

    def text(out):
        room = max(most, 0) if type(most) is int else context
        if type(out) is not str or len(out) > room or any(c not in vocab for c in out):
            return "generated %r" % (out,)
        return None

    call.expect = text


def decoder_call(rng, subjects):
    """A hostile call of the model's methods: (Call, subject, label, method, name)."""
    model = MODEL[0]
    call = Call(rng, POOL)
    name, fn = plan_decoder(call, model)
    call.finish()
    label = "%s.%s(%s)" % (model.subject.label, name, ", ".join(call.words))
    return call, model.subject, label, fn, name
