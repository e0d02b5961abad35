/*
 * cpu-ia32: decode (Zydis, 32-bit legacy mode) and emulate the instruction a
 * trap stopped at: privileged and I/O instructions, far transfers, segment
 * loads, the rewrite sites of include/lilyvm/rewrite.h, MMIO accesses; and
 * the dispatch of a trap record to all of that.
 */
#include <signal.h>
#include <string.h>
#include <Zydis/Zydis.h>

#include <lilyvm/rewrite.h>
#include "plugins/cpu-ia32/cpu.h"

typedef struct Insn {
    ZydisDecodedInstruction in;
    ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
    uint32_t eip;  /* where the decoded instruction starts */
    uint32_t next; /* EIP after it */
} Insn;

/* Decode the instruction at offset eip of the code segment (CS.base + eip). */
static CpuRes cpu_decode(CpuState *s, const CpuEnv *env, uint32_t eip, Insn *d)
{
    uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH];
    uint32_t n = cpu_fetch(s, env, cpu_cs_lin(s, eip), buf, sizeof buf);
    if (!n)
        return CPU_R_EXC;
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, buf, n, &d->in, d->op)))
        return cpu_raise(s, CPU_EXC_UD, false, 0);
    d->eip = eip;
    d->next = eip + d->in.length;
    return CPU_R_OK;
}

/* --- registers and operands ---------------------------------------------- */

static bool cpu_gpr_of(ZydisRegister r, unsigned *idx, unsigned *shift, unsigned *size)
{
    *shift = 0;
    if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI) {
        *idx = r - ZYDIS_REGISTER_EAX;
        *size = 4;
    } else if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_DI) {
        *idx = r - ZYDIS_REGISTER_AX;
        *size = 2;
    } else if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL) {
        *idx = r - ZYDIS_REGISTER_AL;
        *size = 1;
    } else if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) {
        *idx = r - ZYDIS_REGISTER_AH;
        *shift = 8;
        *size = 1;
    } else {
        return false;
    }
    return true;
}

static uint32_t cpu_get_reg(const CpuState *s, ZydisRegister r)
{
    unsigned i, sh, sz;
    if (!cpu_gpr_of(r, &i, &sh, &sz))
        return 0;
    uint32_t v = s->gpr[i] >> sh;
    return sz == 4 ? v : v & ((1u << (8 * sz)) - 1);
}

static void cpu_set_reg(CpuState *s, ZydisRegister r, uint32_t v)
{
    unsigned i, sh, sz;
    if (!cpu_gpr_of(r, &i, &sh, &sz))
        return;
    if (sz == 4) {
        s->gpr[i] = v;
        return;
    }
    uint32_t mask = ((1u << (8 * sz)) - 1) << sh;
    s->gpr[i] = (s->gpr[i] & ~mask) | ((v << sh) & mask);
}

/* Effective address of a memory operand (every segment is flat). */
static uint32_t cpu_ea(const CpuState *s, const Insn *d, const ZydisDecodedOperand *o)
{
    uint32_t a = (uint32_t)o->mem.disp.value;
    if (o->mem.base != ZYDIS_REGISTER_NONE)
        a += cpu_get_reg(s, o->mem.base);
    if (o->mem.index != ZYDIS_REGISTER_NONE)
        a += cpu_get_reg(s, o->mem.index) * (o->mem.scale ? o->mem.scale : 1);
    if (d->in.address_width == 16)
        a &= 0xffff;
    return a;
}

/* The segment register a memory operand uses (Zydis resolves the default). */
static unsigned cpu_op_seg(const ZydisDecodedOperand *o)
{
    if (o->mem.segment >= ZYDIS_REGISTER_ES && o->mem.segment <= ZYDIS_REGISTER_GS)
        return o->mem.segment - ZYDIS_REGISTER_ES;
    return CPU_DS;
}

/* Linear address of a memory operand, through its segment's checks. */
static CpuRes cpu_op_linear(CpuState *s, const Insn *d, const ZydisDecodedOperand *o,
                            unsigned size, bool write, uint32_t *lin)
{
    return cpu_seg_linear(s, cpu_op_seg(o), cpu_ea(s, d, o), size, write, lin);
}

/* Read len bytes of a memory operand (descriptor-table images, far pointers). */
static CpuRes cpu_op_read_bytes(CpuState *s, const CpuEnv *env, const Insn *d, unsigned i,
                                void *buf, uint32_t len)
{
    uint32_t lin;
    CpuRes r = cpu_op_linear(s, d, &d->op[i], len, false, &lin);
    return r == CPU_R_OK ? cpu_read(s, env, lin, buf, len, 0) : r;
}

static CpuRes cpu_op_write_bytes(CpuState *s, const CpuEnv *env, const Insn *d, unsigned i,
                                 const void *buf, uint32_t len)
{
    uint32_t lin;
    CpuRes r = cpu_op_linear(s, d, &d->op[i], len, true, &lin);
    if (r == CPU_R_OK)
        r = cpu_probe(s, env, lin, len, CPU_ACC_WRITE);
    return r == CPU_R_OK ? cpu_write(s, env, lin, buf, len, 0) : r;
}

/* Read an operand of size bytes (register, memory or immediate). */
static CpuRes cpu_op_read(CpuState *s, const CpuEnv *env, const Insn *d, unsigned i,
                          unsigned size, uint32_t *v)
{
    const ZydisDecodedOperand *o = &d->op[i];
    *v = 0;
    switch (o->type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
        *v = cpu_get_reg(s, o->reg.value);
        if (size < 4)
            *v &= (1u << (8 * size)) - 1;
        return CPU_R_OK;
    case ZYDIS_OPERAND_TYPE_MEMORY: {
        uint32_t lin;
        CpuRes r = cpu_op_linear(s, d, o, size, false, &lin);
        return r == CPU_R_OK ? cpu_mem_read(s, env, lin, size, v, 0) : r;
    }
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        *v = (uint32_t)o->imm.value.u;
        if (size < 4)
            *v &= (1u << (8 * size)) - 1;
        return CPU_R_OK;
    default:
        return cpu_fail(s, "unexpected operand type %d", (int)o->type);
    }
}

/*
 * Write an operand.  A register destination of 32 bits takes the value
 * zero-extended; memory takes mem_size bytes.
 */
static CpuRes cpu_op_write(CpuState *s, const CpuEnv *env, const Insn *d, unsigned i,
                           uint32_t v, unsigned mem_size)
{
    const ZydisDecodedOperand *o = &d->op[i];
    if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
        cpu_set_reg(s, o->reg.value, v);
        return CPU_R_OK;
    }
    if (o->type == ZYDIS_OPERAND_TYPE_MEMORY) {
        uint32_t lin;
        CpuRes r = cpu_op_linear(s, d, o, mem_size, true, &lin);
        return r == CPU_R_OK ? cpu_mem_write(s, env, lin, mem_size, v, 0) : r;
    }
    return cpu_fail(s, "unexpected destination operand type %d", (int)o->type);
}

static bool cpu_is_sreg(ZydisRegister r)
{
    return r >= ZYDIS_REGISTER_ES && r <= ZYDIS_REGISTER_GS;
}

static void cpu_set_zf(CpuState *s, bool z)
{
    if (z)
        s->eflags |= CPU_FL_ZF;
    else
        s->eflags &= ~CPU_FL_ZF;
}

/* The EFLAGS image pushf would store. */
static uint32_t cpu_flags_image(const CpuState *s)
{
    return (s->eflags & ~(CPU_FL_RF | CPU_FL_VM)) | CPU_FL_FIXED;
}

/* --- I/O ---------------------------------------------------------------- */

static bool cpu_io_allowed(const CpuState *s)
{
    return s->cpl <= ((s->eflags & CPU_FL_IOPL) >> 12);
}

/*
 * May the guest use the size ports from port?  At CPL <= IOPL always; above,
 * the I/O permission bitmap of the current 32-bit TSS decides: one bit per
 * port, every bit of the access clear.  The CPU reads two bytes of the map
 * for any access (a port range may straddle a byte), so both must lie within
 * the TSS limit, and ports the map does not reach are denied.  #GP(0) when
 * denied.
 */
static CpuRes cpu_io_check(CpuState *s, const CpuEnv *env, uint16_t port, unsigned size)
{
    if (cpu_io_allowed(s))
        return CPU_R_OK;
    unsigned type = s->tr.access & 0x1f;
    if (!(s->tr.sel & ~3u) || (type != 0x09 && type != 0x0b) || s->tr.limit < 0x67)
        return cpu_raise(s, CPU_EXC_GP, true, 0);
    uint8_t b[2];
    CpuRes r = cpu_read(s, env, s->tr.base + 0x66, b, 2, CPU_ACC_SYS);
    if (r != CPU_R_OK)
        return r;
    uint32_t at = (uint32_t)(b[0] | b[1] << 8) + port / 8u;
    if (at + 1 > s->tr.limit)
        return cpu_raise(s, CPU_EXC_GP, true, 0);
    r = cpu_read(s, env, s->tr.base + at, b, 2, CPU_ACC_SYS);
    if (r != CPU_R_OK)
        return r;
    uint32_t map = (uint32_t)(b[0] | b[1] << 8) >> (port & 7);
    if (map & ((1u << size) - 1))
        return cpu_raise(s, CPU_EXC_GP, true, 0);
    return CPU_R_OK;
}

/* rep ins / rep outs: whole runs per page, one device call per run. */
static CpuRes cpu_string_io(CpuState *s, const CpuEnv *env, const Insn *d, bool in,
                            unsigned size)
{
    bool rep = d->in.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE |
                                   ZYDIS_ATTRIB_HAS_REPNE);
    uint16_t port = (uint16_t)s->gpr[CPU_EDX];
    unsigned ri = in ? CPU_EDI : CPU_ESI;
    bool back = s->eflags & CPU_FL_DF;
    uint32_t count = rep ? s->gpr[CPU_ECX] : 1;
    /* ins writes ES:EDI; outs reads DS:ESI or its override. */
    unsigned seg = CPU_ES;
    for (unsigned i = 0; !in && i < d->in.operand_count; i++)
        if (d->op[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
            seg = cpu_op_seg(&d->op[i]);
    const CpuSeg *sg = &s->seg[seg];
    bool flat = sg->base == 0 && sg->limit == 0xffffffffu;
    uint8_t buf[4096];
    while (count) {
        uint32_t addr = s->gpr[ri];
        uint32_t n;
        if (back || !flat) {
            n = 1; /* backwards or through a segment: one item at a time */
        } else {
            n = (4096 - (addr & 4095)) / size;
            if (!n)
                n = 1;
            if (n > count)
                n = count;
        }
        uint32_t bytes = n * size;
        uint32_t off = addr;
        CpuRes r = cpu_seg_linear(s, seg, off, bytes, in, &addr);
        if (r != CPU_R_OK)
            return r;
        if (in) {
            /* Probe the destination first: no port data is lost to a #PF. */
            r = cpu_read(s, env, addr, buf, bytes, CPU_ACC_WRITE);
            if (r == CPU_R_OK)
                r = cpu_write(s, env, addr, buf, bytes, 0);
            if (r != CPU_R_OK)
                return r;
            env->pio_read_rep(env->opaque, port, size, buf, n);
            r = cpu_write(s, env, addr, buf, bytes, 0);
        } else {
            r = cpu_read(s, env, addr, buf, bytes, 0);
            if (r == CPU_R_OK)
                env->pio_write_rep(env->opaque, port, size, buf, n);
        }
        if (r != CPU_R_OK)
            return r;
        s->gpr[ri] = back ? off - bytes : off + bytes;
        count -= n;
        if (rep)
            s->gpr[CPU_ECX] = count;
    }
    s->eip = d->next;
    return CPU_R_OK;
}

/* --- control registers and MSRs ----------------------------------------- */

static CpuRes cpu_write_cr(CpuState *s, const CpuEnv *env, unsigned n, uint32_t v)
{
    s->stats[CPU_STAT_CR]++;
    switch (n) {
    case 0:
        if (!(v & CPU_CR0_PE))
            return cpu_fail(s, "the guest cleared CR0.PE: real mode is not supported");
        if ((v & CPU_CR0_PG) && !env->mmu)
            return cpu_fail(s, "the guest enabled paging, but the machine has no MMU plugin");
        s->cr0 = v | CPU_CR0_ET;
        break;
    case 2:
        s->cr2 = v;
        return CPU_R_OK;
    case 3:
        s->cr3 = v;
        break;
    case 4:
        if (v & ~0x7ffu & ~0x10000u & ~0x40000u)
            return cpu_raise(s, CPU_EXC_GP, true, 0);
        s->cr4 = v;
        break;
    default:
        return cpu_raise(s, CPU_EXC_UD, false, 0);
    }
    cpu_mmu_control(s, env);
    return CPU_R_OK;
}

static uint64_t cpu_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static CpuRes cpu_msr(CpuState *s, bool write)
{
    uint32_t idx = s->gpr[CPU_ECX];
    uint64_t v = (uint64_t)s->gpr[CPU_EDX] << 32 | s->gpr[CPU_EAX];
    uint64_t *p;
    switch (idx) {
    case 0x10: /* IA32_TIME_STAMP_COUNTER */
        if (write)
            s->tsc_offset = v - cpu_rdtsc();
        else
            v = cpu_rdtsc() + s->tsc_offset;
        p = NULL;
        break;
    case 0x1b: p = &s->msr_apic_base; break;
    case 0x174: p = &s->msr_sysenter_cs; break;
    case 0x175: p = &s->msr_sysenter_esp; break;
    case 0x176: p = &s->msr_sysenter_eip; break;
    default:
        return cpu_raise(s, CPU_EXC_GP, true, 0);
    }
    if (p) {
        if (write)
            *p = v;
        else
            v = *p;
    }
    if (!write) {
        s->gpr[CPU_EAX] = (uint32_t)v;
        s->gpr[CPU_EDX] = (uint32_t)(v >> 32);
    }
    return CPU_R_OK;
}

/* --- rewrite sites ------------------------------------------------------- */

static CpuRes cpu_rewrite(CpuState *s, const CpuEnv *env, unsigned vec, uint32_t site_eip)
{
    Insn d;
    CpuRes r = cpu_decode(s, env, site_eip + LILY_REWRITE_TRAP_LEN, &d);
    if (r != CPU_R_OK)
        return r;
    ZydisMnemonic m = d.in.mnemonic;
    unsigned osz = d.in.operand_width == 16 ? 2 : 4;
    bool match = false;
    uint32_t v = 0;
    s->stats[CPU_STAT_REWRITE]++;
    switch (vec) {
    case LILY_REWRITE_VEC_PUSHF:
        if ((match = m == ZYDIS_MNEMONIC_PUSHF || m == ZYDIS_MNEMONIC_PUSHFD)) {
            s->stats[CPU_STAT_PUSHF_POPF]++;
            r = cpu_push(s, env, cpu_flags_image(s), osz);
        }
        break;
    case LILY_REWRITE_VEC_POPF:
        if ((match = m == ZYDIS_MNEMONIC_POPF || m == ZYDIS_MNEMONIC_POPFD)) {
            s->stats[CPU_STAT_PUSHF_POPF]++;
            r = cpu_pop(s, env, &v, osz);
            if (r == CPU_R_OK)
                cpu_set_eflags(s, v, osz == 2 ? 0xffffu : 0xffffffffu);
        }
        break;
    case LILY_REWRITE_VEC_MOV_SREG:
        if ((match = m == ZYDIS_MNEMONIC_MOV && d.op[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                     cpu_is_sreg(d.op[1].reg.value))) {
            v = s->seg[d.op[1].reg.value - ZYDIS_REGISTER_ES].sel;
            r = cpu_op_write(s, env, &d, 0, v, 2);
        }
        break;
    case LILY_REWRITE_VEC_PUSH_SREG:
        if ((match = m == ZYDIS_MNEMONIC_PUSH && d.op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                     cpu_is_sreg(d.op[0].reg.value))) {
            v = s->seg[d.op[0].reg.value - ZYDIS_REGISTER_ES].sel;
            r = cpu_push(s, env, v, osz);
        }
        break;
    case LILY_REWRITE_VEC_SGDT:
    case LILY_REWRITE_VEC_SIDT:
        match = (vec == LILY_REWRITE_VEC_SGDT ? m == ZYDIS_MNEMONIC_SGDT : m == ZYDIS_MNEMONIC_SIDT) &&
                d.op[0].type == ZYDIS_OPERAND_TYPE_MEMORY;
        if (match) {
            uint8_t img[6];
            uint16_t lim = vec == LILY_REWRITE_VEC_SGDT ? s->gdt_limit : s->idt_limit;
            uint32_t base = vec == LILY_REWRITE_VEC_SGDT ? s->gdt_base : s->idt_base;
            memcpy(img, &lim, 2);
            memcpy(img + 2, &base, 4);
            r = cpu_op_write_bytes(s, env, &d, 0, img, 6);
        }
        break;
    case LILY_REWRITE_VEC_SLDT:
    case LILY_REWRITE_VEC_STR:
        if ((match = m == (vec == LILY_REWRITE_VEC_SLDT ? ZYDIS_MNEMONIC_SLDT : ZYDIS_MNEMONIC_STR)))
            r = cpu_op_write(s, env, &d, 0,
                             vec == LILY_REWRITE_VEC_SLDT ? s->ldtr.sel : s->tr.sel, 2);
        break;
    case LILY_REWRITE_VEC_SMSW:
        if ((match = m == ZYDIS_MNEMONIC_SMSW)) {
            bool r32 = d.op[0].type == ZYDIS_OPERAND_TYPE_REGISTER && d.op[0].size == 32;
            r = cpu_op_write(s, env, &d, 0, r32 ? s->cr0 : (s->cr0 & 0xffff), 2);
        }
        break;
    case LILY_REWRITE_VEC_LAR:
    case LILY_REWRITE_VEC_LSL:
        if ((match = m == (vec == LILY_REWRITE_VEC_LAR ? ZYDIS_MNEMONIC_LAR : ZYDIS_MNEMONIC_LSL))) {
            uint32_t sel;
            r = cpu_op_read(s, env, &d, 1, 2, &sel);
            if (r != CPU_R_OK)
                break;
            bool ok;
            cpu_seg_query(s, env, (uint16_t)sel,
                          vec == LILY_REWRITE_VEC_LAR ? CPU_Q_LAR : CPU_Q_LSL, &ok, &v);
            cpu_set_zf(s, ok);
            if (ok) {
                if (vec == LILY_REWRITE_VEC_LAR)
                    v &= 0x00ffff00u;
                cpu_set_reg(s, d.op[0].reg.value, v);
            }
        }
        break;
    case LILY_REWRITE_VEC_VERR:
    case LILY_REWRITE_VEC_VERW:
        if ((match = m == (vec == LILY_REWRITE_VEC_VERR ? ZYDIS_MNEMONIC_VERR : ZYDIS_MNEMONIC_VERW))) {
            uint32_t sel;
            r = cpu_op_read(s, env, &d, 0, 2, &sel);
            if (r != CPU_R_OK)
                break;
            bool ok;
            cpu_seg_query(s, env, (uint16_t)sel,
                          vec == LILY_REWRITE_VEC_VERR ? CPU_Q_VERR : CPU_Q_VERW, &ok, &v);
            cpu_set_zf(s, ok);
        }
        break;
    case LILY_REWRITE_VEC_INT:
        if ((match = m == ZYDIS_MNEMONIC_INT)) {
            s->stats[CPU_STAT_SOFT_INT]++;
            unsigned n = (unsigned)d.op[0].imm.value.u & 0xff;
            return cpu_deliver(s, env, n, CPU_EV_SOFT, false, 0, d.next);
        }
        break;
    }
    if (!match)
        return cpu_fail(s, "corrupt rewrite site at 0x%x: vector 0x%x (%s) is followed by an "
                        "instruction of another kind", site_eip, vec,
                        lily_rewrite_vector_name(vec));
    if (r == CPU_R_OK)
        s->eip = d.next;
    return r;
}

/* --- data instructions on MMIO and through segments that are not flat -------- */

/*
 * A data access traps when it reaches a device (MMIO, or RAM the guest
 * process cannot map) or goes through a data segment with a base or a limit
 * (the host runs those on its null selector).  Such instructions are
 * emulated here whole: operands through cpu_seg_linear() and
 * cpu_mem_read()/cpu_mem_write(), EFLAGS as the hardware computes them.
 */

static bool cpu_seg_is_flat(const CpuSeg *sg)
{
    return sg->base == 0 && sg->limit == 0xffffffffu;
}

#define CPU_FL_ARITH (CPU_FL_CF | CPU_FL_PF | CPU_FL_AF | CPU_FL_ZF | CPU_FL_SF | CPU_FL_OF)

enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP, ALU_TEST,
       ALU_INC, ALU_DEC, ALU_NEG };

/*
 * One arithmetic or logic operation of size bytes; sets the arithmetic
 * flags as the SDM defines them (AF, left undefined by the logic
 * operations, is cleared as processors do).  Return: the result.
 */
static uint32_t cpu_alu(CpuState *s, int op, uint32_t a, uint32_t b, unsigned size)
{
    uint32_t m = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    uint32_t sign = 1u << (8 * size - 1);
    uint32_t carry = s->eflags & CPU_FL_CF ? 1 : 0;
    uint32_t res, f = 0, keep = 0;
    a &= m;
    b &= m;
    switch (op) {
    case ALU_ADD: case ALU_ADC: case ALU_INC: {
        uint32_t c = op == ALU_ADC ? carry : 0;
        if (op == ALU_INC) {
            b = 1;
            keep = CPU_FL_CF;
        }
        uint64_t wide = (uint64_t)a + b + c;
        res = (uint32_t)wide & m;
        if (wide > m)
            f |= CPU_FL_CF;
        if ((a ^ res) & (b ^ res) & sign)
            f |= CPU_FL_OF;
        if ((a ^ b ^ res) & 0x10)
            f |= CPU_FL_AF;
        break;
    }
    case ALU_SUB: case ALU_SBB: case ALU_CMP: case ALU_DEC: case ALU_NEG: {
        uint32_t c = op == ALU_SBB ? carry : 0;
        if (op == ALU_DEC) {
            b = 1;
            keep = CPU_FL_CF;
        } else if (op == ALU_NEG) {
            b = a;
            a = 0;
        }
        res = (a - b - c) & m;
        if ((uint64_t)b + c > a)
            f |= CPU_FL_CF;
        if ((a ^ b) & (a ^ res) & sign)
            f |= CPU_FL_OF;
        if ((a ^ b ^ res) & 0x10)
            f |= CPU_FL_AF;
        break;
    }
    case ALU_OR:
        res = a | b;
        break;
    case ALU_XOR:
        res = a ^ b;
        break;
    default: /* AND, TEST */
        res = a & b;
        break;
    }
    if (!res)
        f |= CPU_FL_ZF;
    if (res & sign)
        f |= CPU_FL_SF;
    if (!__builtin_parity(res & 0xff))
        f |= CPU_FL_PF;
    uint32_t mask = CPU_FL_ARITH & ~keep;
    s->eflags = (s->eflags & ~mask) | (f & mask);
    return res;
}

/* Condition code cc (the low nibble of jcc/setcc/cmovcc) against EFLAGS. */
static bool cpu_cond(const CpuState *s, unsigned cc)
{
    uint32_t f = s->eflags;
    bool sf_ne_of = !(f & CPU_FL_SF) != !(f & CPU_FL_OF);
    bool v;
    switch (cc >> 1) {
    case 0: v = f & CPU_FL_OF; break;
    case 1: v = f & CPU_FL_CF; break;
    case 2: v = f & CPU_FL_ZF; break;
    case 3: v = f & (CPU_FL_CF | CPU_FL_ZF); break;
    case 4: v = f & CPU_FL_SF; break;
    case 5: v = f & CPU_FL_PF; break;
    case 6: v = sf_ne_of; break;
    default: v = (f & CPU_FL_ZF) || sf_ne_of; break;
    }
    return v != (cc & 1);
}

static void cpu_set_flag(CpuState *s, uint32_t flag, bool on)
{
    if (on)
        s->eflags |= flag;
    else
        s->eflags &= ~flag;
}

/*
 * shl/sal, shr, sar, rol, ror of size bytes by count (already masked to 5
 * bits; 0 changes nothing).  CF is the last bit shifted out; OF follows the
 * SDM's count-1 definition (undefined for other counts, computed the same
 * way); the shifts set SF, ZF, PF from the result and clear AF; the rotates
 * touch CF and OF only.
 */
static uint32_t cpu_shift(CpuState *s, ZydisMnemonic m, uint32_t a, unsigned count,
                          unsigned size)
{
    unsigned bits = 8 * size;
    uint32_t mask = size == 4 ? 0xffffffffu : (1u << bits) - 1;
    uint32_t sign = 1u << (bits - 1);
    uint32_t res;
    a &= mask;
    if (!count)
        return a;
    if (m == ZYDIS_MNEMONIC_ROL || m == ZYDIS_MNEMONIC_ROR) {
        unsigned n = count % bits;
        res = n == 0 ? a
              : m == ZYDIS_MNEMONIC_ROL ? ((a << n) | (a >> (bits - n))) & mask
                                        : ((a >> n) | (a << (bits - n))) & mask;
        bool cf = m == ZYDIS_MNEMONIC_ROL ? res & 1 : res & sign;
        bool of = m == ZYDIS_MNEMONIC_ROL ? !(res & sign) != !cf
                                          : !(res & sign) != !(res & (sign >> 1));
        cpu_set_flag(s, CPU_FL_CF, cf);
        cpu_set_flag(s, CPU_FL_OF, of);
        return res;
    }
    bool cf, of;
    if (m == ZYDIS_MNEMONIC_SHR) {
        res = count >= bits ? 0 : a >> count;
        cf = count <= bits && ((a >> (count - 1)) & 1);
        of = a & sign;
    } else if (m == ZYDIS_MNEMONIC_SAR) {
        int32_t sa = (int32_t)(a << (32 - bits)) >> (32 - bits); /* sign-extended */
        unsigned n = count >= bits ? bits - 1 : count;
        res = (uint32_t)(sa >> n) & mask;
        cf = count >= bits ? (a & sign) != 0 : ((uint32_t)(sa >> (count - 1)) & 1);
        of = false;
    } else { /* shl, sal */
        res = count >= bits ? 0 : (a << count) & mask;
        cf = count <= bits && ((a >> (bits - count)) & 1);
        of = !(res & sign) != !cf;
    }
    cpu_set_flag(s, CPU_FL_CF, cf);
    cpu_set_flag(s, CPU_FL_OF, of);
    cpu_set_flag(s, CPU_FL_ZF, res == 0);
    cpu_set_flag(s, CPU_FL_SF, res & sign);
    cpu_set_flag(s, CPU_FL_PF, !__builtin_parity(res & 0xff));
    s->eflags &= ~CPU_FL_AF;
    return res;
}

/* The accumulator of size bytes (AL, AX, EAX). */
static ZydisRegister cpu_acc_reg(unsigned size)
{
    return size == 1 ? ZYDIS_REGISTER_AL : size == 2 ? ZYDIS_REGISTER_AX : ZYDIS_REGISTER_EAX;
}

/* Where a destination operand lives, resolved once for read-modify-write. */
typedef struct CpuLoc {
    bool mem;
    uint32_t lin;
} CpuLoc;

/* Read operand i as a destination: memory is translated for writing first. */
static CpuRes cpu_dst_read(CpuState *s, const CpuEnv *env, const Insn *d, unsigned i,
                           unsigned size, CpuLoc *loc, uint32_t *v)
{
    const ZydisDecodedOperand *o = &d->op[i];
    loc->mem = o->type == ZYDIS_OPERAND_TYPE_MEMORY;
    if (!loc->mem)
        return cpu_op_read(s, env, d, i, size, v);
    CpuRes r = cpu_op_linear(s, d, o, size, true, &loc->lin);
    if (r == CPU_R_OK)
        r = cpu_probe(s, env, loc->lin, size, CPU_ACC_WRITE);
    return r == CPU_R_OK ? cpu_mem_read(s, env, loc->lin, size, v, CPU_ACC_WRITE) : r;
}

static CpuRes cpu_dst_write(CpuState *s, const CpuEnv *env, const Insn *d, unsigned i,
                            const CpuLoc *loc, uint32_t v, unsigned size)
{
    if (loc->mem)
        return cpu_mem_write(s, env, loc->lin, size, v, 0);
    cpu_set_reg(s, d->op[i].reg.value, v); /* a partial register keeps its other bits */
    return CPU_R_OK;
}

static bool cpu_is_gpr_or_mem_or_imm(const ZydisDecodedOperand *o)
{
    unsigned i, sh, sz;
    if (o->type == ZYDIS_OPERAND_TYPE_REGISTER)
        return cpu_gpr_of(o->reg.value, &i, &sh, &sz);
    return o->type == ZYDIS_OPERAND_TYPE_MEMORY || o->type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
}

/* Add delta to an index register of address-size am (SI/DI keep the upper half). */
static void cpu_idx_add(CpuState *s, unsigned reg, int32_t delta, uint32_t am)
{
    s->gpr[reg] = (s->gpr[reg] & ~am) | ((s->gpr[reg] + (uint32_t)delta) & am);
}

/* Iterations of a rep string instruction per trap: the rest restarts it. */
#define CPU_REP_CHUNK 16384u

/* movs, cmps, stos, lods, scas (with rep/repe/repne) through their segments. */
static CpuRes cpu_string_mem(CpuState *s, const CpuEnv *env, const Insn *d)
{
    uint8_t opc = d->in.opcode;
    unsigned kind = opc & 0xfe; /* a4 movs, a6 cmps, aa stos, ac lods, ae scas */
    unsigned size = (opc & 1) ? d->in.operand_width / 8 : 1;
    uint32_t am = d->in.address_width == 16 ? 0xffffu : 0xffffffffu;
    bool repne = d->in.attributes & ZYDIS_ATTRIB_HAS_REPNE;
    bool rep = repne || (d->in.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE));
    unsigned src_seg = CPU_DS;
    for (unsigned i = 0; i < d->in.operand_count; i++) {
        const ZydisDecodedOperand *o = &d->op[i];
        if (o->type == ZYDIS_OPERAND_TYPE_MEMORY &&
            (o->mem.base == ZYDIS_REGISTER_ESI || o->mem.base == ZYDIS_REGISTER_SI))
            src_seg = cpu_op_seg(o);
    }
    int32_t step = s->eflags & CPU_FL_DF ? -(int32_t)size : (int32_t)size;
    uint32_t count = rep ? s->gpr[CPU_ECX] & am : 1;
    for (unsigned done = 0; count; done++) {
        if (done == CPU_REP_CHUNK)
            return CPU_R_OK; /* EIP stays: the guest resumes the rep where it is */
        uint32_t lin, a = 0, b = 0;
        CpuRes r = CPU_R_OK;
        bool reads_src = kind == 0xa4 || kind == 0xa6 || kind == 0xac;
        bool reads_dst = kind == 0xa6 || kind == 0xae;
        if (reads_src) {
            r = cpu_seg_linear(s, src_seg, s->gpr[CPU_ESI] & am, size, false, &lin);
            if (r == CPU_R_OK)
                r = cpu_mem_read(s, env, lin, size, &a, 0);
        }
        if (r == CPU_R_OK && (reads_dst || kind == 0xa4 || kind == 0xaa))
            r = cpu_seg_linear(s, CPU_ES, s->gpr[CPU_EDI] & am, size, !reads_dst, &lin);
        if (r == CPU_R_OK && reads_dst)
            r = cpu_mem_read(s, env, lin, size, &b, 0);
        if (r == CPU_R_OK && kind == 0xa4)
            r = cpu_mem_write(s, env, lin, size, a, 0);
        if (r == CPU_R_OK && kind == 0xaa)
            r = cpu_mem_write(s, env, lin, size, s->gpr[CPU_EAX], 0);
        if (r != CPU_R_OK)
            return r;
        if (kind == 0xac)
            cpu_set_reg(s, size == 1 ? ZYDIS_REGISTER_AL : size == 2 ? ZYDIS_REGISTER_AX
                                                                     : ZYDIS_REGISTER_EAX, a);
        if (kind == 0xa6)
            cpu_alu(s, ALU_CMP, a, b, size);
        if (kind == 0xae)
            cpu_alu(s, ALU_CMP, s->gpr[CPU_EAX], b, size);
        if (reads_src)
            cpu_idx_add(s, CPU_ESI, step, am);
        if (kind != 0xac)
            cpu_idx_add(s, CPU_EDI, step, am);
        count--;
        if (rep)
            s->gpr[CPU_ECX] = (s->gpr[CPU_ECX] & ~am) | count;
        if (rep && (kind == 0xa6 || kind == 0xae) &&
            !!(s->eflags & CPU_FL_ZF) == repne)
            break; /* repe stops on a difference, repne on a match */
    }
    s->eip = d->next;
    return CPU_R_OK;
}

/* bt, bts, btr, btc with a memory operand: a register offset reaches beyond it. */
static CpuRes cpu_bit_mem(CpuState *s, const CpuEnv *env, const Insn *d)
{
    ZydisMnemonic m = d->in.mnemonic;
    const ZydisDecodedOperand *o = &d->op[0];
    unsigned size = o->size / 8, bits = 8 * size;
    uint32_t off = cpu_ea(s, d, o), bit;
    if (d->op[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        bit = (uint32_t)d->op[1].imm.value.u & (bits - 1);
    } else {
        uint32_t v = cpu_get_reg(s, d->op[1].reg.value);
        int32_t sv = size == 2 ? (int16_t)v : (int32_t)v;
        bit = (uint32_t)sv & (bits - 1);
        off += (uint32_t)((sv >> (size == 2 ? 4 : 5)) * (int32_t)size);
        if (d->in.address_width == 16)
            off &= 0xffff;
    }
    bool write = m != ZYDIS_MNEMONIC_BT;
    uint32_t lin, v;
    CpuRes r = cpu_seg_linear(s, cpu_op_seg(o), off, size, write, &lin);
    if (r == CPU_R_OK && write)
        r = cpu_probe(s, env, lin, size, CPU_ACC_WRITE);
    if (r == CPU_R_OK)
        r = cpu_mem_read(s, env, lin, size, &v, write ? CPU_ACC_WRITE : 0);
    if (r != CPU_R_OK)
        return r;
    uint32_t mask = 1u << bit;
    if (v & mask)
        s->eflags |= CPU_FL_CF;
    else
        s->eflags &= ~CPU_FL_CF;
    if (write) {
        v = m == ZYDIS_MNEMONIC_BTS ? v | mask : m == ZYDIS_MNEMONIC_BTR ? v & ~mask : v ^ mask;
        r = cpu_mem_write(s, env, lin, size, v, 0);
    }
    if (r == CPU_R_OK)
        s->eip = d->next;
    return r;
}

/*
 * Emulate a data instruction with a memory operand: mov, movzx, movsx, the
 * ALU operations, inc, dec, neg, not, xchg, push/pop of memory, the bit
 * tests and the string instructions.  Return: CPU_R_RETRY when the
 * instruction is none of those.
 */
static CpuRes cpu_emulate_mem(CpuState *s, const CpuEnv *env, const Insn *d)
{
    ZydisMnemonic m = d->in.mnemonic;
    const ZydisDecodedOperand *o0 = &d->op[0], *o1 = &d->op[1];
    unsigned size = o0->size / 8;
    uint32_t a = 0, b = 0;
    CpuLoc loc;
    CpuRes r;
    int alu = -1;

    if (d->in.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && d->in.opcode >= 0xa4 &&
        d->in.opcode <= 0xaf && d->in.opcode != 0xa8 && d->in.opcode != 0xa9)
        return cpu_string_mem(s, env, d);
    if (m == ZYDIS_MNEMONIC_MOV && o0->type == ZYDIS_OPERAND_TYPE_MEMORY &&
        o1->type == ZYDIS_OPERAND_TYPE_REGISTER && cpu_is_sreg(o1->reg.value)) {
        /* mov %sreg, m16: the guest's selector (the host runs others). */
        r = cpu_op_write(s, env, d, 0, s->seg[o1->reg.value - ZYDIS_REGISTER_ES].sel, 2);
        if (r == CPU_R_OK)
            s->eip = d->next;
        return r;
    }
    unsigned nvis = d->in.operand_count_visible;
    for (unsigned i = 0; i < nvis; i++)
        if (!cpu_is_gpr_or_mem_or_imm(&d->op[i]))
            return CPU_R_RETRY; /* segment, control, x87, SSE registers */

    switch (m) {
    case ZYDIS_MNEMONIC_MOV:
        r = cpu_op_read(s, env, d, 1, size, &a);
        if (r == CPU_R_OK)
            r = cpu_op_write(s, env, d, 0, a, size);
        break;
    case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSX: {
        unsigned ssize = o1->size / 8;
        r = cpu_op_read(s, env, d, 1, ssize, &a);
        if (r == CPU_R_OK && m == ZYDIS_MNEMONIC_MOVSX)
            a = ssize == 1 ? (uint32_t)(int32_t)(int8_t)a : (uint32_t)(int32_t)(int16_t)a;
        if (r == CPU_R_OK)
            cpu_set_reg(s, o0->reg.value, a);
        break;
    }
    case ZYDIS_MNEMONIC_ADD: alu = ALU_ADD; break;
    case ZYDIS_MNEMONIC_OR: alu = ALU_OR; break;
    case ZYDIS_MNEMONIC_ADC: alu = ALU_ADC; break;
    case ZYDIS_MNEMONIC_SBB: alu = ALU_SBB; break;
    case ZYDIS_MNEMONIC_AND: alu = ALU_AND; break;
    case ZYDIS_MNEMONIC_SUB: alu = ALU_SUB; break;
    case ZYDIS_MNEMONIC_XOR: alu = ALU_XOR; break;
    case ZYDIS_MNEMONIC_CMP: alu = ALU_CMP; break;
    case ZYDIS_MNEMONIC_TEST: alu = ALU_TEST; break;
    case ZYDIS_MNEMONIC_INC: alu = ALU_INC; break;
    case ZYDIS_MNEMONIC_DEC: alu = ALU_DEC; break;
    case ZYDIS_MNEMONIC_NEG: alu = ALU_NEG; break;
    case ZYDIS_MNEMONIC_NOT:
        r = cpu_dst_read(s, env, d, 0, size, &loc, &a);
        if (r == CPU_R_OK)
            r = cpu_dst_write(s, env, d, 0, &loc, ~a, size);
        break;
    case ZYDIS_MNEMONIC_XCHG: {
        /* One operand is memory: put it first. */
        unsigned mi = o0->type == ZYDIS_OPERAND_TYPE_MEMORY ? 0 : 1;
        const ZydisDecodedOperand *ro = &d->op[1 - mi];
        r = cpu_dst_read(s, env, d, mi, size, &loc, &a);
        if (r == CPU_R_OK)
            r = cpu_dst_write(s, env, d, mi, &loc, cpu_get_reg(s, ro->reg.value), size);
        if (r == CPU_R_OK)
            cpu_set_reg(s, ro->reg.value, a);
        break;
    }
    case ZYDIS_MNEMONIC_PUSH:
        if (o0->type != ZYDIS_OPERAND_TYPE_MEMORY)
            return CPU_R_RETRY;
        r = cpu_op_read(s, env, d, 0, size, &a);
        if (r == CPU_R_OK)
            r = cpu_push(s, env, a, size);
        break;
    case ZYDIS_MNEMONIC_POP: {
        if (o0->type != ZYDIS_OPERAND_TYPE_MEMORY)
            return CPU_R_RETRY;
        /* The destination's address uses ESP after the pop (SDM: POP). */
        uint32_t save_esp = s->gpr[CPU_ESP];
        r = cpu_pop(s, env, &a, size);
        if (r == CPU_R_OK)
            r = cpu_op_write(s, env, d, 0, a, size);
        if (r != CPU_R_OK)
            s->gpr[CPU_ESP] = save_esp;
        break;
    }
    case ZYDIS_MNEMONIC_BT: case ZYDIS_MNEMONIC_BTS:
    case ZYDIS_MNEMONIC_BTR: case ZYDIS_MNEMONIC_BTC:
        if (o0->type != ZYDIS_OPERAND_TYPE_MEMORY)
            return CPU_R_RETRY;
        return cpu_bit_mem(s, env, d);
    case ZYDIS_MNEMONIC_CMPXCHG: {
        /* Compare the accumulator with the destination; the destination is
         * written either way (with its own value on a mismatch), as locked. */
        ZydisRegister acc = cpu_acc_reg(size);
        r = cpu_dst_read(s, env, d, 0, size, &loc, &a);
        if (r != CPU_R_OK)
            return r;
        uint32_t flags = s->eflags;
        cpu_alu(s, ALU_CMP, cpu_get_reg(s, acc), a, size);
        bool equal = s->eflags & CPU_FL_ZF;
        uint32_t newflags = s->eflags;
        s->eflags = flags;
        r = cpu_dst_write(s, env, d, 0, &loc, equal ? cpu_get_reg(s, o1->reg.value) : a, size);
        if (r != CPU_R_OK)
            return r;
        s->eflags = newflags;
        if (!equal)
            cpu_set_reg(s, acc, a);
        break;
    }
    case ZYDIS_MNEMONIC_XADD: {
        r = cpu_dst_read(s, env, d, 0, size, &loc, &a);
        if (r != CPU_R_OK)
            return r;
        b = cpu_get_reg(s, o1->reg.value);
        uint32_t flags = s->eflags;
        uint32_t sum = cpu_alu(s, ALU_ADD, a, b, size);
        uint32_t newflags = s->eflags;
        s->eflags = flags;
        r = cpu_dst_write(s, env, d, 0, &loc, sum, size);
        if (r != CPU_R_OK)
            return r;
        s->eflags = newflags;
        cpu_set_reg(s, o1->reg.value, a);
        break;
    }
    case ZYDIS_MNEMONIC_CMPXCHG8B: {
        uint32_t lin;
        uint8_t q[8];
        r = cpu_op_linear(s, d, o0, 8, true, &lin);
        if (r == CPU_R_OK)
            r = cpu_probe(s, env, lin, 8, CPU_ACC_WRITE);
        if (r == CPU_R_OK)
            r = cpu_read(s, env, lin, q, 8, 0);
        if (r != CPU_R_OK)
            return r;
        uint32_t lo, hi;
        memcpy(&lo, q, 4);
        memcpy(&hi, q + 4, 4);
        bool equal = lo == s->gpr[CPU_EAX] && hi == s->gpr[CPU_EDX];
        if (equal) {
            memcpy(q, &s->gpr[CPU_EBX], 4);
            memcpy(q + 4, &s->gpr[CPU_ECX], 4);
        }
        r = cpu_write(s, env, lin, q, 8, 0);
        if (r != CPU_R_OK)
            return r;
        cpu_set_flag(s, CPU_FL_ZF, equal);
        if (!equal) {
            s->gpr[CPU_EAX] = lo;
            s->gpr[CPU_EDX] = hi;
        }
        break;
    }
    case ZYDIS_MNEMONIC_SETB: case ZYDIS_MNEMONIC_SETBE: case ZYDIS_MNEMONIC_SETL:
    case ZYDIS_MNEMONIC_SETLE: case ZYDIS_MNEMONIC_SETNB: case ZYDIS_MNEMONIC_SETNBE:
    case ZYDIS_MNEMONIC_SETNL: case ZYDIS_MNEMONIC_SETNLE: case ZYDIS_MNEMONIC_SETNO:
    case ZYDIS_MNEMONIC_SETNP: case ZYDIS_MNEMONIC_SETNS: case ZYDIS_MNEMONIC_SETNZ:
    case ZYDIS_MNEMONIC_SETO: case ZYDIS_MNEMONIC_SETP: case ZYDIS_MNEMONIC_SETS:
    case ZYDIS_MNEMONIC_SETZ:
        r = cpu_op_write(s, env, d, 0, cpu_cond(s, d->in.opcode & 0xf), 1);
        break;
    case ZYDIS_MNEMONIC_CMOVB: case ZYDIS_MNEMONIC_CMOVBE: case ZYDIS_MNEMONIC_CMOVL:
    case ZYDIS_MNEMONIC_CMOVLE: case ZYDIS_MNEMONIC_CMOVNB: case ZYDIS_MNEMONIC_CMOVNBE:
    case ZYDIS_MNEMONIC_CMOVNL: case ZYDIS_MNEMONIC_CMOVNLE: case ZYDIS_MNEMONIC_CMOVNO:
    case ZYDIS_MNEMONIC_CMOVNP: case ZYDIS_MNEMONIC_CMOVNS: case ZYDIS_MNEMONIC_CMOVNZ:
    case ZYDIS_MNEMONIC_CMOVO: case ZYDIS_MNEMONIC_CMOVP: case ZYDIS_MNEMONIC_CMOVS:
    case ZYDIS_MNEMONIC_CMOVZ:
        /* The source is read whatever the condition (its faults happen). */
        r = cpu_op_read(s, env, d, 1, size, &a);
        if (r == CPU_R_OK && cpu_cond(s, d->in.opcode & 0xf))
            cpu_set_reg(s, o0->reg.value, a);
        break;
    case ZYDIS_MNEMONIC_IMUL: {
        /* The two- and three-operand forms: a truncated signed product. */
        if (nvis < 2 || o0->type != ZYDIS_OPERAND_TYPE_REGISTER)
            return CPU_R_RETRY;
        unsigned ia = nvis == 3 ? 1 : 0, ib = nvis == 3 ? 2 : 1;
        r = cpu_op_read(s, env, d, ia, size, &a);
        if (r == CPU_R_OK)
            r = cpu_op_read(s, env, d, ib, size, &b);
        if (r != CPU_R_OK)
            return r;
        int64_t sa = size == 2 ? (int16_t)a : (int32_t)a;
        int64_t sb = size == 2 ? (int16_t)b : (int32_t)b;
        int64_t prod = sa * sb;
        int64_t trunc = size == 2 ? (int16_t)prod : (int32_t)prod;
        cpu_set_flag(s, CPU_FL_CF, prod != trunc);
        cpu_set_flag(s, CPU_FL_OF, prod != trunc);
        cpu_set_reg(s, o0->reg.value, (uint32_t)prod);
        break;
    }
    case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR:
    case ZYDIS_MNEMONIC_SAR:
    case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR: {
        uint32_t count = 1;
        if (nvis >= 2) {
            r = cpu_op_read(s, env, d, 1, 1, &count);
            if (r != CPU_R_OK)
                return r;
        }
        count &= 0x1f;
        r = cpu_dst_read(s, env, d, 0, size, &loc, &a);
        if (r != CPU_R_OK || !count)
            break;
        uint32_t flags = s->eflags;
        uint32_t res = cpu_shift(s, m, a, count, size);
        uint32_t newflags = s->eflags;
        s->eflags = flags;
        r = cpu_dst_write(s, env, d, 0, &loc, res, size);
        if (r == CPU_R_OK)
            s->eflags = newflags;
        break;
    }
    default:
        return CPU_R_RETRY;
    }
    if (alu >= 0) {
        bool unary = alu == ALU_INC || alu == ALU_DEC || alu == ALU_NEG;
        bool writes = alu != ALU_CMP && alu != ALU_TEST;
        if (writes)
            r = cpu_dst_read(s, env, d, 0, size, &loc, &a);
        else
            r = cpu_op_read(s, env, d, 0, size, &a);
        if (r == CPU_R_OK && !unary)
            r = cpu_op_read(s, env, d, 1, size, &b);
        if (r != CPU_R_OK)
            return r;
        uint32_t res = cpu_alu(s, alu, a, b, size);
        if (writes) {
            /* The flags are committed only with the result. */
            uint32_t flags = s->eflags;
            r = cpu_dst_write(s, env, d, 0, &loc, res, size);
            if (r != CPU_R_OK)
                return r;
            s->eflags = flags;
        }
    }
    if (r == CPU_R_OK)
        s->eip = d->next;
    return r;
}

/*
 * Does a data segment register run on the host's null selector although the
 * guest's selector is not null (a segment that is not flat, without a host
 * LDT mirror)?  Every access through it traps.
 */
static bool cpu_seg_emulated(const CpuState *s, unsigned reg)
{
    return reg != CPU_CS && reg != CPU_SS && (s->seg[reg].sel & ~3u) &&
           cpu_host_sel(s, reg) == 0;
}

/*
 * Does the instruction access memory through a null or non-flat segment
 * (only_emulated: through one that runs on the host's null selector)?  A
 * mirrored segment (host LDT) traps only where the hardware faults, on its
 * limit or type: the emulation then raises what the CPU must.
 */
static bool cpu_uses_odd_seg(const CpuState *s, const Insn *d, bool only_emulated,
                             unsigned *reg)
{
    for (unsigned i = 0; i < d->in.operand_count; i++) {
        const ZydisDecodedOperand *o = &d->op[i];
        if (o->type != ZYDIS_OPERAND_TYPE_MEMORY || o->mem.type != ZYDIS_MEMOP_TYPE_MEM)
            continue;
        unsigned sr = cpu_op_seg(o);
        const CpuSeg *sg = &s->seg[sr];
        bool odd = only_emulated ? cpu_seg_emulated(s, sr)
                   : (sr == CPU_SS || sr == CPU_CS) ? !cpu_seg_is_flat(sg)
                   : !(sg->sel & ~3u) || !cpu_seg_is_flat(sg);
        if (odd) {
            *reg = sr;
            return true;
        }
    }
    return false;
}

/*
 * An instruction that trapped on a null or non-flat segment: emulated with
 * the segment's base and limit.
 */
static CpuRes cpu_segmented_access(CpuState *s, const CpuEnv *env, const Insn *d,
                                   bool only_emulated)
{
    unsigned reg;
    if (!cpu_uses_odd_seg(s, d, only_emulated, &reg))
        return CPU_R_RETRY;
    CpuRes r = cpu_emulate_mem(s, env, d);
    if (r != CPU_R_RETRY)
        return r;
    const CpuSeg *sg = &s->seg[reg];
    if (!(sg->sel & ~3u))
        return cpu_raise(s, CPU_EXC_GP, true, 0); /* use of a null segment */
    return cpu_fail(s, "access through segment 0x%x (base 0x%x, limit 0x%x) by an "
                    "instruction LilyVM does not emulate there (EIP 0x%x): see docs/cpu.md "
                    "for the list", sg->sel, sg->base, sg->limit, s->eip);
}

/* --- the instruction at EIP --------------------------------------------- */

static CpuRes cpu_need_cpl0(const CpuState *s)
{
    return s->cpl == 0 ? CPU_R_OK : CPU_R_EXC;
}

CpuRes cpu_emulate(CpuState *s, const CpuEnv *env, const LilyTrap *trap)
{
    Insn d;
    CpuRes r = cpu_decode(s, env, s->eip, &d);
    if (r != CPU_R_OK)
        return r;
    ZydisMnemonic m = d.in.mnemonic;
    unsigned osz = d.in.operand_width == 16 ? 2 : 4;
    uint32_t v;

    /* Privileged instructions at CPL > 0: #GP(0), as the hardware. */
    switch (m) {
    case ZYDIS_MNEMONIC_HLT: case ZYDIS_MNEMONIC_LGDT: case ZYDIS_MNEMONIC_LIDT:
    case ZYDIS_MNEMONIC_LLDT: case ZYDIS_MNEMONIC_LTR: case ZYDIS_MNEMONIC_INVLPG:
    case ZYDIS_MNEMONIC_WBINVD: case ZYDIS_MNEMONIC_INVD: case ZYDIS_MNEMONIC_CLTS:
    case ZYDIS_MNEMONIC_RDMSR: case ZYDIS_MNEMONIC_WRMSR: case ZYDIS_MNEMONIC_LMSW:
    case ZYDIS_MNEMONIC_SYSEXIT:
        if (cpu_need_cpl0(s) != CPU_R_OK)
            return cpu_raise(s, CPU_EXC_GP, true, 0);
        break;
    case ZYDIS_MNEMONIC_MOV:
        if (d.op[0].type == ZYDIS_OPERAND_TYPE_REGISTER && d.op[1].type == ZYDIS_OPERAND_TYPE_REGISTER) {
            ZydisRegisterClass c0 = ZydisRegisterGetClass(d.op[0].reg.value);
            ZydisRegisterClass c1 = ZydisRegisterGetClass(d.op[1].reg.value);
            if ((c0 == ZYDIS_REGCLASS_CONTROL || c1 == ZYDIS_REGCLASS_CONTROL ||
                 c0 == ZYDIS_REGCLASS_DEBUG || c1 == ZYDIS_REGCLASS_DEBUG) && s->cpl)
                return cpu_raise(s, CPU_EXC_GP, true, 0);
        }
        break;
    default:
        break;
    }

    switch (m) {
    case ZYDIS_MNEMONIC_INT: {
        unsigned n = (unsigned)d.op[0].imm.value.u & 0xff;
        uint8_t code[4];
        if (s->cpl == 0 && lily_rewrite_is_vector(n) &&
            cpu_read(s, env, cpu_cs_lin(s, s->eip), code, 3, CPU_ACC_EXEC) == CPU_R_OK &&
            lily_rewrite_site_vector(code, 3) == (int)n)
            return cpu_rewrite(s, env, n, s->eip);
        s->stats[CPU_STAT_SOFT_INT]++;
        return cpu_deliver(s, env, n, CPU_EV_SOFT, false, 0, d.next);
    }
    case ZYDIS_MNEMONIC_INT3:
        s->stats[CPU_STAT_SOFT_INT]++;
        return cpu_deliver(s, env, CPU_EXC_BP, CPU_EV_SOFT, false, 0, d.next);
    case ZYDIS_MNEMONIC_INTO:
        if (!(s->eflags & CPU_FL_OF)) {
            s->eip = d.next;
            return CPU_R_OK;
        }
        return cpu_deliver(s, env, CPU_EXC_OF, CPU_EV_SOFT, false, 0, d.next);
    case ZYDIS_MNEMONIC_INT1:
        return cpu_deliver(s, env, CPU_EXC_DB, CPU_EV_EXT, false, 0, d.next);

    case ZYDIS_MNEMONIC_IN:
    case ZYDIS_MNEMONIC_OUT: {
        bool in = m == ZYDIS_MNEMONIC_IN;
        const ZydisDecodedOperand *pop = &d.op[in ? 1 : 0], *rop = &d.op[in ? 0 : 1];
        uint16_t port = pop->type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? (uint16_t)pop->imm.value.u
                                                                   : (uint16_t)s->gpr[CPU_EDX];
        unsigned size = rop->size / 8;
        r = cpu_io_check(s, env, port, size);
        if (r != CPU_R_OK)
            return r;
        s->stats[CPU_STAT_IO]++;
        if (in)
            cpu_set_reg(s, rop->reg.value, env->pio_read(env->opaque, port, size));
        else
            env->pio_write(env->opaque, port, size, cpu_get_reg(s, rop->reg.value));
        s->eip = d.next;
        return CPU_R_OK;
    }
    case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD: {
        unsigned size = (m == ZYDIS_MNEMONIC_INSB || m == ZYDIS_MNEMONIC_OUTSB) ? 1
                        : (m == ZYDIS_MNEMONIC_INSW || m == ZYDIS_MNEMONIC_OUTSW) ? 2 : 4;
        r = cpu_io_check(s, env, (uint16_t)s->gpr[CPU_EDX], size);
        if (r != CPU_R_OK)
            return r;
        s->stats[CPU_STAT_IO]++;
        bool in = m == ZYDIS_MNEMONIC_INSB || m == ZYDIS_MNEMONIC_INSW || m == ZYDIS_MNEMONIC_INSD;
        return cpu_string_io(s, env, &d, in, size);
    }

    case ZYDIS_MNEMONIC_CLI:
    case ZYDIS_MNEMONIC_STI:
        if (!cpu_io_allowed(s))
            return cpu_raise(s, CPU_EXC_GP, true, 0);
        s->stats[CPU_STAT_CLI_STI]++;
        s->eip = d.next;
        if (m == ZYDIS_MNEMONIC_CLI) {
            s->eflags &= ~CPU_FL_IF;
            return CPU_R_OK;
        }
        s->eflags |= CPU_FL_IF;
        /* sti; hlt: the interrupt shadow makes them one step. */
        uint8_t next;
        if (s->cpl == 0 &&
            cpu_read(s, env, cpu_cs_lin(s, s->eip), &next, 1, CPU_ACC_EXEC) == CPU_R_OK &&
            next == 0xf4) {
            s->eip++;
            s->stats[CPU_STAT_HLT]++;
            s->halted = true;
            return CPU_R_HALT;
        }
        s->fatal = NULL;
        return CPU_R_OK;
    case ZYDIS_MNEMONIC_HLT:
        s->stats[CPU_STAT_HLT]++;
        s->eip = d.next;
        /*
         * Halt even when an interrupt could be taken at once: a halted CPU
         * takes it without waiting for interrupt pacing (irq_min_gap_us),
         * where resuming would only spin in the guest's idle loop until the
         * gap ends.
         */
        s->halted = true;
        return CPU_R_HALT;

    case ZYDIS_MNEMONIC_LGDT:
    case ZYDIS_MNEMONIC_LIDT: {
        uint8_t img[6];
        if (d.op[0].type != ZYDIS_OPERAND_TYPE_MEMORY)
            return cpu_raise(s, CPU_EXC_UD, false, 0);
        r = cpu_op_read_bytes(s, env, &d, 0, img, 6);
        if (r != CPU_R_OK)
            return r;
        uint16_t lim = (uint16_t)(img[0] | img[1] << 8);
        uint32_t base = img[2] | (uint32_t)img[3] << 8 | (uint32_t)img[4] << 16 |
                        (uint32_t)img[5] << 24;
        if (osz == 2)
            base &= 0xffffff;
        if (m == ZYDIS_MNEMONIC_LGDT) {
            s->gdt_base = base;
            s->gdt_limit = lim;
        } else {
            s->idt_base = base;
            s->idt_limit = lim;
        }
        s->stats[CPU_STAT_SEG]++;
        s->eip = d.next;
        return CPU_R_OK;
    }
    case ZYDIS_MNEMONIC_LLDT:
    case ZYDIS_MNEMONIC_LTR:
        r = cpu_op_read(s, env, &d, 0, 2, &v);
        if (r == CPU_R_OK)
            r = m == ZYDIS_MNEMONIC_LLDT ? cpu_load_ldtr(s, env, (uint16_t)v)
                                         : cpu_load_tr(s, env, (uint16_t)v);
        if (r == CPU_R_OK)
            s->eip = d.next;
        s->stats[CPU_STAT_SEG]++;
        return r;

    case ZYDIS_MNEMONIC_MOV: {
        const ZydisDecodedOperand *o0 = &d.op[0], *o1 = &d.op[1];
        if (o0->type == ZYDIS_OPERAND_TYPE_REGISTER && cpu_is_sreg(o0->reg.value)) {
            unsigned reg = o0->reg.value - ZYDIS_REGISTER_ES;
            if (reg == CPU_CS)
                return cpu_raise(s, CPU_EXC_UD, false, 0);
            r = cpu_op_read(s, env, &d, 1, 2, &v);
            if (r == CPU_R_OK)
                r = cpu_load_seg(s, env, reg, (uint16_t)v);
            if (r == CPU_R_OK)
                s->eip = d.next;
            s->stats[CPU_STAT_SEG]++;
            return r;
        }
        if (o0->type == ZYDIS_OPERAND_TYPE_REGISTER && o1->type == ZYDIS_OPERAND_TYPE_REGISTER) {
            ZydisRegisterClass c0 = ZydisRegisterGetClass(o0->reg.value);
            ZydisRegisterClass c1 = ZydisRegisterGetClass(o1->reg.value);
            if (c0 == ZYDIS_REGCLASS_CONTROL) {
                r = cpu_write_cr(s, env, o0->reg.value - ZYDIS_REGISTER_CR0,
                                 cpu_get_reg(s, o1->reg.value));
            } else if (c1 == ZYDIS_REGCLASS_CONTROL) {
                unsigned n = o1->reg.value - ZYDIS_REGISTER_CR0;
                s->stats[CPU_STAT_CR]++;
                if (n == 0) v = s->cr0;
                else if (n == 2) v = s->cr2;
                else if (n == 3) v = s->cr3;
                else if (n == 4) v = s->cr4;
                else return cpu_raise(s, CPU_EXC_UD, false, 0);
                cpu_set_reg(s, o0->reg.value, v);
                r = CPU_R_OK;
            } else if (c0 == ZYDIS_REGCLASS_DEBUG || c1 == ZYDIS_REGCLASS_DEBUG) {
                bool to = c0 == ZYDIS_REGCLASS_DEBUG;
                unsigned n = (to ? o0->reg.value : o1->reg.value) - ZYDIS_REGISTER_DR0;
                if (n == 4 || n == 5)
                    n += 2;
                if (n > 7)
                    return cpu_raise(s, CPU_EXC_UD, false, 0);
                if (to)
                    s->dr[n] = cpu_get_reg(s, o1->reg.value);
                else
                    cpu_set_reg(s, o0->reg.value, s->dr[n]);
                s->stats[CPU_STAT_CR]++;
                r = CPU_R_OK;
            } else {
                break;
            }
            if (r == CPU_R_OK)
                s->eip = d.next;
            return r;
        }
        break;
    }
    case ZYDIS_MNEMONIC_POP:
        if (d.op[0].type == ZYDIS_OPERAND_TYPE_REGISTER && cpu_is_sreg(d.op[0].reg.value)) {
            uint32_t save_esp = s->gpr[CPU_ESP];
            r = cpu_pop(s, env, &v, osz);
            if (r == CPU_R_OK)
                r = cpu_load_seg(s, env, d.op[0].reg.value - ZYDIS_REGISTER_ES, (uint16_t)v);
            if (r != CPU_R_OK)
                s->gpr[CPU_ESP] = save_esp;
            else
                s->eip = d.next;
            s->stats[CPU_STAT_SEG]++;
            return r;
        }
        break;
    case ZYDIS_MNEMONIC_LDS: case ZYDIS_MNEMONIC_LES: case ZYDIS_MNEMONIC_LFS:
    case ZYDIS_MNEMONIC_LGS: case ZYDIS_MNEMONIC_LSS: {
        unsigned reg = m == ZYDIS_MNEMONIC_LDS ? CPU_DS : m == ZYDIS_MNEMONIC_LES ? CPU_ES
                       : m == ZYDIS_MNEMONIC_LFS ? CPU_FS : m == ZYDIS_MNEMONIC_LGS ? CPU_GS
                       : CPU_SS;
        uint8_t img[6] = { 0 };
        r = cpu_op_read_bytes(s, env, &d, 1, img, osz + 2);
        if (r != CPU_R_OK)
            return r;
        uint32_t off = img[0] | (uint32_t)img[1] << 8 |
                       (osz == 4 ? (uint32_t)img[2] << 16 | (uint32_t)img[3] << 24 : 0);
        uint16_t sel = (uint16_t)(img[osz] | img[osz + 1] << 8);
        r = cpu_load_seg(s, env, reg, sel);
        if (r != CPU_R_OK)
            return r;
        cpu_set_reg(s, d.op[0].reg.value, off);
        s->eip = d.next;
        s->stats[CPU_STAT_SEG]++;
        return CPU_R_OK;
    }

    case ZYDIS_MNEMONIC_IRET:
    case ZYDIS_MNEMONIC_IRETD:
        if (s->eflags & CPU_FL_NT)
            return cpu_task_return(s, env, d.next);
        return cpu_iret(s, env, m == ZYDIS_MNEMONIC_IRET ? 2 : 4);
    case ZYDIS_MNEMONIC_RET:
        if (d.in.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) {
            uint16_t imm = d.in.operand_count_visible > 0 &&
                                   d.op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE
                               ? (uint16_t)d.op[0].imm.value.u : 0;
            return cpu_far_ret(s, env, osz, imm);
        }
        break;
    case ZYDIS_MNEMONIC_JMP:
    case ZYDIS_MNEMONIC_CALL:
        if (d.in.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) {
            uint32_t off;
            uint16_t sel;
            if (d.op[0].type == ZYDIS_OPERAND_TYPE_POINTER) {
                sel = d.op[0].ptr.segment;
                off = d.op[0].ptr.offset;
            } else {
                uint8_t img[6] = { 0 };
                r = cpu_op_read_bytes(s, env, &d, 0, img, osz + 2);
                if (r != CPU_R_OK)
                    return r;
                off = img[0] | (uint32_t)img[1] << 8 |
                      (osz == 4 ? (uint32_t)img[2] << 16 | (uint32_t)img[3] << 24 : 0);
                sel = (uint16_t)(img[osz] | img[osz + 1] << 8);
            }
            s->stats[CPU_STAT_SEG]++;
            return cpu_far_jump(s, env, sel, off, m == ZYDIS_MNEMONIC_CALL, osz, d.next);
        }
        break;

    case ZYDIS_MNEMONIC_INVLPG:
        if (env->mmu)
            env->mmu->invlpg(env->mmu_state, cpu_ea(s, &d, &d.op[0]), &s->batch);
        s->eip = d.next;
        return CPU_R_OK;
    case ZYDIS_MNEMONIC_WBINVD:
    case ZYDIS_MNEMONIC_INVD:
        s->eip = d.next;
        return CPU_R_OK;
    case ZYDIS_MNEMONIC_CLTS:
        s->cr0 &= ~CPU_CR0_TS;
        s->stats[CPU_STAT_CR]++;
        s->eip = d.next;
        return CPU_R_OK;
    case ZYDIS_MNEMONIC_LMSW:
        r = cpu_op_read(s, env, &d, 0, 2, &v);
        if (r != CPU_R_OK)
            return r;
        /* lmsw sets PE/MP/EM/TS but never clears PE. */
        r = cpu_write_cr(s, env, 0, (s->cr0 & ~0xeu) | (v & 0xf) | CPU_CR0_PE);
        if (r == CPU_R_OK)
            s->eip = d.next;
        return r;
    case ZYDIS_MNEMONIC_RDMSR:
    case ZYDIS_MNEMONIC_WRMSR:
        r = cpu_msr(s, m == ZYDIS_MNEMONIC_WRMSR);
        if (r == CPU_R_OK)
            s->eip = d.next;
        return r;
    case ZYDIS_MNEMONIC_RDTSC:
        v = 0;
        {
            uint64_t t = cpu_rdtsc() + s->tsc_offset;
            s->gpr[CPU_EAX] = (uint32_t)t;
            s->gpr[CPU_EDX] = (uint32_t)(t >> 32);
        }
        s->eip = d.next;
        return CPU_R_OK;
    case ZYDIS_MNEMONIC_CPUID: {
        uint32_t a = s->gpr[CPU_EAX], b, c = s->gpr[CPU_ECX], dd;
        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(dd));
        s->gpr[CPU_EAX] = a;
        s->gpr[CPU_EBX] = b;
        s->gpr[CPU_ECX] = c;
        s->gpr[CPU_EDX] = dd;
        s->eip = d.next;
        return CPU_R_OK;
    }
    case ZYDIS_MNEMONIC_SYSEXIT: {
        uint16_t base = (uint16_t)s->msr_sysenter_cs;
        if (!(base & ~3u))
            return cpu_raise(s, CPU_EXC_GP, true, 0);
        r = cpu_load_cs(s, env, (uint16_t)((base + 16) | 3), 3);
        if (r == CPU_R_OK)
            r = cpu_load_seg(s, env, CPU_SS, (uint16_t)((base + 24) | 3));
        if (r != CPU_R_OK)
            return r;
        s->eip = s->gpr[CPU_EDX];
        s->gpr[CPU_ESP] = s->gpr[CPU_ECX];
        return CPU_R_OK;
    }
    default:
        break;
    }

    /* An access through a segment that is not flat (or null). */
    r = cpu_segmented_access(s, env, &d, false);
    if (r != CPU_R_RETRY)
        return r;

    /* Not ours to emulate: a genuine fault of the guest. */
    if (trap && trap->trapno == CPU_EXC_GP && s->cpl == 3)
        return cpu_raise(s, CPU_EXC_GP, true, trap->error_code & 0xffff);
    if (s->cpl == 3)
        return cpu_raise(s, CPU_EXC_GP, true, 0);
    char text[96];
    ZydisFormatter f;
    ZydisFormatterInit(&f, ZYDIS_FORMATTER_STYLE_ATT);
    if (ZYAN_FAILED(ZydisFormatterFormatInstruction(&f, &d.in, d.op, d.in.operand_count_visible,
                                                    text, sizeof text, d.eip, NULL)))
        strcpy(text, "?");
    return cpu_fail(s, "no emulation for '%s' at EIP 0x%x (trap %u, error 0x%x)", text, d.eip,
                    trap ? trap->trapno : 0, trap ? trap->error_code : 0);
}

CpuRes cpu_emulate_mmio(CpuState *s, const CpuEnv *env, uint32_t va, uint64_t gpa)
{
    Insn d;
    CpuRes r = cpu_decode(s, env, s->eip, &d);
    if (r != CPU_R_OK)
        return r;
    s->stats[CPU_STAT_MMIO]++;
    r = cpu_emulate_mem(s, env, &d);
    if (r != CPU_R_RETRY)
        return r;
    return cpu_fail(s, "MMIO access at 0x%x (guest-physical 0x%llx) by an instruction LilyVM "
                    "does not emulate on devices (EIP 0x%x, %s): see docs/cpu.md for the list",
                    va, (unsigned long long)gpa, s->eip, ZydisMnemonicGetString(d.in.mnemonic));
}

/* --- dispatch of a trap record -------------------------------------------- */

/* The register whose host LDT mirror selector is sel, or CPU_NSEG. */
static unsigned cpu_ldt_slot_of(const CpuState *s, uint16_t sel)
{
    for (unsigned r = 0; r < CPU_NSEG; r++)
        if (s->ldt_valid[r] && sel == LILY_LDT_SEL(r))
            return r;
    return CPU_NSEG;
}

/*
 * A guest that loaded a selector with a plain mov may have got one of the
 * host's descriptors (0x23 is the host's 32-bit code segment) or a host LDT
 * mirror.  Take such a load as the guest's own and put the host selector
 * that stands for it back.  A mirror selector (a program that copied one
 * data segment register into another: it read the host's selector) gave
 * the program the segment that mirror holds, so that is what it loaded.
 */
bool cpu_sync_native_segs(CpuState *s, const CpuEnv *env)
{
    static const unsigned regs[] = { CPU_DS, CPU_ES, CPU_FS, CPU_GS };
    bool changed = false;
    for (unsigned i = 0; i < 4; i++) {
        unsigned reg = regs[i];
        uint16_t want = cpu_host_sel(s, reg);
        uint16_t have = s->host_sel[reg];
        if (have == want)
            continue;
        changed = true;
        unsigned slot = cpu_ldt_slot_of(s, have);
        if (slot != CPU_NSEG && s->host_ldt == CPU_HOST_LDT_ON) {
            /* The mirror is DPL 3; the guest's segment may be more privileged. */
            const CpuSeg *m = &s->ldt_slot[slot];
            bool conf_code = (m->access & 0x0c) == 0x0c;
            bool allowed = conf_code || ((m->access >> 5) & 3u) >= s->cpl;
            s->seg[reg] = allowed ? *m : (CpuSeg){ 0 };
            s->host_sel[reg] = cpu_host_sel(s, reg);
            continue;
        }
        CpuRes r = cpu_load_seg(s, env, reg, have);
        if (r != CPU_R_OK) {
            s->fatal = NULL;
            s->seg[reg] = (CpuSeg){ 0 };
        }
        s->host_sel[reg] = cpu_host_sel(s, reg);
    }
    return changed;
}

/* Does some data segment register run on the host's null selector (emulated)? */
static bool cpu_any_emulated(const CpuState *s)
{
    static const unsigned regs[] = { CPU_DS, CPU_ES, CPU_FS, CPU_GS };
    for (unsigned i = 0; i < 4; i++)
        if (cpu_seg_emulated(s, regs[i]))
            return true;
    return false;
}

static CpuRes cpu_page_fault(CpuState *s, const CpuEnv *env, const LilyTrap *trap)
{
    uint32_t va = trap->fault_addr;
    s->stats[CPU_STAT_PAGE_FAULTS]++;
    /*
     * A non-flat segment without a host LDT mirror runs on the host's null
     * selector, which compatibility mode does not always refuse: the access
     * then lands at the offset alone.  Such an access is emulated with the
     * segment's base and limit.  (Through a mirror the fault address is
     * the linear one: an ordinary fault.)
     */
    if (cpu_any_emulated(s)) {
        Insn d;
        CpuRes r = cpu_decode(s, env, s->eip, &d);
        if (r != CPU_R_OK)
            return r;
        r = cpu_segmented_access(s, env, &d, true);
        if (r != CPU_R_RETRY)
            return r;
    }
    if (!env->mmu) {
        if (va >= env->ram_size)
            return cpu_emulate_mmio(s, env, va, va);
        return cpu_fail(s, "page fault at 0x%x (EIP 0x%x, error 0x%x) inside RAM without an "
                        "MMU plugin: the page could not be mapped (page 0 is refused by the host's "
                        "vm.mmap_min_addr)", va, s->eip, trap->error_code);
    }
    unsigned acc = trap->error_code & (LILY_MMU_ACC_WRITE | LILY_MMU_ACC_EXEC);
    if (s->cpl == 3)
        acc |= LILY_MMU_ACC_USER;
    uint32_t pf_error = 0;
    uint64_t gpa = 0;
    LilyMmuResult res = env->mmu->fault(env->mmu_state, va, acc, &s->batch, &pf_error, &gpa);
    switch ((int)res) {
    case LILY_MMU_OK:
    case LILY_MMU_BATCH_FULL:
        return CPU_R_OK;
    case LILY_MMU_GUEST_FAULT:
        s->stats[CPU_STAT_GUEST_PF]++;
        s->cr2 = va;
        return cpu_raise(s, CPU_EXC_PF, true, pf_error);
    case LILY_MMU_MMIO:
    case LILY_MMU_BAD_GPA:
    case LILY_MMU_EMULATE: /* RAM the guest process cannot map (page 0) */
        return cpu_emulate_mmio(s, env, va, gpa);
    }
    return cpu_fail(s, "the MMU answered %d for a fault at 0x%x", (int)res, va);
}

/* A syscall instruction from guest context: the software interrupt it meant. */
static CpuRes cpu_syscall(CpuState *s, const CpuEnv *env, const LilyTrap *trap)
{
    s->stats[CPU_STAT_SYSCALLS]++;
    if (trap->flags & LILY_TRAP_F_FAST_SYSCALL) {
        /* sysenter: EIP is lost, but SYSEXIT needs none. */
        uint16_t base = (uint16_t)s->msr_sysenter_cs;
        if (!(base & ~3u))
            return cpu_raise(s, CPU_EXC_GP, true, 0);
        CpuRes r = cpu_load_cs(s, env, base & ~3u, 0);
        if (r == CPU_R_OK)
            r = cpu_load_seg(s, env, CPU_SS, (uint16_t)((base + 8) & ~3u));
        if (r != CPU_R_OK)
            return r;
        s->eflags &= ~(CPU_FL_IF | CPU_FL_VM | CPU_FL_RF);
        s->gpr[CPU_ESP] = (uint32_t)s->msr_sysenter_esp;
        s->eip = (uint32_t)s->msr_sysenter_eip;
        return CPU_R_OK;
    }
    uint8_t code[2];
    if (cpu_read(s, env, cpu_cs_lin(s, s->eip - 2), code, 2, CPU_ACC_EXEC) == CPU_R_OK &&
        code[0] == 0xcd) {
        s->stats[CPU_STAT_SOFT_INT]++;
        return cpu_deliver(s, env, code[1], CPU_EV_SOFT, false, 0, s->eip);
    }
    s->fatal = NULL;
    /* `syscall` from 32-bit code: #UD, as on Intel. */
    return cpu_raise(s, CPU_EXC_UD, false, 0);
}

CpuAction cpu_trap(CpuState *s, const CpuEnv *env, const LilyTrap *trap)
{
    s->fatal = NULL;
    s->stats[CPU_STAT_TRAPS]++;
    if (trap->signo == TRANSPORT_KICK_SIGNAL) {
        /* The guest may have loaded a selector natively just before the
         * kick: take it now, or the resume would overwrite it. */
        cpu_sync_native_segs(s, env);
        return CPU_RESUME;
    }
    if (!(trap->flags & LILY_TRAP_F_FAST_SYSCALL) &&
        (s->host_sel[CPU_CS] != cpu_host_sel(s, CPU_CS) || trap->host_ip >= 0x100000000ull)) {
        cpu_fail(s, "the guest left 32-bit compatibility mode or its code segment (host CS "
                 "0x%x where the VM loaded 0x%x, RIP 0x%llx): ending the VM",
                 s->host_sel[CPU_CS], cpu_host_sel(s, CPU_CS), (unsigned long long)trap->host_ip);
        return CPU_FATAL;
    }
    bool resynced = cpu_sync_native_segs(s, env);
    CpuRes r;
    switch (trap->signo) {
    case SIGSYS:
        r = cpu_syscall(s, env, trap);
        break;
    case SIGSEGV:
    case SIGBUS:
        if (resynced && trap->trapno != CPU_EXC_OF) {
            /* A fault under a selector the guest loaded natively: retry with
             * the right host selector (e.g. the guest's 0x30 is the host's
             * 64-bit code segment, base 0, where the guest meant a base). */
            r = CPU_R_OK;
        } else if (trap->trapno == CPU_EXC_PF) {
            r = cpu_page_fault(s, env, trap);
        } else if (trap->trapno == CPU_EXC_OF) {
            s->stats[CPU_STAT_SOFT_INT]++;
            r = cpu_deliver(s, env, CPU_EXC_OF, CPU_EV_SOFT, false, 0, s->eip);
        } else if (trap->trapno == CPU_EXC_AC || trap->trapno == CPU_EXC_SS ||
                   trap->trapno == CPU_EXC_NP) {
            r = cpu_raise(s, trap->trapno, true, trap->error_code);
        } else {
            r = cpu_emulate(s, env, trap);
        }
        break;
    case SIGILL:
        r = cpu_raise(s, CPU_EXC_UD, false, 0);
        break;
    case SIGFPE:
        r = cpu_raise(s, trap->trapno == CPU_EXC_MF || trap->trapno == CPU_EXC_XM
                             ? trap->trapno : CPU_EXC_DE, false, 0);
        break;
    case SIGTRAP:
        if (trap->trapno == CPU_EXC_BP) {
            /* int3 is a trap: EIP is already past it. */
            s->stats[CPU_STAT_SOFT_INT]++;
            r = cpu_deliver(s, env, CPU_EXC_BP, CPU_EV_SOFT, false, 0, s->eip);
        } else {
            r = cpu_deliver(s, env, CPU_EXC_DB, CPU_EV_EXT, false, 0, s->eip);
        }
        break;
    default:
        cpu_fail(s, "unexpected trap: signal %u, trap %u", trap->signo, trap->trapno);
        return CPU_FATAL;
    }
    switch (r) {
    case CPU_R_OK:
    case CPU_R_RETRY:
        return CPU_RESUME;
    case CPU_R_HALT:
        return CPU_HALT;
    case CPU_R_EXC:
        return cpu_deliver_pending(s, env);
    case CPU_R_FATAL:
    default:
        return CPU_FATAL;
    }
}
