/*
 * Signal transport hand-over: adaptive spinning keeps every round trip
 * correct and its budgets within the configured ceiling, whether the VM and
 * the guest process share a CPU or not.  No timing is asserted.
 */
#define _GNU_SOURCE
#include <glib.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/transport/transport-internal.h"
#include "tests/native/guest-layout.h"

extern const uint8_t blob32_int3_loop[], blob32_int3_loop_end[], blob64_int3_loop[], blob64_int3_loop_end[];

#define HO_TIMEOUT_NS (5000ll * 1000 * 1000)
#define HO_TRIPS 300
#define HO_CEILING 3000u

typedef enum { HO_UNPINNED, HO_SAME_CPU, HO_SPLIT_CPUS } HoPin;

typedef struct HoCase {
    uint32_t spin;
    bool adaptive;
    HoPin pin;
} HoCase;

/* 32-bit guest code where the host allows it, else 64-bit (docs/native.md §0). */
static int ho_bits(void)
{
    GError *error = NULL;

    if (transport_probe_compat_mode(&error))
        return 32;
    g_clear_error(&error);
    return 64;
}

/* The first two CPUs this process may use; false when it has only one. */
static bool ho_two_cpus(int cpu[2])
{
    cpu_set_t set;
    int n = 0;

    g_assert_cmpint(sched_getaffinity(0, sizeof set, &set), ==, 0);
    for (int i = 0; i < CPU_SETSIZE && n < 2; i++)
        if (CPU_ISSET(i, &set))
            cpu[n++] = i;
    if (n == 1)
        cpu[1] = cpu[0];
    return n == 2;
}

static void ho_pin(pid_t pid, int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    g_assert_cmpint(sched_setaffinity(pid, sizeof set, &set), ==, 0);
}

/* HO_TRIPS round trips of an int3 loop; the budgets checked after each. */
static void ho_run(gconstpointer data)
{
    const HoCase *c = data;
    int bits = ho_bits();
    const uint8_t *blob = bits == 32 ? blob32_int3_loop : blob64_int3_loop;
    size_t len = (size_t)((bits == 32 ? blob32_int3_loop_end : blob64_int3_loop_end) - blob);
    LilyTransportConfig cfg = { .kind = LILY_TRANSPORT_SIGNAL, .spin_iterations = c->spin,
                                .spin_adaptive = c->adaptive };
    cpu_set_t saved;
    GError *error = NULL;
    LilyVcpu vcpu;
    int cpu[2];

    if (c->pin == HO_SPLIT_CPUS && !ho_two_cpus(cpu)) {
        g_test_skip("this process may use only one CPU");
        return;
    }
    ho_two_cpus(cpu);
    g_assert_cmpint(sched_getaffinity(0, sizeof saved, &saved), ==, 0);
    int memfd = memfd_create("lilyvm-handover-ram", MFD_CLOEXEC);
    g_assert_cmpint(memfd, >=, 0);
    g_assert_cmpint(ftruncate(memfd, GUEST_RAM_SIZE), ==, 0);
    uint8_t *ram = mmap(NULL, GUEST_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    g_assert_true(ram != MAP_FAILED);
    memcpy(ram, blob, len);
    cfg.memfd = memfd;
    cfg.memfd_size = GUEST_RAM_SIZE;

    if (c->pin != HO_UNPINNED)
        ho_pin(0, cpu[0]);
    LilyTransport *t = transport_new(&cfg, &error);
    g_assert_no_error(error);
    g_assert_true(transport_start(t, &error));
    g_assert_no_error(error);
    if (c->pin == HO_SPLIT_CPUS)
        ho_pin(transport_pid(t), cpu[1]);

    memset(&vcpu, 0, sizeof vcpu);
    vcpu.regs = (LilyRegs){
        .eip = BLOB_BASE, .esp = GUEST_STACK_TOP - 16, .eflags = 0x202,
        .cs = bits == 32 ? LILY_SEL_CODE32 : LILY_SEL_CODE64,
        .ss = LILY_SEL_DATA, .ds = LILY_SEL_DATA, .es = LILY_SEL_DATA,
    };
    vcpu.ops[0] = (LilyMapOp){ LILY_MAP_OP_MAP, PROT_READ | PROT_EXEC, BLOB_BASE, 0x10000, 0 };
    vcpu.n_ops = 1;
    for (unsigned i = 0; i < HO_TRIPS; i++) {
        LilyRunResult r = transport_run(t, &vcpu, HO_TIMEOUT_NS);
        if (r != LILY_RUN_TRAP)
            g_test_message("trip %u: result %d: %s", i, r, transport_last_error(t));
        g_assert_cmpint(r, ==, LILY_RUN_TRAP);
        g_assert_cmpint(vcpu.op_error, ==, 0);
        g_assert_cmpuint(vcpu.trap.signo, ==, SIGTRAP);
        g_assert_cmphex(vcpu.regs.eip, ==, BLOB_BASE + 1); /* just past the int3 */
        g_assert_cmpuint(t->page->spin_iterations, <=, c->spin);
        if (c->adaptive) {
            g_assert_cmpuint(t->vm_spin, <=, c->spin);
            g_assert_cmpuint(t->stub_spin, <=, c->spin);
        } else {
            /* Fixed spinning hands the stub the configured count, always. */
            g_assert_cmpuint(t->page->spin_iterations, ==, c->spin);
        }
    }
    transport_free(t);
    g_assert_cmpint(sched_setaffinity(0, sizeof saved, &saved), ==, 0);
    munmap(ram, GUEST_RAM_SIZE);
    close(memfd);
}

static const HoCase ho_cases[] = {
    { HO_CEILING, true, HO_UNPINNED },
    { HO_CEILING, true, HO_SAME_CPU },
    { HO_CEILING, true, HO_SPLIT_CPUS },
    { HO_CEILING, false, HO_SAME_CPU },
    { 0, true, HO_UNPINNED },
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/native/handover/adaptive/unpinned", &ho_cases[0], ho_run);
    g_test_add_data_func("/native/handover/adaptive/same-cpu", &ho_cases[1], ho_run);
    g_test_add_data_func("/native/handover/adaptive/split-cpus", &ho_cases[2], ho_run);
    g_test_add_data_func("/native/handover/fixed/same-cpu", &ho_cases[3], ho_run);
    g_test_add_data_func("/native/handover/adaptive/no-spin", &ho_cases[4], ho_run);
    return g_test_run();
}
