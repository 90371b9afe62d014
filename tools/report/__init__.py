"""The numbers and pictures in the README and docs/: `make bench`, `make accuracy`,
`make figures`, `make eval`, `make heap`.

bench.py (speed, heap, .mpy sizes, inner loops), per_token.py (counted per-token
figures: kernel instructions under QEMU, whole tokens on RV32, larger shapes, the ESP32
estimate), steps.py (Python and viper calls per token, through the shim), accuracy_figure.py and
layout_figure.py (docs/accuracy.svg, docs/layouts.svg), architecture_figure.py
(docs/architecture.svg), svg.py (the small SVG writer they share), eval_model.py (task
accuracy of the shipped model; here and not in tinylm/, which stays free of targets),
heap_table.py and import_ram.py (the heap each board tool needs, what the import keeps),
doc_block.py (the generated tables of docs/ pages, and the boards table).

May import: the standard library, board, machine_code, tinylm and report. Nothing
imports report: it is the top floor.
"""
