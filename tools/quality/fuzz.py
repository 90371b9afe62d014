"""Run the hostile-call fuzzer (tools/device/fuzz.py) on the unix port or on a board.

    python tools/quality/fuzz.py [--seed N] [--calls N] [--verbose] [--port PORT]

The seed, call count and verbosity go in as a first line of the script, so the same
file runs on a board through mpremote, where there is no command line.
"""

import argparse
import os
import random
import sys

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from board import target


def run(seed, calls, verbose=False, port=None, capture=False, timeout=None, env=None):
    """Run the fuzzer once; returns the CompletedProcess."""
    settings = "SEED = %d; CALLS = %d; VERBOSE = %s\n" % (seed, calls, verbose)
    return target.run(["fuzz.py"], port, capture, timeout, prelude=settings, env=env)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, help="default: a fresh random seed, printed")
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--verbose", action="store_true", help="print every call before it")
    parser.add_argument("--port", help="serial port of a board (default: the local unix port)")
    parser.add_argument("--path", help="MICROPYPATH for the unix port (default: firmware/)")
    args = parser.parse_args()
    seed = random.randrange(1, 2**31) if args.seed is None else args.seed
    print("fuzz: seed %d, %d calls" % (seed, args.calls), flush=True)
    env = {"MICROPYPATH": args.path} if args.path else None
    result = run(seed, args.calls, args.verbose, args.port, env=env)
    if result.returncode:
        print("fuzz: exit status %d; replay: make fuzz SEED=%d" % (result.returncode, seed))
    sys.exit(1 if result.returncode else 0)


if __name__ == "__main__":
    main()
