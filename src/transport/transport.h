/*
 * Native execution transports: run the guest process until it traps, hand the
 * trap record and 32-bit registers to the VM, apply the VM's registers and
 * mapping operations, resume.  Two implementations (signal, ptrace) behind
 * one interface; the trap path is plain C (no glib, malloc, locks or stdio).
 */
#ifndef LILYVM_TRANSPORT_H
#define LILYVM_TRANSPORT_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

/* Selectors of the host's GDT that a 64-bit Linux process can use. */
#define LILY_SEL_CODE32 0x23 /* flat 32-bit user code: compatibility mode */
#define LILY_SEL_DATA 0x2b   /* flat user data (also the stack selector) */
#define LILY_SEL_CODE64 0x33 /* 64-bit user code: a guest that loads it has escaped */

/* trapno of records that are not CPU exceptions (syscalls, kicks, start). */
#define LILY_TRAPNO_NONE 0xffffffffu

/* The guest's view of the CPU registers (32-bit; selectors as loaded). */
typedef struct LilyRegs {
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t eip, eflags;
    uint16_t cs, ss, ds, es, fs, gs;
} LilyRegs;

/*
 * What stopped the guest.  Both transports fill it identically:
 *  signo       host signal (SIGSEGV, SIGTRAP, SIGFPE, SIGBUS, SIGILL, SIGSYS,
 *              or TRANSPORT_KICK_SIGNAL when the VM interrupted the guest);
 *  si_code     the signal's si_code (SI_KERNEL for #GP, SEGV_MAPERR, ...);
 *  trapno      CPU exception vector (3 int3, 13 #GP, 14 #PF, ...) or
 *              LILY_TRAPNO_NONE for syscalls and kicks;
 *  error_code  the exception's error code (0 when it has none);
 *  fault_addr  CR2 for #PF, 0 otherwise;
 *  syscall_nr, syscall_arch  for SIGSYS: the number and AUDIT_ARCH_* value;
 *  flags       LILY_TRAP_F_*;
 *  host_ip     the full 64-bit instruction pointer: above 4 GiB, or regs.cs
 *              other than LILY_SEL_CODE32, means the guest left
 *              compatibility mode (or see LILY_TRAP_F_FAST_SYSCALL).
 */
typedef struct LilyTrap {
    uint32_t signo;
    int32_t si_code;
    uint32_t trapno;
    uint32_t error_code;
    uint32_t fault_addr;
    uint32_t syscall_nr;
    uint32_t syscall_arch;
    uint32_t flags;
    uint64_t host_ip;
} LilyTrap;

/*
 * A 32-bit fast syscall (sysenter, or syscall from compatibility mode) that
 * the host kernel took as if it came from its 32-bit vDSO: regs.eip/host_ip
 * point at the host vDSO's landing pad (above 4 GiB) and the guest's EIP is
 * lost; regs.esp holds the guest's EBP and regs.ebp the dword at [EBP]
 * (the vDSO's calling convention).  EAX, EBX, ECX, EDX, ESI, EDI are intact.
 * A sysenter needs no return address (SYSEXIT takes it from EDX), so the
 * cpu plugin can still emulate it.
 */
#define LILY_TRAP_F_FAST_SYSCALL 0x1u

/* One mapping operation on the guest process's address space. */
typedef enum LilyMapOpKind {
    LILY_MAP_OP_MAP = 1,     /* map memfd [file_offset, +len) at guest_addr with prot */
    LILY_MAP_OP_UNMAP = 2,   /* unmap [guest_addr, +len) */
    LILY_MAP_OP_PROTECT = 3, /* change protection of [guest_addr, +len) to prot */
    LILY_MAP_OP_MAP_POPULATE = 4, /* MAP, and fill the page tables now
                                     (MAP_POPULATE: no minor fault on first touch) */
    LILY_MAP_OP_LDT = 5,     /* write one host LDT entry (modify_ldt 0x11), fields below */
} LilyMapOpKind;

/*
 * Host LDT entries LilyVM owns: guest segments that are not flat run on
 * mirrors of their descriptors there (one entry per segment register).
 * 506..511 are the last entries of an LDT that fits one page (the host
 * kernel copies the whole table on every write, and allocates one page or
 * less without vmalloc), high enough to stay clear of the entries a guest
 * program that uses its own LDT allocates first: a guest selector that
 * names one of these loads natively and is noticed at the next trap.
 */
#define LILY_LDT_FIRST 506u
#define LILY_LDT_COUNT 6u
/* The selector of owned entry i (TI = 1, RPL 3). */
#define LILY_LDT_SEL(i) ((uint16_t)(((LILY_LDT_FIRST + (i)) << 3) | 7u))

/*
 * An LILY_MAP_OP_LDT op uses the LilyMapOp fields as follows:
 *  prot        the entry index, LILY_LDT_FIRST <= index < + LILY_LDT_COUNT;
 *  guest_addr  the segment base;
 *  len         the raw 20-bit limit (in pages when G is set);
 *  file_offset bits 0-7 the access byte (P, DPL, S, type: must be present,
 *              DPL 3, a data or non-conforming code segment), bits 8-11 the
 *              flags nibble (AVL, L, D/B, G: L must be 0); nothing above.
 * The stub refuses anything else with -EINVAL.
 */
#define LILY_LDT_OP_FLAGS(access, flags) ((uint64_t)(access) | (uint64_t)((flags) & 0xfu) << 8)

typedef struct LilyMapOp {
    uint32_t kind;       /* LilyMapOpKind */
    uint32_t prot;       /* PROT_READ | PROT_WRITE | PROT_EXEC subset */
    uint32_t guest_addr; /* page aligned */
    uint32_t len;        /* page aligned, > 0, guest_addr + len <= 4 GiB */
    uint64_t file_offset; /* MAP only: page aligned, inside the memfd */
} LilyMapOp;

/* 64 for the MMU's mappings, and room for one LDT write per segment
 * register (LILY_LDT_COUNT) on top, so that the mirrors never shrink the
 * MMU's batch. */
#define LILY_MAP_OPS_MAX (64 + LILY_LDT_COUNT)

/*
 * The VM-side state of one virtual CPU as a transport sees it.  After
 * transport_run() returns LILY_RUN_TRAP, regs and trap describe the stop; the
 * VM edits regs and queues ops; the next transport_run() writes regs back,
 * executes ops (in order, stopping at the first failure) and resumes.
 */
typedef struct LilyVcpu {
    LilyRegs regs;
    LilyTrap trap;
    uint32_t n_ops;                    /* ops queued for the next resume */
    LilyMapOp ops[LILY_MAP_OPS_MAX];
    int32_t op_error;        /* result of the last batch: 0 or -errno */
    uint32_t op_failed;      /* index of the failing op when op_error != 0 */
} LilyVcpu;

typedef enum LilyTransportKind {
    LILY_TRANSPORT_SIGNAL = 0, /* guest-side handlers + shared page + futex */
    LILY_TRANSPORT_PTRACE = 1, /* VM traces the guest process */
} LilyTransportKind;

/**
 * LilyLocalHandler - trap handler that runs inside the guest process.
 * @ctx: LilyTransportConfig.local_ctx
 * @regs: the guest's registers; changes are written back on return
 * @trap: the trap record
 *
 * Called by the signal transport's stub for every trap before it hands over
 * to the VM.  It runs in the guest process, in a signal handler, under the
 * seccomp filter: no libc that locks or allocates, no syscall but the stub's
 * (any other kills the process), no stack protector and no sanitizers.  It
 * sees the VM's memory as it was at fork time (copy-on-write), and the VM's
 * own mapping of guest RAM (shared).
 * Return: true if the trap is handled (resume the guest, no hand-over),
 * false to hand it to the VM.
 */
typedef bool (*LilyLocalHandler)(void *ctx, LilyRegs *regs, const LilyTrap *trap);

typedef struct LilyTransportConfig {
    LilyTransportKind kind;
    int memfd;              /* guest RAM; mapping ops refer to its offsets */
    uint64_t memfd_size;    /* bytes */
    uint32_t spin_iterations; /* busy-wait rounds before futex wait (signal); 0: futex only */
    bool imprecise_faults;  /* ptrace: derive fault records from siginfo only
                               (one stop instead of two; error codes are 0) */
    LilyLocalHandler local_handler; /* signal: in-guest fast path, or NULL */
    void *local_ctx;
    bool spin_adaptive;     /* signal: spin_iterations is a ceiling; each side
                               spins only while spinning has been answered
                               (see signal.c) */
} LilyTransportConfig;

typedef enum LilyRunResult {
    LILY_RUN_TRAP = 0,    /* vcpu->regs/trap describe a trap */
    LILY_RUN_TIMEOUT = 1, /* deadline passed: the guest was kicked and is
                             stopped (vcpu->trap.signo == TRANSPORT_KICK_SIGNAL);
                             transport_run() resumes it */
    LILY_RUN_EXITED = 2,  /* the guest process is gone: transport_exit_status() */
    LILY_RUN_ERROR = 3,   /* transport failure or an invalid record (the
                             guest process has been killed) */
} LilyRunResult;

/* The signal the VM sends to interrupt a running guest. */
#define TRANSPORT_KICK_SIGNAL SIGUSR2

typedef struct LilyTransport LilyTransport;

/* Name of a kind ("signal", "ptrace") and back; -1 for an unknown name. */
const char *transport_kind_name(LilyTransportKind kind);
int transport_kind_from_name(const char *name);

/**
 * transport_new() - Prepare a transport (shared page, alternate signal stack).
 * @cfg: kind, guest memfd and tuning
 * @error: set on failure
 *
 * Must be called, like transport_start(), before the VM process starts any
 * thread: the guest process is forked from it.
 * Return: the transport, or NULL with @error set.
 */
LilyTransport *transport_new(const LilyTransportConfig *cfg, GError **error);

/**
 * transport_start() - Fork the guest process and wait until it is ready.
 * @t: transport from transport_new()
 * @error: set on failure
 *
 * The guest process unmaps everything below 4 GiB, installs its handlers and
 * its seccomp filter and stops before the first guest instruction.  The
 * first transport_run() enters the guest with the registers and mapping ops
 * in the vcpu.
 * Return: TRUE when the guest process is ready.
 */
gboolean transport_start(LilyTransport *t, GError **error);

/**
 * transport_run() - Resume the guest and wait for its next trap.
 * @t: started transport
 * @vcpu: registers and queued ops in; trap record and registers out
 * @timeout_ns: give up waiting after this long (kick the guest); < 0: never
 *
 * Async-signal-safe and allocation free: safe to call from the VM's trap loop.
 * Return: see LilyRunResult.  vcpu->n_ops is 0 afterwards.
 */
LilyRunResult transport_run(LilyTransport *t, LilyVcpu *vcpu, int64_t timeout_ns);

/**
 * transport_probe_compat_mode() - Can this host run 32-bit guest code?
 * @error: set to the reason when it cannot
 *
 * Forks a throw-away child that far-jumps to LILY_SEL_CODE32.  Some
 * hypervisors (PVM) give their guests no 32-bit code segment at all; native
 * IA-32 execution is impossible there.  The answer is computed once.
 * Return: TRUE when compatibility mode works.
 */
gboolean transport_probe_compat_mode(GError **error);

/**
 * transport_probe_host_ldt() - Does this host honour LDT descriptors?
 * @error: set to the reason when it does not
 *
 * Forks a throw-away child that writes two entries with modify_ldt(0x11) (a
 * data segment and a 32-bit code segment, both with a base), loads the data
 * selector, far-jumps to the code selector in compatibility mode and reads
 * through the data segment there.  Under PVM modify_ldt succeeds but the
 * selector load faults.  The answer is computed once.
 * Return: TRUE when selectors with TI = 1 load and their bases apply.
 */
gboolean transport_probe_host_ldt(GError **error);

/* CLOCK_MONOTONIC in nanoseconds (async-signal-safe). */
int64_t transport_now_ns(void);

/* Interrupt a running guest (it stops with signo TRANSPORT_KICK_SIGNAL). */
void transport_kick(LilyTransport *t);

/* The guest process's pid (0 before start / after exit). */
pid_t transport_pid(const LilyTransport *t);

/* The wait status of the exited guest process (valid after LILY_RUN_EXITED). */
int transport_exit_status(const LilyTransport *t);

/* A readable reason for the last LILY_RUN_EXITED / LILY_RUN_ERROR. */
const char *transport_last_error(const LilyTransport *t);

/* Kill the guest process (if any), reap it, free everything. */
void transport_free(LilyTransport *t);

#endif
