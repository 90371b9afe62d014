"""The boards' machine code of the viper kernels (xtensawin and rv32imc for the ESP32s,
armv6m and armv7emsp for the RP2040 and RP2350), without a board: what mpy-cross emits and
what it executes.

mpy_file.py (read a .mpy: its arch, each function's machine code and name),
inspect_native.py (disassemble, find the loops: static counts),
kernel_loops.py (each kernel's inner loop and unroll; what the static and executed
reports share), qemu_run.py and drivers/*.S (run a function's machine code bare-metal
under QEMU, counting instructions), qemu_inspect.py (executed instructions per kernel),
token_counts.py (a model's kernel calls recorded on the unix port, replayed under QEMU:
instructions per token), rv32_port.py (whole tokens on an RV32 MicroPython under QEMU).

May import: the standard library, capstone, board and machine_code.
"""
