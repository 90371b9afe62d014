#!/usr/bin/env python3
"""Python steps per token: the Python-level calls and the viper calls of a generation.

    python tools/report/steps.py

Runs the package's Decoder and the previous decoder (tools/device/baseline_model.py) on
the shipped model in CPython, through the shim of host_tests/shim (the same source as on
a board; viper functions become Python functions there), under sys.setprofile, and
counts the calls made by that source:
  Python calls  every call of a function or method written in Python (bytecode or
                @micropython.native: methods, property getters, helpers), made from
                the package's or the baseline's code or by the workload below
  viper calls   every call of a @micropython.viper function (what the shim runs
                inside one is not counted)
Calls of built-in functions and types (len(), type(), ...) are not counted: CPython
reports only some of them. Comprehension frames, which CPython 3.11 runs as functions,
are not calls in the source and are not counted.

Workloads, per model: the standard example, generate_into(encode("abcdefgh|"),
bytearray(9)) (17 feeds, 9 picks; per token = per feed), and one full step, feed(token)
then pick() (the token after the example's prompt, at position 9).
"""

import os
import sys
from collections import Counter
from pathlib import Path

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from board import boards
from machine_code.kernel_loops import table

ROOT = Path(__file__).resolve().parents[2]
SHIM = ROOT / "host_tests" / "shim"
FIRMWARE = Path(boards.SRC)
BASELINE = tuple(
    ROOT / "tools" / "device" / n for n in ("baseline_kernels.py", "baseline_model.py")
)
EXAMPLE, ROOM = "abcdefgh|", 9
COMPREHENSIONS = ("<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>")


def _shim():
    """The micropython shim, and the firmware, importable (as host_tests/conftest.py does)."""
    for path in (str(FIRMWARE.parent), str(SHIM)):
        if path not in sys.path:
            sys.path.insert(0, path)
    import micropython  # noqa: PLC0415  (the shim: before anything imports the firmware)

    if not hasattr(micropython, "viper") or "shim" not in str(micropython.__file__):
        raise RuntimeError(
            "the micropython shim must be imported first, not " + micropython.__file__
        )
    return micropython


class Steps:
    """Counts the calls made while work() runs (count()): Python calls of the functions
    written in the files under the given folders (sys.setprofile), and viper calls, made
    through counting stand-ins put in every namespace that holds a viper function (the
    profiler is off while one runs: the shim's work inside it is not the program's)."""

    def __init__(self, namespaces, *sources):
        self.namespaces = namespaces
        self.sources = tuple(str(s) for s in sources)
        self.python = 0
        self.viper = 0
        self.by_name = Counter()

    def __call__(self, frame, event, arg):
        if event == "call":
            code = frame.f_code
            if code.co_filename.startswith(self.sources) and code.co_name not in COMPREHENSIONS:
                self.python += 1
                self.by_name[code.co_name] += 1

    def _counted(self, function):
        def counted(*args):
            sys.setprofile(None)
            self.viper += 1
            self.by_name[function.__name__ + " (viper)"] += 1
            try:
                return function(*args)
            finally:
                sys.setprofile(self)

        return counted

    def count(self, work):
        """Run work() under this counter; returns (python calls, viper calls)."""
        before = self.python, self.viper
        saved = []
        for space in self.namespaces:
            for name, value in list(space.items()):
                if hasattr(value, "viper_source"):  # the shim's mark of a viper function
                    saved.append((space, name, value))
                    space[name] = self._counted(value)
        sys.setprofile(self)
        try:
            work()
        finally:
            sys.setprofile(None)
            for space, name, value in saved:
                space[name] = value
        return self.python - before[0], self.viper - before[1]


def _baseline_namespace():
    """The globals of tools/device/baseline_model.py after its kernels, run as CPython source."""
    namespace = {"__name__": "baseline_model"}
    for path in BASELINE:
        exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


def count_steps(model_path=None, which=("package", "previous")):
    """{"package"|"previous": {"example": (python, viper) per feed, "full": (python, viper),
    "feeds": feeds of the example}}; the two models must generate the same tokens."""
    _shim()
    from attention.decoder import Decoder, shipped  # noqa: PLC0415  (after the shim)

    path = model_path or shipped()
    package = Decoder.load(path)
    baseline = _baseline_namespace()
    previous = baseline["PreviousDecoder"](path)
    namespaces = [vars(m) for n, m in sorted(sys.modules.items()) if n.startswith("attention")]
    namespaces.append(baseline)
    prompt = package.encode(EXAMPLE)
    found = {}
    outputs = []
    for name, model in (("package", package), ("previous", previous)):
        if name not in which:
            continue
        out = bytearray(ROOM)
        steps = Steps(namespaces, FIRMWARE, *BASELINE)
        holder = []
        python, viper = steps.count(
            lambda m=model, o=out: holder.append(m.generate_into(prompt, o))
        )
        count = holder[0]
        feeds = len(prompt) + count - 1
        outputs.append(bytes(out[:count]))
        model.reset()
        for token in prompt:
            model.feed(token)
        token = model.pick()
        full = steps.count(lambda m=model, t=token: (m.feed(t), m.pick()))
        found[name] = {"example": (python / feeds, viper / feeds), "full": full, "feeds": feeds}
    if len(outputs) == 2 and outputs[0] != outputs[1]:
        raise AssertionError("the previous decoder generated %r, the package %r" % tuple(outputs))
    return found


def report(found):
    rows = []
    for what, key, title in (
        ("Python calls", 0, "mean per token"),
        ("viper calls", 1, "mean per token"),
        ("Python calls", 0, "full step"),
        ("viper calls", 1, "full step"),
    ):
        column = "example" if title.startswith("mean") else "full"
        new = found["package"][column][key]
        old = found["previous"][column][key]
        rows.append(
            [
                "%s, %s" % (what, title),
                "%.1f" % new,
                "%.1f" % old,
                "%.2f" % (old / new if new else 0),
            ]
        )
    feeds = found["package"]["feeds"]
    lines = [
        "## Python steps per token (CPython through the shim, sys.setprofile)\n",
        'mean per token: generate_into(encode("%s"), bytearray(%d)), %d feeds; full step:'
        % (EXAMPLE, ROOM, feeds),
        "feed(token) and pick() at position %d. Built-in calls (len, type, ...) not counted.\n"
        % (len(EXAMPLE)),
        table(
            ["per token", "the package", "previous decoder", "previous / package"], rows, "lrrr"
        ),
    ]
    return "\n".join(lines)


def main():
    print(report(count_steps()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
