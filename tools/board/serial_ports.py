"""Check a board's serial port before mpremote or esptool opens it.

    python tools/board/serial_ports.py PORT    # exit 1 with a message if PORT cannot be used

mpremote reports a missing port as "failed to access /dev/ttyUSB0 (it may be in use by
another program)", which sends people hunting for another program. This says what is
wrong instead: no such port (and the ports that do exist), or a port this user may not
open (on Linux: the dialout group). Names that are not paths (COM3 on Windows, URLs)
cannot be checked this way and pass; mpremote's shortcuts (u0, a0, c0) are expanded.
"""

import glob
import os
import re
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


def problem(port, found=None, access=os.access, exists=os.path.exists, platform=sys.platform):
    """What stops ``port`` from being opened, as a message, or None if it looks usable."""
    device = expand(port)
    if "://" in device or "/" not in device:
        return None  # COM3, rfc2217://..., socket://...: not checkable as a path
    if not exists(device):
        found = candidates() if found is None else found
        named = "" if device == port else " (%s)" % device
        if found:
            listing = "serial ports found: " + ", ".join(found)
            hint = "use one of them, e.g. PORT=%s" % found[0]
        else:
            listing = "no serial ports found (looked for %s)" % ", ".join(PATTERNS)
            hint = (
                "is the board plugged in, with a data cable (not a charge-only one)? "
                "`mpremote devs` lists the ports mpremote sees"
            )
        return "no such port: %s%s\n%s\n%s" % (port, named, listing, hint)
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
    if len(argv) != 1:
        print("usage: serial_ports.py PORT", file=sys.stderr)
        return 2
    message = problem(argv[0])
    if message:
        print("error: " + message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
