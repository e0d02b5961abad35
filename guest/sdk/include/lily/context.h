/* Kernel context switch between stacks (see context.S for the frame layout). */
#ifndef LILY_CONTEXT_H
#define LILY_CONTEXT_H

#include <stdint.h>

/*
 * What ctx_switch() pops from a stack it switches to, lowest address first:
 * build one below a trap_frame, with ret = trap_return, to start a context
 * that "returns" from a trap into new code.
 */
struct ctx_frame {
    uint32_t edi, esi, ebx, ebp;
    uint32_t ret;
};

void ctx_switch(uint32_t *save_esp, uint32_t load_esp);

#endif
