/*
 * Unit tests of cpu-ia32's in-guest fast path (local.c) on the host: the
 * handler is called directly with fabricated trap records, registers and
 * shared state, and whatever it handles is compared with what the VM's own
 * emulation (cpu_trap) makes of the same trap.
 */
#include <signal.h>
#include <string.h>
#include <glib.h>

#include <lilyvm/rewrite.h>
#include "plugins/cpu-ia32/cpu.h"
#include "plugins/cpu-ia32/local-vm.h"

#define RAM_SIZE (1u << 20)
#define CODE 0x10000u
#define STACK 0x90000u
/* Paging tests: directory, one table, the pages they map. */
#define PD 0xc0000u
#define PT 0xc1000u
#define VA_4K 0x00400000u  /* PDE 1 -> PT */
#define VA_4M 0x00800000u  /* PDE 2: a 4 MiB page at physical 0 */
#define PA_STACK 0xd0000u

typedef struct Rig {
    uint8_t *ram_vm;    /* what the VM's emulation works on */
    uint8_t *ram_local; /* what the handler works on (same contents at start) */
    CpuEnv env;
    CpuState s;
    CpuLocal sh;
    CpuLocalCtx ctx;
    bool pending;
} Rig;

static int fk_irq_ack(void *o)
{
    (void)o;
    return -1;
}

static Rig *rig_new(void)
{
    Rig *r = g_new0(Rig, 1);
    r->ram_vm = g_malloc0(RAM_SIZE);
    r->ram_local = g_malloc0(RAM_SIZE);
    r->env = (CpuEnv){ .irq_ack = fk_irq_ack, .ram = r->ram_vm, .ram_size = RAM_SIZE };
    cpu_reset(&r->s, CODE, 0, 0);
    r->s.gpr[CPU_ESP] = STACK;
    r->ctx = (CpuLocalCtx){ .shared = &r->sh, .ram = r->ram_local, .ram_size = RAM_SIZE };
    r->sh.enabled = 1;
    r->sh.ram_limit = RAM_SIZE;
    return r;
}

static void rig_free(Rig *r)
{
    g_free(r->ram_vm);
    g_free(r->ram_local);
    g_free(r);
}

/* Guest RAM as both sides see it. */
static void poke(Rig *r, uint32_t at, const void *bytes, size_t n)
{
    memcpy(r->ram_vm + at, bytes, n);
    memcpy(r->ram_local + at, bytes, n);
}

static void poke32(Rig *r, uint32_t at, uint32_t v)
{
    poke(r, at, &v, 4);
}

static uint32_t peek32(const uint8_t *ram, uint32_t at)
{
    uint32_t v;
    memcpy(&v, ram + at, 4);
    return v;
}

#define CODE_AT(r, ...)                                  \
    do {                                                 \
        static const uint8_t code_[] = { __VA_ARGS__ };  \
        poke((r), (r)->s.eip, code_, sizeof code_);      \
    } while (0)

static LilyTrap gp_at(uint32_t eip)
{
    return (LilyTrap){ .signo = SIGSEGV, .si_code = 0x80, .trapno = 13, .host_ip = eip };
}

/*
 * The handler on the rig's state: publish as the glue does, call it, and if
 * it handled the trap take the state back into r->s.  Returns whether it
 * handled the trap; when it did not, it must have changed nothing.
 */
static bool run_local_trap(Rig *r, const LilyTrap *t, LilyRegs *out)
{
    LilyRegs regs, before;
    cpu_regs_out(&r->s, &regs);
    cpu_local_publish(&r->sh, &r->s, &regs, r->pending);
    CpuLocal sh_before = r->sh;
    before = regs;
    bool handled = cpu_local_handle(&r->ctx, &regs, t);
    if (!handled) {
        g_assert_cmpmem(&regs, sizeof regs, &before, sizeof before);
        g_assert_cmpmem(&r->sh, sizeof r->sh, &sh_before, sizeof sh_before);
    }
    if (out)
        *out = regs;
    return handled;
}

static bool run_local(Rig *r, LilyRegs *out)
{
    LilyTrap t = gp_at(r->s.eip);
    return run_local_trap(r, &t, out);
}

/*
 * The handler and the VM on the same trap.  Returns whether the handler
 * handled it; if so, registers, virtual flags and RAM must equal the VM's.
 */
static bool compare(Rig *r)
{
    CpuState vm = r->s;
    vm.batch.ops = vm.ops;
    LilyRegs lr, vr;
    bool handled = run_local(r, &lr);
    if (!handled)
        return false;
    /* The VM: the same trap, through the glue's steps. */
    LilyTrap t = gp_at(vm.eip);
    cpu_regs_out(&vm, &vr);
    cpu_regs_in(&vm, &vr);
    vm.intr_line = r->pending;
    g_assert_cmpint(cpu_trap(&vm, &r->env, &t), ==, CPU_RESUME);
    cpu_regs_out(&vm, &vr);
    /* The handler's result as the VM takes it back. */
    CpuState loc = r->s;
    loc.batch.ops = loc.ops;
    cpu_local_collect(&r->sh, &loc);
    cpu_regs_in(&loc, &lr);
    g_assert_cmphex(lr.eip, ==, vr.eip);
    g_assert_cmphex(lr.esp, ==, vr.esp);
    g_assert_cmphex(lr.eax, ==, vr.eax);
    g_assert_cmphex(lr.ecx, ==, vr.ecx);
    g_assert_cmphex(lr.edx, ==, vr.edx);
    g_assert_cmphex(lr.ebx, ==, vr.ebx);
    g_assert_cmphex(lr.ebp, ==, vr.ebp);
    g_assert_cmphex(lr.esi, ==, vr.esi);
    g_assert_cmphex(lr.edi, ==, vr.edi);
    g_assert_cmphex(lr.eflags, ==, vr.eflags);
    g_assert_cmphex(loc.eflags, ==, vm.eflags);
    g_assert_true(memcmp(r->ram_vm, r->ram_local, RAM_SIZE) == 0);
    r->s = loc;
    r->s.batch.ops = r->s.ops;
    return true;
}

/* --- cli / sti ------------------------------------------------------------------- */

static void test_cli_sti(void)
{
    Rig *r = rig_new();
    r->s.eflags |= CPU_FL_IF | CPU_FL_CF;
    CODE_AT(r, 0xfa, 0xfb, 0x90); /* cli; sti; nop */
    g_assert_true(compare(r));
    g_assert_cmphex(r->s.eflags & (CPU_FL_IF | CPU_FL_CF), ==, CPU_FL_CF);
    g_assert_cmphex(r->s.eip, ==, CODE + 1);
    g_assert_true(compare(r));
    g_assert_cmphex(r->s.eflags & CPU_FL_IF, ==, CPU_FL_IF);
    g_assert_cmphex(r->s.eip, ==, CODE + 2);
    g_assert_cmpuint(r->sh.count[CPU_LOCAL_CLI], ==, 1);
    g_assert_cmpuint(r->sh.count[CPU_LOCAL_STI], ==, 1);
    rig_free(r);
}

/* sti that makes a pending interrupt deliverable crosses; cli never has to. */
static void test_sti_pending_crosses(void)
{
    Rig *r = rig_new();
    r->pending = true;
    CODE_AT(r, 0xfb, 0x90);
    g_assert_false(run_local(r, NULL));
    /* IF already set: nothing becomes deliverable that was not. */
    r->s.eflags |= CPU_FL_IF;
    g_assert_true(compare(r));
    r->s.eip = CODE + 0x100;
    CODE_AT(r, 0xfa);
    g_assert_true(compare(r));
    g_assert_cmphex(r->s.eflags & CPU_FL_IF, ==, 0);
    rig_free(r);
}

/* sti; hlt is one step for the VM: the handler leaves it to it. */
static void test_sti_hlt_crosses(void)
{
    Rig *r = rig_new();
    CODE_AT(r, 0xfb, 0xf4);
    g_assert_false(run_local(r, NULL));
    rig_free(r);
}

/* cli/sti at CPL 3: allowed with IOPL 3 (handled), else #GP (crosses). */
static void test_cli_sti_iopl(void)
{
    for (unsigned iopl = 0; iopl < 4; iopl++) {
        for (unsigned cpl = 0; cpl <= 3; cpl += 3) {
            for (unsigned op = 0xfa; op <= 0xfb; op++) {
                Rig *r = rig_new();
                r->s.cpl = cpl;
                r->s.eflags = (r->s.eflags & ~CPU_FL_IOPL) | iopl << 12;
                uint8_t code[2] = { (uint8_t)op, 0x90 };
                poke(r, CODE, code, 2);
                bool allowed = cpl <= iopl;
                g_assert_cmpint(allowed ? compare(r) : run_local(r, NULL), ==, allowed);
                rig_free(r);
            }
        }
    }
}

/* --- pushf / popf sites ------------------------------------------------------------ */

static void test_pushf(void)
{
    Rig *r = rig_new();
    r->s.eflags = CPU_FL_FIXED | CPU_FL_IF | CPU_FL_ZF | 0x1000 | CPU_FL_AC;
    CODE_AT(r, 0xcd, 0xe0, 0x9c); /* pushfl */
    g_assert_true(compare(r));
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, STACK - 4);
    g_assert_cmphex(peek32(r->ram_local, STACK - 4), ==,
                    CPU_FL_FIXED | CPU_FL_IF | CPU_FL_ZF | 0x1000 | CPU_FL_AC);
    CODE_AT(r, 0xcd, 0xe0, 0x66, 0x9c); /* pushfw */
    g_assert_true(compare(r));
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, STACK - 6);
    g_assert_cmphex(r->s.eip, ==, CODE + 7);
    g_assert_cmpuint(r->sh.count[CPU_LOCAL_PUSHF], ==, 2);
    rig_free(r);
}

/* popf against the VM for many values, CPLs, IOPLs, IF and pending states. */
static void test_popf_sweep(void)
{
    static const uint32_t values[] = {
        0, 0x2, 0x202, 0x3202, 0x1202, 0x2c7, 0xad7, 0x100, 0x4202, 0x40202, 0x200202,
        0x10202, 0x20202, 0xffffffffu, 0xfffffdffu, 0x3002,
    };
    unsigned handled = 0, total = 0;
    for (unsigned v = 0; v < G_N_ELEMENTS(values); v++) {
        for (unsigned osz = 2; osz <= 4; osz += 2) {
            for (unsigned iopl = 0; iopl < 4; iopl++) {
                for (unsigned fl_if = 0; fl_if < 2; fl_if++) {
                    for (unsigned pend = 0; pend < 2; pend++) {
                        Rig *r = rig_new();
                        r->pending = pend;
                        r->s.eflags = CPU_FL_FIXED | iopl << 12 | (fl_if ? CPU_FL_IF : 0) |
                                      CPU_FL_SF;
                        r->s.gpr[CPU_ESP] = STACK - osz;
                        poke32(r, STACK - osz, values[v]);
                        if (osz == 4)
                            CODE_AT(r, 0xcd, 0xe1, 0x9d);
                        else
                            CODE_AT(r, 0xcd, 0xe1, 0x66, 0x9d);
                        uint32_t old = r->s.eflags;
                        bool h = compare(r);
                        handled += h;
                        total++;
                        if (h) {
                            g_assert_cmphex(r->s.gpr[CPU_ESP], ==, STACK);
                            /* Nothing but IF, IOPL and the native flags changed. */
                            g_assert_cmphex((r->s.eflags ^ old) & ~(CPU_FL_NATIVE | 0x3200u), ==, 0);
                            /* And no interrupt became deliverable. */
                            if (pend)
                                g_assert_true(fl_if || !(r->s.eflags & CPU_FL_IF));
                        } else {
                            /* Crossing only for a reason: TF/NT/AC/ID/RF
                             * would change, or IF rises with one pending. */
                            uint32_t mask = osz == 2 ? 0xffffu : 0xffffffffu;
                            uint32_t extra = values[v] & mask & (CPU_FL_TF | CPU_FL_NT |
                                             CPU_FL_AC | CPU_FL_ID | CPU_FL_RF);
                            bool if_up = !fl_if && (values[v] & CPU_FL_IF);
                            g_assert_true(extra || (pend && if_up));
                        }
                        rig_free(r);
                    }
                }
            }
        }
    }
    g_assert_cmpuint(handled, >, total / 4);
}

/* A site at CPL 3 is an ordinary int $n (the VM's business). */
static void test_site_user_crosses(void)
{
    Rig *r = rig_new();
    r->s.cpl = 3;
    r->s.eflags |= CPU_FL_IOPL;
    CODE_AT(r, 0xcd, 0xe0, 0x9c);
    g_assert_false(run_local(r, NULL));
    rig_free(r);
}

/* Encodings the handler does not know cross: the VM decodes them. */
static void test_other_encodings_cross(void)
{
    static const uint8_t cases[][4] = {
        { 0xcd, 0xe0, 0x3e, 0x9c }, /* ds pushf */
        { 0xcd, 0xe1, 0x90, 0x90 }, /* corrupt site */
        { 0xcd, 0xe2, 0x8c, 0xd8 }, /* mov %ds, %eax site */
        { 0x66, 0xfa, 0x90, 0x90 }, /* prefixed cli */
        { 0xf4, 0x90, 0x90, 0x90 }, /* hlt */
        { 0xe4, 0x60, 0x90, 0x90 }, /* in */
        { 0x0f, 0x22, 0xc0, 0x90 }, /* mov %eax, %cr0 */
        { 0x0f, 0x20, 0xc8, 0x90 }, /* mov %cr1, %eax: #UD */
        { 0x0f, 0x20, 0x00, 0x90 }, /* memory form (not encodable as such) */
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        Rig *r = rig_new();
        poke(r, CODE, cases[i], 4);
        g_assert_false(run_local(r, NULL));
        rig_free(r);
    }
}

/* The stack access must stay on one page, inside the allowed RAM. */
static void test_stack_limits(void)
{
    Rig *r = rig_new();
    CODE_AT(r, 0xcd, 0xe0, 0x9c);
    r->s.gpr[CPU_ESP] = 0x90002; /* the dword would span two pages */
    g_assert_false(run_local(r, NULL));
    r->s.gpr[CPU_ESP] = RAM_SIZE + 0x1000; /* beyond RAM */
    g_assert_false(run_local(r, NULL));
    r->s.gpr[CPU_ESP] = STACK;
    r->sh.ram_limit = STACK - 0x1000; /* RAM ends below the stack */
    g_assert_false(run_local(r, NULL));
    r->sh.ram_limit = RAM_SIZE;
    /* A device's pages inside RAM: the stack slot in one, or the code. */
    r->sh.n_holes = 2;
    r->sh.holes[0].lo = 0x20000;
    r->sh.holes[0].hi = 0x30000;
    r->sh.holes[1].lo = STACK - 0x1000;
    r->sh.holes[1].hi = STACK;
    g_assert_false(run_local(r, NULL));
    r->sh.holes[1].lo = CODE;
    r->sh.holes[1].hi = CODE + 0x1000;
    g_assert_false(run_local(r, NULL));
    r->sh.holes[1].lo = STACK;
    r->sh.holes[1].hi = STACK + 0x1000; /* just above the slot: no matter */
    g_assert_true(compare(r));
    r->s.gpr[CPU_ESP] = STACK;
    r->s.eip = CODE;
    r->sh.n_holes = CPU_LOCAL_HOLES_MAX + 1; /* forged */
    g_assert_false(run_local(r, NULL));
    r->sh.n_holes = 0;
    g_assert_true(compare(r));
    rig_free(r);
}

/* --- the record and the registers --------------------------------------------------- */

static void test_record_filter(void)
{
    Rig *r = rig_new();
    CODE_AT(r, 0xfa);
    LilyTrap kick = { .signo = TRANSPORT_KICK_SIGNAL, .trapno = LILY_TRAPNO_NONE,
                      .host_ip = CODE };
    g_assert_false(run_local_trap(r, &kick, NULL));
    LilyTrap pf = gp_at(CODE);
    pf.trapno = 14;
    g_assert_false(run_local_trap(r, &pf, NULL));
    LilyTrap high = gp_at(CODE);
    high.host_ip = 0x100000000ull + CODE;
    g_assert_false(run_local_trap(r, &high, NULL));
    LilyTrap err = gp_at(CODE);
    err.error_code = 0x10;
    g_assert_false(run_local_trap(r, &err, NULL));
    r->sh.enabled = 0;
    g_assert_false(run_local(r, NULL));
    r->sh.enabled = 1;
    g_assert_true(run_local(r, NULL));
    rig_free(r);
}

/* A selector the guest loaded natively (not the VM's) sends the trap over. */
static void test_native_selector_crosses(void)
{
    Rig *r = rig_new();
    CODE_AT(r, 0xfa);
    LilyRegs regs;
    cpu_regs_out(&r->s, &regs);
    cpu_local_publish(&r->sh, &r->s, &regs, false);
    LilyTrap t = gp_at(CODE);
    regs.ds = LILY_SEL_CODE32;
    g_assert_false(cpu_local_handle(&r->ctx, &regs, &t));
    regs.ds = LILY_SEL_DATA;
    regs.cs = LILY_SEL_CODE64;
    g_assert_false(cpu_local_handle(&r->ctx, &regs, &t));
    regs.cs = LILY_SEL_CODE32;
    g_assert_true(cpu_local_handle(&r->ctx, &regs, &t));
    /* A stack with a base runs on its host LDT mirror: the handler, which
     * takes ESP for a linear address, leaves it to the VM. */
    CODE_AT(r, 0xfa);
    r->s.host_ldt = CPU_HOST_LDT_ON;
    r->s.seg[CPU_SS].base = 0x1000;
    cpu_regs_out(&r->s, &regs);
    g_assert_cmphex(regs.ss, ==, LILY_LDT_SEL(CPU_SS));
    cpu_local_publish(&r->sh, &r->s, &regs, false);
    g_assert_false(cpu_local_handle(&r->ctx, &regs, &t));
    rig_free(r);
}

/* mov %crN, %reg at CPL 0, every register; CPL 3 crosses (#GP). */
static void test_cr_read(void)
{
    static const unsigned crs[] = { 0, 2, 3, 4 };
    for (unsigned i = 0; i < G_N_ELEMENTS(crs); i++) {
        for (unsigned reg = 0; reg < 8; reg++) {
            Rig *r = rig_new();
            r->s.cr2 = 0x12345678u;
            r->s.cr3 = 0x00200000u;
            r->s.cr4 = 0x10u;
            uint8_t code[3] = { 0x0f, 0x20, (uint8_t)(0xc0 | crs[i] << 3 | reg) };
            poke(r, CODE, code, 3);
            g_assert_true(compare(r));
            g_assert_cmphex(r->s.eip, ==, CODE + 3);
            rig_free(r);
        }
    }
    Rig *r = rig_new();
    r->s.cpl = 3;
    CODE_AT(r, 0x0f, 0x20, 0xc0);
    g_assert_false(run_local(r, NULL));
    rig_free(r);
}

/* --- iret ----------------------------------------------------------------------------- */

#define GDT 0x1000u
#define KCODE 0x08u

static void put_desc(Rig *r, unsigned sel, uint32_t base, uint32_t limit, uint8_t access,
                     uint8_t flags)
{
    uint8_t d[8] = { limit & 0xff, (limit >> 8) & 0xff, base & 0xff, (base >> 8) & 0xff,
                     (base >> 16) & 0xff, access,
                     (uint8_t)((flags << 4) | ((limit >> 16) & 0xf)), base >> 24 };
    poke(r, GDT + (sel & ~7u), d, 8);
}

/* CPL 0 on a flat code segment at KCODE, an iret frame on the stack. */
static Rig *rig_iret(uint32_t eip, uint32_t cs, uint32_t eflags)
{
    Rig *r = rig_new();
    put_desc(r, KCODE, 0, 0xfffff, 0x9b, 0xc);
    put_desc(r, 0x10, 0, 0xfffff, 0x93, 0xc);
    put_desc(r, 0x18, 0, 0xfffff, 0xfb, 0xc);
    put_desc(r, 0x20, 0, 0xfffff, 0x9a, 0xc); /* Accessed still clear */
    r->s.gdt_base = GDT;
    r->s.gdt_limit = 5 * 8 - 1;
    g_assert_cmpint(cpu_load_cs(&r->s, &r->env, KCODE, 0), ==, CPU_R_OK);
    r->s.gpr[CPU_ESP] = STACK - 12;
    poke32(r, STACK - 12, eip);
    poke32(r, STACK - 8, cs);
    poke32(r, STACK - 4, eflags);
    CODE_AT(r, 0xcf);
    return r;
}

static void test_iret_same_level(void)
{
    Rig *r = rig_iret(0x12345, KCODE, CPU_FL_FIXED | CPU_FL_IF | CPU_FL_CF | CPU_FL_IOPL);
    g_assert_true(compare(r));
    g_assert_cmphex(r->s.eip, ==, 0x12345);
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, STACK);
    g_assert_cmphex(r->s.eflags & (CPU_FL_IF | CPU_FL_CF | CPU_FL_IOPL), ==,
                    CPU_FL_IF | CPU_FL_CF | CPU_FL_IOPL);
    g_assert_cmpuint(r->sh.count[CPU_LOCAL_IRET], ==, 1);
    rig_free(r);
    /* IF stays clear with an interrupt pending: still nothing to deliver. */
    r = rig_iret(0x12345, KCODE, CPU_FL_FIXED);
    r->pending = true;
    g_assert_true(compare(r));
    rig_free(r);
}

static void test_iret_crosses(void)
{
    /* IF rises with an interrupt pending. */
    Rig *r = rig_iret(0x12345, KCODE, CPU_FL_FIXED | CPU_FL_IF);
    r->pending = true;
    g_assert_false(run_local(r, NULL));
    rig_free(r);
    /* Another segment, another level, a null or LDT selector, a descriptor
     * whose Accessed bit the VM would set, a selector beyond the GDT. */
    static const uint32_t sels[] = { 0x10, 0x1b, 0x0, 0x0c, 0x20, 0x28 };
    for (unsigned i = 0; i < G_N_ELEMENTS(sels); i++) {
        r = rig_iret(0x12345, sels[i], CPU_FL_FIXED);
        g_assert_false(run_local(r, NULL));
        rig_free(r);
    }
    /* The cached descriptor differs from the GDT's (the guest changed it). */
    r = rig_iret(0x12345, KCODE, CPU_FL_FIXED);
    put_desc(r, KCODE, 0, 0xfffff, 0x9f, 0xc);
    g_assert_false(run_local(r, NULL));
    rig_free(r);
    /* TF in the frame, NT now, V86 in the frame, a 16-bit iret. */
    r = rig_iret(0x12345, KCODE, CPU_FL_FIXED | CPU_FL_TF);
    g_assert_false(run_local(r, NULL));
    rig_free(r);
    r = rig_iret(0x12345, KCODE, CPU_FL_FIXED);
    r->s.eflags |= CPU_FL_NT;
    g_assert_false(run_local(r, NULL));
    rig_free(r);
    r = rig_iret(0x12345, KCODE, CPU_FL_FIXED | CPU_FL_VM);
    g_assert_false(run_local(r, NULL));
    rig_free(r);
    r = rig_iret(0x12345, KCODE, CPU_FL_FIXED);
    CODE_AT(r, 0x66, 0xcf);
    g_assert_false(run_local(r, NULL));
    rig_free(r);
    /* From CPL 3 (the VM's #GP or return to an outer level). */
    r = rig_iret(0x12345, KCODE, CPU_FL_FIXED);
    r->s.cpl = 3;
    g_assert_false(run_local(r, NULL));
    rig_free(r);
}

/* --- paging: only translations that need no side effect ----------------------------- */

static Rig *rig_paged(uint32_t pte_bits)
{
    Rig *r = rig_new();
    /* PDE 0: identity 4 MiB page (the code); PDE 1: PT; PDE 2: 4 MiB page at 0. */
    poke32(r, PD + 0 * 4, 0x0 | 0x83 | 0x20 | 0x40);
    poke32(r, PD + 1 * 4, PT | 0x7 | 0x20);
    poke32(r, PD + 2 * 4, 0x0 | 0x83 | 0x20 | 0x40);
    /* The stack page: VA_4K + 0x1000 -> PA_STACK. */
    poke32(r, PT + 1 * 4, PA_STACK | pte_bits);
    r->s.cr3 = PD;
    r->s.cr4 = 0x10; /* PSE */
    r->s.cr0 |= CPU_CR0_PG;
    r->s.gpr[CPU_ESP] = VA_4K + 0x2000;
    CODE_AT(r, 0xcd, 0xe0, 0x9c);
    return r;
}

static void test_paging(void)
{
    LilyRegs out;
    /* Present, writable, A and D set: handled, the write lands at PA_STACK. */
    Rig *r = rig_paged(0x1 | 0x2 | 0x20 | 0x40);
    g_assert_true(run_local(r, &out));
    g_assert_cmphex(out.esp, ==, VA_4K + 0x1ffc);
    g_assert_cmphex(peek32(r->ram_local, PA_STACK + 0xffc), ==, CPU_FL_FIXED);
    rig_free(r);
    /* D clear, A clear, read-only, not present: the VM must walk (and set bits or raise #PF). */
    static const uint32_t refused[] = { 0x1 | 0x2 | 0x20, 0x1 | 0x2 | 0x40, 0x1 | 0x20 | 0x40,
                                        0x2 | 0x20 | 0x40 };
    for (unsigned i = 0; i < G_N_ELEMENTS(refused); i++) {
        r = rig_paged(refused[i]);
        g_assert_false(run_local(r, NULL));
        g_assert_cmphex(peek32(r->ram_local, PA_STACK + 0xffc), ==, 0);
        rig_free(r);
    }
    /* popf only reads: A is enough. */
    r = rig_paged(0x1 | 0x20);
    CODE_AT(r, 0xcd, 0xe1, 0x9d);
    r->s.gpr[CPU_ESP] = VA_4K + 0x1ff0;
    poke32(r, PA_STACK + 0xff0, 0x202);
    g_assert_true(run_local(r, &out));
    g_assert_cmphex(out.esp, ==, VA_4K + 0x1ff4);
    rig_free(r);
    /* A 4 MiB page: the stack at VA_4M + STACK is physical STACK. */
    r = rig_paged(0);
    r->s.gpr[CPU_ESP] = VA_4M + STACK;
    g_assert_true(run_local(r, &out));
    g_assert_cmphex(peek32(r->ram_local, STACK - 4), ==, CPU_FL_FIXED);
    /* ... but not without PSE, where PDE 2's frame is read as a table. */
    r->s.cr4 = 0;
    g_assert_false(run_local(r, NULL));
    rig_free(r);
    /* PDE without A. */
    r = rig_paged(0x1 | 0x2 | 0x20 | 0x40);
    poke32(r, PD + 1 * 4, PT | 0x7);
    g_assert_false(run_local(r, NULL));
    rig_free(r);
    /* CPL 3 (sti with IOPL 3) fetching from a supervisor page. */
    r = rig_paged(0x1 | 0x2 | 0x20 | 0x40);
    r->s.cpl = 3;
    r->s.eflags |= CPU_FL_IOPL;
    CODE_AT(r, 0xfb, 0x90);
    g_assert_false(run_local(r, NULL));
    poke32(r, PD + 0 * 4, 0x0 | 0x83 | 0x20 | 0x40 | 0x4);
    g_assert_true(run_local(r, NULL));
    rig_free(r);
}

/* The VM takes back only IF and IOPL from the (untrusted) page. */
static void test_collect_untrusted(void)
{
    Rig *r = rig_new();
    r->s.eflags = CPU_FL_FIXED | CPU_FL_IF;
    r->sh.eflags = 0xffffffffu;
    cpu_local_collect(&r->sh, &r->s);
    g_assert_cmphex(r->s.eflags, ==, CPU_FL_FIXED | CPU_FL_IF | CPU_FL_IOPL);
    uint64_t rep = 0;
    r->sh.count[CPU_LOCAL_CLI] = 5;
    g_assert_cmpuint(cpu_local_take_count(&r->sh, CPU_LOCAL_CLI, &rep), ==, 5);
    r->sh.count[CPU_LOCAL_CLI] = 2; /* forged: went backwards */
    g_assert_cmpuint(cpu_local_take_count(&r->sh, CPU_LOCAL_CLI, &rep), ==, 0);
    r->sh.count[CPU_LOCAL_CLI] = 3;
    g_assert_cmpuint(cpu_local_take_count(&r->sh, CPU_LOCAL_CLI, &rep), ==, 1);
    rig_free(r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cpu-local/cli-sti", test_cli_sti);
    g_test_add_func("/cpu-local/sti-pending-crosses", test_sti_pending_crosses);
    g_test_add_func("/cpu-local/sti-hlt-crosses", test_sti_hlt_crosses);
    g_test_add_func("/cpu-local/cli-sti-iopl", test_cli_sti_iopl);
    g_test_add_func("/cpu-local/pushf", test_pushf);
    g_test_add_func("/cpu-local/popf-sweep", test_popf_sweep);
    g_test_add_func("/cpu-local/site-user-crosses", test_site_user_crosses);
    g_test_add_func("/cpu-local/other-encodings-cross", test_other_encodings_cross);
    g_test_add_func("/cpu-local/stack-limits", test_stack_limits);
    g_test_add_func("/cpu-local/record-filter", test_record_filter);
    g_test_add_func("/cpu-local/native-selector-crosses", test_native_selector_crosses);
    g_test_add_func("/cpu-local/cr-read", test_cr_read);
    g_test_add_func("/cpu-local/paging", test_paging);
    g_test_add_func("/cpu-local/iret-same-level", test_iret_same_level);
    g_test_add_func("/cpu-local/iret-crosses", test_iret_crosses);
    g_test_add_func("/cpu-local/collect-untrusted", test_collect_untrusted);
    return g_test_run();
}
