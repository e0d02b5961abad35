/*
 * User programs of the test kernel.  They run at CPL 3 in their own address
 * spaces, reach the kernel only through system calls, and use no kernel code
 * or data: this file is linked into the .user section (see kernel.ld).
 */
#include "user.h"

static inline uint32_t sys0(uint32_t nr)
{
    uint32_t r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr) : "memory");
    return r;
}

static inline uint32_t sys2(uint32_t nr, uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b) : "memory");
    return r;
}

static inline uint64_t user_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static struct user_data *const data = (struct user_data *)USER_DATA_VA;

/* The first code every process runs: call the program, exit with its result. */
void user_start(user_entry_fn fn, uint32_t arg)
{
    uint32_t code = fn(arg);

    for (;;)
        sys2(SYS_EXIT, code, 0);
}

uint32_t user_exit_arg(uint32_t arg)
{
    return arg;
}

/* Exercise a few calls; the kernel checks what lands in the data page. */
uint32_t user_syscalls(uint32_t arg)
{
    data->word[0] = sys2(SYS_ADD, arg, 1000);
    data->word[1] = sys0(SYS_GETPID);
    data->word[2] = sys0(SYS_YIELD);
    data->word[3] = sys0(SYS_NULL);
    data->word[4] = sys0(0xdead); /* unknown: must fail, not crash */
    return 0;
}

/* Write arg at a virtual address every process shares, yield, read it back. */
uint32_t user_own_space(uint32_t arg)
{
    data->word[0] = arg;
    for (int i = 0; i < 8; i++)
        sys0(SYS_YIELD);
    return data->word[0] == arg ? 0 : 1;
}

/* Count without ever entering the kernel: only preemption can stop it. */
uint32_t user_count_forever(uint32_t arg)
{
    (void)arg;
    for (;;)
        data->counter++;
}

uint32_t user_read(uint32_t addr)
{
    return *(volatile uint32_t *)addr;
}

uint32_t user_write(uint32_t addr)
{
    *(volatile uint32_t *)addr = 0x5a5a5a5a;
    return 0;
}

uint32_t user_cli(uint32_t arg)
{
    (void)arg;
    __asm__ volatile("cli");
    return 0;
}

uint32_t user_hlt(uint32_t arg)
{
    (void)arg;
    __asm__ volatile("hlt");
    return 0;
}

uint32_t user_inb(uint32_t port)
{
    uint8_t v;
    __asm__ volatile("inb %w1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/*
 * At CPL 3 with IOPL 0, popf may not change IF: it stays set (and the timer
 * keeps preempting this loop).  Records what pushf showed before and after.
 */
uint32_t user_popf_if(uint32_t arg)
{
    uint32_t before, after;

    (void)arg;
    __asm__ volatile("pushfl\n\tpopl %0" : "=r"(before));
    __asm__ volatile("pushl %0\n\tpopfl" : : "r"(before & ~0x200u) : "cc");
    __asm__ volatile("pushfl\n\tpopl %0" : "=r"(after));
    data->word[0] = before;
    data->word[1] = after;
    for (;;)
        data->counter++;
}

uint32_t user_int_dpl3(uint32_t arg)
{
    uint32_t r = arg;
    __asm__ volatile("int $0x81" : "+a"(r) : : "memory");
    return r;
}

uint32_t user_int_dpl0(uint32_t arg)
{
    (void)arg;
    __asm__ volatile("int $0x82" : : : "memory");
    return 0;
}

/*
 * Load distinctive values into the x87 stack and (with USER_FPU_SSE) all
 * eight XMM registers, keep them there across several timer ticks while
 * another process does the same with other values, then check them.
 * Returns 0, or 1 + the index of the first wrong value.
 */
uint32_t user_fpu(uint32_t arg)
{
    uint32_t seed = arg & ~USER_FPU_SSE;
    uint32_t xin[32] __attribute__((aligned(16)));
    uint32_t xout[32] __attribute__((aligned(16)));
    int32_t fin[4], fout[4];

    for (int i = 0; i < 32; i++)
        xin[i] = seed * 0x9e3779b9u + (uint32_t)i * 0x01010101u;
    for (int i = 0; i < 4; i++)
        fin[i] = (int32_t)(seed * 1000 + (uint32_t)i);

    __asm__ volatile("fninit\n\t"
                     "fildl 0(%0)\n\tfildl 4(%0)\n\tfildl 8(%0)\n\tfildl 12(%0)"
                     : : "r"(fin) : "memory");
    if (arg & USER_FPU_SSE)
        __asm__ volatile("movups 0(%0), %%xmm0\n\tmovups 16(%0), %%xmm1\n\t"
                         "movups 32(%0), %%xmm2\n\tmovups 48(%0), %%xmm3\n\t"
                         "movups 64(%0), %%xmm4\n\tmovups 80(%0), %%xmm5\n\t"
                         "movups 96(%0), %%xmm6\n\tmovups 112(%0), %%xmm7"
                         : : "r"(xin) : "memory");

    /* This code is built for general registers only, so the values above
     * stay untouched unless the kernel fails to switch FPU state. */
    uint32_t start = sys0(SYS_TICKS);
    while (sys0(SYS_TICKS) - start < 20)
        data->counter++;

    __asm__ volatile("fistpl 12(%0)\n\tfistpl 8(%0)\n\tfistpl 4(%0)\n\tfistpl 0(%0)"
                     : : "r"(fout) : "memory");
    if (arg & USER_FPU_SSE)
        __asm__ volatile("movups %%xmm0, 0(%0)\n\tmovups %%xmm1, 16(%0)\n\t"
                         "movups %%xmm2, 32(%0)\n\tmovups %%xmm3, 48(%0)\n\t"
                         "movups %%xmm4, 64(%0)\n\tmovups %%xmm5, 80(%0)\n\t"
                         "movups %%xmm6, 96(%0)\n\tmovups %%xmm7, 112(%0)"
                         : : "r"(xout) : "memory");

    for (int i = 0; i < 4; i++)
        if (fout[i] != fin[i])
            return 1 + (uint32_t)i;
    if (arg & USER_FPU_SSE)
        for (int i = 0; i < 32; i++)
            if (xout[i] != xin[i])
                return 5 + (uint32_t)i;
    return 0;
}

/*
 * Write to, then read back, one word in each of the first pages of the
 * demand-paged window: every first touch is a #PF the kernel resolves.
 * Returns 0, or 1 + the index of the first page that lost its word.
 */
uint32_t user_touch_pages(uint32_t pages)
{
    for (uint32_t i = 0; i < pages; i++)
        *(volatile uint32_t *)(USER_DEMAND_VA + i * 4096 + 4 * i) = 0xd0d00000u + i;
    for (uint32_t i = 0; i < pages; i++)
        if (*(volatile uint32_t *)(USER_DEMAND_VA + i * 4096 + 4 * i) != 0xd0d00000u + i)
            return 1 + i;
    return 0;
}

/* Cycles per null system call: USER_SAMPLES batches of arg calls each. */
uint32_t user_bench_syscall(uint32_t arg)
{
    for (int s = 0; s < USER_SAMPLES; s++) {
        uint64_t t0 = user_rdtsc();
        for (uint32_t i = 0; i < arg; i++)
            sys0(SYS_NULL);
        uint64_t t1 = user_rdtsc();
        data->samples[s] = (uint32_t)(t1 - t0) / arg;
    }
    return 0;
}

/*
 * Cycles per process switch: with two of these running, each yield switches
 * to the other process and the next one returns here, so one batch of arg
 * yields is 2 * arg switches (system calls included).
 */
uint32_t user_bench_yield(uint32_t arg)
{
    for (int s = 0; s < USER_SAMPLES; s++) {
        uint64_t t0 = user_rdtsc();
        for (uint32_t i = 0; i < arg; i++)
            sys0(SYS_YIELD);
        uint64_t t1 = user_rdtsc();
        data->samples[s] = (uint32_t)(t1 - t0) / (2 * arg);
    }
    return 0;
}

/* The ring 0 routine behind the DPL 3 call gate USER_GATE_SEL: arg + 2. */
uint32_t user_call_gate(uint32_t arg)
{
    uint32_t r;
    __asm__ volatile("pushl $2\n\tpushl %1\n\tlcall %2, $0"
                     : "=a"(r) : "r"(arg), "i"(USER_GATE_SEL) : "memory");
    return r;
}
