"""Tests for boards/*.json and tools/board/boards.py: the board files, flash commands,
ESP and UF2 image checks (compiling and dist: test_dist.py)."""

import io
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from board import boards
from report import doc_block
from conftest import REPO as ROOT
from conftest import boards_cli


FIELDS = {
    "chip": str,
    "mpy_arch": str,
    "flash": str,
    "micropython_board": str,
    "min_micropython": str,
    "description": str,
    "notes": str,
    "sources": list,
}
FLASH_FIELDS = {
    "esptool": {"flash_offset": str, "baud": int},
    "uf2": {"uf2_family": str, "drive": str},
}
ESPTOOL_BOARDS = [n for n in boards.names() if boards.load(n)["flash"] == "esptool"]
UF2_BOARDS = [n for n in boards.names() if boards.load(n)["flash"] == "uf2"]


def image(path, chip_id, magic=0xE9, size=4096):
    """A synthetic ESP image: header, extended header with the chip id, zero padding."""
    header = bytes([magic, 3, 2, 0x20, 0, 0, 0, 0, 0xEE, 0, 0, 0]) + chip_id.to_bytes(2, "little")
    path.write_bytes((header + bytes(size))[:size])
    return path


def esptool_line(line):
    """A printed esptool command: its arguments, after checking its first word runs esptool."""
    words = shlex.split(line)
    if words[1:3] == ["-m", "esptool"]:
        return words[3:]
    assert os.path.basename(words[0]) == "esptool", line
    assert os.access(os.path.join(ROOT, words[0]), os.X_OK), line
    return words[1:]


def version_tuple(s):
    return tuple(int(x) for x in s.split("."))


# Board files.


def test_known_boards():
    assert boards.names() == ["esp32", "esp32c3", "esp32c6", "esp32s3", "rp2040", "rp2350"]
    assert ESPTOOL_BOARDS == ["esp32", "esp32c3", "esp32c6", "esp32s3"]
    assert UF2_BOARDS == ["rp2040", "rp2350"]


@pytest.mark.parametrize("name", boards.names())
def test_board_file_fields(name):
    board = boards.load(name)
    fields = {**FIELDS, **FLASH_FIELDS[board["flash"]]}
    assert set(board) == set(fields)
    for field, kind in fields.items():
        assert type(board[field]) is kind, field
    assert board["chip"] == name
    assert board["mpy_arch"] in {"xtensawin", "rv32imc", "armv6m", "armv7emsp"}
    if board["flash"] == "esptool":
        assert re.fullmatch(r"0x[0-9a-f]+", board["flash_offset"])
        assert board["baud"] > 0
        assert re.fullmatch(r"ESP32_GENERIC(_[A-Z0-9]+)?", board["micropython_board"])
    else:
        assert int(board["uf2_family"], 16) in boards.UF2_FAMILIES
        assert re.fullmatch(r"RPI_PICO2?", board["micropython_board"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", board["min_micropython"])
    assert board["description"] and "\n" not in board["description"]
    assert board["sources"] and all(isinstance(s, str) and s for s in board["sources"])


def test_board_facts():
    expect = {
        "esp32": ("xtensawin", 0x1000, "ESP32_GENERIC"),
        "esp32s3": ("xtensawin", 0x0, "ESP32_GENERIC_S3"),
        "esp32c3": ("rv32imc", 0x0, "ESP32_GENERIC_C3"),
        "esp32c6": ("rv32imc", 0x0, "ESP32_GENERIC_C6"),
    }
    for name, (arch, offset, firmware) in expect.items():
        board = boards.load(name)
        assert board["mpy_arch"] == arch
        assert int(board["flash_offset"], 16) == offset
        assert board["micropython_board"] == firmware
        assert board["baud"] == 460800
        floor = (1, 28, 0) if arch == "rv32imc" else (1, 26, 0)
        assert version_tuple(board["min_micropython"]) >= floor


def test_rp2_board_facts():
    """The RP2040 and RP2350 (Arm): the arch MicroPython's rp2 port reports for each
    (py/persistentcode.h: Thumb-1 armv6m; Thumb-2 with a single-precision FPU
    armv7emsp), the UF2 family ids and drive names of their boot ROMs (RP2350 datasheet
    5.5.3), and the Thumb viper fix of 1.28.0 (PR #18821) as the floor."""
    expect = {
        "rp2040": ("armv6m", 0xE48BFF56, "RPI-RP2", "RPI_PICO"),
        "rp2350": ("armv7emsp", 0xE48BFF59, "RP2350", "RPI_PICO2"),
    }
    for name, (arch, family, drive, firmware) in expect.items():
        board = boards.load(name)
        assert (board["mpy_arch"], int(board["uf2_family"], 16)) == (arch, family)
        assert (board["drive"], board["micropython_board"]) == (drive, firmware)
        assert version_tuple(board["min_micropython"]) >= (1, 28, 0)
        assert "https://github.com/micropython/micropython/pull/18821" in board["sources"]


def test_chips_known_to_esptool():
    from esptool.targets import CHIP_DEFS

    for name in ESPTOOL_BOARDS:
        board = boards.load(name)
        assert board["chip"] in CHIP_DEFS
        # The image starts with the second-stage bootloader.
        rom = CHIP_DEFS[board["chip"]]
        assert int(board["flash_offset"], 16) == rom.BOOTLOADER_FLASH_OFFSET


def test_load_unknown_board():
    with pytest.raises(boards.BoardError, match="esp32, esp32c3, esp32c6, esp32s3, rp2040"):
        boards.load("esp8266")


# Flashing.


def test_flash_dry_run_esp32(tmp_path):
    fw = image(tmp_path / "x.bin", 0)
    r = boards_cli(
        "flash", "--board", "esp32", "--port", "/dev/ttyUSB0", "--firmware", str(fw), "--dry-run"
    )
    assert r.returncode == 0, r.stderr
    assert [esptool_line(line) for line in r.stdout.splitlines()] == [
        ["--chip", "esp32", "--port", "/dev/ttyUSB0", "erase-flash"],
        [
            "--chip",
            "esp32",
            "--port",
            "/dev/ttyUSB0",
            "--baud",
            "460800",
            "write-flash",
            "0x1000",
            str(fw),
        ],
    ]


def test_flash_dry_run_esp32s3_baud_and_quoting(tmp_path):
    fw = image(tmp_path / "my fw.bin", 9)
    r = boards_cli(
        "flash",
        "--board",
        "esp32s3",
        "--port",
        "/dev/tty ACM0",
        "--firmware",
        str(fw),
        "--baud",
        "115200",
        "--dry-run",
    )
    assert r.returncode == 0, r.stderr
    assert "'/dev/tty ACM0'" in r.stdout and shlex.quote(str(fw)) in r.stdout
    assert [esptool_line(line) for line in r.stdout.splitlines()] == [
        ["--chip", "esp32s3", "--port", "/dev/tty ACM0", "erase-flash"],
        [
            "--chip",
            "esp32s3",
            "--port",
            "/dev/tty ACM0",
            "--baud",
            "115200",
            "write-flash",
            "0x0",
            str(fw),
        ],
    ]


def test_image_chip_ids_are_esptools():
    from esptool.targets import CHIP_DEFS

    for chip, chip_id in boards.IMAGE_CHIP_ID.items():
        assert CHIP_DEFS[chip].IMAGE_CHIP_ID == chip_id, chip
        assert boards.chip_name(chip) == CHIP_DEFS[chip].CHIP_NAME


@pytest.mark.parametrize("name", ESPTOOL_BOARDS)
def test_image_checks(name, tmp_path):
    board = boards.load(name)
    own = boards.IMAGE_CHIP_ID[board["chip"]]
    assert boards.image_problem(board, image(tmp_path / "good.bin", own)) is None
    wrong_magic = boards.image_problem(board, image(tmp_path / "m.bin", own, magic=0x4D))
    assert "not an ESP firmware image" in wrong_magic and "0x4D" in wrong_magic
    other = 9 if own != 9 else 5
    wrong_chip = boards.image_problem(board, image(tmp_path / "c.bin", other))
    assert "a firmware for the %s" % ("ESP32-S3" if other == 9 else "ESP32-C3") in wrong_chip
    assert (
        boards.chip_name(board["chip"]) in wrong_chip and board["micropython_board"] in wrong_chip
    )
    (tmp_path / "empty.bin").write_bytes(b"")
    assert "is empty" in boards.image_problem(board, tmp_path / "empty.bin")
    assert "too small" in boards.image_problem(board, image(tmp_path / "s.bin", own, size=16))
    assert "not found" in boards.image_problem(board, tmp_path / "none.bin")


def test_flash_refuses_a_wrong_image_before_any_erase(tmp_path):
    fw = image(tmp_path / "s3.bin", 9)
    r = boards_cli("flash", "--board", "esp32", "--port", "/dev/ttyUSB0", "--firmware", str(fw))
    assert r.returncode != 0
    assert "a firmware for the ESP32-S3, but BOARD=esp32 is an ESP32" in r.stderr
    assert r.stdout == ""  # no esptool command was printed, so none was run
    assert "Traceback" not in r.stderr


def test_flash_checks_the_port_after_the_image(tmp_path):
    fw = image(tmp_path / "fw.bin", 0)
    missing = str(tmp_path / "ttyUSB0")
    r = boards_cli("flash", "--board", "esp32", "--port", missing, "--firmware", str(fw))
    assert r.returncode != 0 and "no such port: " + missing in r.stderr
    assert r.stdout == ""


def test_flash_missing_firmware(tmp_path):
    r = boards_cli(
        "flash",
        "--board",
        "esp32",
        "--port",
        "/dev/null",
        "--firmware",
        str(tmp_path / "nope.bin"),
    )
    assert r.returncode != 0
    assert "firmware file not found" in r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout == ""


def test_flash_unknown_board():
    r = boards_cli("flash", "--board", "esp99", "--port", "p", "--firmware", "f", "--dry-run")
    assert r.returncode != 0
    assert "unknown board 'esp99'" in r.stderr and "esp32c6" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("name", ESPTOOL_BOARDS)
def test_flash_commands_parse_with_esptool(name, tmp_path, monkeypatch, capsys):
    """Feed the commands to esptool's own (click) parser, with the actions stubbed out."""
    import esptool

    firmware = tmp_path / "fw.bin"
    firmware.write_bytes(b"\xe9" + bytes(15))
    seen = []
    for cmd_name in ("erase-flash", "write-flash"):
        cmd = esptool.cli.commands[cmd_name]
        monkeypatch.setattr(cmd, "callback", lambda _n=cmd_name, **kw: seen.append((_n, kw)))

    board = boards.load(name)
    cmds = boards.flash_commands(board, "/dev/ttyUSB0", firmware)
    for cmd in cmds:
        assert cmd[0] == "esptool"
        esptool.cli(args=cmd[1:], standalone_mode=False)
    out = capsys.readouterr()
    assert "Deprecated" not in out.out + out.err

    assert [n for n, _ in seen] == ["erase-flash", "write-flash"]
    ((address, image),) = seen[1][1]["addr_filename"]
    image.close()
    assert address == int(board["flash_offset"], 16)
    assert Path(image.name) == firmware
    assert cmds[1][cmds[1].index("--baud") + 1] == str(board["baud"])


def test_make_flash_dry_run_prints_esptool_5_commands(tmp_path):
    fw = image(tmp_path / "x.bin", 0)
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-s",
            "-C",
            str(boards.ROOT),
            "flash",
            "BOARD=esp32",
            "PORT=/dev/ttyUSB0",
            "FIRMWARE=" + str(fw),
            "DRY_RUN=1",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [esptool_line(line) for line in done.stdout.splitlines()[-2:]] == [
        ["--chip", "esp32", "--port", "/dev/ttyUSB0", "erase-flash"],
        [
            "--chip",
            "esp32",
            "--port",
            "/dev/ttyUSB0",
            "--baud",
            "460800",
            "write-flash",
            "0x1000",
            str(fw),
        ],
    ]
    assert done.stdout.splitlines()[-1].startswith(".venv/bin/esptool ")  # runnable as printed


# UF2 boards: the image check and the steps instead of esptool.

RP2040, ABSOLUTE, RP2350, RP2350_RISCV = 0xE48BFF56, 0xE48BFF57, 0xE48BFF59, 0xE48BFF5A


def uf2(path, families, blocks=4):
    """A synthetic UF2 file (github.com/microsoft/uf2): blocks of 256 payload bytes,
    each with the family id flag, the families taken in turn."""
    out = b""
    for i in range(blocks):
        head = struct.pack(
            "<8I", 0x0A324655, 0x9E5D5157, 0x2000, 0x10000000 + 256 * i, 256, i, blocks,
            families[i % len(families)],
        )  # fmt: skip
        out += head + bytes(range(256)) + bytes(476 - 256) + struct.pack("<I", 0x0AB16F30)
    path.write_bytes(out)
    return path


def test_uf2_checks(tmp_path):
    """Accepted: the chip's own family, with the chip-agnostic absolute blocks an RP2350
    image may start with. Refused, naming the image's chip: another chip's family (an
    RP2350 image on an RP2040, MicroPython's RISC-V build on an RP2350), an ESP .bin, a
    file that is not whole UF2 blocks, an empty or missing file."""
    pico, pico2 = boards.load("rp2040"), boards.load("rp2350")
    assert boards.uf2_problem(pico, uf2(tmp_path / "p.uf2", [RP2040])) is None
    assert boards.uf2_problem(pico2, uf2(tmp_path / "p2.uf2", [ABSOLUTE, RP2350])) is None
    wrong = boards.uf2_problem(pico, uf2(tmp_path / "w.uf2", [RP2350]))
    assert "a firmware for RP2350 (Arm), but BOARD=rp2040 is an RP2040" in wrong
    assert "RPI_PICO from https://micropython.org/download/RPI_PICO/" in wrong
    riscv = boards.uf2_problem(pico2, uf2(tmp_path / "r.uf2", [ABSOLUTE, RP2350_RISCV]))
    assert "a firmware for RP2350 (RISC-V), but BOARD=rp2350" in riscv
    assert "is a firmware for" in boards.uf2_problem(pico, uf2(tmp_path / "a.uf2", [ABSOLUTE]))
    esp = boards.uf2_problem(pico, image(tmp_path / "esp.bin", 0))
    assert "not a UF2 image: it is an ESP firmware image (.bin)" in esp
    (tmp_path / "cut.uf2").write_bytes(uf2(tmp_path / "c.uf2", [RP2040]).read_bytes()[:700])
    assert "not a whole number of 512-byte" in boards.uf2_problem(pico, tmp_path / "cut.uf2")
    bad = bytearray(uf2(tmp_path / "m.uf2", [RP2040]).read_bytes())
    bad[512 + 511] ^= 1  # the second block's end magic
    (tmp_path / "m.uf2").write_bytes(bad)
    assert "block 1 is not a UF2 block" in boards.uf2_problem(pico, tmp_path / "m.uf2")
    (tmp_path / "e.uf2").write_bytes(b"")
    assert "is empty" in boards.uf2_problem(pico, tmp_path / "e.uf2")
    assert "not found" in boards.uf2_problem(pico, tmp_path / "none.uf2")


def test_flash_dry_run_rp2040_prints_the_steps_not_esptool(tmp_path):
    fw = uf2(tmp_path / "RPI_PICO-v1.28.0.uf2", [RP2040])
    r = boards_cli("flash", "--board", "rp2040", "--firmware", str(fw), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "esptool" not in r.stdout.replace("not flashed with esptool", "")
    assert "hold its BOOTSEL button" in r.stdout and "named RPI-RP2 appears" in r.stdout
    assert "mpremote connect PORT bootloader" in r.stdout
    cp = next(line.split() for line in r.stdout.splitlines() if line.strip().startswith("cp "))
    assert cp[1:3] == [str(fw), "/media/$USER/RPI-RP2/"]


def test_flash_rp2350_names_the_port_and_its_drive(tmp_path):
    fw = uf2(tmp_path / "fw.uf2", [ABSOLUTE, RP2350])
    r = boards_cli(
        "flash", "--board", "rp2350", "--port", "/dev/ttyACM0", "--firmware", str(fw), "--dry-run"
    )
    assert r.returncode == 0, r.stderr
    assert "mpremote connect /dev/ttyACM0 bootloader" in r.stdout
    assert "named RP2350 appears" in r.stdout and "/Volumes/RP2350/" in r.stdout


def test_flash_rp2040_refuses_a_wrong_image_first(tmp_path):
    r = boards_cli("flash", "--board", "rp2040", "--firmware", str(image(tmp_path / "x.bin", 0)))
    assert r.returncode != 0 and r.stdout == ""
    assert "not a UF2 image" in r.stderr and "Traceback" not in r.stderr


def test_flash_rp2040_copies_onto_its_drive(tmp_path):
    """With the bootloader drive mounted (here a folder with the INFO_UF2.TXT every UF2
    bootloader drive has), flashing is copying the file onto it."""
    fw = uf2(tmp_path / "fw.uf2", [RP2040])
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    r = boards_cli("flash", "--board", "rp2040", "--firmware", str(fw), "--drive", str(drive))
    assert r.returncode != 0 and "not a UF2 bootloader drive" in r.stderr  # no INFO_UF2.TXT
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nBoard-ID: RPI-RP2\n")
    r = boards_cli("flash", "--board", "rp2040", "--firmware", str(fw), "--drive", str(drive))
    assert r.returncode == 0, r.stderr
    assert (drive / "fw.uf2").read_bytes() == fw.read_bytes()
    assert "written to" in r.stdout


def test_flash_rp2040_without_its_drive_says_what_to_do(tmp_path, monkeypatch):
    fw = uf2(tmp_path / "fw.uf2", [RP2040])
    monkeypatch.setattr(boards, "DRIVE_PLACES", (str(tmp_path / "media" / "*" / "%s"),))
    out = io.StringIO()
    assert boards.flash(boards.load("rp2040"), None, fw, out=out) == 1
    assert "no RPI-RP2 drive is mounted" in out.getvalue() and "BOOTSEL" in out.getvalue()
    mounted = tmp_path / "media" / "me" / "RPI-RP2"
    mounted.mkdir(parents=True)
    (mounted / "INFO_UF2.TXT").write_text("Board-ID: RPI-RP2\n")
    assert boards.flash(boards.load("rp2040"), None, fw, out=out) == 0
    assert (mounted / "fw.uf2").is_file()


def test_flash_an_esp32_still_needs_its_port(tmp_path):
    r = boards_cli("flash", "--board", "esp32", "--firmware", str(image(tmp_path / "x.bin", 0)))
    assert r.returncode != 0 and "PORT is required to flash an ESP32" in r.stderr


def test_make_flash_rp2040_dry_run_needs_no_port(tmp_path):
    fw = uf2(tmp_path / "fw.uf2", [RP2040])
    done = subprocess.run(
        ["make", "--no-print-directory", "-s", "-C", str(boards.ROOT), "flash", "BOARD=rp2040",
         "FIRMWARE=" + str(fw), "DRY_RUN=1"],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "BOOTSEL" in done.stdout and "esptool " not in done.stdout


def test_the_boards_page_lists_every_board_file():
    """docs/boards.md's table: one row per board file, with its arch, MicroPython board
    and floor as the file says."""
    text = doc_block.block(ROOT / "docs" / "boards.md", "boards-table")
    rows = {
        cells[0].strip("`"): cells
        for line in text.splitlines()
        if line.startswith("| `")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    assert sorted(rows) == boards.names()
    for name, cells in rows.items():
        board = boards.load(name)
        assert cells[2] == board["mpy_arch"], name
        assert cells[4].split()[0] == board["micropython_board"], name
        assert cells[5] == board["min_micropython"], name
        assert (board.get("drive") or board["flash_offset"]) in cells[3], name
