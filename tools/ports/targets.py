"""The 32-bit targets built by build.py, and running one script on one of them.

A target is one interpreter with its heap in one address range:
- unix-x86 with the GC heap on glibc's brk heap of a non-PIE binary: below 0x40000000;
- unix-x86 PIE, brk heap at 0x56xxxxxx-0x58xxxxxx: 0x40000000-0x7FFFFFFF (id() negative);
- unix-x86 with the heap mmap'd at 0xF7xxxxxx: at or above 0x80000000 (id() a long int);
- qemu MPS2-AN385 (Cortex-M3), RAM at 0x00000000: below 0x40000000;
- the same board with viper emitting ARMv6-M code only (what runs on an RP2040's
  Cortex-M0+; the CPU is still a Cortex-M3, which also takes unaligned word accesses
  an M0 would fault on): below 0x40000000;
- qemu VIRT_RV32 (32-bit RISC-V), RAM at 0x80000000: at or above 0x80000000.

Each script runs in a fresh interpreter: a new process on the unix port, a new QEMU
boot on the qemu boards (the package in a ROMFS image mounted at /rom, /rom/lib on
sys.path). A QEMU board is driven through its serial port, one of two links:
- pipe: QEMU's serial port on its stdin and stdout (`-serial stdio`), spoken to with
  MicroPython's raw REPL here. Whatever the board prints before it dies is read to the
  end, because the pipe stays readable after QEMU exits.
- pty: `-serial pty` and `mpremote connect /dev/pts/N run SCRIPT`, as a board is used.
Every run has a timeout; a process or QEMU still running then is killed.
"""

import os
import re
import select
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ports import build
from ports import project

# glibc puts allocations below this size on its brk heap: the GC heap too.
BRK_HEAP = {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=67108864"}
UNIX_HEAP = 8 * 1024 * 1024  # the fuzzer's harness needs more than 1 MB on 32-bit

RANGES = (
    ("low", 0, 0x40000000, "below 0x40000000"),
    ("mid", 0x40000000, 0x80000000, "0x40000000-0x7FFFFFFF"),
    ("high", 0x80000000, 1 << 32, "at or above 0x80000000"),
)
RANGE_TEXT = {name: text for name, _, _, text in RANGES}

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
RAW_END = b"\x04>"  # the raw REPL's last bytes after a script: end of its traceback, prompt
# SystemExit in the raw REPL soft-reboots the board: no traceback, the raw banner again.
SYSTEM_EXIT = b"MPY: soft reboot\r\n" + RAW_BANNER
TRACEBACK = b"\x04Traceback (most recent call last):"
QUIET = 1.0  # seconds without output that end a crash report or confirm the prompt
# A board's fault handler: the Cortex-M one prints and then loops, the RISC-V one exits.
CRASH_START = re.compile(rb"\w+ exception caught:|MACHINE EXCEPTION CAUGHT")


def crash_summary(text):
    """A few words on a fault report of the qemu port (the fault, the address), or None."""
    arm = re.search(r"(\w+) exception caught:", text)
    if arm:
        pc = re.search(r"R15:\s+([0-9A-F]{8})", text)
        flags = re.findall(r"(CFSR\.\w+):\s+1", text)
        bfar = re.search(r"BFAR:\s+([0-9A-F]{8})", text)
        words = [arm.group(1)]
        if pc:
            words.append("pc 0x" + pc.group(1))
        words += [f for f in flags if f not in ("CFSR.BFARVALID", "CFSR.MMARVALID")]
        if bfar and "CFSR.BFARVALID" in flags:
            words.append("address 0x" + bfar.group(1))
        return " ".join(words)
    rv = re.search(r"MTVAL=([0-9A-F]{8}).*MCAUSE=\w+ \(([^)]*)\)", text)
    if rv:
        return "%s at 0x%s" % (rv.group(2), rv.group(1))
    if "MACHINE EXCEPTION CAUGHT" in text:
        return "machine exception"
    return None


@dataclass
class Target:
    name: str  # short name, e.g. unix-x86-low
    port: str  # unix or qemu
    arch: str  # as the user knows it: x86, Cortex-M3, RV32
    expect: str  # the address range the heap must be in: low, mid or high
    program: str = ""  # build/ports/ relative path of the binary or firmware.elf
    env: dict = field(default_factory=dict)
    board: str = ""  # qemu port board
    machine: str = ""  # QEMU machine
    qemu: tuple = ()  # QEMU program and its CPU arguments
    romfs: int = 0  # address of the board's ROMFS partition
    mpy_arch: str = ""  # mpy-cross -march for this target's .mpy files
    variant: str = ""  # what tells its fixture from another build's on the same machine


def targets(out=build.OUT, heaps=None):
    """Every target, with its program's path under out (heaps: {board: bytes})."""
    heaps = heaps or {}

    def firmware(board):
        heap = heaps.get(board) or build.QEMU_BOARDS[board]["heap"]
        return str(build.qemu_folder(out, board, heap) / "firmware.elf")

    unix, pie = (
        str(Path(out) / "unix-x86" / "micropython"),
        str(Path(out) / "unix-x86-pie" / "micropython"),
    )
    return [
        Target("unix-x86-low", "unix", "x86", "low", unix, BRK_HEAP, mpy_arch="x86"),
        Target("unix-x86-mid", "unix", "x86", "mid", pie, BRK_HEAP, mpy_arch="x86"),
        Target("unix-x86-high", "unix", "x86", "high", unix, {}, mpy_arch="x86"),
        Target(
            "qemu-cortex-m3",
            "qemu",
            "Cortex-M3",
            "low",
            firmware("MPS2_AN385"),
            board="MPS2_AN385",
            machine="mps2-an385",
            qemu=("qemu-system-arm",),
            romfs=0x21000000,
            mpy_arch="armv7m",
        ),
        Target(
            "qemu-cortex-m3-armv6m",
            "qemu",
            "Cortex-M3, ARMv6-M viper code",
            "low",
            firmware("MPS2_AN385_ARMV6M"),
            board="MPS2_AN385_ARMV6M",
            machine="mps2-an385",
            qemu=("qemu-system-arm",),
            romfs=0x21000000,
            mpy_arch="armv6m",
            variant="armv6m-code",
        ),
        Target(
            "qemu-rv32",
            "qemu",
            "RV32",
            "high",
            firmware("VIRT_RV32"),
            board="VIRT_RV32",
            machine="virt",
            qemu=("qemu-system-riscv32", "-bios", "none", "-cpu", "rv32"),
            romfs=0x80610000,
            mpy_arch="rv32imc",
        ),
    ]


@dataclass
class Run:
    """What one script did: status is ok, error (it raised), crash, timeout or broken
    (the target could not be started or spoken to)."""

    status: str
    out: str
    err: str = ""
    seconds: float = 0.0

    @property
    def reason(self):
        """A short reason for a failed run, from its last lines."""
        if self.status == "timeout":
            return "timeout after %.0f s" % self.seconds
        text = self.err + "\n" + self.out
        if self.status == "crash":
            summary = crash_summary(text)
            if summary:
                return "crashed: " + summary
            return "crashed: " + (self.err.strip().splitlines() or ["no output"])[-1][:60]
        for source in (self.err, self.out):
            lines = [ln.strip() for ln in source.splitlines() if ln.strip()]
            errors = [ln for ln in lines if re.match(r"^[A-Za-z_.]*(Error|Exception|Exit)\b", ln)]
            if errors:
                return errors[-1][:100]
        lines = [ln.strip() for ln in (self.err or self.out).splitlines() if ln.strip()]
        return (lines or [self.status])[-1][:100]


# The unix port.


def run_unix(target, script, path, timeout, heap=UNIX_HEAP):
    """Run script (text) on a unix-port target with MICROPYPATH=path."""
    with tempfile.TemporaryDirectory() as folder:
        file = os.path.join(folder, "script.py")
        with open(file, "w") as f:
            f.write(script)
        env = dict(os.environ, MICROPYPATH=str(path), **target.env)
        if not target.env:
            env.pop("GLIBC_TUNABLES", None)
        start = time.monotonic()
        try:
            done = subprocess.run(
                [target.program, "-X", "heapsize=%d" % heap, file],
                env=env,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if exc.stdout else ""
            return Run("timeout", out, "", time.monotonic() - start)
        except OSError as exc:
            return Run("broken", "", str(exc))
        took = time.monotonic() - start
        if done.returncode < 0:
            name = signal.Signals(-done.returncode).name
            return Run("crash", done.stdout, done.stderr + "\nkilled by " + name, took)
        status = "ok" if done.returncode == 0 else "error"
        return Run(status, done.stdout, done.stderr, took)


# The qemu boards.


def qemu_command(target, romfs, serial):
    return [
        target.qemu[0],
        "-machine",
        target.machine,
        *target.qemu[1:],
        "-display",
        "none",
        "-monitor",
        "none",
        "-semihosting",
        "-serial",
        serial,
        "-kernel",
        target.program,
        "-device",
        "loader,file=%s,addr=0x%x,force-raw=on" % (romfs, target.romfs),
    ]


class Pipe:
    """QEMU's serial port on a pipe; reads with deadlines."""

    def __init__(self, command):
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.buffer = b""
        self.eof = False
        self.crashed = False

    def write(self, data):
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.eof = True

    def _fill(self, until):
        """Read what comes before time until; False at end of file or when nothing came."""
        left = until - time.monotonic()
        if self.eof or left <= 0:
            return False
        ready, _, _ = select.select([self.proc.stdout.fileno()], [], [], min(left, 1.0))
        if not ready:
            return False
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def read_until(self, ending, deadline, settle=0.0):
        """Bytes up to and including ending (removed from the buffer), or None at the
        deadline, when QEMU exits or when the board prints a fault report (self.crashed;
        what came is left in self.buffer). With settle, ending (bytes, or a tuple of
        them) must be the last thing the board printed for that many seconds: a
        program's output can hold the raw REPL's framing bytes."""
        endings = ending if isinstance(ending, tuple) else (ending,)
        while True:
            if settle:
                at = next((len(self.buffer) for e in endings if self.buffer.endswith(e)), -1)
            else:
                found = [i + len(e) for e in endings for i in [self.buffer.find(e)] if i >= 0]
                at = min(found) if found else -1
            if at >= 0:
                if not settle or not self._fill(time.monotonic() + settle):
                    got, self.buffer = self.buffer[:at], self.buffer[at:]
                    return got
                continue
            if CRASH_START.search(self.buffer):
                while self._fill(min(deadline, time.monotonic() + QUIET)):
                    pass  # the whole report: it ends with the board's silence
                self.crashed = True
                return None
            if time.monotonic() >= deadline or self.eof:
                return None
            self._fill(deadline)

    def close(self):
        """Kill QEMU; returns its stderr."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            _, err = self.proc.communicate(timeout=10)
        except (subprocess.TimeoutExpired, ValueError):
            err = b""
        return (err or b"").decode(errors="replace")


def run_qemu_pipe(target, script, romfs, timeout):
    """Run script on a qemu board through its serial port on a pipe (raw REPL)."""
    start = time.monotonic()
    deadline = start + timeout
    try:
        link = Pipe(qemu_command(target, romfs, "stdio"))
    except OSError as exc:
        return Run("broken", "", str(exc))
    try:
        if link.read_until(b">>> ", min(deadline, start + 30)) is None:
            return Run("broken", link.buffer.decode(errors="replace"), link.close())
        link.write(b"\r\x03\x03\x01")
        if link.read_until(RAW_BANNER, min(deadline, time.monotonic() + 10)) is None:
            return Run("broken", link.buffer.decode(errors="replace"), link.close())
        link.write(script.encode() + b"\x04")
        if link.read_until(b"OK", deadline) is None:
            return _unfinished(link, start, deadline)
        reply = link.read_until((RAW_END, SYSTEM_EXIT), deadline, settle=0.3)
        if reply is None:
            return _unfinished(link, start, deadline)
        if reply.endswith(SYSTEM_EXIT):
            out = _lines(reply[: -len(SYSTEM_EXIT)].rstrip(b"\x04"))
            link.close()
            return Run("error", out, "SystemExit (the board soft-rebooted)",
                       time.monotonic() - start)  # fmt: skip
        out, err = split_reply(reply[: -len(RAW_END)])
        link.close()
        return Run("error" if err.strip() else "ok", out, err, time.monotonic() - start)
    finally:
        link.close()


def _lines(data):
    return data.decode(errors="replace").replace("\r\n", "\n")


def split_reply(reply):
    """(output, traceback) text of a raw REPL reply without its final b"\x04>": the two
    are separated by a b"\x04", which the output itself may contain, so a traceback is
    looked for first."""
    at = reply.rfind(TRACEBACK)
    if at < 0:
        at = reply.rfind(b"\x04")
    if at < 0:
        return _lines(reply), ""
    return _lines(reply[:at]), _lines(reply[at + 1 :])


def _unfinished(link, start, deadline, out=b""):
    """The Run of a script that did not end: QEMU exited (a crash) or the time ran out."""
    took = time.monotonic() - start
    text = _lines(out + link.buffer)
    died = link.crashed or link.eof or link.proc.poll() is not None
    err = link.close()
    if died and time.monotonic() < deadline:
        return Run("crash", text, err, took)
    return Run("timeout", text, err, took)


def run_qemu_pty(target, script, romfs, timeout, mpremote=None):
    """Run script on a qemu board through a pseudo-terminal with `mpremote run`."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            qemu_command(target, romfs, "pty"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return Run("broken", "", str(exc))
    link = Pipe.__new__(Pipe)
    link.proc, link.buffer, link.eof, link.crashed = proc, b"", False, False
    try:
        line = link.read_until(b"\n", start + 30)
        found = re.search(rb"/dev/pts/\d+", line or b"")
        if not found:
            return Run("broken", "", "QEMU printed no pty: %r" % (line or link.buffer))
        with tempfile.TemporaryDirectory() as folder:
            file = os.path.join(folder, "script.py")
            with open(file, "w") as f:
                f.write(script)
            try:
                done = subprocess.run(
                    [mpremote or project.tool("mpremote"), "connect", found.group(0).decode()]
                    + ["run", file],
                    capture_output=True,
                    text=True,
                    errors="replace",
                    timeout=max(1, start + timeout - time.monotonic()),
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                out = exc.stdout.decode(errors="replace") if exc.stdout else ""
                return Run("timeout", out, "", time.monotonic() - start)
        took = time.monotonic() - start
        if proc.poll() is not None:  # QEMU exited: the board died during the script
            return Run("crash", done.stdout, done.stderr, took)
        status = "ok" if done.returncode == 0 else "error"
        return Run(status, done.stdout, done.stderr, took)
    finally:
        link.close()


def run(target, script, package, timeout, link="pipe", heap=UNIX_HEAP):
    """Run script (text) on target; package is the folder holding attention/ (unix port)
    or the ROMFS image holding lib/attention/ (qemu boards). Returns a Run."""
    if target.port == "unix":
        return run_unix(target, script, package, timeout, heap)
    if link == "pty":
        return run_qemu_pty(target, script, package, timeout)
    return run_qemu_pipe(target, script, package, timeout)
