/*
 * LilyVM plugin ABI: the descriptor every plugin exports and the typed option
 * tables the core validates on the plugin's behalf.
 *
 * This header and host.h are the whole contract between the core and a
 * plugin.  A plugin never links against core symbols; the core hands it a
 * LilyHost table of function pointers (see host.h) when it creates an
 * instance.
 *
 * Compatibility rules:
 *  - LILYVM_ABI_MAJOR changes when an existing structure or function changes
 *    meaning or layout; the core refuses plugins of another major.
 *  - LILYVM_ABI_MINOR grows when something is appended at the end of a
 *    structure; the core accepts plugins whose minor is <= its own, and
 *    uses the size stamps to know which trailing fields a plugin knows.
 */
#ifndef LILYVM_PLUGIN_H
#define LILYVM_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LILYVM_ABI_MAJOR 1
#define LILYVM_ABI_MINOR 1

/* Name of the one symbol every plugin exports (see LILYVM_PLUGIN_DEFINE). */
#define LILYVM_PLUGIN_ENTRY_SYMBOL "lilyvm_plugin_entry"

typedef struct LilyHost LilyHost;         /* host API table, host.h */
typedef struct LilyInstance LilyInstance; /* one configured instance (opaque) */

/* What a plugin provides; decides which config group creates it. */
typedef enum LilyPluginKind {
    LILY_PLUGIN_DEVICE = 1,  /* [device NAME]: port I/O, MMIO, IRQ lines */
    LILY_PLUGIN_NETDEV = 2,  /* [netdev NAME]: network backend */
    LILY_PLUGIN_CPU = 3,     /* [machine] cpu = ...: trap handling */
    LILY_PLUGIN_MMU = 4,     /* [machine] mmu = ...: address translation */
    LILY_PLUGIN_IRQCHIP = 5, /* a device that is also the interrupt controller */
} LilyPluginKind;

/* Option value types.  The core parses and range-checks every one. */
typedef enum LilyOptType {
    LILY_OPT_INT = 1,     /* decimal, 0x hex or 0 octal; min/max apply */
    LILY_OPT_SIZE = 2,    /* bytes with optional K/M/G suffix (binary); min/max apply */
    LILY_OPT_BOOL = 3,    /* true/false, yes/no, on/off, 1/0 */
    LILY_OPT_STRING = 4,  /* any text */
    LILY_OPT_ENUM = 5,    /* one of enum_values */
    LILY_OPT_MAC = 6,     /* 52:54:00:12:34:56 */
    LILY_OPT_HOSTFWD = 7, /* tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport */
} LilyOptType;

/* Option flags. */
#define LILY_OPT_F_REQUIRED 0x1u /* no default: the config must give it */
#define LILY_OPT_F_LIST 0x2u     /* several values separated by ';' or ',' */

/*
 * One entry of a plugin's option table.  The table ends with an entry whose
 * name is NULL.  def is the default written as the user would write it (it
 * goes through the same parser; NULL means "unset").
 */
typedef struct LilyOption {
    const char *name;
    LilyOptType type;
    const char *def;
    int64_t min, max;                 /* INT and SIZE; min == max == 0: no range */
    const char *const *enum_values;   /* ENUM: NULL-terminated list */
    const char *help;
    uint32_t flags;
    uint32_t reserved;
} LilyOption;

/* A parsed port forward (LILY_OPT_HOSTFWD). Addresses in network order. */
typedef struct LilyHostFwd {
    uint8_t proto;         /* 6 = TCP, 17 = UDP */
    uint8_t pad[3];
    uint32_t host_addr;    /* default 127.0.0.1 */
    uint16_t host_port;
    uint16_t guest_port;
    uint32_t guest_addr;   /* 0: the backend's default guest address */
} LilyHostFwd;

/*
 * A parsed option value, handed to init() as an array parallel to the option
 * table (values[i] belongs to options[i]).  Strings stay valid until fini().
 */
typedef struct LilyOptValue {
    bool set;            /* the user gave it (false: the default, or unset) */
    bool present;        /* there is a value at all (given or defaulted) */
    int64_t i;           /* INT, SIZE, BOOL (0/1), ENUM (index in enum_values) */
    const char *s;       /* the text as given (every type); NULL if !present */
    uint8_t mac[6];      /* MAC */
    size_t n;            /* LIST: number of elements */
    const void *list;    /* LIST: LilyHostFwd[n] for HOSTFWD, LilyOptValue[n] otherwise */
    LilyHostFwd fwd;     /* HOSTFWD (single) */
} LilyOptValue;

/*
 * The descriptor.  init() creates one instance: it registers its I/O ranges,
 * IRQ lines, timers and network ports through host, stores its private state
 * in *state and returns TRUE; or sets *error and returns FALSE after undoing
 * what it did.  fini() releases the state (never called after a failed
 * init).  Both run in the VM process's main thread.
 */
typedef struct LilyPluginDesc {
    uint16_t abi_major;   /* LILYVM_ABI_MAJOR */
    uint16_t abi_minor;   /* LILYVM_ABI_MINOR */
    uint32_t size;        /* sizeof(LilyPluginDesc) as the plugin saw it */
    const char *name;     /* unique, [a-z0-9-]+, e.g. "nic-ne2000" */
    LilyPluginKind kind;
    const char *description; /* one line */
    const LilyOption *options;
    gboolean (*init)(LilyInstance *inst, const LilyHost *host,
                     const LilyOptValue *values, void **state, GError **error);
    void (*fini)(void *state);
    const void *kind_ops; /* kind-specific table (CPU/MMU), else NULL */
    void *reserved[7];
} LilyPluginDesc;

typedef const LilyPluginDesc *(*LilyPluginEntryFn)(void);

#if defined(__GNUC__)
#define LILYVM_EXPORT __attribute__((visibility("default")))
#else
#define LILYVM_EXPORT
#endif

/* Define the entry symbol of a plugin whose descriptor is the variable desc. */
#define LILYVM_PLUGIN_DEFINE(desc)                                   \
    LILYVM_EXPORT const LilyPluginDesc *lilyvm_plugin_entry(void);   \
    LILYVM_EXPORT const LilyPluginDesc *lilyvm_plugin_entry(void)    \
    {                                                                \
        return &(desc);                                              \
    }

/* Initialiser for the stamp fields of a descriptor. */
#define LILYVM_PLUGIN_STAMP                                          \
    .abi_major = LILYVM_ABI_MAJOR, .abi_minor = LILYVM_ABI_MINOR,    \
    .size = sizeof(LilyPluginDesc)

#ifdef __cplusplus
}
#endif
#endif /* LILYVM_PLUGIN_H */
