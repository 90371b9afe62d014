"""The package's version has one source, the newest release heading of CHANGELOG.md: __version__,
manifest.py, package.json and dist/ follow it (make dist), and a board's copy is read back
from its __init__ file, .py or .mpy, without importing it."""

import json
import re
import subprocess

import pytest
from board import boards, version
from conftest import MPY_CROSS, REPO


def newest_release():
    """The first heading `## [X.Y.Z]` of CHANGELOG.md, read here on its own."""
    for line in (REPO / "CHANGELOG.md").read_text().splitlines():
        if line.startswith("## [") and line[4:5].isdigit():
            return line[4 : line.index("]")]
    raise AssertionError("no release heading in CHANGELOG.md")


def test_every_copy_of_the_version_is_the_changelogs():
    want = newest_release()
    assert version.project() == want
    init = (REPO / "firmware" / "attention" / "__init__.py").read_text()
    assert re.search(r'^__version__ = "%s"$' % re.escape(want), init, re.MULTILINE)
    manifest = (REPO / "manifest.py").read_text()
    assert re.search(r'version="%s"' % re.escape(want), manifest)
    jsons = [REPO / "package.json"] + sorted((REPO / "dist").glob("*/package.json"))
    arches = {boards.load(name)["mpy_arch"] for name in boards.names()} | {"x64"}
    assert len(jsons) == 1 + len(arches)  # the root's, and one per arch of dist/
    for path in jsons:
        assert json.loads(path.read_text())["version"] == want, path


def test_stamp_writes_the_version_into_init_and_manifest(tmp_path):
    init, manifest = tmp_path / "__init__.py", tmp_path / "manifest.py"
    init.write_text('"""x"""\n\n__version__ = "0.0.1"\nOTHER = "0.0.1"\n')
    manifest.write_text('metadata(\n    description="d",\n    version="0.0.1",\n)\n')
    changed = version.stamp("7.8.9", init, manifest)
    assert changed == [str(init), str(manifest)]
    assert init.read_text() == '"""x"""\n\n__version__ = "7.8.9"\nOTHER = "0.0.1"\n'
    assert 'version="7.8.9",' in manifest.read_text()
    assert version.stamp("7.8.9", init, manifest) == []  # nothing to change
    init.write_text("nothing here\n")
    with pytest.raises(version.VersionError):
        version.stamp("7.8.9", init, manifest)


def test_a_changelog_without_a_release_is_an_error(tmp_path):
    path = tmp_path / "CHANGELOG.md"
    path.write_text("# Changelog\n\n## [Unreleased]\n\n- a change\n")
    with pytest.raises(version.VersionError, match="no release heading"):
        version.project(path)


@pytest.mark.skipif(not MPY_CROSS, reason="mpy-cross not installed")
@pytest.mark.parametrize("arch", ["x64", "xtensawin"])
def test_the_version_is_read_back_from_an_init_mpy(tmp_path, arch):
    source = tmp_path / "__init__.py"
    source.write_text('from .micro import MicroAttention\n\n__version__ = "12.0.345"\n')
    out = tmp_path / "__init__.mpy"
    subprocess.run([MPY_CROSS, "-march=" + arch, "-o", str(out), str(source)], check=True)
    assert version.import_version("__init__.mpy", out.read_bytes()) == "12.0.345"
    assert version.import_version("__init__.py", source.read_bytes()) == "12.0.345"
    assert version.import_version("__init__.py", b"x = 1\n") is None


def test_versions_compare_as_numbers():
    assert version.key("0.10.0") > version.key("0.9.9") > version.key("0.2.0")
    assert version.key("abc") is None and version.key(None) is None
