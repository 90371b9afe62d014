"""Draw the buffer layouts as an SVG: the KV cache per head, and the sliding window's ring.

python tools/report/layout_figure.py [--out docs/layouts.svg]
"""

import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report.svg import Svg, command_line

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "docs" / "layouts.svg"
HEAD_FILLS = ("#cfe3f5", "#fde0c5", "#d5efd0", "#e8d9f2")
FADED = "#eeeeee"
CELL_W, CELL_H = 30, 24


def kv_cache(svg, x, y, rows=4, embed_dim=8, num_heads=2):
    """Rows of embed_dim; head h owns columns h*head_dim..(h+1)*head_dim of every row."""
    head_dim = embed_dim // num_heads
    title = "KV cache, as MicroAttention(%d, %d).forward reads it" % (embed_dim, num_heads)
    svg.text(x, y, title, size=14, weight="bold")
    top, left = y + 52, x + 130
    for h in range(num_heads):
        middle = left + (h + 0.5) * head_dim * CELL_W
        svg.text(middle, top - 24, "head %d" % h, anchor="middle", weight="bold")
        columns = "columns %d..%d" % (h * head_dim, (h + 1) * head_dim - 1)
        svg.text(middle, top - 8, columns, anchor="middle", size=11)
    for t in range(rows):
        row_y = top + t * CELL_H
        svg.text(left - 8, row_y + 16, "row %d = token %d" % (t, t), anchor="end")
        for c in range(embed_dim):
            cx = left + c * CELL_W
            svg.rect(cx, row_y, CELL_W, CELL_H, HEAD_FILLS[c // head_dim])
            svg.text(cx + CELL_W / 2, row_y + 16, str(t * embed_dim + c), anchor="middle", size=11)
    notes = [
        "keys[t*embed_dim + h*head_dim + j] is element j of head h for token t",
        "(the numbers: each cell's index in keys or values, array('b'));",
        "head_dim = embed_dim // num_heads = %d." % head_dim,
        "KVCache(capacity, embed_dim).append(key, value) adds one row per token.",
    ]
    note_x = left + embed_dim * CELL_W + 30
    for i, note in enumerate(notes):
        svg.text(note_x, top + 16 + 19 * i, note)


def sliding_window(svg, x, y, window_size=4, cache_len=10, head_dim=4):
    """Position i lives in row i % window_size; the last window_size positions are attended."""
    title = "Sliding window ring, SlidingWindowAttention(%d, %d)" % (window_size, head_dim)
    svg.text(x, y, title, size=14, weight="bold")
    top, left = y + 22, x + 130
    first = cache_len - window_size
    svg.text(left - 8, top + 16, "positions 0..%d" % (cache_len - 1), anchor="end")
    for i in range(cache_len):
        cx = left + i * CELL_W
        svg.rect(cx, top, CELL_W, CELL_H, HEAD_FILLS[i % window_size] if i >= first else FADED)
        svg.text(cx + CELL_W / 2, top + 16, str(i), anchor="middle", size=11)
    svg.text(left + cache_len * CELL_W + 10, top + 16, "cache_len = %d" % cache_len)
    ring_top = top + CELL_H + 22
    for r in range(window_size):
        row_y = ring_top + r * CELL_H
        held = [i for i in range(cache_len) if i % window_size == r]
        svg.text(left - 8, row_y + 16, "row %d" % r, anchor="end")
        for j in range(head_dim):
            svg.rect(left + j * CELL_W, row_y, CELL_W, CELL_H, HEAD_FILLS[r])
        label = "position %d" % held[-1]
        if len(held) > 1:
            label += "  (overwrote %s)" % ", ".join(str(p) for p in held[:-1])
        svg.text(left + head_dim * CELL_W + 10, row_y + 16, label, size=11)
    notes = [
        "Position i lives in row i % window_size.",
        "keys and values: a ring of window_size rows of head_dim int8;",
        "forward(query, keys, values, %d, output) attends positions %d..%d"
        % (cache_len, first, cache_len - 1),
        "(in ring order: the result is the same). Position %d goes to row %d;"
        % (cache_len, cache_len % window_size),
        "KVCache(window_size, head_dim, ring=True) writes rows this way.",
    ]
    note_x = left + head_dim * CELL_W + 190
    for i, note in enumerate(notes):
        svg.text(note_x, ring_top + 16 + 19 * i - 10, note)


def draw():
    svg = Svg(900, 400, "Buffer layouts: the KV cache per head and the sliding window ring")
    kv_cache(svg, 20, 30)
    sliding_window(svg, 20, 230)
    return svg.render()


def main(argv=None):
    command_line(draw, DEFAULT_OUT, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
