# Agent run by tools/vboard.py inside the MicroPython unix port (not CPython).
#
# Usage: micropython vboard_agent.py ROOT
#
# Makes ROOT the filesystem "/" and then serves commands from stdin, one per frame:
#     b"exec <n>\n" or b"single <n>\n", followed by <n> bytes of source code.
# For each command it writes to stdout: b"\x06" (started), the program's own output
# (streamed as it is printed), b"\x04", the traceback if any, b"\x04".
# All commands share one globals dict, like the REPL of a board.
# SystemExit ends the process after the first b"\x04" (the host soft-reboots).
import io
import os
import sys
import vfs

_me = sys.argv[0]
vfs.umount("/")
vfs.mount(vfs.VfsPosix(sys.argv[1]), "/")
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


def _run(mode, src):
    try:
        _out.write("\x06")
        exec(compile(src, "<stdin>", mode), _globals)
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


main()
