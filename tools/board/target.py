"""Run a device script (tools/device/*.py) on a MicroPython target.

    python tools/board/target.py SCRIPT [--port PORT] [--with NAME ...]

Without --port the script runs on the local unix port (`micropython`, with firmware/
on MICROPYPATH), the real viper code on this machine; MICROPYTHON= in the environment
names another interpreter (a 32-bit build), HEAP= gives it a heap of that size
(-X heapsize, e.g. HEAP=110K, an ESP32's) and FORM=mpy has it import the package
compiled by mpy-cross for its architecture (build/<arch>/), as deployed to a board,
instead of the sources. With --port it runs on a board through
mpremote, using the package deployed in /lib: the board is asked what it runs first
(tools/board/link.py: a timeout, one line for each failure of the link), and every
command has a timeout (TIMEOUT=seconds changes it).

A script is compiled on the host with mpy-cross before it runs (for the target's
architecture when it holds viper code), so a board spends its heap on what the script
does, not on compiling it: on a board the .mpy is copied to /_tool.mpy, then imported
after a soft reset (a whole heap) and removed; on the unix port it runs with -m. Where the target loads another .mpy version
than this mpy-cross writes, the source goes as it is.

Device scripts are single files on the board. A script that stands on helper files of
tools/device/ names them in a line of its own, `# with: plain.py baseline.py`; a helper
may name its own helpers the same way. The script and its helpers are joined into one
file first: each file once, every helper before the first file that names it, in the
order named. --with prepends more helpers.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from board import board_check, boards, link
from board.boards import BoardError, tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVICE = os.path.join(ROOT, "tools", "device")
FIRMWARE = os.path.join(ROOT, "firmware")
WITH = "# with:"  # the line in which a device file names the helpers it stands on
FIRST = "# first:"  # the line naming modules to import before the script is loaded
ON_BOARD = "/_tool.mpy"  # where a compiled script waits on a board while it runs
BOARD_SECONDS = 1800  # a script on a board: the longest (fuzz, bench) take minutes
# In front of every script: an imported script still runs as the main one, and its own
# objects start on a heap just collected (what loading it left is not in their way).
MAIN = "__name__ = '__main__'\nimport gc\ngc.collect()\n"


def interpreter():
    """The unix port that runs scripts: MICROPYTHON from the environment, else .venv's."""
    return os.environ.get("MICROPYTHON") or tool("micropython")


def heap_args():
    """-X heapsize=HEAP when HEAP is in the environment (110K, 2M, ...)."""
    heap = os.environ.get("HEAP")
    return ["-X", "heapsize=" + heap] if heap else []


def command(script, port=None):
    """The command running a source script: (args, environment or None)."""
    if port:
        return [tool("mpremote"), "connect", port, "run", script], None
    return [interpreter(), *heap_args(), script], dict(os.environ, MICROPYPATH=FIRMWARE)


_ARCH_CACHE = {}


def unix_mpy(micropython):
    """sys.implementation._mpy of a unix port (cached)."""
    if micropython not in _ARCH_CACHE:
        out = subprocess.run(
            [micropython, "-c", "import sys; print(sys.implementation._mpy)"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        _ARCH_CACHE[micropython] = int(out.split()[-1])
    return _ARCH_CACHE[micropython]


def first_imports(script, indent=""):
    """Import statements for the modules a script names in its `# first:` line: imported
    before the script itself is loaded, they sit low on a whole heap, and the space above
    stays in one piece for what the script allocates (a model's weights)."""
    with open(script) as f:
        for line in f:
            if line.startswith(FIRST):
                return "".join("import %s\n%s" % (m, indent) for m in line[len(FIRST) :].split())
    return ""


def needs_arch(path):
    """Whether a script holds native code (viper), which mpy-cross compiles per arch."""
    with open(path) as f:
        return re.search(r"@micropython\.(viper|native)", f.read()) is not None


def compile_script(path, mpy):
    """path compiled by mpy-cross for a target whose sys.implementation._mpy is mpy, or
    None when the target loads another .mpy version than mpy-cross writes."""
    cmd = [tool("mpy-cross"), "-s", os.path.basename(path)]
    if needs_arch(path):
        arch = board_check.arch(mpy)
        if arch is None:
            return None
        cmd.append("-march=" + arch)
    folder = os.path.join(os.path.dirname(path), "mpy")  # not beside the .py, which wins
    os.makedirs(folder, exist_ok=True)
    out = os.path.join(folder, os.path.splitext(os.path.basename(path))[0] + ".mpy")
    try:
        subprocess.run(cmd + ["-o", out, path], capture_output=True, check=True, timeout=120)
    except (BoardError, subprocess.CalledProcessError):
        return None
    version, sub, arch = board_check.mpy_header(out)
    if version != mpy & 0xFF or (arch is not None and sub != (mpy >> 8) & 3):
        return None
    return out


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
    globals); env adds to the environment of the unix port. Returns the CompletedProcess
    (stdout and stderr as text; without capture stdout is shown as it comes too). A
    failure of the link to a board, or Ctrl-C, ends the program with one line."""
    try:
        with tempfile.TemporaryDirectory() as folder:
            script = bundle(names, folder, MAIN + prelude)
            if port:
                return run_on_board(script, port, capture, timeout)
            return run_on_unix(script, capture, timeout, env)
    except link.BoardFailure as failure:
        print("%s: %s" % (names[-1], failure), file=sys.stderr)
        raise SystemExit(130 if isinstance(failure, link.Interrupted) else 1) from None


def package_path(micropython):
    """Where the unix port finds the package: firmware/, or with FORM=mpy in the
    environment the package compiled for the interpreter's arch (build/<arch>/)."""
    if os.environ.get("FORM") != "mpy":
        return FIRMWARE
    arch = board_check.arch(unix_mpy(micropython))
    build = os.path.join(ROOT, "build", arch)
    boards.compile_package(boards.SRC, build, arch)
    return build


def run_on_unix(script, capture, timeout, env):
    micropython = interpreter()
    mpy = compile_script(script, unix_mpy(micropython))
    base = dict(os.environ, **(env or {}))
    # glibc's heap, not mmap, for the interpreter's heap: on a 32-bit build that keeps it
    # below 0x80000000, where the package's buffer checks can read object headers.
    base.setdefault("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=67108864")
    path = env["MICROPYPATH"] if env and "MICROPYPATH" in env else package_path(micropython)
    base["MICROPYPATH"] = os.path.dirname(mpy or script) + os.pathsep + path
    if mpy:
        name = os.path.splitext(os.path.basename(script))[0]
        args = [micropython, *heap_args(), "-c", first_imports(script) + "import " + name]
    else:
        args = [micropython, *heap_args(), script]
    proc = link.start(args, env=base)  # its own session: Ctrl-C is for this program to report
    try:
        out, err = link.communicate(proc, timeout, echo=not capture, echo_err=not capture)
    except KeyboardInterrupt:
        raise link.interrupted(("the script on the unix port", "")) from None
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def run_on_board(script, port, capture, timeout):
    device = link.probe(port)
    mpy = compile_script(script, device["mpy"]) if device["mpy"] is not None else None
    seconds = link.timeout(timeout or BOARD_SECONDS)
    what = ("the script", "; the board may still be running it: the next board command stops it")
    if mpy is None:
        return link.run(port, ["run", script], seconds, what, capture)
    name = os.path.splitext(ON_BOARD[1:])[0]
    code = (
        "import sys\nsys.path.insert(0, '/')\ntry:\n    %simport %s\nfinally:\n"
        "    import os\n    os.remove(%r)\n" % (first_imports(script, "    "), name, ON_BOARD)
    )
    # Two connections: mpremote soft-resets the board as the second begins, so the script
    # starts on a whole heap, not on one the copy left in pieces.
    size = os.path.getsize(mpy)
    done = link.run(port, ["cp", mpy, ":" + ON_BOARD], link.copy_timeout(size), ("the copy", ""))
    if done.returncode:
        raise link.BoardFailure(
            "could not copy the script to %s on the board: %s"
            % (ON_BOARD, (done.stdout + done.stderr).strip()[-200:])
        )
    return link.run(port, ["exec", code], seconds, what, capture)


def out_of_heap(text):
    """Whether the run ended on the target's heap running out: a MemoryError, or a model
    file refused for the RAM it needs (not a kernel's fault)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return last.startswith("MemoryError") or re.search(r"needs \d+ bytes of RAM", last) is not None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("script")
    parser.add_argument("--port", help="serial port of a board (default: the local unix port)")
    parser.add_argument("--with", dest="helpers", action="append", default=[])
    args = parser.parse_args()
    done = run(args.helpers + [args.script], args.port)
    if done.returncode:  # a clear last line, below whatever the script printed
        where = "the board at " + args.port if args.port else "the unix port"
        if out_of_heap((done.stdout or "") + (done.stderr or "")):
            print(
                "%s: the heap of %s ran out (MemoryError), a limit of the target and not a "
                "wrong result; see the lines above for what needed it" % (args.script, where),
                file=sys.stderr,
            )
        else:
            print(
                "%s: FAILED on %s (exit status %d)" % (args.script, where, done.returncode),
                file=sys.stderr,
            )
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
