#!/usr/bin/env python3
"""A virtual MicroPython board on a pseudo-terminal, for mpremote and other serial tools.

Usage: python tools/vboard/vboard.py [--root DIR] [--heap 110K] [--micropython PATH]
                                     [--flash-bytes N] [--unplug-after N] [--stall-after N]

The first line printed on stdout is the device path (e.g. /dev/pts/5); then the board
serves until SIGTERM or SIGINT.  Try: mpremote connect /dev/pts/5 exec "print(1+1)".

As tight as an ESP32 without PSRAM: a program finds the heap free that it would find on a
board with a heap of --heap bytes (110K by default, what ESP32_GENERIC has; MicroPython's
-X heapsize, plus the few KB the agent keeps for itself), and on 64-bit Linux every object
is larger than on the ESP32, so a program that fits here fits there.
At power-up and at every soft reboot it runs /boot.py, then /main.py when the REPL is the
friendly one (a soft reboot from the raw REPL runs boot.py only), as a board does; a
Ctrl-C arriving meanwhile interrupts them, and a main.py that catches KeyboardInterrupt
keeps the board busy, so a client waits for a prompt that never comes.  The files live
in --root and stay there across restarts of the board on the same folder (without
--root: a fresh folder, removed at exit).  Unplugging, to rehearse a cable pulled
mid-command: SIGUSR1, or --unplug-after N (once N bytes came from the client), stops
the interpreter where it is and closes the pty, so the port vanishes; the board exits
with status 3 and a new one started on the same --root is the board plugged in again.
A wedged board, to rehearse a command that gets no answer: --stall-after N stops reading
and answering once N bytes came in (the port stays open).

Protocol spoken on the pty (as in MicroPython's shared/runtime/pyexec.c):

* Friendly REPL (the state at start): a ">>> " prompt with echo and a minimal line editor
  (typing, backspace, no cursor keys), which follows the board's rules
  (tools/vboard/repl_rules.py): "... " while the input is incomplete (an open bracket or
  triple-quoted string, a trailing backslash, a compound statement until an empty line),
  auto-indent after a colon.  Ctrl-A enters the raw REPL, Ctrl-B prints the banner,
  Ctrl-C cancels the input, Ctrl-D on an empty line soft-reboots (on an empty "... "
  line it runs the statement), Ctrl-E enters paste mode.
* Paste mode: "paste mode; Ctrl-C to cancel, Ctrl-D to finish" and "=== " prompts; input
  is echoed as is, Ctrl-D runs it all as a file, Ctrl-C drops it.
* Raw REPL: "raw REPL; CTRL-B to exit\\r\\n>".  Bytes are collected without echo until
  Ctrl-D, answered by b"OK", the program output, b"\\x04", the traceback, b"\\x04", b">".
  Ctrl-D with nothing collected is a soft reboot: b"OK\\r\\nMPY: soft reboot\\r\\n" and the
  raw banner again.  Ctrl-C clears the input, Ctrl-B returns to the friendly REPL.
* Raw paste (input b"\\x05A\\x01" in the raw REPL): answered b"R\\x01" + window size (2 bytes,
  little endian) + b"\\x01"; one more b"\\x01" is sent for each window of bytes received.
  Ctrl-D ends the code, acknowledged with b"\\x04"; the reply then has no b"OK".
* Ctrl-C while a program runs interrupts it (KeyboardInterrupt); other bytes received
  meanwhile are kept and handled after it ends, as a board's UART buffer would.

Design: the code runs in a real MicroPython unix-port process started with
tools/vboard/vboard_agent.py, which mounts the private root folder as "/" (vfs.umount("/") then
vfs.mount(vfs.VfsPosix(root), "/")), sets sys.path to ['', '.frozen', '/lib'] and then
executes framed commands read from its stdin in one persistent globals dict (boot.py and
main.py are commands too, run as files).  It answers
b"\\x06" when a command starts, then streams the program output, b"\\x04", the traceback and
b"\\x04": the raw REPL reply almost as is.  This host side only does the terminal part:
line editing, the raw/paste state machine, "\\n" -> "\\r\\n" like a board's console, and
SIGINT to the child for Ctrl-C.  A soft reboot kills the child and starts a new one (fresh
interpreter, same files).  If the program calls sys.exit() or the child dies, the board
soft-reboots too.  Output waiting for the pty is bounded: beyond OUT_LIMIT the program is
paused (its stdout pipe is not read) until a client reads, like a USB serial port.

The filesystem answers as a board's does: `mpremote ls` shows file sizes and `mpremote df`
a flash partition of --flash-bytes (default 2 MiB) less what the files use.

Limits: the root folder is not a sandbox ("/../x" reaches outside it); the agent's own code
takes a few KB of the heap (as a board's runtime does); a file being written when the board
is unplugged keeps what was written (littlefs would drop it); input() in a program does not
read the serial port; a
program printing b"\\x04" confuses mpremote, as on a real board.  Note that mpremote
soft-resets the board on its first raw REPL entry unless given the `resume` command.
"""

import argparse
import contextlib
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import tty

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from vboard import repl_rules

AGENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vboard_agent.py")
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
PASTE_WINDOW = 256  # raw-paste flow-control window, in bytes
FLASH_BYTES = 2 * 1024 * 1024  # the filesystem partition of ESP32_GENERIC
HEAP = "110K"  # the heap ESP32_GENERIC (no PSRAM) leaves a program, as -X heapsize takes it
AGENT_BYTES = 5 * 1024  # what vboard_agent.py keeps of the heap beyond the bare interpreter


def heap_bytes(text):
    """-X heapsize's value (110K, 2M, 4096) in bytes."""
    scale = {"K": 1024, "M": 1024 * 1024}.get(text[-1:].upper(), 1)
    return int(text[:-1] if scale > 1 else text) * scale


UNPLUGGED = 3  # exit status after an unplug
OUT_LIMIT = 65536  # bytes queued for the pty before the program output is paused
CTRL_A, CTRL_B, CTRL_C, CTRL_D, CTRL_E, ESC = 1, 2, 3, 4, 5, 27


def find_micropython(path=None):
    """The micropython executable: PATH if given, else next to sys.executable, else on PATH."""
    if path:
        return path
    sibling = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.access(sibling, os.X_OK):
        return sibling
    found = shutil.which("micropython")
    if not found:
        sys.exit("vboard: micropython not found (use --micropython PATH)")
    return found


def query_banner(micropython):
    """The friendly REPL banner, from the interpreter's own version string."""
    code = (
        "import sys;print(sys.version.split('; ',1)[-1]+'; vboard with '"
        "+getattr(sys.implementation,'_machine',sys.platform))"
    )
    out = subprocess.run(
        [micropython, "-c", code], capture_output=True, check=True, timeout=30
    ).stdout
    return out.strip() + b'\r\nType "help()" for more information.\r\n'


class Unplugged(Exception):
    """The cable was pulled: the board stops where it is and its port goes away."""


class VBoard:
    def __init__(
        self,
        master,
        micropython,
        root,
        flash_bytes=FLASH_BYTES,
        heap=HEAP,
        unplug_after=None,
        stall_after=None,
    ):
        self.master = master
        self.micropython = micropython
        self.root = root
        self.flash_bytes = flash_bytes
        self.heap = heap
        self.unplug_after = unplug_after  # bytes from the client before the cable is pulled
        self.stall_after = stall_after  # bytes from the client before the board wedges
        self.stalled = False
        self.received = 0
        self.banner = query_banner(micropython)
        self.mode = "friendly"  # friendly, paste, raw or raw-paste: what the next byte means
        self.line = bytearray()  # raw REPL input, or the friendly REPL statement being typed
        self.start = 0  # friendly REPL: where the line being edited starts in self.line
        self.continued = False  # friendly REPL: self.line has lines before this one
        self.indent_on = True  # friendly REPL: auto-indent (off once the user indents)
        self.indent_added = False  # friendly REPL: auto-indent has just typed spaces
        self.esc = 0  # friendly REPL: position in a terminal escape sequence (ignored)
        self.window = 0  # raw paste: bytes left before the next flow-control b"\x01"
        self.busy = None  # while a command runs: "raw", "friendly" or "boot", how to reply
        self.boot = []  # the start-up files still to run, then the banner
        self.started = False  # the agent has started the command (SIGINT is safe)
        self.interrupted = False  # Ctrl-C came before the command started
        self.eofs = 0  # b"\x04" markers received from the agent for the command
        self.pending = bytearray()  # input received while busy
        self.outq = bytearray()  # output waiting for the pty
        self.child = None
        self.spawn()
        self.start_up()

    # --- the micropython child process ---

    def spawn(self):
        # The agent's own objects come on top: a program finds the heap free that it
        # would find on a board of that heap.
        heap = ["-X", "heapsize=%d" % (heap_bytes(self.heap) + AGENT_BYTES)] if self.heap else []
        self.child = subprocess.Popen(
            [self.micropython, *heap, AGENT, self.root, str(self.flash_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C in our own terminal is not for it
        )

    def start_up(self):
        """boot.py, then main.py from the friendly REPL, then the banner: pyexec's order."""
        self.boot = [b"boot.py"] + [b"main.py"] * (self.mode == "friendly")
        self.next_boot_file()

    def next_boot_file(self):
        if self.boot:
            self.run(b"file", self.boot.pop(0), busy="boot")
        else:
            self.busy = None
            self.prompt(banner=True)

    def stop_child(self):
        if self.child:
            self.child.kill()
            self.child.wait()
            for pipe in (self.child.stdin, self.child.stdout):
                with contextlib.suppress(OSError):
                    pipe.close()
            self.child = None

    def reset(self):
        """Soft reboot: a fresh interpreter, the same files and the same REPL mode."""
        self.stop_child()
        self.spawn()
        self.busy = None
        self.mode = {"raw-paste": "raw", "paste": "friendly"}.get(self.mode, self.mode)
        self.send(b"MPY: soft reboot\r\n")
        self.start_up()

    def run(self, mode, src, busy=None):
        self.mode = {"raw-paste": "raw", "paste": "friendly"}.get(self.mode, self.mode)
        self.busy, self.started, self.interrupted, self.eofs = busy or self.mode, False, False, 0
        try:
            self.child.stdin.write(b"%s %d\n%s" % (mode, len(src), src))
            self.child.stdin.flush()
        except OSError:
            pass  # the child has died: on_exit() reports it

    def interrupt(self):
        if not self.started:
            self.interrupted = True
        elif self.eofs == 0:
            self.child.send_signal(signal.SIGINT)

    def on_output(self, data):
        """Turn the agent's reply into the REPL's reply."""
        while data and self.busy:
            if not self.started:
                i = data.find(b"\x06")
                if i < 0:
                    return
                data, self.started = data[i + 1 :], True
                if self.interrupted:
                    self.interrupt()
                continue
            i = data.find(b"\x04")
            self.send((data if i < 0 else data[:i]).replace(b"\n", b"\r\n"))
            if i < 0:
                return
            data = data[i + 1 :]
            self.eofs += 1
            if self.busy == "raw":
                self.send(b"\x04")
            if self.eofs == 2:
                if self.busy == "boot":
                    self.next_boot_file()
                    continue
                self.busy = None
                self.prompt()

    def on_exit(self):
        """The program called sys.exit() or crashed: finish the reply, then soft reboot."""
        status = self.child.wait()
        if not self.busy:  # it never ends by itself while idle: do not respawn in a loop
            sys.exit(f"vboard: micropython exited unexpectedly (status {status})")
        msg = b"vboard: micropython exited with status %d\r\n" % status if status else b""
        if self.busy == "boot":  # sys.exit() in boot.py or main.py: a soft reboot, as on a board
            self.send(msg)
            self.reset()
            return
        if self.busy == "raw":
            msg = b"\x04" * (self.eofs == 0) + msg + b"\x04"
        self.send(msg)
        self.reset()

    # --- the terminal side ---

    def send(self, data):
        self.outq += data

    def prompt(self, banner=False):
        """A fresh input line: the prompt of the mode (after the banner if asked)."""
        self.line.clear()
        self.start, self.continued, self.indent_on, self.indent_added = 0, False, True, False
        if self.mode == "raw":
            self.send(RAW_BANNER + b">" if banner else b">")
        else:
            self.send(self.banner + b">>> " if banner else b">>> ")

    def feed(self, data):
        for limit, what in ((self.unplug_after, "unplug"), (self.stall_after, "stall")):
            if limit is not None and len(data) >= limit - self.received:
                data = data[: limit - self.received]
                self.received += len(data)
                self.feed_bytes(data)
                if what == "unplug":
                    raise Unplugged
                self.stalled = True
                print("vboard: stalled", file=sys.stderr, flush=True)
                return
        self.received += len(data)
        self.feed_bytes(data)

    def feed_bytes(self, data):
        for c in data:
            if self.busy:
                if c == CTRL_C:
                    self.interrupt()
                else:
                    self.pending.append(c)
            elif self.mode == "raw":
                self.raw_char(c)
            elif self.mode == "raw-paste":
                self.raw_paste_char(c)
            elif self.mode == "paste":
                self.paste_char(c)
            else:
                self.friendly_char(c)

    def raw_char(self, c):
        if c == CTRL_A:
            if len(self.line) == 2 and self.line[0] == CTRL_E:
                if self.line[1] == ord("A"):
                    self.mode, self.window = "raw-paste", PASTE_WINDOW
                    self.send(b"R\x01" + PASTE_WINDOW.to_bytes(2, "little") + b"\x01")
                else:
                    self.send(b"R\x00>")
            else:
                self.send(RAW_BANNER + b">")
            self.line.clear()
        elif c == CTRL_B:
            self.line.clear()
            self.mode = "friendly"
            self.send(b"\r\n")
            self.prompt(banner=True)
        elif c == CTRL_C:
            self.line.clear()
        elif c == CTRL_D:
            self.send(b"OK")
            if self.line:
                src, self.line = bytes(self.line), bytearray()
                self.run(b"exec", src)
            else:
                self.send(b"\r\n")
                self.reset()
        else:
            self.line.append(c)

    def raw_paste_char(self, c):
        if c == CTRL_D:
            self.send(b"\x04")
            src, self.line = bytes(self.line), bytearray()
            self.run(b"exec", src)
        elif c == CTRL_C:
            self.mode = "raw"
            self.line.clear()
            self.send(b"\x04\x04KeyboardInterrupt: \r\n\x04>")
        else:
            self.line.append(c)
            self.window -= 1
            if self.window == 0:
                self.window = PASTE_WINDOW
                self.send(b"\x01")

    def friendly_char(self, c):
        """One byte for the line editor, as MicroPython's readline handles it."""
        current = self.line[self.start :]
        if self.esc:  # skip ESC [ ... final-byte sequences (arrow keys and such)
            self.esc = 2 if self.esc == 1 and c in b"[O" else 0 if 0x40 <= c <= 0x7E else 2
        elif c == ESC:
            self.esc = 1
        elif (CTRL_A <= c <= CTRL_E and not current) or c == CTRL_C:
            self.friendly_control(c)
            return
        elif c == ord("\r"):
            self.send(b"\r\n")
            self.line_done()
            return
        elif c in (8, 127):
            width = repl_rules.backspace_width(current)
            if width:
                del self.line[-width:]
                self.send(b"\x08" * width + b"\x1b[K")
        elif self.indent_added and c in (9, 32):  # the user indents: auto-indent stops
            self.indent_on = False
            if c == 32:
                del self.line[-3:]
                self.send(b"\x08\x08\x08")
        elif c == 9:  # after whitespace a tab is four spaces (no completion here)
            if self.line[-1:].isspace():
                self.line += repl_rules.INDENT
                self.send(repl_rules.INDENT)
        elif 32 <= c <= 126:
            self.line.append(c)
            self.send(bytes([c]))
        self.indent_added = False

    def friendly_control(self, c):
        """Ctrl-A..E on an empty line, or Ctrl-C: what pyexec's friendly REPL does with them."""
        if c == CTRL_C:
            self.send(b"\r\n")
            self.prompt()
        elif self.continued:
            if c == CTRL_D:  # ends the compound statement
                self.execute()
            else:
                self.line_done()
        elif c == CTRL_A:
            self.mode = "raw"
            self.send(b"\r\n")
            self.prompt(banner=True)
        elif c == CTRL_B:
            self.send(b"\r\n")
            self.prompt(banner=True)
        elif c == CTRL_D:
            self.send(b"\r\n")
            self.reset()
        else:  # Ctrl-E
            self.mode = "paste"
            self.line.clear()
            self.send(b"\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ")

    def line_done(self):
        """Enter: run the statement, or a "... " line if it is incomplete (auto-indented)."""
        if not self.line:
            self.prompt()
        elif repl_rules.continue_with_input(self.line):
            self.line += b"\n"
            self.start, self.continued = len(self.line), True
            self.send(b"... ")
            indent = repl_rules.auto_indent(self.line) if self.indent_on else b""
            if indent:
                self.line += indent
                self.send(indent)
                self.indent_added = True
        else:
            self.execute()

    def execute(self):
        src, self.line = bytes(self.line), bytearray()
        self.run(b"single", src)

    def paste_char(self, c):
        """Paste mode: everything is kept and echoed until Ctrl-D runs it or Ctrl-C drops it."""
        if c == CTRL_C:
            self.mode = "friendly"
            self.send(b"\r\n")
            self.prompt()
        elif c == CTRL_D:
            self.send(b"\r\n")
            src, self.line = bytes(self.line), bytearray()
            self.run(b"exec", src)
        else:
            self.line.append(c)
            self.send(b"\r\n=== " if c == ord("\r") else bytes([c]))

    # --- main loop ---

    def serve(self):
        while True:
            if self.stalled:  # wedged: nothing read, nothing answered, the port still there
                select.select([], [], [], 3600)
                continue
            if not self.busy and self.pending:
                data, self.pending = self.pending, bytearray()
                self.feed_bytes(data)
                continue
            child = self.child
            readers = [self.master]
            if len(self.outq) < OUT_LIMIT:
                readers.append(child.stdout)
            writers = [self.master] if self.outq else []
            readable, writable, _ = select.select(readers, writers, [])
            if writable:
                with contextlib.suppress(BlockingIOError):
                    del self.outq[: os.write(self.master, self.outq)]
            if self.master in readable:
                self.feed(os.read(self.master, 65536))
            if child.stdout in readable and self.child is child:
                data = os.read(child.stdout.fileno(), 65536)
                if data:
                    self.on_output(data)
                else:
                    self.on_exit()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", help="folder seen as '/' by the board (default: a new temp)")
    parser.add_argument("--micropython", help="the MicroPython unix port executable")
    parser.add_argument(
        "--flash-bytes", type=int, default=FLASH_BYTES, help="size of the filesystem (df)"
    )
    parser.add_argument(
        "--heap", default=HEAP, help="the interpreter's heap, as -X heapsize takes it (110K)"
    )
    parser.add_argument(
        "--unplug-after", type=int, help="pull the cable once this many bytes came in"
    )
    parser.add_argument(
        "--stall-after", type=int, help="stop answering once this many bytes came in"
    )
    args = parser.parse_args(argv)
    micropython = find_micropython(args.micropython)
    root = os.path.abspath(args.root or tempfile.mkdtemp(prefix="vboard-"))
    os.makedirs(root, exist_ok=True)

    def stop(signum, frame):
        raise SystemExit(0)

    def unplug(signum, frame):
        raise Unplugged

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, unplug)
    master, slave = pty.openpty()
    tty.setraw(slave)  # no echo, no line discipline, no "\n" -> "\r\n": bytes pass untouched
    os.set_blocking(master, False)
    board = None
    try:
        board = VBoard(
            master,
            micropython,
            root,
            args.flash_bytes,
            args.heap or None,
            args.unplug_after,
            args.stall_after,
        )
        # Our slave fd stays open so the pty lives on between client connections.
        print(os.ttyname(slave), flush=True)
        print(
            f"vboard: root {root}, heap {args.heap or 'unlimited'}, micropython {micropython}",
            file=sys.stderr,
            flush=True,
        )
        board.serve()
    except Unplugged:
        if board:
            board.stop_child()  # the power goes with the cable: the program stops mid-way
        os.close(master)  # the port vanishes under the client
        os.close(slave)
        print("vboard: unplugged", file=sys.stderr, flush=True)
        sys.exit(UNPLUGGED)
    finally:
        if board:
            board.stop_child()
        if not args.root:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
