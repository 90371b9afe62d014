"""What every hostile call of tools/device/fuzz.py is built from and checked with.

Part of the fuzzer: tools/board/target.py joins it in front of the family files and
fuzz.py. The seeded Rng; the guard bytearrays put beside arguments and objects; the
Arena, a pattern-filled buffer whose memoryview slices are arguments; the Pool of arrays
that live across calls and are resized between them; the Call being built (its
arguments, what must stay intact, what must be refused); the Subject, a live object
with the attributes it was made with; counts and sizes around the right ones; fail().
"""

import gc
from array import array

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


FAMILY_ROOM = 40960  # heap a family's module may not leave the fuzzing itself below


def family(name):
    """The module of the package called name, or None (and the line saying so) where the
    heap could not hold it and still leave FAMILY_ROOM for the calls: the fuzzer's own
    code takes 40 KB on a 32-bit board, 52 KB on 64-bit Linux."""
    gc.collect()
    free = gc.mem_free() if hasattr(gc, "mem_free") else 1 << 30
    if free >= FAMILY_ROOM:
        try:
            module = __import__(name, None, None, ("x",))
            gc.collect()
            if not hasattr(gc, "mem_free") or gc.mem_free() >= FAMILY_ROOM // 2:
                return module
        except MemoryError:
            pass
    print(
        "fuzz: %s left out: the heap (%d KB free) cannot hold it beside the fuzzer"
        % (name, free // 1024)
    )
    return None


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


NOT_BUFFERS = (None, 0, 12345, -1, 2**40, 1.5, "str", "list")  # what a buffer argument may be


def not_a_buffer(index, size):
    """The index-th of NOT_BUFFERS, the str and the list of about size items; only the one
    picked is built (both at once took twice the heap of the largest buffer)."""
    value = NOT_BUFFERS[index]
    if value == "str":
        return "abcdefgh" * size
    if value == "list":
        return [1] * size
    return value


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
            value = not_a_buffer(rng.below(len(NOT_BUFFERS)), size)
            self.must_refuse(name + " is not a buffer")
            self.add(value, "%s=%s" % (name, describe(value)))
            return 0
        if roll < 18:
            code = rng.pick(("b", "B", "h", "i", "I", "f", "bytearray", "bytes"))
        else:
            code = rng.pick(good)
        where = rng.below(100)
        if self.pool.hot and rng.chance(25):
            code = self.pool.hot[1]
            where = 50
        if out and code == "bytes":
            self.must_refuse(name + " is read-only (bytes)")
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
        if out and code != "bytes":
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
        if out and code != "bytes":  # a view of bytes is read-only: refused, unchanged
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
        if arena.code == "bytes":
            self.must_refuse(name + " is a read-only view")
        else:
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


POOL = Pool()


class Subject:
    """A live object with the attribute values it was made with, and guards around it."""

    def __init__(self, obj, label, attrs, before, after):
        self.obj = obj
        self.label = label
        self.attrs = attrs
        self.guards = (before, after)
        self.cache = None  # for KVCache: [keys, values, count, model keys, model values]
        self.held = []  # buffers a layer keeps: [name, buffer, bytes, length made with]
        self.tampered = False  # a private attribute was assigned: only memory is checked
        # Its frame, or a buffer of it, was assigned to another object, which may write it
        # now: its buffers are no longer its own to check (the guards still are).
        self.given = False

    def resized(self, name):
        """Whether the held buffer name is not of the length it was made with."""
        return any(h[0] == name and len(h[1]) != h[3] for h in self.held)

    def check(self):
        for g in self.guards:
            if g != GUARD:
                return "a guard beside %s changed" % self.label
        for name, buf, before, _ in () if self.given else self.held:
            if bytes(buf) != before:
                return "%s.%s changed" % (self.label, name)
        if self.tampered:
            return None
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


def fail(seed, index, label, why):
    print("FAIL seed=%d call=%d: %s: %s" % (seed, index, label, why))
    raise Failure(why)
