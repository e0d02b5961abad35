/*
 * cpu-ia32 trap-path core: the virtual CPU state, its environment (bus, RAM,
 * MMU) and the functions that emulate one trap.  Plain C over these structs:
 * no glib, no allocation, no locks, no stdio, so that the same code can later
 * run inside the guest process.
 */
#ifndef LILYVM_CPU_IA32_H
#define LILYVM_CPU_IA32_H

#include <stdbool.h>
#include <stdint.h>

#include <lilyvm/mmu.h>
#include "src/transport/transport.h"

/*
 * An MMU answer newer than this tree's mmu.h: *gpa is RAM that cannot be
 * mapped in the guest process (below vm.mmap_min_addr): emulate the access.
 */
#ifndef LILY_MMU_EMULATE
#define LILY_MMU_EMULATE 5
#endif

/* Segment registers in x86 encoding order (the sreg field of ModRM). */
enum { CPU_ES = 0, CPU_CS = 1, CPU_SS = 2, CPU_DS = 3, CPU_FS = 4, CPU_GS = 5, CPU_NSEG = 6 };
/* General registers in x86 encoding order. */
enum { CPU_EAX, CPU_ECX, CPU_EDX, CPU_EBX, CPU_ESP, CPU_EBP, CPU_ESI, CPU_EDI };

/* EFLAGS bits. */
#define CPU_FL_CF 0x1u
#define CPU_FL_FIXED 0x2u
#define CPU_FL_PF 0x4u
#define CPU_FL_AF 0x10u
#define CPU_FL_ZF 0x40u
#define CPU_FL_SF 0x80u
#define CPU_FL_TF 0x100u
#define CPU_FL_IF 0x200u
#define CPU_FL_DF 0x400u
#define CPU_FL_OF 0x800u
#define CPU_FL_IOPL 0x3000u
#define CPU_FL_NT 0x4000u
#define CPU_FL_RF 0x10000u
#define CPU_FL_VM 0x20000u
#define CPU_FL_AC 0x40000u
#define CPU_FL_ID 0x200000u
/* The flags the guest process keeps natively; the rest are virtual. */
#define CPU_FL_NATIVE (CPU_FL_CF | CPU_FL_PF | CPU_FL_AF | CPU_FL_ZF | CPU_FL_SF | \
                       CPU_FL_DF | CPU_FL_OF)

#define CPU_CR0_PE 0x1u
#define CPU_CR0_ET 0x10u
#define CPU_CR0_MP 0x2u
#define CPU_CR0_EM 0x4u
#define CPU_CR0_TS 0x8u
#define CPU_CR0_WP 0x10000u
#define CPU_CR0_PG 0x80000000u

/* Exception vectors. */
enum {
    CPU_EXC_DE = 0, CPU_EXC_DB = 1, CPU_EXC_BP = 3, CPU_EXC_OF = 4, CPU_EXC_BR = 5,
    CPU_EXC_UD = 6, CPU_EXC_NM = 7, CPU_EXC_DF = 8, CPU_EXC_TS = 10, CPU_EXC_NP = 11,
    CPU_EXC_SS = 12, CPU_EXC_GP = 13, CPU_EXC_PF = 14, CPU_EXC_MF = 16, CPU_EXC_AC = 17,
    CPU_EXC_XM = 19,
};

/* A segment register or system-table register with its cached descriptor. */
typedef struct CpuSeg {
    uint16_t sel;
    uint8_t access; /* descriptor byte 5: P, DPL, S, type */
    uint8_t flags;  /* descriptor high nibble of byte 6: G, D/B, L, AVL */
    uint32_t base;
    uint32_t limit; /* byte granular */
} CpuSeg;

/* Counters per trap kind (the glue hands them to host->stat_add). */
enum {
    CPU_STAT_TRAPS, CPU_STAT_IO, CPU_STAT_CLI_STI, CPU_STAT_PUSHF_POPF, CPU_STAT_CR,
    CPU_STAT_PAGE_FAULTS, CPU_STAT_GUEST_PF, CPU_STAT_MMIO, CPU_STAT_INTERRUPTS,
    CPU_STAT_EXCEPTIONS, CPU_STAT_SOFT_INT, CPU_STAT_SYSCALLS, CPU_STAT_HLT, CPU_STAT_SEG,
    CPU_STAT_REWRITE, CPU_STAT_OTHER, CPU_STAT_N
};
extern const char *const cpu_stat_names[CPU_STAT_N];

/* A resume carries the MMU's ops, then up to CPU_LDT_OPS_MAX LDT writes
 * (one per segment register): the transport has room for both. */
#define CPU_LDT_OPS_MAX CPU_NSEG
#define CPU_MMU_OPS_MAX (LILY_MAP_OPS_MAX - CPU_LDT_OPS_MAX)
_Static_assert(CPU_LDT_OPS_MAX == LILY_LDT_COUNT, "one host LDT entry per segment register");

/* Whether guest segments that are not flat run on host LDT mirrors. */
enum {
    CPU_HOST_LDT_OFF = 0,    /* the host_ldt option is off */
    CPU_HOST_LDT_ABSENT = 1, /* the host does not honour the LDT (the probe said so) */
    CPU_HOST_LDT_ON = 2,
};
/* ESP at entry (Multiboot leaves it undefined). */
#define CPU_BOOT_ESP 0x80000u

/*
 * What the core needs from outside: the bus, guest RAM and the MMU.  The
 * plugin fills it from the host table; tests fill it with fakes.
 * mmu may be NULL: then guest-virtual = guest-physical and paging cannot be
 * enabled.
 */
typedef struct CpuEnv {
    void *opaque;
    uint32_t (*pio_read)(void *opaque, uint16_t port, unsigned size);
    void (*pio_write)(void *opaque, uint16_t port, unsigned size, uint32_t value);
    void (*pio_read_rep)(void *opaque, uint16_t port, unsigned size, void *buf,
                         uint32_t count);
    void (*pio_write_rep)(void *opaque, uint16_t port, unsigned size, const void *buf,
                          uint32_t count);
    uint32_t (*mmio_read)(void *opaque, uint64_t gpa, unsigned size);
    void (*mmio_write)(void *opaque, uint64_t gpa, unsigned size, uint32_t value);
    int (*irq_ack)(void *opaque); /* vector, or -1 */
    uint8_t *ram;
    uint64_t ram_size;
    const LilyMmuOps *mmu;
    void *mmu_state;
} CpuEnv;

typedef struct CpuState {
    uint32_t gpr[8];
    uint32_t eip;
    uint32_t eflags;    /* the guest's view: native flags merged with virtual ones */
    CpuSeg seg[CPU_NSEG];
    CpuSeg ldtr, tr;
    uint32_t gdt_base, idt_base;
    uint16_t gdt_limit, idt_limit;
    uint32_t cr0, cr2, cr3, cr4;
    uint32_t dr[8];
    unsigned cpl;
    uint64_t msr_sysenter_cs, msr_sysenter_esp, msr_sysenter_eip, msr_apic_base;
    uint64_t tsc_offset;
    bool intr_line;     /* INTR from the interrupt controller */
    bool halted;
    /*
     * Set by iret: the next external interrupt waits until the guest has run
     * again (the glue clears it after each resume).  Interrupts are
     * asynchronous, so this is invisible to the guest, but it guarantees
     * progress when they arrive faster than a handler runs.
     */
    bool irq_holdoff;
    /* The exception raised by the instruction being emulated. */
    uint8_t exc_vector;
    bool exc_has_error;
    uint32_t exc_error;
    /* Mapping ops the MMU queued (for the next resume). */
    LilyMmuBatch batch;
    LilyMmuOp ops[CPU_MMU_OPS_MAX];
    uint64_t stats[CPU_STAT_N];
    const char *fatal; /* why the VM must end (static text) */
    char fatal_buf[160];
    /* Host selectors currently loaded in the guest process (to notice native loads). */
    uint16_t host_sel[CPU_NSEG];
    /*
     * The host LDT: CPU_HOST_LDT_ON lets a segment that is not flat run on
     * the mirror of its descriptor in host LDT entry LILY_LDT_FIRST + reg
     * (selector LILY_LDT_SEL(reg)); ldt_slot[reg] is what that entry holds
     * (the guest's segment it mirrors), ldt_valid[reg] whether it was written.
     */
    uint8_t host_ldt;
    bool ldt_valid[CPU_NSEG];
    CpuSeg ldt_slot[CPU_NSEG];
} CpuState;

typedef enum CpuAction {
    CPU_RESUME = 0, /* resume the guest with the new state */
    CPU_HALT = 1,   /* the guest executed hlt: wait for an interrupt */
    CPU_FATAL = 2,  /* end the VM: s->fatal says why */
} CpuAction;

/* Internal result of one emulation step. */
typedef enum CpuRes {
    CPU_R_OK = 0,
    CPU_R_EXC = 1,   /* s->exc_* describe an exception to deliver */
    CPU_R_FATAL = 2, /* s->fatal set */
    CPU_R_HALT = 3,
    CPU_R_RETRY = 4, /* the MMU batch is full: resume and let the guest fault again */
} CpuRes;

/* --- state (cpu.c glue does I/O; these are pure) ---------------------- */
/* Reset to the Multiboot entry state: flat protected mode, paging off, CPL 0. */
void cpu_reset(CpuState *s, uint32_t eip, uint32_t eax, uint32_t ebx);
/* Transport registers in/out of the state (selectors mapped to host ones). */
void cpu_regs_in(CpuState *s, const LilyRegs *r);
void cpu_regs_out(const CpuState *s, LilyRegs *r);
/* The host selector that stands for guest segment register r. */
uint16_t cpu_host_sel(const CpuState *s, unsigned r);
/*
 * cpu_ldt_ops() - Queue the host LDT writes the next resume needs: one
 * LILY_MAP_OP_LDT for every segment register that runs on its mirror and
 * whose entry does not hold its descriptor yet (at most CPU_LDT_OPS_MAX).
 * Call right before cpu_regs_out(); the ops must go with that resume.
 * Return: the number of ops written to ops (never more than room).
 */
uint32_t cpu_ldt_ops(CpuState *s, LilyMapOp *ops, uint32_t room);
/* Linear addresses through CS and SS (EIP and ESP are offsets in them). */
static inline uint32_t cpu_cs_lin(const CpuState *s, uint32_t eip)
{
    return s->seg[CPU_CS].base + eip;
}
static inline uint32_t cpu_ss_lin(const CpuState *s, uint32_t esp)
{
    return s->seg[CPU_SS].base + esp;
}
/* Why a segment that is not flat cannot run natively (static text). */
const char *cpu_ldt_unavailable(const CpuState *s);

/* --- the trap path ----------------------------------------------------- */
/**
 * cpu_trap() - Handle one trap record.  The registers must have been taken
 * in with cpu_regs_in() first.  Mapping ops end up in s->batch.
 */
CpuAction cpu_trap(CpuState *s, const CpuEnv *env, const LilyTrap *trap);
/*
 * A guest that loaded a data segment register with a plain mov may hold a
 * host selector there (0x23 is the host's 32-bit code segment): take it as
 * the guest's own load.  Call on every stop before the registers go back,
 * kicks and timeouts included.  Return: whether anything changed.
 */
bool cpu_sync_native_segs(CpuState *s, const CpuEnv *env);
/*
 * Deliver the pending external interrupt if INTR is high and the virtual IF
 * is set (acknowledging it with env->irq_ack).  Return: CPU_FATAL on a
 * triple fault, else CPU_RESUME (s->halted cleared when it delivered).
 */
CpuAction cpu_poll_interrupt(CpuState *s, const CpuEnv *env);
/* Does the halted CPU wake (INTR high and IF set)? */
bool cpu_can_take_interrupt(const CpuState *s);

/* --- internals shared by the core's files -------------------------------- */
CpuRes cpu_fail(CpuState *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
CpuRes cpu_raise(CpuState *s, unsigned vector, bool has_error, uint32_t error);

/* Guest-virtual memory (through the MMU when paging is on). */
#define CPU_ACC_WRITE LILY_MMU_ACC_WRITE
#define CPU_ACC_USER LILY_MMU_ACC_USER
#define CPU_ACC_EXEC LILY_MMU_ACC_EXEC
#define CPU_ACC_SYS 0x100u /* an implicit supervisor access (tables, TSS) */
CpuRes cpu_read(CpuState *s, const CpuEnv *env, uint32_t va, void *buf, uint32_t len,
                unsigned acc);
CpuRes cpu_write(CpuState *s, const CpuEnv *env, uint32_t va, const void *buf, uint32_t len,
                 unsigned acc);
/* Bytes readable at va for an instruction fetch (up to max); 0 with an exception. */
uint32_t cpu_fetch(CpuState *s, const CpuEnv *env, uint32_t va, uint8_t *buf, uint32_t max);
/* Translate every page of [va, va+len) for acc (a write probe before a split write). */
CpuRes cpu_probe(CpuState *s, const CpuEnv *env, uint32_t va, uint32_t len, unsigned acc);
/* One 1/2/4-byte data access: RAM directly, a device with one access of that size. */
CpuRes cpu_mem_read(CpuState *s, const CpuEnv *env, uint32_t va, unsigned size, uint32_t *v,
                    unsigned acc);
CpuRes cpu_mem_write(CpuState *s, const CpuEnv *env, uint32_t va, unsigned size, uint32_t v,
                     unsigned acc);
CpuRes cpu_push(CpuState *s, const CpuEnv *env, uint32_t v, unsigned size);
CpuRes cpu_pop(CpuState *s, const CpuEnv *env, uint32_t *v, unsigned size);
/* Tell the MMU about control registers / CPL. */
void cpu_mmu_control(CpuState *s, const CpuEnv *env);
void cpu_set_cpl(CpuState *s, const CpuEnv *env, unsigned cpl);

/* Segments (seg.c). */
CpuRes cpu_read_desc(CpuState *s, const CpuEnv *env, uint16_t sel, uint8_t raw[8]);
void cpu_desc_unpack(const uint8_t raw[8], CpuSeg *seg);
CpuRes cpu_load_seg(CpuState *s, const CpuEnv *env, unsigned reg, uint16_t sel);
CpuRes cpu_load_cs(CpuState *s, const CpuEnv *env, uint16_t sel, unsigned new_cpl);
CpuRes cpu_load_ldtr(CpuState *s, const CpuEnv *env, uint16_t sel);
CpuRes cpu_load_tr(CpuState *s, const CpuEnv *env, uint16_t sel);
/*
 * The linear address of an access of size bytes at offset off through segment
 * register reg, with the protected-mode checks: a null selector (#GP(0)),
 * the type (no writes to code or read-only data, no reads of execute-only
 * code) and the limit (expand-down too); #SS(0) instead of #GP(0) for SS.
 */
CpuRes cpu_seg_linear(CpuState *s, unsigned reg, uint32_t off, unsigned size, bool write,
                      uint32_t *lin);
/* lar/lsl/verr/verw: ok false means ZF=0. */
void cpu_seg_query(CpuState *s, const CpuEnv *env, uint16_t sel, int what, bool *ok,
                   uint32_t *value);
enum { CPU_Q_LAR, CPU_Q_LSL, CPU_Q_VERR, CPU_Q_VERW };

/* Delivery (deliver.c). */
enum { CPU_EV_EXC = 0, CPU_EV_EXT = 1, CPU_EV_SOFT = 2 };
/* Deliver vector through the IDT; ret_eip is the EIP pushed. */
CpuRes cpu_deliver(CpuState *s, const CpuEnv *env, unsigned vector, int kind,
                   bool has_error, uint32_t error, uint32_t ret_eip);
/* Deliver the exception in s->exc_* at s->eip (with #DF / triple fault). */
CpuAction cpu_deliver_pending(CpuState *s, const CpuEnv *env);
CpuRes cpu_iret(CpuState *s, const CpuEnv *env, unsigned opsize);
/* Far transfer: lret (pop), ljmp, lcall. */
CpuRes cpu_far_ret(CpuState *s, const CpuEnv *env, unsigned opsize, uint16_t imm);
CpuRes cpu_far_jump(CpuState *s, const CpuEnv *env, uint16_t sel, uint32_t off, bool call,
                    unsigned opsize, uint32_t next_eip);
/* What started a task switch. */
enum { CPU_TASK_JMP, CPU_TASK_CALL, CPU_TASK_IRET, CPU_TASK_INT };
/* iret with EFLAGS.NT: back to the task in the current TSS's link field. */
CpuRes cpu_task_return(CpuState *s, const CpuEnv *env, uint32_t next_eip);
/* Write the guest's EFLAGS from a popf/iret value, honouring CPL/IOPL. */
void cpu_set_eflags(CpuState *s, uint32_t value, uint32_t mask);

/* Emulation (emulate.c): decode and emulate the instruction at s->eip. */
CpuRes cpu_emulate(CpuState *s, const CpuEnv *env, const LilyTrap *trap);
/* Emulate the memory access of the instruction at s->eip against MMIO at gpa. */
CpuRes cpu_emulate_mmio(CpuState *s, const CpuEnv *env, uint32_t va, uint64_t gpa);

#endif
