/*
 * The VM object as the rest of the core, the lilyvm program and the tests see
 * it: build a machine from a config, drive its bus, watch its IRQ lines and
 * run its main loop.  Device tests use exactly these calls to exercise real
 * plugins through the real loader.
 */
#ifndef LILYVM_CORE_VM_H
#define LILYVM_CORE_VM_H

#include <lilyvm/lilyvm.h>

typedef struct LilyVm LilyVm;

/* Exit statuses of the lilyvm program besides the guest's own. */
#define LILYVM_EXIT_CONFIG 125  /* bad command line, config, plugin or kernel image */
#define LILYVM_EXIT_CRASH 124   /* the guest crashed or the VM failed while running */
#define LILYVM_EXIT_NO_CPU 123  /* no CPU plugin: machine built and checked, guest not run */

LilyVm *vm_new(void);
/**
 * vm_stop() - run every plugin instance's fini, the CPU first, the MMU last.
 *
 * Counters stay readable (vm_print_stats()) until vm_free(), so what a
 * plugin counts while it stops is reported too. Calling it again, or
 * vm_free() after it, does nothing more.
 */
void vm_stop(LilyVm *vm);
void vm_free(LilyVm *vm);

/*
 * Load plugins from the default search path (the build tree's plugin
 * directory when running uninstalled, the installed plugin directory, and
 * every directory in LILYVM_PLUGIN_PATH).
 */
gboolean vm_load_plugins(LilyVm *vm, GError **error);

/* Apply a config file, or config text (filename is used in messages). */
gboolean vm_configure_file(LilyVm *vm, const char *path, GError **error);
gboolean vm_configure_data(LilyVm *vm, const char *text, const char *filename,
                           GError **error);
/* Override one key, as --set group.key=value does. */
gboolean vm_set_option(LilyVm *vm, const char *assignment, GError **error);

/* Create RAM and every configured instance. */
gboolean vm_realize(LilyVm *vm, GError **error);

/* Port I/O as the CPU would do it (size 1, 2 or 4). Unclaimed ports read as all ones. */
uint32_t bus_pio_read(LilyVm *vm, uint16_t port, unsigned size);
void bus_pio_write(LilyVm *vm, uint16_t port, unsigned size, uint32_t value);
uint32_t bus_mmio_read(LilyVm *vm, uint64_t gpa, unsigned size);
void bus_mmio_write(LilyVm *vm, uint64_t gpa, unsigned size, uint32_t value);

/* Current level of interrupt line n as the devices drive it (0/1). */
int vm_irq_level(LilyVm *vm, unsigned line);

/*
 * Run the main loop for ns nanoseconds of host time, or until the VM ends.
 * Every timer due within ns has fired when it returns (unless the VM ended).
 */
void vm_run_for(LilyVm *vm, uint64_t ns);

/* TRUE once the VM has ended; *status is the exit status (debug-exit value, ...). */
gboolean vm_exited(LilyVm *vm, int *status);

#endif /* LILYVM_CORE_VM_H */
