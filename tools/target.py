"""Run a device script (tools/device/*.py) on a MicroPython target.

    python tools/target.py SCRIPT [--port PORT] [--with NAME ...]

Without --port the script runs on the local unix port (`micropython`, with firmware/
on MICROPYPATH), the real viper code on this machine. With --port it runs on a
board through `mpremote connect PORT run`, using the package deployed in /lib.
Device scripts are single files on the board; --with prepends helper scripts
from tools/device/ (for example the plain-Python baseline) into one file first.
"""

import argparse
import os
import subprocess
import sys
import tempfile

from boards import tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVICE = os.path.join(ROOT, "tools", "device")


def command(script, port=None):
    if port:
        return [tool("mpremote"), "connect", port, "run", script], None
    return [tool("micropython"), script], dict(
        os.environ, MICROPYPATH=os.path.join(ROOT, "firmware")
    )


def bundle(names, folder):
    """One script made of tools/device/<name>.py for each name, in order."""
    path = os.path.join(
        folder, "_".join(os.path.splitext(os.path.basename(n))[0] for n in names) + ".py"
    )
    with open(path, "w") as out:
        for name in names:
            with open(os.path.join(DEVICE, os.path.basename(name))) as f:
                out.write(f.read() + "\n")
    return path


def run(names, port=None, capture=False, timeout=None):
    """Run the bundled scripts; returns the CompletedProcess (stdout captured if asked)."""
    with tempfile.TemporaryDirectory() as folder:
        args, env = command(bundle(names, folder), port)
        return subprocess.run(
            args, env=env, capture_output=capture, text=True, timeout=timeout, check=False
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
