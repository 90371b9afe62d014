"""The fuzzer's plans for attention.layers: Linear, RMSNorm and Embedding made with
hostile arguments, their methods, the buffers a layer keeps resized in place, and the
module's functions (add_saturate, relu, activate, narrow, check_scales).

Part of tools/device/fuzz.py (joined by tools/board/target.py), on fuzz_arena.py: the
same guards, arenas and allowed outcomes as the mechanisms.
"""

# with: fuzz_arena.py

from array import array


try:  # a stand-in package (host_tests/quality/test_fuzz.py) may hold the mechanisms only
    import attention  # the package first: a family is fuzzed only where the heap holds it

    layers = family("attention.layers")
except ImportError:
    layers = None


LAYER_DIMS = (1, 2, 3, 5, 8, 8, 16, 17, 33, 64)
INT8_OUT = ("b", "B", "bytearray")
NOISE = []  # bytes((i * 2654435761 >> 13) & 0xFF ...), made when a table first needs it


def noise():
    if not NOISE:
        NOISE.append(bytes((i * 2654435761 >> 13) & 0xFF for i in range(4096 + 64)))
    return NOISE[0]


def int8_table(rng, size):
    """A buffer of size int8 values, of a random int8 kind, that a layer may keep."""
    start = rng.below(64)
    data = noise()[start : start + size]
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
            memoryview(scale_pairs(rng, rows + 1)),
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
