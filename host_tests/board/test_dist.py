"""Compiling the package for each board's arch (.mpy headers, stale files, the x64 package
on the unix port) and packaging it (dist/, package.json, make clean)."""

import io
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from board import boards
from conftest import REPO as ROOT
from conftest import boards_cli

MICROPYTHON = Path(sys.executable).parent / "micropython"
# py/persistentcode.h MP_NATIVE_ARCH_*
ARCH_CODE = {"x64": 2, "armv6m": 4, "armv7emsp": 7, "xtensawin": 10, "rv32imc": 11}


# Compiling.

KERNELS = """
import micropython


@micropython.viper
def dot(a: ptr8, b: ptr8, n: int) -> int:
    s = 0
    for i in range(n):
        s += int(a[i]) * int(b[i])
    return s


@micropython.viper
def fill32(dst: ptr32, n: int, v: int):
    for i in range(n):
        dst[i] = v + i
"""


@pytest.fixture
def sample(tmp_path):
    """A tiny package: tmp/firmware/attention/{__init__,kernels,util}.py."""
    pkg = tmp_path / "firmware" / "attention"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        textwrap.dedent('''\
        """Sample package."""

        __version__ = "1.2.3"

        from .kernels import dot, fill32
        from .util import twice
    ''')
    )
    (pkg / "kernels.py").write_text(KERNELS)
    (pkg / "util.py").write_text("def twice(x):\n    return 2 * x\n")
    return pkg


def mpy_header(path):
    magic, ver, features, _ = path.read_bytes()[:4]
    return chr(magic), ver, features >> 2, features & 3


@pytest.mark.parametrize("arch", sorted(ARCH_CODE))
def test_compile_headers(sample, tmp_path, arch):
    out = tmp_path / "build"
    files = boards.compile_package(sample, out, arch)
    assert [f.as_posix() for f in files] == [
        "attention/__init__.mpy",
        "attention/kernels.mpy",
        "attention/util.mpy",
    ]
    for f in files:
        magic, ver, file_arch, _ = mpy_header(out / f)
        assert (magic, ver) == ("M", 6)
        # Only files holding native (viper) code record an architecture.
        assert file_arch == (ARCH_CODE[arch] if f.stem == "kernels" else 0)


def test_compile_removes_stale_files(sample, tmp_path):
    out = tmp_path / "build"
    stale = out / "attention" / "gone.mpy"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"M")
    boards.compile_package(sample, out, "x64")
    assert not stale.exists()
    assert sorted(p.name for p in (out / "attention").iterdir()) == [
        "__init__.mpy",
        "kernels.mpy",
        "util.mpy",
    ]


def test_compile_refuses_to_overwrite_sources(sample):
    with pytest.raises(boards.BoardError, match="overwrite"):
        boards.compile_package(sample, sample.parent, "x64")
    assert (sample / "__init__.py").is_file()


@pytest.mark.parametrize("name", ["esp32", "esp32c6", "rp2040", "rp2350"])
def test_mpy_cli_board(sample, tmp_path, name):
    out = tmp_path / "build" / name
    r = boards_cli("mpy", "--board", name, "--src", str(sample), "--out", str(out))
    assert r.returncode == 0, r.stderr
    arch = boards.load(name)["mpy_arch"]
    assert mpy_header(out / "attention" / "kernels.mpy")[2] == ARCH_CODE[arch]


def test_mpy_cli_error_is_clean(tmp_path):
    r = boards_cli("mpy", "--arch", "x64", "--src", str(tmp_path), "--out", str(tmp_path / "o"))
    assert r.returncode != 0
    assert "no __init__.py" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(not MICROPYTHON.is_file(), reason="unix port micropython not installed")
def test_x64_package_imports_on_unix_port(sample, tmp_path):
    out = tmp_path / "build" / "x64"
    r = boards_cli("mpy", "--arch", "x64", "--src", str(sample), "--out", str(out))
    assert r.returncode == 0, r.stderr
    shutil.rmtree(sample)  # only the .mpy files are left to import
    code = textwrap.dedent("""\
        import sys, attention
        print(attention.__file__)
        print(attention.__version__)
        print(attention.dot(b'\\x01\\x02\\x03', b'\\x04\\x05\\x06', 3))
        buf = bytearray(16)
        attention.fill32(buf, 4, 7)
        print(bytes(buf).hex())
        print(attention.twice(21))
        print(sys.implementation._mpy >> 8 & 3)
    """)
    env = dict(os.environ, MICROPYPATH=str(out))
    empty = tmp_path / "cwd"
    empty.mkdir()
    r = subprocess.run(
        [str(MICROPYTHON), "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=empty,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.split()
    assert lines[0].endswith("attention/__init__.mpy")
    expected = b"".join((7 + i).to_bytes(4, "little") for i in range(4)).hex()
    assert lines[1:5] == ["1.2.3", "32", expected, "42"]
    # The unix port accepts the native code only if the sub-versions agree.
    assert mpy_header(out / "attention" / "kernels.mpy")[3] == int(lines[5])


# Packaging.


class FakeTransport:
    """Just enough of mpremote's transport for mip: records the written files."""

    def __init__(self):
        self.files = {}

    def fs_exists(self, path):
        return True

    def fs_mkdir(self, path):
        pass

    def fs_writefile(self, path, data, progress_callback=None):
        self.files[path] = data


def test_dist(sample, tmp_path, monkeypatch):
    out = tmp_path / "dist"
    root_json = tmp_path / "package.json"
    r = boards_cli("dist", "--src", str(sample), "--out", str(out), "--root-json", str(root_json))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(boards.DIST_ARCHES)

    from mpremote import mip

    for arch in boards.DIST_ARCHES:
        folder = out / arch
        meta = json.loads((folder / "package.json").read_text())
        present = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.mpy"))
        assert present == ["attention/__init__.mpy", "attention/kernels.mpy", "attention/util.mpy"]
        assert meta == {"urls": [[f, f] for f in present], "version": "1.2.3"}
        assert mpy_header(folder / "attention" / "kernels.mpy")[2] == ARCH_CODE[arch]

        # `mpremote mip install ./dist/<arch>/package.json` installs /lib/attention/*.mpy.
        monkeypatch.chdir(tmp_path)
        t = FakeTransport()
        mip._install_package(t, f"./dist/{arch}/package.json", "unused", "/lib", None, True)
        assert t.files == {"/lib/" + f: (folder / f).read_bytes() for f in present}

    meta = json.loads(root_json.read_text())
    assert meta == {
        "urls": [
            ["attention/__init__.py", "firmware/attention/__init__.py"],
            ["attention/kernels.py", "firmware/attention/kernels.py"],
            ["attention/util.py", "firmware/attention/util.py"],
        ],
        "version": "1.2.3",
    }

    # `mpremote mip install github:owner/repo` fetches the root json, then the sources.
    prefix = "https://raw.githubusercontent.com/owner/repo/HEAD/"

    def urlopen(url):
        assert url.startswith(prefix), url
        return io.BytesIO((tmp_path / url[len(prefix) :]).read_bytes())

    monkeypatch.setattr(mip.urllib.request, "urlopen", urlopen)
    t = FakeTransport()
    mip._install_package(t, "github:owner/repo", "unused", "/lib", None, True)
    assert t.files == {"/lib/attention/" + p.name: p.read_bytes() for p in sample.iterdir()}


def test_dist_needs_version(sample, tmp_path):
    (sample / "__init__.py").write_text("from .util import twice\n")
    r = boards_cli(
        "dist",
        "--src",
        str(sample),
        "--out",
        str(tmp_path / "d"),
        "--root-json",
        str(tmp_path / "package.json"),
    )
    assert r.returncode != 0
    assert "__version__" in r.stderr and "Traceback" not in r.stderr


def test_root_package_json_up_to_date():
    committed = boards.ROOT_JSON
    if not committed.is_file() or not (boards.SRC / "__init__.py").is_file():
        pytest.skip("no root package.json or no package yet")
    assert committed.read_text() == boards.root_package_json(), (
        "package.json is stale: run `python tools/board/boards.py dist`"
    )


def test_committed_dist_is_up_to_date(tmp_path):
    """dist/ is committed so that `mip install github:...` needs no build: it must match the sources."""
    committed = boards.ROOT / "dist"
    if not (boards.ROOT / ".git").exists():
        pytest.skip("not a git checkout: dist/ is only committed in the repository")
    assert committed.is_dir(), (
        "dist/ is missing: restore it with `git checkout -- dist` or `make dist`"
    )
    boards.dist(out=tmp_path, root_json=None)
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert built == sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    for rel in built:
        assert (tmp_path / rel).read_bytes() == (committed / rel).read_bytes(), (
            f"dist/{rel} is stale: run `make dist`"
        )


def test_make_clean_removes_no_committed_file():
    """`make clean` must leave every file git tracks (dist/ above all) in place."""
    if not (boards.ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "-C", str(boards.ROOT), "clean"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    removed = [
        arg for line in dry.splitlines() if line.startswith("rm ") for arg in line.split()[2:]
    ]
    assert removed, dry
    tracked = subprocess.run(
        ["git", "-C", str(boards.ROOT), "ls-files", "--", *removed],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert tracked == "", "make clean would delete committed files:\n" + tracked
