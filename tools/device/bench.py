"""Speed and heap of the package on a target, beside the plain-Python baseline.

Stands on the files named in its `# with:` line, which tools/board/target.py joins in
front of it (`make bench [PORT=...]`, or `python tools/board/target.py bench.py`):
plain.py (plain_micro, plain_linear and plain_window), baseline.py (the previous
package), measure.py (timing, heap and tables), heap.py and bench_cases.py (each
mechanism as a case of the package beside plain Python). Prints a header naming the
machine, then tables:
- median microseconds per call of each mechanism and of plain Python on the same
  inputs, in the same process, with the outputs compared (FAIL if they differ);
- heap bytes allocated per call of every public method (after a warm-up, with
  the collector off), and whether the call runs with the heap locked;
- heap bytes kept by `import attention` and by each object at a realistic size.
A mismatch ends the script with an exception, so the exit status is non-zero on
the unix port and through mpremote. With `QUICK = True` in front of the script
(the host tests), every measurement is one call.
"""

# with: plain.py baseline.py measure.py heap.py bench_cases.py

import gc
import sys
from array import array

HEAD_DIMS = (16, 32, 64)
LENGTHS = (16, 64, 256)
WINDOWS = (16, 32)
ROOM = 49152  # heap the shared data leaves for the package, this script's objects and tables


def import_package():
    """Import the package after a collection: (module, heap bytes it keeps, or None)."""
    already = "attention" in sys.modules
    gc.collect()
    before = gc.mem_alloc()
    import attention

    gc.collect()
    return attention, None if already else gc.mem_alloc() - before


def speed_rows(att, data, failures, skipped):
    """One row per mechanism and size, measured as it is printed; a size whose buffers the
    heap cannot hold goes to skipped, as the line that says so."""
    mechanisms = [("micro", Micro, ()), ("linear", Linear, ())]
    mechanisms += [("window %d" % w, Window, (w,)) for w in WINDOWS]
    mechanisms += [("4 heads", Heads, ()), ("stream", Stream, ())]
    for name, kind, extra in mechanisms:
        for head_dim in HEAD_DIMS:
            for n in LENGTHS:
                rows = Heads.heads * n if kind is Heads else n
                if kind is Heads and rows * head_dim > LENGTHS[-1] * HEAD_DIMS[-1]:
                    continue  # more than the shared KV cache of the largest size holds
                label = "%s head_dim %d n %d" % (name, head_dim, n)
                need = 2 * rows * head_dim  # its keys and values: a prefix of the shared ones
                if need > 2 * len(data[1]):
                    held = "keys and values; the heap had room for %s of them" % kb(
                        2 * len(data[1])
                    )  # noqa: F821
                    skipped.append(skip_line(label, need, held))  # noqa: F821
                    continue
                more = kind.extra(head_dim, n) if kind is Heads else 0
                if more and not room_for(more):  # noqa: F821  (heap.py)
                    skipped.append(skip_line(label, need + more, "with copies per head"))  # noqa: F821
                    continue
                gc.collect()
                try:
                    row = speed_row(att, data, kind, extra, head_dim, n, name, failures)
                except MemoryError:
                    row = None
                if row is None:
                    gc.collect()
                    skipped.append(skip_line(label, None))  # noqa: F821
                    continue
                yield row


def speed_row(att, data, kind, extra, head_dim, n, name, failures):
    case = kind(att, data, head_dim, n, *extra)
    case.package()
    case.plain()
    same = case.same()
    if not same:
        failures.append("%s head_dim %d n %d" % (name, head_dim, n))
    fast, slow = medians_us(case.package, case.plain)
    return (
        name,
        str(head_dim),
        str(n),
        us(fast),
        us(slow),
        "%.1fx" % (slow / fast),
        per_call(heap_per_call(case.package, 10)),
        "equal" if same else "FAIL",
    )


def method_calls(att, data):
    """[(names, build)] for every public method: head_dim 64, 64 rows, realistic arguments;
    build() makes the objects of its group and returns its calls, in the order of names.

    The heap table makes one group's objects at a time and drops them before the next,
    so the heap holds a few of them at a time."""
    query, keys, values = data
    scores, output = int32s(64), int32s(64)

    def micro():
        micro, exp2 = att.MicroAttention(64, 1), att.MicroAttention(64, 1, "exp2")
        return [
            lambda: micro.compute_scores(query, keys, scores, 64),
            lambda: micro.apply_causal_mask(scores, 31, 64),
            lambda: micro.softmax_fixed(scores, 64),
            lambda: micro.softmax(scores, 64),
            lambda: exp2.softmax(scores, 64),
            lambda: micro.weighted_sum(scores, values, output, 64),
        ]

    def heads():
        heads = att.MicroAttention(64, 4)
        return [lambda: heads.forward(query, keys, values, output, 64, 40)]

    def linear():
        linear, stream = att.LinearAttention(64), att.LinearAttention(64)
        linear.forward(query, keys, values, output, 64)  # a state for attend()
        return [
            lambda: linear.forward(query, keys, values, output, 64),
            lambda: linear.attend(query, output),
            lambda: stream.update(keys, values, 64),
            lambda: stream.reset(),
            lambda: linear.feature_map(-5),
        ]

    def window():
        window = att.SlidingWindowAttention(32, 64)
        return [lambda: window.forward(query, keys, values, 64, output)]

    def cache():
        cache = att.KVCache(64, 64, True)
        return [lambda: cache.append(query, query), lambda: cache.clear()]

    groups = [
        (
            (
                "MicroAttention.compute_scores",
                "MicroAttention.apply_causal_mask",
                "MicroAttention.softmax_fixed",
                "MicroAttention.softmax",
                "MicroAttention.softmax (exp2)",
                "MicroAttention.weighted_sum",
            ),
            micro,
        ),
        (("MicroAttention.forward (4 heads, pos)",), heads),
        (
            (
                "LinearAttention.forward",
                "LinearAttention.attend",
                "LinearAttention.update",
                "LinearAttention.reset",
                "LinearAttention.feature_map",
            ),
            linear,
        ),
        (("SlidingWindowAttention.forward",), window),
    ]
    if hasattr(att, "KVCache"):
        groups.append((("KVCache.append (ring)", "KVCache.clear"), cache))
    return groups


def public_methods(att):
    """'Class.method' for every public method of the package's classes."""
    names = []
    for cls_name in ("MicroAttention", "LinearAttention", "SlidingWindowAttention", "KVCache"):
        cls = getattr(att, cls_name, None)
        for name in dir(cls) if cls else ():
            if not name.startswith("_") and callable(getattr(cls, name)):
                names.append(cls_name + "." + name)
    return names


def heap_rows(att, data):
    present = public_methods(att)
    empty = Empty().call
    yield (
        "(an empty method)",
        per_call(heap_per_call(empty)),
        "yes" if runs_locked(empty) else "NO",
    )
    sampled = []
    for names, build in method_calls(att, data):
        sampled += [name.split(" ")[0] for name in names]
        gc.collect()
        try:
            calls = build()
        except MemoryError:  # the objects of this group do not fit: say so, go on
            calls = None
            gc.collect()
        for i, name in enumerate(names):
            if name.split(" ")[0] not in present:
                yield name, "absent", ""
            elif calls is None:
                yield name, "no heap", "for its object: %s" % heap_words()  # noqa: F821
            else:
                yield (
                    name,
                    per_call(heap_per_call(calls[i])),
                    "yes" if runs_locked(calls[i]) else "NO",
                )
        calls = None
    for name in present:
        if name not in sampled:
            yield name, "no sample call", ""


def pipeline_rows(att, data, failures):
    """The MicroAttention pipeline at head_dim 64, n 64: the package, the package as it
    was before (baseline.py: its public methods, then its kernels called without checks)
    and plain Python, side by side."""
    baseline = globals().get("baseline_pipeline")  # defined by baseline.py in front
    case = Micro(att, data, 64, 64)
    old_scores, scratch = int32s(64), int32s(64)
    outputs = (int32s(64), int32s(64))  # of the previous methods, of its kernels

    def methods():
        micro, scores = old_micro, old_scores
        micro.compute_scores(case.query, case.keys, scores, 64)
        micro.apply_causal_mask(scores, 63, 64)
        micro.softmax_fixed(scores)
        micro.weighted_sum(scores, case.values, outputs[0], 64)

    def kernels():
        baseline(case.query, case.keys, case.values, old_scores, outputs[1], 64, 64, 3, scratch)

    case.package()
    case.plain()
    fns = [case.package, case.plain]
    if baseline:
        old_micro = BaselineMicro(64, 3)  # noqa: F821  (from baseline.py)
        for run, output, label in zip((methods, kernels), outputs, ("methods", "kernels")):
            run()
            if output != case.output:
                failures.append("previous " + label)
        fns += [methods, kernels]
    times = medians_us(*fns)
    yield "package", us(times[0]), "1.0x"
    yield "plain Python (plain.py)", us(times[1]), relative(times[1], times[0])
    if baseline:
        yield "previous package (baseline.py)", us(times[2]), relative(times[2], times[0])
        yield "previous kernels, no checks", us(times[3]), relative(times[3], times[0])


def relative(time, reference):
    return "%.2fx" % (time / reference) if reference else "n/a"


def fixed_cost_rows(att):
    """The cost of a call beyond its arithmetic: head_dim 8, one row, against an empty
    method called with the same arguments, and the cost of each buffer check."""
    query, keys, values = int8s(8), int8s(8), int8s(8)
    scores, output = int32s(1), int32s(8)
    micro = att.MicroAttention(8, 1)
    empty = Empty()
    calls = [
        (
            "compute_scores",
            lambda: micro.compute_scores(query, keys, scores, 1),
            lambda: empty.four(query, keys, scores, 1),
        ),
        (
            "weighted_sum",
            lambda: micro.weighted_sum(scores, values, output, 1),
            lambda: empty.four(scores, values, output, 1),
        ),
        ("softmax", lambda: micro.softmax(scores, 1), lambda: empty.two(scores, 1)),
        (
            "forward",
            lambda: micro.forward(query, keys, values, output, 1),
            lambda: empty.five(query, keys, values, output, 1),
        ),
    ]
    for name, call, bare in calls:
        fast, slow = medians_us(call, bare)
        yield name, us(fast), us(slow), relative(fast, slow)
    memory, facts = att._memory, att._check.frame()
    one = att._check.kinds(memory.INT32)
    four = att._check.kinds(memory.INT32, memory.INT8, memory.INT8, memory.INT8)
    view = memoryview(output)
    for name, call in (
        ("measure: 1 buffer", lambda: memory.measure(scores, None, None, None, one, facts)),
        ("measure: 4 buffers", lambda: memory.measure(output, query, keys, values, four, facts)),
        ("measure: 1 memoryview", lambda: memory.measure(view, None, None, None, one, facts)),
    ):
        yield name, us(medians_us(call)[0]), "", ""


def header():
    freq = "n/a"
    try:
        import machine

        freq = "%d MHz" % (machine.freq() // 1000000)
    except (ImportError, AttributeError):
        pass
    print(
        "machine: sys.platform=%s  sys.implementation=%s  machine.freq()=%s%s"
        % (sys.platform, sys.implementation, freq, "  QUICK" if QUICK else "")
    )


def shared_data():
    """query, keys and values: one shared KV cache of 256 rows of 64, n picks a prefix; made
    first, while the heap is whole, and as many rows as fit beside what the rest needs."""
    rng = Random(2024)
    rows = LENGTHS[-1]
    while rows > LENGTHS[0] and 3 * rows * HEAD_DIMS[-1] + ROOM > heap_free():  # noqa: F821
        rows //= 2  # 3: the keys, the values and the bytes each is made from
    return (
        rng.int8s(HEAD_DIMS[-1]),
        rng.int8s(rows * HEAD_DIMS[-1]),
        rng.int8s(rows * HEAD_DIMS[-1]),
    )


def main():
    data = shared_data()
    try:
        att, import_bytes = import_package()
    except MemoryError:  # compiling the package's sources needs the room: data after it
        data = None
        att, import_bytes = import_package()
        data = shared_data()
    header()
    print()
    print(
        "Speed: median us per call over %d rounds; plain = tools/device/plain.py, same inputs."
        % ROUNDS
    )
    print(
        "Call overhead in every figure (an empty method): %s us. window rows = min(n, window);\n"
        "4 heads: forward over n rows of 4 * head_dim; stream: one update + attend after n rows."
        % us(medians_us(Empty().call)[0])
    )
    print()
    failures, skipped = [], []
    settle(0 if QUICK else 300)
    table(
        (
            "mechanism",
            "head_dim",
            "n",
            "viper us",
            "plain us",
            "speed-up",
            "heap B/call",
            "output",
        ),
        speed_rows(att, data, failures, skipped),
        "lrrrrrrl",
        (9, 8, 3, 9, 9, 8, 11, 6),
    )
    if skipped:
        print("\n".join(skipped))
        print()
    print("Pipeline: compute_scores, apply_causal_mask, softmax_fixed, weighted_sum at")
    print("head_dim 64, n 64; time relative to the package's (higher: the package is faster).")
    print()
    table(("implementation", "us", "relative"), pipeline_rows(att, data, failures), "lrr")
    print("Fixed cost: head_dim 8, n 1, against an empty method with the same arguments;")
    print("measure = the one viper call in which a method reads the kind, length and")
    print("overlaps of its buffers (attention._memory.measure).")
    print()
    table(("call", "us", "empty us", "ratio"), fixed_cost_rows(att), "lrrr")
    print("Heap: bytes allocated per call (%d calls after a warm-up, gc off)." % HEAP_CALLS)
    print("head_dim 64, 64 rows; 'heap locked' = runs under micropython.heap_lock().")
    print()
    table(("method", "bytes/call", "heap locked"), heap_rows(att, data), "lrl")
    print("Heap kept (bytes, after gc.collect()):")
    print()
    kept = [
        (
            "import attention (%s)" % getattr(att, "__file__", "?"),
            "already imported" if import_bytes is None else str(import_bytes),
        )
    ]
    for label, make in (
        ("MicroAttention(64, 4)", lambda: att.MicroAttention(64, 4)),
        ("LinearAttention(64)", lambda: att.LinearAttention(64)),
        ("SlidingWindowAttention(32, 64)", lambda: att.SlidingWindowAttention(32, 64)),
        ("KVCache(64, 64)", lambda: att.KVCache(64, 64)),
    ):
        if hasattr(att, label.split("(")[0]):
            try:
                kept.append((label, str(kept_bytes(make))))
            except MemoryError:  # the object does not fit: say so, go on
                kept.append((label, "no heap: %s" % heap_words()))  # noqa: F821
    table(("what", "bytes"), kept, "lr")
    if failures:
        print("FAIL: outputs differ from plain Python for " + ", ".join(failures))
        # An exception, not sys.exit(): only an uncaught exception makes mpremote exit non-zero.
        raise RuntimeError("%d output mismatches" % len(failures))
    print("outputs: all equal to plain Python")


main()
