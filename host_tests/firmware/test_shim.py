"""The shim behaves like viper on a 32-bit ESP32, so kernels that would misbehave there fail here."""

import subprocess
from array import array

import micropython
import pytest
from conftest import MICROPYTHON


@micropython.viper
def load8(buf: ptr8, i: int) -> int:
    return buf[i]


@micropython.viper
def load32(buf: ptr32, i: int) -> int:
    return buf[i]


@micropython.viper
def store(buf8: ptr8, buf32: ptr32, value: int):
    buf8[0] = value
    buf32[0] = value


@micropython.viper
def shifts(x: int, n: int) -> int:
    return (x << n) + (x >> n)


def test_pointer_loads_and_stores():
    assert load8(array("b", [-5]), 0) == 251  # ptr8 loads are unsigned
    assert load32(array("i", [-5]), 0) == -5  # ptr32 loads are int32 on the ESP32
    b, i = bytearray(1), array("i", [0])
    store(b, i, -129)
    assert b[0] == 127 and i[0] == -129
    store(b, i, 0x3FFFFFFF * 4 + 7)  # wraps to int32 before it is stored
    assert b[0] == 3 and i[0] == 3


def test_ints_wrap_at_32_bits_and_shift_counts_stay_below_32():
    assert shifts(1, 31) == -(2**31)  # 1 << 31 is the sign bit, 1 >> 31 is 0
    assert shifts(-8, 1) == -20  # >> is arithmetic
    # Count 32 acts as 0 on Xtensa and RISC-V and gives 0 on ARM Thumb: no portable answer.
    with pytest.raises(ValueError, match="shift count 32 is outside 0..31"):
        shifts(1, 32)


# Deliberately wrong kernels: each works under a plain no-op decorator in CPython
# (or on a 64-bit host) and would give wrong answers on an ESP32.


@micropython.viper
def sum_forgetting_sign(buf: ptr8, n: int) -> int:
    s = 0
    i = 0
    while i < n:
        s += buf[i]  # wrong: ptr8 loads are unsigned, the int8 sign is lost
        i += 1
    return s


@micropython.viper
def mean_square_overflowing(buf: ptr8, n: int) -> int:
    s = 0
    i = 0
    while i < n:
        v = (buf[i] ^ 0x80) - 0x80
        s += v * v * 65536  # wrong: the sum leaves int32 before the shift
        i += 1
    return s >> 20


def test_a_kernel_that_forgets_sign_extension_is_caught():
    data = array("b", [-1, -2, 3])
    assert sum(data) == 0
    assert sum_forgetting_sign(data, 3) == 255 + 254 + 3


def test_a_kernel_that_overflows_int32_is_caught():
    data = array("b", [-128] * 4)
    exact = (4 * 128 * 128 * 65536) >> 20  # what a 64-bit host computes: 4096
    assert mean_square_overflowing(data, 4) != exact
    assert (
        mean_square_overflowing(data, 4) == ((4 * 128 * 128 * 65536 + 2**31) % 2**32 - 2**31) >> 20
    )


@micropython.viper
def scale_down_dividing(acc: int) -> int:
    return acc // 256  # wrong: the floor-division helper overflows near -2**31; >> 8 does not


def test_a_kernel_dividing_where_it_should_shift_is_caught():
    from attention import MicroAttention

    output = array("i", bytes(16))
    MicroAttention(4, 1).weighted_sum(array("i", [2**24]), array("b", [-128] * 4), output)
    assert list(output) == [(2**24 * -128) >> 8] * 4  # -8388608, as the reference's >> 8
    # -2**31 // 256 through the helper: -2**31 - 255 wraps to 2**31 - 255, then / 256
    assert scale_down_dividing(2**24 * -128) == 8388607


def test_out_of_bounds_access_raises():
    @micropython.viper
    def write_past_end(buf: ptr32, n: int):
        buf[n] = 1

    with pytest.raises(IndexError, match="out-of-bounds"):
        write_past_end(array("i", [0, 0]), 2)


def test_literals_beyond_2_to_the_30_are_refused_like_mpy_cross():
    with pytest.raises(SyntaxError, match="outside"):

        @micropython.viper
        def big_literal(x: int) -> int:
            return x & 0x80000000


def test_unary_minus_on_variables_is_refused():
    with pytest.raises(SyntaxError, match="unary"):

        @micropython.viper
        def negate(x: int) -> int:
            return -x


def test_address_round_trip():
    @micropython.viper
    def second(buf: ptr8) -> int:
        return ptr8(int(buf) + 1)[0]

    assert second(bytearray([7, 9])) == 9


# Floor division and modulo: MicroPython's helpers in py/smallint.c, in int32.


@micropython.viper
def floor_divide(a: int, b: int) -> int:
    return a // b


@micropython.viper
def modulo(a: int, b: int) -> int:
    return a % b


def test_floor_divide_follows_the_c_helper_in_int32():
    # num < 0, denom >= 0: num += -denom + 1, so -2**31 - 2 wraps to 2**31 - 2; / 3
    assert floor_divide(-(2**31), 3) == 715827882
    # num >= 0, denom < 0: num += -denom - 1, so 2**31 wraps to -2**31; / -2
    assert floor_divide(2**31 - 1, -2) == 1073741824
    # away from the ends: Python's floor semantics
    assert [
        floor_divide(7, 2),
        floor_divide(-7, 2),
        floor_divide(7, -2),
        floor_divide(-7, -2),
    ] == [
        3,
        -4,
        -4,
        3,
    ]
    # num += -1: -2**31 - 1 wraps to 2**31 - 1, and / 2 truncates
    assert floor_divide(-(2**31), 2) == 1073741823


def test_modulo_takes_the_sign_of_the_divisor():
    assert [modulo(7, 2), modulo(-7, 2), modulo(7, -2), modulo(-7, -2)] == [1, 1, -1, -1]
    assert [modulo(6, -3), modulo(-6, 3)] == [0, 0]
    # C: -2**31 % 3 is -2, then + 3
    assert modulo(-(2**31), 3) == 1
    assert modulo(2**31 - 1, -2) == -1  # C: 1, then + -2


def test_division_by_zero_still_raises():
    with pytest.raises(ZeroDivisionError):
        floor_divide(1, 0)
    with pytest.raises(ZeroDivisionError):
        modulo(1, 0)


# uint: the same 32 bits, seen unsigned.


@micropython.viper
def uint_greater(a: int, b: int) -> int:
    if uint(a) > uint(b):
        return 1
    return 0


@micropython.viper
def uint_shift(a: int, n: int) -> int:
    return int(uint(a) >> n)


@micropython.viper
def as_uint(a: int) -> uint:
    return uint(a)


@micropython.viper
def uint_sub(a: uint, b: int) -> uint:
    return a - b


@micropython.viper
def uint_mul(a: int, b: int) -> uint:
    return uint(a) * b


@micropython.viper
def int_plus_uint_shift(a: int, n: int) -> int:
    return (0 + uint(a)) >> n  # the left operand is an int: arithmetic shift


@micropython.viper
def uint_as_int_is_negative(a: uint) -> int:
    if int(a) < 0:
        return 1
    return 0


def test_uint_compares_unsigned():
    assert uint_greater(-1, 1) == 1
    assert uint_greater(1, -1) == 0
    assert uint_greater(2**31, 2**31 - 1) == 1  # -2**31 as a uint is 2**31


def test_uint_shift_right_is_logical():
    assert uint_shift(-1, 28) == 15
    assert uint_shift(-(2**31), 31) == 1
    assert int_plus_uint_shift(-1, 28) == -1


def test_uint_results_and_wrapping():
    assert as_uint(-1) == 4294967295
    assert as_uint(5) == 5
    assert uint_sub(0, 1) == 4294967295  # wraps mod 2**32
    assert uint_sub(-1, -1) == 0
    assert uint_mul(0x3FFFFFFF, 8) == 0xFFFFFFF8
    assert uint_as_int_is_negative(-1) == 1
    assert uint_as_int_is_negative(2**31 - 1) == 0


def test_uint_refuses_what_viper_refuses():
    @micropython.viper
    def mixed(a: int) -> int:
        if uint(a) < 1:  # a literal is an int
            return 1
        return 0

    @micropython.viper
    def divide(a: int) -> int:
        return int(uint(a) // 2)

    with pytest.raises(TypeError, match="comparison of int and uint"):
        mixed(3)
    with pytest.raises(TypeError, match="uint"):
        divide(3)


# Stores into bytes happen on a board: viper does not know bytes are immutable.


@micropython.viper
def poke(buf: ptr8, i: int, value: int) -> int:
    buf[i] = value
    return buf[i]


def test_a_store_into_bytes_is_observed():
    b = bytes([120, 121, 122])
    assert poke(b, 0, 42) == 42
    assert b == b"*yz"
    c = bytes([1, 2, 3, 4])
    poke(memoryview(c)[2:], 1, 300)  # the low 8 bits land in c[3]
    assert c == bytes([1, 2, 3, 44])
    with pytest.raises(TypeError):  # CPython shares every 1-byte bytes object
        poke(bytes([7]), 0, 1)


# Object headers (py/objarray.h) in the simulated 32-bit address space, found as the
# package finds them: the object stored in an array('O'), whose items are raw pointers.


@micropython.viper
def header(x, frame, data: ptr8, out: ptr32):
    frame[0] = x
    at = ptr32(frame)[0]  # x's header
    h = ptr32(at)
    out[0] = h[0]
    out[1] = h[1] & 0xFF  # typecode
    out[2] = h[1] >> 8  # free: a memoryview's offset in elements
    out[3] = h[2]  # len in elements
    out[4] = h[3] - int(data)  # items pointer, relative to the data pointer
    out[5] = ptr8(at + 4)[0]  # the typecode byte, little-endian
    frame[0] = x
    out[6] = ptr32(frame)[0] - at  # the same header within a call


def read_header(x):
    out = array("i", [-1] * 7)
    header(x, array("O", [None]), x, out)
    assert out[0] != 0 and out[5] == out[1] and out[6] == 0
    return list(out[1:5])


def test_headers_of_arrays():
    assert read_header(array("b", [1, -2, 3])) == [ord("b"), 0, 3, 0]
    assert read_header(array("i", [1, 2])) == [ord("i"), 0, 2, 0]
    assert read_header(bytearray(10)) == [1, 0, 10, 0]


def test_headers_of_memoryviews():
    ba = bytearray(10)
    assert read_header(memoryview(ba)) == [0x81, 0, 10, 0]
    # a slice keeps its parent's items pointer and counts its offset in free
    assert read_header(memoryview(ba)[3:7]) == [0x81, 3, 4, -3]
    assert read_header(memoryview(array("i", [1, 2, 3, 4]))[1:]) == [ord("i") | 0x80, 1, 3, -4]
    assert read_header(memoryview(bytes([1, 2, 3, 4]))) == [ord("B"), 0, 4, 0]
    assert read_header(memoryview(bytes(6))[2:]) == [ord("B"), 2, 4, -2]


@micropython.viper
def raw_id(x) -> int:
    return int(id(x))  # noqa: RUF046 (viper's id() gives an object)


@micropython.viper
def pointer(x, frame) -> int:
    frame[0] = x
    return ptr32(frame)[0]


@micropython.viper
def type_word(x, frame) -> int:
    frame[0] = x
    return ptr32(ptr32(frame)[0])[0]


def test_id_of_immediates_is_not_word_aligned():
    # py/obj.h, representation A: a small int n is 2n + 1; None, False and True are
    # immediate objects ending in 0b110. None of them is an address.
    assert [raw_id(x) for x in (0, 5, -3)] == [1, 11, -5]
    assert [raw_id(x) & 3 for x in (None, False, True)] == [2, 2, 2]
    frame = array("O", [None])
    assert [pointer(x, frame) for x in (0, 5, None)] == [1, 11, 6]  # the same bits


def test_a_header_starts_with_its_type():
    frame = array("O", [None])
    for kind, sample in ((bytes, b"ab"), (list, [1]), (float, 1.5), (str, "ab")):
        assert type_word(sample, frame) == pointer(kind, frame) != 0
        assert pointer(kind, frame) & 3 == 0
    assert len({pointer(kind, frame) for kind in (array, bytearray, bytes, memoryview, list)}) == 5


def test_headers_of_bytes():
    data = bytes([1, 2, 3, 4, 5])
    out = array("i", [-1] * 7)
    header(data, array("O", [None]), data, out)
    assert out[3:5] == array("i", [5, 0])  # word 2 the length, word 3 the data


def test_header_fields_agree_with_the_unix_port():
    if not MICROPYTHON:
        pytest.skip("micropython (unix port) not installed")
    # The same layout on a 64-bit port: words are 8 bytes, so word 1 is at +8.
    code = """
import micropython
from array import array
@micropython.viper
def fields(x, frame) -> int:
    frame[0] = x
    slot = ptr32(frame)
    p = ptr8(slot[0] | (slot[1] << 32))  # the header's address, a 64-bit pointer
    return p[8] | (p[9] << 8) | (p[16] << 16)
ba = bytearray(10)
for o in (array('b', [1, 2, 3]), array('i', [1, 2]), ba, memoryview(ba)[3:7],
          memoryview(array('i', [1, 2, 3, 4]))[1:], memoryview(b'abcdef')[2:]):
    v = fields(o, array('O', [None]))
    print(v & 255, (v >> 8) & 255, v >> 16)
"""
    done = subprocess.run(
        [MICROPYTHON, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    port = [[int(f) for f in line.split()] for line in done.stdout.split("\n") if line]
    ba = bytearray(10)
    objects = (
        array("b", [1, 2, 3]),
        array("i", [1, 2]),
        ba,
        memoryview(ba)[3:7],
        memoryview(array("i", [1, 2, 3, 4]))[1:],
        memoryview(bytes([97, 98, 99, 100, 101, 102]))[2:],
    )
    assert port == [read_header(o)[:3] for o in objects]
