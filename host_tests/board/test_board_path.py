"""The user's path to a board, walked against the virtual board (a 110 KB heap, as an ESP32
without PSRAM) with the real mpremote and make: deploy, mip install (sources and the x64 .mpy
package), exec, then every board tool to its end: run, device-test, record, accuracy, bench,
eval and fuzz."""

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import MICROPYTHON, ROOT, mpremote, needs_board_tools
from device import cases

pytestmark = needs_board_tools

# One call a user would type at the REPL, printing something checkable.
CALL = (
    "from array import array; from attention import MicroAttention; "
    "a = MicroAttention(8, 2); s = array('i', [0, 0]); "
    "a.compute_scores(array('b', [1, -2, 3, -4]), array('b', [5, 6, 7, 8, -9, 10, -11, 12]), s); "
    "a.softmax_fixed(s); print(list(s))"
)


def make(*args, timeout=300, fails=False):
    """Run make in the repository; returns stdout, or stdout + stderr when it must fail."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", ROOT, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if fails:
        assert done.returncode != 0, done.stdout + done.stderr
        return done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def direct_call():
    env = dict(os.environ, MICROPYPATH=os.path.join(ROOT, "firmware"))
    done = subprocess.run(
        [MICROPYTHON, "-c", CALL], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout


def installed_files(board):
    listing = mpremote(board, "exec", "import os; print(sorted(os.listdir('/lib/attention')))")
    return listing.stdout.strip()


FREE = "import gc; gc.collect(); print(gc.mem_free())"


def test_a_program_finds_the_free_heap_of_an_esp32(board):
    """What a bare interpreter with a 110 KB heap leaves free, within 2 KB."""
    bare = subprocess.run(
        [MICROPYTHON, "-X", "heapsize=110K", "-c", FREE],
        capture_output=True,
        text=True,
        check=True,
    )
    free = int(mpremote(board, "exec", FREE).stdout)
    assert abs(free - int(bare.stdout)) <= 2048, (free, bare.stdout)


def test_deploy_then_exec(board):
    make("deploy", "PORT=" + board[0])
    assert ".mpy'" in installed_files(board) and ".py'" not in installed_files(board)
    assert mpremote(board, "exec", CALL).stdout == direct_call()


def test_deploy_replaces_an_older_copy(board):
    mpremote(
        board, "exec", "f = open('/lib/attention/stale.py', 'w'); f.write('x = 1'); f.close()"
    )
    make("deploy", "PORT=" + board[0])
    assert "stale" not in installed_files(board)


@pytest.mark.parametrize("name, arch", [("esp32", "xtensawin"), ("rp2040", "armv6m")])
def test_deploy_of_another_arch_is_refused_before_anything_changes(board, name, arch):
    make("deploy", "PORT=" + board[0])
    before = installed_files(board)
    out = make("deploy", "PORT=" + board[0], "BOARD=" + name, fails=True)
    assert "refusing to deploy to " + board[0] in out
    assert "incompatible .mpy arch" in out
    assert f"BOARD={name} builds {arch} .mpy files" in out and "(x64)" in out
    assert "without BOARD=" in out
    assert installed_files(board) == before  # the .py sources are still there


def test_deploy_to_a_missing_port_says_so(tmp_path):
    missing = str(tmp_path / "ttyUSB0")
    out = make("deploy", "PORT=" + missing, fails=True)
    assert "no such port: " + missing in out
    assert "failed to access" not in out  # mpremote was not asked


def test_uninstall(board):
    make("deploy", "PORT=" + board[0])
    assert "removed /lib/attention" in make("uninstall", "PORT=" + board[0])
    listing = mpremote(board, "exec", "import os; print(os.listdir('/lib'))").stdout.strip()
    assert listing == "[]"


def test_mip_install_of_the_sources(board):
    mpremote(board, "run", os.path.join(ROOT, "tools", "device", "uninstall.py"))
    mpremote(board, "mip", "install", os.path.join(ROOT, "package.json"))
    assert mpremote(board, "exec", CALL).stdout == direct_call()


def test_mip_install_of_the_x64_mpy_package(board, tmp_path):
    out = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "tools", "board", "boards.py"),
            "dist",
            "--out",
            str(out),
            "--root-json",
            "",
        ],
        check=True,
        capture_output=True,
    )
    mpremote(board, "run", os.path.join(ROOT, "tools", "device", "uninstall.py"))
    mpremote(board, "mip", "install", str(out / "x64" / "package.json"))
    assert ".mpy'" in installed_files(board) and ".py'" not in installed_files(board)
    assert mpremote(board, "exec", CALL).stdout == direct_call()


def test_record_on_the_board_equals_the_direct_recording(board, tmp_path):
    on_board, direct = tmp_path / "board.json", tmp_path / "direct.json"
    make("record", "PORT=" + board[0], "FIXTURE=" + str(on_board))
    make("record", "FIXTURE=" + str(direct))
    board_cases = json.loads(on_board.read_text())["cases"]
    assert board_cases == json.loads(direct.read_text())["cases"]
    assert len(board_cases) == len(cases.SUITE)


def test_run_and_device_test_on_the_board(board):
    out = make("run", "PORT=" + board[0])
    assert "SlidingWindowAttention" in out and re.search(r"abcdefgh\| +-> hgfedcba\.", out)
    assert (
        re.search(r"a tap +window -> tap ", out)
        and "streamed, after 32 frames pushed: circle" in out
    )
    assert make("device-test", "PORT=" + board[0]).strip().endswith(" passed, 0 failed")


def test_accuracy_on_the_board(board, tmp_path):
    out = make("accuracy", "PORT=" + board[0])
    assert "weight of the lower of two scores" in out and "plot: build/accuracy-board.svg" in out


def test_bench_on_the_board(board):
    """Every table ends; a size whose buffers the heap cannot hold is one skipped line."""
    out = make("bench", "PORT=" + board[0], timeout=900)
    assert "outputs: all equal to plain Python" in out
    assert "RAM of the loaded model:" in out
    for line in out.splitlines():
        if line.startswith("skipped"):
            assert re.fullmatch(
                r"skipped .*: (needs about|ran out of heap).*the target has .*", line
            )


def test_eval_on_the_board(board):
    make("deploy", "PORT=" + board[0])
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "report", "eval_model.py")]
        + ["--port", board[0], "--count", "40"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "int8 40 of 40 correct" in done.stdout


def test_fuzz_on_the_board(board):
    out = make("fuzz", "PORT=" + board[0], "SEED=3", "CALLS=1500", timeout=900)
    assert out.strip().endswith("fuzz: 1500 calls, seed 3, ok")
