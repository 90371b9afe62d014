#!/usr/bin/env python3
"""Whole-token instructions on a real 32-bit RISC-V MicroPython: the qemu port's VIRT_RV32
board under QEMU with -icount shift=0, the package and a model in its ROMFS.

    python tools/machine_code/rv32_port.py [--firmware ELF] [--model FILE] [--full P,P,...]

The firmware is a MicroPython build of ports/qemu for BOARD=VIRT_RV32 (built by `make
ports` into build/ports/, or by hand: docs/performance.md). It is looked for, in order:
--firmware, the environment variable RV32_FIRMWARE, build/ports/*RV32*/firmware.elf.
None found: one line saying so, exit status 0 (the count is skipped, not failed).

A ROMFS image (mpremote's romfs writer) holds lib/attention/ (the package as .py), the
model file and tools/device/token_instructions.py with its settings in front; QEMU loads
it at the board's ROMFS partition, the script is imported through the raw REPL on the
serial port (a pipe), and its JSON lines come back: see that script for what is counted.
"""

import argparse
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from board import boards, target

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_ENV = "RV32_FIRMWARE"
ROMFS_ADDRESS = 0x80610000  # MICROPY_HW_ROMFS_PART0_START of the VIRT_RV32 board
ROMFS_SIZE = 0x400000
QEMU = "qemu-system-riscv32"
SCRIPT = "token_instructions"


class PortError(RuntimeError):
    """The interpreter under QEMU did not run the script to its end."""


def find_firmware(given=None):
    """The firmware.elf to use (see the module's docstring), or None."""
    if given:
        return Path(given)
    if os.environ.get(FIRMWARE_ENV):
        return Path(os.environ[FIRMWARE_ENV])
    built = sorted((ROOT / "build" / "ports").glob("*RV32*/firmware.elf"))
    return built[-1] if built else None


def romfs_image(files):
    """A ROMFS image of {path: bytes} (paths like "lib/attention/decoder.py")."""
    from mpremote.romfs import VfsRomWriter  # noqa: PLC0415  (mpremote only where this runs)

    tree = {}
    for path, data in files.items():
        node = tree
        *folders, name = path.split("/")
        for folder in folders:
            node = node.setdefault(folder, {})
        node[name] = data
    writer = VfsRomWriter()

    def add(node):
        for name in sorted(node):
            if isinstance(node[name], dict):
                writer.opendir(name)
                add(node[name])
                writer.closedir()
            else:
                writer.mkfile(name, node[name])

    add(tree)
    image = writer.finalise()
    if len(image) > ROMFS_SIZE:
        raise PortError(f"the ROMFS image is {len(image)} bytes, more than the partition")
    return image


def package_files(model, settings):
    files = {
        f"lib/attention/{p.name}": p.read_bytes()
        for p in sorted(Path(boards.SRC).iterdir())
        if p.suffix == ".py"
    }
    files["model.bin"] = Path(model).read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        script = target.bundle([SCRIPT + ".py"], tmp, settings)
        files[f"lib/{SCRIPT}.py"] = Path(script).read_bytes()
    return files


class _Serial:
    """QEMU with its serial port on stdin/stdout."""

    def __init__(self, command):
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.buffer = b""

    def write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def until(self, ending, deadline):
        """The bytes up to and including ending, or PortError at the deadline or exit."""
        while ending not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PortError(
                    f"no {ending!r} in time; the board printed: {self.buffer[-500:]!r}"
                )
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise PortError(f"QEMU exited; the board printed: {self.buffer[-500:]!r}")
                self.buffer += chunk
        at = self.buffer.index(ending) + len(ending)
        got, self.buffer = self.buffer[:at], self.buffer[at:]
        return got

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


def run(firmware, model, prompt, room, full=(), example=True, tokens=None, timeout=900):
    """The JSON lines token_instructions.py printed on the board, as dicts (its settings:
    see there)."""
    settings = "MODEL = '/rom/model.bin'; PROMPT = %r; ROOM = %d; FULL = %r; " % (
        prompt,
        room,
        tuple(full),
    )
    settings += "EXAMPLE = %r; TOKENS = %r\n" % (
        example,
        None if tokens is None else bytes(tokens),
    )
    image = romfs_image(package_files(model, settings))
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory() as tmp:
        rom = Path(tmp) / "romfs.img"
        rom.write_bytes(image)
        command = [
            *(QEMU, "-machine", "virt", "-bios", "none", "-cpu", "rv32"),
            *("-icount", "shift=0", "-display", "none", "-monitor", "none"),
            *("-semihosting", "-serial", "stdio", "-kernel", str(firmware)),
            *("-device", f"loader,file={rom},addr={ROMFS_ADDRESS:#x},force-raw=on"),
        ]
        link = _Serial(command)
        try:
            link.until(b">>> ", time.monotonic() + 30)
            link.write(b"\r\x03\x03\x01")
            link.until(b"raw REPL; CTRL-B to exit\r\n>", time.monotonic() + 10)
            link.write(f"import {SCRIPT}\x04".encode())
            link.until(b"OK", time.monotonic() + 10)
            out = link.until(b"\x04", deadline)[:-1]
            err = link.until(b"\x04", time.monotonic() + 10)[:-1]
        finally:
            link.close()
    if err.strip():
        raise PortError("the script failed on the board:\n" + err.decode(errors="replace"))
    return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]


def main(argv=None):
    from machine_code import token_counts  # noqa: PLC0415

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--firmware", help=f"the VIRT_RV32 firmware.elf (default: ${FIRMWARE_ENV})")
    ap.add_argument("--model", default=str(token_counts.SHIPPED))
    ap.add_argument("--prompt", default=token_counts.EXAMPLE)
    ap.add_argument("--room", type=int, default=token_counts.EXAMPLE_ROOM)
    ap.add_argument("--full", default="", help="positions of full steps, P,P,...")
    args = ap.parse_args(argv)
    firmware = find_firmware(args.firmware)
    if firmware is None:
        print(f"rv32 whole token: skipped, no RV32 MicroPython built (set {FIRMWARE_ENV})")
        return 0
    full = [int(p) for p in args.full.split(",") if p]
    for line in run(firmware, args.model, args.prompt, args.room, full):
        print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
