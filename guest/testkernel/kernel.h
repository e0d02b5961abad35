/* Shared declarations of the test kernel: trap recovery, timer, processes, tests. */
#ifndef TK_KERNEL_H
#define TK_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <lily/trap.h>
#include "user.h"

#define TIMER_HZ 1000

/* What the last expected exception looked like (see FAULT_TRY). */
struct fault_record {
    uint32_t count;
    uint32_t vector, error, eip, cs, cr2;
};
extern volatile struct fault_record fault_last;
extern volatile uint32_t fault_resume, fault_insn;

/*
 * Run inline assembly that is expected to raise an exception in the kernel:
 * the exception handler records it in `fault_last` and resumes after the
 * instruction(s).  fault_insn holds the address of the first instruction.
 * Call as FAULT_TRY("insn", : outputs : inputs); both lists must be present.
 */
#define FAULT_TRY(insn, ...)                                                       \
    __asm__ volatile("movl $2f, fault_insn\n\t"                                    \
                     "movl $1f, fault_resume\n"                                    \
                     "2:\t" insn "\n"                                              \
                     "1:\tmovl $0, fault_resume" __VA_ARGS__ : "memory", "cc")

/* Forget the last recorded fault. */
void fault_reset(void);
/* Install the exception handlers (vectors 0-31). */
void exc_init(void);
/* The bench mode's demand-paged page: a kernel #PF there maps pa. */
void exc_set_demand_page(uint32_t va, uint32_t pa);

/* PIT-driven tick counter (IRQ 0). */
extern volatile uint32_t timer_ticks;
extern volatile uint32_t timer_last_vector;
void timer_init(unsigned hz);
/* The standard IRQ 0 handler (tests that replace it put this back). */
void timer_irq(struct trap_frame *f);
/* Halt until ticks reaches target or max_halts interrupts passed; 1 if reached. */
int timer_wait_until(uint32_t target, uint32_t max_halts);
/* Whether IRQ 0 arrived after timer_init() (see timer_probe()). */
extern int timer_works;
/* Wait (bounded, without hlt) for the first tick; sets timer_works. */
void timer_probe(void);
/*
 * For tests that need timer interrupts: without them, mark the test skipped
 * and return 0 (so a machine without a PIT or PIC fails nothing by hanging).
 */
int need_timer(void);

/* FPU/SSE state. */
extern int fpu_has_fxsr, fpu_has_sse;
void fpu_init(void);

/* Processes (proc.c). */
#define PROC_MAX 6
#define PROC_KSTACK 8192
enum proc_state { PROC_FREE, PROC_READY, PROC_ZOMBIE };

struct proc {
    uint8_t fx[512] __attribute__((aligned(16))); /* fxsave image (fnsave without FXSR) */
    uint8_t kstack[PROC_KSTACK] __attribute__((aligned(16)));
    enum proc_state state;
    int pid;
    int is_kernel;
    uint32_t kesp;
    uint32_t pd_phys;
    uint32_t data_phys;
    uint32_t exit_code;
    int killed; /* ended by an exception rather than exit() */
    uint32_t fault_vector, fault_error, fault_cr2, fault_eip;
    uint32_t demand_faults; /* pages mapped on demand */
};

extern struct proc *proc_current;
void proc_init(void);
/* A new user process running entry(arg) in its own address space, or NULL. */
struct proc *proc_spawn(user_entry_fn entry, uint32_t arg);
/* Run user processes until none is alive (the kernel thread sleeps meanwhile). */
void proc_wait_all(void);
/* Let user processes run for n timer ticks. */
void proc_sleep(uint32_t n);
/* End a process from the kernel thread. */
void proc_kill(struct proc *p);
/* Give a dead process's memory and slot back. */
void proc_reap(struct proc *p);
struct user_data *proc_data(struct proc *p);
/*
 * A user #PF (error code, CR2) on a not-present page of the demand-paged
 * window (USER_DEMAND_VA): map a fresh page and return 1 so that the
 * instruction is retried; 0 for any other fault.
 */
int proc_demand_fault(uint32_t error, uint32_t cr2);
/* Called by the exception handler for a trap from user mode: kill current. */
void proc_user_fault(struct trap_frame *f) __attribute__((noreturn));
uint32_t proc_alive(void);
/* What the int $0x81 handler saw last. */
struct int_dpl3_record {
    uint32_t frame_end, esp0, cs, ss, user_esp, eflags;
};
extern struct int_dpl3_record int_dpl3_seen;
/* Timer hook: preempt the running process if user processes exist. */
void sched_tick(void);
/* The byte at a user-code address (to check which instruction faulted). */
uint8_t user_code_byte(uint32_t va);

/* Call gates and tasks (t_cpu.c): GDT slot 7 is theirs while a test runs. */
#define SEL_GATE 0x38
struct tss;
uint64_t tk_gate_desc(uint16_t sel, uint32_t off, uint8_t access, unsigned params);
/* A ring 0 task at entry on its own stack, in the current address space. */
void tk_task_setup(struct tss *t, void (*entry)(void), void *stack_top);
extern char gate_sum[];
extern volatile uint32_t gate_calls;

/* Test groups. */
void t_cpu_gdt_load(void);
void t_cpu_segment_reload(void);
void t_cpu_segment_base(void);
void t_cpu_code_segment_base(void);
void t_cpu_stack_segment_base(void);
void t_cpu_idt_load(void);
void t_cpu_tss_load(void);
void t_cpu_gate_if(void);
void t_cpu_cli_sti(void);
void t_cpu_pushf_if(void);
void t_cpu_popf_if(void);
void t_cpu_cpuid(void);
void t_cpu_rdtsc(void);
void t_cpu_cr0_cr4(void);
void t_cpu_call_gate(void);
void t_cpu_task_switch(void);
void t_cpu_io_bitmap(void);
void t_exc_df_task_gate(void);
void t_user_call_gate(void);
void t_exc_de(void);
void t_exc_ud(void);
void t_exc_bp(void);
void t_exc_gp_user(void);
void t_exc_pf_read(void);
void t_exc_pf_write(void);
void t_exc_int_dpl3(void);
void t_exc_int_dpl0(void);
void t_paging_enabled(void);
void t_paging_higher_half(void);
void t_paging_map_4k(void);
void t_paging_pse(void);
void t_paging_invlpg(void);
void t_paging_cr3_flush(void);
void t_paging_accessed_dirty(void);
void t_paging_wp(void);
void t_paging_off_on(void);
void t_user_exit(void);
void t_user_syscall(void);
void t_user_address_spaces(void);
void t_user_preemption(void);
void t_user_supervisor_page(void);
void t_user_cli(void);
void t_user_io_gp(void);
void t_user_popf_if(void);
void t_user_not_present(void);
void t_user_fpu_sse(void);
void t_user_demand_paging(void);
void t_irq_pic_remap(void);
void t_irq_pit_ticks(void);
void t_irq_mask(void);
void t_irq_eoi(void);
void t_irq_cli_defers(void);

void t_dev_uart_loopback(void);

/* /net: the values of udpecho= and tcpecho= on the command line, or NULL. */
extern const char *t_net_udpecho, *t_net_tcpecho;
void t_net_dhcp_lease(void);
void t_net_ping_gateway(void);
void t_net_udp_exchange(void);
void t_net_tcp_client(void);
void t_net_tcp_accept(void);

void bench_run(void);

#endif
