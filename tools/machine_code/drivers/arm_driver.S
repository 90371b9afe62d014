/* Bare-metal driver for qemu-system-arm -M mps2-an385 (Cortex-M3) and mps2-an386
 * (Cortex-M4): the armv6m and armv7emsp code of viper functions.
 *
 * The core boots from the vector table at address 0: the first words of this image,
 * which the runner loads there as well as at RAM (the image is linked for RAM).
 * Fills a MicroPython fun table (stubs below), then makes every call of the job at JOB
 * (layout in tools/machine_code/qemu_run.py) as MicroPython calls a native function on
 * Thumb, r0 = function object, r1 = n_args, r2 = n_kw, r3 = args, `blx` to the code
 * with its Thumb bit set; stores the returned r0 and the ticks of the board's CMSDK APB
 * timer 0 (25 MHz, a 32-bit down-counter on QEMU's virtual clock: with -icount a fixed
 * number of ticks per executed instruction). Writes the job back to the semihosting
 * console, exits. The layout symbols (RAM, JOB, FUNTAB, ...) and ALIGNMENT_TRAP come
 * from the assembler command line: with ALIGNMENT_TRAP 1, an unaligned halfword or word
 * access faults, as on the Cortex-M0+ of the RP2040 (CCR.UNALIGN_TRP, which ARMv6-M
 * cores have always set).
 */
    .syntax unified
    .thumb
    .set SYS_OPEN, 0x01
    .set SYS_WRITE, 0x05
    .set SYS_EXIT, 0x18
    .set TIMER, 0x40000000              /* CMSDK APB timer 0: CTRL, VALUE, RELOAD */
    .set CCR, 0xE000ED14                /* configuration and control register */
    .set CFSR, 0xE000ED28               /* configurable fault status register */

    .text
    .global _start
vectors:                                /* initial SP, reset, then every exception */
    .word STACK_TOP
    .word _start
    .rept 14
    .word exception
    .endr

    .org START - RAM
    .thumb_func
_start:
    ldr r0, =STACK_TOP
    mov sp, r0
    .if ALIGNMENT_TRAP
    ldr r0, =CCR
    ldr r1, [r0]
    orr r1, r1, #8                      /* UNALIGN_TRP */
    str r1, [r0]
    .endif
    ldr r5, =TIMER
    mov r0, #-1
    str r0, [r5, #8]                    /* RELOAD */
    str r0, [r5, #4]                    /* VALUE */
    movs r0, #1
    str r0, [r5, #0]                    /* CTRL: enable */

    ldr r0, =FUNTAB                     /* every entry traps, then the known ones */
    ldr r1, =TRAPS + 1
    movs r2, #FUNTAB_ENTRIES
1:  str r1, [r0], #4
    adds r1, r1, #TRAP_SIZE
    subs r2, r2, #1
    bne 1b
    ldr r0, =FUNTAB
    ldr r1, =CONSTS                     /* None, False, True: three marker words */
    str r1, [r0, #0]
    adds r1, r1, #4
    str r1, [r0, #4]
    adds r1, r1, #4
    str r1, [r0, #8]
    ldr r1, =identity
    str r1, [r0, #12]                   /* convert object to native */
    str r1, [r0, #16]                   /* convert native to object */
    ldr r1, =floor_divide
    str r1, [r0, #46 * 4]
    ldr r1, =modulo
    str r1, [r0, #47 * 4]

    ldr r4, =JOB                        /* calibration: two calls of known length */
    ldr r3, =null2
    ldr r6, [r5, #4]
    blx r3
    ldr r0, [r5, #4]
    subs r0, r6, r0                     /* a down-counter: start - end */
    str r0, [r4, #H_NULL2]
    ldr r3, =null10
    ldr r6, [r5, #4]
    blx r3
    ldr r0, [r5, #4]
    subs r0, r6, r0
    str r0, [r4, #H_NULL10]

    ldr r6, [r4, #H_NCALLS]             /* r4 job, r5 timer, r6 calls left, r7 record */
    ldr r7, [r4, #H_CALLS]
2:  cmp r6, #0
    beq 3f
    str r7, [r4, #H_CURRENT]
    ldr r0, [r7, #C_FUN]
    ldr r1, [r7, #C_NARGS]
    movs r2, #0
    ldr r3, [r7, #C_ARGS]
    ldr r12, [r7, #C_CODE]
    orr r12, r12, #1                    /* Thumb */
    ldr r8, [r5, #4]
    blx r12
    ldr r1, [r5, #4]
    str r0, [r7, #C_RET]
    sub r1, r8, r1
    str r1, [r7, #C_COUNT]
    adds r7, r7, #C_SIZE
    subs r6, r6, #1
    b 2b
3:  movs r6, #STATUS_DONE
    b finish

    .thumb_func
exception:                              /* r6 = status, r8 = detail, r9 = address */
    movs r6, #STATUS_EXCEPTION
    ldr r0, =CFSR
    ldr r8, [r0]                        /* the fault's cause bits */
    ldr r9, [sp, #24]                   /* the stacked PC */
    b report
unknown_entry:                          /* r0 = fun-table index, lr = return address */
    mov r8, r0
    movs r6, #STATUS_UNKNOWN_ENTRY
    bic r9, lr, #1
report:
    ldr r4, =JOB
    str r8, [r4, #H_DETAIL]
    str r9, [r4, #H_ADDRESS]
finish:
    ldr r4, =JOB
    str r6, [r4, #H_STATUS]
    ldr r0, =STACK_TOP
    mov sp, r0
    sub sp, sp, #16
    ldr r0, =console                    /* handle = open(":tt", "w") */
    str r0, [sp, #0]
    movs r0, #4
    str r0, [sp, #4]
    movs r0, #3
    str r0, [sp, #8]
    movs r0, #SYS_OPEN
    mov r1, sp
    bkpt 0xab
    str r0, [sp, #0]                    /* write(handle, JOB, job length) */
    str r4, [sp, #4]
    ldr r0, [r4, #H_LENGTH]
    str r0, [sp, #8]
    movs r0, #SYS_WRITE
    mov r1, sp
    bkpt 0xab
    ldr r1, =0x20026                    /* exit: 0 (ApplicationExit) when every call returned */
    cmp r6, #STATUS_DONE
    beq 4f
    ldr r1, =0x20023                    /* else 1 (RunTimeErrorUnknown) */
4:  movs r0, #SYS_EXIT
    bkpt 0xab
5:  b 5b

    .thumb_func
identity:                               /* mp_convert_*: the value itself */
    bx lr
    .thumb_func
floor_divide:                           /* mp_small_int_floor_divide (py/smallint.c) */
    cmp r0, #0
    bge 1f
    cmp r1, #0
    blt 3f
    subs r0, r0, r1                     /* num < 0, denom >= 0: num += -denom + 1 */
    adds r0, r0, #1
    b 3f
1:  cmp r1, #0
    bge 3f
    subs r0, r0, r1                     /* num >= 0, denom < 0: num += -denom - 1 */
    subs r0, r0, #1
3:  sdiv r0, r0, r1
    bx lr
    .thumb_func
modulo:                                 /* mp_small_int_modulo (py/smallint.c) */
    sdiv r2, r0, r1
    mls r0, r2, r1, r0                  /* C's remainder */
    cbz r0, 2f
    eors r2, r0, r1                     /* signs differ: add the divisor */
    bpl 2f
    adds r0, r0, r1
2:  bx lr
    .thumb_func
null2:                                  /* 2 instructions */
    nop
    bx lr
    .thumb_func
null10:                                 /* 10 instructions */
    .rept 9
    nop
    .endr
    bx lr
    .ltorg
console:
    .asciz ":tt"

    .org TRAPS - RAM
    .set index, 0
    .rept FUNTAB_ENTRIES                /* trap stub i: r0 = i, to unknown_entry */
    .balign TRAP_SIZE
    movs r0, #index
    b.w unknown_entry
    .set index, index + 1
    .endr
