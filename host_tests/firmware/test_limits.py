"""Each constructor's limits at their edges (the last value accepted, the first refused),
what leaving out a parameter with a default means, and the tables and fixed-point
constants the kernels read, against their documented definitions. Expected values are
written out here or come from host_tests/model.py."""

import math
import random
from array import array

import model
import pytest
from attention import KVCache, LinearAttention, MicroAttention, SlidingWindowAttention, layers
from attention import _check, _fixed, _memory, _softmax, micro
from test_boundaries import get_sums

MAX_ROWS = 4194304  # README: up to 4194304 rows
MAX_DIM = 32768  # README: widths up to 32768

# ------------------------------------------------------------------ MicroAttention


@pytest.mark.parametrize("num_heads", [1, 2, 4, 8])
def test_num_heads_that_divide_embed_dim(num_heads):
    attn = MicroAttention(8, num_heads)
    assert (attn.num_heads, attn.head_dim) == (num_heads, 8 // num_heads)


@pytest.mark.parametrize("num_heads", [0, -1, 3, 16])
def test_num_heads_that_do_not(num_heads):
    with pytest.raises(ValueError, match="num_heads: expected a positive divisor of embed_dim 8"):
        MicroAttention(8, num_heads)


@pytest.mark.parametrize("name", ["exp", "lin", "", "ear", "linear exp2", "Linear", "EXP2"])
def test_softmax_names_are_whole_words(name):
    with pytest.raises(ValueError, match="softmax: expected 'linear' or 'exp2'"):
        MicroAttention(8, 1, softmax=name)


@pytest.mark.parametrize("shift", [0, 1, 11, 12])
def test_logit_shift_0_to_12(shift):
    attn = MicroAttention(8, 1, softmax="exp2", logit_shift=shift)
    assert attn.logit_shift == shift
    # one score 1 below the top: 256 * softmax of (0, -1 / 2**shift), about 128 at shift 12
    scores = array("i", [0, -1])
    attn.softmax(scores)
    assert 128 <= scores[0] <= 256 * math.e / (math.e + 1) + 1


@pytest.mark.parametrize("shift", [-1, 13, 31])
def test_logit_shift_outside_0_to_12(shift):
    with pytest.raises(ValueError, match="logit_shift: expected 0..12, got %d" % shift):
        MicroAttention(8, 1, softmax="exp2", logit_shift=shift)


def test_max_len_up_to_max_rows():
    assert len(MicroAttention(8, 1, max_len=MAX_ROWS)._frame[7]) == MAX_ROWS  # scores scratch
    with pytest.raises(ValueError, match="max_len: expected 0..4194304, got 4194305"):
        MicroAttention(8, 1, max_len=MAX_ROWS + 1)


def test_micro_defaults():
    # softmax="linear" (the reference's softmax_fixed), logit_shift=9, max_len=0
    attn = MicroAttention(8, 1)
    assert (attn.softmax_kind, attn.logit_shift) == ("linear", 9)
    assert len(attn._frame[7]) == 0  # no scores scratch until forward() needs one
    scores = [300, 0, -200, 77]
    got = array("i", scores)
    attn.softmax(got)
    assert list(got) == model.softmax_fixed(scores)[0]
    # softmax="exp2" alone: logit_shift 9
    default, nine = array("i", scores), array("i", scores)
    MicroAttention(8, 1, softmax="exp2").softmax(default)
    MicroAttention(8, 1, softmax="exp2", logit_shift=9).softmax(nine)
    eight = array("i", scores)
    MicroAttention(8, 1, softmax="exp2", logit_shift=8).softmax(eight)
    assert default == nine != eight


def test_causal_mask_defaults_to_every_score():
    scores = array("i", [5, 6, 7, 8, 9])
    MicroAttention(4, 1).apply_causal_mask(scores, 1)
    assert list(scores) == [5, 6] + [micro.MASKED] * 3
    assert micro.MASKED == -(2**30)  # the reference's i32::MIN / 2


# ------------------------------------------------------------------ widths and rows


def test_widths_up_to_max_dim():
    assert LinearAttention(MAX_DIM).feature_dim == MAX_DIM
    assert MicroAttention(MAX_DIM, 1).head_dim == MAX_DIM
    for make, name in (
        (LinearAttention, "feature_dim"),
        (lambda d: MicroAttention(d, 1), "embed_dim"),
        (lambda d: SlidingWindowAttention(4, d), "head_dim"),
        (lambda d: KVCache(1, d), "width"),
    ):
        with pytest.raises(ValueError, match="%s: expected 1..32768, got 32769" % name):
            make(MAX_DIM + 1)
        with pytest.raises(ValueError, match="%s: expected 1..32768, got 0" % name):
            make(0)


def test_kv_cache_capacity_up_to_max_rows():
    assert KVCache(1, 4).capacity == 1
    assert KVCache(MAX_ROWS, 1).capacity == MAX_ROWS
    with pytest.raises(ValueError, match="capacity: expected 1..4194304, got 4194305"):
        KVCache(MAX_ROWS + 1, 1)


def test_kv_cache_is_not_a_ring_by_default():
    cache = KVCache(1, 2)
    cache.append(bytes(2), bytes(2))
    with pytest.raises(ValueError, match="full at 1 rows"):
        cache.append(bytes(2), bytes(2))


def test_update_defaults_to_every_row():
    keys = array("b", [1, -2, 127, -128, 0, 5])
    values = array("b", [-1, 2, 3, 4, -128, 127])
    attn = LinearAttention(2)
    attn.update(keys, values)
    assert get_sums(attn) == model.linear_sums(model.rows(keys, 2), model.rows(values, 2), 2)


# ------------------------------------------------------------------ RMSNorm


@pytest.mark.parametrize("frac", [0, 7])
def test_rms_norm_frac_0_to_7(frac):
    # x = [1, 1]: rms 1, so out = 2**frac (saturated at 127)
    out = array("b", [0, 0])
    layers.RMSNorm(2, frac).forward(array("b", [1, 1]), out)
    assert list(out) == [min(2**frac, 127)] * 2


def test_rms_norm_rounds_half_up_at_exact_ties():
    # x below: sum of squares 16 over 9 values, rms = 4 / 3, so out = round(x * 2 / (4 / 3))
    # in Q1 = round(1.5 * x), half up: 1.5 -> 2 and -1.5 -> -1 (exact ties: the integer
    # steps give inv = 49152 = 1.5 * 2**15 and t = 15, see _layers.rms_norm8).
    x = [0, 2, -2, 1, 2, 1, -1, -1, 0]
    out = array("b", bytes(9))
    layers.RMSNorm(9, 1).forward(array("b", x), out)
    assert list(out) == [0, 3, -3, 2, 3, 2, -1, -1, 0]


def test_rms_norm_takes_a_15_bit_root():
    # x / rms(x) * 32 = [10.49995, 27.9999, 46.666]: the first rounds to 10 only with the
    # root r of ss * 4**e in 2**14..2**15 (ss * 4**e in 2**28..2**30, see rms_norm8);
    # with one bit less (2**26..2**28) it rounds to 11. The numpy model agrees.
    from tinylm import int8_ops as ops

    x = [27, 72, 120]
    out = array("b", bytes(3))
    layers.RMSNorm(3, 5).forward(array("b", x), out)
    assert list(out) == [10, 28, 47] == ops.rms_norm(x, *ops.norm_constants(3, 5)).tolist()


def test_add8_reads_src_from_start():
    # _layers.add8(out, src, start, n): out[i] = saturate8(out[i] + src[start + i]); the
    # public add_saturate passes start 0, so the kernel's own contract is checked here.
    from attention import _layers

    out = array("b", [100, -100, 5, 9])
    _layers.add8(out, array("b", [1, 1, 50, -50, 127, 3]), 2, 3)
    assert list(out) == [127, -128, 127, 9]  # 150, -150 and 132 saturated; out[3] left


@pytest.mark.parametrize("frac", [-1, 8])
def test_rms_norm_frac_outside_0_to_7(frac):
    with pytest.raises(ValueError, match="frac: expected 0..7, got %d" % frac):
        layers.RMSNorm(2, frac)


def test_rms_norm_dim_up_to_16384():
    assert layers.RMSNorm(16384, 0).dim == 16384
    with pytest.raises(ValueError, match="dim: expected 1..16384, got 16385"):
        layers.RMSNorm(16385, 0)


# ------------------------------------------------------------------ scales


@pytest.mark.parametrize("m, s", [(0, 17), (32767, 17), (0, 40), (32767, 40), (1, 30)])
def test_scales_at_their_limits_are_accepted(m, s):
    layers.check_scales("scales", array("i", [m, s]), 1)
    assert (_fixed.MAX_MULT, _fixed.MIN_SHIFT, _fixed.MAX_SHIFT) == (32767, 17, 40)


@pytest.mark.parametrize("m, s", [(-1, 17), (32768, 17), (0, 16), (0, 41)])
def test_scales_one_past_their_limits_are_refused(m, s):
    with pytest.raises(
        ValueError, match="row 0 has m=%d s=%d; expected m 0..32767, s 17..40" % (m, s)
    ):
        layers.check_scales("scales", array("i", [m, s]), 1)


def test_isqrt_is_the_floor_of_the_square_root():
    rng = random.Random(5)
    values = list(range(2000)) + [rng.getrandbits(rng.randint(1, 62)) for _ in range(2000)]
    values += [k * k + d for k in (2**15, 2**30 - 1, 2**31) for d in (-1, 0, 1)]
    for v in values:
        assert _fixed.isqrt(v) == math.isqrt(v), v


# ------------------------------------------------------------------ tables


def test_exp2_table_is_its_definition():
    # softmax_exp2's fraction table: 65536 * 2**(-k / 64) for k = 0..64, rounded
    assert list(_softmax.EXP2) == [round(65536 * 2 ** (-k / 64)) for k in range(65)]


def test_every_int8_key_through_phi():
    # One row of keys -128..127 (each column one value): K_j = phi(k_j) = max(k_j, 0) + 1.
    dim = 256
    keys = array("b", range(-128, 128))
    values = array("b", [1, -1] * 128)
    attn = LinearAttention(dim)
    attn.update(keys, values)
    context, key_sums = get_sums(attn)
    assert key_sums == [model.feature_map(k) for k in range(-128, 128)]
    s = sum(key_sums)  # 128 * 1 + sum(1..128)
    assert s == 128 + 128 * 129 // 2
    assert context == [s, -s] * 128
    assert _check.MAX_DIM == MAX_DIM


# ------------------------------------------------------------------ _memory's layout


def test_a_memoryview_offset_past_16_bits_is_used_whole():
    # measure() finds overlaps from the offsets: views 65536 items apart are apart, and
    # with 16 bits of offset (70000 - 65536 = 4464) they would look like one buffer.
    data = bytearray(b"\xff" * 70016)
    view = memoryview(data)
    layers.add_saturate(view[70000:70008], view[4464:4472])  # -1 + -1 = -2, accepted
    assert data[70000:70008] == b"\xfe" * 8
    with pytest.raises(ValueError, match="out: shares memory with x"):
        layers.add_saturate(view[70000:70008], view[70007:70015])
    ints = array("i", bytes(4 * 70016))
    scores = memoryview(ints)[70000:70004]
    MicroAttention(4, 1).weighted_sum(memoryview(ints)[4464:4468], bytes(16), scores, 4)
    with pytest.raises(ValueError, match="output: shares memory with weights"):
        MicroAttention(4, 1).weighted_sum(memoryview(ints)[70003:70007], bytes(16), scores, 4)


def frame_with(facts_items, *scratch):
    frame = _check.frame(*scratch)
    frame[1] = array("i", bytes(4 * facts_items))
    return frame


def test_facts_of_fewer_than_facts_items_break_the_frame():
    # measure() fills facts[i] and facts[BUFFERS + i]: FACTS items, or the frame is broken
    kinds = _check.kinds(_memory.INT8)
    assert _memory.measure(bytearray(4), None, None, None, kinds, frame_with(_memory.FACTS)) == 0
    broken = frame_with(_memory.FACTS - 1)
    assert _memory.measure(bytearray(4), None, None, None, kinds, broken) == _memory.BROKEN
    assert list(broken[1]) == [0] * (_memory.FACTS - 1)  # nothing written


@pytest.mark.parametrize("k", [0, 1])
def test_every_scratch_buffer_must_be_writable(k):
    # scratch buffers are written: a read-only one (bytes) is refused, its fact READ_ONLY
    scratch = [bytearray(8), bytearray(8)]
    kinds = _check.kinds(0, 0, 0, 0, _memory.INT8, _memory.INT8)
    frame = _check.frame(*scratch)
    assert _memory.measure(None, None, None, None, kinds, frame) == 0
    scratch[k] = bytes(8)
    frame = _check.frame(*scratch)
    assert _memory.measure(None, None, None, None, kinds, frame) == -1 - (4 + k)
    assert frame[1][4 + k] == _memory.READ_ONLY
