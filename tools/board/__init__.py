"""The way to a board: what a chip is and how code gets onto it and runs there.

boards.py (boards/*.json, .mpy builds, dist/, flashing), serial_ports.py (is PORT usable),
board_check.py (does the board's firmware fit the package), link.py (mpremote with a
timeout, one line for each failure), deploy.py (put the package in /lib/attention, whole
or not at all; uninstall), version.py (the version, from CHANGELOG.md), repl.py (a REPL
once the board answers), target.py (run a device script on the unix port or a board,
joined with its helpers and compiled), record.py and fixture_file.py (record the case
suite into host_tests/fixtures/).

May import: the standard library, and board. The ground floor of the host tools: every
other folder may stand on it.
"""
