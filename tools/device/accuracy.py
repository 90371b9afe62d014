"""Accuracy and speed of the two softmax kernels against the float softmax.

For each logit_shift L, the reference is 256 * softmax(scores / 2**L) in floating
point; the error of a weight is |weight - that| in Q8 steps (1 step = 1/256).
softmax="exp2" approximates exactly that; the linear softmax_fixed is its
first-order form for L = 9 and is shown beside it for every L.
Then the weight of the lower of two scores [0, -d] for a range of gaps d, the
curve plotted in docs/accuracy.svg (tools/report/accuracy_figure.py reads both tables).
Runs unchanged on the unix port and on a board (`make accuracy [PORT=...]`): each vector
is made when it is measured and the rows are printed as they come, so the heap holds one
vector at a time (256 int32, 1 KB).
"""

import gc
import math
import time
from array import array

from attention import MicroAttention


class Random:
    def __init__(self, seed):
        self.state = seed

    def below(self, limit):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x % limit


def float_weights(scores, shift):
    """256 * softmax(scores / 2**shift) as floats, made one at a time (a generator)."""
    top = max(scores)
    total = 0.0
    for s in scores:
        total += math.exp((s - top) / (1 << shift))
    for s in scores:
        yield 256 * math.exp((s - top) / (1 << shift)) / total


def vectors(shift, rng):
    """Random score vectors at the scale of the shift, then adversarial ones: each made
    when it is wanted (an array('i'), one at a time), so the heap holds one vector."""
    scale = 1 << shift
    for n in (2, 8, 64, 256):
        for spread in (1, 4, 16):
            for _ in range(6):
                out = array("i", bytes(4 * n))
                for i in range(n):
                    out[i] = rng.below(2 * spread * scale) - spread * scale
                yield out
    yield array("i", bytes(4 * 64))  # all equal
    yield array("i", [0, 0, 0, -(2**30), -(2**30)])  # masked positions
    yield array("i", [2**31 - 1, -(2**31), 0])  # int32 extremes
    out = array("i", bytes(4 * 256))  # one winner among many
    for i in range(1, 256):
        out[i] = -(scale * 2)
    yield out
    yield array("i", [i * scale // 8 for i in range(64)])  # a smooth ramp
    yield array("i", [0, -(17 * scale), -(17 * scale) - 1])  # at the cut-off of exp2
    out = array("i", bytes(4 * 256))  # two levels
    for i in range(256):
        out[i] = (i % 2) * (scale // 2)
    yield out


VECTORS = 6 * 3 * 4 + 7  # what vectors() yields


def max_errors(exp2, linear, shift, cases):
    """The worst error of the exp2 and of the linear softmax over the vectors of cases."""
    worst = [0.0, 0.0]
    for scores in cases:
        gc.collect()
        buf = array("i", scores)
        for k, run in enumerate((exp2.softmax, linear.softmax_fixed)):
            buf[:] = scores
            run(buf)
            for got, want in zip(buf, float_weights(scores, shift)):
                worst[k] = max(worst[k], abs(got - want))
    return worst


def per_call_us(fn, buf, scores, repeat=200):
    start = time.ticks_us()
    for _ in range(repeat):
        buf[:] = scores
        fn(buf)
    return time.ticks_diff(time.ticks_us(), start) / repeat


def gap_curve(shift, step=32, last=2048):
    """Rows (d, float weight, exp2 weight, linear weight) of the lower score of [0, -d], made
    one at a time."""
    exp2 = MicroAttention(8, 1, softmax="exp2", logit_shift=shift)
    linear = MicroAttention(8, 1)
    for d in range(0, last + 1, step):
        a, b = array("i", [0, -d]), array("i", [0, -d])
        exp2.softmax(a)
        linear.softmax_fixed(b)
        yield d, list(float_weights([0, -d], shift))[1], a[1], b[1]


def main():
    print("max error in Q8 steps (1 step = 1/256) against 256 * softmax(scores / 2**L)")
    print("%-12s %-8s %-14s %-14s" % ("logit_shift", "vectors", "exp2", "linear"))
    for shift in (0, 4, 7, 9, 11, 12):
        exp2 = MicroAttention(8, 1, softmax="exp2", logit_shift=shift)
        linear = MicroAttention(8, 1)
        worst = max_errors(exp2, linear, shift, vectors(shift, Random(shift + 1)))
        print("%-12d %-8d %-14.3f %-14.3f" % (shift, VECTORS, worst[0], worst[1]))
    rng = Random(99)
    scores = array("i", bytes(4 * 64))
    for i in range(64):
        scores[i] = rng.below(4096) - 2048
    buf = array("i", scores)
    exp2 = MicroAttention(8, 1, softmax="exp2")
    linear = MicroAttention(8, 1)
    print(
        "time per call, n = 64 (including a 64-item copy): exp2 %.1f us, linear %.1f us"
        % (per_call_us(exp2.softmax, buf, scores), per_call_us(linear.softmax_fixed, buf, scores))
    )
    print()
    print("weight of the lower of two scores [0, -d] at logit_shift 9, Q8 (256 = 1.0)")
    print("%-8s %-10s %-6s %-6s" % ("d", "float", "exp2", "linear"))
    for row in gap_curve(9):
        print("%-8d %-10.3f %-6d %-6d" % row)


main()
