"""Constants of the attention scores and their softmax, shared by the attention objects
and the models: the score given to masked positions, the exp2 softmax's table and the
shift that scales dot products by about 1/sqrt(head_dim)."""

from array import array

from micropython import const

MASKED = const(-1073741824)  # the reference's i32::MIN / 2, given to masked scores

# 65536 * 2**(-k / 64) for k = 0..64, rounded: the fraction table of softmax_exp2.
# fmt: off
EXP2 = array("i", (
    65536, 64830, 64132, 63441, 62757, 62081, 61413, 60751, 60097, 59449, 58809, 58176,
    57549, 56929, 56316, 55709, 55109, 54515, 53928, 53347, 52773, 52204, 51642, 51085,
    50535, 49991, 49452, 48920, 48393, 47871, 47356, 46846, 46341, 45842, 45348, 44859,
    44376, 43898, 43425, 42958, 42495, 42037, 41584, 41136, 40693, 40255, 39821, 39392,
    38968, 38548, 38133, 37722, 37316, 36914, 36516, 36123, 35734, 35349, 34968, 34591,
    34219, 33850, 33486, 33125, 32768,
))
# fmt: on


def scale_shift(head_dim):
    """Right shift approximating 1/sqrt(head_dim), as the reference chooses it."""
    if head_dim >= 32:
        return 3
    if head_dim >= 16:
        return 2
    return 1
