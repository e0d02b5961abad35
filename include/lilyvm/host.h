/*
 * LilyVM host API: the table of functions the core hands to every plugin
 * instance.  Devices see their I/O ranges as offsets and their interrupt
 * lines as opaque handles; network front ends (NICs) and back ends see each
 * other only as ports that carry Ethernet frames.
 *
 * New functions are appended at the end of LilyHost only; a plugin checks
 * host->size before using a function newer than the ABI minor it was built
 * against.
 */
#ifndef LILYVM_HOST_H
#define LILYVM_HOST_H

#include <lilyvm/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct LilyIrqLine LilyIrqLine; /* an interrupt line a device drives */
typedef struct LilyTimer LilyTimer;     /* a one-shot timer on the VM clock */
typedef struct LilyWatch LilyWatch;     /* a host file descriptor being watched */
typedef struct LilyNetPort LilyNetPort; /* one end of a NIC <-> backend link */

typedef enum LilyLogLevel {
    LILY_LOG_ERROR = 0,
    LILY_LOG_WARN = 1,
    LILY_LOG_INFO = 2,
    LILY_LOG_DEBUG = 3,
} LilyLogLevel;

/*
 * Register-level access to a device region (port I/O or MMIO).  offset is
 * relative to the start of the region; size is 1, 2 or 4.  Unused bits of a
 * read result must be zero.  The *_rep functions are optional: they move
 * count items of size bytes to or from one offset (rep ins/outs); when they
 * are NULL the core calls read/write count times.
 */
typedef struct LilyIoOps {
    uint32_t (*read)(void *opaque, uint64_t offset, unsigned size);
    void (*write)(void *opaque, uint64_t offset, unsigned size, uint32_t value);
    void (*read_rep)(void *opaque, uint64_t offset, unsigned size,
                     void *buf, uint32_t count);
    void (*write_rep)(void *opaque, uint64_t offset, unsigned size,
                      const void *buf, uint32_t count);
} LilyIoOps;

/*
 * An interrupt controller (kind LILY_PLUGIN_IRQCHIP) registers these so that
 * device IRQ lines reach it.  set_input is called when a line changes level;
 * the controller tells the CPU about a pending interrupt with
 * host->cpu_set_intr() and hands out the vector when the CPU calls ack()
 * (-1: spurious, nothing pending).
 */
typedef struct LilyIrqChipOps {
    void (*set_input)(void *opaque, unsigned line, bool level);
    int (*ack)(void *opaque);
} LilyIrqChipOps;

/*
 * One side of a network link.  receive() is given one Ethernet frame (no
 * FCS) that the peer sent; it is only called while can_receive() answers
 * true, so a side that cannot take more frames says so there and calls
 * host->net_ready() when it can again; the peer's ready() then runs.
 */
typedef struct LilyNetOps {
    bool (*can_receive)(void *opaque);
    void (*receive)(void *opaque, const uint8_t *frame, size_t len);
    void (*ready)(void *opaque);
} LilyNetOps;

/* Events for fd_watch (same values as GIOCondition). */
#define LILY_IO_IN 0x01u
#define LILY_IO_PRI 0x02u
#define LILY_IO_OUT 0x04u
#define LILY_IO_ERR 0x08u
#define LILY_IO_HUP 0x10u

typedef void (*LilyTimerFn)(void *opaque);
/* Return FALSE to remove the watch (the handle is then invalid). */
typedef gboolean (*LilyWatchFn)(int fd, unsigned revents, void *opaque);

struct LilyHost {
    uint32_t size; /* sizeof(LilyHost) as the core built it */
    uint16_t abi_major;
    uint16_t abi_minor;

    /* --- identity and logging ------------------------------------------ */
    const char *(*instance_name)(LilyInstance *inst);
    /* Log under the instance's name; shown when its category is enabled. */
    void (*log)(LilyInstance *inst, LilyLogLevel level, const char *fmt, ...)
        G_GNUC_PRINTF(3, 4);
    bool (*log_enabled)(LilyInstance *inst, LilyLogLevel level);

    /* --- device bus ------------------------------------------------------ */
    /* Claim ports [base, base+len).  Overlap with another region fails. */
    gboolean (*pio_register)(LilyInstance *inst, uint16_t base, uint32_t len,
                             const LilyIoOps *ops, void *opaque, GError **error);
    /* Claim guest-physical [base, base+len) as MMIO. */
    gboolean (*mmio_register)(LilyInstance *inst, uint64_t base, uint64_t len,
                              const LilyIoOps *ops, void *opaque, GError **error);

    /* --- interrupts ------------------------------------------------------ */
    /* The handle for interrupt line number line (as given in the config). */
    LilyIrqLine *(*irq_get)(LilyInstance *inst, unsigned line, GError **error);
    void (*irq_set)(LilyIrqLine *irq, bool level);
    /* For LILY_PLUGIN_IRQCHIP instances. */
    gboolean (*irqchip_register)(LilyInstance *inst, const LilyIrqChipOps *ops,
                                 void *opaque, GError **error);
    void (*cpu_set_intr)(LilyInstance *inst, bool level);

    /* --- guest memory ---------------------------------------------------- */
    /* The VM process's mapping of guest RAM and its size in bytes. */
    uint8_t *(*ram)(LilyInstance *inst, uint64_t *size);
    /* Copy to/from guest-physical memory; false if outside RAM. */
    bool (*mem_read)(LilyInstance *inst, uint64_t gpa, void *buf, size_t len);
    bool (*mem_write)(LilyInstance *inst, uint64_t gpa, const void *buf, size_t len);

    /* --- time ------------------------------------------------------------ */
    /* The VM clock in nanoseconds (monotonic, starts near 0 at VM start). */
    uint64_t (*clock_ns)(LilyInstance *inst);
    LilyTimer *(*timer_new)(LilyInstance *inst, LilyTimerFn fn, void *opaque);
    /* Arm (or re-arm) the timer to fire once at VM-clock time deadline_ns. */
    void (*timer_mod)(LilyTimer *timer, uint64_t deadline_ns);
    void (*timer_del)(LilyTimer *timer);
    void (*timer_free)(LilyTimer *timer);

    /* --- host I/O (the VM's main loop) --------------------------------- */
    LilyWatch *(*fd_watch)(LilyInstance *inst, int fd, unsigned events,
                           LilyWatchFn fn, void *opaque);
    void (*fd_watch_update)(LilyWatch *watch, unsigned events);
    void (*fd_watch_remove)(LilyWatch *watch);

    /* --- VM control ------------------------------------------------------ */
    /* End the VM; lilyvm exits with status (the guest's debug-exit value). */
    void (*vm_exit)(LilyInstance *inst, int status);
    /* End the VM because of an unrecoverable error (message is logged). */
    void (*vm_fail)(LilyInstance *inst, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

    /* --- network --------------------------------------------------------- */
    /*
     * A NIC attaches to the backend named netdev (its config option); a
     * backend (kind LILY_PLUGIN_NETDEV) attaches with netdev == NULL to get
     * its own end.  Frames sent on one end reach the other end's receive().
     */
    LilyNetPort *(*net_attach)(LilyInstance *inst, const char *netdev,
                               const LilyNetOps *ops, void *opaque, GError **error);
    /* Send one frame to the peer; false if the peer could not take it. */
    bool (*net_send)(LilyNetPort *port, const uint8_t *frame, size_t len);
    /* Would the peer take a frame now? */
    bool (*net_can_send)(LilyNetPort *port);
    /* This end can receive again: the peer's ready() runs. */
    void (*net_ready)(LilyNetPort *port);
    void (*net_detach)(LilyNetPort *port);

    /* --- statistics ------------------------------------------------------ */
    /* Add delta to the counter "instance.name" printed by lilyvm --stats. */
    void (*stat_add)(LilyInstance *inst, const char *name, uint64_t delta);

    /* --- for the CPU and MMU plugins ------------------------------------ */
    /* Bus accesses as the guest CPU makes them (unclaimed ports read ~0). */
    uint32_t (*pio_read)(LilyInstance *inst, uint16_t port, unsigned size);
    void (*pio_write)(LilyInstance *inst, uint16_t port, unsigned size, uint32_t value);
    /* rep ins/outs: count items of size bytes, one device call where it can. */
    void (*pio_read_rep)(LilyInstance *inst, uint16_t port, unsigned size,
                         void *buf, uint32_t count);
    void (*pio_write_rep)(LilyInstance *inst, uint16_t port, unsigned size,
                          const void *buf, uint32_t count);
    uint32_t (*mmio_read)(LilyInstance *inst, uint64_t gpa, unsigned size);
    void (*mmio_write)(LilyInstance *inst, uint64_t gpa, unsigned size, uint32_t value);
    /* Is gpa inside an MMIO region (then it must not be mapped as RAM)? */
    bool (*mmio_claimed)(LilyInstance *inst, uint64_t gpa);
    /* The memfd that backs guest RAM (offset == guest-physical address). */
    int (*ram_fd)(LilyInstance *inst);
    /*
     * Register the CPU: intr() runs when the interrupt controller changes
     * the INTR level.  irq_ack() then returns the vector to deliver
     * (-1: nothing pending).
     */
    gboolean (*cpu_register)(LilyInstance *inst,
                             void (*intr)(void *opaque, bool level),
                             void *opaque, GError **error);
    int (*irq_ack)(LilyInstance *inst);
    /* Entry state from the kernel loader: EIP, EAX and EBX at entry. */
    bool (*boot_state)(LilyInstance *inst, uint32_t *eip, uint32_t *eax, uint32_t *ebx);
    /* The instance of another plugin kind (e.g. the CPU asks for the MMU). */
    LilyInstance *(*find_instance)(LilyInstance *inst, LilyPluginKind kind,
                                   void **state, const LilyPluginDesc **desc);

    /* --- ABI 1.1: a CPU that waits for its guest outside the main loop --- */
    /* False once the VM has ended (vm_exit, vm_fail, a signal). */
    bool (*vm_running)(LilyInstance *inst);
    /*
     * Run one iteration of the VM's main loop (due timers, fd events,
     * signals); with may_block, wait until something happens.  Callable from
     * inside a timer or watch callback.  Returns vm_running().
     */
    bool (*loop_iterate)(LilyInstance *inst, bool may_block);
    /* VM-clock time of the earliest armed timer; UINT64_MAX if none. */
    uint64_t (*timer_next_deadline)(LilyInstance *inst);

    /* New entries go here, at the end only. */
};

#ifdef __cplusplus
}
#endif
#endif /* LILYVM_HOST_H */
