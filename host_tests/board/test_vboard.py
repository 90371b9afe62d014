"""Tests of tools/vboard/vboard.py (a virtual MicroPython board on a pty) driven by the real mpremote."""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import (
    MICROPYTHON,
    MPREMOTE,
    REPO,
    VBOARD,
    make_vboard,
    mpremote,
    needs_board_tools,
    vboard,
)

pytestmark = needs_board_tools


def chain(*commands):
    """Several mpremote commands in one invocation, joined by "+"."""
    return [arg for i, command in enumerate(commands) for arg in ["+"] * (i > 0) + command]


def test_exec_prints(board):
    assert mpremote(board, "exec", "print(1+1)").stdout.strip() == "2"


def test_eval(board):
    assert mpremote(board, "eval", "6*7").stdout.strip() == "42"


def test_exec_exception_fails_with_traceback(board):
    result = mpremote(board, "exec", "def f():\n  1/0\nf()", check=False)
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "Traceback (most recent call last):" in out
    assert 'File "<stdin>", line 2, in f' in out
    assert "ZeroDivisionError" in out
    assert "vboard_agent" not in out


def test_run_script(board, tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        "total = sum(range(10))\nfor i in range(3):\n    print('line', i)\nprint(total)\n"
    )
    out = mpremote(board, "run", str(script)).stdout.split()
    assert out == ["line", "0", "line", "1", "line", "2", "45"]


def test_board_environment(board):
    code = "import sys, os\nprint(sys.path, os.getcwd(), sys.implementation.name)"
    out = mpremote(board, "exec", code).stdout.strip()
    assert out == "['', '.frozen', '/lib'] / micropython"


def test_viper_runs_on_real_micropython(board):
    code = (
        "import micropython\nfrom array import array\n"
        "@micropython.viper\ndef first(a) -> int:\n    p = ptr8(a)\n    return p[0]\n"
        "print(first(array('b', [-5])))"
    )
    assert mpremote(board, "exec", code).stdout.strip() == "251"


def test_filesystem_roundtrip(board, tmp_path):
    root = board[1]
    data = bytes(range(256)) * 5 + b"\r\n\x04\x03end"
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    folder = tmp_path / "pkg"
    (folder / "sub").mkdir(parents=True)
    (folder / "mod.py").write_text("X = 1\n")
    (folder / "sub" / "deep.txt").write_text("deep\n")
    back = tmp_path / "back.bin"

    mpremote(
        board,
        *chain(
            ["mkdir", ":/fs_t"],
            ["cp", str(src), ":/fs_t/blob.bin"],
            ["cp", ":/fs_t/blob.bin", str(back)],
            ["cp", "-r", str(folder), ":/fs_t/"],
        ),
    )
    assert back.read_bytes() == data
    assert (root / "fs_t" / "blob.bin").read_bytes() == data  # "/" is the root folder
    assert (root / "fs_t" / "pkg" / "sub" / "deep.txt").read_text() == "deep\n"

    listing = mpremote(board, "ls", ":/fs_t").stdout
    assert "blob.bin" in listing and "pkg/" in listing
    assert mpremote(board, "cat", ":/fs_t/pkg/sub/deep.txt").stdout.strip() == "deep"

    mpremote(board, "rm", ":/fs_t/blob.bin", "+", "rm", "-r", ":/fs_t/pkg")
    assert list((root / "fs_t").iterdir()) == []
    mpremote(board, "rmdir", ":/fs_t")
    assert not (root / "fs_t").exists()
    result = mpremote(board, "cat", ":/fs_t/nothing.txt", check=False)
    assert result.returncode != 0


def test_state_persists_between_connections(board):
    mpremote(board, "exec", "vb_x = 41")
    # mpremote soft-resets on its first raw REPL entry unless told to `resume`.
    assert mpremote(board, "resume", "exec", "print(vb_x + 1)").stdout.strip() == "42"
    out = mpremote(board, "resume", "exec", "vb_x += 1", "+", "exec", "print(vb_x)").stdout
    assert out.strip() == "42"


def test_soft_reset_clears_state(board):
    code = "print('vb_y' in globals())"
    out = mpremote(board, "exec", "vb_y = 1", "+", "soft-reset", "+", "exec", code).stdout
    assert out.strip() == "False"
    mpremote(board, "resume", "exec", "vb_y = 1")
    mpremote(board, "resume", "soft-reset")
    assert mpremote(board, "resume", "exec", code).stdout.strip() == "False"


def test_sys_exit_and_crash_soft_reboot(board):
    out = mpremote(
        board,
        *chain(
            ["exec", "vb_q = 1"],
            ["exec", "import sys\nsys.exit()"],
            ["exec", "print('vb_q' in globals())"],
        ),
    ).stdout
    assert out.strip() == "False"
    crash = "@micropython.viper\ndef poke():\n    p = ptr8(0)\n    p[0] = 1\npoke()"
    result = mpremote(board, "exec", crash, check=False)  # a segfault of the child
    assert result.returncode != 0
    assert "micropython exited with status" in result.stdout
    assert mpremote(board, "exec", "print('alive')").stdout.strip() == "alive"


def test_mip_install_local_package(board, tmp_path):
    (tmp_path / "mymod.py").write_text("def hello():\n    return 'hello from mymod'\n")
    manifest = {"urls": [["mymod.py", "mymod.py"]], "version": "0.1"}
    (tmp_path / "package.json").write_text(json.dumps(manifest))
    mpremote(board, "mip", "install", str(tmp_path / "package.json"))
    assert (board[1] / "lib" / "mymod.py").is_file()
    out = mpremote(board, "exec", "import mymod\nprint(mymod.hello(), mymod.__file__)").stdout
    assert out.strip() == "hello from mymod /lib/mymod.py"


def test_ctrl_c_interrupts_running_program(board):
    mpremote(board, "exec", "--no-follow", "while True:\n    pass")
    start = time.monotonic()
    assert mpremote(board, "exec", "print('alive')", timeout=20).stdout.strip() == "alive"
    assert time.monotonic() - start < 10


def test_friendly_repl(board):
    import serial

    with serial.Serial(board[0], timeout=0.2) as port:

        def ask(data, until):
            port.write(data)
            got = b""
            deadline = time.monotonic() + 10
            while until not in got and time.monotonic() < deadline:
                got += port.read(256)
            return got

        assert b">>> " in ask(b"\x03\x02", b">>> ")
        assert b"\r\n7\r\n>>> " in ask(b"3+4\r", b"7\r\n>>> ")
        assert b"\r\n0\r\n1\r\n>>> " in ask(b"for i in range(2):\r print(i)\r\r", b"1\r\n>>> ")


def test_ls_shows_file_sizes(board):
    folder = board[1] / "ls_t"
    (folder / "sub").mkdir(parents=True)
    (folder / "five.bin").write_bytes(b"12345")
    (folder / "big.bin").write_bytes(bytes(5000))
    lines = mpremote(board, "ls", ":/ls_t").stdout.splitlines()[1:]
    assert sorted(line.split() for line in lines) == [
        ["0", "sub/"],
        ["5", "five.bin"],
        ["5000", "big.bin"],
    ]


def test_df_reports_a_board_sized_partition(board):
    folder = board[1] / "df_t"
    folder.mkdir()
    header, row = mpremote(board, "df").stdout.splitlines()[:2]
    assert header.split() == ["filesystem", "size", "used", "avail", "use%", "mounted", "on"]
    name, size, used, avail, percent, mount = row.split()
    assert (name, int(size), mount) == ("<VfsPosix>", 2 * 1024 * 1024, "/")
    assert int(used) + int(avail) == int(size) and int(used) % 4096 == 0
    (folder / "blob.bin").write_bytes(bytes(3 * 4096 + 1))  # four more 4 KiB blocks
    after = mpremote(board, "df").stdout.splitlines()[1].split()
    assert int(after[2]) == int(used) + 4 * 4096
    assert int(after[4]) == 100 * int(after[2]) // int(size)


# As tight as an ESP32: the heap, boot.py and main.py, files that stay, a cable to pull.

FREE = "import gc; gc.collect(); print(gc.mem_free())"


def bare_free(heap):
    """What a bare unix port with that heap leaves free: a board's program's view."""
    done = subprocess.run(
        [MICROPYTHON, "-X", "heapsize=" + heap, "-c", FREE],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_a_program_finds_110_kb_of_heap_and_heap_changes_it(board, tmp_path):
    assert abs(int(mpremote(board, "exec", FREE).stdout) - bare_free("110K")) <= 2048
    with vboard(tmp_path / "root", "--heap", "200K") as (port, root, _):
        free = int(mpremote((port, root), "exec", FREE).stdout)
        assert abs(free - bare_free("200K")) <= 2048


def wait_for(path, text, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text() == text:
            return True
        time.sleep(0.05)
    return False


def test_boot_py_and_main_py_run_as_on_a_board(tmp_path):
    """At power-up both; at a soft reboot from the raw REPL (mpremote's) boot.py only."""
    root = tmp_path / "root"
    root.mkdir()
    log = "f = open('/log.txt', 'a'); f.write('%s\\n'); f.close()\n"
    (root / "boot.py").write_text(log % "boot")
    (root / "main.py").write_text(log % "main")
    with vboard(root) as (port, root, _):
        assert wait_for(root / "log.txt", "boot\nmain\n")
        assert mpremote((port, root), "exec", "print(open('/log.txt').read())").stdout
        assert (root / "log.txt").read_text() == "boot\nmain\nboot\n"


def test_files_stay_across_restarts_of_make_vboard(tmp_path):
    folder = tmp_path / "board"
    for step in ("write", "read"):
        with make_vboard("VBOARD_DIR=%s" % folder) as port:
            assert port.startswith("/dev/"), port
            if step == "write":
                mpremote(
                    (port, folder),
                    "exec",
                    "f = open('/kept.txt', 'w'); f.write('kept'); f.close()",
                )
            else:
                assert (
                    mpremote(
                        (port, folder), "exec", "print(open('/kept.txt').read())"
                    ).stdout.strip()
                    == "kept"
                )


def test_unplugging_stops_the_board_and_removes_its_port(tmp_path):
    with vboard(tmp_path / "root") as (port, root, proc):
        mpremote((port, root), "exec", "print(1)")
        proc.send_signal(signal.SIGUSR1)
        assert proc.wait(timeout=10) == 3
        assert not os.path.exists(port)
