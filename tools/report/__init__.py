"""The numbers and pictures in the README and docs/: `make bench`, `make accuracy`,
`make figures`, `make eval`.

bench.py (speed, heap, .mpy sizes, inner loops), accuracy_figure.py and
layout_figure.py (docs/accuracy.svg, docs/layouts.svg), architecture_figure.py
(docs/architecture.svg), svg.py (the small SVG writer they share), eval_model.py (task
accuracy of the shipped model; here and not in tinylm/, which stays free of targets).

May import: the standard library, board, machine_code, tinylm and report. Nothing
imports report: it is the top floor.
"""
