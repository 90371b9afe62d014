"""Measuring on a target, for the device benchmarks: timing loops, heap per call and
heap kept, and the tables they are printed in.

A helper of tools/device/bench.py, joined in front of it by tools/board/target.py.
With `QUICK = True` in front of the joined script (the host tests), every
measurement is one call.
"""

import gc
import time

import micropython

QUICK = globals().get("QUICK", False)
ROUNDS = 1 if QUICK else 5  # the median of ROUNDS timed loops
ROUND_US = 0 if QUICK else 20000  # each loop makes enough calls to last about this long
HEAP_CALLS = 10 if QUICK else 100


# Timing and heap helpers. The function measured takes no arguments: a bound
# method or a closure over at most 5 names (more makes MicroPython allocate a
# temporary argument array at each call).


def loop_us(fn, calls):
    start = time.ticks_us()
    for _ in range(calls):
        fn()
    return time.ticks_diff(time.ticks_us(), start)


def settle(ms):
    """Keep the CPU busy for ms: a desktop raises its clock after some ms of load."""
    start = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), start) < ms:
        pass


def calls_for(fn):
    """Calls per loop so that a loop lasts about ROUND_US (at least 1); also a warm-up."""
    calls = 1
    took = loop_us(fn, calls)
    while took * 8 < ROUND_US:
        calls *= 8
        took = loop_us(fn, calls)
    return max(1, calls * ROUND_US // max(took, 1))


def medians_us(*fns):
    """Median microseconds per call of each fn, over ROUNDS loops each.

    The loops of the functions alternate, so that a slow spell of the machine
    hits all of them alike.
    """
    counts = [calls_for(fn) for fn in fns]
    times = [[] for _ in fns]
    for _ in range(ROUNDS):
        for fn, calls, out in zip(fns, counts, times):
            gc.collect()
            out.append(loop_us(fn, calls) / calls)
    for out in times:
        out.sort()
    return [out[ROUNDS // 2] for out in times]


def heap_per_call(fn, calls=HEAP_CALLS):
    """Heap bytes allocated per call, after a warm-up call, with the collector off."""
    fn()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(calls):
        fn()
    after = gc.mem_alloc()
    gc.enable()
    return (after - before) / calls


def runs_locked(fn):
    """True when fn runs with the heap locked (it allocates nothing, not even briefly)."""
    micropython.heap_lock()
    try:
        fn()
        return True
    except MemoryError:
        return False
    finally:
        micropython.heap_unlock()


def kept_bytes(make):
    """Heap bytes still held after collection by the object make() returns."""
    gc.collect()
    before = gc.mem_alloc()
    obj = make()
    gc.collect()
    size = gc.mem_alloc() - before
    del obj
    return size


# Tables: markdown-like, columns padded; "r" in align right-aligns a column.


def cells(values, widths, align):
    out = []
    for value, width, how in zip(values, widths, align):
        pad = " " * (width - len(value))
        out.append(pad + value if how == "r" else value + pad)
    return "| " + " | ".join(out) + " |"


def rule(widths, align):
    dashes = ["-" * (w + 1) + (":" if a == "r" else "-") for w, a in zip(widths, align)]
    return "|" + "|".join(dashes) + "|"


def table(head, rows, align, widths=None):
    """Print a table; with widths given, rows may be an iterator printed as it runs."""
    if widths is None:
        rows = list(rows)
        widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    print(cells(head, widths, align))
    print(rule(widths, align))
    for row in rows:
        print(cells(row, widths, align))
    print()


def us(value):
    return "%.2f" % value if value < 10 else "%.1f" % value if value < 1000 else "%d" % value


def per_call(value):
    return "%d" % value if value == int(value) else "%.1f" % value
