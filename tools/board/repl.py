"""A REPL on a board, once the board is known to answer: `make repl PORT=...`.

    python tools/board/repl.py --port PORT

mpremote's repl connects to a port and waits, for ever, for whatever the board says: a
board whose main.py runs a loop that catches KeyboardInterrupt looks like a hang. So the
port is checked first and the board asked one line (tools/board/link.py, Ctrl-C and the
raw REPL within a timeout, no soft reset: its state is kept, a running program is
stopped, as Ctrl-C at a REPL would); only then does mpremote's repl take the terminal.
Ctrl-] or Ctrl-x leaves it.
"""

import argparse
import os
import sys

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from board import board_check, boards, link


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", required=True, help="serial port of the board")
    args = parser.parse_args(argv)
    try:
        device = link.probe(args.port, soft_reset=False)
    except link.BoardFailure as failure:
        print("repl: error: %s" % failure, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("repl: interrupted (Ctrl-C) while connecting", file=sys.stderr)
        return 130
    print("repl: %s runs %s" % (args.port, board_check.describe(device)), flush=True)
    mpremote = boards.tool("mpremote")
    os.execv(mpremote, [mpremote, "connect", args.port, "resume", "repl"])
    return 0  # not reached: mpremote has the terminal


if __name__ == "__main__":
    sys.exit(main())
