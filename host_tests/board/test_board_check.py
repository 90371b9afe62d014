"""tools/board/board_check.py: which firmware may receive which package, decided from sys.implementation."""

import pytest

from board import board_check, boards

ARCH_CODE = {"x64": 2, "xtensawin": 10, "rv32imc": 11}


def device(version, arch="xtensawin", sub=3, mpy_version=6, machine="Generic ESP32 module"):
    mpy = None if arch is None else mpy_version | sub << 8 | ARCH_CODE[arch] << 10
    return {"version": version, "mpy": mpy, "machine": machine, "platform": "esp32"}


ESP32 = device((1, 28, 0), machine="Generic ESP32 module with ESP32")
C3 = device((1, 28, 0), "rv32imc", machine="ESP32C3 module with ESP32C3")
UNIX = device((1, 29, 0), "x64", machine="linux [GCC 14.2.1] version")


def test_arch_from_mpy():
    assert board_check.arch(ESP32["mpy"]) == "xtensawin"
    assert board_check.arch(C3["mpy"]) == "rv32imc"
    assert board_check.arch(UNIX["mpy"]) == "x64"
    assert board_check.arch(6 | 3 << 8) is None  # no native emitter
    assert board_check.arch(None) is None


@pytest.mark.parametrize(
    "dev, name",
    [(ESP32, "esp32"), (ESP32, "esp32s3"), (C3, "esp32c3"), (C3, "esp32c6"), (ESP32, None)],
)
def test_a_matching_board_is_accepted(dev, name):
    assert board_check.problems(dev, name, mpy_files=(6, 3)) == []


def test_the_wrong_arch_is_refused_naming_both_sides_and_the_fix():
    (message,) = board_check.problems(C3, "esp32")
    assert "incompatible .mpy arch" in message
    assert "BOARD=esp32 builds xtensawin" in message and "(rv32imc)" in message
    assert "ESP32C3 module" in message and "1.28.0" in message
    assert "BOARD=esp32c3 or BOARD=esp32c6" in message and "without BOARD=" in message


def test_a_unix_port_gets_no_esp32_mpy_files_but_may_take_the_sources():
    (message,) = board_check.problems(UNIX, "esp32")
    assert "incompatible .mpy arch" in message and "(x64)" in message
    assert "no board in boards/ builds x64" in message
    assert board_check.problems(UNIX) == []


@pytest.mark.parametrize("name", ["esp32c3", None])
def test_riscv_before_1_28_is_refused(name):
    (message,) = board_check.problems(device((1, 27, 0), "rv32imc"), name)
    assert "1.27.0" in message and "older than 1.28.0" in message
    assert "https://micropython.org/download/ESP32_GENERIC_C3/" in message


def test_xtensa_floor_is_1_26():
    assert board_check.problems(device((1, 26, 0)), "esp32") == []
    (message,) = board_check.problems(device((1, 25, 0)), "esp32s3")
    assert "older than 1.26.0" in message and "ESP32_GENERIC_S3" in message


def test_a_firmware_without_native_code_is_refused():
    (message,) = board_check.problems(device((1, 28, 0), None))
    assert "cannot run viper code" in message


def test_an_mpy_version_mismatch_is_refused():
    (message,) = board_check.problems(ESP32, "esp32", mpy_files=(6, 2))
    assert "incompatible .mpy file" in message and "6.2" in message and "6.3" in message


def test_parse_reads_the_last_answer_line():
    out = "some boot noise\r\n((1, 28, 0), 11782, 'ESP32C3 module with ESP32C3', 'esp32')\r\n"
    assert board_check.parse(out) == {
        "version": (1, 28, 0),
        "mpy": 11782,
        "machine": "ESP32C3 module with ESP32C3",
        "platform": "esp32",
    }
    with pytest.raises(ValueError):
        board_check.parse("Traceback ...")


@pytest.mark.parametrize("arch", ["xtensawin", "rv32imc"])
def test_mpy_header_of_a_built_package(tmp_path, arch):
    boards.compile_package(boards.SRC, tmp_path, arch)
    assert board_check.mpy_header(tmp_path / "attention" / "_kernels.mpy") == (6, 3, arch)
