"""tools/ports/ (make ports): what needs no MicroPython source tree, and a smoke run of the
32-bit builds when build/ports/ (or PORTS_BUILD=<folder>) holds them.

The QEMU link is tested against a stand-in board, a Python script that speaks the raw
REPL on its stdin and stdout and then behaves as a board does: answers, raises, prints
a fault report and loops (Cortex-M), exits (RISC-V), or hangs."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import MICROPYTHON, run_micropython
from conftest import REPO as ROOT
from ports import build, package, parts, project, targets
from ports import run as ports

BUILT = Path(os.environ.get("PORTS_BUILD", str(build.OUT)))


# Without a source tree.


def test_without_a_source_tree_it_says_how_to_get_one(capsys):
    assert ports.main([]) == 0
    out = capsys.readouterr().out
    assert "git clone https://github.com/micropython/micropython.git" in out
    assert "MICROPYTHON_SRC=" in out and "tar.xz" in out


def test_make_ports_without_micropython_src_exits_0():
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "ports", "MICROPYTHON_SRC="],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "git clone" in done.stdout


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--parts", "selftest,nonsense"], "unknown part nonsense"),
        (["--only", "esp32"], "unknown target esp32"),
        (["--record", "--parts", "fuzz"], "--record needs the cases part"),
        (["--link", "usb"], "invalid choice"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        ports.parse_args(argv)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_arguments_are_read():
    args = ports.parse_args(["--parts", "cases, heap", "--only", "qemu-rv32", "--record"])
    assert args.parts == ["cases", "heap"] and args.only == ["qemu-rv32"] and args.record
    assert ports.parse_args([]).parts == list(parts.PARTS)
    args = ports.parse_args(["--fuzz-seeds", "5,70000"])
    assert ports.Context(args, "out").fuzz_seeds == [5, 70000]
    assert ports.Context(ports.parse_args([]), "out").fuzz_seeds == list(parts.FUZZ_SEEDS)


def test_a_folder_that_is_not_a_source_tree_is_named(tmp_path):
    assert "no such folder" in build.check_tree(tmp_path / "missing")
    assert "not a MicroPython source tree" in build.check_tree(tmp_path)
    assert ports.main(["--src", str(tmp_path), "--parts", "selftest"]) == 1


def fake_tree(root, prerelease=1):
    """The files of a MicroPython tree that build.py looks at."""
    for name in ("py/mkenv.mk", "ports/unix/Makefile", "ports/qemu/Makefile", "mpy-cross/x"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")
    (root / "py" / "mpconfig.h").write_text(
        "#define MICROPY_VERSION_MAJOR 1\n#define MICROPY_VERSION_MINOR 29\n"
        "#define MICROPY_VERSION_MICRO 0\n#define MICROPY_VERSION_PRERELEASE %d\n" % prerelease
    )
    (root / "ports" / "qemu" / "mpconfigport.h").write_text(
        "#define MICROPY_EMIT_RV32           (1)\n#define MICROPY_EMIT_RV32_ZBA       (1)\n"
        "#define MICROPY_EMIT_RV32_ZCMP      (1)\n"
    )
    (root / "ports" / "qemu" / "boards").mkdir()
    (root / "ports" / "qemu" / "boards" / "b.mk").write_text("board\n")
    return root


def test_tree_version_from_mpconfig(tmp_path):
    assert build.check_tree(fake_tree(tmp_path)) is None
    assert build.tree_version(tmp_path) == "1.29.0-preview"
    (tmp_path / "py" / "mpconfig.h").write_text(
        (tmp_path / "py" / "mpconfig.h").read_text().replace("PRERELEASE 1", "PRERELEASE 0")
    )
    assert build.tree_version(tmp_path) == "1.29.0"


def test_shadow_tree_links_the_source_and_copies_the_qemu_port_with_zba_zcmp_off(tmp_path):
    src = fake_tree(tmp_path / "src")
    out = tmp_path / "out"
    tree = build.shadow_tree(src, out)
    assert (tree / "py").is_symlink() and (tree / "ports" / "unix").is_symlink()
    config = (tree / "ports" / "qemu" / "mpconfigport.h").read_text()
    assert "MICROPY_EMIT_RV32_ZBA       (0)" in config
    assert "MICROPY_EMIT_RV32_ZCMP      (0)" in config
    assert "MICROPY_EMIT_RV32           (1)" in config
    assert "(1)" in (src / "ports" / "qemu" / "mpconfigport.h").read_text()  # source untouched
    board = tree / "ports" / "qemu" / "boards" / "b.mk"
    os.utime(board, (1000, 1000))
    build.shadow_tree(src, out)  # nothing changed: nothing rewritten, so make rebuilds nothing
    assert board.stat().st_mtime == 1000
    (src / "ports" / "qemu" / "boards" / "b.mk").write_text("changed\n")
    (src / "ports" / "qemu" / "new.c").write_text("int x;\n")
    build.shadow_tree(src, out)
    assert board.read_text() == "changed\n" and (tree / "ports" / "qemu" / "new.c").is_file()
    (src / "ports" / "qemu" / "new.c").unlink()
    build.shadow_tree(src, out)
    assert not (tree / "ports" / "qemu" / "new.c").exists()


def test_the_install_list_and_the_makefile_name_the_same_packages():
    makefile = (ROOT / "Makefile").read_text()
    line = next(ln for ln in makefile.splitlines() if ln.startswith("PORTS_PACKAGES :="))
    assert set(line.split(":=")[1].split()) == {pkg for pkg, _ in build.PACKAGES}
    assert "\nports: " in makefile and "\nports-tools: " in makefile


# The line.

INFO = {
    "micropython": "v1.29.0-preview",
    "arch": "rv32imc",
    "range": "high",
    "address": 0x8040A2D0,
    "version": "3.4.0; MicroPython v1.29.0-preview on 2026-12-05",
    "heap": 1500000,
}


def rv32():
    return next(t for t in targets.targets() if t.name == "qemu-rv32")


def test_the_line_names_port_arch_version_heap_and_each_part():
    results = [
        parts.Part("selftest", True, "30 passed"),
        parts.Part("cases", False, "stopped after 0 of 29 cases: crashed: Load address fault"),
    ]
    line = parts.line(rv32(), INFO, results)
    assert "\n" not in line
    assert line.startswith("qemu-rv32 [qemu RV32]: MicroPython v1.29.0-preview, rv32imc, ")
    assert "heap at or above 0x80000000 at 0x8040a2d0" in line
    assert "| selftest PASS (30 passed) | cases FAIL (stopped after 0 of 29" in line
    assert not parts.passed(INFO, rv32(), results)
    assert parts.passed(INFO, rv32(), results[:1])


def test_a_heap_in_another_range_than_the_target_promises_is_a_failure():
    low = dict(INFO, range="low", address=0x3FC88000)
    line = parts.line(rv32(), low, [parts.Part("selftest", True, "30 passed")])
    assert "WRONG RANGE: expected at or above 0x80000000" in line
    assert not parts.passed(low, rv32(), [parts.Part("selftest", True, "30 passed")])


def test_a_target_that_did_not_start_gets_one_line_too():
    line = parts.line(rv32(), None, [], "not built: build/ports/x is missing")
    assert line.startswith("qemu-rv32 [qemu RV32]: MicroPython ?") and "FAIL: not built" in line
    assert not parts.passed(None, rv32(), [], "not built")


def test_fixture_names_tell_every_target_apart():
    said = {
        "unix": {"platform": "linux", "machine": "linux [GCC 12.2.0] version", "mpy_arch": "x86"},
        "qemu": {"platform": "qemu", "machine": "mps2-an385 with Cortex-M3", "mpy_arch": "x"},
    }
    names = [
        ports.fixture_file_name(t, said[t.port], {"range": t.expect}) for t in targets.targets()
    ]
    assert len(set(names)) == len(names)
    assert "linux-x86-heap-low.json" in names and "cortexm3-x-armv6m-code-heap-low.json" in names


def test_reasons_are_printable_and_short():
    text = parts.Part("cases", False, "got array('\x04') " + "x" * 300).text()
    assert "\x04" not in text and len(text) < 200


@pytest.mark.parametrize(
    "id_value, address, where",
    [
        (0x0918A2C0, 0x0918A2C0, "low"),  # small int
        (-0x292C2E10, 0x56D3D1F0, "mid"),  # bit 30 copied into bit 31: negative
        (0xF7AE0040, 0xF7AE0040, "high"),  # a long int
    ],
)
def test_the_probe_tells_the_heap_range(id_value, address, where):
    line = '{"version": "3.4.0; MicroPython v1.29.0-preview on 2026-12-05", "impl": [1, 29, 0],'
    line += ' "mpy": 1798, "machine": "m", "platform": "linux", "id": %d, "address": %d,' % (
        id_value,
        id_value & 0x7FFFFFFF if id_value < 0 else id_value,
    )
    info = parts.parse_probe("noise\nPROBE " + line + ' "heap": 1}\n')
    assert info["address"] == address and info["range"] == where
    assert info["arch"] == "x86" and info["micropython"] == "v1.29.0-preview"
    assert parts.parse_probe("Traceback\n") is None


ARM_FAULT = """HardFault exception caught:

CPU registers:
R0:   00000002 R1:   0016CF30 R2:   000556D0 R3:   F2407342
R12:  0002EB9C R13:  003FFB98 R14:  0000F169 R15:  F2407342
CFSR: 00000001 HFSR: 40000000 DFSR: 00000000 MMFAR: 00000000 BFAR: 00000000
CFSR.IACCVIOL:    1 CFSR.DACCVIOL:   0 CFSR.MUNSTKERR: 0 CFSR.MSTKERR:   0
"""
RV_FAULT = """
MACHINE EXCEPTION CAUGHT:

 MEPC=804134E4 MTVAL=00417AE0 MSTATUS=18000000 MCAUSE=00000005 (Load address fault)
"""


def test_a_crash_reason_names_the_fault():
    assert targets.Run("crash", ARM_FAULT).reason == (
        "crashed: HardFault pc 0xF2407342 CFSR.IACCVIOL"
    )
    assert targets.Run("crash", RV_FAULT).reason == "crashed: Load address fault at 0x00417AE0"
    assert targets.Run("crash", "", "\nkilled by SIGSEGV").reason == "crashed: killed by SIGSEGV"
    assert targets.Run("timeout", "", "", 61.2).reason == "timeout after 61 s"
    error = targets.Run("error", "out\n", "Traceback:\n  File x\nTypeError: bad\n")
    assert error.reason == "TypeError: bad"


def test_raw_repl_reply_split_even_when_the_output_holds_the_separator():
    out, err = targets.split_reply(b"got array('\x04')\r\nmore\r\n\x04")
    assert out == "got array('\x04')\nmore\n" and err == ""
    out, err = targets.split_reply(b"a\x04b\x04Traceback (most recent call last):\r\nE: x\r\n")
    assert out == "a\x04b" and err.startswith("Traceback") and err.endswith("E: x\n")


def test_parts_of_the_suite_judge_what_the_scripts_print():
    assert parts.eval_answers("int8 3 of 4 correct, 9 tokens in 5 us\nwrong: ab| -> x.\n") == (
        3,
        4,
        ["wrong: ab| -> x."],
    )
    info, outputs = parts.case_lines('{"target": {"a": 1}}\n{"case": 0, "outputs": {}}\njunk\n')
    assert info == {"a": 1} and outputs == {0: {}}
    heap = parts.heap_script()
    compile(heap, "heap.py", "exec")  # valid Python; main() of bench.py is not called
    assert "\nmain()" not in heap and heap.rstrip().endswith("_ports_heap()")


@pytest.mark.skipif(not MICROPYTHON, reason="needs the micropython unix port")
def test_the_classify_script_gives_the_numpy_models_logits_on_the_unix_port(tmp_path):
    # The windows go inline; each window's logits come back and equal the numpy int8
    # model's (tools/tinylm/int8_model.py), which the ports demand of every target.
    windows, want = project.gesture_windows(8)
    assert len(windows) == 8 * 32 * 3 and len(want) == 8 and len(want[0]) == 8
    script = tmp_path / "classify.py"
    script.write_text(parts.classify_script(windows, 8))
    out = run_micropython(str(script))
    assert parts.logits_of(out) == want, out
    classes = out.split("classes: ")[1].split()[0]  # and each class: its largest logit
    assert [int(c) for c in classes] == [row.index(max(row)) for row in want]


@pytest.mark.skipif(not MICROPYTHON, reason="needs the micropython unix port")
def test_the_eval_script_runs_and_is_judged_on_the_unix_port(tmp_path):
    # The script the ports run, as they build it, on the unix port: its examples reach
    # eval_model.py in the form it reads, and its last line is what eval_answers parses.
    script = tmp_path / "eval.py"
    script.write_text(parts.eval_script([("abc|", "cba."), ("ab|", "xx.")]))
    out = run_micropython(str(script))
    assert parts.eval_answers(out) == (1, 2, ["wrong: ab| -> ba."]), out


# The package as a ROMFS image.


def read_romfs(data):
    """{path: bytes} of a ROMFS image (MicroPython's extmod/vfs_rom.c format)."""

    def uint(at):
        value = 0
        while True:
            byte = data[at]
            at += 1
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                return value, at

    def records(start, end, prefix, files):
        at = start
        while at < end:
            kind, at = uint(at)
            size, at = uint(at)
            if kind in (4, 5):  # directory, file: a name, then records or the data
                length, name_at = uint(at)
                name = data[name_at : name_at + length].decode()
                body = name_at + length
                if kind == 4:
                    records(body, at + size, prefix + name + "/", files)
                else:
                    inner_kind, inner = uint(body)
                    inner_size, inner = uint(inner)
                    assert inner_kind == 2  # the data, verbatim
                    files[prefix + name] = data[inner : inner + inner_size]
            at += size
        return files

    assert data[:3] == b"\xd2\xcd\x31"
    size, at = uint(3)
    return records(at, at + size, "/", {})


def test_the_romfs_image_holds_the_package_under_lib():
    pytest.importorskip("mpremote")
    files = read_romfs(package.romfs_image(project.FIRMWARE))
    want = {
        "/lib/attention/" + rel.as_posix(): (project.PACKAGE / rel).read_bytes()
        for rel in project.package_files()
    }
    assert files == want
    assert "/lib/attention/__init__.py" in files and "/lib/attention/reverse.bin" in files


# The QEMU link, against a stand-in board.

FAKE_BOARD = textwrap.dedent(
    r"""
    import os, sys, time
    mode = os.environ["FAKE_BOARD"]
    out = sys.stdout.buffer
    def say(b):
        out.write(b); out.flush()
    say(b"MicroPython v1.29.0 on fake\r\n>>> ")
    data = b""
    while b"\x01" not in data:
        data += os.read(0, 1)
    say(b"raw REPL; CTRL-B to exit\r\n>")
    data = b""
    while not data.endswith(b"\x04"):
        data += os.read(0, 65536)
    say(b"OK")
    if mode == "ok":
        say(b"got array('\x04')\r\nok\r\n\x04\x04>")
    elif mode == "error":
        say(b"partial\r\n\x04Traceback (most recent call last):\r\nValueError: no\r\n\x04>")
    elif mode == "exit":
        say(b"FAIL seed=1\r\n\x04\x04MPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>")
    elif mode == "fault-loop":
        say(b"HardFault exception caught:\n\nR15:  0000F00D\n")
    elif mode == "fault-exit":
        say(b"\nMACHINE EXCEPTION CAUGHT:\n MTVAL=00000001 MCAUSE=00000005 (Load address fault)\n")
        sys.exit(1)
    while True:  # a looping fault handler, or a hung program
        time.sleep(1)
    """
)


@pytest.fixture
def fake_board(tmp_path, monkeypatch):
    script = tmp_path / "board.py"
    script.write_text(FAKE_BOARD)
    target = targets.Target("fake", "qemu", "fake", "low", "fw.elf", qemu=(sys.executable,))
    monkeypatch.setattr(targets, "qemu_command", lambda t, romfs, serial: [t.qemu[0], str(script)])

    def run(mode, timeout=20):
        monkeypatch.setenv("FAKE_BOARD", mode)
        start = time.monotonic()
        result = targets.run(target, "print('x')", tmp_path / "image.rom", timeout)
        return result, time.monotonic() - start

    return run


def test_pipe_link_reads_a_whole_reply(fake_board):
    run, _ = fake_board("ok")
    assert run.status == "ok" and run.out == "got array('\x04')\nok\n" and run.err == ""


def test_pipe_link_reports_an_exception(fake_board):
    run, _ = fake_board("error")
    assert run.status == "error" and run.out == "partial\n" and run.reason == "ValueError: no"


def test_pipe_link_sys_exit_soft_reboots_the_board_and_is_an_error(fake_board):
    run, took = fake_board("exit")
    assert run.status == "error" and run.out == "FAIL seed=1\n" and "SystemExit" in run.reason
    assert took < 15


def test_pipe_link_a_fault_handler_that_loops_is_a_crash_not_a_hang(fake_board):
    run, took = fake_board("fault-loop", timeout=60)
    assert run.status == "crash" and run.reason == "crashed: HardFault pc 0x0000F00D"
    assert took < 15


def test_pipe_link_a_board_that_exits_is_a_crash(fake_board):
    run, took = fake_board("fault-exit", timeout=60)
    assert run.status == "crash" and "Load address fault at 0x00000001" in run.reason
    assert took < 15


def test_pipe_link_a_hung_board_is_killed_at_the_timeout(fake_board):
    run, took = fake_board("hang", timeout=2)
    assert run.status == "timeout" and run.reason == "timeout after 2 s"
    assert took < 10


# Smoke run of what `make ports` built.


def built(name):
    target = next(t for t in targets.targets(BUILT) if t.name == name)
    if not Path(target.program).is_file():
        pytest.skip(
            "no %s build in %s: make ports MICROPYTHON_SRC=... (or PORTS_BUILD=<its folder>)"
            % (name, BUILT)
        )
    if target.qemu and not build.shutil.which(target.qemu[0]):
        pytest.skip("%s is not installed (make ports-tools)" % target.qemu[0])
    return target


def test_smoke_unix_x86_self_test_on_the_32_bit_build(capsys):
    built("unix-x86-low")
    argv = ["--no-build", "--out", str(BUILT), "--only", "unix-x86-low", "--parts", "selftest"]
    code = ports.main(argv)
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("unix-x86-low "))
    assert "[unix x86]: MicroPython v1." in line and ", x86, heap below 0x40000000 at 0x" in line
    assert ("selftest PASS" in line) == (code == 0)


@pytest.mark.parametrize("name", ["qemu-cortex-m3", "qemu-rv32"])
def test_smoke_qemu_board_boots_with_the_package_in_romfs(name, tmp_path):
    target = built(name)
    image = package.write_image(project.FIRMWARE, tmp_path / "package.rom")
    script = parts.PROBE + "import attention\nprint('VERSION', attention.__version__)\n"
    run = targets.run(target, script, image, 60)
    assert run.status == "ok", run.out + run.err
    info = parts.parse_probe(run.out)
    assert info["range"] == target.expect and info["arch"].startswith(target.mpy_arch[:5])
    assert "VERSION " in run.out
