/*
 * Native execution tests: real guest code in a confined guest process, driven
 * through both transports (signal, ptrace) with identical expectations.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <linux/audit.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/guest/stub.h"
#include "src/transport/transport-internal.h"
#include "tests/native/guest-layout.h"

#define TEST_TIMEOUT_NS (5000ll * 1000 * 1000)

/* Every blob exists for compatibility mode (blob32_*) and 64-bit mode (blob64_*). */
#define DECLARE_BLOB(name) extern const uint8_t blob32_##name[], blob32_##name##_end[], \
    blob64_##name[], blob64_##name##_end[]
#define DECLARE_MARK(name) extern const uint8_t blob32_##name[], blob64_##name[]
DECLARE_BLOB(int3);
DECLARE_MARK(int3_t1);
DECLARE_MARK(int3_t2);
DECLARE_BLOB(priv);
DECLARE_MARK(priv_hlt);
DECLARE_MARK(priv_in);
DECLARE_MARK(priv_int3);
DECLARE_MARK(priv_end_trap);
DECLARE_BLOB(pf);
DECLARE_BLOB(int80);
DECLARE_MARK(int80_after);
DECLARE_BLOB(sysenter);
DECLARE_MARK(sysenter_insn);
DECLARE_BLOB(syscall);
DECLARE_MARK(syscall_insn);
DECLARE_BLOB(escape_lowip);
DECLARE_BLOB(escape_gadget);
DECLARE_BLOB(spin);
DECLARE_BLOB(fs);
DECLARE_BLOB(forge);
extern void test_syscall_gadget(void);

/* A test runs with one transport and one guest mode ("flavor"). */
typedef struct Flavor {
    LilyTransportKind kind;
    int bits; /* 32: compatibility mode, CS 0x23; 64: 64-bit mode, CS 0x33 */
} Flavor;

#define PICK(fl, name) ((fl)->bits == 32 ? blob32_##name : blob64_##name)
#define PICK_END(fl, name) ((fl)->bits == 32 ? blob32_##name##_end : blob64_##name##_end)
/* Guest address of a MARK inside a blob. */
#define MARK_ADDR(fl, blob, mark) (BLOB_BASE + (uint32_t)(PICK(fl, mark) - PICK(fl, blob)))
#define SETUP(g, fl, name) guest_setup((g), (fl), PICK(fl, name), (size_t)(PICK_END(fl, name) - PICK(fl, name)))

static uint16_t flavor_cs(const Flavor *fl)
{
    return fl->bits == 32 ? LILY_SEL_CODE32 : LILY_SEL_CODE64;
}

/* Can this process trace a child (Yama ptrace_scope 3 or a container's
 * seccomp profile forbid it)?  Asked once. */
static bool test_ptrace_allowed(void)
{
    static int allowed = -1;
    int status = 0;
    pid_t pid;

    if (allowed >= 0)
        return allowed;
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
            _exit(1);
        raise(SIGSTOP);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    allowed = WIFSTOPPED(status);
    if (allowed) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    return allowed;
}

/* Compatibility mode and ptrace do not exist everywhere: skip, with the reason. */
static bool flavor_available(const Flavor *fl)
{
    GError *error = NULL;

    if (fl->kind == LILY_TRANSPORT_PTRACE && !test_ptrace_allowed()) {
        g_test_skip("this process may not trace its children (Yama ptrace_scope 3, or a "
                    "container's seccomp profile forbids ptrace)");
        return false;
    }
    if (fl->bits == 64 || transport_probe_compat_mode(&error))
        return true;
    g_test_skip(error->message);
    g_error_free(error);
    return false;
}

typedef struct Guest {
    int memfd;
    uint8_t *ram;
    LilyTransport *t;
    LilyVcpu vcpu;
} Guest;

static void guest_queue(Guest *g, LilyMapOpKind kind, uint32_t addr, uint32_t len, uint32_t prot, uint64_t off)
{
    g_assert_cmpuint(g->vcpu.n_ops, <, LILY_MAP_OPS_MAX);
    g->vcpu.ops[g->vcpu.n_ops++] = (LilyMapOp){
        .kind = kind, .prot = prot, .guest_addr = addr, .len = len, .file_offset = off,
    };
}

/* Guest RAM with the blob at BLOB_BASE, a started guest process, and the
 * registers and mapping ops of the first entry queued. */
static void guest_setup(Guest *g, const Flavor *fl, const uint8_t *blob, size_t len)
{
    LilyTransportConfig cfg = { .kind = fl->kind, .spin_iterations = 2000 };
    GError *error = NULL;

    memset(g, 0, sizeof *g);
    g->memfd = memfd_create("lilyvm-test-ram", MFD_CLOEXEC);
    g_assert_cmpint(g->memfd, >=, 0);
    g_assert_cmpint(ftruncate(g->memfd, GUEST_RAM_SIZE), ==, 0);
    g->ram = mmap(NULL, GUEST_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g->memfd, 0);
    g_assert_true(g->ram != MAP_FAILED);
    g_assert_cmpuint(len, <=, 0x10000);
    memcpy(g->ram, blob, len);

    cfg.memfd = g->memfd;
    cfg.memfd_size = GUEST_RAM_SIZE;
    g->t = transport_new(&cfg, &error);
    g_assert_no_error(error);
    g_assert_true(transport_start(g->t, &error));
    g_assert_no_error(error);

    g->vcpu.regs = (LilyRegs){
        .eip = BLOB_BASE, .esp = GUEST_STACK_TOP - 16, .eflags = 0x202,
        .cs = flavor_cs(fl), .ss = LILY_SEL_DATA, .ds = LILY_SEL_DATA, .es = LILY_SEL_DATA,
    };
    guest_queue(g, LILY_MAP_OP_MAP, BLOB_BASE, 0x10000, PROT_READ | PROT_EXEC, 0);
    guest_queue(g, LILY_MAP_OP_MAP, GUEST_DATA, 0x10000, PROT_READ | PROT_WRITE, GUEST_DATA_OFFSET);
}

/* Kill and reap; no child of the test may survive a test. */
static void guest_teardown(Guest *g)
{
    transport_free(g->t);
    munmap(g->ram, GUEST_RAM_SIZE);
    close(g->memfd);
    errno = 0;
    g_assert_cmpint(waitpid(-1, NULL, WNOHANG | __WALL), ==, -1);
    g_assert_cmpint(errno, ==, ECHILD);
}

static LilyRunResult guest_run(Guest *g)
{
    LilyRunResult r = transport_run(g->t, &g->vcpu, TEST_TIMEOUT_NS);

    if (r == LILY_RUN_EXITED || r == LILY_RUN_ERROR)
        g_test_message("guest stopped: %s", transport_last_error(g->t));
    return r;
}

/* Run and expect a trap with this signal. */
static void guest_expect(Guest *g, int signo)
{
    g_assert_cmpint(guest_run(g), ==, LILY_RUN_TRAP);
    if (g->vcpu.trap.signo != (uint32_t)signo)
        g_test_message("unexpected trap: signal %u si_code %d trapno %u error %#x addr %#x "
                       "eip %#x cs %#x host_ip %#llx op_error %d", g->vcpu.trap.signo,
                       g->vcpu.trap.si_code, g->vcpu.trap.trapno, g->vcpu.trap.error_code,
                       g->vcpu.trap.fault_addr, g->vcpu.regs.eip, g->vcpu.regs.cs,
                       (unsigned long long)g->vcpu.trap.host_ip, g->vcpu.op_error);
    g_assert_cmpint(g->vcpu.trap.signo, ==, signo);
}

/* Test data: the flavor, or NULL-free early return when it is unavailable. */
#define FLAVOR(data) const Flavor *fl = (data); if (!flavor_available(fl)) return

/* ---- basic traps ------------------------------------------------------- */

static void test_int3(gconstpointer data)
{
    Guest g;
    FLAVOR(data);

    SETUP(&g, fl, int3);
    guest_expect(&g, SIGTRAP);
    g_assert_cmpint(g.vcpu.op_error, ==, 0);
    g_assert_cmpuint(g.vcpu.trap.trapno, ==, 3);
    g_assert_cmpuint(g.vcpu.trap.error_code, ==, 0);
    /* EIP is just past the int3. */
    g_assert_cmphex(g.vcpu.regs.eip, ==, MARK_ADDR(fl, int3, int3_t1));
    g_assert_cmphex(g.vcpu.trap.host_ip, ==, MARK_ADDR(fl, int3, int3_t1));
    g_assert_cmphex(g.vcpu.regs.eax, ==, 0x11111111);
    g_assert_cmphex(g.vcpu.regs.ebx, ==, 0x22222222);
    g_assert_cmphex(g.vcpu.regs.ecx, ==, 0x33333333);
    g_assert_cmphex(g.vcpu.regs.edx, ==, 0x44444444);
    g_assert_cmphex(g.vcpu.regs.esi, ==, 0x55555555);
    g_assert_cmphex(g.vcpu.regs.edi, ==, 0x66666666);
    g_assert_cmphex(g.vcpu.regs.ebp, ==, 0x77777777);
    g_assert_cmphex(g.vcpu.regs.esp, ==, GUEST_STACK_TOP - 16);
    g_assert_cmphex(g.vcpu.regs.cs, ==, flavor_cs(fl));
    g_assert_cmphex(g.vcpu.regs.ss, ==, LILY_SEL_DATA);
    g_assert_cmphex(g.vcpu.regs.ds, ==, LILY_SEL_DATA);
    g_assert_cmphex(g.vcpu.regs.es, ==, LILY_SEL_DATA);
    g_assert_cmphex(g.vcpu.regs.eflags & 0x200, ==, 0x200);
    guest_teardown(&g);
}

static void test_set_eax(gconstpointer data)
{
    Guest g;
    uint32_t stored;
    FLAVOR(data);

    SETUP(&g, fl, int3);
    guest_expect(&g, SIGTRAP);
    g.vcpu.regs.eax = 0x0badf00d;
    guest_expect(&g, SIGTRAP);
    g_assert_cmphex(g.vcpu.regs.ecx, ==, 0x0badf00e);
    g_assert_cmphex(g.vcpu.regs.eip, ==, MARK_ADDR(fl, int3, int3_t2));
    memcpy(&stored, g.ram + GUEST_DATA_OFFSET, 4);
    g_assert_cmphex(stored, ==, 0x0badf00d);
    guest_teardown(&g);
}

static void test_privileged(gconstpointer data)
{
    Guest g;
    FLAVOR(data);
    const uint32_t at[] = {
        BLOB_BASE, MARK_ADDR(fl, priv, priv_hlt), MARK_ADDR(fl, priv, priv_in), MARK_ADDR(fl, priv, priv_int3),
    };

    SETUP(&g, fl, priv);
    /* cli, hlt, in: #GP at the instruction; the VM skips it. */
    for (unsigned i = 0; i + 1 < G_N_ELEMENTS(at); i++) {
        guest_expect(&g, SIGSEGV);
        g_assert_cmpuint(g.vcpu.trap.trapno, ==, 13);
        g_assert_cmpuint(g.vcpu.trap.error_code, ==, 0);
        g_assert_cmpuint(g.vcpu.trap.fault_addr, ==, 0);
        g_assert_cmphex(g.vcpu.regs.eip, ==, at[i]);
        g.vcpu.regs.eip = at[i + 1];
    }
    guest_expect(&g, SIGTRAP);
    g_assert_cmphex(g.vcpu.regs.eip, ==, MARK_ADDR(fl, priv, priv_end_trap));
    guest_teardown(&g);
}

static void test_page_fault(gconstpointer data)
{
    uint32_t value = 0xcafebabe, stored;
    Guest g;
    FLAVOR(data);

    SETUP(&g, fl, pf);
    memcpy(g.ram + PF_OFFSET_A, &value, 4);

    /* Read of a page that is not mapped. */
    guest_expect(&g, SIGSEGV);
    g_assert_cmpuint(g.vcpu.trap.trapno, ==, 14);
    g_assert_cmphex(g.vcpu.trap.fault_addr, ==, PF_ADDR_A);
    g_assert_cmphex(g.vcpu.trap.error_code, ==, 4); /* user, read, not present */
    g_assert_cmphex(g.vcpu.regs.eip, ==, BLOB_BASE);
    guest_queue(&g, LILY_MAP_OP_MAP, PF_ADDR_A, 0x1000, PROT_READ, PF_OFFSET_A);
    guest_expect(&g, SIGTRAP);
    g_assert_cmpint(g.vcpu.op_error, ==, 0);
    g_assert_cmphex(g.vcpu.regs.eax, ==, 0xcafebabe);

    /* Write to the same page, mapped read-only. */
    guest_expect(&g, SIGSEGV);
    g_assert_cmpuint(g.vcpu.trap.trapno, ==, 14);
    g_assert_cmphex(g.vcpu.trap.fault_addr, ==, PF_ADDR_A);
    g_assert_cmphex(g.vcpu.trap.error_code, ==, 7); /* user, write, present */
    guest_queue(&g, LILY_MAP_OP_PROTECT, PF_ADDR_A, 0x1000, PROT_READ | PROT_WRITE, 0);
    guest_expect(&g, SIGTRAP);
    memcpy(&stored, g.ram + PF_OFFSET_A, 4);
    g_assert_cmphex(stored, ==, 0x12345678);

    /* Write to a page that is not mapped. */
    guest_expect(&g, SIGSEGV);
    g_assert_cmphex(g.vcpu.trap.fault_addr, ==, PF_ADDR_B);
    g_assert_cmphex(g.vcpu.trap.error_code, ==, 6); /* user, write, not present */
    guest_queue(&g, LILY_MAP_OP_MAP_POPULATE, PF_ADDR_B, 0x1000, PROT_READ | PROT_WRITE, PF_OFFSET_B);
    guest_expect(&g, SIGTRAP);
    g_assert_cmphex(g.vcpu.regs.ebx, ==, 0xabcdef01);
    memcpy(&stored, g.ram + PF_OFFSET_B, 4);
    g_assert_cmphex(stored, ==, 0xabcdef01);
    guest_teardown(&g);
}

static void test_bad_map_op(gconstpointer data)
{
    Guest g;
    FLAVOR(data);

    SETUP(&g, fl, int3);
    guest_expect(&g, SIGTRAP);
    /* Fine, then beyond the memfd, then above 4 GiB: stops at index 1. */
    guest_queue(&g, LILY_MAP_OP_MAP, PF_ADDR_A, 0x1000, PROT_READ, PF_OFFSET_A);
    guest_queue(&g, LILY_MAP_OP_MAP, PF_ADDR_B, 0x2000, PROT_READ, GUEST_RAM_SIZE - 0x1000);
    guest_queue(&g, LILY_MAP_OP_UNMAP, 0xfffff000, 0x2000, 0, 0);
    guest_expect(&g, SIGTRAP);
    g_assert_cmpint(g.vcpu.op_error, ==, -EINVAL);
    g_assert_cmpuint(g.vcpu.op_failed, ==, 1);
    /* Below vm.mmap_min_addr: the kernel refuses (unless we are root, whose
     * CAP_SYS_RAWIO lifts the limit); either way the process lives on. */
    g.vcpu.regs.eip = BLOB_BASE;
    guest_queue(&g, LILY_MAP_OP_MAP, 0, 0x1000, PROT_READ, 0);
    guest_expect(&g, SIGTRAP);
    g_assert_cmpint(g.vcpu.op_error, ==, geteuid() == 0 ? 0 : -EPERM);
    g_assert_cmpuint(g.vcpu.op_failed, ==, 0);
    guest_teardown(&g);
}

/* LDT ops: the stub writes owned entries and refuses every other descriptor
 * with -EINVAL (the process lives on). */
static void test_ldt_op(gconstpointer data)
{
    static const struct { const char *what; uint32_t index, limit; uint64_t bits; } bad[] = {
        { "index below the owned ones", LILY_LDT_FIRST - 1, 0xfffff, LILY_LDT_OP_FLAGS(0xf3, 0xc) },
        { "index above the owned ones", LILY_LDT_FIRST + LILY_LDT_COUNT, 0xfffff, LILY_LDT_OP_FLAGS(0xf3, 0xc) },
        { "DPL 0", LILY_LDT_FIRST, 0xfffff, LILY_LDT_OP_FLAGS(0x93, 0xc) },
        { "not present", LILY_LDT_FIRST, 0xfffff, LILY_LDT_OP_FLAGS(0x73, 0xc) },
        { "system descriptor (call gate)", LILY_LDT_FIRST, 0xfffff, LILY_LDT_OP_FLAGS(0xec, 0xc) },
        { "conforming code", LILY_LDT_FIRST, 0xfffff, LILY_LDT_OP_FLAGS(0xff, 0xc) },
        { "64-bit code (L)", LILY_LDT_FIRST, 0xfffff, LILY_LDT_OP_FLAGS(0xfb, 0xa) },
        { "limit wider than 20 bits", LILY_LDT_FIRST, 0x100000, LILY_LDT_OP_FLAGS(0xf3, 0xc) },
        { "bits above the flags", LILY_LDT_FIRST, 0xfffff, LILY_LDT_OP_FLAGS(0xf3, 0xc) | 0x1000 },
    };
    Guest g;
    FLAVOR(data);

    SETUP(&g, fl, int3);
    guest_expect(&g, SIGTRAP);
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_test_message("refused: %s", bad[i].what);
        g.vcpu.regs.eip = BLOB_BASE;
        /* A good one first: the batch stops at the bad one. */
        guest_queue(&g, LILY_MAP_OP_LDT, 0x1000, 0xfffff, LILY_LDT_FIRST + 3,
                    LILY_LDT_OP_FLAGS(0xf3, 0xc));
        guest_queue(&g, LILY_MAP_OP_LDT, 0, bad[i].limit, bad[i].index, bad[i].bits);
        guest_expect(&g, SIGTRAP);
        g_assert_cmpint(g.vcpu.op_error, ==, -EINVAL);
        g_assert_cmpuint(g.vcpu.op_failed, ==, 1);
    }
    /* Every owned index, code and data, expand-down, 16-bit: accepted. */
    g.vcpu.regs.eip = BLOB_BASE;
    for (uint32_t i = 0; i < LILY_LDT_COUNT; i++)
        guest_queue(&g, LILY_MAP_OP_LDT, 0x1000 * i, 0xfff, LILY_LDT_FIRST + i,
                    LILY_LDT_OP_FLAGS(i == 1 ? 0xfb : i == 2 ? 0xf7 : 0xf3, i == 4 ? 0 : 0x4));
    guest_expect(&g, SIGTRAP);
    g_assert_cmpint(g.vcpu.op_error, ==, 0);
    guest_teardown(&g);
}

/* Where the host honours the LDT: a code segment and a data segment with
 * bases, written by LDT ops and loaded by the resume that queues them. */
static void test_ldt_segments(gconstpointer data)
{
    const uint32_t data_base = 0x1000, code_base = BLOB_BASE;
    uint32_t stored = 0;
    GError *error = NULL;
    Guest g;
    FLAVOR(data);

    if (fl->bits != 32) {
        g_test_skip("segment bases apply in compatibility mode only");
        return;
    }
    if (!transport_probe_host_ldt(&error)) {
        g_test_skip(error->message);
        g_error_free(error);
        return;
    }
    SETUP(&g, fl, int3);
    guest_expect(&g, SIGTRAP);
    /* Resume at int3_t1 through CS based at BLOB_BASE: its store of EAX to
     * GUEST_DATA goes through DS, based at data_base. */
    guest_queue(&g, LILY_MAP_OP_LDT, code_base, 0xffff, LILY_LDT_FIRST + 1, LILY_LDT_OP_FLAGS(0xfb, 0x4));
    guest_queue(&g, LILY_MAP_OP_LDT, data_base, 0xfffff, LILY_LDT_FIRST + 3, LILY_LDT_OP_FLAGS(0xf3, 0xc));
    g.vcpu.regs.cs = LILY_LDT_SEL(1);
    g.vcpu.regs.ds = LILY_LDT_SEL(3);
    g.vcpu.regs.eip = MARK_ADDR(fl, int3, int3_t1) - code_base;
    g.vcpu.regs.eax = 0x5e65e65e;
    guest_expect(&g, SIGTRAP);
    g_assert_cmpint(g.vcpu.op_error, ==, 0);
    g_assert_cmphex(g.vcpu.regs.cs, ==, LILY_LDT_SEL(1));
    g_assert_cmphex(g.vcpu.regs.ds, ==, LILY_LDT_SEL(3));
    g_assert_cmphex(g.vcpu.regs.eip, ==, MARK_ADDR(fl, int3, int3_t2) - code_base);
    g_assert_cmphex(g.vcpu.regs.ecx, ==, 0x5e65e65f);
    memcpy(&stored, g.ram + GUEST_DATA_OFFSET + data_base, 4);
    g_assert_cmphex(stored, ==, 0x5e65e65e);
    memcpy(&stored, g.ram + GUEST_DATA_OFFSET, 4);
    g_assert_cmphex(stored, ==, 0);
    guest_teardown(&g);
}

/* The probe's answer on this host, with its reason. */
static void test_probe_host_ldt(void)
{
    GError *error = NULL;
    GError *compat = NULL;
    gboolean honoured = transport_probe_host_ldt(&error);

    if (honoured) {
        g_assert_no_error(error);
        g_test_message("this host honours the LDT");
    } else {
        g_assert_nonnull(error);
        g_test_message("%s", error->message);
        g_assert_true(g_str_has_prefix(error->message, "the host does not honour the LDT"));
        g_error_free(error);
    }
    /* The answer is computed once. */
    g_assert_cmpint(transport_probe_host_ldt(NULL), ==, honoured);
    if (!transport_probe_compat_mode(&compat)) {
        /* Without compatibility mode (PVM) there are no LDT loads either. */
        g_assert_false(honoured);
        g_error_free(compat);
    }
}

/* The guest process holds nothing below 4 GiB but the guest's mappings, and
 * no file descriptor but guest RAM. */
static void test_confined_layout(gconstpointer data)
{
    g_autofree char *maps = NULL;
    g_autofree char *path = NULL;
    g_auto(GStrv) lines = NULL;
    GDir *dir;
    const char *name;
    unsigned low = 0, fds = 0;
    Guest g;
    FLAVOR(data);

    SETUP(&g, fl, int3);
    guest_expect(&g, SIGTRAP);
    path = g_strdup_printf("/proc/%d/maps", (int)transport_pid(g.t));
    g_assert_true(g_file_get_contents(path, &maps, NULL, NULL));
    lines = g_strsplit(maps, "\n", -1);
    for (unsigned i = 0; lines[i] && lines[i][0]; i++) {
        unsigned long long start = g_ascii_strtoull(lines[i], NULL, 16);
        if (start < 0x100000000ull) {
            g_test_message("low mapping: %s", lines[i]);
            g_assert_true(g_str_has_prefix(lines[i], "00010000-00020000 r-xs") ||
                          g_str_has_prefix(lines[i], "00020000-00030000 rw-s"));
            g_assert_nonnull(strstr(lines[i], "lilyvm-test-ram"));
            low++;
        }
    }
    g_assert_cmpuint(low, ==, 2);
    g_free(path);
    path = g_strdup_printf("/proc/%d/fd", (int)transport_pid(g.t));
    dir = g_dir_open(path, 0, NULL);
    g_assert_nonnull(dir);
    while ((name = g_dir_read_name(dir)))
        fds++;
    g_dir_close(dir);
    g_assert_cmpuint(fds, ==, 1);
    /* Its own name: pkill lilyvm must not reach it. */
    g_autofree char *comm = NULL;
    g_free(path);
    path = g_strdup_printf("/proc/%d/comm", (int)transport_pid(g.t));
    g_assert_true(g_file_get_contents(path, &comm, NULL, NULL));
    g_assert_cmpstr(g_strchomp(comm), ==, "lilyvm-guest");
    guest_teardown(&g);
}

/* Selectors the VM must never hand over: caught before anything runs
 * (RPL 0); a selector with RPL 3 that the GDT does not hold ends the guest
 * process (signal: the stub's load faults) or is replaced by a null
 * selector (ptrace: the kernel's load on the way out has a fix-up). */
static void test_bad_selector(gconstpointer data)
{
    LilyRunResult r;
    Guest g;
    FLAVOR(data);

    SETUP(&g, fl, int3);
    guest_expect(&g, SIGTRAP);
    g.vcpu.regs.ds = 0x28; /* RPL 0 */
    g_assert_cmpint(transport_run(g.t, &g.vcpu, TEST_TIMEOUT_NS), ==, LILY_RUN_ERROR);
    g_assert_cmpstr(transport_last_error(g.t), ==, "the VM asked for invalid segment selectors");
    g_assert_cmpint(transport_pid(g.t), ==, 0);
    guest_teardown(&g);

    SETUP(&g, fl, int3);
    guest_expect(&g, SIGTRAP);
    g.vcpu.regs.ds = 0x43; /* RPL 3, but no such descriptor */
    r = guest_run(&g);
    if (fl->kind == LILY_TRANSPORT_SIGNAL) {
        g_assert_cmpint(r, ==, LILY_RUN_EXITED);
        g_assert_true(WIFSIGNALED(transport_exit_status(g.t)));
        g_assert_cmpint(WTERMSIG(transport_exit_status(g.t)), ==, SIGSEGV);
        g_assert_cmpint(transport_pid(g.t), ==, 0);
        g_assert_cmpint(transport_run(g.t, &g.vcpu, TEST_TIMEOUT_NS), ==, LILY_RUN_ERROR);
    } else if (r == LILY_RUN_TRAP) {
        g_assert_cmphex(g.vcpu.regs.ds, !=, 0x43);
    } else {
        g_assert_cmpint(transport_pid(g.t), ==, 0);
    }
    guest_teardown(&g);
}

/* The VM interrupts a guest that never traps. */
static void test_timeout_kick(gconstpointer data)
{
    Guest g;
    FLAVOR(data);

    SETUP(&g, fl, spin);
    g_assert_cmpint(transport_run(g.t, &g.vcpu, 50 * 1000 * 1000), ==, LILY_RUN_TIMEOUT);
    g_assert_cmpint(g.vcpu.trap.signo, ==, TRANSPORT_KICK_SIGNAL);
    g_assert_cmpuint(g.vcpu.trap.trapno, ==, LILY_TRAPNO_NONE);
    g_assert_cmphex(g.vcpu.regs.eip, ==, BLOB_BASE);
    g_assert_cmphex(g.vcpu.regs.cs, ==, flavor_cs(fl));
    /* ... and can resume it. */
    g_assert_cmpint(transport_run(g.t, &g.vcpu, 20 * 1000 * 1000), ==, LILY_RUN_TIMEOUT);
    guest_teardown(&g);
}

/* A guest that loads %fs/%gs gets them back after a trap (the handler
 * switches to the host's FS base in between). */
static void test_fs_loaded(gconstpointer data)
{
    uint32_t value = 0x600dcafe;
    Guest g;
    FLAVOR(data);

    SETUP(&g, fl, fs);
    memcpy(g.ram + GUEST_DATA_OFFSET, &value, 4);
    guest_expect(&g, SIGTRAP);
    g_assert_cmphex(g.vcpu.regs.fs, ==, LILY_SEL_DATA);
    g_assert_cmphex(g.vcpu.regs.gs, ==, LILY_SEL_DATA);
    guest_expect(&g, SIGTRAP);
    g_assert_cmphex(g.vcpu.regs.ebx, ==, value);
    g_assert_cmphex(g.vcpu.regs.fs, ==, LILY_SEL_DATA);
    guest_teardown(&g);
}

/* The VM does not believe a record the guest forged in the shared page. */
static void test_forged_record(gconstpointer data)
{
    Guest g;
    FLAVOR(data);
    uint64_t words[3];

    SETUP(&g, fl, forge);
    words[0] = (uint64_t)(uintptr_t)g.t->page;
    words[1] = offsetof(VcpuPage, trap) + offsetof(LilyTrap, signo);
    words[2] = offsetof(VcpuPage, state);
    memcpy(g.ram + GUEST_DATA_OFFSET + (GUEST_GADGET - GUEST_DATA), words, sizeof words);
    if (fl->kind == LILY_TRANSPORT_SIGNAL) {
        g_assert_cmpint(guest_run(&g), ==, LILY_RUN_ERROR);
        g_assert_cmpstr(transport_last_error(g.t), ==, "the guest process wrote an invalid trap record");
        g_assert_cmpint(transport_pid(g.t), ==, 0);
    } else {
        /* ptrace takes records from the kernel: the guest just spins. */
        g_assert_cmpint(transport_run(g.t, &g.vcpu, 50 * 1000 * 1000), ==, LILY_RUN_TIMEOUT);
    }
    guest_teardown(&g);
}

/* Both transports report the same records for the same guest. */
typedef struct RecordLog {
    LilyTrap trap[8];
    LilyRegs regs[8];
    unsigned n;
} RecordLog;

static void test_log(Guest *g, RecordLog *log)
{
    g_assert_cmpint(guest_run(g), ==, LILY_RUN_TRAP);
    g_assert_cmpuint(log->n, <, G_N_ELEMENTS(log->trap));
    log->trap[log->n] = g->vcpu.trap;
    log->regs[log->n] = g->vcpu.regs;
    log->n++;
}

static void test_record_run(const Flavor *fl, RecordLog *log)
{
    Guest g;

    memset(log, 0, sizeof *log);
    /* priv: three #GP and an int3 */
    SETUP(&g, fl, priv);
    for (unsigned i = 0; i < 3; i++) {
        test_log(&g, log);
        g.vcpu.regs.eip += i == 2 ? 2 : 1;
    }
    test_log(&g, log);
    guest_teardown(&g);
    /* pf: a read fault, resolved */
    SETUP(&g, fl, pf);
    test_log(&g, log);
    guest_queue(&g, LILY_MAP_OP_MAP, PF_ADDR_A, 0x1000, PROT_READ, PF_OFFSET_A);
    test_log(&g, log);
    test_log(&g, log); /* write fault on the read-only page */
    guest_teardown(&g);
}

static void test_identical_records(gconstpointer data)
{
    const Flavor *base = data;
    Flavor sig = { LILY_TRANSPORT_SIGNAL, base->bits }, pt = { LILY_TRANSPORT_PTRACE, base->bits };
    RecordLog a, b;

    if (!flavor_available(base) || !flavor_available(&pt))
        return;
    test_record_run(&sig, &a);
    test_record_run(&pt, &b);
    g_assert_cmpuint(a.n, ==, b.n);
    for (unsigned i = 0; i < a.n; i++) {
        g_assert_cmpuint(a.trap[i].signo, ==, b.trap[i].signo);
        g_assert_cmpint(a.trap[i].si_code, ==, b.trap[i].si_code);
        g_assert_cmpuint(a.trap[i].trapno, ==, b.trap[i].trapno);
        g_assert_cmphex(a.trap[i].error_code, ==, b.trap[i].error_code);
        g_assert_cmphex(a.trap[i].fault_addr, ==, b.trap[i].fault_addr);
        g_assert_cmphex(a.trap[i].host_ip, ==, b.trap[i].host_ip);
        g_assert_cmphex(a.trap[i].flags, ==, b.trap[i].flags);
        g_assert_cmphex(a.regs[i].eip, ==, b.regs[i].eip);
        g_assert_cmphex(a.regs[i].eflags, ==, b.regs[i].eflags);
        g_assert_cmphex(a.regs[i].eax, ==, b.regs[i].eax);
        g_assert_cmphex(a.regs[i].esp, ==, b.regs[i].esp);
        g_assert_true(memcmp(&a.regs[i], &b.regs[i], sizeof a.regs[i]) == 0);
    }
}

/* A guest process does not outlive its VM (PR_SET_PDEATHSIG; ptrace also
 * has PTRACE_O_EXITKILL).  The test adopts the orphan as a subreaper. */
static void test_vm_death(gconstpointer data)
{
    FLAVOR(data);
    int fds[2], status = 0;
    pid_t vm, guest = 0, r = 0;

    g_assert_cmpint(pipe(fds), ==, 0);
    g_assert_cmpint(prctl(PR_SET_CHILD_SUBREAPER, 1), ==, 0);
    vm = fork();
    g_assert_cmpint(vm, >=, 0);
    if (vm == 0) {
        Guest g;

        close(fds[0]);
        SETUP(&g, fl, spin);
        guest = transport_pid(g.t);
        if (transport_run(g.t, &g.vcpu, 20 * 1000 * 1000) == LILY_RUN_TIMEOUT)
            (void)!write(fds[1], &guest, sizeof guest);
        _exit(0); /* no clean-up: the VM just dies */
    }
    close(fds[1]);
    g_assert_cmpint(read(fds[0], &guest, sizeof guest), ==, sizeof guest);
    close(fds[0]);
    g_assert_cmpint(waitpid(vm, &status, 0), ==, vm);
    for (int i = 0; i < 500 && r == 0; i++) {
        r = waitpid(guest, &status, WNOHANG | __WALL);
        if (r == 0)
            g_usleep(10000);
    }
    if (r == 0) {
        kill(guest, SIGKILL);
        waitpid(guest, &status, __WALL);
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    g_assert_cmpint(r, ==, guest);
    g_assert_true(WIFSIGNALED(status));
    g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);
}

/* The in-guest fast path: a handler running in the guest process skips
 * cli/hlt/in by itself and counts them in guest RAM; the VM only sees the
 * final int3. */
#define LOCAL_COUNTER_OFFSET (GUEST_DATA_OFFSET + 0x800)

__attribute__((no_sanitize("address", "undefined"), no_stack_protector))
static bool test_local_skip(void *ctx, LilyRegs *regs, const LilyTrap *trap)
{
    volatile uint8_t *ram = ctx;
    uint32_t at = regs->eip - BLOB_BASE;
    uint8_t op;

    if (trap->signo != SIGSEGV || trap->trapno != 13 || at >= 0x10000)
        return false;
    op = ram[at];
    if (op != 0xfa && op != 0xf4 && op != 0xe4)
        return false;
    regs->eip += op == 0xe4 ? 2 : 1;
    (*(volatile uint32_t *)(ram + LOCAL_COUNTER_OFFSET))++;
    return true;
}

static void test_local_handler(gconstpointer data)
{
    LilyTransportConfig cfg = { .kind = LILY_TRANSPORT_SIGNAL, .spin_iterations = 2000,
                                .memfd_size = GUEST_RAM_SIZE, .local_handler = test_local_skip };
    GError *error = NULL;
    uint32_t count;
    Guest g;
    FLAVOR(data);

    /* guest_setup() with a local handler: the same steps by hand. */
    SETUP(&g, fl, priv);
    transport_free(g.t);
    cfg.memfd = g.memfd;
    cfg.local_ctx = g.ram;
    g.t = transport_new(&cfg, &error);
    g_assert_no_error(error);
    g_assert_true(transport_start(g.t, &error));
    g_assert_no_error(error);
    guest_expect(&g, SIGTRAP);
    g_assert_cmphex(g.vcpu.regs.eip, ==, MARK_ADDR(fl, priv, priv_end_trap));
    memcpy(&count, g.ram + LOCAL_COUNTER_OFFSET, 4);
    g_assert_cmpuint(count, ==, 3);
    guest_teardown(&g);
}

/* ---- syscalls from the guest --------------------------------------------- */

static char *test_path(const char *what)
{
    return g_strdup_printf("/tmp/lilyvm-native-%s-%d", what, (int)getpid());
}

static void guest_put_path(Guest *g, const char *path)
{
    g_assert_cmpuint(strlen(path), <, 0x100);
    strcpy((char *)g->ram + GUEST_DATA_OFFSET + (GUEST_PATH - GUEST_DATA), path);
}

static void test_int80(gconstpointer data)
{
    g_autofree char *path = test_path("int80");
    Guest g;
    FLAVOR(data);

    unlink(path);
    SETUP(&g, fl, int80);
    guest_put_path(&g, path);
    g_assert_cmpint(guest_run(&g), ==, LILY_RUN_TRAP);
    if (g.vcpu.trap.signo == SIGSEGV) {
        /* Kernels without a usable int $0x80 gate (PVM) raise #GP with the
         * IDT vector in the error code: still a trap, never a syscall. */
        g_assert_cmpuint(g.vcpu.trap.trapno, ==, 13);
        g_assert_cmphex(g.vcpu.trap.error_code, ==, 0x80 << 3 | 2);
        g_assert_cmphex(g.vcpu.regs.eip, ==, MARK_ADDR(fl, int80, int80_after) - 2);
        g.vcpu.regs.eip += 2;
    } else {
        g_assert_cmpint(g.vcpu.trap.signo, ==, SIGSYS);
        g_assert_cmpuint(g.vcpu.trap.syscall_nr, ==, 8);
        g_assert_cmphex(g.vcpu.trap.syscall_arch, ==, AUDIT_ARCH_I386);
        g_assert_cmpuint(g.vcpu.trap.trapno, ==, LILY_TRAPNO_NONE);
        g_assert_cmphex(g.vcpu.regs.eip, ==, MARK_ADDR(fl, int80, int80_after));
    }
    g_assert_cmphex(g.vcpu.regs.eax, ==, 8);
    g_assert_cmphex(g.vcpu.regs.ebx, ==, GUEST_PATH);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g.vcpu.regs.eax = 42; /* the VM's answer */
    guest_expect(&g, SIGTRAP);
    g_assert_cmphex(g.vcpu.regs.eax, ==, 42);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    guest_teardown(&g);
}

/* sysenter and syscall: whichever way the CPU treats them in the guest's
 * mode (#UD, or a 32-bit or 64-bit syscall) they must reach the VM as a trap
 * and never as a host syscall. */
static void test_fast_syscall(const Flavor *fl, const uint8_t *blob, size_t len, const char *what,
                              uint32_t insn)
{
    g_autofree char *path = test_path(what);
    Guest g;

    rmdir(path);
    unlink(path);
    guest_setup(&g, fl, blob, len);
    guest_put_path(&g, path);
    g_assert_cmpint(guest_run(&g), ==, LILY_RUN_TRAP);
    g_test_message("%s: signal %u trapno %u eip %#x host_ip %#llx arch %#x", what, g.vcpu.trap.signo,
                   g.vcpu.trap.trapno, g.vcpu.regs.eip, (unsigned long long)g.vcpu.trap.host_ip,
                   g.vcpu.trap.syscall_arch);
    if (g.vcpu.trap.signo == SIGILL) {
        g_assert_cmpuint(g.vcpu.trap.trapno, ==, 6);
        g_assert_cmphex(g.vcpu.regs.eip, ==, insn);
    } else if (g.vcpu.trap.syscall_arch == AUDIT_ARCH_I386) {
        /* Taken as a vDSO fast syscall: EIP is the host's landing pad, the
         * guest's EBP moved to ESP, the arguments intact. */
        g_assert_cmpint(g.vcpu.trap.signo, ==, SIGSYS);
        g_assert_cmphex(g.vcpu.trap.flags, ==, LILY_TRAP_F_FAST_SYSCALL);
        g_assert_cmphex(g.vcpu.trap.host_ip, >=, 0x100000000ull);
        g_assert_cmphex(g.vcpu.regs.ebx, ==, GUEST_PATH);
    } else {
        g_assert_cmpint(g.vcpu.trap.signo, ==, SIGSYS);
        g_assert_cmphex(g.vcpu.trap.syscall_arch, ==, AUDIT_ARCH_X86_64);
        g_assert_cmphex(g.vcpu.trap.flags, ==, 0);
        g_assert_cmphex(g.vcpu.regs.eip, ==, insn + 2);
    }
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    guest_teardown(&g);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

static void test_sysenter(gconstpointer data)
{
    FLAVOR(data);
    test_fast_syscall(fl, PICK(fl, sysenter), (size_t)(PICK_END(fl, sysenter) - PICK(fl, sysenter)),
                      "sysenter", MARK_ADDR(fl, sysenter, sysenter_insn));
}

static void test_syscall(gconstpointer data)
{
    FLAVOR(data);
    test_fast_syscall(fl, PICK(fl, syscall), (size_t)(PICK_END(fl, syscall) - PICK(fl, syscall)),
                      "syscall", MARK_ADDR(fl, syscall, syscall_insn));
}

/* ---- escapes to 64-bit mode ---------------------------------------------- */

static volatile sig_atomic_t test_got_sigusr1;

static void test_on_sigusr1(int sig)
{
    (void)sig;
    test_got_sigusr1 = 1;
}

/* A listener on 127.0.0.1 whose address goes into guest memory. */
static int test_listener(Guest *g)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sin, sizeof sin), ==, 0);
    g_assert_cmpint(listen(fd, 4), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sin, &len), ==, 0);
    memcpy(g->ram + GUEST_DATA_OFFSET + (GUEST_SOCKADDR - GUEST_DATA), &sin, sizeof sin);
    return fd;
}

static void test_no_connection(int listener)
{
    int c = accept(listener, NULL, NULL);

    g_assert_cmpint(c, ==, -1);
    g_assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    close(listener);
}

/* Host syscalls issued from guest memory in 64-bit mode trap like any
 * guest syscall and do nothing. */
static void test_escape_lowip(gconstpointer data)
{
    static const uint32_t expected[] = { 85, 41, 42, 59, 62 };
    g_autofree char *path = test_path("escape");
    uint32_t vm_pid = (uint32_t)getpid();
    int listener;
    Guest g;
    FLAVOR(data);

    unlink(path);
    test_got_sigusr1 = 0;
    signal(SIGUSR1, test_on_sigusr1);
    SETUP(&g, fl, escape_lowip);
    guest_put_path(&g, path);
    listener = test_listener(&g);
    memcpy(g.ram + GUEST_DATA_OFFSET + (GUEST_VMPID - GUEST_DATA), &vm_pid, 4);
    for (unsigned i = 0; i < G_N_ELEMENTS(expected); i++) {
        guest_expect(&g, SIGSYS);
        g_assert_cmpuint(g.vcpu.trap.syscall_nr, ==, expected[i]);
        g_assert_cmphex(g.vcpu.trap.syscall_arch, ==, AUDIT_ARCH_X86_64);
        g_assert_cmphex(g.vcpu.regs.cs, ==, LILY_SEL_CODE64);
        g_assert_cmphex(g.vcpu.trap.host_ip, <, 0x100000000ull);
        g.vcpu.regs.eax = (uint32_t)-ENOSYS;
    }
    guest_expect(&g, SIGTRAP);
    g_assert_cmphex(g.vcpu.regs.cs, ==, LILY_SEL_CODE64);
    guest_teardown(&g);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    test_no_connection(listener);
    g_assert_cmpint(test_got_sigusr1, ==, 0);
    signal(SIGUSR1, SIG_DFL);
}

/* Through a host `syscall` instruction above 4 GiB the filter sees the
 * stub's context: anything it does not allow kills the guest process. */
typedef struct EscapeCase {
    const char *name;
    uint64_t nr;
    uint64_t args[6];
} EscapeCase;

static void test_escape_gadget_case(const Flavor *fl, const EscapeCase *c, int listener, const char *path)
{
    uint64_t words[8] = { (uint64_t)(uintptr_t)test_syscall_gadget, c->nr };
    int status;
    Guest g;

    memcpy(&words[2], c->args, sizeof c->args);
    SETUP(&g, fl, escape_gadget);
    guest_put_path(&g, path);
    memcpy(g.ram + GUEST_DATA_OFFSET + (GUEST_GADGET - GUEST_DATA), words, sizeof words);
    if (listener >= 0) {
        struct sockaddr_in sin;
        socklen_t len = sizeof sin;
        g_assert_cmpint(getsockname(listener, (struct sockaddr *)&sin, &len), ==, 0);
        memcpy(g.ram + GUEST_DATA_OFFSET + (GUEST_SOCKADDR - GUEST_DATA), &sin, sizeof sin);
    }
    g_assert_cmpint(guest_run(&g), ==, LILY_RUN_EXITED);
    status = transport_exit_status(g.t);
    g_test_message("%s: %s", c->name, transport_last_error(g.t));
    g_assert_true(WIFSIGNALED(status));
    g_assert_cmpint(WTERMSIG(status), ==, SIGSYS);
    guest_teardown(&g);
}

static void test_escape_gadget(gconstpointer data)
{
    g_autofree char *path = test_path("gadget");
    const EscapeCase cases[] = {
        { "creat", SYS_creat, { GUEST_PATH, 0644 } },
        { "open", SYS_open, { GUEST_PATH, O_CREAT | O_WRONLY, 0644 } },
        { "socket", SYS_socket, { AF_INET, SOCK_STREAM, 0 } },
        { "connect", SYS_connect, { 0, GUEST_SOCKADDR, 16 } }, /* fd 0: closed, still refused */
        { "execve", SYS_execve, { GUEST_PATH, 0, 0 } },
        { "kill", SYS_kill, { (uint64_t)getpid(), SIGUSR1 } },
        { "mmap-high", SYS_mmap, { 0x7f0000000000ull, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, (uint64_t)-1, 0 } },
        { "mmap-anon-low", SYS_mmap, { 0x70000, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS, (uint64_t)-1, 0 } },
        { "mprotect-high", SYS_mprotect, { (uint64_t)(uintptr_t)test_syscall_gadget & ~0xfffull, 0x1000, PROT_READ | PROT_WRITE | PROT_EXEC } },
        { "munmap-straddle", SYS_munmap, { 0xfffff000ull, 0x2000 } },
        { "futex-elsewhere", SYS_futex, { 0x20000, 1 /* FUTEX_WAKE */, 1 } },
        { "arch_prctl-fs", SYS_arch_prctl, { 0x1002 /* ARCH_SET_FS */, 0x20000 } },
        { "ptrace", SYS_ptrace, { 0 /* PTRACE_TRACEME */ } },
        { "modify_ldt-read", SYS_modify_ldt, { 0, GUEST_DATA, 16 } },
        { "modify_ldt-old-write", SYS_modify_ldt, { 1, GUEST_DATA, 16 } },
        { "modify_ldt-long", SYS_modify_ldt, { 0x11, GUEST_DATA, 64 } },
        { "write", SYS_write, { 2, GUEST_PATH, 4 } },
    };
    int listener;
    Guest probe;
    FLAVOR(data);

    /* A listener for the connect case. */
    SETUP(&probe, fl, int3);
    listener = test_listener(&probe);
    guest_teardown(&probe);
    unlink(path);
    test_got_sigusr1 = 0;
    signal(SIGUSR1, test_on_sigusr1);
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++)
        test_escape_gadget_case(fl, &cases[i], listener, path);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    test_no_connection(listener);
    g_assert_cmpint(test_got_sigusr1, ==, 0);
    signal(SIGUSR1, SIG_DFL);
}

/* ---- registration ------------------------------------------------------- */

static const Flavor test_flavors[] = {
    { LILY_TRANSPORT_SIGNAL, 32 }, { LILY_TRANSPORT_SIGNAL, 64 },
    { LILY_TRANSPORT_PTRACE, 32 }, { LILY_TRANSPORT_PTRACE, 64 },
};

static void test_add(const char *name, GTestDataFunc fn)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(test_flavors); i++) {
        const Flavor *fl = &test_flavors[i];
        g_autofree char *path = g_strdup_printf("/native/%s/%s/%s", transport_kind_name(fl->kind),
                                                fl->bits == 32 ? "compat32" : "long64", name);
        g_test_add_data_func(path, fl, fn);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_cmpuint(stub_filter_length(), >, 0);
    g_test_add_func("/native/probe/host-ldt", test_probe_host_ldt);
    test_add("int3", test_int3);
    test_add("set-eax", test_set_eax);
    test_add("privileged", test_privileged);
    test_add("page-fault", test_page_fault);
    test_add("bad-map-op", test_bad_map_op);
    test_add("ldt-op", test_ldt_op);
    test_add("ldt-segments", test_ldt_segments);
    test_add("confined-layout", test_confined_layout);
    test_add("timeout-kick", test_timeout_kick);
    test_add("bad-selector", test_bad_selector);
    test_add("int80", test_int80);
    test_add("sysenter", test_sysenter);
    test_add("syscall", test_syscall);
    test_add("escape-lowip", test_escape_lowip);
    test_add("escape-gadget", test_escape_gadget);
    test_add("fs-loaded", test_fs_loaded);
    test_add("forged-record", test_forged_record);
    test_add("vm-death", test_vm_death);
    g_test_add_data_func("/native/signal/compat32/local-handler", &test_flavors[0], test_local_handler);
    g_test_add_data_func("/native/signal/long64/local-handler", &test_flavors[1], test_local_handler);
    g_test_add_data_func("/native/both/compat32/identical-records", &test_flavors[0], test_identical_records);
    g_test_add_data_func("/native/both/long64/identical-records", &test_flavors[1], test_identical_records);
    return g_test_run();
}
