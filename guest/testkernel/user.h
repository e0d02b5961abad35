/*
 * What the test kernel and its user programs share: the system call numbers,
 * the user address-space layout, and the per-process data page.
 */
#ifndef TK_USER_H
#define TK_USER_H

#include <stdint.h>

#define USER_CODE_VA   0x40000000u /* the linker script's USER_VMA */
#define USER_DATA_VA   0x50000000u /* one private page per process */
#define USER_DEMAND_VA 0x58000000u /* pages mapped on first touch */
#define USER_DEMAND_SIZE 0x00100000u
#define USER_STACK_TOP 0x7ffff000u
#define USER_STACK_PAGES 2

#define SYSCALL_VECTOR 0x80
#define INT_DPL3_VECTOR 0x81 /* a gate user mode may use */
#define INT_DPL0_VECTOR 0x82 /* a gate it may not: #GP */
#define INT_DPL3_MAGIC 0x81810000u
#define USER_GATE_SEL 0x3b /* the kernel's DPL 3 call gate (GDT slot 7, RPL 3) */

enum {
    SYS_EXIT = 0,  /* ebx = exit code; does not return */
    SYS_GETPID = 1,
    SYS_YIELD = 2,
    SYS_ADD = 3,   /* returns ebx + ecx */
    SYS_TICKS = 4, /* timer ticks since boot */
    SYS_NULL = 5,  /* does nothing: the benchmark's null call */
};

#define USER_SAMPLES 64

struct user_data {
    volatile uint32_t counter;
    volatile uint32_t word[7];
    volatile uint32_t samples[USER_SAMPLES];
};

typedef uint32_t (*user_entry_fn)(uint32_t arg);

/* User programs (user.c): each returns its exit code. */
void user_start(user_entry_fn fn, uint32_t arg);
uint32_t user_exit_arg(uint32_t arg);
uint32_t user_syscalls(uint32_t arg);
uint32_t user_own_space(uint32_t arg);
uint32_t user_count_forever(uint32_t arg);
uint32_t user_read(uint32_t addr);
uint32_t user_write(uint32_t addr);
uint32_t user_cli(uint32_t arg);
uint32_t user_hlt(uint32_t arg);
uint32_t user_inb(uint32_t port);
uint32_t user_popf_if(uint32_t arg);
uint32_t user_int_dpl3(uint32_t arg);
uint32_t user_int_dpl0(uint32_t arg);
uint32_t user_call_gate(uint32_t arg);
#define USER_FPU_SSE 0x80000000u /* arg flag: the CPU has SSE, check XMM too */
uint32_t user_fpu(uint32_t arg);
uint32_t user_touch_pages(uint32_t pages);
uint32_t user_bench_syscall(uint32_t arg);
uint32_t user_bench_yield(uint32_t arg);

#endif
