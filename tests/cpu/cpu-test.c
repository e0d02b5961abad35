/*
 * Unit tests of the cpu-ia32 trap-path core without a guest process: vcpu
 * states and guest RAM built by hand, instruction bytes at EIP, synthetic
 * trap records, and checks of registers, memory and port accesses.
 */
#include <signal.h>
#include <string.h>
#include <glib.h>

#include <lilyvm/rewrite.h>
#include "plugins/cpu-ia32/cpu.h"

#define RAM_SIZE (4u << 20)
#define GDT 0x1000u
#define IDT 0x2000u
#define TSS 0x3000u
#define CODE 0x10000u
#define KSTACK 0x90000u
#define USTACK 0x80000u
#define HANDLER(v) (0x50000u + (v) * 16u)
#define KCODE 0x08
#define KDATA 0x10
#define UCODE 0x1b
#define UDATA 0x23
#define TSSSEL 0x28
#define ODDSEG 0x30
#define ROSEG 0x38   /* read-only data, base 0x100000, limit 0xffff */
#define EDSEG 0x40   /* expand-down data, base 0x100000, limit 0xfff, big */
#define GDT_ENTRIES 24
#define BEYOND_GDT (GDT_ENTRIES * 8)

typedef struct Fake {
    uint8_t *ram;
    unsigned n_io;
    struct { uint16_t port; unsigned size; uint32_t value; bool write; } io[16];
    unsigned rep_calls;
    uint8_t rep_buf[4096];
    uint32_t rep_count;
    int pending_vector;
    uint64_t mmio_gpa;
    uint32_t mmio_value;
    unsigned mmio_writes, mmio_reads;
    unsigned mmio_size;      /* of the last access */
    bool mmio_reg_set;       /* reads return mmio_reg instead of the pattern */
    uint32_t mmio_reg;
    uint32_t mmio_log[8];    /* values written, in order */
} Fake;

static uint32_t fk_pio_read(void *o, uint16_t port, unsigned size)
{
    Fake *f = o;
    if (f->n_io < 16)
        f->io[f->n_io++] = (typeof(f->io[0])){ port, size, 0, false };
    return (0x11223344u + port) & (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
}

static void fk_pio_write(void *o, uint16_t port, unsigned size, uint32_t v)
{
    Fake *f = o;
    if (f->n_io < 16)
        f->io[f->n_io++] = (typeof(f->io[0])){ port, size, v, true };
}

static void fk_pio_read_rep(void *o, uint16_t port, unsigned size, void *buf, uint32_t n)
{
    Fake *f = o;
    f->rep_calls++;
    f->rep_count += n;
    for (uint32_t i = 0; i < n * size; i++)
        ((uint8_t *)buf)[i] = (uint8_t)(i + port);
}

static void fk_pio_write_rep(void *o, uint16_t port, unsigned size, const void *buf, uint32_t n)
{
    Fake *f = o;
    f->rep_calls++;
    if (f->rep_count + n * size <= sizeof f->rep_buf)
        memcpy(f->rep_buf + f->rep_count, buf, n * size);
    f->rep_count += n * size;
}

static uint32_t fk_mmio_read(void *o, uint64_t gpa, unsigned size)
{
    Fake *f = o;
    f->mmio_gpa = gpa;
    f->mmio_reads++;
    f->mmio_size = size;
    if (f->mmio_reg_set)
        return f->mmio_reg & (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
    return 0xcafe0000u | size;
}

static void fk_mmio_write(void *o, uint64_t gpa, unsigned size, uint32_t v)
{
    Fake *f = o;
    f->mmio_gpa = gpa;
    f->mmio_value = v;
    f->mmio_size = size;
    if (f->mmio_writes < 8)
        f->mmio_log[f->mmio_writes] = v;
    f->mmio_writes++;
}

static int fk_irq_ack(void *o)
{
    Fake *f = o;
    int v = f->pending_vector;
    f->pending_vector = -1;
    return v;
}

typedef struct Rig {
    Fake fake;
    CpuEnv env;
    CpuState s;
} Rig;

static void put_desc(uint8_t *ram, unsigned sel, uint32_t base, uint32_t limit, uint8_t access,
                     uint8_t flags)
{
    uint8_t *d = ram + GDT + (sel & ~7u);
    d[0] = limit & 0xff;
    d[1] = (limit >> 8) & 0xff;
    d[2] = base & 0xff;
    d[3] = (base >> 8) & 0xff;
    d[4] = (base >> 16) & 0xff;
    d[5] = access;
    d[6] = (uint8_t)((flags << 4) | ((limit >> 16) & 0xf));
    d[7] = base >> 24;
}

static void put_gate(uint8_t *ram, unsigned v, uint32_t off, uint8_t type, unsigned dpl)
{
    uint8_t *g = ram + IDT + v * 8;
    g[0] = off & 0xff;
    g[1] = (off >> 8) & 0xff;
    g[2] = KCODE;
    g[3] = 0;
    g[4] = 0;
    g[5] = (uint8_t)(type | dpl << 5);
    g[6] = (off >> 16) & 0xff;
    g[7] = off >> 24;
}

static uint32_t rd32(Rig *r, uint32_t a)
{
    uint32_t v;
    memcpy(&v, r->fake.ram + a, 4);
    return v;
}

static void wr32(Rig *r, uint32_t a, uint32_t v)
{
    memcpy(r->fake.ram + a, &v, 4);
}

static Rig *rig_new(void)
{
    Rig *r = g_new0(Rig, 1);
    r->fake.ram = g_malloc0(RAM_SIZE);
    r->fake.pending_vector = -1;
    r->env = (CpuEnv){ .opaque = &r->fake, .pio_read = fk_pio_read, .pio_write = fk_pio_write,
                       .pio_read_rep = fk_pio_read_rep, .pio_write_rep = fk_pio_write_rep,
                       .mmio_read = fk_mmio_read, .mmio_write = fk_mmio_write,
                       .irq_ack = fk_irq_ack, .ram = r->fake.ram, .ram_size = RAM_SIZE };
    uint8_t *ram = r->fake.ram;
    put_desc(ram, KCODE, 0, 0xfffff, 0x9a, 0xc);
    put_desc(ram, KDATA, 0, 0xfffff, 0x92, 0xc);
    put_desc(ram, UCODE, 0, 0xfffff, 0xfa, 0xc);
    put_desc(ram, UDATA, 0, 0xfffff, 0xf2, 0xc);
    put_desc(ram, TSSSEL, TSS, 0x67, 0x89, 0);
    put_desc(ram, ODDSEG, 0x100000, 0xffff, 0x92, 0x4);
    put_desc(ram, ROSEG, 0x100000, 0xffff, 0x90, 0x4);
    put_desc(ram, EDSEG, 0x100000, 0xfff, 0x96, 0x4);
    for (unsigned v = 0; v < 256; v++)
        put_gate(ram, v, HANDLER(v), 0x8e, 0);
    put_gate(ram, 0x80, HANDLER(0x80), 0x8f, 3);
    wr32(r, TSS + 4, KSTACK);
    ram[TSS + 8] = KDATA;
    cpu_reset(&r->s, CODE, 0, 0);
    r->s.gdt_base = GDT;
    r->s.gdt_limit = GDT_ENTRIES * 8 - 1;
    r->s.idt_base = IDT;
    r->s.idt_limit = 256 * 8 - 1;
    g_assert_cmpint(cpu_load_tr(&r->s, &r->env, TSSSEL), ==, CPU_R_OK);
    r->s.gpr[CPU_ESP] = KSTACK - 0x1000;
    r->s.seg[CPU_CS].sel = KCODE;
    return r;
}

static void rig_free(Rig *r)
{
    g_free(r->fake.ram);
    g_free(r);
}

/* Switch to ring 3 with the user selectors loaded (as an iret would). */
static void rig_user(Rig *r)
{
    r->s.cpl = 3;
    r->s.seg[CPU_CS].sel = UCODE;
    r->s.seg[CPU_SS].sel = UDATA;
    r->s.seg[CPU_SS].access = 0xf3;
    r->s.seg[CPU_DS].sel = UDATA;
    r->s.seg[CPU_DS].access = 0xf3;
    r->s.gpr[CPU_ESP] = USTACK;
}

static void put_code(Rig *r, uint32_t at, const void *bytes, size_t n)
{
    memcpy(r->fake.ram + at, bytes, n);
    r->s.eip = at;
}

#define CODE_AT(r, ...)                                                  \
    do {                                                                 \
        static const uint8_t code_[] = { __VA_ARGS__ };                  \
        put_code((r), CODE, code_, sizeof code_);                        \
    } while (0)

/* Hand a trap to the core after a round trip of the registers, as the glue does. */
static CpuAction run_trap(Rig *r, const LilyTrap *t)
{
    LilyRegs regs;
    cpu_regs_out(&r->s, &regs);
    cpu_regs_in(&r->s, &regs);
    return cpu_trap(&r->s, &r->env, t);
}

/* A #GP trap at EIP (what a privileged or rewritten instruction gives). */
static CpuAction trap_gp(Rig *r)
{
    LilyTrap t = { .signo = SIGSEGV, .si_code = 0x80, .trapno = 13, .host_ip = r->s.eip };
    CpuAction a = run_trap(r, &t);
    if (a == CPU_FATAL && g_test_verbose())
        g_test_message("fatal: %s", r->s.fatal);
    return a;
}

/* --- I/O ---------------------------------------------------------------------- */

static void test_io_in_out(void)
{
    Rig *r = rig_new();
    r->s.gpr[CPU_EAX] = 0xaabbccdd;
    CODE_AT(r, 0xe6, 0x80); /* out %al, $0x80 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, CODE + 2);
    g_assert_cmpuint(r->fake.io[0].port, ==, 0x80);
    g_assert_cmpuint(r->fake.io[0].size, ==, 1);
    g_assert_cmpuint(r->fake.io[0].value, ==, 0xdd);
    g_assert_true(r->fake.io[0].write);

    r->s.gpr[CPU_EDX] = 0x3f8;
    CODE_AT(r, 0x66, 0xed); /* in (%dx), %ax */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.io[1].port, ==, 0x3f8);
    g_assert_cmpuint(r->fake.io[1].size, ==, 2);
    g_assert_cmpuint(r->s.gpr[CPU_EAX], ==, 0xaabb0000u | ((0x11223344u + 0x3f8) & 0xffff));
    g_assert_cmpuint(r->s.eip, ==, CODE + 2);

    CODE_AT(r, 0xef); /* out %eax, (%dx) */
    r->s.gpr[CPU_EAX] = 0x12345678;
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.io[2].value, ==, 0x12345678);
    g_assert_cmpuint(r->fake.io[2].size, ==, 4);
    g_assert_cmpuint(r->s.stats[CPU_STAT_IO], ==, 3);
    rig_free(r);
}

static void test_io_rep_insw(void)
{
    Rig *r = rig_new();
    r->s.gpr[CPU_ECX] = 3000; /* 6000 bytes: crosses a page */
    r->s.gpr[CPU_EDI] = 0x20800;
    r->s.gpr[CPU_EDX] = 0x1f0;
    CODE_AT(r, 0xf3, 0x66, 0x6d); /* rep insw */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gpr[CPU_ECX], ==, 0);
    g_assert_cmpuint(r->s.gpr[CPU_EDI], ==, 0x20800 + 6000);
    g_assert_cmpuint(r->fake.rep_count, ==, 3000);
    g_assert_cmpuint(r->fake.rep_calls, ==, 2); /* one per page touched */
    g_assert_cmpuint(r->fake.ram[0x20800], ==, (uint8_t)0x1f0);
    g_assert_cmpuint(r->s.eip, ==, CODE + 3);
    rig_free(r);
}

static void test_io_rep_outsb(void)
{
    Rig *r = rig_new();
    memcpy(r->fake.ram + 0x30000, "hello, world", 12);
    r->s.gpr[CPU_ECX] = 12;
    r->s.gpr[CPU_ESI] = 0x30000;
    r->s.gpr[CPU_EDX] = 0x3f8;
    CODE_AT(r, 0xf3, 0x6e); /* rep outsb */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.rep_calls, ==, 1);
    g_assert_cmpmem(r->fake.rep_buf, 12, "hello, world", 12);
    g_assert_cmpuint(r->s.gpr[CPU_ESI], ==, 0x3000c);
    g_assert_cmpuint(r->s.gpr[CPU_ECX], ==, 0);
    rig_free(r);
}

/* --- the TSS I/O permission bitmap ------------------------------------------- */

#define IOMAP 0x68u /* the map's offset in the test TSS */

/*
 * Ring 3 with IOPL 0 and a TSS whose I/O bitmap covers ports 0 ... 8*map_bytes-1,
 * all allowed, with the trailing all-ones byte when trailer is set.
 */
static Rig *iomap_rig(unsigned map_bytes, bool trailer)
{
    Rig *r = rig_new();
    rig_user(r);
    r->fake.ram[TSS + 0x66] = IOMAP;
    r->fake.ram[TSS + 0x67] = 0;
    memset(r->fake.ram + TSS + IOMAP, 0, map_bytes);
    r->fake.ram[TSS + IOMAP + map_bytes] = 0xff;
    r->s.tr.limit = IOMAP + map_bytes - 1 + (trailer ? 1 : 0);
    return r;
}

static void deny_port(Rig *r, unsigned port)
{
    r->fake.ram[TSS + IOMAP + port / 8] |= (uint8_t)(1u << (port % 8));
}

static void test_iomap_allows(void)
{
    Rig *r = iomap_rig(0x80, true);
    r->s.gpr[CPU_EDX] = 0x3f8;
    r->s.gpr[CPU_EAX] = 0x41;
    CODE_AT(r, 0xee); /* out %al, (%dx) at CPL 3, IOPL 0 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, CODE + 1);
    g_assert_cmpuint(r->fake.n_io, ==, 1);
    g_assert_cmpuint(r->fake.io[0].port, ==, 0x3f8);
    g_assert_cmpuint(r->s.cpl, ==, 3);
    rig_free(r);
}

/* A word access is denied when the bit of its second port is set. */
static void test_iomap_denies_second_port(void)
{
    Rig *r = iomap_rig(0x80, true);
    deny_port(r, 0x71);
    CODE_AT(r, 0x66, 0xe5, 0x70); /* in $0x70, %ax: ports 0x70 and 0x71 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13));
    g_assert_cmpuint(rd32(r, KSTACK - 24), ==, 0); /* #GP(0) */
    g_assert_cmpuint(rd32(r, KSTACK - 20), ==, CODE);
    g_assert_cmpuint(r->fake.n_io, ==, 0);
    rig_free(r);
}

/* A dword access whose bits straddle two bytes of the map reads both. */
static void test_iomap_straddles_bytes(void)
{
    Rig *r = iomap_rig(0x80, true);
    deny_port(r, 0x80);
    r->s.gpr[CPU_EDX] = 0x7e; /* ports 0x7e ... 0x81 */
    CODE_AT(r, 0xed); /* in (%dx), %eax */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13));
    r->fake.ram[TSS + IOMAP + 0x10] = 0;
    r->s.gpr[CPU_ESP] = USTACK;
    rig_user(r);
    CODE_AT(r, 0xed);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, CODE + 1);
    rig_free(r);
}

/* Ports beyond the map, and a last map byte without the byte after it, are denied. */
static void test_iomap_limit(void)
{
    Rig *r = iomap_rig(0x10, true); /* ports 0 ... 0x7f */
    CODE_AT(r, 0xe6, 0x80); /* out %al, $0x80: beyond the map */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13));
    g_assert_cmpuint(r->fake.n_io, ==, 0);

    Rig *t = iomap_rig(0x10, false);
    CODE_AT(t, 0xe6, 0x78); /* the map's last byte: the CPU reads two bytes */
    g_assert_cmpint(trap_gp(t), ==, CPU_RESUME);
    g_assert_cmpuint(t->s.eip, ==, HANDLER(13));
    Rig *u = iomap_rig(0x10, false);
    CODE_AT(u, 0xe6, 0x70); /* one byte earlier: both bytes inside the limit */
    g_assert_cmpint(trap_gp(u), ==, CPU_RESUME);
    g_assert_cmpuint(u->s.eip, ==, CODE + 2);
    rig_free(u);
    rig_free(t);
    rig_free(r);
}

/* The map base at or past the limit: no map, every port denied. */
static void test_iomap_absent(void)
{
    Rig *r = iomap_rig(0x80, true);
    r->fake.ram[TSS + 0x66] = 0xff;
    r->fake.ram[TSS + 0x67] = 0xff;
    CODE_AT(r, 0xe6, 0x00); /* out %al, $0 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13));
    rig_free(r);
}

static void test_iomap_string_io(void)
{
    Rig *r = iomap_rig(0x80, true);
    memcpy(r->fake.ram + 0x30000, "ok", 2);
    r->s.gpr[CPU_ECX] = 2;
    r->s.gpr[CPU_ESI] = 0x30000;
    r->s.gpr[CPU_EDX] = 0x3f8;
    CODE_AT(r, 0xf3, 0x6e); /* rep outsb, allowed */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpmem(r->fake.rep_buf, 2, "ok", 2);
    deny_port(r, 0x3f8);
    r->s.gpr[CPU_ECX] = 2;
    CODE_AT(r, 0xf3, 0x6e); /* now denied: nothing moves */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13));
    g_assert_cmpuint(r->s.gpr[CPU_ECX], ==, 2);
    g_assert_cmpuint(r->fake.rep_calls, ==, 1);
    rig_free(r);
}

/* cli/sti are IOPL-sensitive only: the bitmap does not help them. */
static void test_iomap_not_for_cli(void)
{
    Rig *r = iomap_rig(0x80, true);
    CODE_AT(r, 0xfa);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13));
    rig_free(r);
}

/* --- exceptions through the IDT and TSS ------------------------------------ */

static void test_user_io_gp_and_iret(void)
{
    Rig *r = rig_new();
    rig_user(r);
    r->s.eflags |= CPU_FL_IF | CPU_FL_ZF;
    r->s.gpr[CPU_EBX] = 0x1234;
    CODE_AT(r, 0xfa); /* cli at CPL 3, IOPL 0: #GP(0) */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    /* Ring 0 through the #GP gate, on the TSS stack. */
    g_assert_cmpuint(r->s.cpl, ==, 0);
    g_assert_cmpuint(r->s.seg[CPU_CS].sel, ==, KCODE);
    g_assert_cmpuint(r->s.seg[CPU_SS].sel, ==, KDATA);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13));
    g_assert_cmpuint(r->s.gpr[CPU_ESP], ==, KSTACK - 24);
    g_assert_cmpuint(rd32(r, KSTACK - 24), ==, 0);           /* error code */
    g_assert_cmpuint(rd32(r, KSTACK - 20), ==, CODE);        /* EIP of the cli */
    g_assert_cmpuint(rd32(r, KSTACK - 16), ==, UCODE);
    g_assert_cmpuint(rd32(r, KSTACK - 12) & CPU_FL_IF, ==, CPU_FL_IF);
    g_assert_cmpuint(rd32(r, KSTACK - 8), ==, USTACK);
    g_assert_cmpuint(rd32(r, KSTACK - 4), ==, UDATA);
    g_assert_cmpuint(r->s.eflags & CPU_FL_IF, ==, 0); /* interrupt gate */
    g_assert_cmpuint(r->s.gpr[CPU_EBX], ==, 0x1234);

    /* The handler skips the cli, drops the error code and irets. */
    wr32(r, KSTACK - 20, CODE + 1);
    r->s.gpr[CPU_ESP] += 4;
    put_code(r, HANDLER(13), (const uint8_t[]){ 0xcf }, 1);
    r->s.intr_line = true;
    r->fake.pending_vector = 0x20;
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.cpl, ==, 3);
    g_assert_cmpuint(r->s.eip, ==, CODE + 1);
    /* The interrupt pending at the iret waits until the guest has run. */
    g_assert_cmpint(cpu_poll_interrupt(&r->s, &r->env), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, CODE + 1);
    g_assert_cmpint(r->fake.pending_vector, ==, 0x20);
    r->s.intr_line = false;
    r->s.irq_holdoff = false;
    g_assert_cmpuint(r->s.gpr[CPU_ESP], ==, USTACK);
    g_assert_cmpuint(r->s.seg[CPU_CS].sel, ==, UCODE);
    g_assert_cmpuint(r->s.seg[CPU_SS].sel, ==, UDATA);
    g_assert_cmpuint(r->s.eflags & (CPU_FL_IF | CPU_FL_ZF), ==, CPU_FL_IF | CPU_FL_ZF);
    LilyRegs regs;
    cpu_regs_out(&r->s, &regs);
    g_assert_cmpuint(regs.cs, ==, LILY_SEL_CODE32);
    g_assert_cmpuint(regs.ss, ==, LILY_SEL_DATA);
    g_assert_cmpuint(regs.eflags & CPU_FL_ZF, ==, CPU_FL_ZF);
    rig_free(r);
}

static void test_int_dpl(void)
{
    Rig *r = rig_new();
    rig_user(r);
    CODE_AT(r, 0xcd, 0x30); /* int $0x30: gate DPL 0 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13));
    g_assert_cmpuint(rd32(r, KSTACK - 24), ==, 0x30 * 8 + 2);
    g_assert_cmpuint(rd32(r, KSTACK - 20), ==, CODE);

    Rig *u = rig_new();
    rig_user(u);
    u->s.eflags |= CPU_FL_IF;
    CODE_AT(u, 0xcd, 0x80); /* int $0x80 as a #GP (gate DPL 3, trap gate) */
    g_assert_cmpint(trap_gp(u), ==, CPU_RESUME);
    g_assert_cmpuint(u->s.eip, ==, HANDLER(0x80));
    g_assert_cmpuint(u->s.gpr[CPU_ESP], ==, KSTACK - 20); /* no error code */
    g_assert_cmpuint(rd32(u, KSTACK - 20), ==, CODE + 2);
    g_assert_cmpuint(u->s.eflags & CPU_FL_IF, ==, CPU_FL_IF); /* trap gate keeps IF */
    rig_free(u);
    rig_free(r);
}

static void test_int80_sigsys(void)
{
    Rig *r = rig_new();
    rig_user(r);
    put_code(r, CODE, (const uint8_t[]){ 0xcd, 0x80 }, 2);
    r->s.eip = CODE + 2; /* a syscall record: EIP after the instruction */
    LilyTrap t = { .signo = SIGSYS, .trapno = LILY_TRAPNO_NONE, .syscall_nr = 4,
                   .syscall_arch = 0x40000003u, .host_ip = CODE + 2 };
    g_assert_cmpint(run_trap(r, &t), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(0x80));
    g_assert_cmpuint(rd32(r, KSTACK - 20), ==, CODE + 2);
    g_assert_cmpuint(r->s.stats[CPU_STAT_SYSCALLS], ==, 1);
    rig_free(r);
}

static void test_int3_trap(void)
{
    Rig *r = rig_new();
    put_gate(r->fake.ram, 3, HANDLER(3), 0x8f, 3);
    rig_user(r);
    put_code(r, CODE, (const uint8_t[]){ 0xcc }, 1);
    r->s.eip = CODE + 1;
    LilyTrap t = { .signo = SIGTRAP, .trapno = 3, .host_ip = CODE + 1 };
    g_assert_cmpint(run_trap(r, &t), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(3));
    g_assert_cmpuint(rd32(r, KSTACK - 20), ==, CODE + 1);
    rig_free(r);
}

static void test_divide_error(void)
{
    Rig *r = rig_new();
    CODE_AT(r, 0xf7, 0xf1);
    LilyTrap t = { .signo = SIGFPE, .trapno = 0, .host_ip = CODE };
    g_assert_cmpint(run_trap(r, &t), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(0));
    uint32_t sp = r->s.gpr[CPU_ESP];
    g_assert_cmpuint(rd32(r, sp), ==, CODE); /* a fault: EIP of the div, no error code */
    g_assert_cmpuint(rd32(r, sp + 4), ==, KCODE);
    rig_free(r);
}

static void test_double_and_triple_fault(void)
{
    Rig *r = rig_new();
    /* #GP's gate not present: #NP while delivering #GP -> #DF. */
    r->fake.ram[IDT + 13 * 8 + 5] &= 0x7f;
    CODE_AT(r, 0x0f, 0x0b); /* ud2 -> SIGILL would be #UD; use an unknown #GP source */
    r->s.cpl = 0;
    r->s.exc_vector = 0;
    g_assert_cmpint(cpu_raise(&r->s, CPU_EXC_GP, true, 0), ==, CPU_R_EXC);
    g_assert_cmpint(cpu_deliver_pending(&r->s, &r->env), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(8));
    g_assert_cmpuint(rd32(r, r->s.gpr[CPU_ESP]), ==, 0); /* #DF error code 0 */

    /* Without a usable IDT at all: triple fault, the VM ends. */
    r->s.idt_limit = 0;
    r->s.eip = CODE;
    cpu_raise(&r->s, CPU_EXC_GP, true, 0);
    g_assert_cmpint(cpu_deliver_pending(&r->s, &r->env), ==, CPU_FATAL);
    g_assert_nonnull(strstr(r->s.fatal, "triple fault"));
    rig_free(r);
}

static void test_undefined_opcode(void)
{
    Rig *r = rig_new();
    CODE_AT(r, 0x0f, 0x0b);
    LilyTrap t = { .signo = SIGILL, .trapno = 6, .host_ip = CODE };
    g_assert_cmpint(run_trap(r, &t), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(6));
    rig_free(r);
}

/* --- interrupts: virtual IF, sti, popf, hlt ---------------------------------- */

static void test_cli_sti_pending(void)
{
    Rig *r = rig_new();
    r->s.eflags |= CPU_FL_IF;
    CODE_AT(r, 0xfa, 0xfb, 0x90); /* cli; sti; nop */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eflags & CPU_FL_IF, ==, 0);
    /* An interrupt arrives while IF is clear: nothing is delivered. */
    r->s.intr_line = true;
    r->fake.pending_vector = 0x20;
    g_assert_cmpint(cpu_poll_interrupt(&r->s, &r->env), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, CODE + 1);
    /* sti: delivered right after it. */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, CODE + 2);
    g_assert_cmpint(cpu_poll_interrupt(&r->s, &r->env), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(0x20));
    g_assert_cmpuint(rd32(r, r->s.gpr[CPU_ESP]), ==, CODE + 2);
    g_assert_cmpuint(rd32(r, r->s.gpr[CPU_ESP] + 8) & CPU_FL_IF, ==, CPU_FL_IF);
    g_assert_cmpuint(r->s.eflags & CPU_FL_IF, ==, 0);
    g_assert_cmpuint(r->s.stats[CPU_STAT_CLI_STI], ==, 2);
    g_assert_cmpuint(r->s.stats[CPU_STAT_INTERRUPTS], ==, 1);
    rig_free(r);
}

static void test_popf_pending(void)
{
    Rig *r = rig_new();
    r->s.intr_line = true;
    r->fake.pending_vector = 0x21;
    uint32_t sp = r->s.gpr[CPU_ESP] - 4;
    wr32(r, sp, CPU_FL_IF | CPU_FL_CF | CPU_FL_FIXED);
    r->s.gpr[CPU_ESP] = sp;
    CODE_AT(r, 0xcd, 0xe1, 0x9d); /* rewritten popfl */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eflags & (CPU_FL_IF | CPU_FL_CF), ==, CPU_FL_IF | CPU_FL_CF);
    g_assert_cmpuint(r->s.gpr[CPU_ESP], ==, sp + 4);
    g_assert_cmpuint(r->s.eip, ==, CODE + 3);
    g_assert_cmpint(cpu_poll_interrupt(&r->s, &r->env), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(0x21));
    rig_free(r);
}

static void test_hlt_wake(void)
{
    Rig *r = rig_new();
    r->s.eflags |= CPU_FL_IF;
    CODE_AT(r, 0xf4, 0x90);
    g_assert_cmpint(trap_gp(r), ==, CPU_HALT);
    g_assert_true(r->s.halted);
    g_assert_false(cpu_can_take_interrupt(&r->s));
    r->s.intr_line = true;
    r->fake.pending_vector = 0x20;
    g_assert_true(cpu_can_take_interrupt(&r->s));
    g_assert_cmpint(cpu_poll_interrupt(&r->s, &r->env), ==, CPU_RESUME);
    g_assert_false(r->s.halted);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(0x20));
    g_assert_cmpuint(rd32(r, r->s.gpr[CPU_ESP]), ==, CODE + 1); /* after the hlt */
    rig_free(r);
}

static void test_sti_hlt(void)
{
    Rig *r = rig_new();
    CODE_AT(r, 0xfb, 0xf4, 0x90); /* sti; hlt with an interrupt pending */
    r->s.intr_line = true;
    r->fake.pending_vector = 0x20;
    /* It halts all the same (so pacing does not delay the wake-up)... */
    g_assert_cmpint(trap_gp(r), ==, CPU_HALT);
    g_assert_cmpuint(r->s.eip, ==, CODE + 2);
    g_assert_true(r->s.halted);
    /* ...and the pending interrupt wakes it at once, returning after the hlt. */
    g_assert_cmpint(cpu_poll_interrupt(&r->s, &r->env), ==, CPU_RESUME);
    g_assert_false(r->s.halted);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(0x20));
    g_assert_cmpuint(rd32(r, r->s.gpr[CPU_ESP]), ==, CODE + 2);
    /* With nothing pending it halts. */
    Rig *h = rig_new();
    CODE_AT(h, 0xfb, 0xf4);
    g_assert_cmpint(trap_gp(h), ==, CPU_HALT);
    g_assert_cmpuint(h->s.eip, ==, CODE + 2);
    rig_free(h);
    rig_free(r);
}

static void test_user_popf_keeps_if(void)
{
    Rig *r = rig_new();
    rig_user(r);
    r->s.eflags |= CPU_FL_IF;
    cpu_set_eflags(&r->s, CPU_FL_FIXED | CPU_FL_IOPL, 0xffffffffu);
    g_assert_cmpuint(r->s.eflags & (CPU_FL_IF | CPU_FL_IOPL), ==, CPU_FL_IF);
    rig_free(r);
}

/* --- descriptor tables, control registers, MSRs ------------------------------ */

static void test_lgdt_lidt(void)
{
    Rig *r = rig_new();
    uint8_t img[6] = { 0xff, 0x00, 0x00, 0x40, 0x01, 0x00 };
    memcpy(r->fake.ram + 0x7000, img, 6);
    CODE_AT(r, 0x0f, 0x01, 0x15, 0x00, 0x70, 0x00, 0x00); /* lgdt 0x7000 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gdt_limit, ==, 0xff);
    g_assert_cmpuint(r->s.gdt_base, ==, 0x14000);
    g_assert_cmpuint(r->s.eip, ==, CODE + 7);
    r->s.gpr[CPU_EAX] = 0x7000;
    CODE_AT(r, 0x0f, 0x01, 0x18); /* lidt (%eax) */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.idt_base, ==, 0x14000);
    rig_free(r);
}

static void test_ltr_busy(void)
{
    Rig *r = rig_new();
    g_assert_cmpuint(r->fake.ram[GDT + TSSSEL + 5], ==, 0x8b); /* busy after ltr */
    g_assert_cmpuint(r->s.tr.base, ==, TSS);
    /* A busy TSS cannot be loaded again. */
    r->s.gpr[CPU_EAX] = TSSSEL;
    CODE_AT(r, 0x0f, 0x00, 0xd8); /* ltr %ax */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13));
    rig_free(r);
}

static void test_control_registers(void)
{
    Rig *r = rig_new();
    r->s.gpr[CPU_EAX] = CPU_CR0_PE | CPU_CR0_TS | 0x2;
    CODE_AT(r, 0x0f, 0x22, 0xc0); /* mov %eax, %cr0 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.cr0, ==, CPU_CR0_PE | CPU_CR0_TS | 0x2 | CPU_CR0_ET);
    CODE_AT(r, 0x0f, 0x06); /* clts */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.cr0 & CPU_CR0_TS, ==, 0);
    r->s.gpr[CPU_ECX] = 0x123000;
    CODE_AT(r, 0x0f, 0x22, 0xd9); /* mov %ecx, %cr3 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    CODE_AT(r, 0x0f, 0x20, 0xdb); /* mov %cr3, %ebx */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gpr[CPU_EBX], ==, 0x123000);
    r->s.gpr[CPU_EDX] = 0xdead;
    CODE_AT(r, 0x0f, 0x23, 0xc2); /* mov %edx, %dr0 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.dr[0], ==, 0xdead);
    CODE_AT(r, 0x0f, 0x21, 0xf8); /* mov %dr7, %eax */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gpr[CPU_EAX], ==, 0x400);
    /* Paging without an MMU plugin, and real mode: explicit errors. */
    r->s.gpr[CPU_EAX] = CPU_CR0_PE | CPU_CR0_PG;
    CODE_AT(r, 0x0f, 0x22, 0xc0);
    g_assert_cmpint(trap_gp(r), ==, CPU_FATAL);
    g_assert_nonnull(strstr(r->s.fatal, "MMU"));
    r->s.gpr[CPU_EAX] = 0;
    CODE_AT(r, 0x0f, 0x22, 0xc0);
    g_assert_cmpint(trap_gp(r), ==, CPU_FATAL);
    g_assert_nonnull(strstr(r->s.fatal, "real mode"));
    /* At CPL 3: #GP. */
    rig_user(r);
    CODE_AT(r, 0x0f, 0x20, 0xc0);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13));
    rig_free(r);
}

static void test_msr(void)
{
    Rig *r = rig_new();
    r->s.gpr[CPU_ECX] = 0x1b;
    CODE_AT(r, 0x0f, 0x32); /* rdmsr */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gpr[CPU_EAX], ==, 0xfee00900u);
    r->s.gpr[CPU_ECX] = 0x174;
    r->s.gpr[CPU_EAX] = KCODE;
    r->s.gpr[CPU_EDX] = 0;
    CODE_AT(r, 0x0f, 0x30); /* wrmsr */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.msr_sysenter_cs, ==, KCODE);
    r->s.gpr[CPU_ECX] = 0xc0000080;
    CODE_AT(r, 0x0f, 0x32);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13)); /* unknown MSR: #GP */
    rig_free(r);
}

/* --- segments and far transfers --------------------------------------------------- */

static void test_segment_loads(void)
{
    Rig *r = rig_new();
    r->s.gpr[CPU_EAX] = KDATA;
    CODE_AT(r, 0x8e, 0xd8); /* mov %eax, %ds */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.seg[CPU_DS].sel, ==, KDATA);
    g_assert_cmpuint(r->s.eip, ==, CODE + 2);
    g_assert_cmpuint(r->fake.ram[GDT + KDATA + 5], ==, 0x93); /* accessed */
    r->s.gpr[CPU_EAX] = 0;
    CODE_AT(r, 0x8e, 0xe8); /* mov %eax, %gs: null is fine */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    LilyRegs regs;
    cpu_regs_out(&r->s, &regs);
    g_assert_cmpuint(regs.gs, ==, 0);
    g_assert_cmpuint(regs.ds, ==, LILY_SEL_DATA);
    CODE_AT(r, 0x8e, 0xd0); /* mov %eax, %ss: null -> #GP(0) */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13));
    g_assert_cmpuint(rd32(r, r->s.gpr[CPU_ESP]), ==, 0);

    Rig *b = rig_new();
    b->s.gpr[CPU_EAX] = BEYOND_GDT; /* beyond the GDT limit */
    CODE_AT(b, 0x8e, 0xd8);
    g_assert_cmpint(trap_gp(b), ==, CPU_RESUME);
    g_assert_cmpuint(b->s.eip, ==, HANDLER(13));
    g_assert_cmpuint(rd32(b, b->s.gpr[CPU_ESP]), ==, BEYOND_GDT);
    b->s.gpr[CPU_EAX] = ODDSEG;
    CODE_AT(b, 0x8e, 0xd0); /* a stack segment must be flat */
    g_assert_cmpint(trap_gp(b), ==, CPU_FATAL);
    g_assert_nonnull(strstr(b->s.fatal, "not flat"));
    rig_free(b);

    /* User mode cannot load a DPL 0 data segment. */
    Rig *u = rig_new();
    rig_user(u);
    u->s.gpr[CPU_EAX] = KDATA;
    CODE_AT(u, 0x8e, 0xd8);
    g_assert_cmpint(trap_gp(u), ==, CPU_RESUME);
    g_assert_cmpuint(u->s.eip, ==, HANDLER(13));
    g_assert_cmpuint(rd32(u, KSTACK - 24), ==, KDATA);
    rig_free(u);
    rig_free(r);
}

/* A data segment with a base and a limit: accesses through it are emulated. */
static void test_segment_base_limit(void)
{
    Rig *r = rig_new();
    r->s.gpr[CPU_EAX] = ODDSEG; /* base 0x100000, limit 0xffff */
    CODE_AT(r, 0x8e, 0xe0);     /* mov %eax, %fs */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    LilyRegs regs;
    cpu_regs_out(&r->s, &regs);
    g_assert_cmpuint(regs.fs, ==, 0); /* the host's null selector: every use traps */
    wr32(r, 0x100008, 0xa0000002);
    CODE_AT(r, 0x64, 0xa1, 0x08, 0x00, 0x00, 0x00); /* mov %fs:8, %eax */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gpr[CPU_EAX], ==, 0xa0000002);
    g_assert_cmpuint(r->s.eip, ==, CODE + 6);
    r->s.gpr[CPU_EBX] = 0x77;
    CODE_AT(r, 0x64, 0x89, 0x1d, 0x10, 0x00, 0x00, 0x00); /* mov %ebx, %fs:0x10 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_null(r->s.fatal);
    g_assert_cmpuint(rd32(r, 0x100010), ==, 0x77);
    CODE_AT(r, 0x64, 0xa1, 0xfe, 0xff, 0x00, 0x00); /* mov %fs:0xfffe, %eax: past the limit */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13));
    rig_free(r);
}

static void test_native_selector_resync(void)
{
    Rig *r = rig_new();
    LilyRegs regs;
    cpu_regs_out(&r->s, &regs);
    regs.ds = 0x23; /* the guest loaded its 0x23 natively: the host's code segment */
    regs.eip = CODE;
    cpu_regs_in(&r->s, &regs);
    CODE_AT(r, 0x89, 0x03); /* the write through it faulted: #GP(0) */
    LilyTrap t = { .signo = SIGSEGV, .trapno = 13, .host_ip = CODE };
    g_assert_cmpint(cpu_trap(&r->s, &r->env, &t), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, CODE); /* retried */
    g_assert_cmpuint(r->s.seg[CPU_DS].sel, ==, UDATA);
    cpu_regs_out(&r->s, &regs);
    g_assert_cmpuint(regs.ds, ==, LILY_SEL_DATA);
    rig_free(r);
}

/* A kick between a native selector load and the next trap keeps the load. */
static void test_native_selector_kick(void)
{
    Rig *r = rig_new();
    LilyRegs regs;
    cpu_regs_out(&r->s, &regs);
    regs.ds = 0x23;
    regs.eip = CODE;
    cpu_regs_in(&r->s, &regs);
    LilyTrap t = { .signo = TRANSPORT_KICK_SIGNAL, .trapno = LILY_TRAPNO_NONE, .host_ip = CODE };
    g_assert_cmpint(cpu_trap(&r->s, &r->env, &t), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.seg[CPU_DS].sel, ==, UDATA);
    g_assert_cmpuint(r->s.eip, ==, CODE);
    rig_free(r);
}

static void test_far_transfers(void)
{
    Rig *r = rig_new();
    CODE_AT(r, 0xea, 0x00, 0x20, 0x01, 0x00, KCODE, 0x00); /* ljmp $0x8, $0x12000 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, 0x12000);
    g_assert_cmpuint(r->s.seg[CPU_CS].sel, ==, KCODE);
    uint32_t sp = r->s.gpr[CPU_ESP];
    CODE_AT(r, 0x9a, 0x00, 0x30, 0x01, 0x00, KCODE, 0x00); /* lcall $0x8, $0x13000 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, 0x13000);
    g_assert_cmpuint(r->s.gpr[CPU_ESP], ==, sp - 8);
    g_assert_cmpuint(rd32(r, sp - 8), ==, CODE + 7);
    g_assert_cmpuint(rd32(r, sp - 4), ==, KCODE);
    put_code(r, 0x13000, (const uint8_t[]){ 0xcb }, 1); /* lret */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, CODE + 7);
    g_assert_cmpuint(r->s.gpr[CPU_ESP], ==, sp);
    /* lret to ring 3 (how a kernel may enter user mode). */
    sp = r->s.gpr[CPU_ESP] - 16;
    wr32(r, sp, 0x40000);
    wr32(r, sp + 4, UCODE);
    wr32(r, sp + 8, USTACK);
    wr32(r, sp + 12, UDATA);
    r->s.gpr[CPU_ESP] = sp;
    CODE_AT(r, 0xcb);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.cpl, ==, 3);
    g_assert_cmpuint(r->s.eip, ==, 0x40000);
    g_assert_cmpuint(r->s.gpr[CPU_ESP], ==, USTACK);
    g_assert_cmpuint(r->s.seg[CPU_SS].sel, ==, UDATA);
    rig_free(r);
}

/* --- host LDT mirrors ---------------------------------------------------------- */

#define BCODE 0x90      /* 32-bit code, base 0x20000, limit 0xffff */
#define BSTACK 0x98     /* 32-bit (B = 1) stack, base 0x200000, limit 0xfffff pages */
#define BCODE16 0xa0    /* 16-bit code, base 0x20000 */
#define BSTACK16 0xa8   /* 16-bit stack (B = 0), base 0x200000 */
#define BCODE_BASE 0x20000u
#define BSTACK_BASE 0x200000u

static Rig *rig_ldt(uint8_t host_ldt)
{
    Rig *r = rig_new();
    r->s.host_ldt = host_ldt;
    put_desc(r->fake.ram, BCODE, BCODE_BASE, 0xffff, 0x9a, 0x4);
    put_desc(r->fake.ram, BSTACK, BSTACK_BASE, 0xfffff, 0x92, 0xc);
    put_desc(r->fake.ram, BCODE16, BCODE_BASE, 0xffff, 0x9a, 0x0);
    put_desc(r->fake.ram, BSTACK16, BSTACK_BASE, 0xffff, 0x92, 0x0);
    return r;
}

/* Which host selector stands for a segment, with and without the host LDT. */
static void test_ldt_selector_choice(void)
{
    static const uint8_t modes[] = { CPU_HOST_LDT_ON, CPU_HOST_LDT_ABSENT, CPU_HOST_LDT_OFF };
    for (unsigned i = 0; i < G_N_ELEMENTS(modes); i++) {
        Rig *r = rig_ldt(modes[i]);
        bool on = modes[i] == CPU_HOST_LDT_ON;
        LilyRegs regs;
        r->s.gpr[CPU_EAX] = ODDSEG;
        CODE_AT(r, 0x8e, 0xe0); /* mov %eax, %fs */
        g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
        r->s.gpr[CPU_EAX] = 0;
        CODE_AT(r, 0x8e, 0xe8); /* mov %eax, %gs */
        g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
        cpu_regs_out(&r->s, &regs);
        g_assert_cmphex(regs.fs, ==, on ? LILY_LDT_SEL(CPU_FS) : 0);
        g_assert_cmphex(regs.gs, ==, 0);
        g_assert_cmphex(regs.ds, ==, LILY_SEL_DATA);
        g_assert_cmphex(regs.cs, ==, LILY_SEL_CODE32);
        g_assert_cmphex(regs.ss, ==, LILY_SEL_DATA);
        /* Mirror selectors: LDT (TI = 1), RPL 3, one entry per register. */
        g_assert_cmphex(LILY_LDT_SEL(CPU_FS), ==, ((LILY_LDT_FIRST + CPU_FS) << 3) | 7);
        rig_free(r);
    }
}

/* The LDT write goes with the resume that loads the mirror, once per change. */
static void test_ldt_queued_op(void)
{
    Rig *r = rig_ldt(CPU_HOST_LDT_ON);
    LilyMapOp ops[CPU_LDT_OPS_MAX];
    g_assert_cmpuint(cpu_ldt_ops(&r->s, ops, CPU_LDT_OPS_MAX), ==, 0); /* all flat */
    r->s.gpr[CPU_EAX] = ODDSEG; /* base 0x100000, limit 0xffff, data rw, DPL 0 */
    CODE_AT(r, 0x8e, 0xe0);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(cpu_ldt_ops(&r->s, ops, 0), ==, 0); /* no room: nothing */
    g_assert_cmpuint(cpu_ldt_ops(&r->s, ops, CPU_LDT_OPS_MAX), ==, 1);
    g_assert_cmpuint(ops[0].kind, ==, LILY_MAP_OP_LDT);
    g_assert_cmpuint(ops[0].prot, ==, LILY_LDT_FIRST + CPU_FS);
    g_assert_cmphex(ops[0].guest_addr, ==, 0x100000);
    g_assert_cmphex(ops[0].len, ==, 0xffff);
    /* DPL forced to 3, accessed; D/B kept, byte granular. */
    g_assert_cmphex(ops[0].file_offset, ==, LILY_LDT_OP_FLAGS(0xf3, 0x4));
    g_assert_cmpuint(cpu_ldt_ops(&r->s, ops, CPU_LDT_OPS_MAX), ==, 0); /* already there */
    /* Another segment in the same register: the entry is rewritten. */
    r->s.gpr[CPU_EAX] = EDSEG; /* expand-down, limit 0xfff */
    CODE_AT(r, 0x8e, 0xe0);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(cpu_ldt_ops(&r->s, ops, CPU_LDT_OPS_MAX), ==, 1);
    g_assert_cmphex(ops[0].file_offset, ==, LILY_LDT_OP_FLAGS(0xf7, 0x4));
    g_assert_cmphex(ops[0].len, ==, 0xfff);
    /* A page-granular stack: the raw 20-bit limit, G kept. */
    r->s.gpr[CPU_EAX] = BSTACK;
    CODE_AT(r, 0x8e, 0xd0); /* mov %eax, %ss */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(cpu_ldt_ops(&r->s, ops, CPU_LDT_OPS_MAX), ==, 1);
    g_assert_cmpuint(ops[0].prot, ==, LILY_LDT_FIRST + CPU_SS);
    g_assert_cmphex(ops[0].guest_addr, ==, BSTACK_BASE);
    g_assert_cmphex(ops[0].len, ==, 0xfffff);
    g_assert_cmphex(ops[0].file_offset, ==, LILY_LDT_OP_FLAGS(0xf3, 0xc));
    /* Without the host LDT nothing is ever queued. */
    Rig *off = rig_ldt(CPU_HOST_LDT_ABSENT);
    off->s.gpr[CPU_EAX] = ODDSEG;
    CODE_AT(off, 0x8e, 0xe0);
    g_assert_cmpint(trap_gp(off), ==, CPU_RESUME);
    g_assert_cmpuint(cpu_ldt_ops(&off->s, ops, CPU_LDT_OPS_MAX), ==, 0);
    rig_free(off);
    rig_free(r);
}

/* A code segment with a base: reached by ljmp, emulation fetches at CS.base + EIP,
 * an exception pushes the offset, lret returns through it. */
static void test_ldt_code_base(void)
{
    Rig *r = rig_ldt(CPU_HOST_LDT_ON);
    LilyMapOp ops[CPU_LDT_OPS_MAX];
    LilyRegs regs;
    CODE_AT(r, 0xea, 0x00, 0x01, 0x00, 0x00, BCODE, 0x00); /* ljmp $BCODE, $0x100 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.eip, ==, 0x100);
    g_assert_cmphex(r->s.seg[CPU_CS].base, ==, BCODE_BASE);
    g_assert_cmpuint(cpu_ldt_ops(&r->s, ops, CPU_LDT_OPS_MAX), ==, 1);
    g_assert_cmpuint(ops[0].prot, ==, LILY_LDT_FIRST + CPU_CS);
    g_assert_cmphex(ops[0].file_offset, ==, LILY_LDT_OP_FLAGS(0xfb, 0x4));
    cpu_regs_out(&r->s, &regs);
    g_assert_cmphex(regs.cs, ==, LILY_LDT_SEL(CPU_CS));
    g_assert_cmphex(regs.eip, ==, 0x100);
    /* out %al, $0x80 at linear 0x20100 (offset 0x100); at linear 0x100 lies junk. */
    r->fake.ram[0x100] = 0x0f;
    r->fake.ram[0x101] = 0x0b;
    r->fake.ram[BCODE_BASE + 0x100] = 0xe6;
    r->fake.ram[BCODE_BASE + 0x101] = 0x80;
    r->s.gpr[CPU_EAX] = 0x5a;
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.n_io, ==, 1);
    g_assert_cmphex(r->fake.io[0].value, ==, 0x5a);
    g_assert_cmphex(r->s.eip, ==, 0x102);
    /* #UD there: the frame holds the offset and the selector. */
    uint32_t sp = r->s.gpr[CPU_ESP];
    LilyTrap t = { .signo = SIGILL, .trapno = 6, .host_ip = 0x102 };
    g_assert_cmpint(run_trap(r, &t), ==, CPU_RESUME);
    g_assert_cmphex(r->s.eip, ==, HANDLER(6));
    g_assert_cmphex(r->s.seg[CPU_CS].sel, ==, KCODE);
    g_assert_cmphex(rd32(r, sp - 12), ==, 0x102);
    g_assert_cmphex(rd32(r, sp - 8), ==, BCODE);
    /* iret back into the based segment. */
    CODE_AT(r, 0xcf);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.eip, ==, 0x102);
    g_assert_cmphex(r->s.seg[CPU_CS].sel, ==, BCODE);
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, sp);
    /* A native trap must come from the mirror: the host's 0x23 is an escape. */
    LilyTrap gp = { .signo = SIGSEGV, .si_code = 0x80, .trapno = 13, .host_ip = 0x102 };
    r->fake.ram[BCODE_BASE + 0x102] = 0xfa; /* cli */
    cpu_regs_out(&r->s, &regs);
    regs.cs = LILY_SEL_CODE32;
    cpu_regs_in(&r->s, &regs);
    g_assert_cmpint(cpu_trap(&r->s, &r->env, &gp), ==, CPU_FATAL);
    g_assert_nonnull(strstr(r->s.fatal, "or its code segment"));
    rig_free(r);
}

/* Without the host LDT, a CS that is not flat ends the VM and says why; a
 * 16-bit one always does. */
static void test_ldt_code_refused(void)
{
    static const struct { uint8_t mode; uint8_t sel; const char *why; } cases[] = {
        { CPU_HOST_LDT_OFF, BCODE, "host_ldt option is off" },
        { CPU_HOST_LDT_ABSENT, BCODE, "does not honour the LDT" },
        { CPU_HOST_LDT_ON, BCODE16, "16-bit" },
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        Rig *r = rig_ldt(cases[i].mode);
        const uint8_t code[] = { 0xea, 0x00, 0x01, 0x00, 0x00, cases[i].sel, 0x00 };
        put_code(r, CODE, code, sizeof code);
        g_assert_cmpint(trap_gp(r), ==, CPU_FATAL);
        g_test_message("%s", r->s.fatal);
        g_assert_nonnull(strstr(r->s.fatal, cases[i].why));
        rig_free(r);
    }
}

/* A stack segment with a base: pushes of emulated instructions and of an
 * interrupt land at SS.base + ESP; iret pops from there. */
static void test_ldt_stack_base(void)
{
    Rig *r = rig_ldt(CPU_HOST_LDT_ON);
    LilyRegs regs;
    r->s.gpr[CPU_EAX] = BSTACK;
    CODE_AT(r, 0x8e, 0xd0); /* mov %eax, %ss */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    cpu_regs_out(&r->s, &regs);
    g_assert_cmphex(regs.ss, ==, LILY_LDT_SEL(CPU_SS));
    r->s.gpr[CPU_ESP] = 0x1000;
    /* A rewritten pushf pushes through SS. */
    CODE_AT(r, LILY_REWRITE_TRAP_OPCODE, LILY_REWRITE_VEC_PUSHF, 0x9c);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, 0xffc);
    g_assert_cmphex(rd32(r, BSTACK_BASE + 0xffc), ==, r->s.eflags);
    g_assert_cmphex(rd32(r, 0xffc), ==, 0);
    /* An external interrupt taken there (same level: no stack switch). */
    r->s.eflags |= CPU_FL_IF;
    r->s.intr_line = true;
    r->fake.pending_vector = 0x20;
    uint32_t eip = r->s.eip;
    g_assert_cmpint(cpu_poll_interrupt(&r->s, &r->env), ==, CPU_RESUME);
    g_assert_cmphex(r->s.eip, ==, HANDLER(0x20));
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, 0xff0);
    g_assert_cmphex(rd32(r, BSTACK_BASE + 0xff0), ==, eip);
    g_assert_cmphex(rd32(r, BSTACK_BASE + 0xff4), ==, KCODE);
    /* iret pops from SS.base + ESP. */
    CODE_AT(r, 0xcf);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.eip, ==, eip);
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, 0xffc);
    /* popf site pops it back. */
    CODE_AT(r, LILY_REWRITE_TRAP_OPCODE, LILY_REWRITE_VEC_POPF, 0x9d);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, 0x1000);
    rig_free(r);

    /* A 16-bit stack (B = 0) is refused, host LDT or not; so is any based
     * stack without the host LDT. */
    Rig *b = rig_ldt(CPU_HOST_LDT_ON);
    b->s.gpr[CPU_EAX] = BSTACK16;
    CODE_AT(b, 0x8e, 0xd0);
    g_assert_cmpint(trap_gp(b), ==, CPU_FATAL);
    g_assert_nonnull(strstr(b->s.fatal, "16-bit stack"));
    rig_free(b);
    Rig *o = rig_ldt(CPU_HOST_LDT_OFF);
    o->s.gpr[CPU_EAX] = BSTACK;
    CODE_AT(o, 0x8e, 0xd0);
    g_assert_cmpint(trap_gp(o), ==, CPU_FATAL);
    g_assert_nonnull(strstr(o->s.fatal, "host_ldt option is off"));
    rig_free(o);
}

/* A program that copied one mirror selector into another register (it read
 * the host's selector) got that mirror's segment: the VM takes it so. */
static void test_ldt_native_mirror_load(void)
{
    Rig *r = rig_ldt(CPU_HOST_LDT_ON);
    LilyMapOp ops[CPU_LDT_OPS_MAX];
    LilyRegs regs;
    r->s.gpr[CPU_EAX] = ODDSEG;
    CODE_AT(r, 0x8e, 0xe0); /* mov %eax, %fs */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(cpu_ldt_ops(&r->s, ops, CPU_LDT_OPS_MAX), ==, 1);
    cpu_regs_out(&r->s, &regs);
    regs.gs = LILY_LDT_SEL(CPU_FS);
    cpu_regs_in(&r->s, &regs);
    LilyTrap t = { .signo = TRANSPORT_KICK_SIGNAL, .trapno = LILY_TRAPNO_NONE, .host_ip = CODE };
    g_assert_cmpint(cpu_trap(&r->s, &r->env, &t), ==, CPU_RESUME);
    g_assert_cmphex(r->s.seg[CPU_GS].sel, ==, ODDSEG);
    g_assert_cmphex(r->s.seg[CPU_GS].base, ==, 0x100000);
    /* GS now runs on its own mirror, written with the next resume. */
    g_assert_cmpuint(cpu_ldt_ops(&r->s, ops, CPU_LDT_OPS_MAX), ==, 1);
    g_assert_cmpuint(ops[0].prot, ==, LILY_LDT_FIRST + CPU_GS);
    cpu_regs_out(&r->s, &regs);
    g_assert_cmphex(regs.gs, ==, LILY_LDT_SEL(CPU_GS));
    rig_free(r);
}

/* --- call gates ---------------------------------------------------------------- */

#define GATE3 0x48      /* 32-bit call gate, DPL 3 -> KCODE:GATE_TARGET, 2 dword parameters */
#define GATE0 0x50      /* 32-bit call gate, DPL 0 */
#define GATE_NP 0x58    /* 32-bit call gate, DPL 3, not present */
#define GATE16 0x70     /* 16-bit call gate, DPL 3 -> KCODE:GATE_TARGET16, 1 word parameter */
#define GATE_DATA 0x80  /* 32-bit call gate, DPL 3 -> a data segment */
#define GATE_TARGET 0x60000u
#define GATE_TARGET16 0x6100u

/* A gate descriptor in the GDT (call gate or task gate). */
static void put_sys_gate(uint8_t *ram, unsigned sel, uint16_t target, uint32_t off, uint8_t type,
                         unsigned dpl, unsigned params, bool present)
{
    uint8_t *g = ram + GDT + (sel & ~7u);
    g[0] = off & 0xff;
    g[1] = (off >> 8) & 0xff;
    g[2] = target & 0xff;
    g[3] = target >> 8;
    g[4] = (uint8_t)params;
    g[5] = (uint8_t)((present ? 0x80 : 0) | dpl << 5 | type);
    g[6] = (off >> 16) & 0xff;
    g[7] = off >> 24;
}

static Rig *gate_rig(void)
{
    Rig *r = rig_new();
    uint8_t *ram = r->fake.ram;
    put_sys_gate(ram, GATE3, KCODE, GATE_TARGET, 0xc, 3, 2, true);
    put_sys_gate(ram, GATE0, KCODE, GATE_TARGET, 0xc, 0, 0, true);
    put_sys_gate(ram, GATE_NP, KCODE, GATE_TARGET, 0xc, 3, 0, false);
    put_sys_gate(ram, GATE16, KCODE, GATE_TARGET16, 0x4, 3, 1, true);
    put_sys_gate(ram, GATE_DATA, KDATA, 0, 0xc, 3, 0, true);
    return r;
}

/* Ring 3 calls a ring 0 routine through a gate: TSS stack, parameters copied. */
static void test_callgate_inner_call(void)
{
    Rig *r = gate_rig();
    rig_user(r);
    r->s.gpr[CPU_ESP] = USTACK - 8;
    wr32(r, USTACK - 8, 0xaaaa0001); /* parameter 0 (pushed last) */
    wr32(r, USTACK - 4, 0xaaaa0002); /* parameter 1 */
    CODE_AT(r, 0x9a, 0x00, 0x00, 0x00, 0x00, GATE3 | 3, 0x00); /* lcall $0x4b, $0 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.cpl, ==, 0);
    g_assert_cmphex(r->s.eip, ==, GATE_TARGET); /* the gate's offset, not the instruction's */
    g_assert_cmphex(r->s.seg[CPU_CS].sel, ==, KCODE);
    g_assert_cmphex(r->s.seg[CPU_SS].sel, ==, KDATA);
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, KSTACK - 24);
    g_assert_cmphex(rd32(r, KSTACK - 24), ==, CODE + 7);
    g_assert_cmphex(rd32(r, KSTACK - 20), ==, UCODE);
    g_assert_cmphex(rd32(r, KSTACK - 16), ==, 0xaaaa0001);
    g_assert_cmphex(rd32(r, KSTACK - 12), ==, 0xaaaa0002);
    g_assert_cmphex(rd32(r, KSTACK - 8), ==, USTACK - 8);
    g_assert_cmphex(rd32(r, KSTACK - 4), ==, UDATA);
    rig_free(r);
}

/* lret $8 from there: back to ring 3, both stacks popped past the parameters. */
static void test_callgate_lret_outer(void)
{
    Rig *r = gate_rig();
    rig_user(r);
    r->s.gpr[CPU_ESP] = USTACK - 8;
    CODE_AT(r, 0x9a, 0x00, 0x00, 0x00, 0x00, GATE3 | 3, 0x00);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    r->s.gpr[CPU_EAX] = KDATA;
    put_code(r, GATE_TARGET, (const uint8_t[]){ 0x8e, 0xe0 }, 2); /* mov %eax, %fs */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    put_code(r, GATE_TARGET + 2, (const uint8_t[]){ 0xca, 0x08, 0x00 }, 3); /* lret $8 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.cpl, ==, 3);
    g_assert_cmphex(r->s.eip, ==, CODE + 7);
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, USTACK);
    g_assert_cmphex(r->s.seg[CPU_SS].sel, ==, UDATA);
    g_assert_cmphex(r->s.seg[CPU_FS].sel, ==, 0); /* DPL 0 data: nulled for ring 3 */
    g_assert_cmphex(r->s.seg[CPU_DS].sel, ==, UDATA);
    rig_free(r);
}

static void test_callgate_dpl(void)
{
    Rig *r = gate_rig();
    rig_user(r);
    CODE_AT(r, 0x9a, 0x00, 0x00, 0x00, 0x00, GATE0 | 3, 0x00);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.eip, ==, HANDLER(13));
    g_assert_cmphex(rd32(r, KSTACK - 24), ==, GATE0);
    rig_free(r);
}

static void test_callgate_not_present(void)
{
    Rig *r = gate_rig();
    rig_user(r);
    CODE_AT(r, 0x9a, 0x00, 0x00, 0x00, 0x00, GATE_NP | 3, 0x00);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.eip, ==, HANDLER(11));
    g_assert_cmphex(rd32(r, KSTACK - 24), ==, GATE_NP);
    rig_free(r);
}

static void test_callgate_to_data_segment(void)
{
    Rig *r = gate_rig();
    rig_user(r);
    CODE_AT(r, 0x9a, 0x00, 0x00, 0x00, 0x00, GATE_DATA | 3, 0x00);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.eip, ==, HANDLER(13));
    g_assert_cmphex(rd32(r, KSTACK - 24), ==, KDATA); /* #GP(the gate's segment) */
    rig_free(r);
}

/* The TSS's ring 0 stack is unusable: #TS(its selector), and nothing changed. */
static void test_callgate_bad_tss_stack(void)
{
    Rig *r = gate_rig();
    r->fake.ram[TSS + 8] = UDATA; /* ss0 with RPL 3 and DPL 3 */
    rig_user(r);
    CODE_AT(r, 0x9a, 0x00, 0x00, 0x00, 0x00, GATE3 | 3, 0x00);
    CpuState before = r->s;
    /* The far call itself, to see the exception it raises. */
    g_assert_cmpint(cpu_far_jump(&r->s, &r->env, GATE3 | 3, 0, true, 4, CODE + 7), ==,
                    CPU_R_EXC);
    g_assert_cmpuint(r->s.exc_vector, ==, CPU_EXC_TS);
    g_assert_cmphex(r->s.exc_error, ==, UDATA & ~3u);
    g_assert_cmpuint(r->s.cpl, ==, 3);
    g_assert_cmphex(r->s.seg[CPU_SS].sel, ==, before.seg[CPU_SS].sel);
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, before.gpr[CPU_ESP]);
    r->fake.ram[TSS + 8] = 0; /* a null ss0: #TS(0) */
    g_assert_cmpint(cpu_far_jump(&r->s, &r->env, GATE3 | 3, 0, true, 4, CODE + 7), ==,
                    CPU_R_EXC);
    g_assert_cmpuint(r->s.exc_vector, ==, CPU_EXC_TS);
    g_assert_cmphex(r->s.exc_error, ==, 0);
    rig_free(r);
}

/* A jmp through a gate never changes privilege. */
static void test_callgate_jmp(void)
{
    Rig *r = gate_rig();
    uint32_t sp = r->s.gpr[CPU_ESP];
    CODE_AT(r, 0xea, 0x00, 0x00, 0x00, 0x00, GATE3, 0x00); /* ljmp at ring 0 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.eip, ==, GATE_TARGET);
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, sp);
    Rig *u = gate_rig();
    rig_user(u);
    CODE_AT(u, 0xea, 0x00, 0x00, 0x00, 0x00, GATE3 | 3, 0x00); /* ljmp at ring 3 to ring 0 */
    g_assert_cmpint(trap_gp(u), ==, CPU_RESUME);
    g_assert_cmphex(u->s.eip, ==, HANDLER(13));
    g_assert_cmphex(rd32(u, KSTACK - 24), ==, KCODE);
    rig_free(u);
    rig_free(r);
}

/* A 16-bit gate pushes words and copies word parameters. */
static void test_callgate_16bit(void)
{
    Rig *r = gate_rig();
    rig_user(r);
    r->s.gpr[CPU_ESP] = USTACK - 2;
    r->fake.ram[USTACK - 2] = 0x34;
    r->fake.ram[USTACK - 1] = 0x12;
    CODE_AT(r, 0x9a, 0x00, 0x00, 0x00, 0x00, GATE16 | 3, 0x00);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.eip, ==, GATE_TARGET16);
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, KSTACK - 10);
    uint16_t w[5];
    memcpy(w, r->fake.ram + KSTACK - 10, sizeof w);
    g_assert_cmphex(w[0], ==, (CODE + 7) & 0xffff);
    g_assert_cmphex(w[1], ==, UCODE);
    g_assert_cmphex(w[2], ==, 0x1234);
    g_assert_cmphex(w[3], ==, (USTACK - 2) & 0xffff);
    g_assert_cmphex(w[4], ==, UDATA);
    rig_free(r);
}

/* --- task switches -------------------------------------------------------------- */

#define TSS2 0x4000u
#define TSS2SEL 0x60
#define TASKGATE 0x68   /* task gate, DPL 0 -> TSS2SEL */
#define TSS3 0x4100u
#define TSS3SEL 0x78
#define TSS_SHORT 0x88  /* a TSS descriptor whose limit is too small */
#define TASK_EIP 0x70000u
#define TASK_STACK 0x88000u

/* A 32-bit TSS image: ring 0 flat code and data, EAX marks the task. */
static void put_task(Rig *r, uint32_t tss, uint32_t eip, uint32_t esp, uint32_t eax)
{
    memset(r->fake.ram + tss, 0, 0x68);
    wr32(r, tss + 0x1c, 0x5000);
    wr32(r, tss + 0x20, eip);
    wr32(r, tss + 0x24, CPU_FL_FIXED);
    wr32(r, tss + 0x28, eax);
    wr32(r, tss + 0x38, esp);
    wr32(r, tss + 0x48, KDATA);
    wr32(r, tss + 0x4c, KCODE);
    wr32(r, tss + 0x50, KDATA);
    wr32(r, tss + 0x54, KDATA);
    wr32(r, tss + 0x58, 0);
    wr32(r, tss + 0x5c, 0);
}

static Rig *task_rig(void)
{
    Rig *r = rig_new();
    put_desc(r->fake.ram, TSS2SEL, TSS2, 0x67, 0x89, 0);
    put_desc(r->fake.ram, TSS3SEL, TSS3, 0x67, 0x89, 0);
    put_desc(r->fake.ram, TSS_SHORT, TSS3, 0x40, 0x89, 0);
    put_sys_gate(r->fake.ram, TASKGATE, TSS2SEL, 0, 0x5, 0, 0, true);
    put_task(r, TSS2, TASK_EIP, TASK_STACK, 0x22222222);
    put_task(r, TSS3, TASK_EIP + 0x100, TASK_STACK - 0x1000, 0x33333333);
    return r;
}

static uint8_t desc_type(Rig *r, unsigned sel)
{
    return r->fake.ram[GDT + (sel & ~7u) + 5] & 0x1f;
}

static void test_task_jmp(void)
{
    Rig *r = task_rig();
    r->s.gpr[CPU_EAX] = 0x11111111;
    r->s.gpr[CPU_EBP] = 0xbbbb;
    CODE_AT(r, 0xea, 0x00, 0x00, 0x00, 0x00, TSS2SEL, 0x00); /* ljmp $0x60, $0 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    /* The new task runs. */
    g_assert_cmphex(r->s.tr.sel, ==, TSS2SEL);
    g_assert_cmphex(r->s.eip, ==, TASK_EIP);
    g_assert_cmphex(r->s.gpr[CPU_EAX], ==, 0x22222222);
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, TASK_STACK);
    g_assert_cmphex(r->s.gpr[CPU_EBP], ==, 0);
    g_assert_cmphex(r->s.seg[CPU_FS].sel, ==, 0);
    g_assert_cmpuint(r->s.cr0 & CPU_CR0_TS, ==, CPU_CR0_TS);
    g_assert_cmpuint(r->s.eflags & CPU_FL_NT, ==, 0); /* a jmp does not nest */
    /* The old one was saved, and is no longer busy; the new one is. */
    g_assert_cmphex(rd32(r, TSS + 0x20), ==, CODE + 7);
    g_assert_cmphex(rd32(r, TSS + 0x28), ==, 0x11111111);
    g_assert_cmphex(rd32(r, TSS + 0x3c), ==, 0xbbbb);
    g_assert_cmphex(rd32(r, TSS + 0x4c), ==, KCODE);
    g_assert_cmphex(desc_type(r, TSSSEL), ==, 0x09);
    g_assert_cmphex(desc_type(r, TSS2SEL), ==, 0x0b);
    g_assert_cmphex(rd32(r, TSS2), ==, 0); /* no back link */
    rig_free(r);
}

/* A call nests (NT, back link, both busy); iret returns and unbusies the callee. */
static void test_task_call_iret(void)
{
    Rig *r = task_rig();
    r->s.gpr[CPU_EAX] = 0x11111111;
    CODE_AT(r, 0x9a, 0x00, 0x00, 0x00, 0x00, TSS2SEL, 0x00); /* lcall $0x60, $0 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.tr.sel, ==, TSS2SEL);
    g_assert_cmpuint(r->s.eflags & CPU_FL_NT, ==, CPU_FL_NT);
    g_assert_cmphex(rd32(r, TSS2) & 0xffff, ==, TSSSEL);
    g_assert_cmphex(desc_type(r, TSSSEL), ==, 0x0b);
    g_assert_cmphex(desc_type(r, TSS2SEL), ==, 0x0b);
    r->s.gpr[CPU_EAX] = 0x2222aaaa;
    put_code(r, TASK_EIP, (const uint8_t[]){ 0xcf }, 1); /* iret */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.tr.sel, ==, TSSSEL);
    g_assert_cmphex(r->s.eip, ==, CODE + 7);
    g_assert_cmphex(r->s.gpr[CPU_EAX], ==, 0x11111111);
    g_assert_cmpuint(r->s.eflags & CPU_FL_NT, ==, 0);
    g_assert_cmphex(desc_type(r, TSS2SEL), ==, 0x09);
    g_assert_cmphex(desc_type(r, TSSSEL), ==, 0x0b);
    /* The callee's state resumes after its iret next time. */
    g_assert_cmphex(rd32(r, TSS2 + 0x20), ==, TASK_EIP + 1);
    g_assert_cmphex(rd32(r, TSS2 + 0x28), ==, 0x2222aaaa);
    g_assert_cmpuint(rd32(r, TSS2 + 0x24) & CPU_FL_NT, ==, 0);
    rig_free(r);
}

static void test_task_gate_jmp(void)
{
    Rig *r = task_rig();
    CODE_AT(r, 0xea, 0x00, 0x00, 0x00, 0x00, TASKGATE, 0x00);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.tr.sel, ==, TSS2SEL);
    g_assert_cmphex(r->s.eip, ==, TASK_EIP);
    /* Ring 3 may not use a DPL 0 task gate. */
    Rig *u = task_rig();
    rig_user(u);
    CODE_AT(u, 0xea, 0x00, 0x00, 0x00, 0x00, TASKGATE | 3, 0x00);
    g_assert_cmpint(trap_gp(u), ==, CPU_RESUME);
    g_assert_cmphex(u->s.eip, ==, HANDLER(13));
    g_assert_cmphex(rd32(u, KSTACK - 24), ==, TASKGATE);
    g_assert_cmphex(u->s.tr.sel, ==, TSSSEL);
    rig_free(u);
    rig_free(r);
}

static void test_task_busy_gp(void)
{
    Rig *r = task_rig();
    CODE_AT(r, 0xea, 0x00, 0x00, 0x00, 0x00, TSSSEL, 0x00); /* jmp to the running task */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.eip, ==, HANDLER(13));
    g_assert_cmphex(rd32(r, r->s.gpr[CPU_ESP]), ==, TSSSEL);
    g_assert_cmphex(r->s.tr.sel, ==, TSSSEL);
    rig_free(r);
}

static void test_task_short_tss(void)
{
    Rig *r = task_rig();
    CODE_AT(r, 0xea, 0x00, 0x00, 0x00, 0x00, TSS_SHORT, 0x00);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.eip, ==, HANDLER(10));
    g_assert_cmphex(rd32(r, r->s.gpr[CPU_ESP]), ==, TSS_SHORT);
    g_assert_cmphex(r->s.tr.sel, ==, TSSSEL);
    rig_free(r);
}

/* A bad SS in the new TSS is a #TS raised in the new task. */
static void test_task_bad_ss(void)
{
    Rig *r = task_rig();
    wr32(r, TSS2 + 0x50, UDATA); /* RPL 3 stack for a ring 0 task */
    CODE_AT(r, 0xea, 0x00, 0x00, 0x00, 0x00, TSS2SEL, 0x00);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.tr.sel, ==, TSS2SEL);
    g_assert_cmphex(r->s.eip, ==, HANDLER(10));
    uint32_t sp = r->s.gpr[CPU_ESP];
    g_assert_cmphex(rd32(r, sp), ==, UDATA & ~3u);
    g_assert_cmphex(rd32(r, sp + 4), ==, TASK_EIP); /* the new task's EIP */
    rig_free(r);
}

/* #DF through a task gate: a fresh task with its own stack gets error code 0. */
static void test_task_double_fault_gate(void)
{
    Rig *r = task_rig();
    uint8_t *g = r->fake.ram + IDT + 8 * 8;
    memset(g, 0, 8);
    g[2] = TSS3SEL;
    g[5] = 0x85; /* present task gate */
    r->fake.ram[IDT + 13 * 8 + 5] &= 0x7f; /* #GP's gate missing: #NP, then #DF */
    r->s.gpr[CPU_EAX] = 0x11111111;
    r->s.eip = CODE;
    cpu_raise(&r->s, CPU_EXC_GP, true, 0);
    g_assert_cmpint(cpu_deliver_pending(&r->s, &r->env), ==, CPU_RESUME);
    g_assert_cmphex(r->s.tr.sel, ==, TSS3SEL);
    g_assert_cmphex(r->s.eip, ==, TASK_EIP + 0x100);
    g_assert_cmphex(r->s.gpr[CPU_EAX], ==, 0x33333333);
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, TASK_STACK - 0x1000 - 4);
    g_assert_cmphex(rd32(r, TASK_STACK - 0x1000 - 4), ==, 0); /* #DF's error code */
    g_assert_cmpuint(r->s.eflags & CPU_FL_NT, ==, CPU_FL_NT);
    g_assert_cmphex(rd32(r, TSS3) & 0xffff, ==, TSSSEL);
    g_assert_cmphex(rd32(r, TSS + 0x20), ==, CODE); /* the faulting instruction */
    g_assert_cmphex(rd32(r, TSS + 0x28), ==, 0x11111111);
    rig_free(r);
}

/* int n from ring 3 through a DPL 3 task gate: no frame, the task's own state. */
static void test_task_int_gate_from_user(void)
{
    Rig *r = task_rig();
    uint8_t *g = r->fake.ram + IDT + 0x40 * 8;
    memset(g, 0, 8);
    g[2] = TSS2SEL;
    g[5] = 0xe5; /* present, DPL 3, task gate */
    rig_user(r);
    CODE_AT(r, 0xcd, 0x40);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.cpl, ==, 0);
    g_assert_cmphex(r->s.tr.sel, ==, TSS2SEL);
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, TASK_STACK);
    g_assert_cmphex(rd32(r, TSS + 0x20), ==, CODE + 2);
    g_assert_cmphex(rd32(r, TSS + 0x4c), ==, UCODE);
    rig_free(r);
}

/* A fake MMU: identity translation, remembers the last CR3 it was told. */
typedef struct FakeMmu {
    uint32_t cr0, cr3;
    unsigned set_control_calls;
} FakeMmu;

static void fm_reset(void *m, LilyMmuBatch *b) { (void)m; (void)b; }
static void fm_set_control(void *m, uint32_t cr0, uint32_t cr3, uint32_t cr4, LilyMmuBatch *b)
{
    FakeMmu *f = m;
    (void)cr4; (void)b;
    f->cr0 = cr0;
    f->cr3 = cr3;
    f->set_control_calls++;
}
static void fm_invlpg(void *m, uint32_t va, LilyMmuBatch *b) { (void)m; (void)va; (void)b; }
static void fm_set_cpl(void *m, unsigned cpl, LilyMmuBatch *b) { (void)m; (void)cpl; (void)b; }
static LilyMmuResult fm_fault(void *m, uint32_t va, uint32_t acc, LilyMmuBatch *b,
                              uint32_t *pf, uint64_t *gpa)
{
    (void)m; (void)acc; (void)b; (void)pf;
    *gpa = va;
    return LILY_MMU_OK;
}
static LilyMmuResult fm_translate(void *m, uint32_t va, uint32_t acc, uint64_t *gpa, uint32_t *pf)
{
    (void)m; (void)acc; (void)pf;
    *gpa = va;
    return va < RAM_SIZE ? LILY_MMU_OK : LILY_MMU_MMIO;
}
static const LilyMmuOps fake_mmu_ops = {
    .size = sizeof(LilyMmuOps), .reset = fm_reset, .set_control = fm_set_control,
    .invlpg = fm_invlpg, .set_cpl = fm_set_cpl, .fault = fm_fault, .translate = fm_translate,
};

/* With paging on, the new task's CR3 reaches the MMU. */
static void test_task_loads_cr3(void)
{
    Rig *r = task_rig();
    FakeMmu mmu = { 0 };
    r->env.mmu = &fake_mmu_ops;
    r->env.mmu_state = &mmu;
    r->s.cr0 |= CPU_CR0_PG;
    r->s.cr3 = 0x1000;
    CODE_AT(r, 0xea, 0x00, 0x00, 0x00, 0x00, TSS2SEL, 0x00);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.cr3, ==, 0x5000);
    g_assert_cmphex(mmu.cr3, ==, 0x5000);
    g_assert_cmpuint(mmu.set_control_calls, ==, 1);
    rig_free(r);
}

/*
 * The MMU never sees CR0's FPU bits: clts changes them without telling it, and
 * a later CR3 write of the same value must still look like a reload.
 */
static void test_mmu_cr0_without_fpu_bits(void)
{
    Rig *r = rig_new();
    FakeMmu mmu = { 0 };
    r->env.mmu = &fake_mmu_ops;
    r->env.mmu_state = &mmu;
    r->s.gpr[CPU_EAX] = CPU_CR0_PE | CPU_CR0_PG | CPU_CR0_TS | CPU_CR0_MP;
    CODE_AT(r, 0x0f, 0x22, 0xc0); /* mov %eax, %cr0 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.cr0 & CPU_CR0_TS, ==, CPU_CR0_TS);
    g_assert_cmphex(mmu.cr0, ==, CPU_CR0_PE | CPU_CR0_PG | CPU_CR0_ET);
    CODE_AT(r, 0x0f, 0x06); /* clts */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    r->s.gpr[CPU_EAX] = r->s.cr3;
    CODE_AT(r, 0x0f, 0x22, 0xd8); /* mov %eax, %cr3: the same value */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(mmu.set_control_calls, ==, 2);
    g_assert_cmphex(mmu.cr0, ==, CPU_CR0_PE | CPU_CR0_PG | CPU_CR0_ET);
    rig_free(r);
}

/* --- 16-bit interrupt gates ------------------------------------------------------ */

static void test_deliver_16bit_gate(void)
{
    Rig *r = rig_new();
    put_gate(r->fake.ram, 0x41, 0x5678, 0x86, 0); /* 16-bit interrupt gate */
    r->s.eflags |= CPU_FL_IF;
    uint32_t sp = r->s.gpr[CPU_ESP];
    CODE_AT(r, 0xcd, 0x41);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.eip, ==, 0x5678);
    g_assert_cmphex(r->s.gpr[CPU_ESP], ==, sp - 6);
    uint16_t w[3];
    memcpy(w, r->fake.ram + sp - 6, sizeof w);
    g_assert_cmphex(w[0], ==, (CODE + 2) & 0xffff);
    g_assert_cmphex(w[1], ==, KCODE);
    g_assert_cmpuint(w[2] & CPU_FL_IF, ==, CPU_FL_IF);
    g_assert_cmpuint(r->s.eflags & CPU_FL_IF, ==, 0);
    rig_free(r);
}

/* --- rewrite sites -------------------------------------------------------------- */

static void test_rewrite_pushf(void)
{
    Rig *r = rig_new();
    r->s.eflags = CPU_FL_FIXED | CPU_FL_IF | CPU_FL_ZF | 0x1000;
    uint32_t sp = r->s.gpr[CPU_ESP];
    CODE_AT(r, 0xcd, 0xe0, 0x9c); /* pushfl */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, CODE + 3);
    g_assert_cmpuint(r->s.gpr[CPU_ESP], ==, sp - 4);
    g_assert_cmpuint(rd32(r, sp - 4), ==, CPU_FL_FIXED | CPU_FL_IF | CPU_FL_ZF | 0x1000);
    CODE_AT(r, 0xcd, 0xe0, 0x66, 0x9c); /* pushfw */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gpr[CPU_ESP], ==, sp - 6);
    g_assert_cmpuint(r->s.eip, ==, CODE + 4);
    g_assert_cmpuint(r->s.stats[CPU_STAT_PUSHF_POPF], ==, 2);
    rig_free(r);
}

static void test_rewrite_sregs(void)
{
    Rig *r = rig_new();
    r->s.seg[CPU_DS].sel = UDATA;
    r->s.gpr[CPU_EAX] = 0xffffffff;
    CODE_AT(r, 0xcd, 0xe2, 0x8c, 0xd8); /* mov %ds, %eax */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gpr[CPU_EAX], ==, UDATA);
    g_assert_cmpuint(r->s.eip, ==, CODE + 4);
    uint32_t sp = r->s.gpr[CPU_ESP];
    CODE_AT(r, 0xcd, 0xe3, 0x0e); /* push %cs */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(rd32(r, sp - 4), ==, KCODE);
    g_assert_cmpuint(r->s.eip, ==, CODE + 3);
    CODE_AT(r, 0xcd, 0xe2, 0x8c, 0x15, 0x00, 0x60, 0x00, 0x00); /* mov %ss, 0x6000 */
    wr32(r, 0x6000, 0xaaaaaaaa);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(rd32(r, 0x6000), ==, 0xaaaa0000u | KDATA);
    rig_free(r);
}

static void test_rewrite_tables(void)
{
    Rig *r = rig_new();
    CODE_AT(r, 0xcd, 0xe4, 0x0f, 0x01, 0x05, 0x00, 0x60, 0x00, 0x00); /* sgdt 0x6000 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.ram[0x6000], ==, GDT_ENTRIES * 8 - 1);
    g_assert_cmpuint(rd32(r, 0x6002), ==, GDT);
    g_assert_cmpuint(r->s.eip, ==, CODE + 9);
    CODE_AT(r, 0xcd, 0xe5, 0x0f, 0x01, 0x0d, 0x10, 0x60, 0x00, 0x00); /* sidt 0x6010 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(rd32(r, 0x6012), ==, IDT);
    g_assert_cmpuint(r->fake.ram[0x6010] | r->fake.ram[0x6011] << 8, ==, 2047);
    CODE_AT(r, 0xcd, 0xe7, 0x0f, 0x00, 0xc8); /* str %eax */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gpr[CPU_EAX], ==, TSSSEL);
    r->s.gpr[CPU_EAX] = 0x1234;
    CODE_AT(r, 0xcd, 0xe6, 0x0f, 0x00, 0xc0); /* sldt %eax */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gpr[CPU_EAX], ==, 0);
    CODE_AT(r, 0xcd, 0xe8, 0x0f, 0x01, 0xe0); /* smsw %eax */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gpr[CPU_EAX], ==, CPU_CR0_PE | CPU_CR0_ET);
    rig_free(r);
}

static void test_rewrite_lar_lsl_verr_verw(void)
{
    Rig *r = rig_new();
    r->s.gpr[CPU_ECX] = UCODE;
    CODE_AT(r, 0xcd, 0xe9, 0x0f, 0x02, 0xc1); /* lar %ecx, %eax */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eflags & CPU_FL_ZF, ==, CPU_FL_ZF);
    g_assert_cmpuint(r->s.gpr[CPU_EAX], ==, 0x00cffa00u);
    g_assert_cmpuint(r->s.eip, ==, CODE + 5);
    CODE_AT(r, 0xcd, 0xea, 0x0f, 0x03, 0xc1); /* lsl %ecx, %eax */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gpr[CPU_EAX], ==, 0xffffffffu);
    CODE_AT(r, 0xcd, 0xeb, 0x0f, 0x00, 0xe1); /* verr %cx: code readable */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eflags & CPU_FL_ZF, ==, CPU_FL_ZF);
    CODE_AT(r, 0xcd, 0xec, 0x0f, 0x00, 0xe9); /* verw %cx: code is not writable */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eflags & CPU_FL_ZF, ==, 0);
    /* At CPL 3 a DPL 0 segment is invisible: ZF=0, destination untouched. */
    r->s.cpl = 3;
    r->s.gpr[CPU_ECX] = KDATA;
    r->s.gpr[CPU_EAX] = 0x5555;
    r->s.cpl = 0;
    r->s.gpr[CPU_ECX] = BEYOND_GDT; /* beyond the GDT */
    CODE_AT(r, 0xcd, 0xe9, 0x0f, 0x02, 0xc1);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eflags & CPU_FL_ZF, ==, 0);
    g_assert_cmpuint(r->s.gpr[CPU_EAX], ==, 0x5555);
    rig_free(r);
}

static void test_rewrite_int_escape(void)
{
    Rig *r = rig_new();
    CODE_AT(r, 0xcd, 0xed, 0xcd, 0xe5); /* the kernel's own int $0xe5 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(0xe5));
    g_assert_cmpuint(rd32(r, r->s.gpr[CPU_ESP]), ==, CODE + 4);
    rig_free(r);
}

static void test_rewrite_corrupt_and_user(void)
{
    Rig *r = rig_new();
    CODE_AT(r, 0xcd, 0xe0, 0x90); /* pushf site followed by a nop */
    g_assert_cmpint(trap_gp(r), ==, CPU_FATAL);
    g_assert_nonnull(strstr(r->s.fatal, "corrupt rewrite site"));
    /* At CPL 3 CD E0 is the program's own int $0xe0 (gate DPL 0: #GP). */
    Rig *u = rig_new();
    rig_user(u);
    CODE_AT(u, 0xcd, 0xe0, 0x9c);
    g_assert_cmpint(trap_gp(u), ==, CPU_RESUME);
    g_assert_cmpuint(u->s.eip, ==, HANDLER(13));
    g_assert_cmpuint(rd32(u, KSTACK - 24), ==, 0xe0 * 8 + 2);
    rig_free(u);
    rig_free(r);
}

/* --- MMIO and escapes --------------------------------------------------------- */

static void test_mmio(void)
{
    Rig *r = rig_new();
    r->s.gpr[CPU_EBX] = 0xfec00010;
    r->s.gpr[CPU_EAX] = 0x77;
    CODE_AT(r, 0x89, 0x03); /* mov %eax, (%ebx) */
    LilyTrap t = { .signo = SIGSEGV, .trapno = 14, .error_code = 6,
                   .fault_addr = 0xfec00010, .host_ip = CODE };
    g_assert_cmpint(run_trap(r, &t), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_writes, ==, 1);
    g_assert_cmpuint(r->fake.mmio_gpa, ==, 0xfec00010);
    g_assert_cmpuint(r->fake.mmio_value, ==, 0x77);
    g_assert_cmpuint(r->s.eip, ==, CODE + 2);
    CODE_AT(r, 0x0f, 0xb7, 0x0b); /* movzwl (%ebx), %ecx */
    t.error_code = 4;
    g_assert_cmpint(run_trap(r, &t), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gpr[CPU_ECX], ==, (0xcafe0002u & 0xffff));
    g_assert_cmpuint(r->s.eip, ==, CODE + 3);
    CODE_AT(r, 0xd9, 0x03); /* flds (%ebx): x87 is not emulated on MMIO */
    g_assert_cmpint(run_trap(r, &t), ==, CPU_FATAL);
    g_assert_nonnull(strstr(r->s.fatal, "MMIO"));
    rig_free(r);
}

/* --- data instructions on MMIO and through non-flat segments ---------------- */

#define MMIO_VA 0xfec00010u
#define ARITH (CPU_FL_CF | CPU_FL_PF | CPU_FL_AF | CPU_FL_ZF | CPU_FL_SF | CPU_FL_OF)

/* A #PF on MMIO_VA (no MMU: beyond RAM is a device) by the instruction at EIP. */
static CpuAction trap_mmio(Rig *r)
{
    LilyTrap t = { .signo = SIGSEGV, .trapno = 14, .error_code = 6, .fault_addr = MMIO_VA,
                   .host_ip = r->s.eip };
    return run_trap(r, &t);
}

/* A rig whose %ebx points at a device register reading value. */
static Rig *mmio_rig(uint32_t value)
{
    Rig *r = rig_new();
    r->s.gpr[CPU_EBX] = MMIO_VA;
    r->fake.mmio_reg_set = true;
    r->fake.mmio_reg = value;
    return r;
}

static void test_mmio_add_flags(void)
{
    Rig *r = mmio_rig(0x7fffffff);
    r->s.gpr[CPU_EAX] = 1;
    r->s.eflags |= CPU_FL_CF;
    CODE_AT(r, 0x01, 0x03); /* add %eax, (%ebx) */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_reads, ==, 1);
    g_assert_cmpuint(r->fake.mmio_writes, ==, 1);
    g_assert_cmpuint(r->fake.mmio_size, ==, 4);
    g_assert_cmpuint(r->fake.mmio_value, ==, 0x80000000u);
    /* Signed overflow, sign, carry out of bit 3, no carry; low byte 0: even parity. */
    g_assert_cmphex(r->s.eflags & ARITH, ==, CPU_FL_OF | CPU_FL_SF | CPU_FL_AF | CPU_FL_PF);
    g_assert_cmpuint(r->s.eip, ==, CODE + 2);
    g_assert_cmpuint(r->s.stats[CPU_STAT_MMIO], ==, 1);
    rig_free(r);
}

static void test_mmio_cmp_no_write(void)
{
    Rig *r = mmio_rig(5);
    r->s.gpr[CPU_EAX] = 7;
    CODE_AT(r, 0x39, 0x03); /* cmp %eax, (%ebx): 5 - 7 */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_writes, ==, 0);
    /* 0xfffffffe: borrow, sign, borrow from bit 4; low byte has 7 ones: PF clear. */
    g_assert_cmphex(r->s.eflags & ARITH, ==, CPU_FL_CF | CPU_FL_SF | CPU_FL_AF);
    rig_free(r);
}

static void test_mmio_or_byte_clears_cf_of(void)
{
    Rig *r = mmio_rig(0x01);
    r->s.eflags |= CPU_FL_CF | CPU_FL_OF | CPU_FL_ZF;
    CODE_AT(r, 0x80, 0x0b, 0x80); /* orb $0x80, (%ebx) */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_size, ==, 1);
    g_assert_cmpuint(r->fake.mmio_value, ==, 0x81);
    g_assert_cmphex(r->s.eflags & ARITH, ==, CPU_FL_SF | CPU_FL_PF);
    g_assert_cmpuint(r->s.eip, ==, CODE + 3);
    rig_free(r);
}

static void test_mmio_inc_keeps_cf(void)
{
    Rig *r = mmio_rig(0xffffffff);
    r->s.eflags &= ~CPU_FL_CF;
    CODE_AT(r, 0xff, 0x03); /* incl (%ebx): wraps to 0, CF untouched */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_value, ==, 0);
    g_assert_cmphex(r->s.eflags & ARITH, ==, CPU_FL_ZF | CPU_FL_AF | CPU_FL_PF);
    r->s.eflags |= CPU_FL_CF;
    r->fake.mmio_reg = 0x80;
    CODE_AT(r, 0xfe, 0x0b); /* decb (%ebx): 0x80 - 1 overflows, CF stays set */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_value, ==, 0x7f);
    g_assert_cmpuint(r->fake.mmio_size, ==, 1);
    g_assert_cmphex(r->s.eflags & ARITH, ==, CPU_FL_CF | CPU_FL_OF | CPU_FL_AF);
    rig_free(r);
}

static void test_mmio_neg_not(void)
{
    Rig *r = mmio_rig(0x80000000u);
    CODE_AT(r, 0xf7, 0x1b); /* negl (%ebx): the most negative number stays, OF */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_value, ==, 0x80000000u);
    g_assert_cmphex(r->s.eflags & ARITH, ==, CPU_FL_CF | CPU_FL_OF | CPU_FL_SF | CPU_FL_PF);
    uint32_t flags = r->s.eflags;
    r->fake.mmio_reg = 0x0000ff00;
    CODE_AT(r, 0x66, 0xf7, 0x13); /* notw (%ebx): no flags */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_value, ==, 0x00ff);
    g_assert_cmpuint(r->fake.mmio_size, ==, 2);
    g_assert_cmphex(r->s.eflags, ==, flags);
    rig_free(r);
}

static void test_mmio_adc_sbb_carry_in(void)
{
    Rig *r = mmio_rig(0);
    r->s.eflags |= CPU_FL_CF;
    r->s.gpr[CPU_EAX] = 0;
    CODE_AT(r, 0x19, 0x03); /* sbb %eax, (%ebx): 0 - 0 - 1 */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_value, ==, 0xffffffffu);
    g_assert_cmphex(r->s.eflags & ARITH, ==, CPU_FL_CF | CPU_FL_SF | CPU_FL_AF | CPU_FL_PF);
    r->fake.mmio_reg = 0xffff;
    CODE_AT(r, 0x66, 0x11, 0x03); /* adc %ax, (%ebx): 0xffff + 0 + 1 */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_value, ==, 0);
    g_assert_cmpuint(r->fake.mmio_size, ==, 2);
    g_assert_cmphex(r->s.eflags & ARITH, ==, CPU_FL_CF | CPU_FL_ZF | CPU_FL_AF | CPU_FL_PF);
    rig_free(r);
}

static void test_mmio_sub_into_register(void)
{
    Rig *r = mmio_rig(0x10);
    r->s.gpr[CPU_EAX] = 0x12345678;
    CODE_AT(r, 0x2a, 0x23); /* sub (%ebx), %ah */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_writes, ==, 0);
    g_assert_cmpuint(r->fake.mmio_size, ==, 1);
    g_assert_cmphex(r->s.gpr[CPU_EAX], ==, 0x12344678);
    g_assert_cmphex(r->s.eflags & ARITH, ==, 0); /* 0x46: three ones, PF clear */
    rig_free(r);
}

static void test_mmio_test_and_xor(void)
{
    Rig *r = mmio_rig(0xf0);
    r->s.eflags |= CPU_FL_CF;
    CODE_AT(r, 0xf6, 0x03, 0x0f); /* testb $0x0f, (%ebx) */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_writes, ==, 0);
    g_assert_cmphex(r->s.eflags & ARITH, ==, CPU_FL_ZF | CPU_FL_PF);
    r->s.gpr[CPU_ECX] = 0xff;
    CODE_AT(r, 0x31, 0x0b); /* xor %ecx, (%ebx) */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_value, ==, 0x0f);
    g_assert_cmphex(r->s.eflags & ARITH, ==, CPU_FL_PF);
    rig_free(r);
}

static void test_mmio_xchg(void)
{
    Rig *r = mmio_rig(0xaaaa5555);
    r->s.gpr[CPU_EDX] = 0x01020304;
    CODE_AT(r, 0x87, 0x13); /* xchg %edx, (%ebx) */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_value, ==, 0x01020304);
    g_assert_cmphex(r->s.gpr[CPU_EDX], ==, 0xaaaa5555);
    rig_free(r);
}

static void test_mmio_push_pop(void)
{
    Rig *r = mmio_rig(0x600dcafe);
    uint32_t sp = r->s.gpr[CPU_ESP];
    CODE_AT(r, 0xff, 0x33); /* pushl (%ebx) */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gpr[CPU_ESP], ==, sp - 4);
    g_assert_cmphex(rd32(r, sp - 4), ==, 0x600dcafe);
    wr32(r, sp - 4, 0x12121212);
    CODE_AT(r, 0x8f, 0x03); /* popl (%ebx) */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gpr[CPU_ESP], ==, sp);
    g_assert_cmphex(r->fake.mmio_value, ==, 0x12121212);
    g_assert_cmpuint(r->s.eip, ==, CODE + 2);
    rig_free(r);
}

/* pop to memory addressed by ESP uses ESP after the pop (SDM: POP). */
static void test_seg_pop_esp_based(void)
{
    Rig *r = rig_new();
    uint32_t sp = r->s.gpr[CPU_ESP];
    wr32(r, sp, 0x5a5a5a5a);
    r->s.seg[CPU_DS] = (CpuSeg){ 0 };
    CODE_AT(r, 0x3e, 0x8f, 0x44, 0x24, 0x04); /* popl %ds:4(%esp), DS null -> #GP(0) */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13));
    /* The failed pop left ESP as it was: the 16-byte frame sits right below it. */
    g_assert_cmphex(rd32(r, r->s.gpr[CPU_ESP] + 4), ==, CODE);
    g_assert_cmpuint(r->s.gpr[CPU_ESP], ==, sp - 16);

    Rig *f = rig_new();
    sp = f->s.gpr[CPU_ESP];
    wr32(f, sp, 0x5a5a5a5a);
    f->s.gpr[CPU_EAX] = ODDSEG;
    CODE_AT(f, 0x8e, 0xe0); /* mov %eax, %fs (base 0x100000) */
    g_assert_cmpint(trap_gp(f), ==, CPU_RESUME);
    f->s.gpr[CPU_ESP] = 0x100; /* offsets inside FS */
    wr32(f, 0x100, 0x5a5a5a5a);
    CODE_AT(f, 0x64, 0x8f, 0x44, 0x24, 0x04); /* popl %fs:4(%esp): stack at ESP 0x100 */
    g_assert_cmpint(trap_gp(f), ==, CPU_RESUME);
    g_assert_cmpuint(f->s.gpr[CPU_ESP], ==, 0x104);
    g_assert_cmphex(rd32(f, 0x100000 + 0x108), ==, 0x5a5a5a5a);
    rig_free(f);
    rig_free(r);
}

static void test_mmio_rep_movsl(void)
{
    Rig *r = mmio_rig(0);
    wr32(r, 0x30000, 0x11111111);
    wr32(r, 0x30004, 0x22222222);
    wr32(r, 0x30008, 0x33333333);
    r->s.gpr[CPU_ESI] = 0x30000;
    r->s.gpr[CPU_EDI] = MMIO_VA;
    r->s.gpr[CPU_ECX] = 3;
    CODE_AT(r, 0xf3, 0xa5); /* rep movsl */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_writes, ==, 3);
    g_assert_cmpuint(r->fake.mmio_size, ==, 4);
    g_assert_cmphex(r->fake.mmio_log[0], ==, 0x11111111);
    g_assert_cmphex(r->fake.mmio_log[2], ==, 0x33333333);
    g_assert_cmpuint(r->fake.mmio_gpa, ==, MMIO_VA + 8);
    g_assert_cmpuint(r->s.gpr[CPU_ECX], ==, 0);
    g_assert_cmpuint(r->s.gpr[CPU_ESI], ==, 0x3000c);
    g_assert_cmpuint(r->s.gpr[CPU_EDI], ==, MMIO_VA + 12);
    g_assert_cmpuint(r->s.eip, ==, CODE + 2);
    rig_free(r);
}

static void test_mmio_stos_lods_backwards(void)
{
    Rig *r = mmio_rig(0x99);
    r->s.eflags |= CPU_FL_DF;
    r->s.gpr[CPU_EAX] = 0xabcd;
    r->s.gpr[CPU_EDI] = MMIO_VA;
    CODE_AT(r, 0x66, 0xab); /* stosw, DF set */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_value, ==, 0xabcd);
    g_assert_cmpuint(r->fake.mmio_size, ==, 2);
    g_assert_cmpuint(r->s.gpr[CPU_EDI], ==, MMIO_VA - 2);
    r->s.gpr[CPU_ESI] = MMIO_VA;
    CODE_AT(r, 0xac); /* lodsb */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.gpr[CPU_EAX], ==, 0xab99);
    g_assert_cmpuint(r->s.gpr[CPU_ESI], ==, MMIO_VA - 1);
    rig_free(r);
}

static void test_mmio_bts_register_offset(void)
{
    Rig *r = mmio_rig(0x1);
    r->s.gpr[CPU_EAX] = 35; /* dword 1, bit 3 */
    r->s.eflags |= CPU_FL_CF;
    CODE_AT(r, 0x0f, 0xab, 0x03); /* bts %eax, (%ebx) */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_gpa, ==, MMIO_VA + 4);
    g_assert_cmphex(r->fake.mmio_value, ==, 0x9);
    g_assert_cmpuint(r->s.eflags & CPU_FL_CF, ==, 0);
    r->s.gpr[CPU_EAX] = (uint32_t)-1; /* bit 31 of the dword below */
    r->fake.mmio_reg = 0x80000000u;
    CODE_AT(r, 0x0f, 0xa3, 0x03); /* bt %eax, (%ebx) */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_gpa, ==, MMIO_VA - 4);
    g_assert_cmpuint(r->s.eflags & CPU_FL_CF, ==, CPU_FL_CF);
    g_assert_cmpuint(r->fake.mmio_writes, ==, 1);
    rig_free(r);
}

/* Load FS (through an emulated mov) with sel. */
static void load_fs(Rig *r, uint16_t sel)
{
    r->s.gpr[CPU_EAX] = sel;
    CODE_AT(r, 0x8e, 0xe0);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.seg[CPU_FS].sel, ==, sel);
}

static void test_seg_alu_through_base(void)
{
    Rig *r = rig_new();
    load_fs(r, ODDSEG);
    wr32(r, 0x100008, 40);
    r->s.gpr[CPU_EAX] = 2;
    CODE_AT(r, 0x64, 0x01, 0x05, 0x08, 0x00, 0x00, 0x00); /* add %eax, %fs:8 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(rd32(r, 0x100008), ==, 42);
    g_assert_cmpuint(r->s.eip, ==, CODE + 7);
    CODE_AT(r, 0x64, 0x83, 0x3d, 0x08, 0x00, 0x00, 0x00, 0x2a); /* cmpl $42, %fs:8 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eflags & CPU_FL_ZF, ==, CPU_FL_ZF);
    rig_free(r);
}

/* A selector stored through a non-flat segment is the guest's, not the host's. */
static void test_seg_store_selector(void)
{
    Rig *r = rig_new();
    load_fs(r, ODDSEG);
    r->s.seg[CPU_DS].sel = UDATA;
    wr32(r, 0x100020, 0xffffffff);
    CODE_AT(r, 0x64, 0x8c, 0x1d, 0x20, 0x00, 0x00, 0x00); /* mov %ds, %fs:0x20 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(rd32(r, 0x100020), ==, 0xffff0000u | UDATA);
    g_assert_cmpuint(r->s.eip, ==, CODE + 7);
    rig_free(r);
}

static void test_seg_read_only_write_gp(void)
{
    Rig *r = rig_new();
    load_fs(r, ROSEG);
    CODE_AT(r, 0x64, 0xff, 0x05, 0x10, 0x00, 0x00, 0x00); /* incl %fs:0x10 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13));
    g_assert_cmpuint(rd32(r, r->s.gpr[CPU_ESP]), ==, 0);
    g_assert_cmpuint(rd32(r, 0x100010), ==, 0);
    rig_free(r);
}

static void test_seg_expand_down(void)
{
    Rig *r = rig_new();
    load_fs(r, EDSEG); /* valid offsets 0x1000 ... 0xffffffff */
    wr32(r, 0x102000, 0x7777);
    CODE_AT(r, 0x64, 0xa1, 0x00, 0x20, 0x00, 0x00); /* mov %fs:0x2000, %eax */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gpr[CPU_EAX], ==, 0x7777);
    CODE_AT(r, 0x64, 0xa1, 0x00, 0x08, 0x00, 0x00); /* mov %fs:0x800, %eax: below */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13));
    rig_free(r);
}

/* A rep movsb that runs past ES's limit stops with the registers of the bytes done. */
static void test_seg_rep_movsb_limit(void)
{
    Rig *r = rig_new();
    r->s.gpr[CPU_EAX] = ODDSEG;
    CODE_AT(r, 0x8e, 0xc0); /* mov %eax, %es */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    memcpy(r->fake.ram + 0x30000, "wxyz", 4);
    r->s.gpr[CPU_ESI] = 0x30000;
    r->s.gpr[CPU_EDI] = 0xfffe;
    r->s.gpr[CPU_ECX] = 4;
    CODE_AT(r, 0xf3, 0xa4); /* rep movsb */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.eip, ==, HANDLER(13));
    g_assert_cmpuint(rd32(r, r->s.gpr[CPU_ESP] + 4), ==, CODE); /* restartable */
    g_assert_cmpuint(r->s.gpr[CPU_ECX], ==, 2);
    g_assert_cmpuint(r->s.gpr[CPU_EDI], ==, 0x10000);
    g_assert_cmpuint(r->s.gpr[CPU_ESI], ==, 0x30002);
    g_assert_cmpmem(r->fake.ram + 0x10fffe, 2, "wx", 2);
    rig_free(r);
}

static void test_seg_repe_cmpsb(void)
{
    Rig *r = rig_new();
    r->s.gpr[CPU_EAX] = ODDSEG;
    CODE_AT(r, 0x8e, 0xc0); /* mov %eax, %es */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    memcpy(r->fake.ram + 0x30000, "abcX", 4);
    memcpy(r->fake.ram + 0x100000, "abcY", 4);
    r->s.gpr[CPU_ESI] = 0x30000;
    r->s.gpr[CPU_EDI] = 0;
    r->s.gpr[CPU_ECX] = 8;
    CODE_AT(r, 0xf3, 0xa6); /* repe cmpsb: stops after the first difference */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->s.gpr[CPU_ECX], ==, 4);
    g_assert_cmpuint(r->s.gpr[CPU_ESI], ==, 0x30004);
    g_assert_cmpuint(r->s.eflags & (CPU_FL_ZF | CPU_FL_CF), ==, CPU_FL_CF); /* 'X' < 'Y' */
    g_assert_cmpuint(r->s.eip, ==, CODE + 2);
    rig_free(r);
}

/* --- what per-CPU data behind a segment base needs -------------------------- */

/* A rig with FS on ODDSEG (base 0x100000) and value at %fs:0x40. */
static Rig *percpu_rig(uint32_t value)
{
    Rig *r = rig_new();
    load_fs(r, ODDSEG);
    wr32(r, 0x100040, value);
    return r;
}

static void test_seg_cmpxchg_match(void)
{
    Rig *r = percpu_rig(5);
    r->s.gpr[CPU_EAX] = 5;
    r->s.gpr[CPU_ECX] = 9;
    CODE_AT(r, 0x64, 0x0f, 0xb1, 0x0d, 0x40, 0x00, 0x00, 0x00); /* cmpxchg %ecx, %fs:0x40 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(rd32(r, 0x100040), ==, 9);
    g_assert_cmpuint(r->s.gpr[CPU_EAX], ==, 5);
    g_assert_cmpuint(r->s.eflags & CPU_FL_ZF, ==, CPU_FL_ZF);
    g_assert_cmpuint(r->s.eip, ==, CODE + 8);
    rig_free(r);
}

static void test_seg_cmpxchg_mismatch(void)
{
    Rig *r = percpu_rig(7);
    r->s.gpr[CPU_EAX] = 5;
    r->s.gpr[CPU_ECX] = 9;
    CODE_AT(r, 0x64, 0x0f, 0xb1, 0x0d, 0x40, 0x00, 0x00, 0x00);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(rd32(r, 0x100040), ==, 7);
    g_assert_cmpuint(r->s.gpr[CPU_EAX], ==, 7); /* the accumulator takes the value */
    g_assert_cmpuint(r->s.eflags & (CPU_FL_ZF | CPU_FL_CF), ==, CPU_FL_CF); /* 5 < 7 */
    rig_free(r);
}

static void test_seg_xadd(void)
{
    Rig *r = percpu_rig(0xffffffff);
    r->s.gpr[CPU_EDX] = 1;
    CODE_AT(r, 0x64, 0x0f, 0xc1, 0x15, 0x40, 0x00, 0x00, 0x00); /* xadd %edx, %fs:0x40 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmpuint(rd32(r, 0x100040), ==, 0);
    g_assert_cmphex(r->s.gpr[CPU_EDX], ==, 0xffffffff);
    g_assert_cmphex(r->s.eflags & ARITH, ==, CPU_FL_CF | CPU_FL_ZF | CPU_FL_AF | CPU_FL_PF);
    rig_free(r);
}

static void test_seg_cmpxchg8b(void)
{
    Rig *r = percpu_rig(0x11111111);
    wr32(r, 0x100044, 0x22222222);
    r->s.gpr[CPU_EAX] = 0x11111111;
    r->s.gpr[CPU_EDX] = 0x22222222;
    r->s.gpr[CPU_EBX] = 0x33333333;
    r->s.gpr[CPU_ECX] = 0x44444444;
    CODE_AT(r, 0x64, 0x0f, 0xc7, 0x0d, 0x40, 0x00, 0x00, 0x00); /* cmpxchg8b %fs:0x40 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(rd32(r, 0x100040), ==, 0x33333333);
    g_assert_cmphex(rd32(r, 0x100044), ==, 0x44444444);
    g_assert_cmpuint(r->s.eflags & CPU_FL_ZF, ==, CPU_FL_ZF);
    CODE_AT(r, 0x64, 0x0f, 0xc7, 0x0d, 0x40, 0x00, 0x00, 0x00); /* now different */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.gpr[CPU_EAX], ==, 0x33333333);
    g_assert_cmphex(r->s.gpr[CPU_EDX], ==, 0x44444444);
    g_assert_cmpuint(r->s.eflags & CPU_FL_ZF, ==, 0);
    rig_free(r);
}

static void test_seg_setcc_cmovcc(void)
{
    Rig *r = percpu_rig(0xaabbccdd);
    r->s.eflags |= CPU_FL_SF; /* SF != OF: "less" */
    CODE_AT(r, 0x64, 0x0f, 0x9c, 0x05, 0x40, 0x00, 0x00, 0x00); /* setl %fs:0x40 */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(rd32(r, 0x100040), ==, 0xaabbcc01);
    r->s.gpr[CPU_EAX] = 0x1234;
    CODE_AT(r, 0x64, 0x0f, 0x44, 0x05, 0x40, 0x00, 0x00, 0x00); /* cmove %fs:0x40, %eax: ZF clear */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.gpr[CPU_EAX], ==, 0x1234);
    CODE_AT(r, 0x64, 0x0f, 0x4c, 0x05, 0x40, 0x00, 0x00, 0x00); /* cmovl: taken */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.gpr[CPU_EAX], ==, 0xaabbcc01);
    rig_free(r);
}

static void test_seg_imul_overflow(void)
{
    Rig *r = percpu_rig(0x10000);
    /* imul $0x10000, %fs:0x40, %ecx: 2^32 does not fit */
    CODE_AT(r, 0x64, 0x69, 0x0d, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00);
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.gpr[CPU_ECX], ==, 0);
    g_assert_cmpuint(r->s.eflags & (CPU_FL_CF | CPU_FL_OF), ==, CPU_FL_CF | CPU_FL_OF);
    r->s.gpr[CPU_EDX] = (uint32_t)-3;
    CODE_AT(r, 0x64, 0x0f, 0xaf, 0x15, 0x40, 0x00, 0x00, 0x00); /* imul %fs:0x40, %edx */
    g_assert_cmpint(trap_gp(r), ==, CPU_RESUME);
    g_assert_cmphex(r->s.gpr[CPU_EDX], ==, (uint32_t)-0x30000);
    g_assert_cmpuint(r->s.eflags & (CPU_FL_CF | CPU_FL_OF), ==, 0);
    rig_free(r);
}

static void test_mmio_shifts(void)
{
    Rig *r = mmio_rig(0x81);
    CODE_AT(r, 0xd0, 0x23); /* shlb (%ebx): 0x81 -> 0x02, CF out, OF = MSB ^ CF */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmphex(r->fake.mmio_value, ==, 0x02);
    g_assert_cmphex(r->s.eflags & ARITH, ==, CPU_FL_CF | CPU_FL_OF);
    r->fake.mmio_reg = 0x80000000u;
    r->s.gpr[CPU_ECX] = 4;
    CODE_AT(r, 0xd3, 0x3b); /* sarl %cl, (%ebx) */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmphex(r->fake.mmio_value, ==, 0xf8000000u);
    g_assert_cmphex(r->s.eflags & ARITH, ==, CPU_FL_SF | CPU_FL_PF);
    r->fake.mmio_reg = 0x8001;
    CODE_AT(r, 0x66, 0xc1, 0x03, 0x01); /* rolw $1, (%ebx): CF = new LSB */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmphex(r->fake.mmio_value, ==, 0x0003);
    g_assert_cmpuint(r->s.eflags & (CPU_FL_CF | CPU_FL_OF), ==, CPU_FL_CF | CPU_FL_OF);
    unsigned writes = r->fake.mmio_writes;
    r->s.gpr[CPU_ECX] = 32; /* masked to 0: nothing changes, nothing written */
    CODE_AT(r, 0xd3, 0x2b); /* shrl %cl, (%ebx) */
    g_assert_cmpint(trap_mmio(r), ==, CPU_RESUME);
    g_assert_cmpuint(r->fake.mmio_writes, ==, writes);
    g_assert_cmpuint(r->s.eip, ==, CODE + 2);
    rig_free(r);
}

static void test_left_compat_mode(void)
{
    Rig *r = rig_new();
    LilyRegs regs;
    cpu_regs_out(&r->s, &regs);
    regs.cs = LILY_SEL_CODE64;
    cpu_regs_in(&r->s, &regs);
    LilyTrap t = { .signo = SIGSYS, .trapno = LILY_TRAPNO_NONE, .syscall_arch = 0xc000003eu,
                   .host_ip = 0x1000 };
    g_assert_cmpint(cpu_trap(&r->s, &r->env, &t), ==, CPU_FATAL);
    g_assert_nonnull(strstr(r->s.fatal, "compatibility mode"));
    rig_free(r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cpu/io/in-out", test_io_in_out);
    g_test_add_func("/cpu/io/rep-insw", test_io_rep_insw);
    g_test_add_func("/cpu/io/rep-outsb", test_io_rep_outsb);
    g_test_add_func("/cpu/io/bitmap/allows", test_iomap_allows);
    g_test_add_func("/cpu/io/bitmap/denies-second-port", test_iomap_denies_second_port);
    g_test_add_func("/cpu/io/bitmap/straddles-bytes", test_iomap_straddles_bytes);
    g_test_add_func("/cpu/io/bitmap/limit", test_iomap_limit);
    g_test_add_func("/cpu/io/bitmap/absent", test_iomap_absent);
    g_test_add_func("/cpu/io/bitmap/string-io", test_iomap_string_io);
    g_test_add_func("/cpu/io/bitmap/not-for-cli", test_iomap_not_for_cli);
    g_test_add_func("/cpu/deliver/user-gp-stack-switch-iret", test_user_io_gp_and_iret);
    g_test_add_func("/cpu/deliver/int-dpl", test_int_dpl);
    g_test_add_func("/cpu/deliver/int80-sigsys", test_int80_sigsys);
    g_test_add_func("/cpu/deliver/int3", test_int3_trap);
    g_test_add_func("/cpu/deliver/divide-error", test_divide_error);
    g_test_add_func("/cpu/deliver/double-triple-fault", test_double_and_triple_fault);
    g_test_add_func("/cpu/deliver/ud", test_undefined_opcode);
    g_test_add_func("/cpu/intr/cli-sti-pending", test_cli_sti_pending);
    g_test_add_func("/cpu/intr/popf-pending", test_popf_pending);
    g_test_add_func("/cpu/intr/hlt-wake", test_hlt_wake);
    g_test_add_func("/cpu/intr/sti-hlt", test_sti_hlt);
    g_test_add_func("/cpu/intr/user-popf-keeps-if", test_user_popf_keeps_if);
    g_test_add_func("/cpu/sys/lgdt-lidt", test_lgdt_lidt);
    g_test_add_func("/cpu/sys/ltr-busy", test_ltr_busy);
    g_test_add_func("/cpu/sys/control-registers", test_control_registers);
    g_test_add_func("/cpu/sys/msr", test_msr);
    g_test_add_func("/cpu/seg/loads", test_segment_loads);
    g_test_add_func("/cpu/seg/base-limit", test_segment_base_limit);
    g_test_add_func("/cpu/seg/native-resync", test_native_selector_resync);
    g_test_add_func("/cpu/seg/native-resync-on-kick", test_native_selector_kick);
    g_test_add_func("/cpu/seg/far-transfers", test_far_transfers);
    g_test_add_func("/cpu/ldt/selector-choice", test_ldt_selector_choice);
    g_test_add_func("/cpu/ldt/queued-op", test_ldt_queued_op);
    g_test_add_func("/cpu/ldt/code-base", test_ldt_code_base);
    g_test_add_func("/cpu/ldt/code-refused", test_ldt_code_refused);
    g_test_add_func("/cpu/ldt/stack-base", test_ldt_stack_base);
    g_test_add_func("/cpu/ldt/native-mirror-load", test_ldt_native_mirror_load);
    g_test_add_func("/cpu/callgate/inner-call", test_callgate_inner_call);
    g_test_add_func("/cpu/callgate/lret-outer", test_callgate_lret_outer);
    g_test_add_func("/cpu/callgate/dpl", test_callgate_dpl);
    g_test_add_func("/cpu/callgate/not-present", test_callgate_not_present);
    g_test_add_func("/cpu/callgate/to-data-segment", test_callgate_to_data_segment);
    g_test_add_func("/cpu/callgate/bad-tss-stack", test_callgate_bad_tss_stack);
    g_test_add_func("/cpu/callgate/jmp", test_callgate_jmp);
    g_test_add_func("/cpu/callgate/16bit", test_callgate_16bit);
    g_test_add_func("/cpu/task/jmp", test_task_jmp);
    g_test_add_func("/cpu/task/call-iret", test_task_call_iret);
    g_test_add_func("/cpu/task/gate-jmp", test_task_gate_jmp);
    g_test_add_func("/cpu/task/busy-gp", test_task_busy_gp);
    g_test_add_func("/cpu/task/short-tss", test_task_short_tss);
    g_test_add_func("/cpu/task/bad-ss", test_task_bad_ss);
    g_test_add_func("/cpu/task/double-fault-gate", test_task_double_fault_gate);
    g_test_add_func("/cpu/task/int-gate-from-user", test_task_int_gate_from_user);
    g_test_add_func("/cpu/task/loads-cr3", test_task_loads_cr3);
    g_test_add_func("/cpu/deliver/16bit-gate", test_deliver_16bit_gate);
    g_test_add_func("/cpu/sys/mmu-cr0-without-fpu-bits", test_mmu_cr0_without_fpu_bits);
    g_test_add_func("/cpu/rewrite/pushf", test_rewrite_pushf);
    g_test_add_func("/cpu/rewrite/sregs", test_rewrite_sregs);
    g_test_add_func("/cpu/rewrite/tables", test_rewrite_tables);
    g_test_add_func("/cpu/rewrite/lar-lsl-verr-verw", test_rewrite_lar_lsl_verr_verw);
    g_test_add_func("/cpu/rewrite/int-escape", test_rewrite_int_escape);
    g_test_add_func("/cpu/rewrite/corrupt-and-user", test_rewrite_corrupt_and_user);
    g_test_add_func("/cpu/mmio", test_mmio);
    g_test_add_func("/cpu/mmio/add-flags", test_mmio_add_flags);
    g_test_add_func("/cpu/mmio/cmp-no-write", test_mmio_cmp_no_write);
    g_test_add_func("/cpu/mmio/or-byte-clears-cf-of", test_mmio_or_byte_clears_cf_of);
    g_test_add_func("/cpu/mmio/inc-dec-keep-cf", test_mmio_inc_keeps_cf);
    g_test_add_func("/cpu/mmio/neg-not", test_mmio_neg_not);
    g_test_add_func("/cpu/mmio/adc-sbb-carry-in", test_mmio_adc_sbb_carry_in);
    g_test_add_func("/cpu/mmio/sub-into-register", test_mmio_sub_into_register);
    g_test_add_func("/cpu/mmio/test-xor", test_mmio_test_and_xor);
    g_test_add_func("/cpu/mmio/xchg", test_mmio_xchg);
    g_test_add_func("/cpu/mmio/push-pop", test_mmio_push_pop);
    g_test_add_func("/cpu/mmio/rep-movsl", test_mmio_rep_movsl);
    g_test_add_func("/cpu/mmio/stos-lods-backwards", test_mmio_stos_lods_backwards);
    g_test_add_func("/cpu/mmio/bt-register-offset", test_mmio_bts_register_offset);
    g_test_add_func("/cpu/seg/pop-esp-based", test_seg_pop_esp_based);
    g_test_add_func("/cpu/seg/alu-through-base", test_seg_alu_through_base);
    g_test_add_func("/cpu/seg/store-selector", test_seg_store_selector);
    g_test_add_func("/cpu/seg/read-only-write-gp", test_seg_read_only_write_gp);
    g_test_add_func("/cpu/seg/expand-down", test_seg_expand_down);
    g_test_add_func("/cpu/seg/rep-movsb-limit", test_seg_rep_movsb_limit);
    g_test_add_func("/cpu/seg/repe-cmpsb", test_seg_repe_cmpsb);
    g_test_add_func("/cpu/seg/cmpxchg-match", test_seg_cmpxchg_match);
    g_test_add_func("/cpu/seg/cmpxchg-mismatch", test_seg_cmpxchg_mismatch);
    g_test_add_func("/cpu/seg/xadd", test_seg_xadd);
    g_test_add_func("/cpu/seg/cmpxchg8b", test_seg_cmpxchg8b);
    g_test_add_func("/cpu/seg/setcc-cmovcc", test_seg_setcc_cmovcc);
    g_test_add_func("/cpu/seg/imul-overflow", test_seg_imul_overflow);
    g_test_add_func("/cpu/mmio/shifts", test_mmio_shifts);
    g_test_add_func("/cpu/left-compat-mode", test_left_compat_mode);
    return g_test_run();
}
