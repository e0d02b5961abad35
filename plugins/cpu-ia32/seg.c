/*
 * cpu-ia32: segment selectors against the guest's GDT/LDT.  The guest process
 * runs flat segments on the host's flat selectors and the others on mirrors
 * in the host LDT (or, for data segments without one, on the null selector:
 * emulated); a CS or SS that cannot run natively ends the VM with a clear
 * message.
 */
#include <string.h>

#include "plugins/cpu-ia32/cpu.h"

void cpu_desc_unpack(const uint8_t d[8], CpuSeg *sg)
{
    sg->base = d[2] | (uint32_t)d[3] << 8 | (uint32_t)d[4] << 16 | (uint32_t)d[7] << 24;
    uint32_t limit = d[0] | (uint32_t)d[1] << 8 | (uint32_t)(d[6] & 0xf) << 16;
    sg->access = d[5];
    sg->flags = d[6] >> 4;
    if (sg->flags & 0x8)
        limit = limit << 12 | 0xfff;
    sg->limit = limit;
}

/* Address of the descriptor for sel, or raise #GP(sel) when outside its table. */
static CpuRes cpu_desc_addr(CpuState *s, uint16_t sel, uint32_t *addr)
{
    uint32_t index = sel & ~7u;
    if (sel & 4) {
        if (!(s->ldtr.sel & ~3u) || index + 7 > s->ldtr.limit)
            return cpu_raise(s, CPU_EXC_GP, true, sel & ~3u);
        *addr = s->ldtr.base + index;
    } else {
        if (index + 7 > s->gdt_limit)
            return cpu_raise(s, CPU_EXC_GP, true, sel & ~3u);
        *addr = s->gdt_base + index;
    }
    return CPU_R_OK;
}

CpuRes cpu_read_desc(CpuState *s, const CpuEnv *env, uint16_t sel, uint8_t raw[8])
{
    uint32_t addr = 0;
    CpuRes r = cpu_desc_addr(s, sel, &addr);
    if (r != CPU_R_OK)
        return r;
    return cpu_read(s, env, addr, raw, 8, CPU_ACC_SYS);
}

/* Set the accessed bit in the descriptor, as the CPU does on a load. */
static void cpu_desc_touch(CpuState *s, const CpuEnv *env, uint16_t sel, uint8_t raw[8])
{
    if (raw[5] & 1)
        return;
    uint32_t addr = 0;
    if (cpu_desc_addr(s, sel, &addr) != CPU_R_OK)
        return;
    raw[5] |= 1;
    if (cpu_write(s, env, addr + 5, &raw[5], 1, CPU_ACC_SYS) != CPU_R_OK)
        s->fatal = NULL; /* best effort: the load itself already succeeded */
}

static bool cpu_seg_flat(const CpuSeg *sg)
{
    return sg->base == 0 && sg->limit == 0xffffffffu && (sg->flags & 0x4);
}

#define DESC_P 0x80u
#define DESC_S 0x10u
#define DESC_CODE 0x08u
#define DESC_CONF 0x04u  /* code: conforming */
#define DESC_RW 0x02u    /* code: readable; data: writable */
#define DESC_DPL(a) (((a) >> 5) & 3u)

CpuRes cpu_load_seg(CpuState *s, const CpuEnv *env, unsigned reg, uint16_t sel)
{
    CpuSeg sg = { 0 };
    unsigned rpl = sel & 3;
    if (!(sel & ~3u)) {
        if (reg == CPU_SS)
            return cpu_raise(s, CPU_EXC_GP, true, 0);
        /* A null selector: loads fine, faults on use (we keep the host's 0). */
        s->seg[reg] = (CpuSeg){ .sel = sel };
        return CPU_R_OK;
    }
    uint8_t raw[8];
    CpuRes r = cpu_read_desc(s, env, sel, raw);
    if (r != CPU_R_OK)
        return r;
    cpu_desc_unpack(raw, &sg);
    sg.sel = sel;
    uint8_t a = sg.access;
    unsigned dpl = DESC_DPL(a);
    uint32_t err = sel & ~3u;
    if (reg == CPU_SS) {
        if (!(a & DESC_S) || (a & DESC_CODE) || !(a & DESC_RW) || rpl != s->cpl ||
            dpl != s->cpl)
            return cpu_raise(s, CPU_EXC_GP, true, err);
        if (!(a & DESC_P))
            return cpu_raise(s, CPU_EXC_SS, true, err);
    } else {
        if (!(a & DESC_S) || ((a & DESC_CODE) && !(a & DESC_RW)))
            return cpu_raise(s, CPU_EXC_GP, true, err);
        bool conforming_code = (a & DESC_CODE) && (a & DESC_CONF);
        if (!conforming_code && (dpl < s->cpl || dpl < rpl))
            return cpu_raise(s, CPU_EXC_GP, true, err);
        if (!(a & DESC_P))
            return cpu_raise(s, CPU_EXC_NP, true, err);
    }
    /*
     * A data segment that is not flat runs on its mirror in the host LDT, or
     * without one on the host's null selector: every access through it then
     * traps and is emulated with its base and limit.  SS cannot be null, so
     * a stack that is not flat needs the mirror, and a 32-bit one (B = 1:
     * the emulation pushes through ESP, never SP).
     */
    if (reg == CPU_SS && !cpu_seg_flat(&sg)) {
        if (!(sg.flags & 0x4))
            return cpu_fail(s, "stack segment 0x%x (base 0x%x, limit 0x%x) is a 16-bit stack "
                            "(B = 0): not supported", sel, sg.base, sg.limit);
        if (s->host_ldt != CPU_HOST_LDT_ON)
            return cpu_fail(s, "stack segment 0x%x (base 0x%x, limit 0x%x) is not flat and %s",
                            sel, sg.base, sg.limit, cpu_ldt_unavailable(s));
    }
    cpu_desc_touch(s, env, sel, raw);
    sg.access |= 1;
    s->seg[reg] = sg;
    return CPU_R_OK;
}

CpuRes cpu_load_cs(CpuState *s, const CpuEnv *env, uint16_t sel, unsigned new_cpl)
{
    if (!(sel & ~3u))
        return cpu_raise(s, CPU_EXC_GP, true, 0);
    uint8_t raw[8];
    CpuRes r = cpu_read_desc(s, env, sel, raw);
    if (r != CPU_R_OK)
        return r;
    CpuSeg sg;
    cpu_desc_unpack(raw, &sg);
    uint8_t a = sg.access;
    uint32_t err = sel & ~3u;
    if (!(a & DESC_S) || !(a & DESC_CODE))
        return cpu_raise(s, CPU_EXC_GP, true, err);
    if (!(a & DESC_CONF) && DESC_DPL(a) != new_cpl)
        return cpu_raise(s, CPU_EXC_GP, true, err);
    if ((a & DESC_CONF) && DESC_DPL(a) > new_cpl)
        return cpu_raise(s, CPU_EXC_GP, true, err);
    if (!(a & DESC_P))
        return cpu_raise(s, CPU_EXC_NP, true, err);
    /* A code segment that is not flat runs on its mirror in the host LDT. */
    if (!(sg.flags & 0x4))
        return cpu_fail(s, "code segment 0x%x (base 0x%x, limit 0x%x, flags 0x%x) is a 16-bit "
                        "code segment: not supported", sel, sg.base, sg.limit, sg.flags);
    if (!cpu_seg_flat(&sg) && s->host_ldt != CPU_HOST_LDT_ON)
        return cpu_fail(s, "code segment 0x%x (base 0x%x, limit 0x%x) is not flat and %s", sel,
                        sg.base, sg.limit, cpu_ldt_unavailable(s));
    cpu_desc_touch(s, env, sel, raw);
    sg.access |= 1;
    sg.sel = (uint16_t)((sel & ~3u) | new_cpl);
    s->seg[CPU_CS] = sg;
    cpu_set_cpl(s, env, new_cpl);
    return CPU_R_OK;
}

/*
 * A system descriptor for lldt or ltr: read from the GDT and unpacked; its
 * type (low five access bits) must be type_a or type_b, else #GP(sel), and
 * it must be present, else #NP(sel).
 */
static CpuRes cpu_read_sys_desc(CpuState *s, const CpuEnv *env, uint16_t sel, uint8_t type_a,
                                uint8_t type_b, uint8_t raw[8], CpuSeg *sg)
{
    CpuRes r = cpu_read_desc(s, env, sel, raw);
    if (r != CPU_R_OK)
        return r;
    cpu_desc_unpack(raw, sg);
    unsigned type = sg->access & 0x1f;
    if (type != type_a && type != type_b)
        return cpu_raise(s, CPU_EXC_GP, true, sel & ~3u);
    if (!(sg->access & DESC_P))
        return cpu_raise(s, CPU_EXC_NP, true, sel & ~3u);
    return CPU_R_OK;
}

CpuRes cpu_load_ldtr(CpuState *s, const CpuEnv *env, uint16_t sel)
{
    if (!(sel & ~3u)) {
        s->ldtr = (CpuSeg){ .sel = sel };
        return CPU_R_OK;
    }
    if (sel & 4)
        return cpu_raise(s, CPU_EXC_GP, true, sel & ~3u);
    uint8_t raw[8];
    CpuSeg sg;
    CpuRes r = cpu_read_sys_desc(s, env, sel, 0x02, 0x02, raw, &sg);
    if (r != CPU_R_OK)
        return r;
    sg.sel = sel;
    s->ldtr = sg;
    return CPU_R_OK;
}

CpuRes cpu_load_tr(CpuState *s, const CpuEnv *env, uint16_t sel)
{
    if (!(sel & ~3u) || (sel & 4))
        return cpu_raise(s, CPU_EXC_GP, true, sel & ~3u);
    uint8_t raw[8];
    CpuSeg sg;
    /* An available 32-bit or 16-bit TSS. */
    CpuRes r = cpu_read_sys_desc(s, env, sel, 0x09, 0x01, raw, &sg);
    if (r != CPU_R_OK)
        return r;
    /* Mark it busy in the GDT, as ltr does. */
    uint32_t addr = s->gdt_base + (sel & ~7u) + 5;
    uint8_t busy = raw[5] | 2;
    r = cpu_write(s, env, addr, &busy, 1, CPU_ACC_SYS);
    if (r != CPU_R_OK)
        return r;
    sg.access |= 2;
    sg.sel = sel;
    s->tr = sg;
    return CPU_R_OK;
}

void cpu_seg_query(CpuState *s, const CpuEnv *env, uint16_t sel, int what, bool *ok,
                   uint32_t *value)
{
    *ok = false;
    *value = 0;
    if (!(sel & ~3u))
        return;
    uint8_t raw[8];
    uint8_t vec = s->exc_vector;
    bool he = s->exc_has_error;
    uint32_t ee = s->exc_error, cr2 = s->cr2;
    if (cpu_read_desc(s, env, sel, raw) != CPU_R_OK) {
        /* Outside the table: ZF=0, no exception (a #PF on the table would be
         * real, but a kernel's table is mapped). */
        s->exc_vector = vec;
        s->exc_has_error = he;
        s->exc_error = ee;
        s->cr2 = cr2;
        return;
    }
    CpuSeg sg;
    cpu_desc_unpack(raw, &sg);
    uint8_t a = sg.access;
    unsigned dpl = DESC_DPL(a), rpl = sel & 3;
    bool conforming = (a & DESC_S) && (a & DESC_CODE) && (a & DESC_CONF);
    bool visible = conforming || (dpl >= s->cpl && dpl >= rpl);
    if (!visible)
        return;
    if (!(a & DESC_S)) {
        unsigned type = a & 0xf;
        /* System types lar/lsl accept: TSS, LDT, call/task gates (lar only). */
        bool seg_like = type == 1 || type == 2 || type == 3 || type == 9 || type == 11;
        bool gate = type == 4 || type == 5 || type == 12;
        if (what == CPU_Q_LAR && (seg_like || gate)) {
            *ok = true;
            *value = (uint32_t)raw[5] << 8 | (uint32_t)raw[6] << 16;
        } else if (what == CPU_Q_LSL && seg_like) {
            *ok = true;
            *value = sg.limit;
        }
        return;
    }
    switch (what) {
    case CPU_Q_LAR:
        *ok = true;
        *value = (uint32_t)raw[5] << 8 | (uint32_t)raw[6] << 16;
        break;
    case CPU_Q_LSL:
        *ok = true;
        *value = sg.limit;
        break;
    case CPU_Q_VERR:
        *ok = !(a & DESC_CODE) || (a & DESC_RW);
        break;
    case CPU_Q_VERW:
        *ok = !(a & DESC_CODE) && (a & DESC_RW);
        break;
    }
}

CpuRes cpu_seg_linear(CpuState *s, unsigned reg, uint32_t off, unsigned size, bool write,
                      uint32_t *lin)
{
    const CpuSeg *sg = &s->seg[reg];
    unsigned vec = reg == CPU_SS ? CPU_EXC_SS : CPU_EXC_GP;
    uint8_t a = sg->access;
    if (reg != CPU_CS && !(sg->sel & ~3u))
        return cpu_raise(s, CPU_EXC_GP, true, 0); /* use of a null selector */
    if (a & DESC_CODE) {
        /* Code segments are never writable; execute-only ones not readable. */
        if (write || !(a & DESC_RW))
            return cpu_raise(s, vec, true, 0);
    } else if (write && !(a & DESC_RW)) {
        return cpu_raise(s, vec, true, 0);
    }
    uint64_t last = (uint64_t)off + size - 1;
    if (!(a & DESC_CODE) && (a & DESC_CONF)) {
        /* Expand-down: the valid offsets lie above the limit. */
        uint32_t upper = (sg->flags & 0x4) ? 0xffffffffu : 0xffffu;
        if (off <= sg->limit || last > upper)
            return cpu_raise(s, vec, true, 0);
    } else if (sg->limit != 0xffffffffu && last > sg->limit) {
        return cpu_raise(s, vec, true, 0);
    }
    *lin = sg->base + off;
    return CPU_R_OK;
}
