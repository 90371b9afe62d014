"""Tables in docs/ pages kept current by the command that makes them.

    python tools/report/doc_block.py boards    # the boards table of docs/boards.md, from boards/

A page holds each generated table between two comment lines, which Markdown shows as
nothing:

    <!-- made by make accuracy: accuracy-table -->
    | ... |
    <!-- end of accuracy-table -->

update() replaces what is between them (the command that measures writes it there);
block() reads it back (the tests compare it with a fresh run where that is cheap).
"""

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOARDS_PAGE = ROOT / "docs" / "boards.md"


def _pattern(name):
    return re.compile(
        r"(<!-- made by [^:>]+: %s -->\n)(.*?)(<!-- end of %s -->)"
        % (re.escape(name), re.escape(name)),
        re.DOTALL,
    )


def block(page, name):
    """The text of block name in page (ValueError if the page has no such block)."""
    found = _pattern(name).search(Path(page).read_text())
    if not found:
        raise ValueError("%s has no block %r" % (page, name))
    return found.group(2)


def update(page, name, text):
    """Write text into block name of page; True when the page changed."""
    old = Path(page).read_text()
    if not _pattern(name).search(old):
        raise ValueError("%s has no block %r" % (page, name))
    new = _pattern(name).sub(lambda m: m.group(1) + text.rstrip("\n") + "\n" + m.group(3), old)
    if new != old:
        Path(page).write_text(new)
    return new != old


def table(head, rows):
    """A Markdown table."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def boards_table(folder=ROOT / "boards"):
    """One row per boards/*.json: what deploy and flash read from it."""
    rows = []
    for path in sorted(Path(folder).glob("*.json")):
        b = json.loads(path.read_text())
        if b.get("flash") == "uf2":
            flashed = "its USB drive `%s`" % b["drive"]
        else:
            flashed = "esptool, %s, %s baud" % (b["flash_offset"], b["baud"])
        rows.append(
            (
                "`%s`" % path.stem,
                b["chip"].upper().replace("ESP32", "ESP32-").rstrip("-"),
                b["mpy_arch"],
                flashed,
                b["micropython_board"],
                b["min_micropython"],
            )
        )
    head = ("board", "chip", "`-march`", "flashed with", "MicroPython", "oldest release we trust")
    return table(head, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("boards",))
    parser.parse_args(argv)
    changed = update(BOARDS_PAGE, "boards-table", boards_table())
    print(
        "%s: boards table %s"
        % (BOARDS_PAGE.relative_to(ROOT), "written" if changed else "current")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
