"""Copy the package to /lib/attention on a board, after checking the board can run it.

    python tools/board/deploy.py --port PORT               # the .py sources
    python tools/board/deploy.py --port PORT --board NAME  # .mpy files for boards/NAME.json

First the port is checked (tools/board/serial_ports.py), then the board is asked what it
runs (`mpremote exec`, tools/board/board_check.py): a board of another architecture than
BOARD's, or a firmware older than the board's minimum, is refused with a message
naming both sides and the fix, before anything on the board changes. Then the old
/lib/attention is removed and the new one copied (`mpremote ... cp -r ... + soft-reset`).
"""

import argparse
import os
import subprocess
import sys

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from board import board_check, boards, serial_ports

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNINSTALL = os.path.join(ROOT, "tools", "device", "uninstall.py")


class DeployError(Exception):
    """A user-facing refusal: the message says what is wrong and what to do."""


def ask_board(port, timeout=60):
    """What the board at ``port`` runs: board_check.parse of its answer to QUERY."""
    done = subprocess.run(
        [boards.tool("mpremote"), "connect", port, "exec", board_check.QUERY],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode:
        raise DeployError(
            "could not talk to the board at %s:\n%s\nIs another program (a serial monitor, "
            "make repl) holding the port? Press the board's RESET button and try again."
            % (port, (done.stdout + done.stderr).strip())
        )
    try:
        return board_check.parse(done.stdout)
    except (ValueError, SyntaxError) as exc:
        raise DeployError("the board at %s gave no version: %s" % (port, exc)) from None


def deploy(port, board_name=None, out=sys.stdout):
    problem = serial_ports.problem(port)
    if problem:
        raise DeployError(problem)
    if board_name is not None:
        boards.load(board_name)  # an unknown name fails here, before the board is asked
    device = ask_board(port)
    mpy_files = None
    if board_name is not None:
        found = board_check.problems(device, board_name)  # the arch, before compiling
        if not found:
            build = os.path.join(ROOT, "build", board_name)
            arch = boards.load(board_name)["mpy_arch"]
            boards.compile_package(boards.SRC, build, arch)
            package = os.path.join(build, "attention")
            version, sub, _ = board_check.mpy_header(os.path.join(package, "_kernels.mpy"))
            mpy_files = (version, sub)
            found = board_check.problems(device, board_name, mpy_files=mpy_files)
        what = "the %s .mpy files" % board_name
    else:
        found = board_check.problems(device)
        package = str(boards.SRC)
        what = "the .py sources"
    if found:
        raise DeployError("refusing to deploy to %s:\n%s" % (port, "\n".join(found)))
    print("deploy: %s runs %s" % (port, board_check.describe(device)), file=out, flush=True)
    cmd = [boards.tool("mpremote"), "connect", port, "run", UNINSTALL]
    cmd += ["+", "cp", "-r", package, ":/lib/", "+", "soft-reset"]
    code = subprocess.run(cmd, check=False).returncode
    if code:
        raise DeployError("mpremote failed (exit status %d) while copying to %s" % (code, port))
    print("deploy: /lib/attention on %s now holds %s" % (port, what), file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", required=True, help="serial port of the board")
    parser.add_argument("--board", help="a board of boards/: deploy its .mpy files")
    args = parser.parse_args(argv)
    try:
        deploy(args.port, args.board)
    except (DeployError, boards.BoardError) as exc:
        print("deploy: error: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
