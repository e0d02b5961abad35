/*
 * User processes of the test kernel: each has its own page directory (the
 * kernel's upper quarter shared), a private data page and stack, and the
 * shared read-only user code.  Round-robin scheduling on every timer tick
 * and on yield; FPU/SSE state is switched eagerly.  The kernel thread
 * (procs[0]) runs the tests and waits while user processes work.
 */
#include <string.h>
#include <lily/context.h>
#include <lily/cpu.h>
#include <lily/desc.h>
#include <lily/paging.h>
#include "kernel.h"

extern char __user_start[], __user_end[], __user_phys[];

static struct proc procs[PROC_MAX];
struct proc *proc_current;
static int next_pid = 1;
static uint32_t users_alive;
static int kernel_waits_children;
static uint32_t kernel_wake_tick;
static uint8_t fx_initial[512] __attribute__((aligned(16)));

static uint32_t proc_map_new(uint32_t *pd, uint32_t va);

static void fpu_save(uint8_t *area)
{
    if (fpu_has_fxsr)
        __asm__ volatile("fxsave (%0)" : : "r"(area) : "memory");
    else
        __asm__ volatile("fnsave (%0)" : : "r"(area) : "memory");
}

static void fpu_restore(const uint8_t *area)
{
    if (fpu_has_fxsr)
        __asm__ volatile("fxrstor (%0)" : : "r"(area) : "memory");
    else
        __asm__ volatile("frstor (%0)" : : "r"(area) : "memory");
}

static int proc_runnable(const struct proc *p)
{
    if (p->state != PROC_READY)
        return 0;
    if (!p->is_kernel)
        return 1;
    if (kernel_waits_children && users_alive)
        return 0;
    if (kernel_wake_tick && (int32_t)(timer_ticks - kernel_wake_tick) < 0)
        return 0;
    return 1;
}

/* Switch to the next runnable process; called with interrupts disabled. */
static void sched_switch(void)
{
    struct proc *prev = proc_current, *next = NULL;
    unsigned cur = (unsigned)(prev - procs);

    for (unsigned i = 1; i <= PROC_MAX && !next; i++) {
        struct proc *p = &procs[(cur + i) % PROC_MAX];
        if (proc_runnable(p))
            next = p;
    }
    if (!next)
        next = &procs[0]; /* nothing to run: the kernel thread idles */
    if (next == prev)
        return;
    fpu_save(prev->fx);
    fpu_restore(next->fx);
    if ((read_cr3() & PTE_ADDR) != next->pd_phys)
        write_cr3(next->pd_phys);
    tss_set_esp0((uint32_t)(uintptr_t)next->kstack + PROC_KSTACK);
    proc_current = next;
    ctx_switch(&prev->kesp, next->kesp);
}

void sched_tick(void)
{
    if (users_alive)
        sched_switch();
}

static void syscall_handler(struct trap_frame *f)
{
    struct proc *p = proc_current;

    switch (f->eax) {
    case SYS_EXIT:
        p->exit_code = f->ebx;
        p->state = PROC_ZOMBIE;
        users_alive--;
        sched_switch();
        break; /* not reached: a zombie is never picked again */
    case SYS_GETPID:
        f->eax = (uint32_t)p->pid;
        break;
    case SYS_YIELD:
        sched_switch();
        f->eax = 0;
        break;
    case SYS_ADD:
        f->eax = f->ebx + f->ecx;
        break;
    case SYS_TICKS:
        f->eax = timer_ticks;
        break;
    case SYS_NULL:
        f->eax = 0;
        break;
    default:
        f->eax = 0xffffffffu;
        break;
    }
}

struct int_dpl3_record int_dpl3_seen;

/*
 * int $0x81: a gate user mode may use; answers with a value derived from eax
 * and records where the CPU put the frame (the TSS's esp0) and what was in it.
 */
static void int_dpl3_handler(struct trap_frame *f)
{
    int_dpl3_seen.frame_end = (uint32_t)(uintptr_t)(f + 1);
    int_dpl3_seen.esp0 = tss.esp0;
    int_dpl3_seen.cs = f->cs;
    int_dpl3_seen.ss = f->user_ss;
    int_dpl3_seen.user_esp = f->user_esp;
    int_dpl3_seen.eflags = read_eflags();
    f->eax = trap_from_user(f) ? (f->eax ^ INT_DPL3_MAGIC) : 0;
}

int proc_demand_fault(uint32_t error, uint32_t cr2)
{
    struct proc *p = proc_current;

    if ((error & PF_P) || cr2 < USER_DEMAND_VA || cr2 - USER_DEMAND_VA >= USER_DEMAND_SIZE)
        return 0;
    uint32_t va = cr2 & PTE_ADDR;
    if (!proc_map_new(P2V(p->pd_phys), va))
        return 0; /* out of memory: the process dies of its fault */
    p->demand_faults++;
    return 1;
}

void proc_user_fault(struct trap_frame *f)
{
    struct proc *p = proc_current;

    p->killed = 1;
    p->fault_vector = f->vector;
    p->fault_error = f->error;
    p->fault_eip = f->eip;
    p->fault_cr2 = f->vector == VEC_PF ? read_cr2() : 0;
    p->state = PROC_ZOMBIE;
    users_alive--;
    sched_switch();
    for (;;) /* not reached */
        hlt();
}

void proc_init(void)
{
    struct proc *k = &procs[0];

    memset(procs, 0, sizeof procs);
    fpu_save(fx_initial); /* fnsave also re-initialises: harmless here */
    fpu_restore(fx_initial);
    k->state = PROC_READY;
    k->is_kernel = 1;
    k->pid = 0;
    k->pd_phys = V2P(boot_pd);
    proc_current = k;
    trap_set_handler(SYSCALL_VECTOR, syscall_handler);
    idt_set_gate(SYSCALL_VECTOR, idt_stub(SYSCALL_VECTOR), GATE_INTR, 3);
    trap_set_handler(INT_DPL3_VECTOR, int_dpl3_handler);
    idt_set_gate(INT_DPL3_VECTOR, idt_stub(INT_DPL3_VECTOR), GATE_TRAP, 3);
    trap_set_handler(INT_DPL0_VECTOR, int_dpl3_handler); /* only reachable from CPL 0 */
}

struct user_data *proc_data(struct proc *p)
{
    return P2V(p->data_phys);
}

uint32_t proc_alive(void)
{
    return users_alive;
}

uint8_t user_code_byte(uint32_t va)
{
    uint32_t start = (uint32_t)(uintptr_t)__user_start, end = (uint32_t)(uintptr_t)__user_end;

    if (va < start || va >= end)
        return 0;
    return *(uint8_t *)P2V((uint32_t)(uintptr_t)__user_phys + (va - start));
}

/* Map a fresh private page; it is freed with the address space. */
static uint32_t proc_map_new(uint32_t *pd, uint32_t va)
{
    uint32_t pa = page_alloc();

    if (!pa || page_map(pd, va, pa, PTE_U | PTE_W | PTE_OWNED) < 0) {
        page_free(pa);
        return 0;
    }
    return pa;
}

static void proc_free_space(struct proc *p)
{
    uint32_t *pd = P2V(p->pd_phys);

    for (unsigned i = 0; i < KERNEL_VMA >> 22; i++) {
        if (!(pd[i] & PTE_P))
            continue;
        uint32_t *pt = P2V(pd[i] & PTE_ADDR);
        for (unsigned j = 0; j < 1024; j++)
            if ((pt[j] & PTE_P) && (pt[j] & PTE_OWNED))
                page_free(pt[j] & PTE_ADDR);
        page_free(pd[i] & PTE_ADDR);
    }
    page_free(p->pd_phys);
    p->pd_phys = 0;
}

struct proc *proc_spawn(user_entry_fn entry, uint32_t arg)
{
    struct proc *p = NULL;

    for (unsigned i = 1; i < PROC_MAX && !p; i++)
        if (procs[i].state == PROC_FREE)
            p = &procs[i];
    if (!p)
        return NULL;
    memset(p, 0, sizeof *p);

    p->pd_phys = page_alloc();
    if (!p->pd_phys)
        return NULL;
    uint32_t *pd = P2V(p->pd_phys);
    memcpy(&pd[KERNEL_VMA >> 22], &boot_pd[KERNEL_VMA >> 22], 4 * (1024 - (KERNEL_VMA >> 22)));

    /* Shared user code, read-only; a private data page and stack. */
    uint32_t code_pa = (uint32_t)(uintptr_t)__user_phys;
    uint32_t code_len = (uint32_t)(__user_end - __user_start);
    for (uint32_t off = 0; off < code_len; off += PAGE_SIZE)
        if (page_map(pd, USER_CODE_VA + off, code_pa + off, PTE_U) < 0)
            goto out_free_space;
    p->data_phys = proc_map_new(pd, USER_DATA_VA);
    if (!p->data_phys)
        goto out_free_space;
    uint32_t stack_pa = 0;
    for (uint32_t i = 1; i <= USER_STACK_PAGES; i++) {
        stack_pa = proc_map_new(pd, USER_STACK_TOP - i * PAGE_SIZE);
        if (!stack_pa)
            goto out_free_space;
        if (i == 1) {
            /* user_start(entry, arg) with a null return address. */
            uint32_t *top = (uint32_t *)((uint8_t *)P2V(stack_pa) + PAGE_SIZE);
            top[-1] = arg;
            top[-2] = (uint32_t)(uintptr_t)entry;
            top[-3] = 0;
        }
    }

    /* A kernel stack that "returns from a trap" into user_start. */
    struct trap_frame *tf = (struct trap_frame *)(p->kstack + PROC_KSTACK) - 1;
    memset(tf, 0, sizeof *tf);
    tf->eip = (uint32_t)(uintptr_t)user_start;
    tf->cs = SEL_UCODE;
    tf->eflags = EFLAGS_RSVD1 | EFLAGS_IF;
    tf->user_esp = USER_STACK_TOP - 12;
    tf->user_ss = SEL_UDATA;
    struct ctx_frame *cf = (struct ctx_frame *)tf - 1;
    memset(cf, 0, sizeof *cf);
    cf->ret = (uint32_t)(uintptr_t)trap_return;
    p->kesp = (uint32_t)(uintptr_t)cf;

    memcpy(p->fx, fx_initial, sizeof p->fx);
    p->pid = next_pid++;
    uint32_t flags = irq_save();
    p->state = PROC_READY;
    users_alive++;
    irq_restore(flags);
    return p;

out_free_space:
    proc_free_space(p);
    return NULL;
}

void proc_wait_all(void)
{
    uint32_t flags = irq_save();

    kernel_waits_children = 1;
    while (users_alive) {
        sched_switch();
        if (users_alive) {
            sti_hlt(); /* nothing runnable yet: wait for an interrupt */
            cli();
        }
    }
    kernel_waits_children = 0;
    irq_restore(flags);
}

void proc_sleep(uint32_t n)
{
    uint32_t flags = irq_save();

    kernel_wake_tick = timer_ticks + n;
    if (!kernel_wake_tick)
        kernel_wake_tick = 1;
    while ((int32_t)(timer_ticks - kernel_wake_tick) < 0) {
        sched_switch();
        if ((int32_t)(timer_ticks - kernel_wake_tick) < 0) {
            sti_hlt();
            cli();
        }
    }
    kernel_wake_tick = 0;
    irq_restore(flags);
}

void proc_kill(struct proc *p)
{
    uint32_t flags = irq_save();

    if (p->state == PROC_READY && !p->is_kernel) {
        p->state = PROC_ZOMBIE;
        users_alive--;
    }
    irq_restore(flags);
}

void proc_reap(struct proc *p)
{
    if (!p || p->is_kernel || p->state != PROC_ZOMBIE)
        return;
    proc_free_space(p);
    p->state = PROC_FREE;
}
