"""What the host's Python is, for the Makefile: a version check and a tag naming it.

    python3 tools/host_python.py check   # exit 1 with a message if older than 3.10
    python3 tools/host_python.py tag     # e.g. cpython-3.11.7-x86_64

Kept runnable by old interpreters (no f-strings, no annotations), so that a Python
too old for the host tools still gets a readable message instead of a SyntaxError.
"""

import platform
import sys

MINIMUM = (3, 10)


def tag():
    """Names the interpreter: implementation, full version and machine."""
    return "%s-%s-%s" % (
        sys.implementation.name if hasattr(sys, "implementation") else "python",
        ".".join(str(part) for part in sys.version_info[:3]),
        platform.machine() or "unknown",
    )


def problem(version_info=None):
    """The message for a Python too old for the host tools, or None."""
    version_info = tuple(version_info or sys.version_info[:3])
    if version_info[:2] >= MINIMUM:
        return None
    return (
        "the host tools need CPython %d.%d or newer; %s is Python %s.\n"
        "Install a newer Python (python.org, your package manager or pyenv) and run make "
        "again,\nor point make at one: make PYTHON3=/path/to/python3.12 ..."
        % (MINIMUM + (sys.executable, ".".join(str(v) for v in version_info)))
    )


def main(argv):
    if argv[1:] == ["tag"]:
        print(tag())
        return 0
    if argv[1:] == ["check"]:
        message = problem()
        if message:
            sys.stderr.write("error: " + message + "\n")
            return 1
        return 0
    sys.stderr.write("usage: host_python.py check|tag\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
