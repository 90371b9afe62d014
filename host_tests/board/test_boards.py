"""Tests for boards/*.json and tools/board/boards.py (flash commands and UF2 images, .mpy
builds, dist)."""

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

BOARDS_PY = ROOT / "tools" / "board" / "boards.py"

MICROPYTHON = Path(sys.executable).parent / "micropython"
# py/persistentcode.h MP_NATIVE_ARCH_*
ARCH_CODE = {"x64": 2, "armv6m": 4, "armv7emsp": 7, "xtensawin": 10, "rv32imc": 11}
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


def run_cli(*args):
    return subprocess.run(
        [sys.executable, str(BOARDS_PY), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


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
    r = run_cli(
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
    r = run_cli(
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
    r = run_cli("flash", "--board", "esp32", "--port", "/dev/ttyUSB0", "--firmware", str(fw))
    assert r.returncode != 0
    assert "a firmware for the ESP32-S3, but BOARD=esp32 is an ESP32" in r.stderr
    assert r.stdout == ""  # no esptool command was printed, so none was run
    assert "Traceback" not in r.stderr


def test_flash_checks_the_port_after_the_image(tmp_path):
    fw = image(tmp_path / "fw.bin", 0)
    missing = str(tmp_path / "ttyUSB0")
    r = run_cli("flash", "--board", "esp32", "--port", missing, "--firmware", str(fw))
    assert r.returncode != 0 and "no such port: " + missing in r.stderr
    assert r.stdout == ""


def test_flash_missing_firmware(tmp_path):
    r = run_cli(
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
    r = run_cli("flash", "--board", "esp99", "--port", "p", "--firmware", "f", "--dry-run")
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


# Compiling.

KERNELS = """
import micropython


@micropython.viper
def dot(a: ptr8, b: ptr8, n: int) -> int:
    s = 0
    for i in range(n):
        s += int(a[i]) * int(b[i])
    return s


@micropython.viper
def fill32(dst: ptr32, n: int, v: int):
    for i in range(n):
        dst[i] = v + i
"""


@pytest.fixture
def sample(tmp_path):
    """A tiny package: tmp/firmware/attention/{__init__,kernels,util}.py."""
    pkg = tmp_path / "firmware" / "attention"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        textwrap.dedent('''\
        """Sample package."""

        __version__ = "1.2.3"

        from .kernels import dot, fill32
        from .util import twice
    ''')
    )
    (pkg / "kernels.py").write_text(KERNELS)
    (pkg / "util.py").write_text("def twice(x):\n    return 2 * x\n")
    return pkg


def mpy_header(path):
    magic, ver, features, _ = path.read_bytes()[:4]
    return chr(magic), ver, features >> 2, features & 3


@pytest.mark.parametrize("arch", sorted(ARCH_CODE))
def test_compile_headers(sample, tmp_path, arch):
    out = tmp_path / "build"
    files = boards.compile_package(sample, out, arch)
    assert [f.as_posix() for f in files] == [
        "attention/__init__.mpy",
        "attention/kernels.mpy",
        "attention/util.mpy",
    ]
    for f in files:
        magic, ver, file_arch, _ = mpy_header(out / f)
        assert (magic, ver) == ("M", 6)
        # Only files holding native (viper) code record an architecture.
        assert file_arch == (ARCH_CODE[arch] if f.stem == "kernels" else 0)


def test_compile_removes_stale_files(sample, tmp_path):
    out = tmp_path / "build"
    stale = out / "attention" / "gone.mpy"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"M")
    boards.compile_package(sample, out, "x64")
    assert not stale.exists()
    assert sorted(p.name for p in (out / "attention").iterdir()) == [
        "__init__.mpy",
        "kernels.mpy",
        "util.mpy",
    ]


def test_compile_refuses_to_overwrite_sources(sample):
    with pytest.raises(boards.BoardError, match="overwrite"):
        boards.compile_package(sample, sample.parent, "x64")
    assert (sample / "__init__.py").is_file()


@pytest.mark.parametrize("name", ["esp32", "esp32c6", "rp2040", "rp2350"])
def test_mpy_cli_board(sample, tmp_path, name):
    out = tmp_path / "build" / name
    r = run_cli("mpy", "--board", name, "--src", str(sample), "--out", str(out))
    assert r.returncode == 0, r.stderr
    arch = boards.load(name)["mpy_arch"]
    assert mpy_header(out / "attention" / "kernels.mpy")[2] == ARCH_CODE[arch]


def test_mpy_cli_error_is_clean(tmp_path):
    r = run_cli("mpy", "--arch", "x64", "--src", str(tmp_path), "--out", str(tmp_path / "o"))
    assert r.returncode != 0
    assert "no __init__.py" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(not MICROPYTHON.is_file(), reason="unix port micropython not installed")
def test_x64_package_imports_on_unix_port(sample, tmp_path):
    out = tmp_path / "build" / "x64"
    r = run_cli("mpy", "--arch", "x64", "--src", str(sample), "--out", str(out))
    assert r.returncode == 0, r.stderr
    shutil.rmtree(sample)  # only the .mpy files are left to import
    code = textwrap.dedent("""\
        import sys, attention
        print(attention.__file__)
        print(attention.__version__)
        print(attention.dot(b'\\x01\\x02\\x03', b'\\x04\\x05\\x06', 3))
        buf = bytearray(16)
        attention.fill32(buf, 4, 7)
        print(bytes(buf).hex())
        print(attention.twice(21))
        print(sys.implementation._mpy >> 8 & 3)
    """)
    env = dict(os.environ, MICROPYPATH=str(out))
    empty = tmp_path / "cwd"
    empty.mkdir()
    r = subprocess.run(
        [str(MICROPYTHON), "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=empty,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.split()
    assert lines[0].endswith("attention/__init__.mpy")
    expected = b"".join((7 + i).to_bytes(4, "little") for i in range(4)).hex()
    assert lines[1:5] == ["1.2.3", "32", expected, "42"]
    # The unix port accepts the native code only if the sub-versions agree.
    assert mpy_header(out / "attention" / "kernels.mpy")[3] == int(lines[5])


# Packaging.


class FakeTransport:
    """Just enough of mpremote's transport for mip: records the written files."""

    def __init__(self):
        self.files = {}

    def fs_exists(self, path):
        return True

    def fs_mkdir(self, path):
        pass

    def fs_writefile(self, path, data, progress_callback=None):
        self.files[path] = data


def test_dist(sample, tmp_path, monkeypatch):
    out = tmp_path / "dist"
    root_json = tmp_path / "package.json"
    r = run_cli("dist", "--src", str(sample), "--out", str(out), "--root-json", str(root_json))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(boards.DIST_ARCHES)

    from mpremote import mip

    for arch in boards.DIST_ARCHES:
        folder = out / arch
        meta = json.loads((folder / "package.json").read_text())
        present = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.mpy"))
        assert present == ["attention/__init__.mpy", "attention/kernels.mpy", "attention/util.mpy"]
        assert meta == {"urls": [[f, f] for f in present], "version": "1.2.3"}
        assert mpy_header(folder / "attention" / "kernels.mpy")[2] == ARCH_CODE[arch]

        # `mpremote mip install ./dist/<arch>/package.json` installs /lib/attention/*.mpy.
        monkeypatch.chdir(tmp_path)
        t = FakeTransport()
        mip._install_package(t, f"./dist/{arch}/package.json", "unused", "/lib", None, True)
        assert t.files == {"/lib/" + f: (folder / f).read_bytes() for f in present}

    meta = json.loads(root_json.read_text())
    assert meta == {
        "urls": [
            ["attention/__init__.py", "firmware/attention/__init__.py"],
            ["attention/kernels.py", "firmware/attention/kernels.py"],
            ["attention/util.py", "firmware/attention/util.py"],
        ],
        "version": "1.2.3",
    }

    # `mpremote mip install github:owner/repo` fetches the root json, then the sources.
    prefix = "https://raw.githubusercontent.com/owner/repo/HEAD/"

    def urlopen(url):
        assert url.startswith(prefix), url
        return io.BytesIO((tmp_path / url[len(prefix) :]).read_bytes())

    monkeypatch.setattr(mip.urllib.request, "urlopen", urlopen)
    t = FakeTransport()
    mip._install_package(t, "github:owner/repo", "unused", "/lib", None, True)
    assert t.files == {"/lib/attention/" + p.name: p.read_bytes() for p in sample.iterdir()}


def test_dist_needs_version(sample, tmp_path):
    (sample / "__init__.py").write_text("from .util import twice\n")
    r = run_cli(
        "dist",
        "--src",
        str(sample),
        "--out",
        str(tmp_path / "d"),
        "--root-json",
        str(tmp_path / "package.json"),
    )
    assert r.returncode != 0
    assert "__version__" in r.stderr and "Traceback" not in r.stderr


def test_root_package_json_up_to_date():
    committed = boards.ROOT_JSON
    if not committed.is_file() or not (boards.SRC / "__init__.py").is_file():
        pytest.skip("no root package.json or no package yet")
    assert committed.read_text() == boards.root_package_json(), (
        "package.json is stale: run `python tools/board/boards.py dist`"
    )


def test_committed_dist_is_up_to_date(tmp_path):
    """dist/ is committed so that `mip install github:...` needs no build: it must match the sources."""
    committed = boards.ROOT / "dist"
    if not (boards.ROOT / ".git").exists():
        pytest.skip("not a git checkout: dist/ is only committed in the repository")
    assert committed.is_dir(), (
        "dist/ is missing: restore it with `git checkout -- dist` or `make dist`"
    )
    boards.dist(out=tmp_path, root_json=None)
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert built == sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    for rel in built:
        assert (tmp_path / rel).read_bytes() == (committed / rel).read_bytes(), (
            f"dist/{rel} is stale: run `make dist`"
        )


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


def test_make_clean_removes_no_committed_file():
    """`make clean` must leave every file git tracks (dist/ above all) in place."""
    if not (boards.ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "-C", str(boards.ROOT), "clean"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    removed = [
        arg for line in dry.splitlines() if line.startswith("rm ") for arg in line.split()[2:]
    ]
    assert removed, dry
    tracked = subprocess.run(
        ["git", "-C", str(boards.ROOT), "ls-files", "--", *removed],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert tracked == "", "make clean would delete committed files:\n" + tracked


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
    r = run_cli("flash", "--board", "rp2040", "--firmware", str(fw), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "esptool" not in r.stdout.replace("not flashed with esptool", "")
    assert "hold its BOOTSEL button" in r.stdout and "named RPI-RP2 appears" in r.stdout
    assert "mpremote connect PORT bootloader" in r.stdout
    cp = next(line.split() for line in r.stdout.splitlines() if line.strip().startswith("cp "))
    assert cp[1:3] == [str(fw), "/media/$USER/RPI-RP2/"]


def test_flash_rp2350_names_the_port_and_its_drive(tmp_path):
    fw = uf2(tmp_path / "fw.uf2", [ABSOLUTE, RP2350])
    r = run_cli(
        "flash", "--board", "rp2350", "--port", "/dev/ttyACM0", "--firmware", str(fw), "--dry-run"
    )
    assert r.returncode == 0, r.stderr
    assert "mpremote connect /dev/ttyACM0 bootloader" in r.stdout
    assert "named RP2350 appears" in r.stdout and "/Volumes/RP2350/" in r.stdout


def test_flash_rp2040_refuses_a_wrong_image_first(tmp_path):
    r = run_cli("flash", "--board", "rp2040", "--firmware", str(image(tmp_path / "x.bin", 0)))
    assert r.returncode != 0 and r.stdout == ""
    assert "not a UF2 image" in r.stderr and "Traceback" not in r.stderr


def test_flash_rp2040_copies_onto_its_drive(tmp_path):
    """With the bootloader drive mounted (here a folder with the INFO_UF2.TXT every UF2
    bootloader drive has), flashing is copying the file onto it."""
    fw = uf2(tmp_path / "fw.uf2", [RP2040])
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    r = run_cli("flash", "--board", "rp2040", "--firmware", str(fw), "--drive", str(drive))
    assert r.returncode != 0 and "not a UF2 bootloader drive" in r.stderr  # no INFO_UF2.TXT
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nBoard-ID: RPI-RP2\n")
    r = run_cli("flash", "--board", "rp2040", "--firmware", str(fw), "--drive", str(drive))
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
    r = run_cli("flash", "--board", "esp32", "--firmware", str(image(tmp_path / "x.bin", 0)))
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
