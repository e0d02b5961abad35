/*
 * Internal structures of the LilyVM core shared by its files (registry,
 * config, bus, IRQ, loop, network, host API).  Nothing here is seen by
 * plugins: they only get the LilyHost table.
 */
#ifndef LILYVM_CORE_CORE_H
#define LILYVM_CORE_CORE_H

#include <stdio.h>
#include <lilyvm/lilyvm.h>
#include "src/core/vm.h"
#include "src/core/memory.h"
#include "src/core/loader.h"

/* Errors of the core; the code says which exit status a failure maps to. */
#define LILY_CORE_ERROR (lily_core_error_quark())
GQuark lily_core_error_quark(void);
typedef enum LilyCoreError {
    LILY_CORE_ERROR_CONFIG,   /* bad config, option, command line */
    LILY_CORE_ERROR_PLUGIN,   /* a plugin could not be loaded or refused */
    LILY_CORE_ERROR_BUS,      /* overlapping or invalid I/O claim */
    LILY_CORE_ERROR_INIT,     /* an instance's init failed */
    LILY_CORE_ERROR_KERNEL,   /* the kernel image could not be loaded */
    LILY_CORE_ERROR_NET,      /* network attach errors */
} LilyCoreError;

/* ---- logging (log.c) ---------------------------------------------------- */

/* Core log categories besides the instance names. */
extern const char *const log_core_categories[];

/* -d bus: trace every bus access (checked on the hot path, so a plain flag). */
extern bool log_bus_trace;
extern bool log_irq_trace;  /* -d irq */

void log_msg(const char *category, LilyLogLevel level, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
void log_msgv(const char *category, LilyLogLevel level, const char *fmt, va_list ap)
    G_GNUC_PRINTF(3, 0);
gboolean log_category_enabled(const char *category, LilyLogLevel level);
/* Enable debug output for a comma-separated list of categories ("all"). */
void log_set_categories(const char *list);
/* The categories given to log_set_categories that are unknown to vm. */
gboolean log_check_categories(LilyVm *vm, GError **error);
gboolean log_set_file(const char *path, GError **error);
void log_shutdown(void);

/* ---- plugins (registry.c) ---------------------------------------------- */

typedef struct LilyPlugin {
    const LilyPluginDesc *desc;
    char *path;
    void *handle;
} LilyPlugin;

typedef struct Registry {
    GPtrArray *plugins;      /* LilyPlugin *, in load order */
    GHashTable *by_name;     /* name -> LilyPlugin * */
    GHashTable *failures;    /* file basename without .so -> message */
    GPtrArray *dirs;         /* directories scanned, for messages */
} Registry;

void registry_init(Registry *reg);
void registry_clear(Registry *reg);
/**
 * registry_load_file() - dlopen one plugin file, check and index it
 * @reg: the registry
 * @path: the .so file
 * @error: why it was refused, in words the user can act on (both ABI
 *         versions, both files of a duplicate name, dlerror() and a hint to
 *         run ldd)
 *
 * A refused file is remembered under its base name so that a config asking
 * for that plugin later gets the same reason (registry_failure()).
 *
 * Return: TRUE if the plugin is now in the registry.
 */
gboolean registry_load_file(Registry *reg, const char *path, GError **error);
/* Load every *.so in dir; failures become warnings (appended to warnings if
 * it is not NULL, else logged).  A missing directory is not an error. */
void registry_scan_dir(Registry *reg, const char *dir, GPtrArray *warnings);
/* The default search path (see vm_load_plugins). */
GPtrArray *registry_default_dirs(void);
/* The same for a program at exe (NULL: unknown): its plugins/ directory, the
 * build tree's, exe/../lib/lilyvm/plugins, LILYVM_PLUGINDIR, then
 * LILYVM_PLUGIN_PATH; only directories that exist, each once. */
GPtrArray *registry_dirs_for_exe(const char *exe);
const LilyPlugin *registry_find(const Registry *reg, const char *name);
/* "a, b, c" of the plugins of kind (0: every kind; device includes irqchip). */
char *registry_names(const Registry *reg, LilyPluginKind kind);
const char *registry_kind_name(LilyPluginKind kind);
/* Why a plugin file called name failed to load, or NULL. */
const char *registry_failure(const Registry *reg, const char *name);
/* Validate a descriptor's option table (also used by the tests). */
gboolean registry_check_options(const LilyOption *opts, const char *who, GError **error);

/* ---- option values (options.c) ----------------------------------------- */

/* Memory that lives as long as the values it backs. */
typedef GPtrArray OptArena;

/**
 * opt_parse() - parse the text of one option value
 * @opt: the option table entry (type, range, enum values, flags)
 * @text: the value as written by the user
 * @out: filled on success (present = true; set is left to the caller)
 * @arena: owns the strings and list arrays @out points to
 * @reason: on failure, if not NULL, what went wrong and what is accepted
 *          (e.g. "out of range; accepted: an integer in 0..15 ...")
 *
 * Return: TRUE if @text is a valid value of @opt.
 */
gboolean opt_parse(const LilyOption *opt, const char *text, LilyOptValue *out,
                   OptArena *arena, char **reason);
/* "int", "size", ... */
const char *opt_type_name(LilyOptType type);
/* What values opt accepts, in words (for --describe and error messages). */
char *opt_describe_accepted(const LilyOption *opt);
size_t opt_count(const LilyOption *opts);
const LilyOption *opt_find(const LilyOption *opts, const char *name, size_t *index);

/* ---- config (config.c) -------------------------------------------------- */

typedef enum CfgGroupKind {
    CFG_MACHINE = 0,
    CFG_DEVICE = 1,
    CFG_NETDEV = 2,
} CfgGroupKind;

/* One key = value with where it came from. */
typedef struct CfgEntry {
    char *key;
    char *value;
    char *file;   /* NULL: from --set */
    int line;
} CfgEntry;

typedef struct CfgGroup {
    CfgGroupKind kind;
    char *name;        /* instance name; "machine" */
    char *file;
    int line;
    GPtrArray *entries; /* CfgEntry * */
} CfgGroup;

typedef struct Config {
    GPtrArray *groups;  /* CfgGroup *, [machine] first */
} Config;

void cfg_init(Config *cfg);
void cfg_clear(Config *cfg);
CfgGroup *cfg_find_group(Config *cfg, const char *name);
CfgEntry *cfg_find_entry(CfgGroup *group, const char *key);
/* "FILE:LINE" or "--set" for messages about entry e (group line if e is NULL). */
char *cfg_where(const CfgGroup *g, const CfgEntry *e);
/* The keys the core itself owns in [machine] and in every [netdev]. */
const LilyOption *cfg_machine_core_options(void);
const LilyOption *cfg_netdev_core_options(void);
/* The default PC machine built from the plugins that exist. */
char *cfg_default_machine_text(const Registry *reg);

/* ---- bus (bus.c) --------------------------------------------------------- */

typedef struct BusRegion {
    uint64_t base, len;
    const LilyIoOps *ops;
    void *opaque;
    LilyInstance *owner;
    uint64_t reads, writes;  /* accesses (rep items count one each), for --stats */
} BusRegion;

typedef struct Bus {
    GArray *pio;   /* BusRegion, sorted by base */
    GArray *mmio;  /* BusRegion, sorted by base */
} Bus;

void bus_init(Bus *bus);
void bus_clear(Bus *bus);
gboolean bus_claim_pio(LilyVm *vm, LilyInstance *owner, uint16_t base, uint32_t len,
                       const LilyIoOps *ops, void *opaque, GError **error);
gboolean bus_claim_mmio(LilyVm *vm, LilyInstance *owner, uint64_t base, uint64_t len,
                        const LilyIoOps *ops, void *opaque, GError **error);
void bus_pio_read_rep(LilyVm *vm, uint16_t port, unsigned size, void *buf, uint32_t count);
void bus_pio_write_rep(LilyVm *vm, uint16_t port, unsigned size, const void *buf,
                       uint32_t count);
bool bus_mmio_claimed(LilyVm *vm, uint64_t gpa);
/* Drop every region owner claimed (its init failed). */
void bus_release_owner(Bus *bus, LilyInstance *owner);

/* ---- interrupts (irq.c) --------------------------------------------------- */

#define IRQ_LINES 64

struct LilyIrqLine {
    LilyVm *vm;
    LilyInstance *owner;
    unsigned line;
    bool level;
};

LilyIrqLine *irq_get(LilyVm *vm, LilyInstance *owner, unsigned line, GError **error);
void irq_set(LilyIrqLine *irq, bool level);
gboolean irq_register_chip(LilyVm *vm, LilyInstance *owner, const LilyIrqChipOps *ops,
                           void *opaque, GError **error);
gboolean irq_register_cpu(LilyVm *vm, LilyInstance *owner,
                          void (*intr)(void *opaque, bool level), void *opaque,
                          GError **error);
void irq_cpu_set_intr(LilyVm *vm, bool level);
int irq_ack(LilyVm *vm);
/* Forget owner's lines (lowered first), controller and CPU registration. */
void irq_release_owner(LilyVm *vm, LilyInstance *owner);
/* The INTR level last given by the interrupt controller. */
bool vm_intr_level(LilyVm *vm);

/* ---- main loop, clock, timers (loop.c) --------------------------------- */

struct LilyTimer {
    LilyVm *vm;
    LilyInstance *owner;
    LilyTimerFn fn;
    void *opaque;
    uint64_t deadline;
    uint64_t seq;      /* arming order: ties fire first-armed first */
    bool armed;
    GList *link;       /* node in the armed list */
};

void loop_init(LilyVm *vm);
void loop_clear(LilyVm *vm);
void loop_start_clock(LilyVm *vm);
uint64_t loop_clock_ns(LilyVm *vm);
LilyTimer *loop_timer_new(LilyVm *vm, LilyInstance *owner, LilyTimerFn fn, void *opaque);
void loop_timer_mod(LilyTimer *t, uint64_t deadline_ns);
void loop_timer_del(LilyTimer *t);
void loop_timer_free(LilyTimer *t);
LilyWatch *loop_fd_watch(LilyVm *vm, LilyInstance *owner, int fd, unsigned events,
                         LilyWatchFn fn, void *opaque);
void loop_fd_watch_update(LilyWatch *w, unsigned events);
void loop_fd_watch_remove(LilyWatch *w);
/* Free owner's timers and remove its watches. */
void loop_release_owner(LilyVm *vm, LilyInstance *owner);
/* One main-loop iteration (may be nested in a callback); FALSE once the VM ended. */
bool loop_iterate(LilyVm *vm, bool may_block);
uint64_t loop_timer_next_deadline(LilyVm *vm);
/* The timerfd behind the timers (-1 if none), for tests to inspect. */
int loop_timer_fd(LilyVm *vm);
/* SIGINT, SIGTERM and SIGHUP end the VM (status 128 + signal number). */
void loop_watch_signals(LilyVm *vm);
/* Run until the VM ends. */
void vm_run(LilyVm *vm);
void vm_end(LilyVm *vm, int status);

/* ---- network links (net.c) ------------------------------------------------ */

struct LilyNetPort {
    struct NetLink *link;
    LilyInstance *owner;
    const LilyNetOps *ops;
    void *opaque;
    bool attached;
};

typedef struct NetLink {
    char *name;           /* the netdev's instance name */
    LilyNetPort backend;
    LilyNetPort nic;
    FILE *pcap;
    char *pcap_path;
    uint64_t frames, bytes, dropped;
} NetLink;

NetLink *net_link_new(LilyVm *vm, const char *name);
void net_link_free(NetLink *link);
gboolean net_link_set_pcap(NetLink *link, const char *path, GError **error);
LilyNetPort *net_attach(LilyVm *vm, LilyInstance *inst, const char *netdev,
                        const LilyNetOps *ops, void *opaque, GError **error);
/**
 * net_send() - hand one frame to the other end of a link
 * @port: the sender's end
 * @frame: an Ethernet frame without FCS
 * @len: 1..65535 bytes
 *
 * The frame is delivered (and written to the link's pcap file) only if the
 * peer is attached and its can_receive() says yes.
 *
 * Return: true if the peer received the frame; false if the sender must
 * keep it and wait for its ready() callback.
 */
bool net_send(LilyNetPort *port, const uint8_t *frame, size_t len);
bool net_can_send(LilyNetPort *port);
void net_ready(LilyNetPort *port);
void net_detach(LilyNetPort *port);
/* Detach every port owner attached. */
void net_release_owner(LilyVm *vm, LilyInstance *owner);

/* ---- instances and the VM (vm.c) ----------------------------------------- */

struct LilyInstance {
    LilyVm *vm;
    char *name;
    const LilyPlugin *plugin;
    CfgGroup *group;
    LilyOptValue *values;
    OptArena *arena;
    void *state;
    bool initialised;
    GHashTable *stats;   /* counter name -> uint64_t * */
    GHashTable *stats_by_ptr; /* the caller's name pointer -> the same counter */
};

typedef struct CoreStats {
    uint64_t pio_reads, pio_writes, pio_unclaimed;
    uint64_t mmio_reads, mmio_writes, mmio_unclaimed;
    uint64_t irq_raises;
    uint64_t timers_fired;
} CoreStats;

struct LilyVm {
    Registry reg;
    Config cfg;
    Bus bus;
    GuestRam ram;
    bool ram_ready;
    bool realized;

    /* [machine] */
    uint64_t mem_size;
    char *kernel;
    char *cmdline;
    LoaderBoot boot;
    bool booted;

    GPtrArray *instances;  /* LilyInstance *, in creation order */
    LilyInstance *cpu, *mmu;

    /* interrupts */
    GPtrArray *irq_lines;  /* LilyIrqLine * handed out */
    uint32_t irq_levels_ct[IRQ_LINES];  /* number of handles driving each line high */
    const LilyIrqChipOps *chip_ops;
    void *chip_opaque;
    LilyInstance *chip_owner;
    void (*cpu_intr)(void *opaque, bool level);
    void *cpu_opaque;
    LilyInstance *cpu_owner;
    bool intr_level;

    /* loop */
    GMainContext *ctx;
    GSource *timer_source;
    int timer_fd;          /* wakes timer_source on time (timerfd), or -1 */
    int64_t timer_fd_at;   /* CLOCK_MONOTONIC ns timer_fd is set to, -1: disarmed */
    GList *timers_armed;   /* LilyTimer *, sorted by (deadline, seq) */
    GPtrArray *timers;     /* every LilyTimer alive */
    uint64_t timer_seq;
    GPtrArray *watches;    /* every LilyWatch alive */
    LilyWatch *signal_watch; /* the signal pipe, when this VM takes the signals */
    int64_t clock_start;   /* CLOCK_MONOTONIC ns at VM start */
    bool exited;
    int exit_status;

    /* network */
    GPtrArray *netlinks;   /* NetLink * */

    CoreStats stats;
};

LilyInstance *vm_find_instance(LilyVm *vm, const char *name);
/* The host table every instance gets. */
const LilyHost *hostapi_table(void);
/* Print every counter, sorted, to out. */
void vm_print_stats(LilyVm *vm, FILE *out);
/* One paragraph describing the realized machine (used when there is no CPU). */
char *vm_summary(LilyVm *vm);
/* The registry of loaded plugins. */
Registry *vm_registry(LilyVm *vm);
void vm_stat_add(LilyInstance *inst, const char *name, uint64_t delta);

/* Config stages driven by vm.c. */
gboolean cfg_load_data(LilyVm *vm, const char *text, const char *filename, GError **error);
gboolean cfg_set(LilyVm *vm, const char *assignment, GError **error);
/* Resolve the machine group and every instance's values; create instances. */
gboolean cfg_resolve(LilyVm *vm, GError **error);

#endif
