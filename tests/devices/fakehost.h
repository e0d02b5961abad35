/*
 * A small stand-in for the LilyVM core used by the device tests: loads a
 * plugin .so with dlopen, parses its options, and records what the plugin
 * asks of the host (ports, IRQ levels, timers, fd watches, VM exit).
 */
#ifndef LILYVM_TESTS_FAKEHOST_H
#define LILYVM_TESTS_FAKEHOST_H

#include <lilyvm/lilyvm.h>

typedef struct FakeHost FakeHost;

/* Create a host; plugin_name is loaded from build/plugins/NAME.so. */
FakeHost *fake_host_new(const char *plugin_name);
void fake_host_free(FakeHost *fh);

/* The loaded descriptor. */
const LilyPluginDesc *fake_host_desc(FakeHost *fh);

/*
 * Create the instance with "key=value" settings (NULL-terminated list);
 * unknown keys, bad values and init() failures are reported in *error.
 */
gboolean fake_host_realize(FakeHost *fh, const char *const *settings, GError **error);
/* Call fini() (if realized). */
void fake_host_unrealize(FakeHost *fh);

/* Port I/O through the registered regions (unclaimed: all ones). */
uint32_t fake_pio_read(FakeHost *fh, uint16_t port, unsigned size);
void fake_pio_write(FakeHost *fh, uint16_t port, unsigned size, uint32_t value);
void fake_pio_write_rep(FakeHost *fh, uint16_t port, unsigned size,
                        const void *buf, uint32_t count);

/* Level of IRQ line n and how often it went from low to high. */
int fake_irq_level(FakeHost *fh, unsigned line);
unsigned fake_irq_rises(FakeHost *fh, unsigned line);

/* Advance the VM clock by ns, firing due timers. */
void fake_clock_advance(FakeHost *fh, uint64_t ns);

/* Poll the watched fds for up to timeout_ms and dispatch; repeat while busy. */
void fake_host_poll(FakeHost *fh, int timeout_ms);

/* Did the plugin end the VM, and with what status? */
gboolean fake_host_exited(FakeHost *fh, int *status);

/* Sum of a statistics counter. */
uint64_t fake_host_stat(FakeHost *fh, const char *name);
/* Number of active fd watches. */
unsigned fake_host_watch_count(FakeHost *fh);

#endif /* LILYVM_TESTS_FAKEHOST_H */
