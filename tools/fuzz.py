"""Run the hostile-call fuzzer (tools/device/fuzz.py) on the unix port or on a board.

    python tools/fuzz.py [--seed N] [--calls N] [--verbose] [--port PORT]

The seed, call count and verbosity go in as a first line of the script, so the same
file runs on a board through mpremote, where there is no command line.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile

from target import DEVICE, command


def script(folder, seed, calls, verbose):
    """tools/device/fuzz.py with its settings prepended; returns its path."""
    path = os.path.join(folder, "fuzz.py")
    with open(os.path.join(DEVICE, "fuzz.py")) as f:
        body = f.read()
    with open(path, "w") as out:
        out.write("SEED = %d; CALLS = %d; VERBOSE = %s\n" % (seed, calls, verbose))
        out.write(body)
    return path


def run(seed, calls, verbose=False, port=None, capture=False, timeout=None, env=None):
    """Run the fuzzer once; returns the CompletedProcess."""
    with tempfile.TemporaryDirectory() as folder:
        args, base = command(script(folder, seed, calls, verbose), port)
        if env is not None:
            base = dict(base or os.environ, **env)
        return subprocess.run(
            args, env=base, capture_output=capture, text=True, timeout=timeout, check=False
        )


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
