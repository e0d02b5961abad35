/* Scratch directories for the device tests' sockets, logs and links. */
#ifndef LILYVM_TESTS_DEVICES_SCRATCH_H
#define LILYVM_TESTS_DEVICES_SCRATCH_H

/* A new empty directory under $TMPDIR named after prefix (g_free'd by scratch_remove). */
char *scratch_dir(const char *prefix);
/* Remove dir, its files, and free the name. */
void scratch_remove(char *dir);

#endif
