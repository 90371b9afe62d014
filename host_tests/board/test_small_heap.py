"""Board tools where the heap is short, on the unix port (HEAP= and FORM=mpy, as a board with
the .mpy package): a check the heap cannot hold is skipped with the heap it needs, never
counted as a failed kernel; Ctrl-C at the keyboard is one line, not a host traceback."""

import os
import re
import signal
import subprocess
import sys
import time

from board import target
from conftest import REPO, needs_board_tools

pytestmark = needs_board_tools


def test_a_check_the_heap_cannot_hold_is_skipped_never_failed(monkeypatch):
    monkeypatch.setenv("HEAP", "64K")  # the package fits, the largest check's buffers do not
    monkeypatch.setenv("FORM", "mpy")
    done = target.run(["selftest.py"], capture=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    last = re.fullmatch(r"(\d+) passed, 0 failed, (\d+) skipped", lines[-1])
    assert last and int(last.group(1)) + int(last.group(2)) == 30, lines[-1]
    skipped = [line for line in lines if line.startswith("skipped")]
    assert len(skipped) == int(last.group(2))
    # The largest check cannot fit; which smaller ones also run out depends on how much
    # heap the interpreter's own strings take (the path of the checkout, for one).
    assert any("skipped linear dim 64 n 300: needs about 37.5 KB of heap" in s for s in skipped)
    for line in skipped:  # the heap it needs (or that it ran out), the heap the target has
        assert re.fullmatch(
            r"skipped .*: (needs about .* KB of heap|ran out of heap).*"
            r"; the target has .* free of 6\d\.\d KB",
            line,
        ), line
    assert "FAIL" not in done.stdout and "self-check failed" not in done.stdout + done.stderr


def test_ctrl_c_in_a_board_tool_is_one_line():
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tools" / "report" / "bench.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a terminal's process group: Ctrl-C reaches all of it
    )
    assert proc.stdout.readline().startswith("## Device")  # the device bench has begun
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "Traceback" not in out + err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted (Ctrl-C)" in lines[0], err
