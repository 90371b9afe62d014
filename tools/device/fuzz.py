"""Hostile calls to the package's whole public API: no kernel may touch memory it was not given.

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

    def alias(self, name, index, size):
        """An output memoryview over the arena slice of argument index, overlapping it."""
        arena, place, _ = next(p for p in self.pending if p[2] == index)
        shift = self.rng.below(3)
        new = arena.reserve(size, shift, arena.places[place])
        arena.places[new][2] = True
        if wrong(arena.code, ("i",)):
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

    def check(self):
        for g in self.guards:
            if g != GUARD:
                return "a guard beside %s changed" % self.label
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


ATTRIBUTE_VALUES = (4096, 2000, 10**6, 0, -1, 2**40, None, "x", 1.5)
EXTRA_ATTRIBUTES = {KVCache: ("keys", "values", "count"), LinearAttention: ("halvings",)}


def attack_attribute(rng, subject):
    """An assignment to a public attribute: (label, name, value)."""
    names = [a[0] for a in subject.attrs] + list(EXTRA_ATTRIBUTES.get(type(subject.obj), ()))
    name = rng.pick(names)
    if name in ("keys", "values"):
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
    caches = [c for c in subjects if c.cache and c.attrs[1][1] == row_width(s)]
    if not isinstance(obj, KVCache) and caches and rng.chance(30):
        fn = plan_over_cache(call, s, rng.pick(caches))
        name = "forward"
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


def invoke(rng, subjects, index, seed, verbose):
    """One hostile method call, then every check."""
    call, s, label, fn, name = method_call(rng, subjects)
    if verbose:
        print(
            "call %d: %s%s" % (index, label, " [refuse: %s]" % call.refuse if call.refuse else "")
        )
    inputs = [bytes(a) if type(a) is memoryview else None for a in call.args[:2]]
    try:
        fn(*call.args)
        returned = True
    except REFUSED:
        returned = False
    except Exception as e:  # noqa: BLE001
        fail(seed, index, label, "raised %r" % e)
    if returned and call.refuse:
        fail(seed, index, label, "accepted, but " + call.refuse)
    if returned and s.cache and name == "append":
        key, value = (inputs[i] or before_call(call, i) for i in (0, 1))
        after_append(s, key, value)
    elif returned and s.cache and name == "clear":
        after_clear(s)
    if s.cache and len(s.cache) > 5:  # a row was copied from the cache into itself
        del s.cache[5:]
        s.cache[3][:] = array("b", s.cache[0])
        s.cache[4][:] = array("b", s.cache[1])
    problem = call.check() or POOL.check()
    for subject in subjects:
        problem = problem or subject.check()
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
        change = POOL.reshape(rng)
        if verbose and change:
            print("call %d: %s" % (index, change))
    elif roll < 15:
        assign(rng, subjects, index, seed, verbose)
    else:
        invoke(rng, subjects, index, seed, verbose)


POOL = Pool()


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
    for index in range(calls):
        try:
            step(rng, subjects, index, seed, verbose)
        except Failure:
            raise SystemExit(1)
        if index % GC_EVERY == 0:
            gc.collect()
    gc.collect()
    print("fuzz: %d calls, seed %d, ok" % (calls, seed))


main()
