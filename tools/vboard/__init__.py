"""The virtual board: a MicroPython unix port behind a pseudo-terminal that answers like
an ESP32 on a serial port, so that mpremote, `make deploy` and `make repl` walk the
board path without a board.

vboard.py (the pty, the raw and friendly REPLs), repl_rules.py (when the friendly REPL
asks for more input and how far it indents), vboard_agent.py (runs inside the unix
port, not CPython: the board's filesystem and sys.path).

May import: the standard library, and vboard.
"""
