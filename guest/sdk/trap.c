/* Trap dispatch: one handler per vector, a loud default for the rest. */
#include <stdio.h>
#include <lily/cpu.h>
#include <lily/debugexit.h>
#include <lily/trap.h>

static trap_handler_fn handlers[TRAP_VECTORS];

static const char *const exception_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
    "#BR bound", "#UD invalid opcode", "#NM no FPU", "#DF double fault",
    "coprocessor overrun", "#TS invalid TSS", "#NP not present", "#SS stack",
    "#GP general protection", "#PF page fault", "reserved", "#MF x87",
    "#AC alignment", "#MC machine check", "#XM SIMD", "#VE", "#CP",
};

void trap_set_handler(unsigned vector, trap_handler_fn fn)
{
    handlers[vector & 0xff] = fn;
}

/* An unexpected trap is a bug in the kernel: say everything and stop the VM. */
static void trap_unhandled(struct trap_frame *f)
{
    const char *name = f->vector < 32 && exception_names[f->vector] ? exception_names[f->vector]
                                                                   : "interrupt";

    printf("\nBail out! unexpected trap %u (%s) error %#x at %04x:%08x eflags %08x cr2 %08x\n",
           f->vector, name, f->error, f->cs, f->eip, f->eflags, read_cr2());
    printf("# eax %08x ebx %08x ecx %08x edx %08x esi %08x edi %08x ebp %08x\n", f->eax,
           f->ebx, f->ecx, f->edx, f->esi, f->edi, f->ebp);
    debug_exit(DEBUG_EXIT_FAILURE);
}

void trap_dispatch(struct trap_frame *f)
{
    trap_handler_fn fn = handlers[f->vector & 0xff];

    if (fn)
        fn(f);
    else
        trap_unhandled(f);
}
