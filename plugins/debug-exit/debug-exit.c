/*
 * The debug-exit plugin: an I/O port that ends the VM with a status the guest
 * chooses, compatible in placement and size with QEMU's isa-debug-exit.
 *
 * The status differs from QEMU on purpose.  QEMU exits with (value << 1) | 1,
 * so a guest can never make it exit 0.  LilyVM's contract is simpler: a write
 * of v ends the VM and lilyvm exits with status v (truncated to 8 bits by the
 * operating system), so a guest reports success by writing 0.  status = qemu
 * selects QEMU's mapping instead, for scripts that already expect it.  A
 * guest that must run under both keeps to the guest SDK's convention
 * (guest/sdk/include/lily/debugexit.h): outl 0 for success, 1 for failure,
 * which lilyvm reports as 0/1 and QEMU as 1/3 (see docs/devices.md).
 */
#include <lilyvm/lilyvm.h>

/* Order of the option table. */
enum {
    OPT_IOBASE,
    OPT_IOSIZE,
    OPT_STATUS,
};

enum {
    DEBUG_EXIT_PLAIN = 0, /* order of debug_exit_status_names */
    DEBUG_EXIT_QEMU = 1,
};

static const char *const debug_exit_status_names[] = { "plain", "qemu", NULL };

typedef struct DebugExit {
    LilyInstance *inst;
    const LilyHost *host;
    int mapping;
} DebugExit;

/*
 * debug_exit_status() - the process exit status for a value the guest wrote
 * @mapping: DEBUG_EXIT_PLAIN or DEBUG_EXIT_QEMU
 * @value: the value as written, already masked to the access size
 *
 * Return: value itself (plain), or (value << 1) | 1 (qemu); the operating
 * system keeps the low 8 bits of either.
 */
static int debug_exit_status(int mapping, uint32_t value)
{
    if (mapping == DEBUG_EXIT_QEMU)
        return (int)((value << 1) | 1);
    return (int)value;
}

static uint32_t debug_exit_read(void *opaque, uint64_t offset, unsigned size)
{
    return 0; /* as QEMU's isa-debug-exit */
}

static void debug_exit_write(void *opaque, uint64_t offset, unsigned size, uint32_t value)
{
    DebugExit *dx = opaque;

    if (size < 4)
        value &= (1u << (8 * size)) - 1;
    int status = debug_exit_status(dx->mapping, value);
    dx->host->log(dx->inst, LILY_LOG_INFO, "guest wrote 0x%x: exit status %d",
                  value, status & 0xff);
    dx->host->vm_exit(dx->inst, status);
}

static const LilyIoOps debug_exit_io_ops = {
    .read = debug_exit_read,
    .write = debug_exit_write,
};

static gboolean debug_exit_init(LilyInstance *inst, const LilyHost *host,
                                const LilyOptValue *values, void **state,
                                GError **error)
{
    DebugExit *dx = g_new0(DebugExit, 1);

    dx->inst = inst;
    dx->host = host;
    dx->mapping = (int)values[OPT_STATUS].i;
    if (!host->pio_register(inst, (uint16_t)values[OPT_IOBASE].i,
                            (uint32_t)values[OPT_IOSIZE].i, &debug_exit_io_ops,
                            dx, error)) {
        g_free(dx);
        return FALSE;
    }
    *state = dx;
    return TRUE;
}

static void debug_exit_fini(void *state)
{
    g_free(state);
}

static const LilyOption debug_exit_options[] = {
    [OPT_IOBASE] = { .name = "iobase", .type = LILY_OPT_INT, .def = "0xf4",
                     .min = 0, .max = 0xfffc,
                     .help = "I/O port the guest writes its exit value to" },
    [OPT_IOSIZE] = { .name = "iosize", .type = LILY_OPT_INT, .def = "1",
                     .min = 1, .max = 4,
                     .help = "number of ports claimed from iobase (1 to 4); a "
                             "write to any of them ends the VM" },
    [OPT_STATUS] = { .name = "status", .type = LILY_OPT_ENUM, .def = "plain",
                     .enum_values = debug_exit_status_names,
                     .help = "plain: lilyvm exits with the value written (0 = "
                             "success); qemu: with (value << 1) | 1 as QEMU's "
                             "isa-debug-exit does" },
    { .name = NULL },
};

static const LilyPluginDesc debug_exit_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "debug-exit",
    .kind = LILY_PLUGIN_DEVICE,
    .description = "I/O port whose write ends the VM with the value written",
    .options = debug_exit_options,
    .init = debug_exit_init,
    .fini = debug_exit_fini,
};

LILYVM_PLUGIN_DEFINE(debug_exit_desc)
