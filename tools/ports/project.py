"""Everything tools/ports/ takes from the rest of the project, in one place.

Paths of the package, the device scripts and the fixtures, and the few functions of
other tools/ modules that are used (board/target.py's joining of device scripts,
board/record.py's fixture builder, board/fixture_file.py's file names, board_check.py's arch names, tinylm's held-out
examples and gesture windows with the numpy int8 model's classes, the host tool finder of board/boards.py). When those move, this is the only
file to change.
"""

import os
from pathlib import Path

from board import board_check, boards, fixture_file, record, target

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
FIRMWARE = ROOT / "firmware"  # the folder holding the package
PACKAGE = FIRMWARE / "attention"
DEVICE = TOOLS / "device"  # scripts that run on a target
FIXTURES = ROOT / "host_tests" / "fixtures"
REFERENCE_FIXTURE = FIXTURES / "linux-x64.json"
EVAL_SEED = 2025  # tools/report/eval_model.py's held-out examples


def tool(name):
    """A host program (mpremote, micropython): next to this Python first, then on PATH."""
    return boards.tool(name)


def arch_name(mpy):
    """The native architecture a sys.implementation._mpy value names (board/board_check.py)."""
    return board_check.arch(mpy)


def device_script(*names, head=""):
    """One script: head, then tools/device/<name> for each name with the helpers its
    `# with:` line names, in the order board/target.py joins them."""
    parts = [head] if head else []
    for name in target.order(names):
        parts.append((DEVICE / name).read_text())
    return "\n".join(parts) + "\n"


def fuzz_script(seed, calls):
    """tools/device/fuzz.py (and its plans) with its settings in front, as quality/fuzz.py sends it."""
    return device_script("fuzz.py", head="SEED = %d; CALLS = %d; VERBOSE = False" % (seed, calls))


def gesture_windows(count):
    """count held-out gesture windows (bytes, int8 one after another), and the logits of
    each by the numpy int8 model of tools/tinylm (independent of the board's code)."""
    from tinylm import gesture, int8_model

    windows, _ = gesture.dataset(count, gesture.HELD_SEED)
    logits = int8_model.load(str(PACKAGE / "gesture.bin")).logits(windows)
    return windows.astype("int8").tobytes(), [[int(v) for v in row] for row in logits]


def eval_examples(count):
    """The held-out (prompt, answer) pairs of `make eval`."""
    from tinylm import task

    return [task.example(s) for s in task.strings(count, EVAL_SEED, held=True)]


def build_fixture(lines, command):
    """A fixture (dict) from the JSON lines cases.py printed, as board/record.py makes it."""
    return record.build_fixture(lines, command)


def fixture_name(target_info, built):
    """The fixture's file name for what a target said about itself and how it was built."""
    return fixture_file.file_name(target_info, built)


def write_fixture(path, fixture):
    """Write a fixture file (one case per line); False when only its date would change."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return fixture_file.write(path, fixture)


def package_files(src=PACKAGE):
    """The package's files relative to src: sources (*.py) and model files (*.bin)."""
    src = Path(src)
    return sorted(p.relative_to(src) for p in src.rglob("*") if p.suffix in (".py", ".bin"))
