"""make deploy, make uninstall and make repl against the virtual board, as a board's owner meets
them: the package whole or not at all, only changed files sent, one form of each module, the
version named and a newer one kept, and one line for each way the board can fail (cut off,
wedged, deaf to Ctrl-C, Ctrl-C at the keyboard, a wrong port)."""

import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from board import version
from conftest import REPO, make, mpremote, needs_board_tools, vboard

pytestmark = needs_board_tools

SOURCES = REPO / "firmware" / "attention"
MODULES = sorted(p.stem for p in SOURCES.glob("*.py"))
MODELS = sorted(p.name for p in SOURCES.glob("*.bin"))  # the shipped model files
NEW = version.project()
IMPORT = "import attention; print(attention.__version__, attention.__file__)"


def package(root):
    """{name: bytes} of the files in the board's /lib/attention."""
    folder = Path(root) / "lib" / "attention"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.is_dir() else {}


def forms(root):
    """The set of module suffixes in /lib/attention ('.py', '.mpy')."""
    return {os.path.splitext(n)[1] for n in package(root) if n.endswith((".py", ".mpy"))}


def sources_on(root, init_version=None):
    """Put the package's .py sources in the board's /lib/attention, as an earlier deploy
    would (its __version__ replaced by init_version if given)."""
    folder = Path(root) / "lib" / "attention"
    folder.mkdir(parents=True, exist_ok=True)
    for path in SOURCES.iterdir():
        if path.suffix in (".py", ".bin"):
            shutil.copy(path, folder / path.name)
    if init_version:
        init = folder / "__init__.py"
        init.write_text(
            re.sub(r'__version__ = "[^"]*"', '__version__ = "%s"' % init_version, init.read_text())
        )


def one_line_failure(done, *phrases):
    """The failure's own lines (make's last line aside): one, holding every phrase."""
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith("make")]
    assert len(lines) == 1, done.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


def test_deploy_puts_the_mpy_files_of_the_boards_chip_and_names_both_versions(tmp_path):
    with vboard(tmp_path / "root") as (port, root, _):
        done = make("deploy", "PORT=" + port)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "on the board: no /lib/attention" in done.stdout
        assert "from this checkout: attention %s, the x64 .mpy files" % NEW in done.stdout
        assert "holds attention %s (a first install)" % NEW in done.stdout
        assert sorted(package(root)) == sorted([m + ".mpy" for m in MODULES] + MODELS)
        out = mpremote((port, root), "exec", IMPORT).stdout.split()
        assert out == [NEW, "/lib/attention/__init__.mpy"]


def test_unchanged_files_are_not_sent_again(tmp_path):
    with vboard(tmp_path / "root") as (port, root, _):
        assert make("deploy", "PORT=" + port).returncode == 0
        folder = Path(root) / "lib" / "attention"
        stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
        again = make("deploy", "PORT=" + port)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "every file is on the board already, unchanged: nothing copied" in again.stdout
        assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps
        (folder / "window.mpy").write_bytes(b"M\x06 not the file it was")  # one file differs
        want = package(root)
        once = make("deploy", "PORT=" + port)
        assert once.returncode == 0, once.stdout + once.stderr
        size = (REPO / "build" / "x64" / "attention" / "window.mpy").stat().st_size
        assert "sending 1 file(s), %.1f KB" % (size / 1024) in once.stdout
        assert "1 file(s) sent, %d unchanged" % (len(want) - 1) in once.stdout
        assert package(root)["window.mpy"] != want["window.mpy"]
        assert {n: b for n, b in package(root).items() if n != "window.mpy"} == {
            n: b for n, b in want.items() if n != "window.mpy"
        }


def test_one_form_of_each_module_whatever_came_before(tmp_path):
    with vboard(tmp_path / "root") as (port, root, _):
        assert make("deploy", "PORT=" + port, "FORM=py").returncode == 0
        assert forms(root) == {".py"}
        done = make("deploy", "PORT=" + port)
        assert done.returncode == 0, done.stdout + done.stderr
        assert forms(root) == {".mpy"}
        assert (
            "removed: %d .py files of modules now deployed as .mpy" % len(MODULES) in done.stdout
        )
        back = make("deploy", "PORT=" + port, "FORM=py")
        assert back.returncode == 0 and forms(root) == {".py"}
        assert (
            "removed: %d .mpy files of modules now deployed as .py" % len(MODULES) in back.stdout
        )
        # mip adds the .mpy files beside the .py ones, and the .py ones are imported
        mpremote((port, root), "mip", "install", str(REPO / "dist" / "x64" / "package.json"))
        assert forms(root) == {".py", ".mpy"}
        assert mpremote((port, root), "exec", IMPORT).stdout.split()[1].endswith(".py")
        assert make("deploy", "PORT=" + port).returncode == 0
        assert forms(root) == {".mpy"}
        assert mpremote((port, root), "exec", IMPORT).stdout.split()[1].endswith(".mpy")


def test_a_newer_version_on_the_board_is_kept_unless_forced(tmp_path):
    newer = ".".join(str(int(part) + 1) for part in NEW.split("."))
    sources_on(tmp_path / "root", init_version=newer)
    with vboard(tmp_path / "root") as (port, root, _):
        before = package(root)
        done = make("deploy", "PORT=" + port)
        line = one_line_failure(done, "holds attention %s, newer than" % newer, "FORCE=1")
        assert "checkout's %s" % NEW in line
        assert package(root) == before
        forced = make("deploy", "PORT=" + port, "FORCE=1")
        assert forced.returncode == 0, forced.stdout + forced.stderr
        assert "holds attention %s (it held %s)" % (NEW, newer) in forced.stdout
        assert mpremote((port, root), "exec", IMPORT).stdout.split()[0] == NEW


def test_uninstall_says_what_it_removed_or_that_nothing_was_there(tmp_path):
    with vboard(tmp_path / "root") as (port, root, _):
        assert make("deploy", "PORT=" + port).returncode == 0
        done = make("uninstall", "PORT=" + port)
        assert done.returncode == 0, done.stdout + done.stderr
        count = len(MODULES) + len(MODELS)
        said = "removed /lib/attention (attention %s (%d files, .mpy))" % (NEW, count)
        assert said in done.stdout
        assert package(root) == {}
        again = make("uninstall", "PORT=" + port)
        assert again.returncode == 0
        assert "nothing to remove: /lib/attention is not on " + port in again.stdout


def board_package_is_the_sources(root):
    """The board holds exactly the .py sources and the model files, and they import."""
    files = package(root)
    assert sorted(files) == sorted([m + ".py" for m in MODULES] + MODELS)
    for name, data in files.items():
        assert (
            hashlib.sha256(data).digest() == hashlib.sha256((SOURCES / name).read_bytes()).digest()
        )


def test_a_deploy_cut_mid_copy_leaves_the_old_package_and_the_next_one_finishes(tmp_path):
    sources_on(tmp_path / "root")
    with vboard(tmp_path / "root", "--unplug-after", "40000") as (port, root, proc):
        done = make("deploy", "PORT=" + port, timeout=120)
        one_line_failure(done, "went away during the copy", "plug the board back in")
        assert proc.wait(timeout=10) == 3  # the virtual board was unplugged
        assert not os.path.exists(port)
    board_package_is_the_sources(tmp_path / "root")
    with vboard(tmp_path / "root") as (port, root, _):
        assert mpremote((port, root), "exec", IMPORT).stdout.split()[1].endswith(".py")
        done = make("deploy", "PORT=" + port)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "found: /lib/.attention-new holds" in done.stdout
        assert forms(root) == {".mpy"} and not (Path(root) / "lib" / ".attention-new").exists()


def test_a_board_that_stops_answering_times_out_in_one_line(tmp_path):
    sources_on(tmp_path / "root")
    with vboard(tmp_path / "root", "--stall-after", "40000") as (port, root, _):
        done = make("deploy", "PORT=" + port, env={"TIMEOUT": "5"}, timeout=120)
        one_line_failure(done, "no answer from the board at %s within 5 s (the copy)" % port)
    board_package_is_the_sources(tmp_path / "root")


def test_ctrl_c_during_a_deploy_is_one_line(tmp_path):
    sources_on(tmp_path / "root")
    log = tmp_path / "vboard.log"
    with vboard(tmp_path / "root", "--stall-after", "40000", log=log) as (port, root, _):
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "-C", str(REPO), "deploy", "PORT=" + port],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a terminal's process group: Ctrl-C reaches all of it
        )
        deadline = time.monotonic() + 60
        while "vboard: stalled" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        one_line_failure(done, "interrupted (Ctrl-C) during the copy")
    board_package_is_the_sources(tmp_path / "root")


DEAF_MAIN = """import time
while True:
    try:
        print("working")
        time.sleep(0.05)
    except KeyboardInterrupt:
        pass
"""


@pytest.mark.parametrize("target", ["deploy", "uninstall", "repl"])
def test_a_main_py_that_swallows_ctrl_c_is_named_in_one_line(tmp_path, target):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "main.py").write_text(DEAF_MAIN)
    with vboard(tmp_path / "root") as (port, root, _):
        done = make(target, "PORT=" + port, env={"TIMEOUT": "8"}, timeout=120)
        one_line_failure(done, "does not answer Ctrl-C", "main.py", "make flash")


@pytest.mark.parametrize(
    "port, said",
    [
        (lambda tmp: str(tmp), "is a folder, so not a serial port"),
        (lambda tmp: "/dev/null", "is a character device but no terminal, so not a serial port"),
    ],
    ids=["folder", "dev_null"],
)
def test_a_path_that_is_no_serial_port_is_named_as_such(tmp_path, port, said):
    done = make("deploy", "PORT=" + port(tmp_path))
    one_line_failure(done, said)


def test_a_missing_port_lists_the_virtual_boards_pseudo_terminal(tmp_path):
    with vboard(tmp_path / "root") as (port, _, _):
        done = make("deploy", "PORT=/dev/ttyUSB99")
        assert done.returncode != 0
        assert "no such port: /dev/ttyUSB99" in done.stderr
        assert re.search(r"pseudo-terminals \(.*\): .*%s" % re.escape(port), done.stderr)
