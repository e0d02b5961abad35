/*
 * cpu-ia32: exceptions and interrupts through the guest IDT and TSS
 * (interrupt and trap gates of 16 and 32 bits, task gates, stack switch on a
 * privilege change, error codes, #DF and triple fault), iret (same and outer
 * level, nested task return), far returns, and far jumps and calls to code
 * segments, through call gates and to tasks (hardware task switches).
 */
#include <string.h>

#include "plugins/cpu-ia32/cpu.h"

#define GATE_TASK 0x5u
#define GATE_INTR16 0x6u
#define GATE_TRAP16 0x7u
#define GATE_CALL16 0x4u
#define GATE_CALL32 0xcu
#define GATE_INTR32 0xeu
#define GATE_TRAP32 0xfu
#define TSS16_AVAIL 0x1u
#define TSS16_BUSY 0x3u
#define TSS32_AVAIL 0x9u
#define TSS32_BUSY 0xbu
#define TSS32_MIN_LIMIT 0x67u

#define DESC_P 0x80u
#define DESC_S 0x10u
#define DESC_CODE 0x08u
#define DESC_CONF 0x04u
#define DESC_RW 0x02u
#define DESC_DPL(a) (((a) >> 5) & 3u)

static uint32_t le32(const uint8_t *b)
{
    return b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint16_t le16(const uint8_t *b)
{
    return (uint16_t)(b[0] | b[1] << 8);
}

/* Replace a #GP raised by a helper with vector (#TS when a TSS supplied the selector). */
static CpuRes cpu_gp_as(CpuState *s, CpuRes r, unsigned vector)
{
    if (r == CPU_R_EXC && s->exc_vector == CPU_EXC_GP)
        s->exc_vector = (uint8_t)vector;
    return r;
}

/*
 * The stack of privilege level cpl from the current (32-bit) TSS, and the
 * checks of its SS as a stack switch makes them: #TS(TSS) when the TSS is
 * too short, #TS(SS) for a null, out-of-table, wrongly privileged or
 * unwritable SS, #SS(SS) when it is not present.
 */
static CpuRes cpu_tss_stack(CpuState *s, const CpuEnv *env, unsigned cpl, uint32_t ext,
                            uint16_t *ss, uint32_t *esp)
{
    unsigned type = s->tr.access & 0x1f;
    if (!(s->tr.sel & ~3u))
        return cpu_raise(s, CPU_EXC_TS, true, ext);
    if (type == TSS16_BUSY || type == TSS16_AVAIL)
        return cpu_fail(s, "stack switch through a 16-bit TSS (selector 0x%x) is not supported",
                        s->tr.sel);
    uint32_t at = 4 + cpl * 8;
    if (at + 7 > s->tr.limit)
        return cpu_raise(s, CPU_EXC_TS, true, (s->tr.sel & ~3u) | ext);
    uint8_t t[8];
    CpuRes r = cpu_read(s, env, s->tr.base + at, t, 6, CPU_ACC_SYS);
    if (r != CPU_R_OK)
        return r;
    *esp = le32(t);
    *ss = le16(t + 4);
    uint32_t err = (*ss & ~3u) | ext;
    if (!(*ss & ~3u))
        return cpu_raise(s, CPU_EXC_TS, true, ext);
    uint8_t raw[8];
    r = cpu_read_desc(s, env, *ss, raw);
    if (r != CPU_R_OK)
        return cpu_gp_as(s, r, CPU_EXC_TS);
    uint8_t a = raw[5];
    if ((*ss & 3) != cpl || DESC_DPL(a) != cpl || !(a & DESC_S) || (a & DESC_CODE) ||
        !(a & DESC_RW))
        return cpu_raise(s, CPU_EXC_TS, true, err);
    if (!(a & DESC_P))
        return cpu_raise(s, CPU_EXC_SS, true, err);
    return CPU_R_OK;
}

/* Load SS with sel as the stack of level cpl (checked by cpu_tss_stack). */
static CpuRes cpu_switch_ss(CpuState *s, const CpuEnv *env, uint16_t sel, unsigned cpl)
{
    unsigned save = s->cpl;
    s->cpl = cpl; /* the SS checks use the new CPL */
    CpuRes r = cpu_load_seg(s, env, CPU_SS, sel);
    s->cpl = save;
    return r;
}

/* Lay n values of w bytes out as pushes would: v[0] pushed first (highest). */
static void cpu_frame(uint8_t *img, const uint32_t *v, unsigned n, unsigned w)
{
    for (unsigned i = 0; i < n; i++) {
        uint32_t x = v[n - 1 - i];
        memcpy(img + i * w, &x, w);
    }
}

/* After a return to an outer level: data segments it may not use become null. */
static void cpu_null_inner_segs(CpuState *s, unsigned cpl)
{
    for (unsigned reg = 0; reg < CPU_NSEG; reg++) {
        if (reg == CPU_CS || reg == CPU_SS)
            continue;
        CpuSeg *sg = &s->seg[reg];
        bool conf_code = (sg->access & 0x0c) == 0x0c && (sg->access & DESC_S);
        if ((sg->sel & ~3u) && !conf_code && DESC_DPL(sg->access) < cpl)
            *sg = (CpuSeg){ 0 };
    }
}

static CpuRes cpu_task_switch(CpuState *s, const CpuEnv *env, uint16_t sel, int src,
                              uint32_t ret_eip, uint32_t ext);

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
    unsigned type = g[5] & 0x1f, gdpl = DESC_DPL(g[5]);
    if (type != GATE_TASK && type != GATE_INTR32 && type != GATE_TRAP32 &&
        type != GATE_INTR16 && type != GATE_TRAP16)
        return cpu_raise(s, CPU_EXC_GP, true, idt_err);
    if (kind == CPU_EV_SOFT && gdpl < s->cpl)
        return cpu_raise(s, CPU_EXC_GP, true, idt_err);
    if (!(g[5] & DESC_P))
        return cpu_raise(s, CPU_EXC_NP, true, idt_err);
    uint16_t csel = le16(g + 2);
    if (type == GATE_TASK) {
        /* The handler is a task: switch to it, then push the error code there. */
        r = cpu_task_switch(s, env, csel, CPU_TASK_INT, ret_eip, ext);
        if (r != CPU_R_OK)
            return r;
        if (has_error)
            r = cpu_push(s, env, error, 4);
        return r;
    }
    bool g32 = type == GATE_INTR32 || type == GATE_TRAP32;
    unsigned w = g32 ? 4 : 2;
    uint32_t off = le16(g) | (g32 ? (uint32_t)le16(g + 6) << 16 : 0);
    if (!(csel & ~3u))
        return cpu_raise(s, CPU_EXC_GP, true, ext);
    uint8_t raw[8];
    r = cpu_read_desc(s, env, csel, raw);
    if (r != CPU_R_OK) {
        s->exc_error |= ext;
        return r;
    }
    CpuSeg cd;
    cpu_desc_unpack(raw, &cd);
    unsigned cdpl = DESC_DPL(cd.access);
    if (!(cd.access & DESC_S) || !(cd.access & DESC_CODE) || cdpl > s->cpl)
        return cpu_raise(s, CPU_EXC_GP, true, (csel & ~3u) | ext);
    if (!(cd.access & DESC_P))
        return cpu_raise(s, CPU_EXC_NP, true, (csel & ~3u) | ext);
    unsigned new_cpl = (cd.access & DESC_CONF) ? s->cpl : cdpl; /* conforming: stay */

    /* The old state, as pushed. */
    uint32_t frame[6];
    unsigned n = 0;
    uint32_t new_esp = s->gpr[CPU_ESP];
    uint16_t new_ss = 0;
    if (new_cpl < s->cpl) {
        /* Inner privilege: the stack comes from the TSS. */
        r = cpu_tss_stack(s, env, new_cpl, ext, &new_ss, &new_esp);
        if (r != CPU_R_OK)
            return r;
        frame[n++] = s->seg[CPU_SS].sel;
        frame[n++] = s->gpr[CPU_ESP];
    }
    frame[n++] = s->eflags;
    frame[n++] = s->seg[CPU_CS].sel;
    frame[n++] = ret_eip;
    if (has_error)
        frame[n++] = error;
    uint8_t img[24];
    cpu_frame(img, frame, n, w);
    uint32_t sp = new_esp - n * w;

    /* Load the new stack segment before touching memory. */
    CpuSeg save_ss = s->seg[CPU_SS];
    if (new_cpl < s->cpl) {
        r = cpu_switch_ss(s, env, new_ss, new_cpl);
        if (r != CPU_R_OK) {
            s->seg[CPU_SS] = save_ss;
            return cpu_gp_as(s, r, CPU_EXC_TS);
        }
    }
    r = cpu_write(s, env, cpu_ss_lin(s, sp), img, n * w, new_cpl < 3 ? CPU_ACC_SYS : 0);
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
    if (type == GATE_INTR32 || type == GATE_INTR16)
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
    uint32_t sp = s->gpr[CPU_ESP];
    uint32_t f[5] = { 0 };
    uint8_t buf[20];
    CpuRes r = cpu_read(s, env, cpu_ss_lin(s, sp), buf, 3 * opsize, 0);
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
        r = cpu_read(s, env, cpu_ss_lin(s, sp + 3 * opsize), buf, 2 * opsize, 0);
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
        cpu_null_inner_segs(s, rpl);
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
    uint8_t buf[8], outer[8];
    CpuRes r = cpu_read(s, env, cpu_ss_lin(s, sp), buf, 2 * opsize, 0);
    if (r != CPU_R_OK)
        return r;
    uint32_t eip = opsize == 4 ? le32(buf) : le16(buf);
    uint16_t cs = le16(buf + opsize);
    unsigned rpl = cs & 3;
    if (!(cs & ~3u))
        return cpu_raise(s, CPU_EXC_GP, true, 0);
    if (rpl < s->cpl)
        return cpu_raise(s, CPU_EXC_GP, true, cs & ~3u);
    sp += 2 * opsize + imm;
    if (rpl > s->cpl) {
        /* The outer SS:ESP, read with the privileges of the current level. */
        r = cpu_read(s, env, cpu_ss_lin(s, sp), outer, 2 * opsize, 0);
        if (r != CPU_R_OK)
            return r;
    }
    unsigned old_cpl = s->cpl;
    CpuSeg save_cs = s->seg[CPU_CS];
    r = cpu_load_cs(s, env, cs, rpl);
    if (r != CPU_R_OK)
        return r;
    if (rpl > old_cpl) {
        uint32_t esp = opsize == 4 ? le32(outer) : le16(outer);
        uint16_t ss = le16(outer + opsize);
        r = cpu_load_seg(s, env, CPU_SS, ss);
        if (r != CPU_R_OK) {
            s->seg[CPU_CS] = save_cs;
            cpu_set_cpl(s, env, old_cpl);
            return r;
        }
        sp = esp + imm;
        cpu_null_inner_segs(s, rpl);
    }
    s->gpr[CPU_ESP] = sp;
    s->eip = eip;
    return CPU_R_OK;
}

/* --- hardware task switches ------------------------------------------------ */

/* Set or clear the busy bit of the TSS descriptor sel in the GDT. */
static CpuRes cpu_tss_busy(CpuState *s, const CpuEnv *env, uint16_t sel, bool busy)
{
    uint32_t at = s->gdt_base + (sel & ~7u) + 5;
    uint8_t a;
    CpuRes r = cpu_read(s, env, at, &a, 1, CPU_ACC_SYS);
    if (r != CPU_R_OK)
        return r;
    a = busy ? a | 2 : a & ~2;
    return cpu_write(s, env, at, &a, 1, CPU_ACC_SYS);
}

/* Offsets in a 32-bit TSS. */
#define TSS_LINK 0x00u
#define TSS_CR3 0x1cu
#define TSS_EIP 0x20u
#define TSS_EFLAGS 0x24u
#define TSS_GPR 0x28u
#define TSS_SEG 0x48u
#define TSS_LDT 0x60u
#define TSS_STATE_LEN 0x40u /* EIP ... GS: what a switch saves */

/*
 * cpu_task_switch() - Switch to the task of the 32-bit TSS sel (SDM Vol. 3
 * "Task Switching"): check the new TSS, save the current state into the
 * current TSS, update busy bits, back link and NT, load TR, CR3 (through the
 * MMU), EFLAGS, EIP, the registers, LDTR and the segment registers.
 * @src: CPU_TASK_JMP, _CALL, _INT (these three need an available TSS) or
 *       _IRET (a busy one); the caller made the privilege checks.
 * @ret_eip: the EIP saved for the outgoing task.
 * @ext: the EXT bit of error codes (an external event caused the switch).
 *
 * Faults before the state is saved leave the current task untouched; those
 * while loading the new segments are raised in the new task (#TS(selector),
 * #NP, #SS), as on the hardware.
 */
static CpuRes cpu_task_switch(CpuState *s, const CpuEnv *env, uint16_t sel, int src,
                              uint32_t ret_eip, uint32_t ext)
{
    bool nest = src == CPU_TASK_CALL || src == CPU_TASK_INT;
    unsigned bad = src == CPU_TASK_IRET ? CPU_EXC_TS : CPU_EXC_GP;
    uint32_t err = (sel & ~3u) | ext;
    if ((sel & 4) || !(sel & ~3u))
        return cpu_raise(s, bad, true, err);
    uint8_t raw[8];
    CpuRes r = cpu_read_desc(s, env, sel, raw);
    if (r != CPU_R_OK)
        return cpu_gp_as(s, r, bad);
    unsigned type = raw[5] & 0x1f;
    if (type == TSS16_AVAIL || type == TSS16_BUSY)
        return cpu_fail(s, "task switch to 16-bit TSS 0x%x: only 32-bit TSSes are supported",
                        sel);
    if (type != (src == CPU_TASK_IRET ? TSS32_BUSY : TSS32_AVAIL))
        return cpu_raise(s, bad, true, err);
    if (!(raw[5] & DESC_P))
        return cpu_raise(s, CPU_EXC_NP, true, err);
    CpuSeg nt;
    cpu_desc_unpack(raw, &nt);
    if (nt.limit < TSS32_MIN_LIMIT)
        return cpu_raise(s, CPU_EXC_TS, true, err);
    unsigned otype = s->tr.access & 0x1f;
    if (!(s->tr.sel & ~3u))
        return cpu_fail(s, "task switch to 0x%x without a current task (no ltr)", sel);
    if (otype != TSS32_BUSY && otype != TSS32_AVAIL)
        return cpu_fail(s, "task switch from TSS 0x%x (type 0x%x): only 32-bit TSSes are "
                        "supported", s->tr.sel, otype);
    if (s->tr.limit < TSS32_MIN_LIMIT)
        return cpu_raise(s, CPU_EXC_TS, true, (s->tr.sel & ~3u) | ext);

    /* Everything the switch touches must be there before anything changes. */
    uint8_t img[TSS32_MIN_LIMIT + 1];
    r = cpu_read(s, env, nt.base, img, sizeof img, CPU_ACC_SYS);
    if (r == CPU_R_OK)
        r = cpu_probe(s, env, s->tr.base + TSS_EIP, TSS_STATE_LEN, CPU_ACC_SYS | CPU_ACC_WRITE);
    if (r == CPU_R_OK && nest)
        r = cpu_probe(s, env, nt.base + TSS_LINK, 2, CPU_ACC_SYS | CPU_ACC_WRITE);
    if (r != CPU_R_OK)
        return r;

    /* Save the outgoing task. */
    uint32_t flags = s->eflags;
    if (src == CPU_TASK_IRET)
        flags &= ~CPU_FL_NT;
    if (src == CPU_TASK_JMP || src == CPU_TASK_IRET) {
        r = cpu_tss_busy(s, env, s->tr.sel, false);
        if (r != CPU_R_OK)
            return r;
    }
    uint32_t st[TSS_STATE_LEN / 4];
    st[0] = ret_eip;
    st[1] = flags;
    for (unsigned i = 0; i < 8; i++)
        st[2 + i] = s->gpr[i];
    for (unsigned i = 0; i < CPU_NSEG; i++)
        st[10 + i] = s->seg[i].sel;
    r = cpu_write(s, env, s->tr.base + TSS_EIP, st, sizeof st, CPU_ACC_SYS);
    if (r == CPU_R_OK && nest) {
        uint16_t link = s->tr.sel;
        r = cpu_write(s, env, nt.base + TSS_LINK, &link, 2, CPU_ACC_SYS);
    }
    if (r == CPU_R_OK && src != CPU_TASK_IRET)
        r = cpu_tss_busy(s, env, sel, true);
    if (r != CPU_R_OK)
        return r;

    /* Load the incoming task: TR, CR3, flags and registers first. */
    nt.sel = sel;
    nt.access |= 2;
    s->tr = nt;
    s->cr0 |= CPU_CR0_TS;
    if (s->cr0 & CPU_CR0_PG) {
        s->cr3 = le32(img + TSS_CR3);
        cpu_mmu_control(s, env);
    }
    uint32_t nflags = le32(img + TSS_EFLAGS);
    if (nflags & CPU_FL_VM)
        return cpu_fail(s, "task switch to TSS 0x%x enters virtual-8086 mode, which is not "
                        "supported", sel);
    s->eflags = (nflags & ~0xffc08028u) | CPU_FL_FIXED | (nest ? CPU_FL_NT : 0);
    s->eip = le32(img + TSS_EIP);
    for (unsigned i = 0; i < 8; i++)
        s->gpr[i] = le32(img + TSS_GPR + 4 * i);
    s->halted = false;
    uint16_t sels[CPU_NSEG];
    for (unsigned i = 0; i < CPU_NSEG; i++) {
        sels[i] = le16(img + TSS_SEG + 4 * i);
        s->seg[i] = (CpuSeg){ .sel = sels[i] };
    }
    uint16_t ldt = le16(img + TSS_LDT);
    s->ldtr = (CpuSeg){ .sel = ldt };
    cpu_set_cpl(s, env, sels[CPU_CS] & 3);

    /* Then the descriptors, in the new task: a bad one is its #TS. */
    r = cpu_load_ldtr(s, env, ldt);
    if (r == CPU_R_EXC && s->exc_vector == CPU_EXC_NP)
        s->exc_vector = CPU_EXC_TS;
    if (r != CPU_R_OK)
        return cpu_gp_as(s, r, CPU_EXC_TS);
    r = cpu_load_cs(s, env, sels[CPU_CS], sels[CPU_CS] & 3);
    if (r != CPU_R_OK)
        return cpu_gp_as(s, r, CPU_EXC_TS);
    static const unsigned order[] = { CPU_SS, CPU_ES, CPU_DS, CPU_FS, CPU_GS };
    for (unsigned i = 0; i < 5; i++) {
        r = cpu_load_seg(s, env, order[i], sels[order[i]]);
        if (r != CPU_R_OK)
            return cpu_gp_as(s, r, CPU_EXC_TS);
    }
    return CPU_R_OK;
}

CpuRes cpu_task_return(CpuState *s, const CpuEnv *env, uint32_t next_eip)
{
    uint8_t b[2];
    CpuRes r = cpu_read(s, env, s->tr.base + TSS_LINK, b, 2, CPU_ACC_SYS);
    if (r != CPU_R_OK)
        return r;
    r = cpu_task_switch(s, env, le16(b), CPU_TASK_IRET, next_eip, 0);
    if (r == CPU_R_OK)
        s->irq_holdoff = true;
    return r;
}

/* --- far jumps and calls ------------------------------------------------------ */

/* To a code segment, at the same privilege (conforming or DPL = CPL). */
static CpuRes cpu_far_code(CpuState *s, const CpuEnv *env, uint16_t sel, const uint8_t raw[8],
                           uint32_t off, bool call, unsigned opsize, uint32_t next_eip)
{
    uint8_t a = raw[5];
    uint32_t err = sel & ~3u;
    if (!(a & DESC_CODE))
        return cpu_raise(s, CPU_EXC_GP, true, err);
    if (a & DESC_CONF) {
        if (DESC_DPL(a) > s->cpl)
            return cpu_raise(s, CPU_EXC_GP, true, err);
    } else if ((sel & 3u) > s->cpl || DESC_DPL(a) != s->cpl) {
        return cpu_raise(s, CPU_EXC_GP, true, err);
    }
    if (!(a & DESC_P))
        return cpu_raise(s, CPU_EXC_NP, true, err);
    uint32_t esp = s->gpr[CPU_ESP];
    if (call) {
        uint32_t v[2] = { s->seg[CPU_CS].sel, next_eip };
        uint8_t img[8];
        cpu_frame(img, v, 2, opsize);
        CpuRes r = cpu_write(s, env, cpu_ss_lin(s, esp - 2 * opsize), img, 2 * opsize, 0);
        if (r != CPU_R_OK)
            return r;
    }
    CpuRes r = cpu_load_cs(s, env, (uint16_t)((sel & ~3u) | s->cpl), s->cpl);
    if (r != CPU_R_OK)
        return r;
    if (call)
        s->gpr[CPU_ESP] = esp - 2 * opsize;
    s->eip = opsize == 4 ? off : (off & 0xffff);
    return CPU_R_OK;
}

/*
 * Through a call gate (SDM CALL/JMP "call gate"): a jmp stays at the same
 * privilege; a call to a more privileged non-conforming segment switches to
 * the stack the TSS holds for it and copies the gate's parameter count of
 * words or dwords from the caller's stack.
 */
static CpuRes cpu_call_gate(CpuState *s, const CpuEnv *env, uint16_t gsel, const uint8_t g[8],
                            bool call, uint32_t next_eip)
{
    uint32_t gerr = gsel & ~3u;
    unsigned gdpl = DESC_DPL(g[5]);
    if (gdpl < s->cpl || gdpl < (gsel & 3u))
        return cpu_raise(s, CPU_EXC_GP, true, gerr);
    if (!(g[5] & DESC_P))
        return cpu_raise(s, CPU_EXC_NP, true, gerr);
    bool g32 = (g[5] & 0x1f) == GATE_CALL32;
    unsigned w = g32 ? 4 : 2;
    uint16_t csel = le16(g + 2);
    uint32_t off = le16(g) | (g32 ? (uint32_t)le16(g + 6) << 16 : 0);
    unsigned nparam = g[4] & 0x1f;
    if (!(csel & ~3u))
        return cpu_raise(s, CPU_EXC_GP, true, 0);
    uint8_t raw[8];
    CpuRes r = cpu_read_desc(s, env, csel, raw);
    if (r != CPU_R_OK)
        return r;
    uint8_t a = raw[5];
    uint32_t cerr = csel & ~3u;
    unsigned dpl = DESC_DPL(a);
    if (!(a & DESC_S) || !(a & DESC_CODE) || dpl > s->cpl)
        return cpu_raise(s, CPU_EXC_GP, true, cerr);
    if (!call && !(a & DESC_CONF) && dpl != s->cpl)
        return cpu_raise(s, CPU_EXC_GP, true, cerr); /* a jmp never changes privilege */
    if (!(a & DESC_P))
        return cpu_raise(s, CPU_EXC_NP, true, cerr);

    uint32_t old_esp = s->gpr[CPU_ESP];
    if (call && !(a & DESC_CONF) && dpl < s->cpl) {
        uint16_t ss;
        uint32_t esp;
        r = cpu_tss_stack(s, env, dpl, 0, &ss, &esp);
        if (r != CPU_R_OK)
            return r;
        /* The parameters, read from the caller's stack at its privilege. */
        uint8_t params[31 * 4];
        r = cpu_read(s, env, cpu_ss_lin(s, old_esp), params, nparam * w, 0);
        if (r != CPU_R_OK)
            return r;
        uint32_t v[2 + 31 + 2];
        unsigned n = 0;
        v[n++] = s->seg[CPU_SS].sel;
        v[n++] = old_esp;
        for (unsigned i = nparam; i-- > 0;)
            v[n++] = w == 4 ? le32(params + 4 * i) : le16(params + 2 * i);
        v[n++] = s->seg[CPU_CS].sel;
        v[n++] = next_eip;
        uint8_t img[sizeof v];
        cpu_frame(img, v, n, w);
        uint32_t sp = esp - n * w;
        CpuSeg save_ss = s->seg[CPU_SS];
        r = cpu_switch_ss(s, env, ss, dpl);
        if (r == CPU_R_OK)
            r = cpu_write(s, env, cpu_ss_lin(s, sp), img, n * w, dpl < 3 ? CPU_ACC_SYS : 0);
        if (r == CPU_R_OK)
            r = cpu_load_cs(s, env, csel, dpl);
        if (r != CPU_R_OK) {
            s->seg[CPU_SS] = save_ss;
            return cpu_gp_as(s, r, CPU_EXC_TS);
        }
        s->gpr[CPU_ESP] = sp;
        s->eip = off;
        return CPU_R_OK;
    }
    if (call) {
        uint32_t v[2] = { s->seg[CPU_CS].sel, next_eip };
        uint8_t img[8];
        cpu_frame(img, v, 2, w);
        r = cpu_write(s, env, cpu_ss_lin(s, old_esp - 2 * w), img, 2 * w, 0);
        if (r != CPU_R_OK)
            return r;
    }
    r = cpu_load_cs(s, env, (uint16_t)((csel & ~3u) | s->cpl), s->cpl);
    if (r != CPU_R_OK)
        return r;
    if (call)
        s->gpr[CPU_ESP] = old_esp - 2 * w;
    s->eip = off;
    return CPU_R_OK;
}

CpuRes cpu_far_jump(CpuState *s, const CpuEnv *env, uint16_t sel, uint32_t off, bool call,
                    unsigned opsize, uint32_t next_eip)
{
    if (!(sel & ~3u))
        return cpu_raise(s, CPU_EXC_GP, true, 0);
    uint8_t raw[8];
    CpuRes r = cpu_read_desc(s, env, sel, raw);
    if (r != CPU_R_OK)
        return r;
    if (raw[5] & DESC_S)
        return cpu_far_code(s, env, sel, raw, off, call, opsize, next_eip);
    uint32_t err = sel & ~3u;
    unsigned dpl = DESC_DPL(raw[5]);
    int src = call ? CPU_TASK_CALL : CPU_TASK_JMP;
    switch (raw[5] & 0x0f) {
    case GATE_CALL16:
    case GATE_CALL32:
        return cpu_call_gate(s, env, sel, raw, call, next_eip);
    case GATE_TASK:
        if (dpl < s->cpl || dpl < (sel & 3u))
            return cpu_raise(s, CPU_EXC_GP, true, err);
        if (!(raw[5] & DESC_P))
            return cpu_raise(s, CPU_EXC_NP, true, err);
        return cpu_task_switch(s, env, le16(raw + 2), src, next_eip, 0);
    case TSS32_AVAIL:
    case TSS16_AVAIL:
        if (dpl < s->cpl || dpl < (sel & 3u))
            return cpu_raise(s, CPU_EXC_GP, true, err);
        return cpu_task_switch(s, env, sel, src, next_eip, 0);
    default: /* a busy TSS, an LDT, an interrupt or trap gate */
        return cpu_raise(s, CPU_EXC_GP, true, err);
    }
}
