/*
 * cpu-ia32: exceptions and interrupts through the guest IDT and TSS
 * (interrupt and trap gates, stack switch on a privilege change, error
 * codes, #DF and triple fault), iret, and far returns, jumps and calls.
 */
#include <string.h>

#include "plugins/cpu-ia32/cpu.h"

#define GATE_TASK 0x5u
#define GATE_INTR32 0xeu
#define GATE_TRAP32 0xfu

CpuRes cpu_deliver(CpuState *s, const CpuEnv *env, unsigned vector, int kind, bool has_error,
                   uint32_t error, uint32_t ret_eip)
{
    uint32_t ext = kind == CPU_EV_SOFT ? 0 : 1;
    uint32_t idt_err = vector * 8 + 2 + ext;
    if (vector * 8 + 7 > s->idt_limit)
        return cpu_raise(s, CPU_EXC_GP, true, idt_err);
    uint8_t g[8];
    CpuRes r = cpu_read(s, env, s->idt_base + vector * 8, g, 8, CPU_ACC_SYS);
    if (r != CPU_R_OK)
        return r;
    unsigned type = g[5] & 0x1f, gdpl = (g[5] >> 5) & 3;
    if (type == GATE_TASK)
        return cpu_fail(s, "vector %u: task gates are not supported", vector);
    if (type != GATE_INTR32 && type != GATE_TRAP32)
        return cpu_fail(s, "vector %u: IDT entry type 0x%x is not a 32-bit interrupt or trap "
                        "gate (16-bit gates are not supported)", vector, type);
    if (kind == CPU_EV_SOFT && gdpl < s->cpl)
        return cpu_raise(s, CPU_EXC_GP, true, idt_err);
    if (!(g[5] & 0x80))
        return cpu_raise(s, CPU_EXC_NP, true, idt_err);
    uint16_t csel = (uint16_t)(g[2] | g[3] << 8);
    uint32_t off = g[0] | (uint32_t)g[1] << 8 | (uint32_t)g[6] << 16 | (uint32_t)g[7] << 24;
    if (!(csel & ~3u))
        return cpu_raise(s, CPU_EXC_GP, true, ext);
    uint8_t raw[8];
    r = cpu_read_desc(s, env, csel, raw);
    if (r != CPU_R_OK)
        return r;
    CpuSeg cd;
    cpu_desc_unpack(raw, &cd);
    unsigned cdpl = (cd.access >> 5) & 3;
    if (!(cd.access & 0x10) || !(cd.access & 0x08) || cdpl > s->cpl)
        return cpu_raise(s, CPU_EXC_GP, true, (csel & ~3u) | ext);
    if (!(cd.access & 0x80))
        return cpu_raise(s, CPU_EXC_NP, true, (csel & ~3u) | ext);
    unsigned new_cpl = (cd.access & 0x04) ? s->cpl : cdpl; /* conforming: stay */

    /* The old state, as pushed. */
    uint32_t old_eflags = s->eflags, old_esp = s->gpr[CPU_ESP];
    uint16_t old_cs = s->seg[CPU_CS].sel, old_ss = s->seg[CPU_SS].sel;
    uint32_t frame[6];
    unsigned n = 0;
    uint32_t new_esp = old_esp;
    uint16_t new_ss = 0;
    if (new_cpl < s->cpl) {
        /* Inner privilege: the stack comes from the TSS. */
        if (!(s->tr.sel & ~3u))
            return cpu_raise(s, CPU_EXC_TS, true, ext);
        uint32_t at = 4 + new_cpl * 8;
        if (at + 5 > s->tr.limit)
            return cpu_raise(s, CPU_EXC_TS, true, (s->tr.sel & ~3u) | ext);
        uint8_t t[8];
        r = cpu_read(s, env, s->tr.base + at, t, 6, CPU_ACC_SYS);
        if (r != CPU_R_OK)
            return r;
        new_esp = t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
        new_ss = (uint16_t)(t[4] | t[5] << 8);
        frame[n++] = old_ss;
        frame[n++] = old_esp;
    }
    frame[n++] = old_eflags;
    frame[n++] = old_cs;
    frame[n++] = ret_eip;
    if (has_error)
        frame[n++] = error;
    /* Lay the frame out from the lowest address. */
    uint32_t img[6];
    for (unsigned i = 0; i < n; i++)
        img[i] = frame[n - 1 - i];
    uint32_t sp = new_esp - n * 4;

    /* Check the new stack segment before touching memory. */
    CpuSeg save_ss = s->seg[CPU_SS];
    unsigned save_cpl = s->cpl;
    if (new_cpl < s->cpl) {
        s->cpl = new_cpl; /* the SS checks use the new CPL */
        r = cpu_load_seg(s, env, CPU_SS, new_ss);
        s->cpl = save_cpl;
        if (r != CPU_R_OK) {
            s->seg[CPU_SS] = save_ss;
            if (r == CPU_R_EXC && s->exc_vector == CPU_EXC_GP)
                s->exc_vector = CPU_EXC_TS;
            return r;
        }
    }
    r = cpu_write(s, env, sp, img, n * 4, new_cpl < 3 ? CPU_ACC_SYS : 0);
    if (r != CPU_R_OK) {
        s->seg[CPU_SS] = save_ss;
        return r;
    }
    /* Commit. */
    r = cpu_load_cs(s, env, csel, new_cpl);
    if (r != CPU_R_OK) {
        s->seg[CPU_SS] = save_ss;
        return r;
    }
    s->gpr[CPU_ESP] = sp;
    s->eip = off;
    s->eflags &= ~(CPU_FL_TF | CPU_FL_NT | CPU_FL_RF | CPU_FL_VM);
    if (type == GATE_INTR32)
        s->eflags &= ~CPU_FL_IF;
    s->halted = false;
    return CPU_R_OK;
}

/* Contributory exceptions (SDM "conditions for generating a double fault"). */
static bool cpu_contributory(unsigned v)
{
    return v == CPU_EXC_DE || (v >= CPU_EXC_TS && v <= CPU_EXC_GP);
}

CpuAction cpu_deliver_pending(CpuState *s, const CpuEnv *env)
{
    unsigned v = s->exc_vector;
    bool he = s->exc_has_error;
    uint32_t err = s->exc_error;
    s->stats[CPU_STAT_EXCEPTIONS]++;
    for (int depth = 0; depth < 3; depth++) {
        CpuRes r = cpu_deliver(s, env, v, CPU_EV_EXC, he, err, s->eip);
        if (r == CPU_R_OK)
            return CPU_RESUME;
        if (r != CPU_R_EXC)
            return CPU_FATAL;
        unsigned v2 = s->exc_vector;
        if (v == CPU_EXC_DF) {
            cpu_fail(s, "triple fault: delivering #DF raised exception %u (error 0x%x) at "
                     "EIP 0x%x", v2, s->exc_error, s->eip);
            return CPU_FATAL;
        }
        bool df = (cpu_contributory(v) && cpu_contributory(v2)) ||
                  (v == CPU_EXC_PF && (cpu_contributory(v2) || v2 == CPU_EXC_PF));
        if (df) {
            v = CPU_EXC_DF;
            he = true;
            err = 0;
        } else {
            v = v2;
            he = s->exc_has_error;
            err = s->exc_error;
        }
    }
    cpu_fail(s, "exception delivery does not converge at EIP 0x%x", s->eip);
    return CPU_FATAL;
}

CpuAction cpu_poll_interrupt(CpuState *s, const CpuEnv *env)
{
    if (!cpu_can_take_interrupt(s) || s->irq_holdoff)
        return CPU_RESUME;
    int vec = env->irq_ack(env->opaque);
    if (vec < 0)
        return CPU_RESUME; /* spurious: nothing to do */
    s->stats[CPU_STAT_INTERRUPTS]++;
    s->halted = false;
    CpuRes r = cpu_deliver(s, env, (unsigned)vec & 0xff, CPU_EV_EXT, false, 0, s->eip);
    if (r == CPU_R_OK)
        return CPU_RESUME;
    if (r == CPU_R_EXC)
        return cpu_deliver_pending(s, env);
    return CPU_FATAL;
}

CpuRes cpu_iret(CpuState *s, const CpuEnv *env, unsigned opsize)
{
    if (s->eflags & CPU_FL_NT)
        return cpu_fail(s, "iret with EFLAGS.NT set (task return) is not supported");
    uint32_t sp = s->gpr[CPU_ESP];
    uint32_t f[5] = { 0 };
    uint8_t buf[20];
    CpuRes r = cpu_read(s, env, sp, buf, 3 * opsize, 0);
    if (r != CPU_R_OK)
        return r;
    for (unsigned i = 0; i < 3; i++)
        f[i] = opsize == 4 ? (uint32_t)buf[i * 4] | (uint32_t)buf[i * 4 + 1] << 8 |
                                 (uint32_t)buf[i * 4 + 2] << 16 | (uint32_t)buf[i * 4 + 3] << 24
                           : (uint32_t)buf[i * 2] | (uint32_t)buf[i * 2 + 1] << 8;
    uint32_t new_eip = f[0], new_flags = f[2];
    uint16_t new_cs = (uint16_t)f[1];
    unsigned rpl = new_cs & 3;
    if (rpl < s->cpl)
        return cpu_raise(s, CPU_EXC_GP, true, new_cs & ~3u);
    if (opsize == 4 && (new_flags & CPU_FL_VM) && s->cpl == 0)
        return cpu_fail(s, "iret to virtual-8086 mode is not supported");
    uint32_t new_esp = 0;
    uint16_t new_ss = 0;
    if (rpl > s->cpl) {
        r = cpu_read(s, env, sp + 3 * opsize, buf, 2 * opsize, 0);
        if (r != CPU_R_OK)
            return r;
        new_esp = opsize == 4 ? (uint32_t)buf[0] | (uint32_t)buf[1] << 8 |
                                    (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24
                              : (uint32_t)buf[0] | (uint32_t)buf[1] << 8;
        new_ss = opsize == 4 ? (uint16_t)(buf[4] | buf[5] << 8) : (uint16_t)(buf[2] | buf[3] << 8);
    }
    /* Flags are checked against the CPL before the return. */
    unsigned old_cpl = s->cpl;
    CpuSeg save_cs = s->seg[CPU_CS], save_ss = s->seg[CPU_SS];
    uint32_t mask = opsize == 4 ? 0xffffffffu : 0xffffu;
    r = cpu_load_cs(s, env, new_cs, rpl);
    if (r != CPU_R_OK)
        return r;
    if (rpl > old_cpl) {
        r = cpu_load_seg(s, env, CPU_SS, new_ss);
        if (r != CPU_R_OK) {
            s->seg[CPU_CS] = save_cs;
            s->seg[CPU_SS] = save_ss;
            cpu_set_cpl(s, env, old_cpl);
            return r;
        }
        s->gpr[CPU_ESP] = new_esp;
        /* Data segments the outer level may not use become null. */
        for (unsigned reg = 0; reg < CPU_NSEG; reg++) {
            if (reg == CPU_CS || reg == CPU_SS)
                continue;
            CpuSeg *sg = &s->seg[reg];
            unsigned dpl = (sg->access >> 5) & 3;
            bool conf_code = (sg->access & 0x0c) == 0x0c;
            if ((sg->sel & ~3u) && !conf_code && dpl < rpl)
                *sg = (CpuSeg){ 0 };
        }
    } else {
        s->gpr[CPU_ESP] = sp + 3 * opsize;
    }
    /* EFLAGS with the privileges of the CPL the iret started at. */
    unsigned cpl_now = s->cpl;
    s->cpl = old_cpl;
    cpu_set_eflags(s, new_flags, mask);
    s->cpl = cpl_now;
    s->eip = new_eip & mask;
    s->irq_holdoff = true;
    return CPU_R_OK;
}

CpuRes cpu_far_ret(CpuState *s, const CpuEnv *env, unsigned opsize, uint16_t imm)
{
    uint32_t sp = s->gpr[CPU_ESP];
    uint8_t buf[16];
    CpuRes r = cpu_read(s, env, sp, buf, 2 * opsize, 0);
    if (r != CPU_R_OK)
        return r;
    uint32_t eip = opsize == 4 ? (uint32_t)buf[0] | (uint32_t)buf[1] << 8 |
                                     (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24
                               : (uint32_t)buf[0] | (uint32_t)buf[1] << 8;
    uint16_t cs = (uint16_t)(buf[opsize] | buf[opsize + 1] << 8);
    unsigned rpl = cs & 3;
    if (rpl < s->cpl)
        return cpu_raise(s, CPU_EXC_GP, true, cs & ~3u);
    unsigned old_cpl = s->cpl;
    CpuSeg save_cs = s->seg[CPU_CS];
    r = cpu_load_cs(s, env, cs, rpl);
    if (r != CPU_R_OK)
        return r;
    sp += 2 * opsize + imm;
    if (rpl > old_cpl) {
        r = cpu_read(s, env, sp, buf, 2 * opsize, 0);
        uint32_t esp = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 |
                       (opsize == 4 ? (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24 : 0);
        uint16_t ss = (uint16_t)(buf[opsize] | buf[opsize + 1] << 8);
        if (r == CPU_R_OK)
            r = cpu_load_seg(s, env, CPU_SS, ss);
        if (r != CPU_R_OK) {
            s->seg[CPU_CS] = save_cs;
            cpu_set_cpl(s, env, old_cpl);
            return r;
        }
        sp = esp + imm;
    }
    s->gpr[CPU_ESP] = sp;
    s->eip = eip;
    return CPU_R_OK;
}

CpuRes cpu_far_jump(CpuState *s, const CpuEnv *env, uint16_t sel, uint32_t off, bool call,
                    unsigned opsize, uint32_t next_eip)
{
    uint8_t raw[8];
    if (!(sel & ~3u))
        return cpu_raise(s, CPU_EXC_GP, true, 0);
    CpuRes r = cpu_read_desc(s, env, sel, raw);
    if (r != CPU_R_OK)
        return r;
    if (!(raw[5] & 0x10))
        return cpu_fail(s, "far %s through system descriptor 0x%x (call gate or task) is not "
                        "supported", call ? "call" : "jump", sel);
    uint16_t old_cs = s->seg[CPU_CS].sel;
    uint32_t old_esp = s->gpr[CPU_ESP];
    if (call) {
        uint32_t frame[2] = { next_eip, old_cs };
        uint8_t img[8];
        unsigned n = 2 * opsize;
        if (opsize == 4) {
            memcpy(img, frame, 8);
        } else {
            uint16_t f16[2] = { (uint16_t)next_eip, old_cs };
            memcpy(img, f16, 4);
        }
        r = cpu_write(s, env, old_esp - n, img, n, 0);
        if (r != CPU_R_OK)
            return r;
    }
    /* Same privilege only: non-conforming code must have DPL == CPL. */
    unsigned rpl = sel & 3;
    if (rpl > s->cpl)
        return cpu_raise(s, CPU_EXC_GP, true, sel & ~3u);
    r = cpu_load_cs(s, env, (uint16_t)((sel & ~3u) | s->cpl), s->cpl);
    if (r != CPU_R_OK)
        return r;
    if (call)
        s->gpr[CPU_ESP] = old_esp - 2 * opsize;
    s->eip = opsize == 4 ? off : (off & 0xffff);
    return CPU_R_OK;
}
