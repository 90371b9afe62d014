/* Bare-metal driver for qemu-system-xtensa -M sim -cpu sample_controller.
 *
 * Fills a MicroPython fun table (stubs below), then makes every call of the job
 * at JOB (layout in tools/machine_code/qemu_run.py) with the windowed ABI, a10 = function
 * object, a11 = n_args, a12 = n_kw, a13 = args, and stores the returned a10 and
 * the CCOUNT difference. Writes the job back to the semihosting console, exits.
 * The layout symbols (RAM, JOB, FUNTAB, ...) come from the assembler command line.
 *
 * This assembler targets the ESP8266 core, which lacks the windowed and divide
 * instructions: those are written as bytes (see the macros).
 */
    .macro ENTRY_A1_32                  /* entry a1, 32 */
    .byte 0x36, 0x41, 0x00
    .endm
    .macro RETW_N                       /* retw.n */
    .byte 0x1d, 0xf0
    .endm
    .macro CALLX8_A8                    /* callx8 a8 */
    .byte 0xe0, 0x08, 0x00
    .endm
    .macro QUOS_A2_A2_A3                /* quos a2, a2, a3 */
    .byte 0x30, 0x22, 0xd2
    .endm
    .macro REMS_A2_A2_A3                /* rems a2, a2, a3 */
    .byte 0x30, 0x22, 0xf2
    .endm
    .macro WSR reg, sr                  /* wsr \reg, \sr */
    .byte (\reg << 4), \sr, 0x13
    .endm
    .macro RSR reg, sr                  /* rsr \reg, \sr */
    .byte (\reg << 4), \sr, 0x03
    .endm
    .macro SIMCALL
    .byte 0x00, 0x51, 0x00
    .endm
    .set WINDOWBASE, 72
    .set WINDOWSTART, 73
    .set PS, 230
    .set VECBASE, 231
    .set EXCCAUSE, 232
    .set CCOUNT, 234
    .set EPC1, 177

    .text
    .global _start
vectors:                                /* VECBASE: every vector slides to the handler */
    .rept 0x3f0
    .byte 0x3d, 0xf0                    /* nop.n */
    .endr
    j exception

    .org START - RAM
_start:
    j main
    .literal_position
    .align 4
main:
    movi a2, RAM
    WSR 2, VECBASE
    movi a2, 1
    WSR 2, WINDOWSTART
    movi a2, 0
    WSR 2, WINDOWBASE
    movi a2, 0x40020                    /* PS.WOE, PS.UM, INTLEVEL 0 */
    WSR 2, PS
    rsync
    movi a1, STACK_TOP

    movi a3, FUNTAB                     /* every entry traps, then the known ones */
    movi a4, TRAPS
    movi a5, FUNTAB_ENTRIES
1:  s32i a4, a3, 0
    addi a3, a3, 4
    addi a4, a4, TRAP_SIZE
    addi a5, a5, -1
    bnez a5, 1b
    movi a3, FUNTAB
    movi a4, CONSTS                     /* None, False, True: three marker words */
    s32i a4, a3, 0
    addi a4, a4, 4
    s32i a4, a3, 4
    addi a4, a4, 4
    s32i a4, a3, 8
    movi a4, identity
    s32i a4, a3, 12                     /* convert object to native */
    s32i a4, a3, 16                     /* convert native to object */
    movi a4, floor_divide
    s32i a4, a3, 46 * 4
    movi a4, modulo
    s32i a4, a3, 47 * 4

    movi a2, JOB                        /* calibration: two calls of known length */
    movi a8, null2
    RSR 6, CCOUNT
    CALLX8_A8
    RSR 7, CCOUNT
    sub a7, a7, a6
    s32i a7, a2, H_NULL2
    movi a8, null10
    RSR 6, CCOUNT
    CALLX8_A8
    RSR 7, CCOUNT
    sub a7, a7, a6
    s32i a7, a2, H_NULL10

    l32i a3, a2, H_NCALLS
    l32i a4, a2, H_CALLS
2:  beqz a3, 3f
    s32i a4, a2, H_CURRENT
    l32i a10, a4, C_FUN
    l32i a11, a4, C_NARGS
    movi a12, 0
    l32i a13, a4, C_ARGS
    l32i a8, a4, C_CODE
    RSR 6, CCOUNT
    CALLX8_A8
    RSR 7, CCOUNT
    s32i a10, a4, C_RET
    sub a7, a7, a6
    s32i a7, a4, C_COUNT
    addi a4, a4, C_SIZE
    addi a3, a3, -1
    j 2b
3:  movi a3, STATUS_DONE
    j finish

exception:                              /* a3 = status, a4 = detail, a5 = address */
    movi a3, STATUS_EXCEPTION
    RSR 4, EXCCAUSE
    RSR 5, EPC1
    j report
unknown_entry:                          /* a2 = fun-table index, from the trap stub */
    mov a4, a2
    movi a3, STATUS_UNKNOWN_ENTRY
    mov a5, a0
report:
    movi a2, JOB
    s32i a4, a2, H_DETAIL
    s32i a5, a2, H_ADDRESS
finish:
    movi a2, JOB
    s32i a3, a2, H_STATUS
    mov a6, a3
    movi a4, JOB                        /* write(1, JOB, job length) */
    l32i a5, a4, H_LENGTH
    movi a2, 4
    movi a3, 1
    SIMCALL
    movi a3, 0                          /* exit(0 when every call returned) */
    movi a4, STATUS_DONE
    beq a6, a4, 4f
    movi a3, 1
4:  movi a2, 1
    SIMCALL
5:  j 5b

    .align 4
identity:                               /* mp_convert_*: the value itself */
    ENTRY_A1_32
    RETW_N
    .align 4
floor_divide:                           /* mp_small_int_floor_divide (py/smallint.c) */
    ENTRY_A1_32
    bgez a2, 1f
    bltz a3, 3f
    sub a2, a2, a3                      /* num < 0, denom >= 0: num += -denom + 1 */
    addi a2, a2, 1
    j 3f
1:  bgez a3, 3f
    sub a2, a2, a3                      /* num >= 0, denom < 0: num += -denom - 1 */
    addi a2, a2, -1
3:  QUOS_A2_A2_A3
    RETW_N
    .align 4
modulo:                                 /* mp_small_int_modulo (py/smallint.c) */
    ENTRY_A1_32
    mov a4, a3
    REMS_A2_A2_A3
    beqz a2, 2f
    xor a5, a2, a4                      /* signs differ: add the divisor */
    bgez a5, 2f
    add a2, a2, a4
2:  RETW_N
    .align 4
null2:                                  /* 2 instructions */
    ENTRY_A1_32
    RETW_N
    .align 4
null10:                                 /* 10 instructions */
    ENTRY_A1_32
    .rept 8
    nop.n
    .endr
    RETW_N

    .org TRAPS - RAM
    .set index, 0
    .rept FUNTAB_ENTRIES                /* trap stub i: a2 = i, to unknown_entry */
    .align 4
    ENTRY_A1_32
    movi a2, index
    j unknown_entry
    .set index, index + 1
    .org TRAPS - RAM + index * TRAP_SIZE
    .endr
