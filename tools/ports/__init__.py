"""Real 32-bit MicroPython interpreters in the loop: `make ports MICROPYTHON_SRC=<tree>`.

build.py builds the 32-bit unix port and the qemu port's Cortex-M3 and RV32 boards from a
MicroPython source tree into build/ports/; targets.py runs a script on one of them (a
process, or a QEMU boot with the package in a ROMFS image); parts.py judges the device
suite's scripts and writes the one line per target; run.py is the command line;
measure.py the heap figures; package.py the package as .mpy files and a ROMFS image.
README.md beside this file says more.

May import: the standard library, ports, board (through project.py only), tinylm
(through project.py only), and mpremote's ROMFS writer.
"""
