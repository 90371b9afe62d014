"""tools/board/serial_ports.py: a missing or forbidden port is named before mpremote or esptool opens it."""

from board import serial_ports


def test_a_missing_port_lists_the_ports_found():
    message = serial_ports.problem("/dev/ttyUSB0", found=["/dev/ttyACM0", "/dev/ttyUSB1"])
    assert message.startswith("no such port: /dev/ttyUSB0")
    assert "/dev/ttyACM0, /dev/ttyUSB1" in message and "PORT=/dev/ttyACM0" in message


def test_a_missing_port_with_nothing_found_says_what_to_look_at():
    message = serial_ports.problem("/dev/cu.usbserial-0001", found=[])
    assert "no such port" in message and "no serial ports found" in message
    assert "/dev/cu.usbmodem*" in message and "data cable" in message


def test_mpremote_shortcuts_are_checked_as_the_device_they_name():
    assert serial_ports.expand("u0") == "/dev/ttyUSB0"
    assert serial_ports.expand("a3") == "/dev/ttyACM3"
    assert serial_ports.expand("c4") == "COM4"
    assert serial_ports.expand("port:/dev/ttyUSB2") == "/dev/ttyUSB2"
    message = serial_ports.problem("a9", found=[], exists=lambda p: False)
    assert message.startswith("no such port: a9 (/dev/ttyACM9)")


def test_windows_names_and_urls_are_not_checked():
    for port in ("COM3", "c3", "rfc2217://localhost:4000", "socket://host:23"):
        assert serial_ports.problem(port, found=[], exists=lambda p: False) is None


def test_a_port_without_access_names_the_dialout_group_on_linux():
    def no_access(path, mode):
        return False

    kw = {"exists": lambda p: True, "access": no_access}
    message = serial_ports.problem("/dev/ttyUSB0", platform="linux", **kw)
    assert "may not open it" in message and "dialout" in message
    assert "dialout" not in serial_ports.problem("/dev/cu.usbmodem1", platform="darwin", **kw)


def test_an_existing_port_passes(tmp_path):
    port = tmp_path / "ttyFAKE0"
    port.write_bytes(b"")
    assert serial_ports.problem(str(port)) is None


def test_the_command_line_fails_with_the_message(capsys):
    assert serial_ports.main(["/nonexistent/ttyUSB7"]) == 1
    assert "no such port: /nonexistent/ttyUSB7" in capsys.readouterr().err
