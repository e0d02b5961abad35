/* Exception tests: each vector arrives with the right frame, error code and CR2. */
#include <lily/cpu.h>
#include <lily/desc.h>
#include "kernel.h"
#include "tap.h"

void t_exc_de(void)
{
    volatile uint32_t zero = 0;
    uint32_t lo = 1, hi = 0;

    fault_reset();
    FAULT_TRY("divl %2", : "+a"(lo), "+d"(hi) : "r"(zero));
    CHECK_EQ(fault_last.count, 1);
    CHECK_EQ(fault_last.vector, VEC_DE);
    CHECK_EQ(fault_last.eip, fault_insn); /* a fault: the divide itself */
    CHECK_EQ(fault_last.cs, SEL_KCODE);
}

void t_exc_ud(void)
{
    fault_reset();
    FAULT_TRY("ud2", : : );
    CHECK_EQ(fault_last.count, 1);
    CHECK_EQ(fault_last.vector, VEC_UD);
    CHECK_EQ(fault_last.eip, fault_insn);
}

void t_exc_bp(void)
{
    fault_reset();
    FAULT_TRY("int3", : : );
    CHECK_EQ(fault_last.count, 1);
    CHECK_EQ(fault_last.vector, VEC_BP);
    CHECK_EQ(fault_last.eip, fault_insn + 1); /* a trap: the next instruction */
}

/* Run one user program to its end and hand back its process (reap it after). */
static struct proc *run_user(user_entry_fn fn, uint32_t arg)
{
    struct proc *p = proc_spawn(fn, arg);

    CHECK(p != NULL);
    if (p)
        proc_wait_all();
    return p;
}

void t_exc_gp_user(void)
{
    struct proc *p = run_user(user_hlt, 0);

    if (!p)
        return;
    CHECK_EQ(p->killed, 1);
    CHECK_EQ(p->fault_vector, VEC_GP);
    CHECK_EQ(p->fault_error, 0);
    CHECK_EQ(user_code_byte(p->fault_eip), 0xf4); /* hlt */
    proc_reap(p);
}

void t_exc_pf_read(void)
{
    const uint32_t addr = 0x20000123;
    uint32_t v = 0;

    fault_reset();
    FAULT_TRY("movl (%1), %0", : "=r"(v) : "r"(addr));
    CHECK_EQ(fault_last.count, 1);
    CHECK_EQ(fault_last.vector, VEC_PF);
    CHECK_EQ(fault_last.cr2, addr);
    CHECK_EQ(fault_last.error, 0); /* not present, read, supervisor */
    CHECK_EQ(fault_last.eip, fault_insn);
}

void t_exc_pf_write(void)
{
    const uint32_t addr = 0x20001ffe;

    fault_reset();
    FAULT_TRY("movl $1, (%0)", : : "r"(addr));
    CHECK_EQ(fault_last.vector, VEC_PF);
    CHECK_EQ(fault_last.cr2, addr);
    CHECK_EQ(fault_last.error, PF_W);
}

void t_exc_int_dpl3(void)
{
    struct proc *p = run_user(user_int_dpl3, 0x1234);

    if (!p)
        return;
    CHECK_EQ(p->killed, 0);
    CHECK_EQ(p->exit_code, 0x1234 ^ INT_DPL3_MAGIC);
    /* The CPU switched to the process's kernel stack (TSS esp0) and pushed
     * the user SS:ESP; a trap gate left IF set. */
    CHECK_EQ(int_dpl3_seen.frame_end, int_dpl3_seen.esp0);
    CHECK_EQ(int_dpl3_seen.cs, SEL_UCODE);
    CHECK_EQ(int_dpl3_seen.ss, SEL_UDATA);
    CHECK(int_dpl3_seen.user_esp > USER_STACK_TOP - USER_STACK_PAGES * 4096 &&
          int_dpl3_seen.user_esp <= USER_STACK_TOP);
    CHECK_EQ(int_dpl3_seen.eflags & EFLAGS_IF, EFLAGS_IF);
    proc_reap(p);
}

void t_exc_int_dpl0(void)
{
    struct proc *p = run_user(user_int_dpl0, 0);

    if (!p)
        return;
    CHECK_EQ(p->killed, 1);
    CHECK_EQ(p->fault_vector, VEC_GP);
    CHECK_EQ(p->fault_error, INT_DPL0_VECTOR * 8 + 2); /* IDT entry, IDT flag set */
    CHECK_EQ(user_code_byte(p->fault_eip), 0xcd);     /* int imm8 */
    proc_reap(p);
}
