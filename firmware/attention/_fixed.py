"""Limits and constants of the fixed-point arithmetic shared by the layers and the decoder.

A requantisation scale (m, s) is the real multiplier m / 2**s with 0 <= m <= MAX_MULT
and MIN_SHIFT <= s <= MAX_SHIFT (the range in which _layers.requant8 stays exact in
int32). norm_constants() gives the integer RMSNorm its two constants.
"""

from micropython import const

MIN_SHIFT = const(17)
MAX_SHIFT = const(40)
MAX_MULT = const(32767)


def norm_constants(dim, frac):
    """(num, down) of rms_norm8: num = isqrt(dim * 4**K) < 2**30 for the largest K, down = K - frac."""
    k = 0
    while isqrt(dim << (2 * k + 2)) < 0x40000000:
        k += 1
    return isqrt(dim << (2 * k)), k - frac


def isqrt(v):
    """floor(sqrt(v)) of a non-negative int, by Newton's method on ints."""
    if v < 2:
        return v
    x = v
    y = (x + 1) >> 1
    while y < x:
        x = y
        y = (x + v // x) >> 1
    return x
