"""A few SVG drawing helpers for the README figures: text out, no plotting library needed.

Coordinates are rounded to 0.1 so the files only change when the figures do.
"""

import argparse
import math
from pathlib import Path
from xml.sax.saxutils import escape

FONT = "font-family='Helvetica, Arial, sans-serif'"
COLORS = {"float": "#222222", "exp2": "#1f77b4", "linear": "#ff7f0e"}


def _n(x):
    return ("%.1f" % x).rstrip("0").rstrip(".")


class Svg:
    def __init__(self, width, height, title):
        self.width, self.height = width, height
        self.parts = [
            "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
            "viewBox='0 0 %d %d' %s font-size='12'>" % (width, height, width, height, FONT),
            "<title>%s</title>" % escape(title),
            "<rect width='100%' height='100%' fill='white'/>",
        ]

    def resize(self, height):
        """Set the height once the drawing knows how tall it is."""
        self.parts[0] = (
            self.parts[0]
            .replace("height='%d'" % self.height, "height='%d'" % height)
            .replace("0 0 %d %d'" % (self.width, self.height), "0 0 %d %d'" % (self.width, height))
        )
        self.height = height

    def text(self, x, y, s, anchor="start", size=12, weight="normal", color="#222222"):
        self.parts.append(
            "<text x='%s' y='%s' text-anchor='%s' font-size='%d' font-weight='%s' fill='%s'>"
            "%s</text>" % (_n(x), _n(y), anchor, size, weight, color, escape(s))
        )

    def line(self, x1, y1, x2, y2, color="#222222", width=1, dash=None):
        style = " stroke-dasharray='%s'" % dash if dash else ""
        self.parts.append(
            "<line x1='%s' y1='%s' x2='%s' y2='%s' stroke='%s' stroke-width='%s'%s/>"
            % (_n(x1), _n(y1), _n(x2), _n(y2), color, _n(width), style)
        )

    def rect(self, x, y, w, h, fill, stroke="#222222"):
        self.parts.append(
            "<rect x='%s' y='%s' width='%s' height='%s' fill='%s' stroke='%s'/>"
            % (_n(x), _n(y), _n(w), _n(h), fill, stroke)
        )

    def polyline(self, points, color, width=2, dash=None):
        style = " stroke-dasharray='%s'" % dash if dash else ""
        self.parts.append(
            "<polyline fill='none' stroke='%s' stroke-width='%s'%s points='%s'/>"
            % (color, _n(width), style, " ".join("%s,%s" % (_n(x), _n(y)) for x, y in points))
        )

    def circle(self, x, y, r, color):
        self.parts.append(
            "<circle cx='%s' cy='%s' r='%s' fill='%s'/>" % (_n(x), _n(y), _n(r), color)
        )

    def render(self):
        return "\n".join([*self.parts, "</svg>", ""])


class Axes:
    """A plot area of an Svg: data coordinates to pixels, axes with ticks and labels."""

    def __init__(self, svg, box, xrange, yrange, ylog=False):
        self.svg, self.ylog = svg, ylog
        self.x0, self.y0, self.w, self.h = box
        self.xmin, self.xmax = xrange
        self.ymin, self.ymax = (math.log10(v) for v in yrange) if ylog else yrange

    def px(self, x, y):
        if self.ylog:
            y = math.log10(max(y, 10**self.ymin))
        fx = (x - self.xmin) / (self.xmax - self.xmin)
        fy = (y - self.ymin) / (self.ymax - self.ymin)
        return self.x0 + fx * self.w, self.y0 + self.h - fy * self.h

    def frame(self, xticks, yticks, xlabel, ylabel, title):
        s, bottom = self.svg, self.y0 + self.h
        for y in yticks:
            _, py = self.px(self.xmin, y)
            s.line(self.x0, py, self.x0 + self.w, py, color="#dddddd")
            s.text(self.x0 - 6, py + 4, "%g" % y, anchor="end", size=11)
        for x in xticks:
            px, _ = self.px(x, 10**self.ymin if self.ylog else self.ymin)
            s.line(px, bottom, px, bottom + 4)
            s.text(px, bottom + 17, "%g" % x, anchor="middle", size=11)
        s.line(self.x0, bottom, self.x0 + self.w, bottom)
        s.line(self.x0, self.y0, self.x0, bottom)
        s.text(self.x0 + self.w / 2, bottom + 34, xlabel, anchor="middle")
        s.parts.append(
            "<text transform='translate(%s,%s) rotate(-90)' text-anchor='middle'>%s</text>"
            % (_n(self.x0 - 42), _n(self.y0 + self.h / 2), escape(ylabel))
        )
        s.text(self.x0 + self.w / 2, self.y0 - 12, title, anchor="middle", weight="bold")

    def curve(self, xs, ys, color, dash=None, markers=False, width=2):
        points = [self.px(x, y) for x, y in zip(xs, ys)]
        self.svg.polyline(points, color, width=width, dash=dash)
        if markers:
            for x, y in points:
                self.svg.circle(x, y, 3, color)

    def legend(self, x, y, entries):
        """entries: (label, color, dash) from top to bottom, at pixel position x, y."""
        for i, (label, color, dash) in enumerate(entries):
            self.svg.line(x, y + 18 * i, x + 24, y + 18 * i, color=color, width=2, dash=dash)
            self.svg.text(x + 30, y + 18 * i + 4, label)


def command_line(draw, default_out, description, argv=None):
    """A figure tool's command line: --out (default_out), then the SVG of draw() written there."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", default=str(default_out), help="the SVG to write")
    args = parser.parse_args(argv)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(draw())
    print("figure: %s" % args.out)
