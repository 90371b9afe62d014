"""Draw the house as an SVG: the firmware's floors, the host tools by job, what each test folder checks.

    python tools/report/architecture_figure.py [--out docs/architecture.svg]

The firmware's floors and the tools' folders stand where their imports put them (read
from the sources with ast): a module stands one floor above the highest module it imports.
"""

import ast
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report.svg import Svg, command_line

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "docs" / "architecture.svg"
PACKAGE = ROOT / "firmware" / "attention"
TOOLS = ROOT / "tools"
FILLS = ("#cfe3f5", "#fde0c5", "#d5efd0", "#e8d9f2", "#f5f0c5")
FIRMWARE_FLOORS = (
    "viper kernels, memory, fixed point",
    "argument checks, the model file",
    "the mechanisms, the cache, the layers, a model",
    "the decoder, the classifier; the public names",
)
# The host tools' folders, each with its job (tools/README.md).
FOLDERS = {
    "board": "boards, flash, deploy, target runner, record",
    "vboard": "the virtual board and its REPL",
    "tinylm": "the tiny decoder on the host (numpy)",
    "machine_code": "mpy reader, QEMU runner, instruction counts",
    "quality": "mutation testing, the fuzzer's runner",
    "report": "bench, figures, task accuracy",
    "ports": "32-bit MicroPython from source, the suite on each",
}
# host_tests/<folder>: what it checks, and through what.
TESTS = (
    ("firmware", "the package through the 32-bit shim and", "the unix port; edge cases; fixtures"),
    (
        "machine_code",
        "the ESP32 and RP2 machine code: mpy-cross,",
        "QEMU runs against the unix port",
    ),
    ("language_model", "layers and decoder against the", "numpy int8 model; the task"),
    ("board", "the board path: boards, deploy, make,", "the virtual board with mpremote"),
    ("quality", "hostile calls on the unix port;", "the tools' import rules"),
    ("report", "bench tables and the figures", "(stale figures fail)"),
)


def floors(modules):
    """{name: floor} for {name: names it imports}: 0 for none, else 1 + the highest."""
    found = {}

    def floor(name):
        if name not in found:
            found[name] = 1 + max((floor(m) for m in modules[name]), default=-1)
        return found[name]

    for name in modules:
        floor(name)
    return found


def firmware_imports(package=PACKAGE):
    """{module of firmware/attention: the package modules it imports}."""
    names = {p.stem for p in package.glob("*.py")}
    out = {}
    for path in sorted(package.glob("*.py")):
        used = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                used |= {node.module} if node.module else {a.name for a in node.names}
        out[path.stem] = sorted(used & names - {path.stem})
    return out


def folder_imports(tools=TOOLS):
    """{folder of FOLDERS: the other folders of FOLDERS its modules import}."""
    out = {}
    for name in FOLDERS:
        used = set()
        for path in sorted((tools / name).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    used.add(node.module.split(".")[0])
                elif isinstance(node, ast.Import):
                    used |= {a.name.split(".")[0] for a in node.names}
        out[name] = sorted(used & set(FOLDERS) - {name})
    return out


def floors_up(svg, x, y, levels, captions, width=340):
    """A band of boxes per floor, the ground floor at the bottom, each band wrapped to width;
    returns the y below the ground floor."""
    for level in range(max(levels.values()), -1, -1):
        caption = captions[level] if level < len(captions) else "floor %d" % level
        svg.text(x, y + 11, caption, size=11, color="#555555")
        left, top = x, y + 16
        for name in sorted(n for n, v in levels.items() if v == level):
            w = 14 + 7.2 * len(name)
            if left > x and left + w > x + width:  # the next line of this floor
                left, top = x, top + 30
            svg.rect(left, top, w, 24, FILLS[level % len(FILLS)])
            svg.text(left + 7, top + 16, name, size=12)
            left += w + 6
        y = top + 24 + 18
    return y


def boxes(svg, x, y, width, entries):
    """Boxes down a column: entries of (caption or None, lines, fill); the first line bold."""
    for caption, lines, fill in entries:
        if caption:
            svg.text(x, y + 11, caption, size=11, color="#555555")
            y += 16
        svg.rect(x, y, width, 8 + 14 * len(lines), fill)
        for i, line in enumerate(lines):
            svg.text(x + 6, y + 15 + 14 * i, line, size=11, weight="normal" if i else "bold")
        y += 14 + 14 * len(lines)
    return y


def draw():
    svg = Svg(1040, 500, "The house: firmware floors, host tools by job, test folders")
    svg.text(20, 28, "firmware/attention/: what a board runs", size=14, weight="bold")
    svg.text(20, 46, "a module imports only modules on the floors below it", size=11)
    bottom = floors_up(svg, 20, 56, floors(firmware_imports()), FIRMWARE_FLOORS)
    notes = (
        "A buffer's way: a public method, then _memory.measure",
        "(its kind, length and overlaps, one viper call), then",
        "the kernel. Nothing here imports tools/ or host_tests/.",
    )
    for i, note in enumerate(notes):
        svg.text(20, bottom + 4 + 16 * i, note, size=11)

    svg.text(380, 28, "tools/: host programs by job", size=14, weight="bold")
    svg.text(380, 46, "a folder imports only the folders below it", size=11)
    deps = folder_imports()
    levels = floors(deps)
    captions = ("the ground floor", "the first floor", "the top floor: nothing imports it")
    entries = []
    for level in sorted(set(levels.values()), reverse=True):
        for i, name in enumerate(sorted(n for n in FOLDERS if levels[n] == level)):
            on = "on: " + ", ".join(deps[name]) if deps[name] else "on: no other folder"
            caption = None if i else captions[min(level, len(captions) - 1)]
            entries.append((caption, [name + "/", FOLDERS[name], on], FILLS[level]))
    device = ["device/: scripts that run ON a target", "on: the firmware only; board/target.py"]
    device.append("joins a script and the helpers it names")
    entries.append(("run on the unix port or a board", device, "#eeeeee"))
    tools_bottom = boxes(svg, 380, 56, 300, entries)

    svg.text(720, 28, "host_tests/: what each folder checks", size=14, weight="bold")
    svg.text(720, 46, "conftest.py: the shim, sys.path, shared helpers", size=11)
    entries = [
        (None, [name + "/", *lines], FILLS[i % len(FILLS)])
        for i, (name, *lines) in enumerate(TESTS)
    ]
    tests_bottom = boxes(svg, 720, 62, 300, entries)
    svg.resize(int(max(bottom + 16 * len(notes), tools_bottom, tests_bottom)) + 12)
    return svg.render()


def main(argv=None):
    command_line(draw, DEFAULT_OUT, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
