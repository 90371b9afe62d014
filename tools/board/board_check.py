"""Does the firmware on a board fit what is about to be deployed to it?

A board answers QUERY (through `mpremote exec`) with its MicroPython version, its
``sys.implementation._mpy`` (the .mpy version and the native architecture it loads),
its machine name and platform. ``problems`` compares that with a board file of
boards/: the wrong architecture makes every import of precompiled files fail with
``ValueError: incompatible .mpy arch``, and a firmware older than the board's
``min_micropython`` runs viper code wrongly (RISC-V and Thumb before 1.28.0).
"""

import ast

from board import boards

# sys.implementation._mpy >> 10 & 15, as in MicroPython's py/persistentcode.h.
ARCH_NAMES = (
    None,
    "x86",
    "x64",
    "armv6",
    "armv6m",
    "armv7m",
    "armv7em",
    "armv7emsp",
    "armv7emdp",
    "xtensa",
    "xtensawin",
    "rv32imc",
    "rv64imc",
)

# A Thumb firmware loads the .mpy files of every Thumb arch from armv6m up to its own
# (py/persistentcode.h, MPY_FEATURE_ARCH_TEST): an RP2350 (armv7emsp) runs an RP2040's
# armv6m files, an RP2040 not the RP2350's. Every other arch loads its own only.
THUMB = ("armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp")


def loads(device_arch, mpy_arch):
    """Whether a firmware of device_arch imports .mpy files compiled for mpy_arch."""
    if device_arch in THUMB and mpy_arch in THUMB:
        return THUMB.index(mpy_arch) <= THUMB.index(device_arch)
    return device_arch == mpy_arch


QUERY = (
    "import sys; i = sys.implementation; "
    "print(repr((tuple(i.version[:3]), getattr(i, '_mpy', None), "
    "getattr(i, '_machine', ''), sys.platform)))"
)


def parse(output):
    """The board's answer to QUERY as a dict: version, mpy, machine, platform."""
    lines = [line for line in output.strip().splitlines() if line.startswith("(")]
    if not lines:
        raise ValueError("no answer to the version query in: %r" % output)
    version, mpy, machine, platform = ast.literal_eval(lines[-1])
    return {"version": tuple(version), "mpy": mpy, "machine": machine, "platform": platform}


def arch(mpy):
    """The native architecture named by a _mpy value, or None (none, or not reported)."""
    if mpy is None:
        return None
    code = (mpy >> 10) & 15
    return ARCH_NAMES[code] if code < len(ARCH_NAMES) else "arch %d" % code


def version_text(version):
    return ".".join(str(v) for v in version)


def version_tuple(text):
    return tuple(int(v) for v in text.split("."))


def describe(device):
    """e.g. 'MicroPython 1.28.0 on Generic ESP32S3 module with ESP32S3 (xtensawin)'."""
    return "MicroPython %s on %s (%s)" % (
        version_text(device["version"]),
        device["machine"] or device["platform"],
        arch(device["mpy"]) or "no native code",
    )


def download_url(board):
    return "https://micropython.org/download/%s/" % board["micropython_board"]


def boards_of_arch(name_arch, all_boards):
    return sorted(name for name, b in all_boards.items() if b["mpy_arch"] == name_arch)


def problems(device, board_name=None, all_boards=None, mpy_files=None):
    """What makes deploying to ``device`` wrong, as messages (empty: go ahead).

    board_name: the board whose precompiled .mpy files are deployed (None: the .py
    sources, which the board compiles for itself). all_boards: {name: board file}
    (default: boards/). mpy_files: (version, sub-version) of the .mpy files.
    """
    if all_boards is None:
        all_boards = {name: boards.load(name) for name in boards.names()}
    found = []
    device_arch = arch(device["mpy"])
    if device_arch is None:
        found.append(
            "the board runs %s: this firmware cannot run viper code (no native emitter, or "
            "too old to report sys.implementation._mpy).\nFix: flash a current MicroPython "
            "release for the chip (make flash)." % describe(device)
        )
        return found
    same_arch = boards_of_arch(device_arch, all_boards)
    if board_name is not None:
        board = all_boards[board_name]
        if not loads(device_arch, board["mpy_arch"]):
            if same_arch:
                fix = (
                    "deploy with BOARD=%s (the board's arch), or without BOARD= to copy the "
                    ".py sources, which any arch compiles" % " or BOARD=".join(same_arch)
                )
            else:
                fix = (
                    "deploy without BOARD= to copy the .py sources, which any arch compiles "
                    "(no board in boards/ builds %s .mpy files)" % device_arch
                )
            found.append(
                "BOARD=%s builds %s .mpy files, but the board runs %s: every import would fail "
                "with ValueError: incompatible .mpy arch.\nFix: %s."
                % (board_name, board["mpy_arch"], describe(device), fix)
            )
            return found
        checked = [board_name]
    else:
        checked = same_arch
    for name in checked:
        board = all_boards[name]
        if device["version"] < version_tuple(board["min_micropython"]):
            found.append(
                "the board runs %s, older than %s, the oldest release trusted for %s "
                "(boards/%s.json says why: viper code runs wrongly before it).\nFix: flash a "
                "newer MicroPython (%s), e.g. make flash BOARD=%s %sFIRMWARE=<file.%s>."
                % (
                    describe(device),
                    board["min_micropython"],
                    board["chip"].upper().replace("ESP32", "ESP32-").rstrip("-"),
                    name,
                    download_url(board),
                    name,
                    "" if board.get("flash") == "uf2" else "PORT=... ",
                    "uf2" if board.get("flash") == "uf2" else "bin",
                )
            )
            break
    if mpy_files is not None and board_name is not None:
        version, sub = mpy_files
        if (device["mpy"] & 0xFF, (device["mpy"] >> 8) & 3) != (version, sub):
            found.append(
                "the .mpy files are version %d.%d, but the board runs %s, which loads %d.%d: "
                "imports would fail with ValueError: incompatible .mpy file.\nFix: deploy "
                "without BOARD= (the .py sources), or flash a firmware that loads .mpy %d.%d."
                % (
                    version,
                    sub,
                    describe(device),
                    device["mpy"] & 0xFF,
                    (device["mpy"] >> 8) & 3,
                    version,
                    sub,
                )
            )
    return found


def mpy_header(path):
    """(version, native sub-version, arch name) from the first bytes of an .mpy file."""
    with open(path, "rb") as f:
        magic, version, features = f.read(3)
    if magic != ord("M"):
        raise ValueError("not an .mpy file: %s" % path)
    return version, features & 3, ARCH_NAMES[features >> 2] if features >> 2 < 13 else None
