/*
 * Debug-exit port: ends the VM with a status.  Guest convention: write 0 for
 * success, 1 for failure.  QEMU's isa-debug-exit exits with (v << 1) | 1, so
 * success is QEMU status 1 and failure 3; LilyVM exits with v itself (0 or 1).
 */
#ifndef LILY_DEBUGEXIT_H
#define LILY_DEBUGEXIT_H

#define DEBUG_EXIT_PORT    0xf4
#define DEBUG_EXIT_SUCCESS 0
#define DEBUG_EXIT_FAILURE 1

/* Never returns: if no debug-exit device is present, halts forever. */
void debug_exit(unsigned code) __attribute__((noreturn));

#endif
