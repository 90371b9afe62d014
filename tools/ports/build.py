"""Build 32-bit MicroPython interpreters from a MicroPython source tree into build/ports/.

    python tools/ports/build.py --src ~/micropython [--out build/ports] [--heap-kb N ...]

What is built (each in its own folder under the output folder, so that make's own
dependency tracking makes a second run that finds nothing changed take a second):
- mpy-cross, from the tree;
- the unix port for 32-bit x86, twice: a non-PIE binary (its heap, on glibc's brk heap,
  lies below 0x40000000; or, mmap'd, at or above 0x80000000) and a PIE binary (brk heap
  at 0x56xxxxxx-0x58xxxxxx). The compiler is the host's gcc through `-m32` wrappers
  written into cc/, as the unix Makefile takes a CROSS_COMPILE prefix;
- the qemu port for the MPS2-AN385 board (Cortex-M3, RAM below 0x40000000) and for
  VIRT_RV32 (32-bit RISC-V, RAM at 0x80000000), one folder per heap size (the heap is
  a static array whose size is a compile-time constant, and make does not see a change
  of CFLAGS).

The source tree is never written to. The builds run in tree/, a shadow of the source
tree: symbolic links to its folders, except ports/qemu, a copy in which the two RISC-V
extensions QEMU 7.2 cannot execute (Zba, Zcmp) are switched off for viper's code.
Files of the copy are rewritten only when they differ, so make rebuilds only what changed.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "ports"
JOBS = "-j%d" % max(1, min(4, os.cpu_count() or 1))

# How to get a source tree: printed by `make ports` without MICROPYTHON_SRC.
HOW_TO_GET = """\
make ports builds 32-bit MicroPython interpreters from a MicroPython source tree and runs
the package on them. Give it a tree, for example:

    git clone https://github.com/micropython/micropython.git ~/micropython
    make ports MICROPYTHON_SRC=~/micropython

or a release tarball (micropython-X.Y.Z.tar.xz, attached to every release at
https://github.com/micropython/micropython/releases), unpacked:
make ports MICROPYTHON_SRC=~/micropython-X.Y.Z. Release 1.25 or newer (the qemu port's
ROMFS); no submodules are needed. The compilers and QEMU are Debian packages:
make ports-tools installs them."""

# Debian packages the builds and runs need, with the program that shows each is there.
PACKAGES = (
    ("gcc", "gcc"),
    ("make", "make"),
    ("gcc-multilib", None),  # checked by compiling with -m32
    ("gcc-arm-none-eabi", "arm-none-eabi-gcc"),
    ("libnewlib-arm-none-eabi", None),
    ("qemu-system-arm", "qemu-system-arm"),
    ("gcc-riscv64-unknown-elf", "riscv64-unknown-elf-gcc"),
    ("picolibc-riscv64-unknown-elf", None),
    ("qemu-system-misc", "qemu-system-riscv32"),
)

# The qemu builds, by name: the port's board, the default heap and the most the board's
# RAM leaves for it (bytes), extra make arguments. MPS2_AN385_ARMV6M is the Cortex-M3
# board with viper emitting ARMv6-M code only (the Cortex-M0/M0+ of the RP2040), as
# the qemu port's own Cortex-M0 board (MICROBIT) has no native emitter.
QEMU_BOARDS = {
    "MPS2_AN385": {
        "board": "MPS2_AN385",
        "heap": 2 * 1024 * 1024,
        "most": 3 * 1024 * 1024,
        "make": [],
    },
    "MPS2_AN385_ARMV6M": {
        "board": "MPS2_AN385",
        "heap": 2 * 1024 * 1024,
        "most": 3 * 1024 * 1024,
        "make": ["CFLAGS_EXTRA=-DMICROPY_EMIT_THUMB_ARMV7M=0"],
    },
    "VIRT_RV32": {
        "board": "VIRT_RV32",
        "heap": 1536 * 1024,
        "most": 1856 * 1024,
        "make": [
            "MICROPY_STACK_SIZE=32768",
            "RV32_ARCH=rv32imac",
            "CFLAGS_EXTRA=-misa-spec=2.2",
            "AS=riscv64-unknown-elf-as -misa-spec=2.2",
        ],
    },
}

# Switched off in the copy of ports/qemu/mpconfigport.h: QEMU 7.2 lacks these extensions.
RV32_OFF = ("MICROPY_EMIT_RV32_ZBA", "MICROPY_EMIT_RV32_ZCMP")

UNIX_ARGS = [
    "MICROPY_PY_FFI=0",
    "MICROPY_PY_BTREE=0",
    "MICROPY_PY_SSL=0",
    "FROZEN_MANIFEST=",
]

WRAPPERS = {"gcc": 'gcc -m32 "$@"', "as": 'as --32 "$@"', "ld": 'ld -m elf_i386 "$@"'}
HOST_TOOLS = ("ar", "objcopy", "size", "strip")


class BuildError(Exception):
    """A build step failed or a tool is missing: the message says what to do."""


def check_tree(src):
    """The problem with src as a MicroPython source tree, or None."""
    src = Path(src).expanduser()
    if not src.is_dir():
        return "MICROPYTHON_SRC=%s: no such folder" % src
    for need in ("py/mkenv.mk", "ports/unix/Makefile", "ports/qemu/Makefile", "mpy-cross"):
        if not (src / need).exists():
            return "MICROPYTHON_SRC=%s is not a MicroPython source tree (no %s)" % (src, need)
    return None


def tree_version(src):
    """The MicroPython version of a source tree: `git describe` in a checkout, else the
    numbers of py/mpconfig.h (e.g. 1.29.0-preview)."""
    src = Path(src).expanduser()
    if (src / ".git").exists():
        done = subprocess.run(
            ["git", "-C", str(src), "describe", "--tags", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    text = (src / "py" / "mpconfig.h").read_text(errors="replace")
    parts = [
        re.search(r"#define MICROPY_VERSION_%s \(?(\d+)" % name, text)
        for name in ("MAJOR", "MINOR", "MICRO")
    ]
    if None in parts:
        return "unknown"
    version = ".".join(p.group(1) for p in parts)
    pre = re.search(r"#define MICROPY_VERSION_PRERELEASE \(?(\d+)", text)
    return version + ("-preview" if pre and pre.group(1) != "0" else "")


def missing_tools():
    """Debian packages whose programs are missing here, in install order."""
    missing = [pkg for pkg, prog in PACKAGES if prog and not shutil.which(prog)]
    if shutil.which("gcc"):
        probe = subprocess.run(
            ["gcc", "-m32", "-x", "c", "-", "-o", os.devnull],
            input="#include <stdio.h>\nint main(void) { return 0; }\n",
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode:
            missing.append("gcc-multilib")
    return missing


def _write_if_changed(path, data):
    """Write bytes to path unless it holds them already (keeps its time stamp for make)."""
    path = Path(path)
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def _link(target, path):
    path = Path(path)
    if path.is_symlink() and os.readlink(path) == str(target):
        return
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    path.symlink_to(target)


def rv32_config(text):
    """ports/qemu/mpconfigport.h with the Zba and Zcmp emitters switched off (trees
    older than these emitters have nothing to switch off)."""
    for name in RV32_OFF:
        text = re.sub(r"(#define %s\s+)\(1\)" % name, r"\1(0)", text)
    return text


def shadow_tree(src, out):
    """out/tree: links to src's folders, ports/qemu copied with rv32_config applied."""
    src, tree = Path(src).expanduser().resolve(), Path(out) / "tree"
    (tree / "ports").mkdir(parents=True, exist_ok=True)
    for entry in sorted(src.iterdir()):
        if entry.name not in ("ports", ".git"):
            _link(entry, tree / entry.name)
    for port in sorted((src / "ports").iterdir()):
        if port.name != "qemu":
            _link(port, tree / "ports" / port.name)
    qemu_src, qemu = src / "ports" / "qemu", tree / "ports" / "qemu"
    if qemu.is_symlink():
        qemu.unlink()
    wanted = set()
    for path in sorted(qemu_src.rglob("*")):
        rel = path.relative_to(qemu_src)
        if rel.parts[0].startswith("build"):
            continue  # the port's own in-tree build folders
        wanted.add(rel)
        if path.is_file():
            data = path.read_bytes()
            if rel == Path("mpconfigport.h"):
                data = rv32_config(data.decode()).encode()
            if _write_if_changed(qemu / rel, data):
                shutil.copystat(path, qemu / rel)
                if rel == Path("mpconfigport.h"):
                    os.utime(qemu / rel)  # newer than the source: the edit is a change
    for path in sorted(qemu.rglob("*"), reverse=True):
        if path.relative_to(qemu) not in wanted:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    return tree


def cc_wrappers(out):
    """out/cc/i686-linux-gnu-{gcc,as,ld,...}: the host tools in 32-bit mode; returns the prefix."""
    folder = Path(out) / "cc"
    folder.mkdir(parents=True, exist_ok=True)
    for name, line in WRAPPERS.items():
        path = folder / ("i686-linux-gnu-" + name)
        if _write_if_changed(path, ("#!/bin/sh\nexec %s\n" % line).encode()):
            path.chmod(0o755)
    for name in HOST_TOOLS:
        found = shutil.which(name)
        if found:
            _link(Path(found), folder / ("i686-linux-gnu-" + name))
    return str(folder / "i686-linux-gnu-")


def _make(folder, args, log, label):
    """Run make in folder; its output goes to log; raises BuildError with the log's tail."""
    start = time.monotonic()
    with open(log, "w") as f:
        done = subprocess.run(
            ["make", "-C", str(folder), JOBS, *args],
            stdout=f,
            stderr=subprocess.STDOUT,
            check=False,
        )
    took = time.monotonic() - start
    if done.returncode:
        tail = Path(log).read_text(errors="replace").splitlines()[-15:]
        raise BuildError(
            "building %s failed (make exit status %d; whole log: %s):\n%s"
            % (label, done.returncode, log, "\n".join(tail))
        )
    return took


def qemu_folder(out, board, heap):
    return Path(out) / ("qemu-%s-heap%d" % (board, heap))


def heap_only_in_main(tree):
    """Whether MICROPY_HEAP_SIZE reaches no C file of the tree but ports/qemu/main.c (then
    another heap size only needs main.c compiled again)."""
    for folder in ("py", "shared", "extmod", "ports/qemu"):
        for path in (Path(tree) / folder).rglob("*.[ch]"):
            if path.name != "main.c" and b"MICROPY_HEAP_SIZE" in path.read_bytes():
                return False
    return True


def seed_heap_folder(out, board, folder, tree):
    """Start folder from a built folder of the same board with another heap size: a copy
    (time stamps kept, so make sees the objects up to date) without main.o, with the
    dependency files naming the new folder. Returns the folder copied, or None."""
    if folder.exists() or not heap_only_in_main(tree):
        return None
    built = sorted(p.parent for p in Path(out).glob("qemu-%s-heap*/firmware.elf" % board))
    if not built:
        return None
    shutil.copytree(built[0], folder, symlinks=True)
    old, new = str(built[0]).encode(), str(folder).encode()
    for path in folder.rglob("*"):
        if path.suffix in (".P", ".d") or "genhdr" in path.parts:
            if path.is_file():
                data = path.read_bytes()
                if old in data:
                    path.write_bytes(data.replace(old, new))
    for name in ("main.o", "main.P", "firmware.elf", "firmware.bin"):
        (folder / name).unlink(missing_ok=True)
    return built[0]


def build(src, out=OUT, heaps=None, boards=None, unix=True, say=print):
    """Build everything (or the named qemu boards only, unix=False); returns
    {name: path of the program or firmware}. heaps: {board: heap bytes}. Without src,
    the shadow tree an earlier build left in out is built from."""
    if src is not None:
        problem = check_tree(src)
        if problem:
            raise BuildError(problem)
    missing = missing_tools()
    if missing:
        raise BuildError(
            "missing Debian packages: %s (make ports-tools, or apt-get install %s)"
            % (", ".join(missing), " ".join(missing))
        )
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    if src is not None:
        tree = shadow_tree(src, out)
    elif (out / "tree" / "py").is_dir():
        tree = out / "tree"  # the shadow tree of an earlier build
    else:
        raise BuildError("no MicroPython source tree: give one (MICROPYTHON_SRC)")
    built = {}
    mpy_cross = out / "mpy-cross"
    took = _make(tree / "mpy-cross", ["BUILD=%s" % mpy_cross], logs / "mpy-cross.log", "mpy-cross")
    built["mpy-cross"] = mpy_cross / "mpy-cross"
    say("build: mpy-cross %.1f s" % took)
    if unix:
        prefix = cc_wrappers(out)
        for name, extra in (
            ("unix-x86", ["CFLAGS_EXTRA=-fno-pie", "LDFLAGS_EXTRA=-no-pie"]),
            ("unix-x86-pie", []),
        ):
            args = ["CROSS_COMPILE=" + prefix, *UNIX_ARGS, *extra, "BUILD=%s" % (out / name)]
            took = _make(tree / "ports" / "unix", args, logs / (name + ".log"), name)
            built[name] = out / name / "micropython"
            say("build: %s %.1f s" % (name, took))
    for board in QEMU_BOARDS if boards is None else boards:
        heap = (heaps or {}).get(board) or QEMU_BOARDS[board]["heap"]
        folder = qemu_folder(out, board, heap)
        args = [
            "BOARD=" + QEMU_BOARDS[board]["board"],
            "FROZEN_MANIFEST=",
            "MICROPY_HEAP_SIZE=%d" % heap,
            "MICROPY_MPYCROSS=%s" % built["mpy-cross"],
            *QEMU_BOARDS[board]["make"],
            "BUILD=%s" % folder,
        ]
        label = "qemu %s heap %d" % (board, heap)
        seed_heap_folder(out, board, folder, tree)
        took = _make(tree / "ports" / "qemu", args, logs / (folder.name + ".log"), label)
        built["%s-heap%d" % (board, heap)] = folder / "firmware.elf"
        say("build: %s %.1f s" % (label, took))
    return built


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", help="a MicroPython source tree")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    if not args.src:
        print(HOW_TO_GET)
        return 0
    try:
        build(args.src, args.out)
    except BuildError as exc:
        print("ports: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
