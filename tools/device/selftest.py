"""Self-check on a target: the package's kernels against plain Python, on this target.

Runs with tools/device/plain.py in front of it (its `# with:` line; `make device-test
[PORT=...]`). Prints one line per failure and, last, `N passed, N failed`.
"""

# with: plain.py

import sys
from array import array

from attention import LinearAttention, MicroAttention, SlidingWindowAttention


class Random:
    def __init__(self, seed):
        self.state = seed or 1

    def int8s(self, count):
        out = array("b", bytes(count))
        for i in range(count):
            x = self.state
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            self.state = x
            out[i] = (x >> 24) - 128 if x & 0x100 else (127 if x & 0x200 else -128)
        return out


def check_micro(rng, head_dim, n, pos):
    attn = MicroAttention(head_dim, 1)
    query, keys, values = rng.int8s(head_dim), rng.int8s(n * head_dim), rng.int8s(n * head_dim)
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
    query, keys, values = rng.int8s(dim), rng.int8s(n * dim), rng.int8s(n * dim)
    output, want = array("i", bytes(4 * dim)), array("i", bytes(4 * dim))
    LinearAttention(dim).forward(query, keys, values, output)
    plain_linear(query, keys, values, want, n, dim)  # noqa: F821
    return output == want


def check_window(rng, window_size, head_dim, cache_len):
    size = window_size * head_dim
    query, keys, values = rng.int8s(head_dim), rng.int8s(size), rng.int8s(size)
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
    passed = failed = 0
    for name, check, args in checks:
        try:
            ok = check(*args)
        except Exception as e:  # noqa: BLE001  (report and go on, as a test runner does)
            ok = False
            sys.print_exception(e) if hasattr(sys, "print_exception") else print(repr(e))
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL", name)
    print("%d passed, %d failed" % (passed, failed))
    if failed:
        # An exception, not sys.exit(): mpremote run reports it as a failing exit status.
        raise RuntimeError("self-check failed")


main()
