"""Check a board's serial port before mpremote or esptool opens it.

    python tools/board/serial_ports.py PORT    # exit 1 with a message if PORT cannot be used
    python tools/board/serial_ports.py --list  # the serial ports and pseudo-terminals found

mpremote reports a missing port as "failed to access /dev/ttyUSB0 (it may be in use by
another program)", which sends people hunting for another program. This says what is
wrong instead: no such port (and the ports that do exist, pseudo-terminals of virtual
and emulated boards among them), a path that is not a serial port (a folder, a file,
/dev/null), or a port this user may not open (on Linux: the dialout group). Names that
are not paths (COM3 on Windows, URLs) cannot be checked this way and pass; mpremote's
shortcuts (u0, a0, c0) are expanded. Nothing here opens the port: opening toggles DTR
and RTS, which resets most ESP32 boards.
"""

import glob
import os
import re
import stat
import sys

# Where USB serial adapters and native-USB boards appear: Linux, then macOS.
PATTERNS = (
    "/dev/ttyUSB*",
    "/dev/ttyACM*",
    "/dev/cu.usbserial-*",
    "/dev/cu.usbmodem*",
    "/dev/cu.wchusbserial*",
    "/dev/cu.SLAB_USBtoUART*",
)
# Where a virtual board (make vboard) or an emulated one (QEMU's -serial pty) appears.
PTY_PATTERNS = ("/dev/pts/[0-9]*", "/dev/ttys[0-9]*")
PTY_MAJORS = range(136, 144)  # Linux: Unix98 pseudo-terminal slaves
_SHORTCUT = re.compile(r"^([uac])(\d+)$")
_SHORTCUT_PREFIX = {"u": "/dev/ttyUSB", "a": "/dev/ttyACM", "c": "COM"}


def expand(port):
    """The device mpremote opens for ``port``: shortcuts u0, a0, c0 and port:X resolved."""
    if port.startswith("port:"):
        port = port[len("port:") :]
    m = _SHORTCUT.match(port)
    if m:
        return _SHORTCUT_PREFIX[m.group(1)] + m.group(2)
    return port


def candidates(patterns=PATTERNS):
    """The serial ports present on this machine, sorted."""
    return sorted({path for pattern in patterns for path in glob.glob(pattern)})


def pseudo_terminals(patterns=PTY_PATTERNS):
    """The pseudo-terminals present, sorted by number; this process's own terminal left out."""
    own = set()
    for fd in (0, 1, 2):
        try:
            own.add(os.ttyname(fd))
        except OSError:
            pass
    found = {path for pattern in patterns for path in glob.glob(pattern)} - own
    return sorted(found, key=lambda p: (len(p), p))


def kind(path, platform=sys.platform):
    """What the path is: "tty" (a serial port or terminal), "folder", "file", "device"
    (a character device that is no terminal, such as /dev/null) or "other"."""
    mode = os.stat(path)
    if stat.S_ISDIR(mode.st_mode):
        return "folder"
    if stat.S_ISREG(mode.st_mode):
        return "file"
    if not stat.S_ISCHR(mode.st_mode):
        return "other"
    if not platform.startswith("linux"):
        return "tty"
    major, minor = os.major(mode.st_rdev), os.minor(mode.st_rdev)
    if major in PTY_MAJORS:
        return "tty"
    subsystem = "/sys/dev/char/%d:%d/subsystem" % (major, minor)
    if not os.path.exists(subsystem):
        return "tty"  # no sysfs to ask (a container): let mpremote try
    return "tty" if os.path.basename(os.path.realpath(subsystem)) == "tty" else "device"


NOT_A_PORT = {
    "folder": "is a folder",
    "file": "is a regular file",
    "device": "is a character device but no terminal",
    "other": "is not a character device",
}


def listing(found=None, ptys=None):
    """Lines naming the serial ports and the pseudo-terminals found."""
    found = candidates() if found is None else found
    ptys = pseudo_terminals() if ptys is None else ptys
    lines = []
    if found:
        lines.append("serial ports found: " + ", ".join(found))
    else:
        lines.append("no serial ports found (looked for %s)" % ", ".join(PATTERNS))
    if ptys:
        lines.append(
            "pseudo-terminals (a virtual board, QEMU, or a terminal window): " + ", ".join(ptys)
        )
    return lines


def problem(
    port,
    found=None,
    access=os.access,
    exists=os.path.exists,
    platform=sys.platform,
    ptys=None,
    kind_of=None,
):
    """What stops ``port`` from being opened, as a message, or None if it looks usable."""
    device = expand(port)
    if "://" in device or "/" not in device:
        return None  # COM3, rfc2217://..., socket://...: not checkable as a path
    named = "" if device == port else " (%s)" % device
    if not exists(device):
        found = candidates() if found is None else found
        ptys = pseudo_terminals() if ptys is None else ptys
        if found or ptys:
            hint = "use one of them, e.g. PORT=%s" % (found or ptys)[0]
        else:
            hint = (
                "is the board plugged in, with a data cable (not a charge-only one)? "
                "`mpremote devs` lists the ports mpremote sees"
            )
        return "no such port: %s%s\n%s\n%s" % (port, named, "\n".join(listing(found, ptys)), hint)
    what = (kind_of or (lambda path: kind(path, platform)))(device)
    if what != "tty":
        return "%s%s %s, so not a serial port: give the board's, e.g. PORT=/dev/ttyUSB0" % (
            port,
            named,
            NOT_A_PORT[what],
        )
    if not access(device, os.R_OK | os.W_OK):
        message = "%s exists but this user may not open it for reading and writing" % device
        if platform.startswith("linux"):
            message += (
                "\nOn Linux, serial ports belong to the dialout group (uucp on Arch): "
                "sudo usermod -aG dialout $USER, then log out and back in"
            )
        return message
    return None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--list"]:
        print("\n".join(listing()))
        return 0
    if len(argv) != 1:
        print("usage: serial_ports.py PORT | --list", file=sys.stderr)
        return 2
    message = problem(argv[0])
    if message:
        print("error: " + message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
