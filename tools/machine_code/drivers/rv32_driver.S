/* Bare-metal driver for qemu-system-riscv32 -M virt -bios none (rv32imc, machine mode).
 *
 * Fills a MicroPython fun table (stubs below), then makes every call of the job
 * at JOB (layout in tools/machine_code/qemu_run.py) as MicroPython calls a native function,
 * a0 = function object, a1 = n_args, a2 = n_kw, a3 = args, and stores the
 * returned a0 and the instret difference (executed instructions, with -icount).
 * Writes the job back to the semihosting console, exits. The layout symbols (RAM, JOB, FUNTAB, ...) come
 * from the assembler command line.
 */
    .set SYS_OPEN, 0x01
    .set SYS_WRITE, 0x05
    .set SYS_EXIT, 0x18

    .option norelax                     /* addresses exactly as written (.org) */
    .text
    .global _start
    .org START - RAM
_start:
    li sp, STACK_TOP
    la t0, exception
    csrw mtvec, t0

    li t0, FUNTAB                       /* every entry traps, then the known ones */
    li t1, TRAPS
    li t2, FUNTAB_ENTRIES
1:  sw t1, 0(t0)
    addi t0, t0, 4
    addi t1, t1, TRAP_SIZE
    addi t2, t2, -1
    bnez t2, 1b
    li t0, FUNTAB
    li t1, CONSTS                       /* None, False, True: three marker words */
    sw t1, 0(t0)
    addi t1, t1, 4
    sw t1, 4(t0)
    addi t1, t1, 4
    sw t1, 8(t0)
    la t1, identity
    sw t1, 12(t0)                       /* convert object to native */
    sw t1, 16(t0)                       /* convert native to object */
    la t1, floor_divide
    sw t1, 46 * 4(t0)
    la t1, modulo
    sw t1, 47 * 4(t0)

    li s0, JOB                          /* calibration: two calls of known length */
    la t2, null2
    csrr s3, instret
    jalr t2
    csrr t1, instret
    sub t1, t1, s3
    sw t1, H_NULL2(s0)
    la t2, null10
    csrr s3, instret
    jalr t2
    csrr t1, instret
    sub t1, t1, s3
    sw t1, H_NULL10(s0)

    lw s1, H_NCALLS(s0)
    lw s2, H_CALLS(s0)
2:  beqz s1, 3f
    sw s2, H_CURRENT(s0)
    lw a0, C_FUN(s2)
    lw a1, C_NARGS(s2)
    li a2, 0
    lw a3, C_ARGS(s2)
    lw t2, C_CODE(s2)
    csrr s3, instret
    jalr t2
    csrr t1, instret
    sw a0, C_RET(s2)
    sub t1, t1, s3
    sw t1, C_COUNT(s2)
    addi s2, s2, C_SIZE
    addi s1, s1, -1
    j 2b
3:  li s1, STATUS_DONE
    j finish

    .balign 4
exception:                              /* s1 = status, s2 = detail, s3 = address */
    li s1, STATUS_EXCEPTION
    csrr s2, mcause
    csrr s3, mepc
    j report
unknown_entry:                          /* a0 = address of the trap stub */
    li t0, TRAPS
    sub a0, a0, t0
    srli s2, a0, 4                      /* the fun-table index */
    li s1, STATUS_UNKNOWN_ENTRY
    mv s3, ra
report:
    li s0, JOB
    sw s2, H_DETAIL(s0)
    sw s3, H_ADDRESS(s0)
finish:
    li s0, JOB
    sw s1, H_STATUS(s0)
    li sp, STACK_TOP
    addi sp, sp, -16
    la t0, console                      /* handle = open(":tt", "w") */
    sw t0, 0(sp)
    li t0, 4
    sw t0, 4(sp)
    li t0, 3
    sw t0, 8(sp)
    li a0, SYS_OPEN
    mv a1, sp
    call semihost
    sw a0, 0(sp)                        /* write(handle, JOB, job length) */
    sw s0, 4(sp)
    lw t0, H_LENGTH(s0)
    sw t0, 8(sp)
    li a0, SYS_WRITE
    mv a1, sp
    call semihost
    li a1, 0x20026                      /* exit: 0 (ApplicationExit) when every call returned */
    li t0, STATUS_DONE
    beq s1, t0, 4f
    li a1, 0x20023                      /* else 1 (RunTimeErrorUnknown) */
4:  li a0, SYS_EXIT
    call semihost
5:  j 5b

    .option push
    .option norvc
    .balign 16
semihost:                               /* the semihosting trap sequence */
    slli zero, zero, 0x1f
    ebreak
    srai zero, zero, 7
    ret
    .option pop

identity:                               /* mp_convert_*: the value itself */
    ret
floor_divide:                           /* mp_small_int_floor_divide (py/smallint.c) */
    bgez a0, 1f
    bltz a1, 3f
    sub a0, a0, a1                      /* num < 0, denom >= 0: num += -denom + 1 */
    addi a0, a0, 1
    j 3f
1:  bgez a1, 3f
    sub a0, a0, a1                      /* num >= 0, denom < 0: num += -denom - 1 */
    addi a0, a0, -1
3:  div a0, a0, a1
    ret
modulo:                                 /* mp_small_int_modulo (py/smallint.c) */
    rem a0, a0, a1
    beqz a0, 2f
    xor t0, a0, a1                      /* signs differ: add the divisor */
    bgez t0, 2f
    add a0, a0, a1
2:  ret
    .option push
    .option norvc
null2:                                  /* 2 instructions */
    nop
    ret
null10:                                 /* 10 instructions */
    .rept 9
    nop
    .endr
    ret
    .option pop
console:
    .asciz ":tt"

    .org TRAPS - RAM
    .rept FUNTAB_ENTRIES                /* trap stub i, at TRAPS + 16 i */
    .balign TRAP_SIZE
    auipc a0, 0
    j unknown_entry
    .endr
