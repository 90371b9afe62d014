"""tools/board/board_check.py: which firmware may receive which package, decided from sys.implementation."""

import pytest

from board import board_check, boards

ARCH_CODE = {"x64": 2, "armv6m": 4, "armv7emsp": 7, "xtensawin": 10, "rv32imc": 11}


def device(version, arch="xtensawin", sub=3, mpy_version=6, machine="Generic ESP32 module"):
    mpy = None if arch is None else mpy_version | sub << 8 | ARCH_CODE[arch] << 10
    return {"version": version, "mpy": mpy, "machine": machine, "platform": "esp32"}


ESP32 = device((1, 28, 0), machine="Generic ESP32 module with ESP32")
C3 = device((1, 28, 0), "rv32imc", machine="ESP32C3 module with ESP32C3")
UNIX = device((1, 29, 0), "x64", machine="linux [GCC 14.2.1] version")
PICO = device((1, 28, 0), "armv6m", machine="Raspberry Pi Pico with RP2040")
PICO2 = device((1, 28, 0), "armv7emsp", machine="Raspberry Pi Pico2 with RP2350")


def test_arch_from_mpy():
    assert board_check.arch(ESP32["mpy"]) == "xtensawin"
    assert board_check.arch(C3["mpy"]) == "rv32imc"
    assert board_check.arch(UNIX["mpy"]) == "x64"
    assert board_check.arch(6 | 3 << 8) is None  # no native emitter
    assert board_check.arch(None) is None


@pytest.mark.parametrize(
    "dev, name",
    [
        (ESP32, "esp32"),
        (ESP32, "esp32s3"),
        (C3, "esp32c3"),
        (C3, "esp32c6"),
        (ESP32, None),
        (PICO, "rp2040"),
        (PICO2, "rp2350"),
        (PICO2, "rp2040"),  # a Thumb firmware loads armv6m files up to its own arch
        (PICO, None),
        (PICO2, None),
    ],
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


def test_thumb_firmwares_load_the_older_thumb_archs_only():
    """py/persistentcode.h: MPY_FEATURE_ARCH_TEST on Thumb accepts armv6m up to the
    firmware's own arch; every other arch accepts only its own."""
    assert board_check.loads("armv7emsp", "armv6m") and board_check.loads("armv6m", "armv6m")
    assert not board_check.loads("armv6m", "armv7emsp")
    assert not board_check.loads("xtensawin", "armv6m")
    assert not board_check.loads("armv7emsp", "rv32imc")
    assert (
        board_check.arch(PICO["mpy"]) == "armv6m" and board_check.arch(PICO2["mpy"]) == "armv7emsp"
    )


@pytest.mark.parametrize(
    "dev, name, arch, fix",
    [
        (PICO, "rp2350", "armv7emsp", "BOARD=rp2040"),  # the RP2350's files on an RP2040
        (ESP32, "rp2040", "armv6m", "BOARD=esp32 or BOARD=esp32s3"),
        (PICO, "esp32", "xtensawin", "BOARD=rp2040"),
        (PICO2, "esp32c3", "rv32imc", "BOARD=rp2350"),
    ],
)
def test_another_arch_is_refused_on_the_rp2_boards_too(dev, name, arch, fix):
    (message,) = board_check.problems(dev, name)
    assert "incompatible .mpy arch" in message
    assert f"BOARD={name} builds {arch} .mpy files" in message
    assert f"({board_check.arch(dev['mpy'])})" in message and fix in message


def test_an_rp2_firmware_before_1_28_is_refused_with_a_uf2_to_flash():
    (message,) = board_check.problems(device((1, 27, 0), "armv6m", machine="Pico"), "rp2040")
    assert "older than 1.28.0, the oldest release trusted for RP2040" in message
    assert "make flash BOARD=rp2040 FIRMWARE=<file.uf2>" in message and "PORT=" not in message
    assert "https://micropython.org/download/RPI_PICO/" in message


@pytest.mark.parametrize("arch", ["xtensawin", "rv32imc", "armv6m", "armv7emsp"])
def test_mpy_header_of_a_built_package(tmp_path, arch):
    boards.compile_package(boards.SRC, tmp_path, arch)
    assert board_check.mpy_header(tmp_path / "attention" / "_kernels.mpy") == (6, 3, arch)


@pytest.mark.parametrize("dev, name", [(PICO, "rp2040"), (PICO2, "rp2350"), (PICO2, "rp2040")])
def test_deploy_builds_the_boards_arch(dev, name, monkeypatch, tmp_path):
    """tools/board/deploy.py with BOARD=rp2040 or rp2350, for a board that answers as an
    RP2040 or RP2350 would: the package it copies is compiled with -march of the board
    file (the header of every .mpy with native code names that arch). The copy itself is
    test_deploy.py's, on the virtual board."""
    import io

    from board import deploy

    monkeypatch.setattr(deploy, "ROOT", tmp_path)
    package, what = deploy.choose_package("/dev/ttyACM0", dev, name, None, io.StringIO())
    arch = boards.load(name)["mpy_arch"]
    assert package == tmp_path / "build" / arch / "attention"
    assert board_check.mpy_header(package / "_kernels.mpy") == (6, 3, arch)
    assert name in what and arch in what


def test_deploy_refuses_the_rp2350_files_on_an_rp2040_before_compiling(monkeypatch, tmp_path):
    from board import deploy

    monkeypatch.setattr(deploy.link, "probe", lambda port: PICO)
    monkeypatch.setattr(deploy, "ROOT", tmp_path)
    with pytest.raises(deploy.DeployError, match="BOARD=rp2350 builds armv7emsp .mpy files"):
        deploy.deploy("/dev/ttyACM0", "rp2350", out=open(tmp_path / "log", "w"))
    assert not (tmp_path / "build").exists()
