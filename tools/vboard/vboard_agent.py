# Agent run by tools/vboard/vboard.py inside the MicroPython unix port (not CPython).
#
# Usage: micropython vboard_agent.py ROOT [FLASH_BYTES]
#
# Makes ROOT the filesystem "/" (a plain VfsPosix), and `import os` answer like a board
# about its flash filesystem: ilistdir gives each file's size (VfsPosix leaves it out),
# rename works on the root, and statvfs a partition of FLASH_BYTES
# (default 2 MiB, the ESP32_GENERIC one) in 4 KiB blocks, of which the files in ROOT use
# a block per started 4 KiB, two per folder and two for the superblock, as littlefs does
# roughly. Then it serves commands from stdin, one per frame:
#     b"exec <n>\n" or b"single <n>\n", followed by <n> bytes of source code.
#     b"file <n>\n" followed by a path of <n> bytes: that file runs, if it exists
#     (boot.py and main.py at start-up, as pyexec_file_if_exists runs them).
# For each command it writes to stdout: b"\x06" (started), the program's own output
# (streamed as it is printed), b"\x04", the traceback if any, b"\x04".
# All commands share one globals dict, like the REPL of a board.
# SystemExit ends the process after the first b"\x04" (the host soft-reboots).
import gc
import io
import os
import sys
import vfs

_me = sys.argv[0]
_BLOCK = 4096


class _BoardOs:
    """The os module as a board's answers about its flash filesystem; the rest is os's.

    ROOT is mounted as a plain VfsPosix, so imports and file reads take MicroPython's own
    C paths and leave no garbage of their own on the heap (a filesystem object written
    in Python would, and cut the heap into pieces a board never sees). This object
    stands in sys.modules for `import os`: ilistdir gives each file's size (VfsPosix
    leaves it out), statvfs measures the partition, and rename works (VfsPosix with a
    root builds both paths in one buffer, so the first is lost).
    """

    def __init__(self, root, flash_bytes):
        self._root = root.rstrip("/")
        self._plain = vfs.VfsPosix()  # no root: host paths as they are
        self._blocks = flash_bytes // _BLOCK

    def __getattr__(self, name):
        return getattr(os, name)

    def ilistdir(self, path="."):
        for entry in os.ilistdir(path):
            name, kind = entry[0], entry[1]
            size = 0
            if kind != 0x4000:
                full = path + name if not path or path.endswith("/") else path + "/" + name
                try:
                    size = os.stat(full)[6]
                except OSError:
                    pass
            yield (name, kind, entry[2], size)

    def _used(self, path):
        blocks = 2
        for name, kind, _, size in self.ilistdir(path):
            full = path.rstrip("/") + "/" + name
            blocks += self._used(full) if kind == 0x4000 else (size + _BLOCK - 1) // _BLOCK
        return blocks

    def statvfs(self, path):
        free = max(self._blocks - 2 - self._used("/"), 0)
        return (_BLOCK, _BLOCK, self._blocks, free, free, 0, 0, 0, 0, 255)

    def rename(self, old, new):
        self._plain.rename(self._host(old), self._host(new))

    def _host(self, path):
        if not path.startswith("/"):
            path = os.getcwd().rstrip("/") + "/" + path
        return self._root + path


vfs.umount("/")
vfs.mount(vfs.VfsPosix(sys.argv[1]), "/")
sys.modules["os"] = _BoardOs(
    sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2 * 1024 * 1024
)
os.chdir("/")
sys.path[:] = ["", ".frozen", "/lib"]
sys.argv[:] = []
_inp = sys.stdin.buffer
_out = sys.stdout
_globals = {"__name__": "__main__"}


def _read(n):
    buf = b""
    while len(buf) < n:
        chunk = _inp.read(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def _format(exc):
    s = io.StringIO()
    sys.print_exception(exc, s)
    # Drop this file's own frames so tracebacks look like a board's.
    return "\n".join(line for line in s.getvalue().split("\n") if _me not in line)


def _source(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""  # no such file: nothing runs


def _run(mode, src):
    try:
        _out.write("\x06")
        if mode == "file":
            name, src, mode = src, _source(src), "exec"
        else:
            name = "<stdin>"
        exec(compile(src, name, mode), _globals)
        return ""
    except SystemExit:
        raise
    except BaseException as e:  # a board reports everything, Ctrl-C too
        return _format(e)


def _reply(err):
    while True:
        try:
            _out.write("\x04" + err + "\x04")
            return
        except KeyboardInterrupt:  # a late Ctrl-C must not lose the end of the reply
            pass


def main():
    while True:
        try:
            head = _inp.readline()
            if not head:
                return
            mode, n = head.decode().split()
            src = _read(int(n)).decode()
        except KeyboardInterrupt:  # Ctrl-C while idle: nothing to interrupt
            continue
        except EOFError:
            return
        try:
            err = _run(mode, src)
        except SystemExit:
            _out.write("\x04")
            return
        except KeyboardInterrupt as e:
            err = _format(e)
        _reply(err)


gc.collect()  # what compiling this file left: a board starts its REPL on a clean heap
main()
