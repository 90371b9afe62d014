"""The int8 layers (attention.layers, _layers) against the plain numpy model of tools/tinylm/int8_ops.py.

Through the 32-bit shim here; the unix port runs the same cases in test_layers_unix.py.
"""

import random
from array import array

import numpy as np
import pytest
from attention import _layers, layers
from hypothesis import given, settings
from hypothesis import strategies as st

from tinylm import int8_ops as ops

INT8 = st.integers(-128, 127)


def i8(values):
    return array("b", [int(v) for v in values])


def scales_of(pairs):
    return array("i", [int(v) for pair in pairs for v in pair])


@st.composite
def linear_case(draw):
    rows = draw(st.integers(1, 12))
    cols = draw(st.integers(1, 40))
    extreme = draw(st.booleans())
    values = st.sampled_from([-128, 127]) if extreme else INT8
    w = draw(st.lists(values, min_size=rows * cols, max_size=rows * cols))
    x = draw(st.lists(values, min_size=cols, max_size=cols))
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, 32767), st.integers(17, 40)), min_size=rows, max_size=rows
        )
    )
    return rows, cols, w, x, pairs


@settings(max_examples=60, deadline=None)
@given(linear_case())
def test_linear_forward_matches_numpy(case):
    rows, cols, w, x, pairs = case
    lin = layers.Linear(i8(w), scales_of(pairs), rows, cols)
    out8 = array("b", bytes(rows))
    out32 = array("i", bytes(4 * rows))
    lin.forward(i8(x), out8)
    lin.forward32(i8(x), out32)
    wn = np.array(w).reshape(rows, cols)
    sc = np.array(pairs)
    assert list(out8) == ops.linear8(wn, sc, x).tolist()
    assert list(out32) == ops.requant(ops.matvec(wn, x), sc).tolist()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=8),
    st.integers(0, 32767),
    st.integers(17, 40),
)
def test_requant_is_exact_over_all_int32(acc, m, s):
    """round(a * m / 2**s) half up, for any int32 a: the split into 16-bit halves loses nothing."""
    src = array("i", acc)
    out32 = array("i", bytes(4 * len(acc)))
    out8 = bytearray(len(acc))
    sc = array("i", [m, s])
    _layers.requant32(src, out32, sc, len(acc), 0)
    _layers.requant8(src, out8, sc, len(acc), 0)
    exact = [(a * m + (1 << (s - 1))) >> s for a in acc]
    assert list(out32) == exact
    assert [(b ^ 0x80) - 0x80 for b in out8] == [max(-128, min(127, e)) for e in exact]


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 70), st.integers(0, 7), st.data())
def test_rms_norm_matches_numpy(dim, frac, data):
    pick = data.draw(st.sampled_from(["any", "small", "extreme", "zero", "one"]))
    if pick == "small":
        x = data.draw(st.lists(st.integers(-2, 2), min_size=dim, max_size=dim))
    elif pick == "extreme":
        x = data.draw(st.lists(st.sampled_from([-128, 127]), min_size=dim, max_size=dim))
    elif pick == "zero":
        x = [0] * dim
    elif pick == "one":
        x = [0] * dim
        x[data.draw(st.integers(0, dim - 1))] = data.draw(INT8)
    else:
        x = data.draw(st.lists(INT8, min_size=dim, max_size=dim))
    norm = layers.RMSNorm(dim, frac)
    out = array("b", bytes(dim))
    norm.forward(i8(x), out)
    num, down = ops.norm_constants(dim, frac)
    assert list(out) == ops.rms_norm(x, num, down).tolist()


def test_rms_norm_is_close_to_float():
    rng = random.Random(3)
    for _ in range(50):
        x = [rng.randint(-128, 127) for _ in range(32)]
        out = array("b", bytes(32))
        layers.RMSNorm(32, 5).forward(i8(x), out)
        xf = np.array(x, dtype=float)
        want = np.clip(xf / np.sqrt((xf * xf).mean()) * 32, -128, 127)
        assert np.abs(np.array(out) - want).max() <= 1.0


def test_norm_constants_match():
    for dim in (1, 2, 3, 31, 32, 48, 100, 1024, 16384):
        for frac in (0, 5, 7):
            assert layers.norm_constants(dim, frac) == ops.norm_constants(dim, frac)


@settings(max_examples=60, deadline=None)
@given(st.lists(INT8, min_size=0, max_size=40), st.data())
def test_add_relu_activate_narrow(a, data):
    n = len(a)
    b = data.draw(st.lists(INT8, min_size=n, max_size=n))
    out = i8(a)
    layers.add_saturate(out, i8(b))
    assert list(out) == ops.saturate8(np.array(a) + np.array(b, dtype=int)).tolist()
    buf = i8(a)
    layers.relu(buf)
    assert list(buf) == [max(v, 0) for v in a]
    table = bytes(data.draw(st.lists(st.integers(0, 255), min_size=256, max_size=256)))
    buf = i8(a)
    layers.activate(buf, table)
    assert list(buf) == [(table[v & 255] ^ 0x80) - 0x80 for v in a]
    wide = data.draw(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=n, max_size=n))
    out = array("b", bytes(n))
    layers.narrow(array("i", wide), out)
    assert list(out) == [max(-128, min(127, v)) for v in wide]
    layers.narrow(array("i", wide), out, None, 20000, 17)
    assert list(out) == [max(-128, min(127, (v * 20000 + (1 << 16)) >> 17)) for v in wide]


def test_embedding_lookup():
    table = i8(range(-60, 60))  # 10 rows of 12
    emb = layers.Embedding(table, 10, 12)
    out = array("b", bytes(12))
    for row in (0, 3, 9):
        emb.lookup(row, out)
        assert list(out) == list(range(-60 + 12 * row, -48 + 12 * row))


def test_sampling_kernels_match_numpy():
    rng = random.Random(11)
    for _ in range(300):
        n = rng.randint(1, 20)
        logits = [
            rng.choice(
                [rng.randint(-3, 3), rng.randint(-(2**31), 2**31 - 1), rng.randint(-5000, 5000)]
            )
            for _ in range(n)
        ]
        k = rng.randint(1, n + 2)
        t = rng.randint(1, 1024)
        out = array("i", bytes(4 * n))
        _layers.temper(array("i", logits), out, n, k, t, ops.MASKED)
        assert list(out) == ops.temper(logits, k, t)
        assert _layers.argmax32(array("i", logits), n) == int(np.argmax(logits))
        weights = [rng.randint(0, 300) for _ in range(n)]
        weights[rng.randrange(n)] += 1
        state = array("i", [rng.randint(0, 2**31 - 1)])
        want, new_state = ops.draw(weights, state[0])
        assert _layers.draw(array("i", weights), n, state) == want
        assert state[0] == new_state


def test_draw_follows_the_weights():
    state = array("i", [12345])
    weights = array("i", [0, 64, 0, 192])
    picks = [_layers.draw(weights, 4, state) for _ in range(2000)]
    assert set(picks) == {1, 3}
    assert abs(picks.count(1) - 500) < 100  # weight 64 of 256: a quarter


# Refusals: the argument named, nothing written.


def make_linear():
    return layers.Linear(i8([1] * 12), scales_of([(16384, 20)] * 3), 3, 4)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda lin: lin.forward(i8([1] * 3), array("b", bytes(3))),
            ValueError,
            "x: expected at least 4",
        ),
        (
            lambda lin: lin.forward(i8([1] * 4), array("b", bytes(2))),
            ValueError,
            "out: expected at least 3",
        ),
        (
            lambda lin: lin.forward(array("h", [1] * 4), array("b", bytes(3))),
            TypeError,
            "x: expected an int8",
        ),
        (
            lambda lin: lin.forward(i8([1] * 4), array("i", bytes(12))),
            TypeError,
            "out: expected an int8",
        ),
        (
            lambda lin: lin.forward32(i8([1] * 4), array("b", bytes(12))),
            TypeError,
            "out: expected an int32",
        ),
        (
            lambda lin: lin.forward32(i8([1] * 4), array("i", bytes(8))),
            ValueError,
            "out: expected at least 3",
        ),
        (
            lambda lin: lin.forward(lin.weights, lin.weights),
            ValueError,
            "out: shares memory with x",
        ),
        (lambda lin: lin.accumulate(bytearray(0)), ValueError, "x: expected at least 4"),
        (lambda lin: lin.accumulate(12345), TypeError, "x: expected an int8"),
        (lambda lin: lin.accumulate(array("h", [1] * 4)), TypeError, "x: expected an int8"),
    ],
)
def test_linear_refusals(call, error, match):
    lin = make_linear()
    before = bytes(lin.weights)
    with pytest.raises(error, match=match):
        call(lin)
    assert bytes(lin.weights) == before


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((i8([1] * 11), scales_of([(1, 20)] * 3), 3, 4), ValueError, "weights: expected 12"),
        ((i8([1] * 12), scales_of([(1, 20)] * 2), 3, 4), ValueError, "scales: expected 6"),
        ((i8([1] * 12), scales_of([(1, 16)] * 3), 3, 4), ValueError, "scales: row 0"),
        (
            (i8([1] * 12), scales_of([(1, 20), (40000, 20), (1, 20)]), 3, 4),
            ValueError,
            "scales: row 1",
        ),
        ((i8([1] * 12), [1, 20] * 3, 3, 4), TypeError, "scales"),
        ((list(range(12)), scales_of([(1, 20)] * 3), 3, 4), TypeError, "weights"),
        ((i8([1] * 12), scales_of([(1, 20)] * 3), 0, 4), ValueError, "rows"),
    ],
)
def test_linear_construction_refusals(args, error, match):
    with pytest.raises(error, match=match):
        layers.Linear(*args)


def test_other_refusals():
    with pytest.raises(ValueError, match="dim"):
        layers.RMSNorm(0, 5)
    with pytest.raises(ValueError, match="frac"):
        layers.RMSNorm(8, 8)
    norm = layers.RMSNorm(8, 5)
    with pytest.raises(ValueError, match="x: expected at least 8"):
        norm.forward(i8([1] * 7), array("b", bytes(8)))
    with pytest.raises(ValueError, match="out: expected at least 8"):
        norm.forward(i8([1] * 8), array("b", bytes(7)))
    buf = i8([1] * 8)
    with pytest.raises(ValueError, match="out: shares memory with x"):
        norm.forward(buf, buf)
    emb = layers.Embedding(i8([1] * 12), 3, 4)
    with pytest.raises(ValueError, match="index"):
        emb.lookup(3, array("b", bytes(4)))
    with pytest.raises(TypeError, match="index"):
        emb.lookup(1.0, array("b", bytes(4)))
    with pytest.raises(ValueError, match="out: expected at least 4"):
        emb.lookup(1, array("b", bytes(3)))
    with pytest.raises(ValueError, match="table: expected at least 256"):
        layers.activate(i8([1]), bytes(255))
    with pytest.raises(ValueError, match="n: expected 0..2"):
        layers.add_saturate(i8([1, 2, 3]), i8([1, 2]), 3)
    with pytest.raises(TypeError, match="src: expected an int32"):
        layers.narrow(i8([1]), array("b", bytes(1)))
    with pytest.raises(ValueError, match="s: expected 17..40"):
        layers.narrow(array("i", [1]), array("b", bytes(1)), None, 100, 16)


def test_linear_refuses_weights_and_scales_resized_in_place():
    lin = make_linear()
    lin.scales.append(5)
    with pytest.raises(ValueError, match="scales: resized"):
        lin.accumulate(i8([1] * 4))
    lin = make_linear()
    lin.weights.append(1)
    with pytest.raises(ValueError, match="weights: resized"):
        lin.forward(i8([1] * 4), array("b", bytes(3)))


# The limits, with expected values worked out by hand.


def test_saturation_and_relu_at_the_int8_limits():
    out = i8([127, -128, 100, -100, 64, 0])
    layers.add_saturate(out, i8([1, -1, 28, -28, 63, -128]))
    assert list(out) == [127, -128, 127, -128, 127, -128]
    buf = i8([-128, -1, 0, 1, 126, 127])
    layers.relu(buf)
    assert list(buf) == [0, 0, 0, 1, 126, 127]
    wide = array("i", [-129, -128, 126, 127, 128, 2**31 - 1, -(2**31)])
    out = array("b", bytes(7))
    layers.narrow(wide, out)
    assert list(out) == [-128, -128, 126, 127, 127, 127, -128]
    layers.narrow(array("i", [-4, 2]), out, 2, 32767, 17)  # -4 * 32767 / 2**17 = -0.99998
    assert list(out[:2]) == [-1, 0]


def test_limits_of_the_layer_checks():
    with pytest.raises(ValueError, match="weights: expected 12"):
        layers.Linear(i8([1] * 13), scales_of([(1, 20)] * 3), 3, 4)
    with pytest.raises(ValueError, match="scales: expected 6"):
        layers.Linear(i8([1] * 12), scales_of([(1, 20)] * 4), 3, 4)
    with pytest.raises(TypeError, match="scales"):
        layers.Linear(i8([1] * 12), array("h", [1, 20] * 3), 3, 4)
    table = i8([1] * 12)
    emb = layers.Embedding(table, 3, 4)
    table.append(1)
    with pytest.raises(ValueError, match="table: resized"):
        emb.lookup(0, array("b", bytes(4)))
    out = array("b", bytes(1))
    layers.narrow(array("i", [1 << 20]), out, None, 32767, 40)
    with pytest.raises(ValueError, match="m: expected 0..32767"):
        layers.narrow(array("i", [1]), out, None, 32768, 17)


def test_argmax_takes_the_first_of_equal_maxima():
    assert _layers.argmax32(array("i", [5, 7, 7, -1]), 4) == 1
    assert _layers.argmax32(array("i", [-3, -3]), 2) == 0
    assert _layers.argmax32(array("i", [-(2**31), 2**31 - 1, 2**31 - 1]), 3) == 1
