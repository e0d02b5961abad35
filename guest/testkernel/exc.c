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
#include "tap.h"

volatile struct fault_record fault_last;
volatile uint32_t fault_resume, fault_insn;
static uint32_t demand_va, demand_pa;

void fault_reset(void)
{
    memset((void *)&fault_last, 0, sizeof fault_last);
    fault_last.vector = 0xffffffffu;
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
    if (trap_from_user(f)) {
        if (f->vector == VEC_PF && proc_demand_fault(f->error, read_cr2()))
            return; /* mapped: the instruction runs again */
        proc_user_fault(f);
    }
    if (fault_resume) {
        fault_last.count++;
        fault_last.vector = f->vector;
        fault_last.error = f->error;
        fault_last.eip = f->eip;
        fault_last.cs = f->cs;
        fault_last.cr2 = f->vector == VEC_PF ? read_cr2() : 0;
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

volatile uint32_t timer_ticks;
volatile uint32_t timer_last_vector;

void timer_irq(struct trap_frame *f)
{
    timer_ticks++;
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

    for (uint32_t n = 0; n < max_halts && (int32_t)(timer_ticks - target) < 0; n++)
        sti_hlt();
    if (!(flags & EFLAGS_IF))
        cli();
    return (int32_t)(timer_ticks - target) >= 0;
}

int timer_works;

void timer_probe(void)
{
    uint32_t t0 = timer_ticks;

    for (uint32_t i = 0; i < 50000000u && timer_ticks == t0; i++)
        __asm__ volatile("pause");
    timer_works = timer_ticks != t0;
}

int need_timer(void)
{
    if (!timer_works)
        tap_skip("no timer interrupt arrived at boot (PIT or PIC missing)");
    return timer_works;
}

int fpu_has_fxsr, fpu_has_sse;

void fpu_init(void)
{
    struct cpuid_regs r = cpuid(1, 0);
    uint32_t cr0 = read_cr0();

    fpu_has_fxsr = !!(r.edx & CPUID_1_EDX_FXSR);
    fpu_has_sse = fpu_has_fxsr && (r.edx & CPUID_1_EDX_SSE);
    /* x87 present, native error reporting, never trap on use (eager switching). */
    write_cr0((cr0 & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
    if (fpu_has_fxsr)
        write_cr4(read_cr4() | CR4_OSFXSR | (fpu_has_sse ? CR4_OSXMMEXCPT : 0));
    __asm__ volatile("fninit");
}
