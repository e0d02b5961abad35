/*
 * cpu-ia32 in-guest fast path: cli, sti, pushf/popf sites and reads of the
 * control registers emulated inside the guest process, without a crossing.
 *
 * DOC: Rules for this file
 * cpu_local_handle() runs in the guest process's signal handler, under the
 * seccomp filter, with the host FS base loaded by the stub.  The file is
 * built with the stub's flags (plugins/cpu-ia32/module.mk: no stack
 * protector, no sanitizers, no builtins): it calls nothing, allocates
 * nothing, makes no syscall and keeps no state but the shared page.  The
 * decode is the few fixed encodings below (the rewrite site's vector says
 * which instruction follows); anything else returns false, which hands the
 * trap to the VM untouched.  The semantics must be exactly the VM's
 * (emulate.c, state.c); tests/cpu/local-test.c compares the two.
 */
#include <signal.h>
#include <stddef.h>

#include <lilyvm/rewrite.h>
#include "plugins/cpu-ia32/local.h"

#define LOCAL_4G 0x100000000ull
#define LOCAL_GP 13u
/* EFLAGS bits (as in cpu.h, which this file does not include). */
#define FL_FIXED 0x2u
#define FL_IF 0x200u
#define FL_IOPL 0x3000u
#define FL_RF 0x10000u
#define FL_VM 0x20000u
#define FL_NATIVE 0x8d5u /* CF PF AF ZF SF DF OF */
#define FL_POPF_CAN (FL_NATIVE | 0x100u | 0x4000u | 0x40000u | 0x200000u | FL_RF)
#define FL_RESERVED 0xffc08028u
/* Paging bits. */
#define CR0_PG 0x80000000u
#define CR4_PSE 0x10u
#define CR4_SMEP 0x100000u
#define PTE_P 0x1u
#define PTE_W 0x2u
#define PTE_U 0x4u
#define PTE_A 0x20u
#define PTE_D 0x40u
#define PDE_PS 0x80u

enum { ACC_READ = 0, ACC_WRITE = 1, ACC_EXEC = 2 };

#define LOCAL_FN __attribute__((no_sanitize("address", "undefined"), no_stack_protector))

static inline uint32_t ld32(const volatile uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* A 32-bit little-endian word of guest RAM (gpa 4-aligned, below the limit). */
LOCAL_FN static inline uint32_t ram_word(const CpuLocalCtx *c, uint32_t gpa)
{
    return __atomic_load_n((const uint32_t *)(c->ram + gpa), __ATOMIC_RELAXED);
}

/*
 * Where guest-virtual [va, va + len) lives in guest RAM, or NULL when the
 * handler cannot tell without side effects: the range crosses a page, the
 * tables deny the access, Accessed (or Dirty, for a write) is still clear
 * and the VM would set it, or the page is not plain RAM (beyond the limit,
 * or in a run a device claims).  A NULL sends the
 * trap to the VM, which does the full walk (and raises #PF if due).
 */
LOCAL_FN static uint8_t *local_translate(const CpuLocalCtx *c, const CpuLocal *sh,
                                          uint32_t va, uint32_t len, int acc)
{
    uint32_t limit = ld32(&sh->ram_limit);
    uint32_t cr0 = ld32(&sh->cr0), cr4 = ld32(&sh->cr4), n;
    uint64_t gpa;

    if (len == 0 || ((va ^ (va + len - 1)) & 0xfffff000u))
        return NULL;
    if (limit > c->ram_size)
        limit = (uint32_t)c->ram_size;
    if (!(cr0 & CR0_PG)) {
        gpa = va;
    } else {
        bool user = ld32(&sh->cpl) == 3;
        uint32_t pde_gpa = (ld32(&sh->cr3) & 0xfffff000u) + (va >> 22) * 4;
        uint32_t pde, leaf, rights;

        if ((uint64_t)pde_gpa + 4 > limit)
            return NULL;
        pde = ram_word(c, pde_gpa);
        if ((pde & (PTE_P | PTE_A)) != (PTE_P | PTE_A))
            return NULL;
        if ((cr4 & CR4_PSE) && (pde & PDE_PS)) {
            if (pde & 0x003fe000u)
                return NULL; /* PSE-36 bits: the VM raises the reserved-bit #PF */
            leaf = pde;
            rights = pde;
            gpa = (pde & 0xffc00000u) | (va & 0x003fffffu);
        } else {
            uint32_t pte_gpa = (pde & 0xfffff000u) + ((va >> 12) & 0x3ff) * 4;
            if ((uint64_t)pte_gpa + 4 > limit)
                return NULL;
            leaf = ram_word(c, pte_gpa);
            if ((leaf & (PTE_P | PTE_A)) != (PTE_P | PTE_A))
                return NULL;
            rights = pde & leaf;
            gpa = (leaf & 0xfffff000u) | (va & 0xfffu);
        }
        /* Stricter than the CPU (no supervisor write to a read-only page
         * even with CR0.WP clear, no SMEP question): the VM decides those. */
        if (user && !(rights & PTE_U))
            return NULL;
        if (!user && (cr4 & CR4_SMEP) && (rights & PTE_U))
            return NULL;
        if (acc == ACC_WRITE && (!(rights & PTE_W) || !(leaf & PTE_D)))
            return NULL;
    }
    if (gpa + len > limit)
        return NULL;
    n = ld32(&sh->n_holes);
    if (n > CPU_LOCAL_HOLES_MAX)
        return NULL;
    for (uint32_t i = 0; i < n; i++)
        if (gpa + len > sh->holes[i].lo && gpa < sh->holes[i].hi)
            return NULL; /* a device's page: the VM emulates the access */
    return c->ram + gpa;
}

/* Up to max instruction bytes at va, within its page; how many were read. */
LOCAL_FN static uint32_t local_fetch(const CpuLocalCtx *c, const CpuLocal *sh, uint32_t va,
                                     uint8_t *buf, uint32_t max)
{
    uint32_t n = 4096 - (va & 0xfffu);
    const volatile uint8_t *p;

    if (n > max)
        n = max;
    p = local_translate(c, sh, va, n, ACC_EXEC);
    if (!p)
        return 0;
    for (uint32_t i = 0; i < n; i++)
        buf[i] = p[i];
    return n;
}

LOCAL_FN static uint32_t local_load(const volatile uint8_t *p, uint32_t size)
{
    uint32_t v = 0;
    for (uint32_t i = 0; i < size; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

LOCAL_FN static void local_store(volatile uint8_t *p, uint32_t v, uint32_t size)
{
    for (uint32_t i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The guest's EFLAGS as the VM would assemble them (cpu_regs_in). */
LOCAL_FN static uint32_t local_eflags(const CpuLocal *sh, const LilyRegs *regs)
{
    return (ld32(&sh->eflags) & ~FL_NATIVE) | (regs->eflags & FL_NATIVE) | FL_FIXED;
}

/*
 * Commit a new EFLAGS: the virtual part to the page, the native part to the
 * registers (as cpu_regs_out would: IF on, IOPL 0 natively).
 */
LOCAL_FN static void local_set_eflags(CpuLocal *sh, LilyRegs *regs, uint32_t fl)
{
    __atomic_store_n(&sh->eflags, fl, __ATOMIC_RELAXED);
    regs->eflags = (fl & FL_NATIVE) | FL_IF | FL_FIXED;
}

LOCAL_FN static void local_count(CpuLocal *sh, unsigned kind)
{
    __atomic_store_n(&sh->count[kind], __atomic_load_n(&sh->count[kind], __ATOMIC_RELAXED) + 1,
                     __ATOMIC_RELAXED);
}

/* Would the VM let an instruction at this CPL touch IF (cli, sti)? */
LOCAL_FN static bool local_io_allowed(const CpuLocal *sh, uint32_t fl)
{
    return ld32(&sh->cpl) <= ((fl & FL_IOPL) >> 12);
}

LOCAL_FN static bool local_cli_sti(const CpuLocalCtx *c, CpuLocal *sh, LilyRegs *regs, bool sti)
{
    uint32_t fl = local_eflags(sh, regs);
    uint8_t next;

    if (!local_io_allowed(sh, fl))
        return false; /* #GP: the VM delivers it */
    if (sti) {
        if (!(fl & FL_IF) && ld32(&sh->intr_pending))
            return false; /* an interrupt becomes deliverable */
        /* sti; hlt is one step for the VM (the interrupt shadow). */
        if (local_fetch(c, sh, regs->eip + 1, &next, 1) != 1 || next == 0xf4)
            return false;
        fl |= FL_IF;
    } else {
        fl &= ~FL_IF;
    }
    local_set_eflags(sh, regs, fl);
    regs->eip += 1;
    local_count(sh, sti ? CPU_LOCAL_STI : CPU_LOCAL_CLI);
    return true;
}

/*
 * The EFLAGS popf or iret would set from v at CPL 0 (cpu_set_eflags), or 0
 * when the result needs the VM: TF, NT, AC, ID or RF would change (only
 * IF, IOPL and the native flags are handled here), or IF rises while an
 * interrupt is pending.  0 is never a valid result (bit 1 is always set).
 */
LOCAL_FN static uint32_t local_pop_flags(const CpuLocal *sh, uint32_t fl, uint32_t v,
                                         uint32_t mask)
{
    uint32_t can = FL_POPF_CAN, iopl = (fl & FL_IOPL) >> 12, cpl = ld32(&sh->cpl), nfl;

    if (cpl == 0)
        can |= FL_IOPL | FL_IF;
    else if (cpl <= iopl)
        can |= FL_IF;
    can &= mask;
    nfl = ((fl & ~can) | (v & can) | FL_FIXED) & ~(FL_VM | FL_RESERVED);
    if ((nfl ^ fl) & ~(FL_NATIVE | CPU_LOCAL_FL_MUTABLE))
        return 0;
    if ((nfl & FL_IF) && !(fl & FL_IF) && ld32(&sh->intr_pending))
        return 0;
    return nfl;
}

/* The rewrite site `int $vec; [66] 9C|9D` at regs->eip (CPL 0). */
LOCAL_FN static bool local_pushf_popf(const CpuLocalCtx *c, CpuLocal *sh, LilyRegs *regs,
                                      const uint8_t *code, uint32_t n)
{
    bool push = code[1] == LILY_REWRITE_VEC_PUSHF;
    uint8_t op = push ? 0x9c : 0x9d;
    uint32_t osz, len, fl = local_eflags(sh, regs);
    volatile uint8_t *p;

    if (n >= 3 && code[2] == op) {
        osz = 4;
        len = 3;
    } else if (n >= 4 && code[2] == 0x66 && code[3] == op) {
        osz = 2;
        len = 4;
    } else {
        return false; /* another encoding (or a corrupt site): the VM decodes it */
    }
    if (push) {
        uint32_t sp = regs->esp - osz;
        p = local_translate(c, sh, sp, osz, ACC_WRITE);
        if (!p)
            return false;
        local_store(p, (fl & ~(FL_RF | FL_VM)) | FL_FIXED, osz);
        regs->esp = sp;
    } else {
        uint32_t nfl;

        p = local_translate(c, sh, regs->esp, osz, ACC_READ);
        if (!p)
            return false;
        nfl = local_pop_flags(sh, fl, local_load(p, osz), osz == 2 ? 0xffffu : 0xffffffffu);
        if (!nfl)
            return false;
        fl = nfl;
        regs->esp += osz;
    }
    local_set_eflags(sh, regs, fl);
    regs->eip += len;
    local_count(sh, push ? CPU_LOCAL_PUSHF : CPU_LOCAL_POPF);
    return true;
}

LOCAL_FN static void local_set_gpr(LilyRegs *regs, unsigned r, uint32_t v)
{
    switch (r & 7) {
    case 0: regs->eax = v; break;
    case 1: regs->ecx = v; break;
    case 2: regs->edx = v; break;
    case 3: regs->ebx = v; break;
    case 4: regs->esp = v; break;
    case 5: regs->ebp = v; break;
    case 6: regs->esi = v; break;
    default: regs->edi = v; break;
    }
}

/* mov %crN, %r32 (0F 20 /r, register form) at CPL 0. */
LOCAL_FN static bool local_cr_read(CpuLocal *sh, LilyRegs *regs, uint8_t modrm)
{
    unsigned n = (modrm >> 3) & 7;
    uint32_t v;

    if ((modrm & 0xc0) != 0xc0 || ld32(&sh->cpl) != 0)
        return false;
    switch (n) {
    case 0: v = ld32(&sh->cr0); break;
    case 2: v = ld32(&sh->cr2); break;
    case 3: v = ld32(&sh->cr3); break;
    case 4: v = ld32(&sh->cr4); break;
    default: return false; /* #UD: the VM raises it */
    }
    local_set_gpr(regs, modrm & 7, v);
    regs->eip += 3;
    local_count(sh, CPU_LOCAL_CR_READ);
    return true;
}

/*
 * iret (CF, 32-bit) at CPL 0 back to CPL 0 through the same code segment:
 * the VM's cpu_iret() would reload CS from a descriptor identical to its
 * cache (checked here byte by byte, Accessed already set, flat 32-bit code)
 * and change nothing but EIP, ESP and EFLAGS.  Everything else crosses:
 * another CS or level, NT (task return), a descriptor that differs, flags
 * the VM must see, a pending interrupt that IF would let in.
 */
LOCAL_FN static bool local_iret(const CpuLocalCtx *c, CpuLocal *sh, LilyRegs *regs)
{
    uint32_t fl = local_eflags(sh, regs), frame[3], nfl, sel, gdt;
    const volatile uint8_t *p, *d;

    if (ld32(&sh->cpl) != 0 || (fl & 0x4000u /* NT */))
        return false;
    p = local_translate(c, sh, regs->esp, 12, ACC_READ);
    if (!p)
        return false;
    for (unsigned i = 0; i < 3; i++)
        frame[i] = local_load(p + 4 * i, 4);
    sel = frame[1] & 0xffffu;
    if (sel == 0 || sel != sh->cs_sel || (sel & 7) != 0 || (frame[2] & FL_VM))
        return false;
    /* The descriptor in the GDT, read as cpu_read_desc() would. */
    gdt = ld32(&sh->gdt_base);
    if ((sel | 7) > ld32(&sh->gdt_limit))
        return false;
    d = local_translate(c, sh, gdt + sel, 8, ACC_READ);
    if (!d)
        return false;
    /* Flat (base 0, limit 0xfffff pages), present DPL-0 code, accessed,
     * G and D set: exactly the cached access byte and flags. */
    if (d[0] != 0xff || d[1] != 0xff || d[2] || d[3] || d[4] || d[7] ||
        (d[6] & 0x0f) != 0x0f || d[5] != sh->cs_access || (d[6] >> 4) != sh->cs_flags ||
        (d[5] & 0xf9u) != 0x99u || (sh->cs_flags & 0xcu) != 0xcu)
        return false;
    nfl = local_pop_flags(sh, fl, frame[2], 0xffffffffu);
    if (!nfl)
        return false;
    local_set_eflags(sh, regs, nfl);
    regs->esp += 12;
    regs->eip = frame[0];
    local_count(sh, CPU_LOCAL_IRET);
    return true;
}

LOCAL_FN bool cpu_local_handle(void *ctx, LilyRegs *regs, const LilyTrap *trap)
{
    const CpuLocalCtx *c = ctx;
    CpuLocal *sh = c->shared;
    uint8_t code[4];
    uint32_t n;

    if (!ld32(&sh->enabled))
        return false;
    /*
     * Only #GP from 32-bit guest code with the VM's selectors in place, on
     * the flat code and stack segments: this code takes EIP and ESP for
     * linear addresses, so a CS or SS with a base (a host LDT mirror)
     * always crosses.
     */
    if (trap->signo != SIGSEGV || trap->trapno != LOCAL_GP || trap->host_ip >= LOCAL_4G ||
        regs->cs != LILY_SEL_CODE32 || regs->ss != LILY_SEL_DATA)
        return false;
    if (regs->es != sh->host_sel[0] || regs->ss != sh->host_sel[2] ||
        regs->ds != sh->host_sel[3] || regs->fs != sh->host_sel[4] ||
        regs->gs != sh->host_sel[5])
        return false; /* a native segment load: the VM resynchronises */
    n = local_fetch(c, sh, regs->eip, code, sizeof code);
    if (n == 0)
        return false;
    switch (code[0]) {
    case 0xfa: /* cli */
    case 0xfb: /* sti */
        if (trap->error_code != 0)
            return false;
        return local_cli_sti(c, sh, regs, code[0] == 0xfb);
    case 0x0f:
        if (n < 3 || code[1] != 0x20 || trap->error_code != 0)
            return false;
        return local_cr_read(sh, regs, code[2]);
    case 0xcf: /* iret */
        return local_iret(c, sh, regs);
    case LILY_REWRITE_TRAP_OPCODE:
        /* A site only at CPL 0 (else a software interrupt, as in the VM). */
        if (n < 3 || (code[1] != LILY_REWRITE_VEC_PUSHF && code[1] != LILY_REWRITE_VEC_POPF) ||
            ld32(&sh->cpl) != 0)
            return false;
        return local_pushf_popf(c, sh, regs, code, n);
    default:
        return false;
    }
}
