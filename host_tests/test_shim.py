"""The shim behaves like viper on a 32-bit ESP32, so kernels that would misbehave there fail here."""

from array import array

import micropython
import pytest


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


def test_ints_wrap_at_32_bits_and_shift_counts_mod_32():
    assert shifts(1, 31) == -(2**31)  # 1 << 31 is the sign bit, 1 >> 31 is 0
    assert shifts(1, 32) == 2  # count 32 acts as 0 on Xtensa and RISC-V
    assert shifts(-8, 1) == -20  # >> is arithmetic


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
