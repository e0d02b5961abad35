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

/* A #DF handler task: takes its error code, resumes the faulting task at df_resume. */
static struct tss df_tss __attribute__((aligned(16)));
static uint8_t df_stack[4096] __attribute__((aligned(16)));
volatile uint32_t df_runs, df_error, df_resume;
extern char df_task_entry[];
__asm__(".text\n"
        "df_task_entry:\n"
        "1:\tpopl df_error\n\t"
        "incl df_runs\n\t"
        "movl df_resume, %eax\n\t"
        "movl %eax, tss+0x20\n\t" /* the saved EIP of a #DF is undefined: set it */
        "iret\n\t"
        "jmp 1b\n");

/*
 * #DF through a task gate: a #GP whose gate is not present raises #NP, a
 * second contributory fault, so #DF; its handler runs as a task of its own.
 */
void t_exc_df_task_gate(void)
{
    struct desc_ptr idtr;
    uint32_t flags = irq_save();

    tk_task_setup(&df_tss, (void (*)(void))df_task_entry, df_stack + sizeof df_stack);
    gdt_set_entry(SEL_GATE >> 3, (uint32_t)(uintptr_t)&df_tss, sizeof df_tss - 1,
                  DESC_TSS_AVL, 0);
    sidt(&idtr);
    uint64_t *idt = (uint64_t *)(uintptr_t)idtr.base;
    uint64_t gp = idt[VEC_GP], df = idt[VEC_DF];
    idt[VEC_DF] = tk_gate_desc(SEL_GATE, 0, 0x85, 0);
    idt[VEC_GP] = gp & ~(1ull << 47);
    df_runs = 0;
    df_error = 0xffffffffu;
    __asm__ volatile("movl $1f, df_resume\n\t"
                     "mov %0, %%ss\n" /* SS with RPL 3 at CPL 0: #GP */
                     "1:" : : "r"((uint32_t)SEL_UDATA) : "memory");
    idt[VEC_GP] = gp;
    idt[VEC_DF] = df;
    __asm__ volatile("clts");
    CHECK_EQ(df_runs, 1);
    CHECK_EQ(df_error, 0);
    CHECK_EQ(df_tss.link, SEL_TSS);
    CHECK_EQ(read_tr(), SEL_TSS);
    CHECK_EQ(read_ss(), SEL_KDATA);
    gdt[SEL_GATE >> 3] = 0;
    irq_restore(flags);
}
