/*
 * Exception handling of the test kernel: expected faults in kernel tests are
 * recorded and skipped, faults in user mode end the process, the benchmark's
 * demand page is mapped on first touch, anything else stops the run.  Also
 * the timer tick and FPU set-up.
 */
#include <stdio.h>
#include <string.h>
#include <lily/cpu.h>
#include <lily/debugexit.h>
#include <lily/paging.h>
#include <lily/pic.h>
#include <lily/pit.h>
#include "kernel.h"

volatile struct fault_record fault;
volatile uint32_t fault_resume, fault_insn;
static uint32_t demand_va, demand_pa;

void fault_reset(void)
{
    memset((void *)&fault, 0, sizeof fault);
    fault.vector = 0xffffffffu;
}

void exc_set_demand_page(uint32_t va, uint32_t pa)
{
    demand_va = va;
    demand_pa = pa;
}

static void exc_fatal(struct trap_frame *f)
{
    printf("\nBail out! unexpected exception %u error %#x at %04x:%08x eflags %08x cr2 %08x\n",
           f->vector, f->error, f->cs, f->eip, f->eflags, read_cr2());
    debug_exit(DEBUG_EXIT_FAILURE);
}

static void exc_handler(struct trap_frame *f)
{
    if (trap_from_user(f))
        proc_user_fault(f);
    if (fault_resume) {
        fault.count++;
        fault.vector = f->vector;
        fault.error = f->error;
        fault.eip = f->eip;
        fault.cs = f->cs;
        fault.cr2 = f->vector == VEC_PF ? read_cr2() : 0;
        f->eip = fault_resume;
        fault_resume = 0;
        return;
    }
    if (f->vector == VEC_PF && demand_va && (read_cr2() & PTE_ADDR) == demand_va &&
        !(f->error & PF_P)) {
        page_map(page_current_pd(), demand_va, demand_pa, PTE_W);
        return;
    }
    exc_fatal(f);
}

void exc_init(void)
{
    fault_reset();
    for (unsigned v = 0; v < 32; v++)
        trap_set_handler(v, exc_handler);
}

volatile uint32_t ticks;
volatile uint32_t timer_last_vector;

void timer_irq(struct trap_frame *f)
{
    ticks++;
    timer_last_vector = f->vector;
    pic_eoi(0);
    sched_tick();
}

void timer_init(unsigned hz)
{
    trap_set_handler(VEC_IRQ0, timer_irq);
    pit_set_rate(hz);
    pic_unmask(0);
}

int timer_wait_until(uint32_t target, uint32_t max_halts)
{
    uint32_t flags = read_eflags();

    for (uint32_t n = 0; n < max_halts && (int32_t)(ticks - target) < 0; n++)
        sti_hlt();
    if (!(flags & EFLAGS_IF))
        cli();
    return (int32_t)(ticks - target) >= 0;
}

int cpu_has_fxsr, cpu_has_sse;

void fpu_init(void)
{
    struct cpuid_regs r = cpuid(1, 0);
    uint32_t cr0 = read_cr0();

    cpu_has_fxsr = !!(r.edx & CPUID_1_EDX_FXSR);
    cpu_has_sse = cpu_has_fxsr && (r.edx & CPUID_1_EDX_SSE);
    /* x87 present, native error reporting, never trap on use (eager switching). */
    write_cr0((cr0 & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
    if (cpu_has_fxsr)
        write_cr4(read_cr4() | CR4_OSFXSR | (cpu_has_sse ? CR4_OSXMMEXCPT : 0));
    __asm__ volatile("fninit");
}
