"""Self-check on a target: the package's kernels against plain Python, on this target.

Runs with tools/device/plain.py and heap.py in front of it (its `# with:` line; `make
device-test [PORT=...]`). Prints one line per failure and, last, `N passed, N failed`
(and `, N skipped` when a check needs more heap than the target has: the line of each
says how much). The two large int8 buffers are made once, first, while the heap is
whole, at the size of the largest check or of what is free; every check takes views of
them, and garbage is collected between checks.
"""

# with: plain.py heap.py

import gc
import sys
from array import array

LARGEST = 64 * 300  # int8 items of the largest check's keys (and values): linear 64 x 300
IMPORT_ROOM = 32768  # heap left for importing the package (about 24 KB on 64-bit Linux)


class Random:
    def __init__(self, seed):
        self.state = seed or 1

    def int8s(self, count, into=None):
        """count random int8 values: a new array, or a view of the first count of into."""
        out = array("b", bytes(count)) if into is None else memoryview(into)[:count]
        for i in range(count):
            x = self.state
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            self.state = x
            out[i] = (x >> 24) - 128 if x & 0x100 else (127 if x & 0x200 else -128)
        return out


class Pool:
    """The keys and values buffers every check takes views of."""

    keys = values = None
    items = 0

    @classmethod
    def make(cls, items):
        cls.items = items
        cls.keys, cls.values = array("b", bytes(items)), array("b", bytes(items))


def make_pool(items):
    """A pool of items, or of the most the heap holds (halving until it fits)."""
    while True:
        try:
            Pool.make(items)
            return
        except MemoryError:
            Pool.make(0)
            items //= 2


# The pool first, while the heap is whole (importing the package scatters what it leaves):
# the largest check's size, or what the heap holds. Where compiling the package's sources
# needs that room, the pool is made again after the import, as large as still fits.
make_pool(max(0, min(LARGEST, (heap_free() - IMPORT_ROOM) // 2)))
try:
    from attention import LinearAttention, MicroAttention, SlidingWindowAttention
except MemoryError:
    Pool.make(0)
    gc.collect()
    from attention import LinearAttention, MicroAttention, SlidingWindowAttention

    make_pool(max(0, min(LARGEST, heap_free() // 3)))


def pooled(rng, count):
    """Keys and values of count items, views of the pool (LookupError: larger than it)."""
    if count > Pool.items:
        raise LookupError(count)
    return rng.int8s(count, Pool.keys), rng.int8s(count, Pool.values)


def check_micro(rng, head_dim, n, pos):
    attn = MicroAttention(head_dim, 1)
    query = rng.int8s(head_dim)
    keys, values = pooled(rng, n * head_dim)
    scores, output = array("i", bytes(4 * n)), array("i", bytes(4 * head_dim))
    attn.compute_scores(query, keys, scores)
    attn.apply_causal_mask(scores, pos)
    attn.softmax_fixed(scores)
    attn.weighted_sum(scores, values, output)
    want_scores, want = array("i", bytes(4 * n)), array("i", bytes(4 * head_dim))
    shift = plain_scale_shift(head_dim)  # noqa: F821  (from plain.py, independent of the package)
    plain_micro(query, keys, values, want_scores, want, n, head_dim, shift, pos)  # noqa: F821
    return scores == want_scores and output == want


def check_linear(rng, dim, n):
    query = rng.int8s(dim)
    keys, values = pooled(rng, n * dim)
    output, want = array("i", bytes(4 * dim)), array("i", bytes(4 * dim))
    LinearAttention(dim).forward(query, keys, values, output)
    plain_linear(query, keys, values, want, n, dim)  # noqa: F821
    return output == want


def check_window(rng, window_size, head_dim, cache_len):
    size = window_size * head_dim
    query = rng.int8s(head_dim)
    keys, values = pooled(rng, size)
    output, want = array("i", bytes(4 * head_dim)), array("i", bytes(4 * head_dim))
    SlidingWindowAttention(window_size, head_dim).forward(query, keys, values, cache_len, output)
    scores = array("i", bytes(4 * window_size))
    plain_window(query, keys, values, scores, want, cache_len, window_size, head_dim)  # noqa: F821
    return output == want


def check_refusal():
    try:
        MicroAttention(8, 1).compute_scores(array("b", [1]), array("b", [1] * 8), array("i", [0]))
    except ValueError:
        return True
    return False


def main():
    rng = Random(12345)
    checks = [("refuses a short query", check_refusal, ())]
    for head_dim in (1, 4, 16, 33, 64):
        for n, pos in ((0, 0), (1, 0), (9, 4), (40, 100)):
            checks.append(
                ("micro head_dim %d n %d" % (head_dim, n), check_micro, (rng, head_dim, n, pos))
            )
    for dim, n in ((1, 1), (8, 0), (16, 20), (32, 64), (64, 300)):
        checks.append(("linear dim %d n %d" % (dim, n), check_linear, (rng, dim, n)))
    for window_size, head_dim, cache_len in ((1, 4, 3), (8, 16, 5), (8, 16, 21), (32, 64, 70)):
        checks.append(
            (
                "window %d x %d len %d" % (window_size, head_dim, cache_len),
                check_window,
                (rng, window_size, head_dim, cache_len),
            )
        )
    passed = failed = skipped = 0
    for name, check, args in checks:
        gc.collect()
        try:
            ok = check(*args)
        except LookupError as e:  # larger than the pool the heap allowed
            print(
                skip_line(name, 2 * e.args[0], "two blocks; the largest made: %s" % kb(Pool.items))
            )
            skipped += 1
            continue
        except MemoryError:
            print(skip_line(name, None))
            skipped += 1
            continue
        except Exception as e:  # noqa: BLE001  (report and go on, as a test runner does)
            ok = False
            sys.print_exception(e) if hasattr(sys, "print_exception") else print(repr(e))
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL", name)
    print("%d passed, %d failed%s" % (passed, failed, ", %d skipped" % skipped if skipped else ""))
    if failed:
        # An exception, not sys.exit(): mpremote run reports it as a failing exit status.
        raise RuntimeError("self-check failed")


main()
