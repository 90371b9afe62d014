"""Run a device script (tools/device/*.py) on a MicroPython target.

    python tools/board/target.py SCRIPT [--port PORT] [--with NAME ...]

Without --port the script runs on the local unix port (`micropython`, with firmware/
on MICROPYPATH), the real viper code on this machine. With --port it runs on a
board through `mpremote connect PORT run`, using the package deployed in /lib.

Device scripts are single files on the board. A script that stands on helper files of
tools/device/ names them in a line of its own, `# with: plain.py baseline.py`; a helper
may name its own helpers the same way. The script and its helpers are joined into one
file first: each file once, every helper before the first file that names it, in the
order named. --with prepends more helpers.
"""

import argparse
import os
import subprocess
import sys
import tempfile

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from board.boards import tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVICE = os.path.join(ROOT, "tools", "device")
WITH = "# with:"  # the line in which a device file names the helpers it stands on


def command(script, port=None):
    if port:
        return [tool("mpremote"), "connect", port, "run", script], None
    return [tool("micropython"), script], dict(
        os.environ, MICROPYPATH=os.path.join(ROOT, "firmware")
    )


def helpers(name):
    """The helper files tools/device/<name> names in its `# with:` line, in order."""
    with open(os.path.join(DEVICE, os.path.basename(name))) as f:
        for line in f:
            if line.startswith(WITH):
                return line[len(WITH) :].split()
    return []


def order(names):
    """The files of tools/device/ that make the names into one script, in order: every
    helper (and its own helpers) before the first file naming it, each file once."""
    out = []

    def visit(name, path):
        name = os.path.basename(name)
        if name in path:
            raise ValueError("device files name each other: " + " -> ".join(path + [name]))
        if name not in out:
            for helper in helpers(name):
                visit(helper, path + [name])
            out.append(name)

    for name in names:
        visit(name, [])
    return out


def bundle(names, folder, prelude=""):
    """One script in folder made of prelude, then tools/device/<name>.py for each name and
    the helpers they name (order() above); returns its path."""
    path = os.path.join(
        folder, "_".join(os.path.splitext(os.path.basename(n))[0] for n in names) + ".py"
    )
    with open(path, "w") as out:
        out.write(prelude)
        for name in order(names):
            with open(os.path.join(DEVICE, name)) as f:
                out.write(f.read() + "\n")
    return path


def run(names, port=None, capture=False, timeout=None, prelude="", env=None):
    """Run the bundled scripts (prelude first, e.g. settings the script reads from its
    globals); env adds to the environment. Returns the CompletedProcess (stdout captured
    if asked)."""
    with tempfile.TemporaryDirectory() as folder:
        args, base = command(bundle(names, folder, prelude), port)
        if env is not None:
            base = dict(base or os.environ, **env)
        return subprocess.run(
            args, env=base, capture_output=capture, text=True, timeout=timeout, check=False
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("script")
    parser.add_argument("--port", help="serial port of a board (default: the local unix port)")
    parser.add_argument("--with", dest="helpers", action="append", default=[])
    args = parser.parse_args()
    code = run(args.helpers + [args.script], args.port).returncode
    if code:  # a clear last line, below whatever the script printed
        where = "the board at " + args.port if args.port else "the unix port"
        print("%s: FAILED on %s (exit status %d)" % (args.script, where, code), file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
