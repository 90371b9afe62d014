"""The package's version: one source, the newest release heading of CHANGELOG.md.

    python tools/board/version.py           # prints it
    python tools/board/version.py --stamp   # writes it where it is repeated (make dist runs it)

A release is a heading `## [X.Y.Z] - date` in CHANGELOG.md; the newest one (the first)
is the version. `__version__` in firmware/attention/__init__.py and the version in
manifest.py are written from it by --stamp, and package.json and dist/ by make dist,
which reads `__version__`; host_tests/board/test_version.py holds them all equal.

On a board the version is read back from the package's __init__ file without importing
it (import_version): from the `__version__ = "..."` line of an __init__.py, or from the
string table of an __init__.mpy, so a half-installed package can still be named.
"""

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHANGELOG = ROOT / "CHANGELOG.md"
INIT = ROOT / "firmware" / "attention" / "__init__.py"
MANIFEST = ROOT / "manifest.py"

_RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+)\]", re.MULTILINE)
_INIT_LINE = re.compile(r"""^(__version__\s*=\s*)["'][^"']*["']""", re.MULTILINE)
_MANIFEST_LINE = re.compile(r"""^(\s*version\s*=\s*)["'][^"']*["']""", re.MULTILINE)
_NUMBER = re.compile(rb"^\d+\.\d+\.\d+$")


class VersionError(ValueError):
    """No release heading, or a file without the line the version goes in."""


def project(changelog=CHANGELOG):
    """The newest release of CHANGELOG.md: the first `## [X.Y.Z]` heading."""
    found = _RELEASE.search(Path(changelog).read_text())
    if not found:
        raise VersionError("no release heading `## [X.Y.Z] - date` in %s" % changelog)
    return found.group(1)


def key(text):
    """A version as a tuple for comparing; None for text that is not X.Y.Z."""
    if text is None or not _NUMBER.match(text.encode()):
        return None
    return tuple(int(part) for part in text.split("."))


def _replace(path, pattern, value):
    text = Path(path).read_text()
    new, count = pattern.subn(lambda m: '%s"%s"' % (m.group(1), value), text, count=1)
    if not count:
        raise VersionError("no version line in %s" % path)
    if new != text:
        Path(path).write_text(new)
        return True
    return False


def stamp(version=None, init=INIT, manifest=MANIFEST):
    """Write the version into __init__.py and manifest.py; returns the files changed."""
    version = version or project()
    changed = []
    if _replace(init, _INIT_LINE, version):
        changed.append(str(init))
    if _replace(manifest, _MANIFEST_LINE, version):
        changed.append(str(manifest))
    return changed


def import_version(name, data):
    """The __version__ in the bytes of an __init__.py or __init__.mpy, or None."""
    if name.endswith(".py"):
        found = re.search(rb"""^__version__\s*=\s*["']([^"']+)["']""", data, re.MULTILINE)
        return found.group(1).decode() if found else None
    # An .mpy's strings are stored as a length (times two) byte, the bytes and a NUL.
    for i in range(len(data) - 1):
        size = data[i] >> 1
        if not data[i] & 1 and 5 <= size <= 20 and data[i + 1 + size : i + 2 + size] == b"\0":
            text = data[i + 1 : i + 1 + size]
            if _NUMBER.match(text):
                return text.decode()
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stamp", action="store_true", help="write it into the package")
    args = parser.parse_args(argv)
    try:
        version = project()
        if args.stamp:
            for path in stamp(version):
                print("version %s -> %s" % (version, Path(path).relative_to(ROOT)))
        else:
            print(version)
    except VersionError as exc:
        print("version: error: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
