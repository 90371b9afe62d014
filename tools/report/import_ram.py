"""The heap the package keeps once imported, whole and module by module: `make heap`.

    python tools/report/import_ram.py [--micropython PATH ...] [--no-write]

For each unix port given (default: .venv's; a 32-bit build counts as an ESP32 does) and
each form, the .py sources and the .mpy files mpy-cross makes for its architecture:
- `import attention` alone, with the four attention classes (the package imports each
  class on first use) and with `attention.decoder` only, each in a fresh interpreter (a
  1 MB heap): the bytes gc.mem_alloc() grows by, after a collection;
- every module on its own: the package is copied with an empty __init__, then its
  modules are imported one by one in the order of their imports (a module after the
  ones it imports), each measured the same way. `_selfcheck` runs once at import and is
  dropped again by `__init__`, so what it keeps is gone after `import attention`.
Writes the table into docs/boards.md, and its first three rows into README.md, unless
--no-write.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from board import board_check, boards, target
from report import doc_block

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "boards.md"  # the whole table
README = ROOT / "README.md"  # its rows of the whole package
ENV = {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=67108864"}  # a 32-bit heap below 2**31
_IMPORTS = re.compile(r"^\s*from \.(\w*) import ([\w, ]+)", re.MULTILINE)

THEN = """import gc
gc.collect()
a = gc.mem_alloc()
import attention
gc.collect()
b = gc.mem_alloc()
%s
gc.collect()
print(b - a, gc.mem_alloc() - a)
"""
CLASSES = "from attention import KVCache, LinearAttention, MicroAttention, SlidingWindowAttention"
DECODER = "import attention.decoder"


def order(src):
    """The package's modules, each after the modules it imports."""
    deps = {}
    for path in sorted(Path(src).glob("*.py")):
        if path.stem == "__init__":
            continue
        found = set()
        for module, names in _IMPORTS.findall(path.read_text()):
            found |= {module} if module else {n.strip() for n in names.split(",")}
        deps[path.stem] = found & {p.stem for p in Path(src).glob("*.py")}
    out = []

    def visit(name):
        if name not in out:
            for dep in sorted(deps[name]):
                visit(dep)
            out.append(name)

    for name in sorted(deps):
        visit(name)
    return out


def package_copy(folder, micropython, form, empty_init):
    """The package in folder/attention, as sources or .mpy for the interpreter's arch."""
    pkg = Path(folder) / "attention"
    if form == "mpy":
        arch = board_check.arch(target.unix_mpy(micropython))
        boards.compile_package(boards.SRC, folder, arch)
    else:
        shutil.copytree(boards.SRC, pkg)
    if empty_init:
        for old in pkg.glob("__init__.*"):
            old.unlink()
        (pkg / "__init__.py").write_text("")
    return folder


def run(micropython, code, path):
    env = dict(os.environ, MICROPYPATH=str(path), **ENV)
    done = subprocess.run(
        [micropython, "-X", "heapsize=1M", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    if done.returncode:
        raise RuntimeError("%s failed: %s" % (micropython, (done.stdout + done.stderr)[-500:]))
    return done.stdout


def measure(micropython, form):
    """({module: bytes kept}, bytes of import attention, of it with the four classes, of
    it with attention.decoder)."""
    modules = order(boards.SRC)
    with tempfile.TemporaryDirectory() as folder:
        package_copy(folder, micropython, form, empty_init=True)
        code = "import gc, attention\n"
        for name in modules:
            code += (
                "gc.collect(); a = gc.mem_alloc(); import attention.%s; gc.collect(); "
                "print(%r, gc.mem_alloc() - a)\n" % (name, name)
            )
        lines = run(micropython, code, folder).split("\n")
    each = {line.split()[0]: int(line.split()[1]) for line in lines if line.strip()}
    with tempfile.TemporaryDirectory() as folder:
        package_copy(folder, micropython, form, empty_init=False)
        whole, classes = (int(v) for v in run(micropython, THEN % CLASSES, folder).split())
        _, decoder = (int(v) for v in run(micropython, THEN % DECODER, folder).split())
    return each, whole, classes, decoder


def kb(count):
    return "%.1f" % (count / 1024)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--micropython", action="append", help="a unix port (repeatable)")
    parser.add_argument("--no-write", action="store_true", help="print, do not write the pages")
    args = parser.parse_args(argv)
    micropythons = args.micropython or [target.interpreter()]
    columns, results = [], []
    for micropython in micropythons:
        arch = board_check.arch(target.unix_mpy(micropython))
        for form in ("py", "mpy"):
            columns.append("%s .%s" % (arch, form))
            results.append(measure(micropython, form))
    rows = [
        ["`import attention`"] + [kb(r[1]) for r in results],
        ["with the four attention classes"] + [kb(r[2]) for r in results],
        ["with `attention.decoder` only"] + [kb(r[3]) for r in results],
    ]
    whole = rows[:]
    for name in order(boards.SRC):
        rows.append(["`%s`" % name] + [kb(r[0][name]) for r in results])
    head = ["KB of heap kept"] + columns
    text = doc_block.table(head, rows)
    print(text)
    if not args.no_write:
        doc_block.update(PAGE, "import-table", text)
        doc_block.update(README, "import-table", doc_block.table(head, whole))
        print("written into %s, and its first rows into %s" % (PAGE.name, README.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
