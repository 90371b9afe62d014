"""The virtual board's friendly REPL, typed at through its pty, against the unix port's own REPL."""

import os

import pytest
from conftest import Terminal, needs_board_tools, unix_repl
from vboard import repl_rules


@pytest.fixture
def vboard_terminal(board):
    fd = os.open(board[0], os.O_RDWR | os.O_NOCTTY)
    term = Terminal(fd)
    os.write(fd, b"\x02")  # to the friendly REPL, whatever the last test left
    term.read()
    yield term
    os.write(fd, b"\x03\x04")  # cancel, soft reboot: a clean board for the next test
    term.read()
    os.close(fd)


@pytest.fixture
def unix_terminal():
    with unix_repl() as term:
        yield term


CONVERSATIONS = {
    "open bracket": [b"x = [1,\r", b"2]\r", b"x\r"],
    "auto-indent, three Enters end a block": [
        b"for i in range(2):\r",
        b"print(i)\r",
        b"\r",
        b"\r",
        b"\r",
    ],
    "trailing comment": [b"n = 3  # three\r", b"if n:  # yes\r", b"    n += 1\r", b"\r", b"n\r"],
    "triple-quoted string": [b"s = '''a\r", b"b'''\r", b"s\r"],
    "space after auto-indent": [b"if 1:\r", b" y = 3\r", b"\r", b"y\r"],
    "backspace in an indent": [b"def f():\r", b"\x08return 1\r", b"\r"],
    "ctrl-d ends a block": [b"for i in 'ab':\r", b"print(i)\r", b"\x08\x04"],
    "ctrl-c cancels": [b"x = (1,\r", b"\x03", b"7\r"],
}


@needs_board_tools
@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_friendly_repl_answers_as_micropython(name, vboard_terminal, unix_terminal):
    for keys in CONVERSATIONS[name]:
        assert vboard_terminal.type(keys) == unix_terminal.type(keys), (name, keys)


@needs_board_tools
def test_continuation_prompts(vboard_terminal):
    assert vboard_terminal.type(b"x = [1,\r") == b"x = [1,\r\n... "
    assert vboard_terminal.type(b"2]\r") == b"2]\r\n>>> "
    assert vboard_terminal.type(b"for i in x:\r") == b"for i in x:\r\n...     "
    # Enter on an auto-indented line indents again; after two blank lines it runs.
    assert vboard_terminal.type(b"print(i)\r\r\r\r") == (
        b"print(i)\r\n...     \r\n...     \r\n... \r\n1\r\n2\r\n>>> "
    )


@needs_board_tools
def test_paste_mode_runs_the_block(vboard_terminal):
    banner = b"\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== "
    assert vboard_terminal.type(b"\x05") == banner
    block = b"def f(a):\r    return a * 2\r\rprint(f(21))\r"
    assert vboard_terminal.type(block) == (
        b"def f(a):\r\n===     return a * 2\r\n=== \r\n=== print(f(21))\r\n=== "
    )
    assert vboard_terminal.type(b"\x04") == b"\r\n42\r\n>>> "  # a file: no auto-indent
    assert vboard_terminal.type(b"f(5)\r") == b"f(5)\r\n10\r\n>>> "  # not a soft reboot


@needs_board_tools
def test_paste_mode_ctrl_c_drops_the_block(vboard_terminal):
    vboard_terminal.type(b"\x05")
    assert vboard_terminal.type(b"z = 5\r\x03") == b"z = 5\r\n=== \r\n>>> "
    assert b"NameError" in vboard_terminal.type(b"z\r")


def test_continue_with_input():
    incomplete = [
        b"x = [1,",
        b"f(1,\n2,",
        b"d = {",
        b"s = '''a",
        b'"""',
        b"x = 1 + \\",
        b"for i in range(2):  # loop",
        b"if x:\n    y = 1",
        b"@decorator",
        b"class A:\n    pass\n    ",
    ]
    complete = [
        b"",
        b"x = [1,\n2]",
        b"s = '('",
        b"s = '''(\n'''",
        b"x = 1  # it's (",
        b"iffy = 1",
        b"for_ = 2",
        b"if x:\n    y = 1\n",
        b"x = '\\''",
    ]
    assert [s for s in incomplete if not repl_rules.continue_with_input(s)] == []
    assert [s for s in complete if repl_rules.continue_with_input(s)] == []


def test_auto_indent():
    four = repl_rules.INDENT
    assert repl_rules.auto_indent(b"for i in x:\n") == four
    assert repl_rules.auto_indent(b"for i in x:\n    if i:\n") == four * 2
    assert repl_rules.auto_indent(b"for i in x:\n    print(i)\n") == four
    assert repl_rules.auto_indent(b"for i in x:\n    print(i)\n    \n") == four
    assert repl_rules.auto_indent(b"for i in x:\n    print(i)\n    \n    \n") == b""
    assert repl_rules.auto_indent(b"x = [1,\n") == b""
    assert repl_rules.auto_indent(b"for i in x:  # loop\n") == b""


def test_backspace_width():
    assert repl_rules.backspace_width(b"        ") == 4
    assert repl_rules.backspace_width(b"   ") == 1
    assert repl_rules.backspace_width(b"    x") == 1
    assert repl_rules.backspace_width(b"") == 0
