/*
 * Guest-process stub: confines the forked guest process (low 4 GiB emptied,
 * seccomp), enters the guest in compatibility mode and runs the trap handler
 * that passes every trap to the VM through the shared vcpu page.
 *
 * DOC: Rules for this file
 * Everything here runs in the guest process, most of it inside a signal
 * handler entered while the guest's %fs/%gs are loaded.  So: no libc calls
 * (raw syscalls only; glibc keeps its TLS and stack canary at %fs), no stack
 * protector, no sanitizers, no memcpy (struct copies are field by field),
 * no global state but the private copy of StubParams.  The only syscalls made
 * after confinement are the ones the seccomp filter allows (see
 * stub_build_filter()).
 */
#define _GNU_SOURCE
#include <asm/ldt.h>
#include <asm/prctl.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/ucontext.h>

#include "src/guest/stub.h"

#define STUB_4G 0x100000000ull
#define STUB_STR_(x) #x
#define STUB_STR(x) STUB_STR_(x)
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif
#define STUB_PAGE_MASK 0xfffull
#define STUB_SPIN_MAX (1u << 24)

#ifndef UC_SIGCONTEXT_SS
#define UC_SIGCONTEXT_SS 0x2
#endif
#ifndef UC_STRICT_RESTORE_SS
#define UC_STRICT_RESTORE_SS 0x4
#endif

/* The kernel's struct sigaction for rt_sigaction(2). */
struct stub_kernel_sigaction {
    void (*handler)(int, siginfo_t *, void *);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

/* Private to the guest process (its copy-on-write copy of the VM's memory). */
static StubParams stub;
static uint64_t stub_host_fsbase;
static int stub_have_fsgsbase;

/* Signals the handler takes: CPU exceptions, seccomp traps, VM requests. */
static const int stub_signals[] = {
    SIGSEGV, SIGTRAP, SIGFPE, SIGBUS, SIGILL, SIGSYS, VCPU_OPS_SIGNAL, TRANSPORT_KICK_SIGNAL,
};

static inline long stub_syscall(long nr, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;

    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

__attribute__((noreturn)) static void stub_exit(int code)
{
    for (;;)
        stub_syscall(__NR_exit_group, code, 0, 0, 0, 0, 0);
}

/* rt_sigreturn trampoline: the kernel returns from the handler to here. */
void stub_restorer(void);
__asm__(".text\n"
        ".globl stub_restorer\n"
        ".hidden stub_restorer\n"
        ".type stub_restorer,@function\n"
        "stub_restorer:\n"
        "    mov $" STUB_STR(__NR_rt_sigreturn) ", %eax\n"
        "    syscall\n"
        "    hlt\n"
        ".size stub_restorer, .-stub_restorer\n");

/* The start trap: load the flat data selector into DS/ES, then int3. */
void stub_start_trap(void);
extern const char stub_start_trap_after[];
__asm__(".text\n"
        ".globl stub_start_trap\n"
        ".globl stub_start_trap_after\n"
        ".hidden stub_start_trap\n"
        ".hidden stub_start_trap_after\n"
        ".type stub_start_trap,@function\n"
        "stub_start_trap:\n"
        "    mov $" STUB_STR(LILY_SEL_DATA) ", %eax\n"
        "    mov %eax, %ds\n"
        "    mov %eax, %es\n"
        "    int3\n"
        "stub_start_trap_after:\n"
        "    ret\n"
        ".size stub_start_trap, .-stub_start_trap\n");

uint64_t stub_start_ip(void)
{
    return (uint64_t)(uintptr_t)stub_start_trap_after;
}

static inline uint16_t stub_read_ds(void) { uint16_t s; __asm__ volatile("mov %%ds, %0" : "=r"(s)); return s; }
static inline uint16_t stub_read_es(void) { uint16_t s; __asm__ volatile("mov %%es, %0" : "=r"(s)); return s; }
static inline uint16_t stub_read_fs(void) { uint16_t s; __asm__ volatile("mov %%fs, %0" : "=r"(s)); return s; }
static inline uint16_t stub_read_gs(void) { uint16_t s; __asm__ volatile("mov %%gs, %0" : "=r"(s)); return s; }

/*
 * Put the host's FS base back so that code using glibc's TLS could run.
 * Nothing in this file needs it, but later in-guest handlers will.  Without
 * FSGSBASE the arch_prctl costs a syscall, so it is skipped while the guest
 * has not loaded %fs (a null selector leaves the host base in place).
 */
static inline void stub_host_tls_enter(uint16_t guest_fs)
{
    if (stub_have_fsgsbase)
        __asm__ volatile("wrfsbase %0" : : "r"(stub_host_fsbase) : "memory");
    else if (guest_fs != 0)
        stub_syscall(__NR_arch_prctl, ARCH_SET_FS, (long)stub_host_fsbase, 0, 0, 0, 0);
}

/* Reloading the guest's selectors restores the bases of its descriptors. */
static inline void stub_load_segments(uint16_t ds, uint16_t es, uint16_t fs, uint16_t gs)
{
    __asm__ volatile("mov %0, %%ds\n\t"
                     "mov %1, %%es\n\t"
                     "mov %2, %%fs\n\t"
                     "mov %3, %%gs"
                     : : "r"(ds), "r"(es), "r"(fs), "r"(gs) : "memory");
}

static void stub_record(VcpuPage *p, int sig, const siginfo_t *si, const ucontext_t *uc, uint16_t guest_fs)
{
    const greg_t *g = uc->uc_mcontext.gregs;
    uint64_t csgsfs = (uint64_t)g[REG_CSGSFS];
    uint32_t trapno = (uint32_t)g[REG_TRAPNO];
    uint32_t err = (uint32_t)g[REG_ERR];

    p->regs.eax = (uint32_t)g[REG_RAX];
    p->regs.ecx = (uint32_t)g[REG_RCX];
    p->regs.edx = (uint32_t)g[REG_RDX];
    p->regs.ebx = (uint32_t)g[REG_RBX];
    p->regs.esp = (uint32_t)g[REG_RSP];
    p->regs.ebp = (uint32_t)g[REG_RBP];
    p->regs.esi = (uint32_t)g[REG_RSI];
    p->regs.edi = (uint32_t)g[REG_RDI];
    p->regs.eip = (uint32_t)g[REG_RIP];
    p->regs.eflags = (uint32_t)g[REG_EFL];
    p->regs.cs = (uint16_t)csgsfs;
    p->regs.ss = (uint16_t)(csgsfs >> 48);
    p->regs.ds = stub_read_ds();
    p->regs.es = stub_read_es();
    p->regs.fs = guest_fs; /* %fs itself may hold the host TLS selector by now */
    p->regs.gs = stub_read_gs();

    /* Only CPU exceptions carry trapno/err; signals sent by a process
     * (si_code <= 0), seccomp traps and VM requests get none. */
    if (sig == SIGSYS || sig == VCPU_OPS_SIGNAL || sig == TRANSPORT_KICK_SIGNAL || si->si_code <= 0) {
        trapno = LILY_TRAPNO_NONE;
        err = 0;
    }
    p->trap.signo = (uint32_t)sig;
    p->trap.si_code = si->si_code;
    p->trap.trapno = trapno;
    p->trap.error_code = err;
    p->trap.fault_addr = trapno == 14 ? (uint32_t)g[REG_CR2] : 0;
    if (sig == SIGSYS && si->si_code == 1 /* SYS_SECCOMP */) {
        p->trap.syscall_nr = (uint32_t)si->si_syscall;
        p->trap.syscall_arch = si->si_arch;
    } else {
        p->trap.syscall_nr = 0;
        p->trap.syscall_arch = 0;
    }
    p->trap.host_ip = (uint64_t)g[REG_RIP];
    p->trap.flags = vcpu_trap_flags(&p->trap);
}

static void stub_write_back(const VcpuPage *p, ucontext_t *uc)
{
    greg_t *g = uc->uc_mcontext.gregs;

    g[REG_RAX] = (greg_t)p->regs.eax;
    g[REG_RCX] = (greg_t)p->regs.ecx;
    g[REG_RDX] = (greg_t)p->regs.edx;
    g[REG_RBX] = (greg_t)p->regs.ebx;
    g[REG_RSP] = (greg_t)p->regs.esp;
    g[REG_RBP] = (greg_t)p->regs.ebp;
    g[REG_RSI] = (greg_t)p->regs.esi;
    g[REG_RDI] = (greg_t)p->regs.edi;
    g[REG_RIP] = (greg_t)p->regs.eip;
    g[REG_EFL] = (greg_t)p->regs.eflags;
    /* r8-r15 are invisible in compatibility mode; clear them so that an
     * escaped guest learns nothing about the stub (first entry). */
    g[REG_R8] = g[REG_R9] = g[REG_R10] = g[REG_R11] = 0;
    g[REG_R12] = g[REG_R13] = g[REG_R14] = g[REG_R15] = 0;
    g[REG_CSGSFS] = (greg_t)((uint64_t)p->regs.cs | ((uint64_t)p->regs.gs << 16) |
                             ((uint64_t)p->regs.fs << 32) | ((uint64_t)p->regs.ss << 48));
    uc->uc_flags |= UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
}

/* modify_ldt's "write, new mode" function: the only one the filter allows. */
#define STUB_LDT_WRITE 0x11

/*
 * Turn an LDT op into modify_ldt's entry, refusing all but what LilyVM
 * owns: a present DPL-3 data or non-conforming code segment (not 64-bit)
 * at one of the LILY_LDT_COUNT owned indices.  Return: 0 or -EINVAL.
 */
static int stub_ldt_entry(const LilyMapOp *op, struct user_desc *d)
{
    uint32_t index = op->prot;
    uint64_t bits = op->file_offset;
    uint32_t access = (uint32_t)(bits & 0xff), flags = (uint32_t)(bits >> 8);
    int code = (access & 0x08) != 0;

    if (index < LILY_LDT_FIRST || index >= LILY_LDT_FIRST + LILY_LDT_COUNT ||
        (bits >> 12) != 0 || op->len > 0xfffff ||
        (access & 0xf0) != 0xf0 /* present, DPL 3, code or data */ ||
        (code && (access & 0x04)) /* conforming */ || (flags & 0x2) /* L */)
        return -EINVAL;
    *d = (struct user_desc){ 0 };
    d->entry_number = index;
    d->base_addr = op->guest_addr;
    d->limit = op->len;
    d->seg_32bit = (flags >> 2) & 1;
    d->contents = code ? 2 : (access >> 2) & 1; /* 2 code, 1 expand-down, 0 data */
    d->read_exec_only = !((access >> 1) & 1);
    d->limit_in_pages = (flags >> 3) & 1;
    d->seg_not_present = 0;
    d->useable = flags & 1;
    d->lm = 0;
    return 0;
}

static void stub_exec_ops(VcpuPage *p)
{
    uint32_t n = __atomic_load_n(&p->n_ops, __ATOMIC_ACQUIRE);
    int32_t error = 0;
    uint32_t failed = 0;

    if (n > LILY_MAP_OPS_MAX)
        n = LILY_MAP_OPS_MAX;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t kind = p->ops[i].kind;
        uint64_t prot = p->ops[i].prot;
        uint64_t addr = p->ops[i].guest_addr;
        uint64_t len = p->ops[i].len;
        uint64_t off = p->ops[i].file_offset;
        long ret = -EINVAL;

        if (kind == LILY_MAP_OP_LDT) {
            /* One snapshot of the op: its fields mean other things here. */
            LilyMapOp op = { kind, p->ops[i].prot, p->ops[i].guest_addr, p->ops[i].len, off };
            struct user_desc d;

            ret = stub_ldt_entry(&op, &d);
            if (ret == 0)
                ret = stub_syscall(__NR_modify_ldt, STUB_LDT_WRITE, (long)&d, sizeof d, 0, 0, 0);
        } else if ((addr & STUB_PAGE_MASK) || (len & STUB_PAGE_MASK) || len == 0 ||
                   addr + len > STUB_4G || (prot & ~7ull)) {
            /* The seccomp filter enforces the same limits; checking here too
             * turns a bad op into an error instead of a killed process. */
            ret = -EINVAL;
        } else if (kind == LILY_MAP_OP_MAP || kind == LILY_MAP_OP_MAP_POPULATE) {
            long flags = MAP_SHARED | MAP_FIXED | (kind == LILY_MAP_OP_MAP_POPULATE ? MAP_POPULATE : 0);

            if ((off & STUB_PAGE_MASK) || off > stub.memfd_size || len > stub.memfd_size - off)
                ret = -EINVAL;
            else
                ret = stub_syscall(__NR_mmap, (long)addr, (long)len, (long)prot, flags,
                                   stub.memfd, (long)off);
            if (ret == (long)addr)
                ret = 0;
        } else if (kind == LILY_MAP_OP_UNMAP) {
            ret = stub_syscall(__NR_munmap, (long)addr, (long)len, 0, 0, 0, 0);
        } else if (kind == LILY_MAP_OP_PROTECT) {
            ret = stub_syscall(__NR_mprotect, (long)addr, (long)len, (long)prot, 0, 0, 0);
        }
        if (ret != 0) {
            error = ret < 0 && ret > -4096 ? (int32_t)ret : -EIO;
            failed = i;
            break;
        }
    }
    p->op_error = error;
    p->op_failed = failed;
    __atomic_store_n(&p->n_ops, 0, __ATOMIC_RELEASE);
}

static void stub_futex(uint32_t *word, int op, uint32_t val)
{
    stub_syscall(__NR_futex, (long)word, op, val, 0, 0, 0);
}

/* Publish the record, then wait until the VM says RESUME. */
static void stub_hand_over(VcpuPage *p)
{
    uint32_t spins = __atomic_load_n(&p->spin_iterations, __ATOMIC_RELAXED);

    __atomic_add_fetch(&p->seq, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&p->state, VCPU_TRAPPED, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&p->vm_waiting, __ATOMIC_SEQ_CST))
        stub_futex(&p->state, FUTEX_WAKE, 1);

    if (spins > STUB_SPIN_MAX)
        spins = STUB_SPIN_MAX;
    for (uint32_t i = 0; i < spins; i++) {
        if (__atomic_load_n(&p->state, __ATOMIC_ACQUIRE) == VCPU_RESUME)
            goto resumed;
        __builtin_ia32_pause();
    }
    for (;;) {
        __atomic_store_n(&p->stub_waiting, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&p->state, __ATOMIC_SEQ_CST) == VCPU_RESUME)
            break;
        stub_futex(&p->state, FUTEX_WAIT, VCPU_TRAPPED);
    }
    __atomic_store_n(&p->stub_waiting, 0, __ATOMIC_RELAXED);
resumed:
    __atomic_store_n(&p->state, VCPU_RUNNING, __ATOMIC_RELAXED);
}

/*
 * The handler for every signal the stub takes.  The kernel enters it on the
 * alternate stack in 64-bit mode with the guest's %fs/%gs still loaded.
 */
__attribute__((no_stack_protector)) static void stub_handler(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    VcpuPage *p = stub.page;
    uint16_t guest_fs = stub_read_fs();

    stub_host_tls_enter(guest_fs);

    if (stub.use_ptrace) {
        /* The tracer owns the registers; it injects signals to have the
         * stub read the frame's error code or run mapping ops. */
        if (sig == VCPU_OPS_SIGNAL && __atomic_load_n(&p->ptrace_cmd, __ATOMIC_ACQUIRE) == VCPU_PTRACE_OPS) {
            stub_exec_ops(p);
            __atomic_add_fetch(&p->seq, 1, __ATOMIC_RELEASE);
            /*
             * The data selectors the VM set: the kernel loaded them when
             * this process was switched in, before the ops wrote the LDT
             * entries they may name (a failed load leaves a null
             * selector), and with FSGSBASE it restores the FS/GS bases
             * of the last stop, not those of the descriptors.
             */
            stub_load_segments(p->regs.ds, p->regs.es, p->regs.fs, p->regs.gs);
            return;
        }
        stub_record(p, sig, si, uc, guest_fs);
        __atomic_add_fetch(&p->seq, 1, __ATOMIC_RELEASE);
        __asm__ volatile("mov %0, %%fs" : : "r"(guest_fs) : "memory");
        return;
    }

    stub_record(p, sig, si, uc, guest_fs);
    /* The start trap always goes to the VM: it carries the first entry. */
    if (stub.local_handler && uc->uc_mcontext.gregs[REG_RIP] != (greg_t)stub_start_ip() &&
        stub.local_handler(stub.local_ctx, &p->regs, &p->trap)) {
        stub_write_back(p, uc);
        stub_load_segments(p->regs.ds, p->regs.es, p->regs.fs, p->regs.gs);
        return;
    }
    stub_hand_over(p);
    stub_exec_ops(p);
    stub_write_back(p, uc);
    stub_load_segments(p->regs.ds, p->regs.es, p->regs.fs, p->regs.gs);
}

/* ---- seccomp filter ---------------------------------------------------- */

#define STUB_FILTER_MAX 160
#define SD_NR offsetof(struct seccomp_data, nr)
#define SD_ARCH offsetof(struct seccomp_data, arch)
#define SD_IP_HI (offsetof(struct seccomp_data, instruction_pointer) + 4)
#define SD_ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#define SD_ARG_HI(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)

typedef struct StubFilter {
    struct sock_filter insn[STUB_FILTER_MAX];
    unsigned n;
    unsigned fail[16]; /* jumps of the current rule to patch to its KILL */
    unsigned n_fail;
    unsigned rule;     /* index of the rule's "nr ==" test */
    int overflow;
} StubFilter;

static unsigned stub_emit(StubFilter *f, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
    if (f->n >= STUB_FILTER_MAX) {
        f->overflow = 1;
        return 0;
    }
    f->insn[f->n] = (struct sock_filter){ code, jt, jf, k };
    return f->n++;
}

static void stub_rule_begin(StubFilter *f, uint32_t nr)
{
    stub_emit(f, BPF_LD | BPF_W | BPF_ABS, SD_NR, 0, 0);
    f->rule = stub_emit(f, BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 0);
    f->n_fail = 0;
}

/* Require A == k, else the rule fails. */
static void stub_require_eq(StubFilter *f, uint32_t k)
{
    unsigned at = stub_emit(f, BPF_JMP | BPF_JEQ | BPF_K, k, 0, 0);
    if (f->n_fail < 16)
        f->fail[f->n_fail++] = at | 0x80000000u; /* patch jf */
    else
        f->overflow = 1;
}

static void stub_require_field(StubFilter *f, uint32_t offset, uint32_t k)
{
    stub_emit(f, BPF_LD | BPF_W | BPF_ABS, offset, 0, 0);
    stub_require_eq(f, k);
}

/* Require args[a] .. args[a] + args[l] to lie inside the low 4 GiB. */
static void stub_require_low_range(StubFilter *f, int a, int l)
{
    unsigned at;

    stub_require_field(f, SD_ARG_HI(a), 0);
    stub_require_field(f, SD_ARG_HI(l), 0);
    stub_emit(f, BPF_LD | BPF_W | BPF_ABS, SD_ARG_LO(l), 0, 0);
    stub_emit(f, BPF_MISC | BPF_TAX, 0, 0, 0);
    stub_emit(f, BPF_LD | BPF_W | BPF_ABS, SD_ARG_LO(a), 0, 0);
    stub_emit(f, BPF_ALU | BPF_ADD | BPF_X, 0, 0, 0);
    /* A = lo(addr) + lo(len) mod 2^32: no carry (A >= len) or ends at 4 GiB (A == 0). */
    stub_emit(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
    at = stub_emit(f, BPF_JMP | BPF_JGE | BPF_X, 0, 0, 0);
    if (f->n_fail < 16)
        f->fail[f->n_fail++] = at | 0x80000000u;
}

/* Require (args[a] & ~allowed) == 0 on both halves. */
static void stub_require_flags_subset(StubFilter *f, int a, uint32_t allowed)
{
    stub_require_field(f, SD_ARG_HI(a), 0);
    stub_emit(f, BPF_LD | BPF_W | BPF_ABS, SD_ARG_LO(a), 0, 0);
    stub_emit(f, BPF_ALU | BPF_AND | BPF_K, ~allowed, 0, 0);
    stub_require_eq(f, 0);
}

/* Close the rule: success returns ALLOW, any failed check KILLs. */
static void stub_rule_end(StubFilter *f)
{
    unsigned kill;

    stub_emit(f, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
    kill = stub_emit(f, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
    for (unsigned i = 0; i < f->n_fail; i++) {
        unsigned at = f->fail[i] & 0x7fffffffu;
        if (kill - at - 1 > 255)
            f->overflow = 1;
        f->insn[at].jf = (uint8_t)(kill - at - 1);
    }
    if (f->n - f->rule - 1 > 255)
        f->overflow = 1;
    f->insn[f->rule].jf = (uint8_t)(f->n - f->rule - 1);
}

static void stub_rule_allow(StubFilter *f, uint32_t nr)
{
    stub_rule_begin(f, nr);
    stub_rule_end(f);
}

/*
 * The filter: any syscall from guest context (32-bit ABI, or an instruction
 * pointer below 4 GiB) traps to the VM; the stub's own syscalls are allowed
 * only with the arguments the stub uses; everything else kills the process.
 */
static void stub_build_filter(StubFilter *f)
{
    uint64_t page = (uint64_t)(uintptr_t)stub.page;
    unsigned at;

    f->n = 0;
    f->overflow = 0;
    /* Not the x86-64 ABI (int $0x80, sysenter, syscall from compat mode). */
    stub_emit(f, BPF_LD | BPF_W | BPF_ABS, SD_ARCH, 0, 0);
    stub_emit(f, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    stub_emit(f, BPF_RET | BPF_K, SECCOMP_RET_TRAP, 0, 0);
    /* Instruction pointer below 4 GiB: guest code, even in 64-bit mode. */
    stub_emit(f, BPF_LD | BPF_W | BPF_ABS, SD_IP_HI, 0, 0);
    stub_emit(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1);
    stub_emit(f, BPF_RET | BPF_K, SECCOMP_RET_TRAP, 0, 0);
    /* x32 syscall numbers. */
    stub_emit(f, BPF_LD | BPF_W | BPF_ABS, SD_NR, 0, 0);
    at = stub_emit(f, BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1);
    (void)at;
    stub_emit(f, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);

    stub_rule_allow(f, __NR_rt_sigreturn);
    stub_rule_allow(f, __NR_exit_group);
    stub_rule_allow(f, __NR_restart_syscall);
    /* modify_ldt(0x11, entry, sizeof entry): write one LDT entry.  The
     * kernel forces DPL 3 on it; the stub refuses more (stub_ldt_entry()). */
    stub_rule_begin(f, __NR_modify_ldt);
    stub_require_field(f, SD_ARG_HI(0), 0);
    stub_require_field(f, SD_ARG_LO(0), STUB_LDT_WRITE);
    stub_require_field(f, SD_ARG_HI(2), 0);
    stub_require_field(f, SD_ARG_LO(2), sizeof(struct user_desc));
    stub_rule_end(f);

    /* futex(&page->state, FUTEX_WAIT or FUTEX_WAKE, ...) */
    stub_rule_begin(f, __NR_futex);
    stub_require_field(f, SD_ARG_HI(0), (uint32_t)(page >> 32));
    stub_require_field(f, SD_ARG_LO(0), (uint32_t)page + offsetof(VcpuPage, state));
    stub_require_field(f, SD_ARG_HI(1), 0);
    stub_emit(f, BPF_LD | BPF_W | BPF_ABS, SD_ARG_LO(1), 0, 0);
    stub_emit(f, BPF_JMP | BPF_JEQ | BPF_K, FUTEX_WAIT, 1, 0);
    stub_require_eq(f, FUTEX_WAKE);
    stub_rule_end(f);

    /* mmap(low addr, len, prot <= RWX, MAP_SHARED|MAP_FIXED[|MAP_POPULATE], memfd, off) */
    stub_rule_begin(f, __NR_mmap);
    stub_require_low_range(f, 0, 1);
    stub_require_flags_subset(f, 2, PROT_READ | PROT_WRITE | PROT_EXEC);
    stub_require_field(f, SD_ARG_HI(3), 0);
    stub_emit(f, BPF_LD | BPF_W | BPF_ABS, SD_ARG_LO(3), 0, 0);
    stub_emit(f, BPF_JMP | BPF_JEQ | BPF_K, MAP_SHARED | MAP_FIXED, 1, 0);
    stub_require_eq(f, MAP_SHARED | MAP_FIXED | MAP_POPULATE);
    stub_require_field(f, SD_ARG_LO(4), (uint32_t)stub.memfd);
    stub_rule_end(f);

    stub_rule_begin(f, __NR_munmap);
    stub_require_low_range(f, 0, 1);
    stub_rule_end(f);

    stub_rule_begin(f, __NR_mprotect);
    stub_require_low_range(f, 0, 1);
    stub_require_flags_subset(f, 2, PROT_READ | PROT_WRITE | PROT_EXEC);
    stub_rule_end(f);

    /* arch_prctl(ARCH_SET_FS, host FS base): the handler's TLS switch. */
    stub_rule_begin(f, __NR_arch_prctl);
    stub_require_field(f, SD_ARG_HI(0), 0);
    stub_require_field(f, SD_ARG_LO(0), ARCH_SET_FS);
    stub_require_field(f, SD_ARG_HI(1), (uint32_t)(stub_host_fsbase >> 32));
    stub_require_field(f, SD_ARG_LO(1), (uint32_t)stub_host_fsbase);
    stub_rule_end(f);

    stub_emit(f, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
}

unsigned stub_filter_length(void)
{
    static StubFilter f;

    stub_build_filter(&f);
    return f.overflow ? 0 : f.n;
}

/* ---- compatibility-mode probe ------------------------------------------- */

#define STUB_PROBE_PAGE 0x10000

__attribute__((no_stack_protector)) static void stub_probe_handler(int sig, siginfo_t *si, void *ctx)
{
    const ucontext_t *uc = ctx;
    uint16_t cs = (uint16_t)uc->uc_mcontext.gregs[REG_CSGSFS];

    (void)si;
    stub_exit(sig == SIGTRAP && cs == LILY_SEL_CODE32 ? 0 : 1);
}

void stub_probe_compat_main(void)
{
    static uint8_t altstack[16384] __attribute__((aligned(16)));
    static const struct { uint32_t ip; uint16_t cs; } __attribute__((packed)) target = {
        STUB_PROBE_PAGE, LILY_SEL_CODE32,
    };
    struct stub_kernel_sigaction sa = {
        .handler = stub_probe_handler,
        .flags = SA_SIGINFO | SA_ONSTACK | SA_RESTORER,
        .restorer = stub_restorer,
        .mask = ~0ull,
    };
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack };
    long page;

    stub_syscall(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0, 0);
    page = stub_syscall(__NR_mmap, STUB_PROBE_PAGE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (page != STUB_PROBE_PAGE)
        stub_exit(2);
    *(volatile uint8_t *)STUB_PROBE_PAGE = 0xcc; /* int3 */
    if (stub_syscall(__NR_sigaltstack, (long)&ss, 0, 0, 0, 0, 0) != 0 ||
        stub_syscall(__NR_rt_sigaction, SIGTRAP, (long)&sa, 0, 8, 0, 0) != 0 ||
        stub_syscall(__NR_rt_sigaction, SIGSEGV, (long)&sa, 0, 8, 0, 0) != 0)
        stub_exit(2);
    __asm__ volatile("mov %0, %%ds\n\t"
                     "mov %0, %%es\n\t"
                     "ljmp *%1"
                     : : "r"((uint32_t)LILY_SEL_DATA), "m"(target) : "memory");
    stub_exit(3);
}

/* ---- host LDT probe ----------------------------------------------------- */

/*
 * Two entries with bases: code at STUB_LDT_CODE_BASE, data at
 * STUB_LDT_DATA_BASE.  The code reads the dword at data offset
 * STUB_LDT_DATA_OFF and stops on an int3; each wrong answer of the host
 * faults differently (see the exit codes in stub.h).
 */
#define STUB_LDT_CODE_BASE 0x10000u
#define STUB_LDT_DATA_BASE 0x11000u
#define STUB_LDT_CODE_OFF 0x100u
#define STUB_LDT_DATA_OFF 0x10u
#define STUB_LDT_MAGIC 0x4c445421u
#define STUB_LDT_CODE_SEL LILY_LDT_SEL(1)
#define STUB_LDT_DATA_SEL LILY_LDT_SEL(3)

static volatile int stub_ldt_stage; /* 1: loading the data selector, 2: far jump and after */

__attribute__((no_stack_protector)) static void stub_probe_ldt_handler(int sig, siginfo_t *si, void *ctx)
{
    const ucontext_t *uc = ctx;
    const greg_t *g = uc->uc_mcontext.gregs;
    uint16_t cs = (uint16_t)g[REG_CSGSFS];

    (void)si;
    if (stub_ldt_stage == 1)
        stub_exit(STUB_LDT_PROBE_LOAD_FAULTS);
    if (cs != STUB_LDT_CODE_SEL)
        stub_exit(STUB_LDT_PROBE_JUMP_FAULTS);
    if (sig == SIGTRAP && (uint32_t)g[REG_RIP] == STUB_LDT_CODE_OFF + 6 &&
        (uint32_t)g[REG_RAX] == STUB_LDT_MAGIC)
        stub_exit(STUB_LDT_PROBE_HONOURED);
    /* Ran at the wrong linear address, or read the wrong one. */
    stub_exit(STUB_LDT_PROBE_BASE_IGNORED);
}

void stub_probe_ldt_main(void)
{
    static uint8_t altstack[16384] __attribute__((aligned(16)));
    static const struct { uint32_t ip; uint16_t cs; } __attribute__((packed)) target = {
        STUB_LDT_CODE_OFF, STUB_LDT_CODE_SEL,
    };
    struct stub_kernel_sigaction sa = {
        .handler = stub_probe_ldt_handler,
        .flags = SA_SIGINFO | SA_ONSTACK | SA_RESTORER,
        .restorer = stub_restorer,
        .mask = ~0ull,
    };
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack };
    /* 32-bit code: mov STUB_LDT_DATA_OFF, %eax (through DS); int3. */
    static const uint8_t code[] = { 0xa1, STUB_LDT_DATA_OFF, 0, 0, 0, 0xcc };
    /* Data segment, read/write; 32-bit code segment, execute/read. */
    LilyMapOp data_op = { LILY_MAP_OP_LDT, LILY_LDT_FIRST + 3, STUB_LDT_DATA_BASE, 0xfff,
                          LILY_LDT_OP_FLAGS(0xf3, 0x4) };
    LilyMapOp code_op = { LILY_MAP_OP_LDT, LILY_LDT_FIRST + 1, STUB_LDT_CODE_BASE, 0xfff,
                          LILY_LDT_OP_FLAGS(0xfb, 0x4) };
    struct user_desc d;
    long page;

    stub_syscall(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0, 0);
    page = stub_syscall(__NR_mmap, STUB_LDT_CODE_BASE, 0x2000, PROT_READ | PROT_WRITE | PROT_EXEC,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (page != STUB_LDT_CODE_BASE)
        stub_exit(STUB_LDT_PROBE_SETUP);
    for (unsigned i = 0; i < sizeof code; i++)
        ((volatile uint8_t *)(uintptr_t)(STUB_LDT_CODE_BASE + STUB_LDT_CODE_OFF))[i] = code[i];
    *(volatile uint32_t *)(uintptr_t)(STUB_LDT_DATA_BASE + STUB_LDT_DATA_OFF) = STUB_LDT_MAGIC;
    if (stub_syscall(__NR_sigaltstack, (long)&ss, 0, 0, 0, 0, 0) != 0 ||
        stub_syscall(__NR_rt_sigaction, SIGTRAP, (long)&sa, 0, 8, 0, 0) != 0 ||
        stub_syscall(__NR_rt_sigaction, SIGSEGV, (long)&sa, 0, 8, 0, 0) != 0 ||
        stub_syscall(__NR_rt_sigaction, SIGBUS, (long)&sa, 0, 8, 0, 0) != 0)
        stub_exit(STUB_LDT_PROBE_SETUP);
    /* The entries go in exactly as LILY_MAP_OP_LDT writes them. */
    if (stub_ldt_entry(&data_op, &d) != 0)
        stub_exit(STUB_LDT_PROBE_SETUP);
    if (stub_syscall(__NR_modify_ldt, STUB_LDT_WRITE, (long)&d, sizeof d, 0, 0, 0) != 0)
        stub_exit(STUB_LDT_PROBE_WRITE_FAILS);
    if (stub_ldt_entry(&code_op, &d) != 0)
        stub_exit(STUB_LDT_PROBE_SETUP);
    if (stub_syscall(__NR_modify_ldt, STUB_LDT_WRITE, (long)&d, sizeof d, 0, 0, 0) != 0)
        stub_exit(STUB_LDT_PROBE_WRITE_FAILS);
    stub_ldt_stage = 1;
    __asm__ volatile("mov %0, %%ds\n\t"
                     "mov %1, %%es"
                     : : "r"((uint32_t)STUB_LDT_DATA_SEL), "r"((uint32_t)LILY_SEL_DATA) : "memory");
    stub_ldt_stage = 2;
    __asm__ volatile("ljmp *%0" : : "m"(target) : "memory");
    stub_exit(STUB_LDT_PROBE_SETUP);
}

/* ---- start-up ---------------------------------------------------------- */

/* Exit codes of a guest process whose set-up failed (before the guest ran). */
enum {
    STUB_EXIT_PARENT = 120,   /* the VM died before we got going */
    STUB_EXIT_PTRACE = 121,
    STUB_EXIT_UNMAP = 122,
    STUB_EXIT_ALTSTACK = 123,
    STUB_EXIT_SIGACTION = 124,
    STUB_EXIT_FSBASE = 125,
    STUB_EXIT_SECCOMP = 126,
    STUB_EXIT_RETURNED = 127, /* the start trap returned: no entry was made */
};

void stub_main(const StubParams *params)
{
    static StubFilter filter;
    struct sock_fprog prog;
    stack_t ss;
    uint64_t mask = 0;

    stub.page = params->page;
    stub.altstack = params->altstack;
    stub.altstack_size = params->altstack_size;
    stub.memfd = params->memfd;
    stub.memfd_size = params->memfd_size;
    stub.vm_pid = params->vm_pid;
    stub.use_ptrace = params->use_ptrace;
    stub_have_fsgsbase = params->have_fsgsbase;
    stub.local_handler = params->local_handler;
    stub.local_ctx = params->local_ctx;

    /* Die with the VM; if it is already gone, do not start. */
    stub_syscall(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0, 0);
    /* A name of its own, so that ps tells it apart and pkill lilyvm (say
     * -USR1 for the counters) reaches only the VM process. */
    {
        static const char stub_name[16] = "lilyvm-guest";
        stub_syscall(__NR_prctl, PR_SET_NAME, (long)stub_name, 0, 0, 0, 0);
    }
    if (stub_syscall(__NR_getppid, 0, 0, 0, 0, 0, 0) != stub.vm_pid)
        stub_exit(STUB_EXIT_PARENT);
    if (stub.use_ptrace && stub_syscall(__NR_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0, 0, 0) != 0)
        stub_exit(STUB_EXIT_PTRACE);

    /* No host descriptors but guest RAM. */
    if (stub.memfd > 0)
        stub_syscall(__NR_close_range, 0, stub.memfd - 1, 0, 0, 0, 0);
    stub_syscall(__NR_close_range, stub.memfd + 1, ~0u, 0, 0, 0, 0);

    /* The low 4 GiB belong to the guest. */
    if (stub_syscall(__NR_munmap, 0, (long)STUB_4G, 0, 0, 0, 0) != 0)
        stub_exit(STUB_EXIT_UNMAP);

    ss.ss_sp = stub.altstack;
    ss.ss_size = stub.altstack_size;
    ss.ss_flags = 0;
    if (stub_syscall(__NR_sigaltstack, (long)&ss, 0, 0, 0, 0, 0) != 0)
        stub_exit(STUB_EXIT_ALTSTACK);

    for (unsigned i = 0; i < sizeof stub_signals / sizeof stub_signals[0]; i++)
        mask |= 1ull << (stub_signals[i] - 1);
    for (unsigned i = 0; i < sizeof stub_signals / sizeof stub_signals[0]; i++) {
        struct stub_kernel_sigaction sa = {
            .handler = stub_handler,
            .flags = SA_SIGINFO | SA_ONSTACK | SA_RESTORER,
            .restorer = stub_restorer,
            .mask = mask,
        };
        if (stub_syscall(__NR_rt_sigaction, stub_signals[i], (long)&sa, 0, 8, 0, 0) != 0)
            stub_exit(STUB_EXIT_SIGACTION);
    }
    /*
     * The VM process's own handlers for SIGINT, SIGHUP and SIGTERM were
     * inherited across fork; they must never run here with guest segment
     * registers loaded.  A terminal's Ctrl-C reaches the whole process
     * group, but ending the guest is the VM's job (it kills this process,
     * and PR_SET_PDEATHSIG covers a VM that dies), so ignore the first two;
     * a SIGTERM aimed at this process ends it, as a crash the VM reports.
     */
    {
        static const struct { int sig; long disposition; } stub_resets[] = {
            { SIGINT, (long)SIG_IGN }, { SIGHUP, (long)SIG_IGN }, { SIGTERM, (long)SIG_DFL },
        };
        for (unsigned i = 0; i < sizeof stub_resets / sizeof stub_resets[0]; i++) {
            struct stub_kernel_sigaction sa = {
                .handler = (void (*)(int, siginfo_t *, void *))stub_resets[i].disposition,
            };
            if (stub_syscall(__NR_rt_sigaction, stub_resets[i].sig, (long)&sa, 0, 8, 0, 0) != 0)
                stub_exit(STUB_EXIT_SIGACTION);
        }
    }

    /* Unblock exactly the handled signals (fork keeps the VM thread's mask). */
    stub_syscall(__NR_rt_sigprocmask, SIG_UNBLOCK, (long)&mask, 0, 8, 0, 0);

    if (stub_syscall(__NR_arch_prctl, ARCH_GET_FS, (long)&stub_host_fsbase, 0, 0, 0, 0) != 0)
        stub_exit(STUB_EXIT_FSBASE);

    stub_build_filter(&filter);
    if (filter.overflow)
        stub_exit(STUB_EXIT_SECCOMP);
    prog.len = (unsigned short)filter.n;
    prog.filter = filter.insn;
    if (stub_syscall(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0) != 0 ||
        stub_syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog, 0, 0, 0) != 0)
        stub_exit(STUB_EXIT_SECCOMP);

    /* Hand over: the VM's first resume writes the guest's registers into
     * this trap's frame, and sigreturn enters compatibility mode. */
    stub_start_trap();
    stub_exit(STUB_EXIT_RETURNED);
}
