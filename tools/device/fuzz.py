"""Hostile calls to the package's whole public API: no kernel may touch memory it was not given.

The mechanisms and the KV cache, attention.layers (Linear, RMSNorm, Embedding and the
functions) and attention.decoder's Decoder (the shipped model, loaded once; a tiny
zero model where the file is missing) with tokens, prompts, out buffers, sampling
settings and logits resized in place.

Random, seeded sequences of constructors, method calls and attribute assignments with
wrong and right buffer kinds, sizes, counts and aliasing. Buffers are memoryview slices
of pattern-filled arenas or standalone objects between guard bytearrays, so a write
outside a buffer is seen after the call. A call may return or raise TypeError or
ValueError (AttributeError for an attribute assignment); it must refuse what the API
promises to refuse (wrong buffer kinds, negative or too large counts, aliased outputs).
Anything else prints `FAIL seed=<seed> call=<i>: <the call>` and stops with an error.

    micropython fuzz.py [--seed N] [--calls N] [--verbose]

or with `SEED = N; CALLS = N; VERBOSE = True` prepended (tools/fuzz.py does that for a board).
"""

import gc
import sys
from array import array

from attention import KVCache, LinearAttention, MicroAttention, SlidingWindowAttention

try:  # a stand-in package (host_tests/test_fuzz.py) may hold the mechanisms only
    from attention import layers
except ImportError:
    layers = None
try:
    from attention import decoder
except ImportError:
    decoder = None

GUARD_SIZE = 24
GUARD_BYTE = 0xA5
GUARD = bytes([GUARD_BYTE]) * GUARD_SIZE
ARENA_BYTE = 0x5A
ITEM_SIZE = {"b": 1, "B": 1, "h": 2, "i": 4, "I": 4, "f": 4}
DIMS = (1, 1, 2, 3, 4, 5, 7, 8, 8, 16, 16, 17, 31, 32, 33, 64, 100, 257)
ROWS = (0, 1, 1, 2, 3, 5, 8, 17, 40)
HUGE = (2**31, 2**31 - 1, 2**40, 2**62, 2**100)
REFUSED = (TypeError, ValueError)
GC_EVERY = 64


class Failure(Exception):
    """A call did what the API forbids."""


class Rng:
    """xorshift32: the same numbers on every MicroPython port."""

    def __init__(self, seed):
        self.state = (seed & 0xFFFFFFFF) or 0x9E3779B9

    def next(self):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x

    def below(self, count):
        return self.next() % count

    def pick(self, seq):
        return seq[self.next() % len(seq)]

    def chance(self, percent):
        return self.next() % 100 < percent


def wrong(code, good):
    """Whether the API must refuse a buffer of this kind where good kinds are expected."""
    return code not in good


def guard():
    return bytearray(GUARD)


def describe(obj):
    """A short kind-and-size description of an argument."""
    kind = type(obj)
    if kind is array:
        return "array(%r)[%d]" % (repr(obj)[7], len(obj))
    if kind is str and len(obj) < 9:
        return repr(obj)
    if kind in (bytearray, bytes, list, str):
        return "%s[%d]" % (kind.__name__, len(obj))
    if kind is memoryview:
        return "mv[%d]" % len(obj)
    return repr(obj)


class Arena:
    """One pattern-filled buffer; arguments are memoryview slices of it."""

    def __init__(self, code):
        self.code = code
        self.size = 0
        self.places = []  # (start, stop, writable) in items
        self.buf = None
        self.before = None

    def reserve(self, size, gap, overlap_with=None):
        if overlap_with is not None:
            start = overlap_with[0] + gap
        else:
            start = self.size + gap
        self.places.append([start, start + size, False])
        self.size = max(self.size, start + size)
        return len(self.places) - 1

    def build(self, margin):
        total = (self.size + margin) * ITEM_SIZE[self.code]
        fill = bytes([ARENA_BYTE]) * total
        if self.code == "bytearray":
            self.buf = bytearray(fill)
        elif self.code == "bytes":
            self.buf = bytes(fill)
        else:
            self.buf = array(self.code, fill)

    def view(self, index):
        start, stop, _ = self.places[index]
        return memoryview(self.buf)[start:stop]

    def snapshot(self):
        self.before = bytes(self.buf)

    def check(self):
        """Every byte outside the writable slices must be as before the call."""
        after = bytes(self.buf)
        if after == self.before:
            return None
        width = ITEM_SIZE[self.code]
        writable = [(p[0] * width, p[1] * width) for p in self.places if p[2]]
        for i in range(len(after)):
            if after[i] != self.before[i]:
                if not any(a <= i < b for a, b in writable):
                    return "arena %s byte %d of %d changed (slices %s)" % (
                        self.code,
                        i,
                        len(after),
                        self.places,
                    )
        return None


for _code in ("bytearray", "bytes"):
    ITEM_SIZE[_code] = 1


class Call:
    """One call being built: its arguments, what must stay intact, what must be refused."""

    def __init__(self, rng, pool):
        self.rng = rng
        self.pool = pool
        self.arenas = {}
        self.pending = []  # arena arguments: (arena, place index, slot in args)
        self.args = []
        self.words = []
        self.guards = []
        self.frozen = []  # (object, bytes before): inputs that must not change
        self.refuse = None
        self.outputs = []  # identities of standalone outputs
        self.expect = None  # result -> a problem or None, when the call returned
        self.after = None  # returned -> a problem or None, after every call

    def must_refuse(self, why):
        if self.refuse is None:
            self.refuse = why

    def arena(self, code):
        if code not in self.arenas:
            self.arenas[code] = Arena(code)
        return self.arenas[code]

    def add(self, value, word=None):
        self.args.append(value)
        self.words.append(word or describe(value))

    def buffer(self, name, want, size, out=False):
        """A buffer argument of about size items; want is 'int8' or 'int32'."""
        rng = self.rng
        good = ("b", "B", "bytearray", "bytes") if want == "int8" else ("i",)
        roll = rng.below(100)
        if roll < 6:
            value = rng.pick((None, 0, 12345, -1, 2**40, 1.5, "abcdefgh" * size, [1] * size))
            self.must_refuse(name + " is not a buffer")
            self.add(value, "%s=%s" % (name, describe(value)))
            return 0
        if roll < 18:
            code = rng.pick(("b", "B", "h", "i", "I", "f", "bytearray", "bytes"))
        else:
            code = rng.pick(good)
        if out and code == "bytes":
            code = "bytearray"
        where = rng.below(100)
        if self.pool.hot and rng.chance(25):
            code = self.pool.hot[1]
            where = 50
        if 45 <= where < 60 and code not in ("bytes", "bytearray"):
            return self._pool_arg(name, code, good, out)
        if wrong(code, good) and size > 0:
            self.must_refuse(name + " is a " + code + " buffer")
        if where < 45:
            return self._arena_arg(name, code, size, out)
        self.guards.append(guard())
        if code == "bytearray":
            value = bytearray(self.random_bytes(size))
        elif code == "bytes":
            value = self.random_bytes(size)
        else:
            value = array(code, self.random_bytes(size * ITEM_SIZE[code]))
        self.guards.append(guard())
        if out:
            self.outputs.append(value)
        else:
            self.frozen.append([value, None])
        self.add(value, "%s=%s" % (name, describe(value)))
        return size

    def _arena_arg(self, name, code, size, out):
        arena = self.arena(code)
        rng = self.rng
        gap = rng.pick((0, 0, 1, 3, 8))
        index = arena.reserve(size, gap)
        if out:
            arena.places[index][2] = True
        self.pending.append((arena, index, len(self.args)))
        self.add(None, "%s=mv(%s arena)[%d]" % (name, code, size))
        return size

    def _pool_arg(self, name, code, good, out):
        entry = self.pool.get(self.rng, code)
        value = entry[0]
        if any(value is v for v in (self.frozen if out else self.outputs)) and len(value):
            self.must_refuse(name + " shares an array with another argument")
        if wrong(code, good) and len(value):
            self.must_refuse(name + " is a " + code + " buffer")
        if out:
            self.outputs.append(value)
        else:
            self.frozen.append([value, None])
        self.add(value, "%s=pool %s" % (name, describe(value)))
        return len(value)

    def random_bytes(self, count):
        rng = self.rng
        kind = rng.below(3)
        out = bytearray(count)
        for i in range(count):
            x = rng.next()
            out[i] = (x >> 8) & 0xFF if kind else (0x80 if x & 1 else 0x7F)
        return bytes(out)

    def in_arena(self, index):
        """Whether argument index is a slice of an arena (an output can overlap it)."""
        return any(p[2] == index and p[0].code != "bytes" for p in self.pending)

    def swap(self, i, j):
        """Exchange arguments i and j (an output planned after the input it overlaps)."""
        self.args[i], self.args[j] = self.args[j], self.args[i]
        self.words[i], self.words[j] = self.words[j], self.words[i]
        slots = {i: j, j: i}
        self.pending = [(a, p, slots.get(slot, slot)) for a, p, slot in self.pending]

    def alias(self, name, index, size, good=("i",)):
        """An output memoryview over the arena slice of argument index, overlapping it."""
        arena, place, _ = next(p for p in self.pending if p[2] == index)
        shift = self.rng.below(3)
        new = arena.reserve(size, shift, arena.places[place])
        arena.places[new][2] = True
        if wrong(arena.code, good):
            self.must_refuse(name + " is a " + arena.code + " buffer")
        self.pending.append((arena, new, len(self.args)))
        self.add(
            None, "%s=mv(%s arena)[%d] over arg %d +%d" % (name, arena.code, size, index, shift)
        )
        return shift

    def finish(self):
        """Build the arenas and put the views in the arguments; snapshot the inputs."""
        for arena in self.arenas.values():
            self.guards.append(guard())
            arena.build(self.rng.pick((1, 4, 16)))
            self.guards.append(guard())
            for start, stop, writable in arena.places:
                if not writable and arena.code != "bytes":
                    view = memoryview(arena.buf)[start:stop]
                    if arena.code in ("b", "B", "bytearray"):
                        data = self.random_bytes(stop - start)
                        for i in range(stop - start):
                            view[i] = (
                                data[i] - 256 if arena.code == "b" and data[i] > 127 else data[i]
                            )
        for arena, index, slot in self.pending:
            self.args[slot] = arena.view(index)
        for arena in self.arenas.values():
            arena.snapshot()
        for entry in self.frozen:
            entry[1] = bytes(entry[0])

    def check(self):
        for g in self.guards:
            if g != GUARD:
                return "a guard beside an argument changed"
        for arena in self.arenas.values():
            problem = arena.check()
            if problem:
                return problem
        for value, before in self.frozen:
            if any(value is o for o in self.outputs):
                continue
            if bytes(value) != before:
                return "input %s changed" % describe(value)
        return None


class Pool:
    """Arrays that live across calls, are grown and shrunk between them, and start empty."""

    def __init__(self):
        self.entries = []  # [array, typecode, guard after]
        self.hot = None  # the array reshaped last: used again soon, before and after a change

    def get(self, rng, code):
        if self.hot and self.hot[1] == code:
            return self.hot
        for entry in self.entries:
            if entry[1] == code and rng.chance(70):
                return entry
        entry = [array(code), code, guard()]
        self.entries.append(entry)
        if len(self.entries) > 12:
            self.entries.pop(0)
        return entry

    def reshape(self, rng):
        """Grow or shrink one pooled array, with a fresh guard after it; describes the change."""
        if not self.entries:
            return None
        entry = self.hot if self.hot and rng.chance(60) else rng.pick(self.entries)
        self.hot = entry
        value, code = entry[0], entry[1]
        old = len(value)
        if rng.chance(30):
            value[0:] = array(code)  # empty: checked like this first, then grown
        elif rng.chance(60) or not old:
            value.extend(array(code, bytes(ITEM_SIZE[code] * rng.pick((1, 3, 16, 64, 300)))))
        else:
            value[rng.below(old) :] = array(code)
        entry[2] = guard()
        return "pool array(%s) %d -> %d" % (code, old, len(value))

    def check(self):
        for entry in self.entries:
            if entry[2] != GUARD:
                return "the guard after a pooled array(%s) changed" % entry[1]
        return None


class Subject:
    """A live object with the attribute values it was made with, and guards around it."""

    def __init__(self, obj, label, attrs, before, after):
        self.obj = obj
        self.label = label
        self.attrs = attrs
        self.guards = (before, after)
        self.cache = None  # for KVCache: [keys, values, count, model keys, model values]
        self.held = []  # buffers a layer keeps: [name, buffer, bytes, length made with]

    def resized(self, name):
        """Whether the held buffer name is not of the length it was made with."""
        return any(h[0] == name and len(h[1]) != h[3] for h in self.held)

    def check(self):
        for g in self.guards:
            if g != GUARD:
                return "a guard beside %s changed" % self.label
        for name, buf, before, _ in self.held:
            if bytes(buf) != before:
                return "%s.%s changed" % (self.label, name)
        for name, value in self.attrs:
            if getattr(self.obj, name) != value:
                return "%s.%s is %r, made as %r" % (
                    self.label,
                    name,
                    getattr(self.obj, name),
                    value,
                )
        state = self.cache
        if state:
            if len(self.obj) != min(state[2], self.attrs[0][1]) or self.obj.count != state[2]:
                return "%s holds %d rows, expected %d" % (self.label, len(self.obj), state[2])
            if state[0] != state[3] or state[1] != state[4]:
                return "%s buffers differ from the rows appended" % self.label
        return None


BAD_DIMS = (0, -1, 32769, 2**31, 2**40, 1.0, None, "8")


def make_subject(rng):
    """A constructor and its arguments; the second result says why it must be refused, if so."""
    kind = rng.below(4)
    if kind == 0:
        embed = rng.pick(DIMS)
        heads = rng.pick([h for h in (1, 2, 3, 4, 8, 16) if embed % h == 0])
        args = [embed, heads, rng.pick(("linear", "exp2")), rng.pick((0, 4, 9, 12))]
        args.append(rng.pick((0, 0, 1, 8, 100)))
        bad = (BAD_DIMS, (0, -1, embed + 1, None, 2.0), ("exp3", None, 1))
        bad += ((-1, 13, 2**40, None, 1.0), (-1, 2**40, 4194305, 1.0, "1"))
        ctor = MicroAttention
    elif kind == 1:
        args, bad, ctor = [rng.pick(DIMS)], (BAD_DIMS,), LinearAttention
    elif kind == 2:
        args = [rng.pick((1, 2, 3, 4, 8, 16, 32)), rng.pick(DIMS)]
        bad, ctor = (BAD_DIMS, BAD_DIMS), SlidingWindowAttention
    else:
        args = [rng.pick((1, 2, 3, 4, 8, 33)), rng.pick(DIMS), rng.chance(50)]
        bad, ctor = ((0, -1, 4194305, 2**40, 1.0, None), BAD_DIMS), KVCache
    refuse = None
    if layers is not None and rng.chance(40):
        ctor, args, bad = make_layer(rng)
    if rng.chance(15):
        slot = rng.below(len(bad))
        args[slot] = rng.pick(bad[slot])
        refuse = "argument %d is %s" % (slot, describe(args[slot]))
    return ctor, args, refuse


def attributes(ctor, args):
    """The public attributes an object made by ctor(*args) must keep."""
    if ctor is MicroAttention:
        e, h = args[0], args[1]
        head = e // h
        shift = 3 if head >= 32 else 2 if head >= 16 else 1
        return [
            ("embed_dim", e),
            ("num_heads", h),
            ("head_dim", head),
            ("softmax_kind", args[2]),
            ("logit_shift", args[3]),
            ("scale_shift", shift),
        ]
    if ctor is LinearAttention:
        return [("feature_dim", args[0])]
    if layers is not None and ctor is layers.Linear:
        return [("rows", args[2]), ("cols", args[3])]
    if layers is not None and ctor is layers.RMSNorm:
        return [("dim", args[0]), ("frac", args[1])]
    if layers is not None and ctor is layers.Embedding:
        return [("rows", args[1]), ("dim", args[2])]
    if ctor is SlidingWindowAttention:
        return [("window_size", args[0]), ("head_dim", args[1])]
    return [("capacity", args[0]), ("width", args[1]), ("ring", bool(args[2]))]


def construct(rng, index, seed, verbose):
    """A new Subject, or None when the constructor (rightly) refused its arguments."""
    ctor, args, refuse = make_subject(rng)
    label = "%s(%s)" % (ctor.__name__, ", ".join(describe(a) for a in args))
    if verbose:
        print("call %d: %s" % (index, label))
    before = guard()
    try:
        obj = ctor(*args)
    except REFUSED:
        return None
    except Exception as e:  # noqa: BLE001  (any other exception is what is looked for)
        fail(seed, index, label, "raised %r" % e)
    after = guard()
    if refuse:
        fail(seed, index, label, "accepted, but " + refuse)
    subject = Subject(obj, label, attributes(ctor, args), before, after)
    if ctor is KVCache:
        keys, values = obj.keys, obj.values
        subject.cache = [keys, values, 0, array("b", keys), array("b", values)]
    held = {"Linear": ("weights", "scales"), "Embedding": ("table",)}.get(ctor.__name__, ())
    for name, buf in zip(held, args):
        subject.held.append([name, buf, bytes(buf), len(buf)])
    return subject


def pick_count(call, name, available, optional=True):
    """An n (or position, available None) argument; marks the call refused when it must be."""
    rng = call.rng
    roll = rng.below(100)
    if optional and roll < 35:
        return None
    top = 2**20 if available is None else available
    if roll < 60:
        value = rng.below(top + 1)
    elif roll < 70:
        value = top
    elif roll < 76:
        value = top + 1
    elif roll < 84:
        value = rng.pick(HUGE)
    elif roll < 90:
        value = rng.pick((-1, -2, -(2**31), -(2**40)))
    elif roll < 94:
        value = rng.pick((True, False))
    else:
        value = rng.pick((1.0, 0.5, "1", b"1", [1], None))
    if type(value) is int and (value < 0 or (available is not None and value > available)):
        call.must_refuse("%s=%d outside 0..%s" % (name, value, available))
    elif type(value) not in (int, bool) and not (optional and value is None):
        call.must_refuse("%s is a %s" % (name, type(value).__name__))
    return value


def rows_size(rng, width):
    """A size of about a whole number of rows: sometimes not a multiple of width."""
    size = rng.pick(ROWS) * width
    if rng.chance(8):
        size += rng.pick((-1, 1, width // 2 + 1))
    return max(size, 0)


def sizes(rng, need):
    """A buffer size around need: right, one short, empty or longer."""
    return max(0, rng.pick((need, need, need, need - 1, 0, need + 3)))


def plan_micro(call, s, method):
    """Arguments for one MicroAttention method; returns the bound method."""
    a = s.obj
    rng = call.rng
    embed, head = s.attrs[0][1], s.attrs[2][1]
    if method == "compute_scores":
        if call.buffer("query", "int8", sizes(rng, head)) < head:
            call.must_refuse("query shorter than head_dim")
        rows = call.buffer("keys", "int8", rows_size(rng, head)) // head
        scores = call.buffer("scores", "int32", sizes(rng, rows), out=True)
        n = pick_count(call, "n", rows)
        if scores < (rows if n is None else n if type(n) is int else 0):
            call.must_refuse("scores shorter than n")
        call.add(n)
        return a.compute_scores
    if method in ("apply_causal_mask", "softmax_fixed", "softmax"):
        size = call.buffer("scores", "int32", rng.pick((0, 1, 2, 7, 40, 300)), out=True)
        if method == "apply_causal_mask":
            call.add(pick_count(call, "current_pos", None, optional=False))
        call.add(pick_count(call, "n", size))
        return getattr(a, method)
    if method == "weighted_sum":
        weights = call.buffer("weights", "int32", rng.pick((0, 1, 3, 8, 40)))
        rows = call.buffer("values", "int8", rows_size(rng, head)) // head
        if rng.chance(15) and call.pending and call.pending[0][2] == 0:
            if call.alias("output", 0, head) < weights:
                call.must_refuse("output overlaps weights")
        elif call.buffer("output", "int32", sizes(rng, head), out=True) < head:
            call.must_refuse("output shorter than head_dim")
        call.add(pick_count(call, "n", min(weights, rows)))
        return a.weighted_sum
    if call.buffer("query", "int8", sizes(rng, embed)) < embed:
        call.must_refuse("query shorter than embed_dim")
    keys = call.buffer("keys", "int8", rows_size(rng, embed))
    values = call.buffer("values", "int8", keys if rng.chance(75) else rows_size(rng, embed))
    if call.buffer("output", "int32", sizes(rng, embed), out=True) < embed:
        call.must_refuse("output shorter than embed_dim")
    n = pick_count(call, "n", min(keys, values) // embed)
    if n is None and keys != values:
        call.must_refuse("keys and values hold different rows")
    call.add(n)
    call.add(pick_count(call, "pos", None))
    return a.forward


def plan_linear(call, s, method):
    """Arguments for one LinearAttention method; returns the bound method."""
    rng = call.rng
    dim = s.attrs[0][1]
    if method == "feature_map":
        x = rng.pick((-128, 127, 0, -129, 128, 2**40, 1.0, None))
        if type(x) is not int or not -128 <= x <= 127:
            call.must_refuse("x outside int8")
        call.add(x)
    elif method in ("update", "forward"):
        if method == "forward" and call.buffer("query", "int8", sizes(rng, dim)) < dim:
            call.must_refuse("query shorter than feature_dim")
        keys = call.buffer("keys", "int8", rows_size(rng, dim))
        values = call.buffer("values", "int8", keys if rng.chance(75) else rows_size(rng, dim))
        if method == "forward" and call.buffer("output", "int32", sizes(rng, dim), True) < dim:
            call.must_refuse("output shorter than feature_dim")
        n = pick_count(call, "n", min(keys, values) // dim)
        if n is None and keys != values:
            call.must_refuse("keys and values hold different rows")
        call.add(n)
    elif method == "attend":
        if call.buffer("query", "int8", sizes(rng, dim)) < dim:
            call.must_refuse("query shorter than feature_dim")
        if call.buffer("output", "int32", sizes(rng, dim), out=True) < dim:
            call.must_refuse("output shorter than feature_dim")
    return getattr(s.obj, method)


def plan_window(call, s):
    """Arguments for SlidingWindowAttention.forward."""
    rng = call.rng
    window, head = s.attrs[0][1], s.attrs[1][1]
    if call.buffer("query", "int8", sizes(rng, head)) < head:
        call.must_refuse("query shorter than head_dim")
    cache_len = pick_count(call, "cache_len", None, optional=False)
    rows = min(cache_len, window) if type(cache_len) in (int, bool) and cache_len >= 0 else 0
    for name in ("keys", "values"):
        size = rng.pick((window * head, rows * head, rows * head - 1, 0, head))
        if call.buffer(name, "int8", max(size, 0)) < rows * head:
            call.must_refuse(name + " shorter than the rows in use")
    call.add(cache_len)
    if call.buffer("output", "int32", sizes(rng, head), out=True) < head:
        call.must_refuse("output shorter than head_dim")
    return s.obj.forward


def plan_cache(call, s, method):
    """Arguments for one KVCache method; returns the bound method."""
    c = s.obj
    rng = call.rng
    capacity, width, ring = (v for _, v in s.attrs)
    if method == "clear":
        return c.clear
    if method == "len":
        return c.__len__
    for name, own in (("key", s.cache[0]), ("value", s.cache[1])):
        if rng.chance(8):
            start = rng.below(len(own) - width + 1)
            call.add(memoryview(own)[start : start + width], name + "=mv(the cache's own)")
            call.outputs.append(call.args[-1])
            s.cache.append("resync")
        elif call.buffer(name, "int8", sizes(rng, width)) < width:
            call.must_refuse(name + " shorter than width")
    if s.cache[2] >= capacity and not ring:
        call.must_refuse("the cache is full")
    return c.append


def row_width(s):
    return s.attrs[1][1] if isinstance(s.obj, SlidingWindowAttention) else s.attrs[0][1]


def plan_over_cache(call, s, cache):
    """forward() of s over a KVCache's own buffers, as the README shows it."""
    width = row_width(s)
    keys, values = cache.cache[0], cache.cache[1]
    if call.buffer("query", "int8", sizes(call.rng, width)) < width:
        call.must_refuse("query shorter than its width")
    call.add(keys, "keys=%s.keys" % cache.label)
    call.add(values, "values=%s.values" % cache.label)
    call.frozen.append([keys, None])
    call.frozen.append([values, None])
    if isinstance(s.obj, SlidingWindowAttention):
        count = cache.cache[2]
        call.add(count)
        if len(keys) < min(count, s.attrs[0][1]) * width:
            call.must_refuse("the cache holds fewer rows than the window uses")
    if call.buffer("output", "int32", sizes(call.rng, width), out=True) < width:
        call.must_refuse("output shorter than its width")
    if not isinstance(s.obj, SlidingWindowAttention):
        rows = len(cache.obj)
        call.add(rows if call.rng.chance(70) else None)
        if isinstance(s.obj, MicroAttention):
            call.add(rows - 1 if rows else None)
    return s.obj.forward


# attention.layers and attention.decoder: the same guards, arenas and allowed outcomes.

LAYER_DIMS = (1, 2, 3, 5, 8, 8, 16, 17, 33, 64)
INT8_OUT = ("b", "B", "bytearray")
NOISE = bytes((i * 2654435761 >> 13) & 0xFF for i in range(4096 + 64))


def int8_table(rng, size):
    """A buffer of size int8 values, of a random int8 kind, that a layer may keep."""
    start = rng.below(64)
    data = NOISE[start : start + size]
    kind = rng.below(5)
    if kind == 0:
        return bytearray(data)
    if kind == 1:
        return data
    if kind == 2:
        return memoryview(bytearray(data))
    return array("bB"[kind - 3], data)


def scale_pairs(rng, rows, bad=None):
    """array('i') of rows (m, s) pairs in range; bad = (index, value) puts one out of range."""
    scales = array("i", bytes(8 * rows))
    for i in range(rows):
        scales[2 * i] = rng.pick((0, 1, 255, 32767, rng.below(32768)))
        scales[2 * i + 1] = rng.pick((17, 40, 17 + rng.below(24)))
    if bad is not None and rows:
        slot = 2 * rng.below(rows) + bad[0]
        scales[slot] = bad[1]
    return scales


def bad_scales(rng, rows):
    """Scales Linear and check_scales must refuse for rows rows."""
    return rng.pick(
        (
            scale_pairs(rng, rows + 1),
            array("i", bytes(8 * rows + 4)),
            array("h", bytes(4 * rows)),
            array("f", bytes(8 * rows)),
            [17] * (2 * rows),
            memoryview(scale_pairs(rng, rows)),
            scale_pairs(rng, rows, (0, rng.pick((-1, 32768, -(2**31))))),
            scale_pairs(rng, rows, (1, rng.pick((16, 41, 0, -1)))),
            None,
        )
    )


def bad_table(size):
    return (
        bytearray(size + 1),
        bytearray(size - 1),
        array("h", bytes(2 * size)),
        [0] * size,
        None,
    )


def make_layer(rng):
    """A layer constructor, its arguments and, per argument, values it must refuse."""
    kind = rng.below(3)
    if kind == 0:
        rows, cols = rng.pick(LAYER_DIMS), rng.pick(LAYER_DIMS)
        args = [int8_table(rng, rows * cols), scale_pairs(rng, rows), rows, cols]
        bad = (bad_table(rows * cols), (bad_scales(rng, rows),), BAD_DIMS, BAD_DIMS)
        return layers.Linear, args, bad
    if kind == 1:
        args = [rng.pick(LAYER_DIMS + (100, 257)), rng.below(8)]
        bad = ((0, -1, 16385, 2**40, 1.0, None, True), (-1, 8, 2**40, 1.0, None, True, "1"))
        return layers.RMSNorm, args, bad
    rows, dim = rng.pick((1, 2, 3, 5, 11)), rng.pick(LAYER_DIMS)
    args = [int8_table(rng, rows * dim), rows, dim]
    return layers.Embedding, args, (bad_table(rows * dim), BAD_DIMS, BAD_DIMS)


def resize_held(rng, subjects):
    """Grow, shrink or restore in place a buffer a layer keeps; describes the change."""
    held = [h for s in subjects for h in s.held if type(h[1]) in (array, bytearray)]
    if not held:
        return None
    entry = rng.pick(held)
    buf, made = entry[1], entry[3]
    old = len(buf)
    empty = bytearray() if type(buf) is bytearray else array(repr(buf)[7])
    if old != made and rng.chance(50):
        if old > made:
            buf[made:] = empty
        else:
            buf.extend(bytes(made - old))
    elif old and rng.chance(50):
        buf[rng.below(old) :] = empty
    else:
        buf.extend(bytes(rng.pick((1, 7))))
    entry[2] = bytes(buf)
    return "%s %d -> %d (made with %d)" % (entry[0], old, len(buf), made)


def out_over(call, name, buf, size):
    """An output memoryview over size items of a buffer a layer keeps (to be refused)."""
    start = call.rng.below(len(buf) - size + 1)
    view = memoryview(buf)[start : start + size]
    call.add(view, "%s=mv(its own buffer)[%d]" % (name, size))
    call.outputs.append(view)
    call.must_refuse(name + " shares memory with a buffer the layer keeps")


def writable(buf, size):
    return type(buf) in (array, bytearray) and len(buf) >= size > 0


def returns_sums(rows):
    def expect(result):
        if type(result) is not array or len(result) != rows:
            return "returned %s, expected %d int32 sums" % (describe(result), rows)
        return None

    return expect


def plan_layer(call, s, method):
    """Arguments for one method of a Linear, RMSNorm or Embedding; returns the bound method."""
    rng = call.rng
    obj = s.obj
    if isinstance(obj, layers.Embedding):
        rows, dim = s.attrs[0][1], s.attrs[1][1]
        call.add(pick_count(call, "index", rows - 1, optional=False))
        table = s.held[0][1]
        if rng.chance(10) and writable(table, dim):
            out_over(call, "out", table, dim)
        elif call.buffer("out", "int8", sizes(rng, dim), out=True) < dim:
            call.must_refuse("out shorter than dim")
        if s.resized("table"):
            call.must_refuse("table resized")
        return obj.lookup
    if isinstance(obj, layers.RMSNorm):
        rows = cols = s.attrs[0][1]
    else:
        rows, cols = s.attrs[0][1], s.attrs[1][1]
    x = call.buffer("x", "int8", sizes(rng, cols))
    if x < cols:
        call.must_refuse("x shorter than %d" % cols)
    if isinstance(obj, layers.Linear) and s.resized("weights"):
        call.must_refuse("weights resized")
    if method == "accumulate":
        call.expect = returns_sums(rows)
        return obj.accumulate
    weights = s.held[0][1] if s.held else None
    if method == "forward32":
        if call.buffer("out", "int32", sizes(rng, rows), out=True) < rows:
            call.must_refuse("out shorter than %d" % rows)
    elif rng.chance(15) and call.in_arena(0):
        if call.alias("out", 0, rows, INT8_OUT) < x:
            call.must_refuse("out overlaps x")
    elif weights is not None and rng.chance(8) and writable(weights, rows):
        out_over(call, "out", weights, rows)
    elif call.buffer("out", "int8", sizes(rng, rows), out=True) < rows:
        call.must_refuse("out shorter than %d" % rows)
    return getattr(obj, method)


def layer_method(rng, s):
    if isinstance(s.obj, layers.Linear):
        return rng.pick(("forward", "forward", "forward32", "accumulate"))
    return "lookup" if isinstance(s.obj, layers.Embedding) else "forward"


def pair_over(call, out_name, in_name, out_size, in_size, in_kind="int8"):
    """An output and an input, in that order; sometimes the output overlaps the input."""
    if call.rng.chance(15) and in_kind == "int8":
        got_in = call.buffer(in_name, in_kind, in_size)
        if call.in_arena(0):
            shift = call.alias(out_name, 0, out_size, INT8_OUT)
            if shift < got_in and out_size:
                call.must_refuse(out_name + " overlaps " + in_name)
            call.swap(0, 1)
            return out_size, got_in
        got_out = call.buffer(out_name, "int8", out_size, out=True)
        call.swap(0, 1)
        return got_out, got_in
    got_out = call.buffer(out_name, "int8", out_size, out=True)
    return got_out, call.buffer(in_name, in_kind, in_size)


def plan_scales(call):
    """check_scales(name, scales, rows): a pure check, no kernel."""
    rng = call.rng
    rows = rng.pick((0, 1, 2, 3, 8))
    count = rows if rng.chance(70) else rng.pick((rows + 1, -1, 2**40, 1.5, None, True))
    call.add(rng.pick(("scales", "", None, 3)))
    if rng.chance(40):
        call.add(bad_scales(rng, rows), "scales=bad")
        if rows and count == rows:
            call.must_refuse("scales out of range or of the wrong kind or length")
    else:
        call.add(scale_pairs(rng, rows))
        if type(count) is int and count != rows:
            call.must_refuse("rows=%d, the scales hold %d" % (count, rows))
    call.add(count)
    return layers.check_scales


def plan_function(rng, subjects):
    """A module-level function of attention.layers: (Call, None, label, function, name)."""
    call = Call(rng, POOL)
    name = rng.pick(("add_saturate", "relu", "activate", "narrow", "narrow", "check_scales"))
    size = rng.pick((0, 1, 2, 7, 40, 300))
    other = size if rng.chance(70) else rng.pick((0, 1, 3, 40, 301))
    if name == "add_saturate":
        out, x = pair_over(call, "out", "x", size, other)
        call.add(pick_count(call, "n", min(out, x)))
    elif name == "relu":
        call.add(pick_count(call, "n", call.buffer("buf", "int8", size, out=True)))
    elif name == "activate":
        buf, table = pair_over(call, "buf", "table", size, rng.pick((256, 256, 255, 0, 300)))
        if table < 256:
            call.must_refuse("table shorter than 256")
        call.add(pick_count(call, "n", buf))
    elif name == "narrow":
        src = call.buffer("src", "int32", other)
        call.add(pick_count(call, "n", min(src, call.buffer("out", "int8", size, out=True))))
        if rng.chance(50):
            m = rng.pick((0, 1, 32767, 32768, -1, None, True, 1.0, 2**40, rng.below(32768)))
            s = rng.pick((17, 40, 16, 41, 0, None, True, 1.0, 2**40, 17 + rng.below(24)))
            call.add(m)
            call.add(s)
            if m is not None or s is not None:
                for value, least, most in ((m, 0, 32767), (s, 17, 40)):
                    if type(value) is not int or not least <= value <= most:
                        call.must_refuse("m, s = %r, %r" % (m, s))
    fn = plan_scales(call) if name == "check_scales" else getattr(layers, name)
    call.finish()
    return call, None, "layers.%s(%s)" % (name, ", ".join(call.words)), fn, name


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
            self.obj = decoder.Decoder(TINY)
            for _, scales in self.obj._buffers.values():
                if scales is not None:
                    for i in range(0, len(scales), 2):
                        scales[i], scales[i + 1] = 1000, 20
            label = "tiny"
        names = ("vocab", "dim", "heads", "layers", "hidden", "context", "logit_frac")
        attrs = [(name, getattr(self.obj, name)) for name in names]
        self.subject = Subject(self.obj, label, attrs, before, guard())
        self.vocab = len(self.obj.logits)
        self.context = self.obj.context
        self.position = 0
        self.logits_guard = guard()
        self.weights = self.fingerprint()

    def fingerprint(self):
        """Hashes of every weight and scale the model holds (no kernel may write them)."""
        return [hash(bytes(b)) for pair in self.obj._buffers.values() for b in pair if b]

    def check(self):
        if self.logits_guard != GUARD:
            return "the guard after the logits changed"
        if self.obj.position != self.position:
            return "position %d, expected %d" % (self.obj.position, self.position)
        return None

    def resize(self, rng):
        """Grow, shrink or restore the logits array in place; describes the change."""
        logits = self.obj.logits
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
    vocab = model.obj.vocab or "ab"
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
    resized = len(m.logits) != v
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
        if text_refused(text, m.vocab):
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
    vocab, context = model.obj.vocab, model.context
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


def decoder_step(rng, subjects, index, seed, verbose):
    if not MODEL:
        MODEL.append(Model())
        if verbose:
            print("call %d: %s = Decoder.load(shipped())" % (index, MODEL[0].subject.label))
    if rng.chance(8):
        change = MODEL[0].resize(rng)
        if verbose:
            print("call %d: %s" % (index, change))
        return
    invoke(rng, subjects, index, seed, verbose, decoder_call)
    problem = MODEL[0].check()
    if problem:
        fail(seed, index, "after the call above", problem)


ATTRIBUTE_VALUES = (4096, 2000, 10**6, 0, -1, 2**40, None, "x", 1.5)
EXTRA_ATTRIBUTES = {KVCache: ("keys", "values", "count"), LinearAttention: ("halvings",)}
if layers is not None:
    EXTRA_ATTRIBUTES[layers.Linear] = ("weights", "scales")
    EXTRA_ATTRIBUTES[layers.Embedding] = ("table",)
if decoder is not None:
    EXTRA_ATTRIBUTES[decoder.Decoder] = ("position", "logits", "ram")


def attack_attribute(rng, subject):
    """An assignment to a public attribute: (label, name, value)."""
    names = [a[0] for a in subject.attrs] + list(EXTRA_ATTRIBUTES.get(type(subject.obj), ()))
    name = rng.pick(names)
    if name in ("keys", "values", "weights", "scales", "table", "logits"):
        value = rng.pick((array("b", bytes(10)), array("b"), array("i", bytes(400)), None))
    else:
        value = rng.pick(ATTRIBUTE_VALUES)
    return "%s.%s = %s" % (subject.label, name, describe(value)), name, value


def fail(seed, index, label, why):
    print("FAIL seed=%d call=%d: %s: %s" % (seed, index, label, why))
    raise Failure(why)


def method_call(rng, subjects):
    """A random method call on a random subject: (Call, subject, label, bound method, name)."""
    s = rng.pick(subjects)
    call = Call(rng, POOL)
    obj = s.obj
    mechanism = isinstance(obj, (MicroAttention, LinearAttention, SlidingWindowAttention))
    caches = [c for c in subjects if c.cache and c.attrs[1][1] == row_width(s)]
    if mechanism and caches and rng.chance(30):
        fn = plan_over_cache(call, s, rng.pick(caches))
        name = "forward"
    elif not mechanism and not isinstance(obj, KVCache):
        name = layer_method(rng, s)
        fn = plan_layer(call, s, name)
    elif isinstance(obj, MicroAttention):
        name = rng.pick(
            ("compute_scores", "apply_causal_mask", "softmax_fixed", "softmax")
            + ("weighted_sum", "weighted_sum", "forward", "forward")
        )
        fn = plan_micro(call, s, name)
    elif isinstance(obj, LinearAttention):
        name = rng.pick(("feature_map", "reset", "update", "update", "attend", "forward"))
        fn = plan_linear(call, s, name)
    elif isinstance(obj, SlidingWindowAttention):
        name = "forward"
        fn = plan_window(call, s)
    else:
        name = rng.pick(("append", "append", "append", "clear", "len"))
        fn = plan_cache(call, s, name)
    call.finish()
    label = "%s.%s(%s)" % (s.label, name, ", ".join(call.words))
    return call, s, label, fn, name


def after_append(s, key, value):
    """Update a KVCache's model after append() returned; key and value as bytes."""
    state = s.cache
    capacity, width = s.attrs[0][1], s.attrs[1][1]
    start = (state[2] % capacity) * width
    state[3][start : start + width] = array("b", key[:width])
    state[4][start : start + width] = array("b", value[:width])
    state[2] += 1


def after_clear(s):
    s.cache[2] = 0


def assign(rng, subjects, index, seed, verbose):
    """Assign a read-only attribute: AttributeError, or no visible change."""
    subject = rng.pick(subjects)
    label, name, value = attack_attribute(rng, subject)
    if verbose:
        print("call %d: %s" % (index, label))
    before = getattr(subject.obj, name)
    try:
        setattr(subject.obj, name, value)
    except AttributeError:
        return
    except Exception as e:  # noqa: BLE001
        fail(seed, index, label, "raised %r" % e)
    now = getattr(subject.obj, name)
    if now is not before and (
        type(now) is not type(before) or type(now) is array or now != before
    ):
        fail(seed, index, label, "a read-only attribute was changed")


def invoke(rng, subjects, index, seed, verbose, plan=None):
    """One hostile call (a method of a subject unless plan says otherwise), then every check."""
    call, s, label, fn, name = (plan or method_call)(rng, subjects)
    if verbose:
        print(
            "call %d: %s%s" % (index, label, " [refuse: %s]" % call.refuse if call.refuse else "")
        )
    inputs = [bytes(a) if type(a) is memoryview else None for a in call.args[:2]]
    result = None
    try:
        result = fn(*call.args)
        returned = True
    except REFUSED:
        returned = False
    except Exception as e:  # noqa: BLE001
        fail(seed, index, label, "raised %r" % e)
    if returned and call.refuse:
        fail(seed, index, label, "accepted, but " + call.refuse)
    problem = call.expect(result) if returned and call.expect else None
    problem = problem or (call.after(returned) if call.after else None)
    if problem:
        fail(seed, index, label, problem)
    if s is None or not s.cache:
        pass
    elif returned and name == "append":
        key, value = (inputs[i] or before_call(call, i) for i in (0, 1))
        after_append(s, key, value)
    elif returned and name == "clear":
        after_clear(s)
    if (
        s is not None and s.cache and len(s.cache) > 5
    ):  # a row was copied from the cache into itself
        del s.cache[5:]
        s.cache[3][:] = array("b", s.cache[0])
        s.cache[4][:] = array("b", s.cache[1])
    problem = call.check() or POOL.check()
    for subject in subjects:
        problem = problem or subject.check()
    if s is not None and not any(s is t for t in subjects):
        problem = problem or s.check()
    if problem:
        fail(seed, index, label, problem)


def before_call(call, slot):
    """The bytes of argument slot as they were before the call."""
    value = call.args[slot]
    for entry in call.frozen:
        if entry[0] is value:
            return entry[1]
    return bytes(value)


def step(rng, subjects, index, seed, verbose):
    """One random action; raises Failure on a violation."""
    roll = rng.below(100)
    if roll < 6 or not subjects:
        subject = construct(rng, index, seed, verbose)
        if subject is not None:
            subjects.append(subject)
            if len(subjects) > 6:
                subjects.pop(0)
    elif roll < 10:
        change = resize_held(rng, subjects) if rng.chance(30) else POOL.reshape(rng)
        if verbose and change:
            print("call %d: %s" % (index, change))
    elif roll < 15:
        extra = [MODEL[0].subject] if MODEL and rng.chance(20) else []
        assign(rng, subjects + extra, index, seed, verbose)
    elif roll < 23 and layers is not None:
        invoke(rng, subjects, index, seed, verbose, plan_function)
    elif roll < 31 and decoder is not None:
        decoder_step(rng, subjects, index, seed, verbose)
    else:
        invoke(rng, subjects, index, seed, verbose)


POOL = Pool()


def check_weights(seed, index):
    """No call may have written into the model's weights or scales."""
    if MODEL and MODEL[0].fingerprint() != MODEL[0].weights:
        fail(seed, index, "the model's weights", "changed by one of the calls before")


def settings():
    """Seed, call count and verbosity: from prepended globals, then the command line."""
    seed = globals().get("SEED", 1)
    calls = globals().get("CALLS", 2000)
    verbose = globals().get("VERBOSE", False)
    args = list(getattr(sys, "argv", [])[1:])
    while args:
        flag = args.pop(0)
        if flag == "--seed":
            seed = int(args.pop(0))
        elif flag == "--calls":
            calls = int(args.pop(0))
        elif flag == "--verbose":
            verbose = True
    return seed, calls, verbose


def main():
    seed, calls, verbose = settings()
    rng = Rng(seed)
    subjects = []
    try:
        for index in range(calls):
            step(rng, subjects, index, seed, verbose)
            if index % GC_EVERY == 0:
                gc.collect()
                check_weights(seed, index)
        check_weights(seed, calls)
    except Failure:
        raise SystemExit(1)
    gc.collect()
    print("fuzz: %d calls, seed %d, ok" % (calls, seed))


main()
