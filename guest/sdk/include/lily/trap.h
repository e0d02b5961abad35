/* Exception and interrupt dispatch: the frame the entry stubs build, handlers. */
#ifndef LILY_TRAP_H
#define LILY_TRAP_H

#include <stdint.h>

#define VEC_DE  0
#define VEC_DB  1
#define VEC_NMI 2
#define VEC_BP  3
#define VEC_UD  6
#define VEC_NM  7
#define VEC_DF  8
#define VEC_TS  10
#define VEC_NP  11
#define VEC_SS  12
#define VEC_GP  13
#define VEC_PF  14
#define VEC_MF  16
#define VEC_XM  19
#define VEC_IRQ0 0x20 /* where pic_remap() is expected to put IRQ 0 */
#define TRAP_VECTORS 256

/* #PF error code bits. */
#define PF_P 0x1 /* protection violation (else not present) */
#define PF_W 0x2 /* write */
#define PF_U 0x4 /* from CPL 3 */

/*
 * What the entry stubs push: general registers (pusha order), the vector,
 * the error code (0 when the CPU pushes none), then the CPU's own frame.
 * user_esp and user_ss exist only when the trap came from CPL 3.
 */
struct trap_frame {
    uint32_t edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;
    uint32_t vector, error;
    uint32_t eip, cs, eflags;
    uint32_t user_esp, user_ss;
};

static inline int trap_from_user(const struct trap_frame *f) { return (f->cs & 3) == 3; }

typedef void (*trap_handler_fn)(struct trap_frame *f);

/* Route vector to fn (NULL restores the default: report and fail the run). */
void trap_set_handler(unsigned vector, trap_handler_fn fn);
/* Called by the entry stubs. */
void trap_dispatch(struct trap_frame *f);
/* The stub tail that restores a trap frame and irets: a new context's entry. */
extern char trap_return[];
/* An entry that only irets, for gates that need nothing done (benchmarks). */
extern char trap_iret_only[];

#endif
