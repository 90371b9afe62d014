"""How the package reads buffers on a 32-bit port, through the shim's model of one.

- no shift count reaches 32 (ARM Thumb shifts by 32 give 0, Xtensa and RISC-V wrap);
- headers are found for objects in every address range a 32-bit port hands out, including
  at and above 0x80000000, where id() would allocate a long int;
- outputs must be writable: bytes and read-only memoryviews are refused, and not written;
- a memoryview's offset is 24 bits wide: 2**23 items and more are not a negative offset;
- the import check refuses a layout that measure() does not read right;
- no assignment to an object's attributes, private ones included, lets a kernel write
  outside a buffer (the shim checks every access: it would raise IndexError).
"""

import random
import shutil
import subprocess
from array import array

import micropython
import pytest
from attention import KVCache, LinearAttention, MicroAttention, SlidingWindowAttention, layers
from attention import _check, _memory
from conftest import MICROPYTHON, REPO
from micropython import uint

INT8, INT32 = _memory.INT8, _memory.INT32


# --- shift counts ------------------------------------------------------------------


@micropython.viper
def shift_left(x: int, count: int) -> int:
    return x << count


def test_a_shift_count_of_32_or_more_is_an_error_in_the_shim():
    assert shift_left(1, 31) == -(2**31)
    for count in (32, 33, 64, -1):
        with pytest.raises(ValueError, match="shift count"):
            shift_left(1, count)


def test_the_word_size_is_read_without_a_shift_of_32():
    # measure() works out the word size as 2**16 * 2**16 == 0 on a 32-bit port; the
    # shim models one, so a 4-byte word: the header fields of an array are found there.
    frame = _check.frame()
    assert _memory.measure(bytearray(5), None, None, None, INT8, frame) == 0
    assert frame[1][0] == 5


# --- addresses in every range ------------------------------------------------------


@micropython.viper
def addresses(a, b, c, d, out: ptr32):
    out[0] = int(ptr8(a))
    out[1] = int(ptr8(b))
    out[2] = int(ptr8(c))
    out[3] = int(ptr8(d))


def test_the_shim_places_buffers_in_all_three_ranges():
    out = array("i", bytes(16))
    addresses(bytearray(4), bytearray(4), bytearray(4), bytearray(4), out)
    places = sorted(a & 0xFFFFFFFF for a in out)
    assert places[0] < 0x40000000  # the ESP32s: id() a positive small int
    assert any(0x40000000 <= a < 0x80000000 for a in places)  # ESP32-C6: a negative one
    assert places[-1] >= 0x80000000  # 32-bit Linux, SDRAM: id() a long int


@micropython.viper
def header_and_id(x, frame, out: ptr32, first, second, skip: int):
    if skip > 0:  # buffers placed before x's header: it lands in another range
        out[2] = ptr8(first)[0]
    if skip > 1:
        out[2] = ptr8(second)[0]
    frame[0] = x
    out[0] = ptr32(frame)[0]  # the raw pointer an array('O') holds: the header's address
    out[1] = int(id(x))  # noqa: RUF046 (viper's id() gives an object)


def test_id_in_the_shim_is_a_32_bit_ports():
    # Why measure() does not use id(): py/modbuiltins.c keeps 31 bits of an address below
    # 0x80000000 (bit 30 copied into bit 31) and makes a long int of one above it.
    frame = _check.frame()
    seen = set()
    for skip in range(3):
        out = array("i", bytes(12))
        header_and_id(bytearray(4), frame, out, bytearray(1), bytearray(1), skip)
        header, got = out[0] & 0xFFFFFFFF, out[1] & 0xFFFFFFFF
        if header < 0x40000000:
            assert got == header
        elif header < 0x80000000:
            assert got == header | 0x80000000  # negative: not the address
        else:
            assert got == header  # a long int's low word, allocated on a board
        seen.add(min(header >> 30, 2))
    assert seen == {0, 1, 2}


def _buffers(rng):
    """A random buffer and its kind, length in items, and the parent it is a view of."""
    kind = rng.choice(("b", "B", "i", "bytearray", "bytes", "view", "view i", "view bytes"))
    size = rng.choice((0, 1, 3, 16, 100))
    if kind == "bytearray":
        return bytearray(size), INT8, size, None
    if kind == "bytes":
        return bytes(size), INT8, size, None
    if kind in ("b", "B"):
        return array(kind, bytes(size)), INT8, size, None
    if kind == "i":
        return array("i", bytes(4 * size)), INT32, size, None
    parent = array("i", bytes(4 * (size + 5))) if kind == "view i" else bytearray(size + 5)
    if kind == "view bytes":
        parent = bytes(size + 5)
    start = rng.randrange(6)
    view = memoryview(parent)[start : start + size]
    return view, (INT32 if kind == "view i" else INT8), len(view), parent


def test_lengths_kinds_and_overlaps_in_every_range():
    # Four buffers a call: headers and data fall in the three ranges in every order.
    rng = random.Random(2)
    frame = _check.frame()
    for _ in range(400):
        picked = [_buffers(rng) for _ in range(4)]
        out, a, b, c = (p[0] for p in picked)
        kinds = _check.kinds(*(p[1] for p in picked))
        status = _memory.measure(out, a, b, c, kinds, frame)
        facts = frame[1]
        if type(out) is bytes or (type(out) is memoryview and out.readonly):
            assert status == -1 and facts[0] == _memory.READ_ONLY
            continue
        shared = 0
        for i in (1, 2, 3):
            other = picked[i][0]
            if len(out) and len(other) and _overlap(out, other):
                shared |= 1 << i
        assert status == shared
        assert [facts[i] for i in range(4)] == [p[2] for p in picked]


def _overlap(x, y):
    """Whether buffers x and y share bytes, from CPython's own addresses."""

    def span(v):
        mv = memoryview(v).cast("B")
        start = micropython._host_address(v)
        return start, start + mv.nbytes

    (a, b), (c, d) = span(x), span(y)
    return a < d and c < b


# --- read-only outputs -------------------------------------------------------------


def _readonly(size):
    return (bytes(size), memoryview(bytes(size)), memoryview(bytes(size + 3))[1 : size + 1])


OUTPUTS = [
    ("relu", lambda out: layers.relu(out), "buf", 8),
    ("add_saturate", lambda out: layers.add_saturate(out, bytes(8)), "out", 8),
    ("activate", lambda out: layers.activate(out, bytes(256)), "buf", 8),
    ("narrow", lambda out: layers.narrow(array("i", bytes(32)), out), "out", 8),
    (
        "Linear.forward",
        lambda out: layers.Linear(bytes(16), array("i", [1, 17] * 4), 4, 4).forward(bytes(4), out),
        "out",
        4,
    ),
    ("RMSNorm.forward", lambda out: layers.RMSNorm(8, 5).forward(bytes(8), out), "out", 8),
    (
        "Embedding.lookup",
        lambda out: layers.Embedding(bytes(16), 2, 8).lookup(1, out),
        "out",
        8,
    ),
]


@pytest.mark.parametrize("name, call, argument, size", OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_a_read_only_output_is_refused_and_left_alone(name, call, argument, size):
    for out in _readonly(size):
        before = bytes(out)
        with pytest.raises(TypeError, match=argument + ": expected a writable buffer"):
            call(out)
        assert bytes(out) == before


def test_a_bytes_constant_stays_what_it_is():
    def constant():
        return b"\x80\x81"

    with pytest.raises(TypeError, match="buf: expected a writable buffer, got bytes"):
        layers.relu(constant())
    assert constant() == b"\x80\x81"


def test_read_only_int8_inputs_are_still_accepted():
    out = bytearray(8)
    layers.add_saturate(out, memoryview(bytes([1] * 8)))
    assert out == bytes([1] * 8)


# --- memoryview offsets of 2**23 items and more ---------------------------------------


def test_an_offset_beyond_2_to_the_23_is_not_negative():
    big = bytearray(2**23 + 64)
    out = memoryview(big)[2**23 + 8 : 2**23 + 24]
    with pytest.raises(ValueError, match="out: shares memory with x"):
        layers.add_saturate(out, memoryview(big)[2**23 : 2**23 + 16])
    layers.add_saturate(out, memoryview(big)[2**23 + 24 : 2**23 + 40])  # apart: accepted


def test_an_int32_offset_beyond_2_to_the_23_items():
    ints = array("i", bytes(4 * (2**23 + 32)))
    attn = MicroAttention(4, 1)
    scores = memoryview(ints)[2**23 + 4 : 2**23 + 8]
    keys = array("b", bytes(16))
    attn.compute_scores(bytes(4), keys, scores)  # apart from the inputs: accepted
    with pytest.raises(ValueError, match="output: shares memory with weights"):
        attn.weighted_sum(memoryview(ints)[2**23 + 2 : 2**23 + 6], keys, scores, 4)


# --- the import check --------------------------------------------------------------


LAYOUT_ERRORS = [
    # the length read from the items word, the items from the length word
    (
        "size = ptr32(header + (word << 1))[0]  # 'b', 'B'",
        "size = ptr32(header + word * 3)[0]  # 'b', 'B'",
        "the length",
    ),
    (
        "            first = ptr32(header + word * 3)[0]\n",
        "            first = ptr32(header + (word << 1))[0]\n",
        "the data address",
    ),
    ("code = 0x81", "code = 1", "the writability"),  # a bytearray seen as read-only
]


@pytest.mark.skipif(not MICROPYTHON, reason="micropython (unix port) not installed")
@pytest.mark.parametrize("old, new, field", LAYOUT_ERRORS, ids=["length", "address", "write"])
def test_a_layout_measure_misreads_fails_the_import(tmp_path, old, new, field):
    package = tmp_path / "attention"
    shutil.copytree(REPO / "firmware" / "attention", package)
    source = (package / "_memory.py").read_text()
    assert source.count(old) == 1
    (package / "_memory.py").write_text(source.replace(old, new))
    done = subprocess.run(
        [MICROPYTHON, "-c", "import attention"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"MICROPYPATH": str(tmp_path)},
        check=False,
    )
    printed = done.stdout + done.stderr  # the unix port prints tracebacks to stdout
    assert done.returncode != 0
    assert "ImportError: attention: micropython" in printed
    assert field in printed and "the package cannot check buffers" in printed


def test_the_import_check_passes_in_the_shim_and_is_gone_afterwards():
    import sys

    import attention

    assert "attention._selfcheck" not in sys.modules
    assert "_selfcheck" not in vars(attention)  # (asking for it would import it again)


# --- private attributes ------------------------------------------------------------


def test_a_private_head_dim_cannot_write_past_the_query_scratch():
    m = MicroAttention(8, 1)
    m._head_dim = 64
    with pytest.raises(ValueError, match="sizes were changed"):
        m.compute_scores(bytes(64), bytes(64), array("i", [0]))


@pytest.mark.parametrize("call", ["reset", "update", "attend"])
def test_a_private_feature_dim_one_larger_cannot_write_past_the_sums(call):
    a = LinearAttention(8)
    a._feature_dim = 9  # the sums hold 4 * 8 int32; 4 * 9 would run one row past them
    calls = {
        "reset": lambda: a.reset(),
        "update": lambda: a.update(bytes(9), bytes(9)),
        "attend": lambda: a.attend(bytes(9), array("i", bytes(36))),
    }
    with pytest.raises(ValueError, match="sizes were changed"):
        calls[call]()


HOSTILE = (0, 1, -1, 3, 64, 4096, 2**31, -(2**31), 2**40, None, 1.5)


def _subjects():
    """(an object, the calls to try on it): each call is tried on its own, so a refusal of
    one does not keep the next from running."""
    yield (
        MicroAttention(8, 2, max_len=4),
        (
            lambda o: o.compute_scores(bytes(8), bytes(64), array("i", bytes(64))),
            lambda o: o.weighted_sum(array("i", bytes(64)), bytes(64), array("i", bytes(64))),
            lambda o: o.forward(bytes(8), bytes(64), bytes(64), array("i", bytes(32)), None, 3),
        ),
    )
    yield (
        LinearAttention(8),
        (
            lambda o: o.forward(bytes(8), bytes(32), bytes(32), array("i", bytes(32))),
            lambda o: o.update(bytes(16), bytes(16)),
            lambda o: o.attend(bytes(8), array("i", bytes(32))),
            lambda o: o.reset(),
        ),
    )
    yield (
        SlidingWindowAttention(4, 8),
        (lambda o: o.forward(bytes(8), bytes(32), bytes(32), 9, array("i", bytes(32))),),
    )
    yield KVCache(3, 8, ring=True), (lambda o: o.append(bytes(8), bytes(8)),) * 4
    yield (
        layers.Linear(bytes(32), array("i", [1, 17] * 8), 8, 4),
        (
            lambda o: o.forward(bytes(4), bytearray(8)),
            lambda o: o.forward32(bytes(4), array("i", bytes(32))),
            lambda o: o.accumulate(bytes(4)),
        ),
    )
    yield layers.RMSNorm(8, 5), (lambda o: o.forward(bytes(range(8)), bytearray(8)),)
    yield layers.Embedding(bytes(32), 4, 8), (lambda o: o.lookup(3, bytearray(8)),)


def _private(obj):
    return [name for name in vars(obj) if name.startswith("_")]


@pytest.mark.parametrize("index", range(7))
def test_no_private_assignment_makes_a_kernel_write_outside_a_buffer(index):
    # The shim bounds-checks every pointer access: a write outside a buffer would raise
    # IndexError("viper: ..."). Any other exception is the method refusing.
    others = [s for s, _ in _subjects()]
    made, calls = list(_subjects())[index]
    values = list(HOSTILE) + [array("b", bytes(3)), array("i", bytes(12)), bytearray(1)]
    values += [o._frame for o in others] + [o._frame[6] for o in others if len(o._frame) > 6]
    for name in _private(made):
        for value in values:
            obj, _ = list(_subjects())[index]
            setattr(obj, name, value)
            for call in calls:
                try:
                    call(obj)
                except IndexError as e:
                    assert "viper" not in str(e), (name, value, e)
                except Exception:  # noqa: BLE001, S110  (a refusal of any kind is fine here)
                    pass


def test_the_frame_itself_is_checked():
    m = MicroAttention(8, 1)
    m._frame = array("i", bytes(400))  # can hold no objects
    with pytest.raises(TypeError):
        m.softmax(array("i", bytes(8)))
    m._frame = KVCache(1, 1)._frame  # a frame, but not with the scratch a MicroAttention has
    with pytest.raises((TypeError, ValueError)):
        m.compute_scores(bytes(8), bytes(8), array("i", [0]))
    short = _check.frame()
    m._frame = short  # no scratch at all
    with pytest.raises(ValueError, match="frame was replaced"):
        m.compute_scores(bytes(8), bytes(8), array("i", [0]))


def test_uint_compares_unsigned_in_the_shim():
    # measure() compares address distances unsigned: above 2**31 they are negative ints.
    assert uint(-1) > uint(1)
