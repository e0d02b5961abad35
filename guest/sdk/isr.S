/*
 * Exception and interrupt entry stubs: one 16-byte stub per vector pushes a
 * zero error code where the CPU pushes none, then the vector, and joins the
 * common path that saves the general registers and calls trap_dispatch().
 * Data segment registers are not touched: the SDK keeps the flat user data
 * selector in DS/ES at every privilege level (see desc_init()).
 */
    .text
    .p2align 4
    .globl isr_stubs
isr_stubs:
    .set vec, 0
    .rept 256
    .p2align 4
    .if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    pushl $vec
    .else
    pushl $0
    pushl $vec
    .endif
    jmp isr_common
    .set vec, vec + 1
    .endr

isr_common:
    cld
    pushal
    pushl %esp
    call trap_dispatch
    addl $4, %esp
    .globl trap_return
trap_return:
    popal
    addl $8, %esp                   /* vector and error code */
    iretl

/*
 * Where the LilyVM rewrite vectors point (see idt_init()): `int $vv` leaves
 * EIP at the original instruction that follows it, so returning runs that
 * instruction natively, which is right wherever the kernel really is at
 * CPL 0 (QEMU, hardware).  Under LilyVM the VM handles these vectors itself.
 */
    .globl rewrite_resume, trap_iret_only
rewrite_resume:
trap_iret_only:
    iretl

    .section .note.GNU-stack, "", @progbits
