/*
 * Raw mode for the controlling terminal of the stdio console, restored on
 * every way out of the process: fini, exit(), and fatal signals.
 */
#ifndef LILYVM_CONSOLE_TERM_H
#define LILYVM_CONSOLE_TERM_H

#include <glib.h>

/*
 * term_raw_enter() - put the terminal on fd into raw mode
 * @fd: a terminal (the caller checked isatty)
 * @error: set when the terminal settings cannot be read or changed
 *
 * Saves the current settings, installs an atexit() hook and handlers for
 * the fatal signals that put them back, then switches off line editing,
 * echo, signal keys and input translation.  Output processing (OPOST) stays
 * on so that a lone "\n" from the guest still returns the carriage.  Only
 * one terminal can be in raw mode at a time.
 *
 * Return: TRUE on success.
 */
gboolean term_raw_enter(int fd, GError **error);

/* Put the saved settings back (idempotent, async-signal-safe). */
void term_restore(void);

/*
 * Restore the terminal and take the signal handlers out again (those that
 * are still ours), for the console's fini.  The atexit() hook stays: it does
 * nothing once the terminal is restored.
 */
void term_raw_leave(void);

#endif /* LILYVM_CONSOLE_TERM_H */
