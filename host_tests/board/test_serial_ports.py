"""tools/board/serial_ports.py: a missing or forbidden port is named before mpremote or esptool opens it."""

import os

import pytest
from board import serial_ports


def test_a_missing_port_lists_the_ports_found():
    message = serial_ports.problem("/dev/ttyUSB0", found=["/dev/ttyACM0", "/dev/ttyUSB1"], ptys=[])
    assert message.startswith("no such port: /dev/ttyUSB0")
    assert "/dev/ttyACM0, /dev/ttyUSB1" in message and "PORT=/dev/ttyACM0" in message


def test_a_missing_port_with_nothing_found_says_what_to_look_at():
    message = serial_ports.problem("/dev/cu.usbserial-0001", found=[], ptys=[])
    assert "no such port" in message and "no serial ports found" in message
    assert "/dev/cu.usbmodem*" in message and "data cable" in message


def test_mpremote_shortcuts_are_checked_as_the_device_they_name():
    assert serial_ports.expand("u0") == "/dev/ttyUSB0"
    assert serial_ports.expand("a3") == "/dev/ttyACM3"
    assert serial_ports.expand("c4") == "COM4"
    assert serial_ports.expand("port:/dev/ttyUSB2") == "/dev/ttyUSB2"
    message = serial_ports.problem("a9", found=[], ptys=[], exists=lambda p: False)
    assert message.startswith("no such port: a9 (/dev/ttyACM9)")


def test_windows_names_and_urls_are_not_checked():
    for port in ("COM3", "c3", "rfc2217://localhost:4000", "socket://host:23"):
        assert serial_ports.problem(port, found=[], exists=lambda p: False) is None


def test_a_port_without_access_names_the_dialout_group_on_linux():
    def no_access(path, mode):
        return False

    kw = {"exists": lambda p: True, "access": no_access, "kind_of": lambda p: "tty"}
    message = serial_ports.problem("/dev/ttyUSB0", platform="linux", **kw)
    assert "may not open it" in message and "dialout" in message
    assert "dialout" not in serial_ports.problem("/dev/cu.usbmodem1", platform="darwin", **kw)


def test_a_terminal_passes():
    master, slave = os.openpty()  # what a virtual board or QEMU's -serial pty offers
    try:
        assert serial_ports.problem(os.ttyname(slave)) is None
    finally:
        os.close(master)
        os.close(slave)


def test_pseudo_terminals_are_listed_among_the_ports():
    master, slave = os.openpty()
    try:
        pty = os.ttyname(slave)
        assert pty in serial_ports.pseudo_terminals()
        message = serial_ports.problem("/dev/ttyUSB9", found=[])
        assert "pseudo-terminals" in message and pty in message
        assert "no serial ports found" in message and "PORT=/dev/" in message
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize(
    "make, said",
    [
        (lambda tmp: str(tmp), "is a folder"),
        (lambda tmp: (tmp / "ttyFAKE0").write_bytes(b"") or str(tmp / "ttyFAKE0"), "is a regular"),
        (lambda tmp: "/dev/null", "is a character device but no terminal"),
    ],
    ids=["folder", "file", "dev_null"],
)
def test_a_path_that_is_no_serial_port_is_named_as_such(tmp_path, make, said):
    port = make(tmp_path)
    message = serial_ports.problem(port, platform="linux")
    assert message.startswith(port + " " + said), message
    assert "not a serial port" in message and "another program" not in message


def test_the_command_line_fails_with_the_message(capsys):
    assert serial_ports.main(["/nonexistent/ttyUSB7"]) == 1
    assert "no such port: /nonexistent/ttyUSB7" in capsys.readouterr().err
