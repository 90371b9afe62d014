"""The fuzzer's plans for KVCache: append, clear and len on a cache whose rows are
tracked, and a mechanism's forward() over a cache's own buffers, as the README shows it.

Part of tools/device/fuzz.py (joined by tools/board/target.py), on fuzz_arena.py.
"""

# with: fuzz_arena.py

from array import array

from attention import MicroAttention, SlidingWindowAttention


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
