/*
 * cpu-ia32: the virtual CPU's state at reset, the exchange of registers with
 * the transport, and guest memory as the CPU sees it (through the MMU).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plugins/cpu-ia32/cpu.h"

const char *const cpu_stat_names[CPU_STAT_N] = {
    [CPU_STAT_TRAPS] = "traps",           [CPU_STAT_IO] = "io",
    [CPU_STAT_CLI_STI] = "cli_sti",       [CPU_STAT_PUSHF_POPF] = "pushf_popf",
    [CPU_STAT_CR] = "cr_access",          [CPU_STAT_PAGE_FAULTS] = "page_faults",
    [CPU_STAT_GUEST_PF] = "guest_page_faults", [CPU_STAT_MMIO] = "mmio",
    [CPU_STAT_INTERRUPTS] = "interrupts", [CPU_STAT_EXCEPTIONS] = "exceptions",
    [CPU_STAT_SOFT_INT] = "soft_interrupts", [CPU_STAT_SYSCALLS] = "syscalls",
    [CPU_STAT_HLT] = "hlt",               [CPU_STAT_SEG] = "segment_ops",
    [CPU_STAT_REWRITE] = "rewrite_sites", [CPU_STAT_OTHER] = "other",
};

/* Flat 4 GiB segment with the given access byte. */
static void cpu_flat(CpuSeg *sg, uint16_t sel, uint8_t access)
{
    sg->sel = sel;
    sg->access = access;
    sg->flags = 0xc;
    sg->base = 0;
    sg->limit = 0xffffffffu;
}

void cpu_reset(CpuState *s, uint32_t eip, uint32_t eax, uint32_t ebx)
{
    memset(s, 0, sizeof *s); /* host_ldt too: the caller sets it after the probe */
    s->eip = eip;
    s->gpr[CPU_EAX] = eax;
    s->gpr[CPU_EBX] = ebx;
    /*
     * Multiboot leaves ESP undefined, yet kernels push before they load
     * their own stack (as under QEMU, whose loader leaves a low stack):
     * start with one in free conventional memory, above the 64 KiB that
     * vm.mmap_min_addr often keeps unmappable and below the Multiboot info.
     */
    s->gpr[CPU_ESP] = CPU_BOOT_ESP;
    s->eflags = CPU_FL_FIXED;
    /* Multiboot: CS a flat code segment, the rest flat data; GDTR undefined. */
    cpu_flat(&s->seg[CPU_CS], 0x08, 0x9b);
    for (unsigned r = 0; r < CPU_NSEG; r++)
        if (r != CPU_CS)
            cpu_flat(&s->seg[r], 0x10, 0x93);
    s->ldtr.access = 0x82;
    s->tr.access = 0x8b;
    s->tr.limit = 0xffff;
    s->ldtr.limit = 0xffff;
    s->idt_limit = 0x3ff;
    s->cr0 = CPU_CR0_PE | CPU_CR0_ET;
    s->dr[6] = 0xffff0ff0u;
    s->dr[7] = 0x400;
    s->msr_apic_base = 0xfee00900u; /* enabled, bootstrap processor */
    s->batch.ops = s->ops;
    s->batch.max = CPU_MMU_OPS_MAX;
    for (unsigned r = 0; r < CPU_NSEG; r++)
        s->host_sel[r] = r == CPU_CS ? LILY_SEL_CODE32 : LILY_SEL_DATA;
}

/*
 * The host selector that stands for a guest segment register: the host's
 * flat ones for flat segments; for the others the mirror in the host LDT
 * when the host honours it, else (data segments only: a CS or SS that is
 * not flat is refused at its load) the null selector, so that every access
 * through them traps and is emulated.
 */
uint16_t cpu_host_sel(const CpuState *s, unsigned r)
{
    const CpuSeg *sg = &s->seg[r];
    bool flat = sg->base == 0 && sg->limit == 0xffffffffu;
    bool ldt = s->host_ldt == CPU_HOST_LDT_ON;

    if (r == CPU_CS)
        return flat || !ldt ? LILY_SEL_CODE32 : LILY_LDT_SEL(CPU_CS);
    if (r == CPU_SS)
        return flat || !ldt ? LILY_SEL_DATA : LILY_LDT_SEL(CPU_SS);
    if (!(sg->sel & ~3u))
        return 0;
    if (flat)
        return LILY_SEL_DATA;
    return ldt ? LILY_LDT_SEL(r) : 0;
}

const char *cpu_ldt_unavailable(const CpuState *s)
{
    return s->host_ldt == CPU_HOST_LDT_OFF
               ? "the host_ldt option is off"
               : "the host does not honour the LDT (the host_ldt probe failed; see docs/cpu.md)";
}

/* Does the host LDT entry of register r hold exactly this segment? */
static bool cpu_ldt_holds(const CpuState *s, unsigned r, const CpuSeg *sg)
{
    const CpuSeg *h = &s->ldt_slot[r];
    return s->ldt_valid[r] && h->base == sg->base && h->limit == sg->limit &&
           h->access == sg->access && h->flags == sg->flags;
}

uint32_t cpu_ldt_ops(CpuState *s, LilyMapOp *ops, uint32_t room)
{
    uint32_t n = 0;
    if (s->host_ldt != CPU_HOST_LDT_ON)
        return 0; /* every resume asks: without mirrors there is nothing to write */
    for (unsigned r = 0; r < CPU_NSEG; r++) {
        const CpuSeg *sg = &s->seg[r];
        if (cpu_host_sel(s, r) != LILY_LDT_SEL(r) || cpu_ldt_holds(s, r, sg))
            continue;
        if (n == room)
            break; /* cannot happen: the MMU leaves CPU_LDT_OPS_MAX free */
        /*
         * The guest's descriptor as the host may hold it: present, DPL 3
         * (natively everything runs at CPL 3), accessed; a conforming code
         * segment as a non-conforming one (the host refuses present
         * conforming entries; at DPL 3 there is no difference); never L.
         */
        uint8_t access = (uint8_t)(sg->access | 0xf1);
        if (access & 0x08)
            access &= (uint8_t)~0x04;
        uint32_t limit = (sg->flags & 0x8) ? sg->limit >> 12 : sg->limit;
        ops[n++] = (LilyMapOp){
            .kind = LILY_MAP_OP_LDT,
            .prot = LILY_LDT_FIRST + r,
            .guest_addr = sg->base,
            .len = limit & 0xfffff,
            .file_offset = LILY_LDT_OP_FLAGS(access, sg->flags & 0xd),
        };
        s->ldt_slot[r] = *sg;
        s->ldt_valid[r] = true;
    }
    return n;
}

void cpu_regs_in(CpuState *s, const LilyRegs *r)
{
    s->gpr[CPU_EAX] = r->eax;
    s->gpr[CPU_ECX] = r->ecx;
    s->gpr[CPU_EDX] = r->edx;
    s->gpr[CPU_EBX] = r->ebx;
    s->gpr[CPU_ESP] = r->esp;
    s->gpr[CPU_EBP] = r->ebp;
    s->gpr[CPU_ESI] = r->esi;
    s->gpr[CPU_EDI] = r->edi;
    s->eip = r->eip;
    s->eflags = (s->eflags & ~CPU_FL_NATIVE) | (r->eflags & CPU_FL_NATIVE) | CPU_FL_FIXED;
    s->host_sel[CPU_CS] = r->cs;
    s->host_sel[CPU_SS] = r->ss;
    s->host_sel[CPU_DS] = r->ds;
    s->host_sel[CPU_ES] = r->es;
    s->host_sel[CPU_FS] = r->fs;
    s->host_sel[CPU_GS] = r->gs;
}

void cpu_regs_out(const CpuState *s, LilyRegs *r)
{
    r->eax = s->gpr[CPU_EAX];
    r->ecx = s->gpr[CPU_ECX];
    r->edx = s->gpr[CPU_EDX];
    r->ebx = s->gpr[CPU_EBX];
    r->esp = s->gpr[CPU_ESP];
    r->ebp = s->gpr[CPU_EBP];
    r->esi = s->gpr[CPU_ESI];
    r->edi = s->gpr[CPU_EDI];
    r->eip = s->eip;
    /* Natively IF is always on and IOPL 0; the rest lives in s->eflags. */
    r->eflags = (s->eflags & CPU_FL_NATIVE) | CPU_FL_IF | CPU_FL_FIXED;
    r->cs = cpu_host_sel(s, CPU_CS);
    r->ss = cpu_host_sel(s, CPU_SS);
    r->ds = cpu_host_sel(s, CPU_DS);
    r->es = cpu_host_sel(s, CPU_ES);
    r->fs = cpu_host_sel(s, CPU_FS);
    r->gs = cpu_host_sel(s, CPU_GS);
}

CpuRes cpu_fail(CpuState *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* vsnprintf into a fixed buffer: no allocation (the glue is in the VM for now). */
    vsnprintf(s->fatal_buf, sizeof s->fatal_buf, fmt, ap);
    va_end(ap);
    s->fatal = s->fatal_buf;
    return CPU_R_FATAL;
}

CpuRes cpu_raise(CpuState *s, unsigned vector, bool has_error, uint32_t error)
{
    s->exc_vector = (uint8_t)vector;
    s->exc_has_error = has_error;
    s->exc_error = error;
    return CPU_R_EXC;
}

/*
 * Translate one guest-virtual address.  Returns CPU_R_OK with *gpa, or raises
 * #PF.  *mmio is set when the address belongs to a device.
 */
static CpuRes cpu_translate(CpuState *s, const CpuEnv *env, uint32_t va, unsigned acc,
                            uint64_t *gpa, bool *mmio)
{
    *mmio = false;
    /* With an MMU, ask it even with paging off: it knows which frames are devices
     * (the VGA window lies inside RAM's range). */
    if (!env->mmu) {
        *gpa = va;
        *mmio = va >= env->ram_size;
        return CPU_R_OK;
    }
    unsigned a = acc & (CPU_ACC_WRITE | CPU_ACC_EXEC);
    if (s->cpl == 3 && !(acc & CPU_ACC_SYS))
        a |= CPU_ACC_USER;
    uint32_t pf_error = 0;
    LilyMmuResult r = env->mmu->translate(env->mmu_state, va, a, gpa, &pf_error);
    switch ((int)r) {
    case LILY_MMU_OK:
    case LILY_MMU_EMULATE:
        *mmio = *gpa >= env->ram_size;
        return CPU_R_OK;
    case LILY_MMU_MMIO:
    case LILY_MMU_BAD_GPA:
        *mmio = true;
        return CPU_R_OK;
    case LILY_MMU_GUEST_FAULT:
        s->cr2 = va;
        return cpu_raise(s, CPU_EXC_PF, true, pf_error);
    default:
        return cpu_fail(s, "the MMU answered %d translating 0x%x", (int)r, va);
    }
}

/* Copy to or from guest-virtual memory, page by page. */
static CpuRes cpu_access(CpuState *s, const CpuEnv *env, uint32_t va, uint8_t *buf,
                         uint32_t len, unsigned acc, bool write)
{
    while (len) {
        uint32_t chunk = 4096 - (va & 4095);
        if (chunk > len)
            chunk = len;
        uint64_t gpa;
        bool mmio;
        CpuRes r = cpu_translate(s, env, va, acc | (write ? CPU_ACC_WRITE : 0), &gpa, &mmio);
        if (r != CPU_R_OK)
            return r;
        if (!mmio && gpa + chunk <= env->ram_size) {
            if (write)
                memcpy(env->ram + gpa, buf, chunk);
            else
                memcpy(buf, env->ram + gpa, chunk);
        } else {
            /* Devices (or nothing): byte by byte; unclaimed reads give ones. */
            for (uint32_t i = 0; i < chunk; i++) {
                if (write)
                    env->mmio_write(env->opaque, gpa + i, 1, buf[i]);
                else
                    buf[i] = (uint8_t)env->mmio_read(env->opaque, gpa + i, 1);
            }
        }
        va += chunk;
        buf += chunk;
        len -= chunk;
    }
    return CPU_R_OK;
}

CpuRes cpu_read(CpuState *s, const CpuEnv *env, uint32_t va, void *buf, uint32_t len,
                unsigned acc)
{
    return cpu_access(s, env, va, buf, len, acc & ~CPU_ACC_WRITE, false);
}

CpuRes cpu_write(CpuState *s, const CpuEnv *env, uint32_t va, const void *buf, uint32_t len,
                 unsigned acc)
{
    return cpu_access(s, env, va, (uint8_t *)buf, len, acc, true);
}

uint32_t cpu_fetch(CpuState *s, const CpuEnv *env, uint32_t va, uint8_t *buf, uint32_t max)
{
    uint32_t first = 4096 - (va & 4095);
    if (first > max)
        first = max;
    if (cpu_read(s, env, va, buf, first, CPU_ACC_EXEC) != CPU_R_OK)
        return 0;
    if (first == max)
        return max;
    /* The rest is on the next page: take it if it is there. */
    uint8_t save = s->exc_vector;
    bool he = s->exc_has_error;
    uint32_t ee = s->exc_error, cr2 = s->cr2;
    if (cpu_read(s, env, va + first, buf + first, max - first, CPU_ACC_EXEC) != CPU_R_OK) {
        s->exc_vector = save;
        s->exc_has_error = he;
        s->exc_error = ee;
        s->cr2 = cr2;
        s->fatal = NULL;
        return first;
    }
    return max;
}

CpuRes cpu_push(CpuState *s, const CpuEnv *env, uint32_t v, unsigned size)
{
    uint32_t sp = s->gpr[CPU_ESP] - size;
    CpuRes r = cpu_write(s, env, cpu_ss_lin(s, sp), &v, size, 0);
    if (r == CPU_R_OK)
        s->gpr[CPU_ESP] = sp;
    return r;
}

CpuRes cpu_pop(CpuState *s, const CpuEnv *env, uint32_t *v, unsigned size)
{
    *v = 0;
    CpuRes r = cpu_read(s, env, cpu_ss_lin(s, s->gpr[CPU_ESP]), v, size, 0);
    if (r == CPU_R_OK)
        s->gpr[CPU_ESP] += size;
    return r;
}

void cpu_mmu_control(CpuState *s, const CpuEnv *env)
{
    /*
     * The FPU bits are none of the MMU's business and change without it
     * hearing (clts, a task switch's TS): keep them out, or a later
     * same-value CR3 write would look like a CR0 change instead of the
     * reload (and flush) it is.
     */
    uint32_t cr0 = s->cr0 & ~(CPU_CR0_TS | CPU_CR0_EM | CPU_CR0_MP);
    if (env->mmu)
        env->mmu->set_control(env->mmu_state, cr0, s->cr3, s->cr4, &s->batch);
}

void cpu_set_cpl(CpuState *s, const CpuEnv *env, unsigned cpl)
{
    if (cpl == s->cpl)
        return;
    s->cpl = cpl;
    if (env->mmu)
        env->mmu->set_cpl(env->mmu_state, cpl, &s->batch);
}

void cpu_set_eflags(CpuState *s, uint32_t value, uint32_t mask)
{
    /* What the instruction may change at this CPL/IOPL (protected mode). */
    uint32_t can = CPU_FL_NATIVE | CPU_FL_TF | CPU_FL_NT | CPU_FL_AC | CPU_FL_ID | CPU_FL_RF;
    unsigned iopl = (s->eflags & CPU_FL_IOPL) >> 12;
    if (s->cpl == 0)
        can |= CPU_FL_IOPL | CPU_FL_IF;
    else if (s->cpl <= iopl)
        can |= CPU_FL_IF;
    can &= mask;
    s->eflags = (s->eflags & ~can) | (value & can) | CPU_FL_FIXED;
    s->eflags &= ~(CPU_FL_VM | 0xffc08028u); /* reserved bits read as 0; no V86 */
}

bool cpu_can_take_interrupt(const CpuState *s)
{
    return s->intr_line && (s->eflags & CPU_FL_IF);
}

CpuRes cpu_probe(CpuState *s, const CpuEnv *env, uint32_t va, uint32_t len, unsigned acc)
{
    while (len) {
        uint32_t chunk = 4096 - (va & 4095);
        if (chunk > len)
            chunk = len;
        uint64_t gpa;
        bool mmio;
        CpuRes r = cpu_translate(s, env, va, acc, &gpa, &mmio);
        if (r != CPU_R_OK)
            return r;
        va += chunk;
        len -= chunk;
    }
    return CPU_R_OK;
}

/*
 * One data access of 1, 2 or 4 bytes as an instruction makes it: a device
 * sees a single access of that size (a register read must not become four
 * byte reads).  Only an access that crosses a page is split.
 */
CpuRes cpu_mem_read(CpuState *s, const CpuEnv *env, uint32_t va, unsigned size, uint32_t *v,
                    unsigned acc)
{
    *v = 0;
    if ((va & 4095) + size > 4096)
        return cpu_read(s, env, va, v, size, acc);
    uint64_t gpa;
    bool mmio;
    CpuRes r = cpu_translate(s, env, va, acc, &gpa, &mmio);
    if (r != CPU_R_OK)
        return r;
    if (!mmio && gpa + size <= env->ram_size)
        memcpy(v, env->ram + gpa, size);
    else
        *v = env->mmio_read(env->opaque, gpa, size);
    if (size < 4)
        *v &= (1u << (8 * size)) - 1;
    return CPU_R_OK;
}

CpuRes cpu_mem_write(CpuState *s, const CpuEnv *env, uint32_t va, unsigned size, uint32_t v,
                     unsigned acc)
{
    if ((va & 4095) + size > 4096) {
        CpuRes r = cpu_probe(s, env, va, size, acc | CPU_ACC_WRITE);
        return r == CPU_R_OK ? cpu_write(s, env, va, &v, size, acc) : r;
    }
    uint64_t gpa;
    bool mmio;
    CpuRes r = cpu_translate(s, env, va, acc | CPU_ACC_WRITE, &gpa, &mmio);
    if (r != CPU_R_OK)
        return r;
    if (!mmio && gpa + size <= env->ram_size)
        memcpy(env->ram + gpa, &v, size);
    else
        env->mmio_write(env->opaque, gpa, size, size < 4 ? v & ((1u << (8 * size)) - 1) : v);
    return CPU_R_OK;
}
