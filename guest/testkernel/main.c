/*
 * The LilyVM test kernel: checks CPU, exception, paging, user-mode and
 * interrupt behaviour (and the network library, given an NE2000) and
 * reports it as TAP on COM1, or (with the command line word "bench")
 * measures the cost of guest operations.  It ends through the debug-exit
 * port: success only if every test passed.
 */
#include <stdio.h>
#include <string.h>
#include <lily/cpu.h>
#include <lily/debugexit.h>
#include <lily/desc.h>
#include <lily/multiboot.h>
#include <lily/paging.h>
#include <lily/pic.h>
#include <lily/serial.h>
#include "kernel.h"
#include "tap.h"

#ifndef LILY_FLAVOUR
#define LILY_FLAVOUR "plain"
#endif

void kmain(uint32_t magic, uint32_t mbi_pa);

static const struct tk_test tests[] = {
    { "/cpu/gdt-load", t_cpu_gdt_load },
    { "/cpu/segment-reload", t_cpu_segment_reload },
    { "/cpu/segment-base", t_cpu_segment_base },
    { "/cpu/code-segment-base", t_cpu_code_segment_base },
    { "/cpu/stack-segment-base", t_cpu_stack_segment_base },
    { "/cpu/idt-load", t_cpu_idt_load },
    { "/cpu/gate-if", t_cpu_gate_if },
    { "/cpu/tss-load", t_cpu_tss_load },
    { "/cpu/cli-sti", t_cpu_cli_sti },
    { "/cpu/pushf-if", t_cpu_pushf_if },
    { "/cpu/popf-if", t_cpu_popf_if },
    { "/cpu/cpuid", t_cpu_cpuid },
    { "/cpu/rdtsc-monotonic", t_cpu_rdtsc },
    { "/cpu/cr0-cr4", t_cpu_cr0_cr4 },
    { "/cpu/call-gate", t_cpu_call_gate },
    { "/cpu/task-switch", t_cpu_task_switch },
    { "/cpu/io-bitmap-ring1", t_cpu_io_bitmap },
    { "/exc/de", t_exc_de },
    { "/exc/ud", t_exc_ud },
    { "/exc/bp", t_exc_bp },
    { "/exc/gp-user-privileged", t_exc_gp_user },
    { "/exc/pf-read-not-present", t_exc_pf_read },
    { "/exc/pf-write-not-present", t_exc_pf_write },
    { "/exc/int-dpl3-gate", t_exc_int_dpl3 },
    { "/exc/int-dpl0-gate-from-user", t_exc_int_dpl0 },
    { "/exc/df-task-gate", t_exc_df_task_gate },
    { "/paging/enabled", t_paging_enabled },
    { "/paging/higher-half", t_paging_higher_half },
    { "/paging/map-4k", t_paging_map_4k },
    { "/paging/pse-4m", t_paging_pse },
    { "/paging/invlpg", t_paging_invlpg },
    { "/paging/cr3-reload-flush", t_paging_cr3_flush },
    { "/paging/accessed-dirty", t_paging_accessed_dirty },
    { "/paging/cr0-wp", t_paging_wp },
    { "/paging/off-and-on", t_paging_off_on },
    { "/user/exit", t_user_exit },
    { "/user/syscall", t_user_syscall },
    { "/user/address-spaces", t_user_address_spaces },
    { "/user/preemption", t_user_preemption },
    { "/user/supervisor-page", t_user_supervisor_page },
    { "/user/cli-gp", t_user_cli },
    { "/user/io-gp", t_user_io_gp },
    { "/user/call-gate", t_user_call_gate },
    { "/user/popf-if-ignored", t_user_popf_if },
    { "/user/pf-not-present", t_user_not_present },
    { "/user/demand-paging", t_user_demand_paging },
    { "/user/fpu-sse-switch", t_user_fpu_sse },
    { "/irq/pic-remap", t_irq_pic_remap },
    { "/irq/pit-ticks", t_irq_pit_ticks },
    { "/irq/mask", t_irq_mask },
    { "/irq/eoi", t_irq_eoi },
    { "/irq/cli-defers", t_irq_cli_defers },
    { "/dev/uart-loopback", t_dev_uart_loopback },
    { "/net/dhcp-lease", t_net_dhcp_lease },
    { "/net/ping-gateway", t_net_ping_gateway },
    { "/net/udp-exchange", t_net_udp_exchange },
    { "/net/tcp-client", t_net_tcp_client },
    { "/net/tcp-accept", t_net_tcp_accept },
};

static void com1_write(const char *s, unsigned len)
{
    serial_write(SERIAL_COM1, s, len);
}

/* Copy the value of the first "key=value" word into buf; NULL if none. */
static const char *cmdline_value(const char *cmdline, const char *key, char *buf, size_t size)
{
    size_t n = strlen(key);

    for (const char *p = cmdline; *p;) {
        while (*p == ' ')
            p++;
        const char *end = p;
        while (*end && *end != ' ')
            end++;
        if ((size_t)(end - p) > n && !strncmp(p, key, n) && p[n] == '=') {
            size_t len = (size_t)(end - p) - n - 1;
            if (len >= size)
                len = size - 1;
            memcpy(buf, p + n + 1, len);
            buf[len] = '\0';
            return buf;
        }
        p = end;
    }
    return NULL;
}

/* True if word appears as a whole word in the command line. */
static int cmdline_has(const char *cmdline, const char *word)
{
    size_t n = strlen(word);

    for (const char *p = cmdline; *p;) {
        while (*p == ' ')
            p++;
        const char *end = p;
        while (*end && *end != ' ')
            end++;
        if ((size_t)(end - p) == n && !strncmp(p, word, n))
            return 1;
        p = end;
    }
    return 0;
}

void kmain(uint32_t magic, uint32_t mbi_pa)
{
    static char cmdline[256];
    uint32_t mem_top = 16u << 20;

    desc_init();
    idt_init();
    exc_init();
    paging_drop_identity();
    serial_init(SERIAL_COM1);
    console_set_output(com1_write);

    /* A leading newline keeps the first line apart from firmware output. */
    printf("\n# LilyVM test kernel (%s build)\n", LILY_FLAVOUR);
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC) {
        printf("Bail out! not started by a Multiboot loader (eax %#x)\n", magic);
        debug_exit(DEBUG_EXIT_FAILURE);
    }
    if (mbi_pa < KERNEL_MAP_SIZE - sizeof(struct multiboot_info)) {
        const struct multiboot_info *mbi = P2V(mbi_pa);
        if (mbi->flags & MULTIBOOT_INFO_MEMORY)
            mem_top = (1u << 20) + mbi->mem_upper * 1024u;
        if (mbi->flags & MULTIBOOT_INFO_CMDLINE) {
            /* Copy at most what is mapped and what fits (a longer line is
             * cut); control characters would break the TAP stream. */
            const char *src = P2V(mbi->cmdline);
            for (uint32_t i = 0; i + 1 < sizeof cmdline && mbi->cmdline + i < KERNEL_MAP_SIZE &&
                                 src[i]; i++)
                cmdline[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
        }
    }
    printf("# cmdline \"%s\", memory %u KiB\n", cmdline, mem_top / 1024);

    page_alloc_init(mem_top);
    pic_remap(VEC_IRQ0, VEC_IRQ0 + 8);
    fpu_init();
    proc_init();
    timer_init(TIMER_HZ);
    sti();
    timer_probe();
    if (!timer_works)
        printf("# no timer interrupt arrived: tests that need IRQ 0 will be skipped\n");

    if (cmdline_has(cmdline, "bench")) {
        bench_run();
        debug_exit(DEBUG_EXIT_SUCCESS);
    }
    tap_verbose = cmdline_has(cmdline, "verbose");
    static char only[128];
    tap_only = cmdline_value(cmdline, "only", only, sizeof only);
    static char udpecho[8], tcpecho[8];
    t_net_udpecho = cmdline_value(cmdline, "udpecho", udpecho, sizeof udpecho);
    t_net_tcpecho = cmdline_value(cmdline, "tcpecho", tcpecho, sizeof tcpecho);
    unsigned failures = tap_run(tests, sizeof tests / sizeof tests[0]);
    debug_exit(failures ? DEBUG_EXIT_FAILURE : DEBUG_EXIT_SUCCESS);
}
