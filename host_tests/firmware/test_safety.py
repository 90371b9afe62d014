"""The safety promises: checks decided from the buffer as it is, sealed sizes, refused
aliasing, matching rows. Shim tests here; the same promises on the real unix port below."""

import re
import subprocess
import sys
from array import array

import pytest
from attention import KVCache, LinearAttention, MicroAttention, SlidingWindowAttention
from conftest import MICROPYTHON, run_micropython


def int8s(count, start=0):
    return array("b", [(start + 7 * i) % 256 - 128 for i in range(count)])


def int32s(count):
    return array("i", bytes(4 * count))


# --- checks that cannot go stale -------------------------------------------------


def test_a_refused_empty_array_stays_refused_after_it_grows():
    attn = MicroAttention(4, 1)
    scores = array("b")
    with pytest.raises(TypeError, match="scores: expected an int32 buffer.*got array\\('b'\\)"):
        attn.softmax_fixed(scores)
    scores.extend(bytes(256))
    with pytest.raises(TypeError, match="scores"):
        attn.compute_scores(int8s(4), int8s(4 * 256), scores)


def test_a_buffer_refused_as_short_is_accepted_once_long_enough():
    attn = MicroAttention(4, 1)
    query, keys = int8s(4), int8s(12)
    scores = int32s(2)
    with pytest.raises(ValueError, match="scores: expected at least 3 int32 items, got 2"):
        attn.compute_scores(query, keys, scores)
    scores.extend(int32s(1))
    attn.compute_scores(query, keys, scores)
    assert list(scores) == [
        sum(q * k for q, k in zip(query, keys[4 * i :])) >> 1 for i in (0, 1, 2)
    ]


def test_an_accepted_buffer_is_refused_once_shrunk():
    attn = MicroAttention(4, 1)
    scores = int32s(3)
    attn.compute_scores(int8s(4), int8s(12), scores)
    del scores[1:]
    with pytest.raises(ValueError, match="scores: expected at least 3"):
        attn.compute_scores(int8s(4), int8s(12), scores)


def test_no_reference_to_a_buffer_is_kept():
    attn = MicroAttention(8, 2)
    buffers = [int8s(8), int8s(32), int8s(32), int32s(8)]
    before = [sys.getrefcount(b) for b in buffers]
    attn.forward(*buffers)
    attn.compute_scores(buffers[0], buffers[1], int32s(8))
    assert [sys.getrefcount(b) for b in buffers] == before


@pytest.mark.parametrize(
    "buf, kind",
    [
        (array("h", [0] * 4), "array('h')"),
        (array("I", [0] * 4), "array('I')"),
        (array("f", [0] * 4), "array('f')"),
        (array("q", [0] * 4), "array('q')"),
        (bytearray(16), "bytearray"),
        (bytes(16), "bytes"),
        ([0] * 4, "list"),
        (None, "NoneType"),
    ],
)
def test_type_errors_say_what_was_passed(buf, kind):
    attn = MicroAttention(4, 1)
    with pytest.raises(
        TypeError, match="output: expected an int32 buffer.*got " + re.escape(kind)
    ):
        attn.weighted_sum(int32s(1), int8s(4), buf)


@pytest.mark.parametrize(
    "buf, kind",
    [
        (array("h", [1] * 4), "array('h')"),
        (array("H", [1] * 4), "array('H')"),
        (array("i", [1] * 4), "array('i')"),
        (array("I", [1] * 4), "array('I')"),
        (array("q", [1] * 4), "array('q')"),
        (array("f", [1] * 4), "array('f')"),
        (memoryview(array("i", [1] * 4)), "memoryview('i')"),
        ([1] * 4, "list"),
        (4, "int"),
    ],
)
def test_int8_arguments_refuse_wider_items(buf, kind):
    attn = MicroAttention(4, 1)
    for call in (
        lambda: attn.compute_scores(buf, int8s(4), int32s(1)),
        lambda: attn.compute_scores(int8s(4), buf, int32s(1)),
    ):
        with pytest.raises(TypeError, match="expected an int8 buffer.*got " + re.escape(kind)):
            call()


@pytest.mark.parametrize(
    "buf",
    [array("b", [1] * 4), array("B", [1] * 4), bytearray(4), bytes(4), memoryview(bytearray(4))],
)
def test_every_int8_kind_is_accepted(buf):
    scores = int32s(1)
    MicroAttention(4, 1).compute_scores(buf, buf, scores)


# --- sizes a kernel relies on are sealed -----------------------------------------

SEALED = [
    (
        lambda: MicroAttention(8, 2, "exp2", 5, 3),
        {
            "embed_dim": 8,
            "num_heads": 2,
            "head_dim": 4,
            "scale_shift": 1,
            "softmax_kind": "exp2",
            "logit_shift": 5,
        },
    ),
    (lambda: SlidingWindowAttention(3, 4), {"window_size": 3, "head_dim": 4}),
    (lambda: LinearAttention(4), {"feature_dim": 4, "halvings": 0}),
    (lambda: KVCache(3, 4), {"capacity": 3, "width": 4, "ring": False, "count": 0}),
]


@pytest.mark.parametrize("make, attributes", SEALED)
def test_sizes_are_read_only(make, attributes):
    obj = make()
    for name, value in attributes.items():
        assert getattr(obj, name) == value
        with pytest.raises(AttributeError):
            setattr(obj, name, 4096)
        assert getattr(obj, name) == value


def test_cache_buffers_are_read_only_and_checked_when_resized():
    cache = KVCache(2, 4)
    keys = cache.keys
    for name in ("keys", "values"):
        with pytest.raises(AttributeError):
            setattr(cache, name, array("b", bytes(10)))
    assert cache.keys is keys and len(keys) == 8
    del keys[4:]  # the user may resize the array in place
    with pytest.raises(ValueError, match="keys: expected at least 8"):
        cache.append(int8s(4), int8s(4))
    assert len(cache) == 0


# --- aliasing ----------------------------------------------------------------------


def aliased_calls():
    """(name, call) pairs, each passing an output that shares memory with an input.

    An int8 view of an int32 buffer needs memoryview.cast, which only CPython has
    (on a board, uctypes.bytearray_at can make one): the checks compare addresses,
    whatever the types.
    """
    attn = MicroAttention(4, 1)
    arena = array("i", bytes(4 * 16))
    view = memoryview(arena)
    raw = view.cast("B")
    lin = LinearAttention(4)
    window = SlidingWindowAttention(2, 4)
    cache = KVCache(2, 4)
    return [
        ("weights", lambda: attn.weighted_sum(view[0:8], int8s(4), view[7:15], 1)),
        ("weights", lambda: attn.weighted_sum(view[4:12], int8s(4), view[0:5], 1)),
        ("values", lambda: attn.weighted_sum(int32s(1), raw[0:4], view[0:4], 1)),
        ("query", lambda: attn.compute_scores(raw[0:4], int8s(4), view[0:1])),
        ("keys", lambda: attn.compute_scores(int8s(4), raw[8:12], view[2:3])),
        ("keys", lambda: attn.forward(int8s(4), raw[0:8], int8s(8), view[1:5])),
        ("values", lambda: attn.forward(int8s(4), int8s(8), raw[16:24], view[5:9])),
        ("query", lambda: attn.forward(raw[60:64], int8s(8), int8s(8), view[12:16])),
        ("query", lambda: lin.attend(raw[0:4], view[0:4])),
        ("keys", lambda: lin.forward(int8s(4), raw[0:4], int8s(4), view[0:4])),
        ("values", lambda: window.forward(int8s(4), int8s(8), raw[0:8], 2, view[0:4])),
        ("key", lambda: cache.append(memoryview(cache.keys)[4:8], int8s(4))),
        ("value", lambda: cache.append(int8s(4), memoryview(cache.values)[0:4])),
    ]


@pytest.mark.parametrize("index", range(len(aliased_calls())))
def test_outputs_sharing_memory_with_an_input_are_refused(index):
    name, call = aliased_calls()[index]
    with pytest.raises(ValueError, match="shares memory with " + name):
        call()


def test_one_shared_byte_is_an_overlap():
    """Byte views of an int32 buffer (memoryview.cast, CPython only) that share exactly
    one byte with the output, at its first byte or at its last."""
    attn = MicroAttention(4, 1)
    view = memoryview(array("i", bytes(4 * 4)))
    raw = view.cast("B")
    scores = view[1:2]  # bytes 4 .. 7
    for query in (raw[1:5], raw[7:11]):
        with pytest.raises(ValueError, match="scores: shares memory with query"):
            attn.compute_scores(query, int8s(4), scores)
    for query in (raw[0:4], raw[8:12]):  # next to it on either side
        attn.compute_scores(query, int8s(4), scores)


def test_an_empty_output_shares_nothing():
    """An empty int32 view inside the bytes of an input: no byte is written, so no
    byte is shared."""
    attn = MicroAttention(8, 1)
    view = memoryview(array("i", bytes(4 * 4)))
    raw = view.cast("B")
    attn.compute_scores(raw[0:8], int8s(0), view[1:1])


def test_a_longer_key_or_value_row_is_refused():
    cache = KVCache(2, 4)
    with pytest.raises(ValueError, match="key: expected 4 int8 values, got 5"):
        cache.append(int8s(5), int8s(4))
    with pytest.raises(ValueError, match="value: expected 4 int8 values, got 5"):
        cache.append(int8s(4), int8s(5))
    assert len(cache) == 0


def test_adjacent_views_of_one_buffer_are_accepted():
    attn = MicroAttention(4, 1)
    arena = array("i", [256, 0, 0, 0, 0, 0])
    view = memoryview(arena)
    byte_arena = bytearray(int8s(8))
    attn.weighted_sum(view[0:1], memoryview(byte_arena)[0:4], view[1:5], 1)
    assert list(arena[1:5]) == [v - 256 if v > 127 else v for v in byte_arena[0:4]]
    assert arena[5] == 0
    attn.compute_scores(memoryview(byte_arena)[0:4], memoryview(byte_arena)[4:8], view[5:6])


def test_softmax_and_mask_work_in_place():
    attn = MicroAttention(4, 1)
    scores = array("i", [0, 0, 5])
    attn.apply_causal_mask(scores, 1)
    attn.softmax_fixed(scores)
    # e = 256, 256 and 1 (the masked score is clamped, then floored at 1): 65536 // 513
    assert list(scores) == [127, 127, 0]


# --- rows of keys and values -------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda k, v, o: MicroAttention(4, 2).forward(int8s(4), k, v, o),
        lambda k, v, o: LinearAttention(4).forward(int8s(4), k, v, o),
        lambda k, v, o: LinearAttention(4).update(k, v),
    ],
)
def test_keys_and_values_of_different_row_counts_need_n(call):
    keys, values, output = int8s(12), int8s(8), int32s(4)
    with pytest.raises(ValueError, match="keys and values: 3 and 2 rows"):
        call(keys, values, output)
    with pytest.raises(ValueError, match="keys and values: 2 and 3 rows"):
        call(values, keys, output)


def test_n_must_fit_both_keys_and_values():
    attn = MicroAttention(4, 2)
    keys, values, output = int8s(12), int8s(8), int32s(4)
    with pytest.raises(ValueError, match="n: expected 0..2, got 3"):
        attn.forward(int8s(4), keys, values, output, 3)
    attn.forward(int8s(4), keys, values, output, 2)
    lin = LinearAttention(4)
    with pytest.raises(ValueError, match="n: expected 0..2, got 3"):
        lin.forward(int8s(4), keys, values, output, 3)
    lin.forward(int8s(4), keys, values, output, 2)


@pytest.mark.parametrize("n", [True, False, 2.0, "2", -1, 3, 1 << 40, -(1 << 40)])
def test_odd_n_is_refused(n):
    attn = MicroAttention(4, 1)
    error = ValueError if type(n) is int else TypeError
    with pytest.raises(error, match="n"):
        attn.compute_scores(int8s(4), int8s(8), int32s(2), n)
    with pytest.raises(error, match="n"):
        attn.forward(int8s(4), int8s(8), int8s(8), int32s(4), n)


@pytest.mark.parametrize("pos, error", [(True, TypeError), (2.0, TypeError), (-1, ValueError)])
def test_odd_pos_is_refused(pos, error):
    with pytest.raises(error, match="pos"):
        MicroAttention(4, 1).forward(int8s(4), int8s(8), int8s(8), int32s(4), None, pos)


def test_a_pos_past_the_rows_masks_nothing():
    attn = MicroAttention(4, 1)
    output, unmasked = int32s(4), int32s(4)
    attn.forward(int8s(4), int8s(8), int8s(8, 3), output, None, 1 << 40)
    attn.forward(int8s(4), int8s(8), int8s(8, 3), unmasked)
    assert output == unmasked


# --- the same promises on the real unix port -------------------------------------

UNIX_SCRIPT = """
import gc, micropython
from array import array
from attention import MicroAttention, KVCache

attn = MicroAttention(64, 1, max_len=8)
query = array("b", bytes(64))

# 1. Dropped buffers are freed: the checks keep no reference.
def churn():
    for _ in range(3):
        keys = array("b", bytes(65536))
        scores = array("i", bytes(4 * 1024))
        attn.compute_scores(query, keys, scores)


def scrub(depth):  # overwrite stale pointers on the C stack (the collector is conservative)
    return scrub(depth - 1) if depth else 0


gc.collect()
free = gc.mem_free()
churn()
scrub(50)
gc.collect()
print("leaked", free - gc.mem_free())

# 2. Many distinct buffers, heap locked: nothing is allocated by any check.
caches = [KVCache(4, 64) for _ in range(24)]
outputs = [array("i", bytes(256)) for _ in range(24)]
for c in caches:
    c.append(query, query)
gc.collect()
micropython.heap_lock()
for i in range(24):
    c = caches[i]
    attn.forward(query, c.keys, c.values, outputs[i], len(c))
    c.append(query, query)
micropython.heap_unlock()
print("locked ok")

# 3. The sequence that used to write 1024 bytes into 256.
s = array("b")
try:
    attn.softmax_fixed(s)
except TypeError:
    pass
s.extend(bytes(256))
try:
    attn.compute_scores(query, array("b", bytes(64 * 256)), s)
    print("accepted")
except TypeError as e:
    print("refused", e)

# 4. An output that is an input.
w = array("i", bytes(4 * 65))
try:
    attn.weighted_sum(w, query, w)
    print("accepted")
except ValueError as e:
    print("refused", e)
view = memoryview(w)
try:
    attn.weighted_sum(view[0:1], query, view[1:65])
    print("accepted")
except ValueError as e:
    print("refused", e)

# 5. Sealed sizes.
for name in ("head_dim", "embed_dim", "scale_shift"):
    try:
        setattr(attn, name, 4096)
        print("assigned", name)
    except AttributeError:
        pass
print("done")
"""


@pytest.mark.skipif(not MICROPYTHON, reason="micropython (unix port) not installed")
def test_promises_hold_on_the_unix_port(tmp_path):
    script = tmp_path / "safety.py"
    script.write_text(UNIX_SCRIPT)
    out = run_micropython("-X", "heapsize=4M", str(script))
    lines = out.splitlines()
    leaked = int(lines[0].split()[1])
    assert leaked < 1024, lines  # the old memo of checked buffers kept about 200 KB here
    assert lines[1:] == [
        "locked ok",
        "refused scores: expected an int32 buffer (array('i') or a memoryview of one), "
        "got array('b')",
        "refused output: shares memory with weights; pass a separate buffer",
        "accepted",
        "done",
    ]


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: KVCache(None, 4), TypeError, "capacity: expected an int, got NoneType"),
        (lambda: KVCache(True, 4), TypeError, "capacity"),
        (lambda: KVCache(0, 4), ValueError, "capacity: expected 1..4194304, got 0"),
        (lambda: KVCache(4, None), TypeError, "width"),
        (lambda: MicroAttention(8, 1, max_len=None), TypeError, "max_len"),
        (lambda: MicroAttention(8, 1, max_len=-1), ValueError, "max_len: expected 0.."),
    ],
)
def test_sizes_given_at_construction_are_ints_in_range(make, error, match):
    with pytest.raises(error, match=match):
        make()


ROWS_SCRIPT = """
from array import array
from attention import MicroAttention

attn = MicroAttention(4, 1)
scores = array("i", bytes(4 * 4194305))
attn.apply_causal_mask(scores, 1 << 40, 4194304)
print("4194304 accepted")
try:
    attn.apply_causal_mask(scores, 1 << 40)
    print("4194305 accepted")
except ValueError as e:
    print(e)
"""


@pytest.mark.skipif(not MICROPYTHON, reason="micropython (unix port) not installed")
def test_at_most_max_rows_on_the_unix_port(tmp_path):
    """One row past 4194304 (the limit that keeps sums of Q8 weights inside int32) is
    refused; the shim's address space is too small for 16 MB of scores."""
    script = tmp_path / "rows.py"
    script.write_text(ROWS_SCRIPT)
    out = run_micropython("-X", "heapsize=48M", str(script))
    assert out.splitlines() == [
        "4194304 accepted",
        "n: at most 4194304 rows, got 4194305",
    ]
