"""manifest.py: what a firmware build freezes, read with the manifest commands' semantics."""

import json

import attention
from conftest import REPO


def run_manifest(path):
    """(metadata, {target path on the board: source file}) as MicroPython's manifestfile does."""
    meta, frozen = {}, {}

    def metadata(**kwargs):
        assert not meta and not frozen, "metadata() must come first, once"
        meta.update(kwargs)

    def package(package_path, files=None, base_path=".", opt=None):
        assert meta, "metadata() must be the first command in a manifest file"
        base = path.parent / base_path
        for source in sorted((base / package_path).rglob("*.py")):
            frozen[str(source.relative_to(base))] = source

    commands = {"metadata": metadata, "package": package}
    exec(compile(path.read_text(), str(path), "exec"), commands)
    return meta, frozen


def test_manifest_freezes_the_package_as_attention():
    meta, files = run_manifest(REPO / "manifest.py")
    sources = sorted((REPO / "firmware" / "attention").glob("*.py"))
    assert files == {"attention/" + s.name: s for s in sources}
    assert meta["description"]


def test_manifest_version_is_the_package_version():
    meta, _ = run_manifest(REPO / "manifest.py")
    package_json = json.loads((REPO / "package.json").read_text())
    assert meta["version"] == attention.__version__ == package_json["version"]
