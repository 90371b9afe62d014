"""Run the softmax accuracy check on a target, print its output and plot it as an SVG.

    python tools/report/accuracy_figure.py [--port PORT] [--out docs/accuracy.svg] [--page P]

Runs tools/device/accuracy.py (on the unix port, or on a board with --port) and draws
two panels from what it prints: the weight of the lower of two scores against their
gap, for the float, exp2 and linear softmax, and the worst error against logit_shift.
On the unix port the table of worst errors also goes into docs/api.md (its block
accuracy-table, tools/report/doc_block.py) when the figure is docs/accuracy.svg, or
into the page --page names.
"""

import argparse
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from board import target
from report import doc_block
from report.svg import COLORS, Axes, Svg

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "docs" / "accuracy.svg"
API_PAGE = ROOT / "docs" / "api.md"


def tables(text):
    """{first word of a header line: rows of numbers below it} for each table in text."""
    found, rows = {}, None
    for line in text.splitlines():
        fields = line.split()
        try:
            numbers = [float(f) for f in fields]
        except ValueError:
            numbers = None
        if numbers and rows is not None:
            rows.append(numbers)
        elif fields:
            rows = found.setdefault(fields[0], []) if not numbers else None
    return {k: v for k, v in found.items() if v}


def draw(errors, curve):
    """The SVG text: errors rows (shift, vectors, exp2, linear); curve rows (d, float, exp2, linear)."""
    svg = Svg(760, 330, "Softmax weights against the float softmax")
    left = Axes(svg, (70, 50, 280, 220), (0, 2048), (0, 128))
    left.frame(
        [0, 512, 1024, 1536, 2048],
        [0, 32, 64, 96, 128],
        "score gap d (scores [0, -d], logit_shift 9)",
        "weight of the lower score (Q8)",
        "Weight against the score gap",
    )
    d = [r[0] for r in curve]
    left.curve(d, [r[2] for r in curve], COLORS["exp2"], width=5)
    left.curve(d, [r[3] for r in curve], COLORS["linear"])
    left.curve(d, [r[1] for r in curve], COLORS["float"], dash="5,4", width=1.5)  # on top
    left.legend(
        230,
        70,
        [
            ("float", COLORS["float"], "5,4"),
            ("exp2", COLORS["exp2"], None),
            ("linear", COLORS["linear"], None),
        ],
    )
    right = Axes(svg, (450, 50, 280, 220), (0, 12), (0.1, 1000), ylog=True)
    right.frame(
        [r[0] for r in errors],
        [0.1, 1, 10, 100, 1000],
        "logit_shift",
        "worst error (Q8 steps, log scale)",
        "Worst error over %d vectors" % errors[0][1],
    )
    shifts = [r[0] for r in errors]
    right.curve(shifts, [r[2] for r in errors], COLORS["exp2"], markers=True)
    right.curve(shifts, [r[3] for r in errors], COLORS["linear"], markers=True)
    right.legend(600, 170, [("exp2", COLORS["exp2"], None), ("linear", COLORS["linear"], None)])
    return svg.render()


def error_table(errors):
    """The worst errors as the Markdown table of docs/api.md."""
    rows = [(int(r[0]), "%.3f" % r[2], "%.3f" % r[3]) for r in errors]
    return doc_block.table(("logit_shift", "exp2", "linear (`softmax_fixed`)"), rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", help="serial port of a board (default: the local unix port)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="the SVG to write")
    parser.add_argument("--page", help="the page whose accuracy-table block gets the table")
    args = parser.parse_args(argv)
    result = target.run(["accuracy.py"], args.port, capture=True, timeout=600)
    sys.stdout.write(result.stdout)
    if result.returncode:
        sys.exit(result.returncode)
    found = tables(result.stdout)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(draw(found["logit_shift"], found["d"]))
    print("plot: %s" % args.out)
    page = args.page or (API_PAGE if Path(args.out).resolve() == DEFAULT_OUT else None)
    if page and not args.port:
        doc_block.update(page, "accuracy-table", error_table(found["logit_shift"]))
        print("table: %s" % page)


if __name__ == "__main__":
    main()
