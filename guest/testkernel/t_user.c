/* User-mode tests: processes, system calls, address spaces, preemption, protection. */
#include <lily/cpu.h>
#include <lily/desc.h>
#include <lily/paging.h>
#include "kernel.h"
#include "tap.h"

static struct proc *spawn_checked(user_entry_fn fn, uint32_t arg)
{
    struct proc *p = proc_spawn(fn, arg);

    CHECK(p != NULL);
    return p;
}

void t_user_exit(void)
{
    struct proc *p = spawn_checked(user_exit_arg, 42);

    if (!p)
        return;
    proc_wait_all();
    CHECK_EQ(p->killed, 0);
    CHECK_EQ(p->exit_code, 42);
    proc_reap(p);
}

void t_user_syscall(void)
{
    struct proc *p = spawn_checked(user_syscalls, 5);

    if (!p)
        return;
    proc_wait_all();
    struct user_data *d = proc_data(p);
    CHECK_EQ(p->killed, 0);
    CHECK_EQ(p->exit_code, 0);
    CHECK_EQ(d->word[0], 1005);          /* add */
    CHECK_EQ(d->word[1], (uint32_t)p->pid); /* getpid */
    CHECK_EQ(d->word[2], 0);             /* yield */
    CHECK_EQ(d->word[3], 0);             /* null */
    CHECK_EQ(d->word[4], 0xffffffffu);   /* unknown call */
    proc_reap(p);
}

/* Three processes write different values at the same virtual address. */
void t_user_address_spaces(void)
{
    struct proc *p[3];

    for (int i = 0; i < 3; i++)
        p[i] = spawn_checked(user_own_space, 0x1111u * (uint32_t)(i + 1));
    proc_wait_all();
    for (int i = 0; i < 3; i++) {
        if (!p[i])
            continue;
        CHECK_EQ(p[i]->killed, 0);
        CHECK_EQ(p[i]->exit_code, 0);
        CHECK_EQ(proc_data(p[i])->word[0], 0x1111u * (uint32_t)(i + 1));
        for (int j = 0; j < i; j++)
            if (p[j])
                CHECK_NE(p[i]->pd_phys, p[j]->pd_phys);
    }
    for (int i = 0; i < 3; i++)
        proc_reap(p[i]);
}

/* Processes that never enter the kernel still all make progress. */
void t_user_preemption(void)
{
    struct proc *p[3];
    uint32_t first[3], second[3];

    if (!need_timer())
        return;
    for (int i = 0; i < 3; i++)
        p[i] = spawn_checked(user_count_forever, 0);
    if (!p[0] || !p[1] || !p[2])
        goto out_kill;
    uint32_t t0 = timer_ticks;
    proc_sleep(20);
    for (int i = 0; i < 3; i++)
        first[i] = proc_data(p[i])->counter;
    proc_sleep(20);
    for (int i = 0; i < 3; i++)
        second[i] = proc_data(p[i])->counter;
    CHECK(timer_ticks - t0 >= 40);
    for (int i = 0; i < 3; i++) {
        CHECK_GT(first[i], 0);
        CHECK_GT(second[i], first[i]);
    }
    CHECK_EQ(proc_alive(), 3);
out_kill:
    for (int i = 0; i < 3; i++)
        if (p[i]) {
            proc_kill(p[i]);
            proc_reap(p[i]);
        }
}

void t_user_supervisor_page(void)
{
    static volatile uint32_t kernel_word = 0x600df00d;
    uint32_t addr = (uint32_t)(uintptr_t)&kernel_word;
    struct proc *p;

    p = spawn_checked(user_read, addr);
    if (p) {
        proc_wait_all();
        CHECK_EQ(p->killed, 1);
        CHECK_EQ(p->fault_vector, VEC_PF);
        CHECK_EQ(p->fault_cr2, addr);
        CHECK_EQ(p->fault_error, PF_P | PF_U);
        proc_reap(p);
    }
    p = spawn_checked(user_write, addr);
    if (p) {
        proc_wait_all();
        CHECK_EQ(p->killed, 1);
        CHECK_EQ(p->fault_vector, VEC_PF);
        CHECK_EQ(p->fault_cr2, addr);
        CHECK_EQ(p->fault_error, PF_P | PF_U | PF_W);
        proc_reap(p);
    }
    CHECK_EQ(kernel_word, 0x600df00d);
    /* User code pages are read-only to their users. */
    p = spawn_checked(user_write, USER_CODE_VA);
    if (p) {
        proc_wait_all();
        CHECK_EQ(p->killed, 1);
        CHECK_EQ(p->fault_error, PF_P | PF_U | PF_W);
        proc_reap(p);
    }
}

void t_user_cli(void)
{
    struct proc *p = spawn_checked(user_cli, 0);

    if (!p)
        return;
    proc_wait_all();
    CHECK_EQ(p->killed, 1);
    CHECK_EQ(p->fault_vector, VEC_GP);
    CHECK_EQ(p->fault_error, 0);
    CHECK_EQ(user_code_byte(p->fault_eip), 0xfa); /* cli */
    proc_reap(p);
    /* The kernel's own interrupt flag is untouched: the timer still ticks. */
    if (timer_works)
        CHECK(timer_wait_until(timer_ticks + 2, 100000));
}

/* IOPL 0 and no I/O bitmap: port access from user mode is #GP(0). */
void t_user_io_gp(void)
{
    struct proc *p = spawn_checked(user_inb, 0x3ff);

    if (!p)
        return;
    proc_wait_all();
    CHECK_EQ(p->killed, 1);
    CHECK_EQ(p->fault_vector, VEC_GP);
    CHECK_EQ(p->fault_error, 0);
    CHECK_EQ(user_code_byte(p->fault_eip), 0xec); /* inb (%dx), %al */
    proc_reap(p);
}

/* popf at CPL 3 cannot clear IF: the process stays preemptible. */
void t_user_popf_if(void)
{
    if (!need_timer())
        return;
    struct proc *p = spawn_checked(user_popf_if, 0);

    if (!p)
        return;
    proc_sleep(5);
    uint32_t c0 = proc_data(p)->counter;
    proc_sleep(5); /* returns only if the timer still preempts the process */
    CHECK_GT(proc_data(p)->counter, c0);
    CHECK_EQ(proc_data(p)->word[0] & EFLAGS_IF, EFLAGS_IF);
    CHECK_EQ(proc_data(p)->word[1] & EFLAGS_IF, EFLAGS_IF);
    proc_kill(p);
    proc_reap(p);
}

/* A user access to an unmapped page: #PF with the not-present error code. */
void t_user_not_present(void)
{
    const uint32_t addr = 0x0badc0de;
    struct proc *p = spawn_checked(user_write, addr);

    if (!p)
        return;
    proc_wait_all();
    CHECK_EQ(p->killed, 1);
    CHECK_EQ(p->fault_vector, VEC_PF);
    CHECK_EQ(p->fault_cr2, addr);
    CHECK_EQ(p->fault_error, PF_U | PF_W);
    proc_reap(p);
}

/* User #PF on a not-present page, resolved by the kernel, then retried. */
void t_user_demand_paging(void)
{
    struct proc *p = spawn_checked(user_touch_pages, 4);

    if (!p)
        return;
    proc_wait_all();
    CHECK_EQ(p->killed, 0);
    CHECK_EQ(p->exit_code, 0);
    CHECK_EQ(p->demand_faults, 4); /* one per page: the retry does not fault */
    proc_reap(p);
}

void t_user_fpu_sse(void)
{
    if (!need_timer())
        return;
    uint32_t sse = fpu_has_sse ? USER_FPU_SSE : 0;
    struct proc *a = spawn_checked(user_fpu, 1 | sse);
    struct proc *b = spawn_checked(user_fpu, 2 | sse);

    if (!sse)
        tap_diag("no SSE: x87 state only");
    proc_wait_all();
    if (a) {
        CHECK_EQ(a->killed, 0);
        CHECK_EQ(a->exit_code, 0);
        CHECK_GT(proc_data(a)->counter, 0);
        proc_reap(a);
    }
    if (b) {
        CHECK_EQ(b->killed, 0);
        CHECK_EQ(b->exit_code, 0);
        proc_reap(b);
    }
}

/* Ring 3 calls ring 0 through a DPL 3 call gate: stack switch, two parameters. */
void t_user_call_gate(void)
{
    uint32_t calls = gate_calls;

    gdt[SEL_GATE >> 3] = tk_gate_desc(SEL_KCODE, (uint32_t)(uintptr_t)gate_sum, 0xec, 2);
    struct proc *p = spawn_checked(user_call_gate, 40);

    if (p) {
        proc_wait_all();
        CHECK_EQ(p->killed, 0);
        CHECK_EQ(p->exit_code, 42);
        CHECK_EQ(gate_calls, calls + 1);
        proc_reap(p);
    }
    gdt[SEL_GATE >> 3] = 0;
}
