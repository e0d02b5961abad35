/*
 * The LilyHost table: the only way plugins reach the core.  Each entry is a
 * thin adapter from an instance handle to the VM it belongs to.
 */
#include <stdarg.h>
#include <string.h>
#include "src/core/core.h"

static const char *host_instance_name(LilyInstance *inst)
{
    return inst ? inst->name : "core";
}

static void host_log(LilyInstance *inst, LilyLogLevel level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_msgv(inst ? inst->name : "core", level, fmt, ap);
    va_end(ap);
}

static bool host_log_enabled(LilyInstance *inst, LilyLogLevel level)
{
    return log_category_enabled(inst ? inst->name : "core", level);
}

static gboolean host_pio_register(LilyInstance *inst, uint16_t base, uint32_t len,
                                  const LilyIoOps *ops, void *opaque, GError **error)
{
    return bus_claim_pio(inst->vm, inst, base, len, ops, opaque, error);
}

static gboolean host_mmio_register(LilyInstance *inst, uint64_t base, uint64_t len,
                                   const LilyIoOps *ops, void *opaque, GError **error)
{
    return bus_claim_mmio(inst->vm, inst, base, len, ops, opaque, error);
}

static LilyIrqLine *host_irq_get(LilyInstance *inst, unsigned line, GError **error)
{
    return irq_get(inst->vm, inst, line, error);
}

static gboolean host_irqchip_register(LilyInstance *inst, const LilyIrqChipOps *ops,
                                      void *opaque, GError **error)
{
    return irq_register_chip(inst->vm, inst, ops, opaque, error);
}

static void host_cpu_set_intr(LilyInstance *inst, bool level)
{
    irq_cpu_set_intr(inst->vm, level);
}

static uint8_t *host_ram(LilyInstance *inst, uint64_t *size)
{
    LilyVm *vm = inst->vm;
    if (size)
        *size = vm->ram_ready ? vm->ram.size : 0;
    return vm->ram_ready ? vm->ram.host : NULL;
}

static bool host_mem_read(LilyInstance *inst, uint64_t gpa, void *buf, size_t len)
{
    uint8_t *p = guest_phys_to_host(&inst->vm->ram, gpa, len);
    if (!p)
        return false;
    memcpy(buf, p, len);
    return true;
}

static bool host_mem_write(LilyInstance *inst, uint64_t gpa, const void *buf, size_t len)
{
    uint8_t *p = guest_phys_to_host(&inst->vm->ram, gpa, len);
    if (!p)
        return false;
    memcpy(p, buf, len);
    return true;
}

static uint64_t host_clock_ns(LilyInstance *inst)
{
    return loop_clock_ns(inst->vm);
}

static LilyTimer *host_timer_new(LilyInstance *inst, LilyTimerFn fn, void *opaque)
{
    return loop_timer_new(inst->vm, inst, fn, opaque);
}

static LilyWatch *host_fd_watch(LilyInstance *inst, int fd, unsigned events, LilyWatchFn fn,
                                void *opaque)
{
    return loop_fd_watch(inst->vm, inst, fd, events, fn, opaque);
}

static void host_vm_exit(LilyInstance *inst, int status)
{
    log_msg(host_instance_name(inst), LILY_LOG_INFO, "guest ends the VM with status %d",
            status);
    vm_end(inst->vm, status);
}

static void host_vm_fail(LilyInstance *inst, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_msgv(host_instance_name(inst), LILY_LOG_ERROR, fmt, ap);
    va_end(ap);
    vm_end(inst->vm, LILYVM_EXIT_CRASH);
}

static LilyNetPort *host_net_attach(LilyInstance *inst, const char *netdev,
                                    const LilyNetOps *ops, void *opaque, GError **error)
{
    return net_attach(inst->vm, inst, netdev, ops, opaque, error);
}

static uint32_t host_pio_read(LilyInstance *inst, uint16_t port, unsigned size)
{
    return bus_pio_read(inst->vm, port, size);
}

static void host_pio_write(LilyInstance *inst, uint16_t port, unsigned size, uint32_t value)
{
    bus_pio_write(inst->vm, port, size, value);
}

static void host_pio_read_rep(LilyInstance *inst, uint16_t port, unsigned size, void *buf,
                              uint32_t count)
{
    bus_pio_read_rep(inst->vm, port, size, buf, count);
}

static void host_pio_write_rep(LilyInstance *inst, uint16_t port, unsigned size,
                               const void *buf, uint32_t count)
{
    bus_pio_write_rep(inst->vm, port, size, buf, count);
}

static uint32_t host_mmio_read(LilyInstance *inst, uint64_t gpa, unsigned size)
{
    return bus_mmio_read(inst->vm, gpa, size);
}

static void host_mmio_write(LilyInstance *inst, uint64_t gpa, unsigned size, uint32_t value)
{
    bus_mmio_write(inst->vm, gpa, size, value);
}

static bool host_mmio_claimed(LilyInstance *inst, uint64_t gpa)
{
    return bus_mmio_claimed(inst->vm, gpa);
}

static int host_ram_fd(LilyInstance *inst)
{
    return inst->vm->ram_ready ? inst->vm->ram.fd : -1;
}

static gboolean host_cpu_register(LilyInstance *inst, void (*intr)(void *opaque, bool level),
                                  void *opaque, GError **error)
{
    return irq_register_cpu(inst->vm, inst, intr, opaque, error);
}

static int host_irq_ack(LilyInstance *inst)
{
    return irq_ack(inst->vm);
}

static bool host_boot_state(LilyInstance *inst, uint32_t *eip, uint32_t *eax, uint32_t *ebx)
{
    LilyVm *vm = inst->vm;
    if (!vm->booted)
        return false;
    if (eip)
        *eip = vm->boot.entry;
    if (eax)
        *eax = vm->boot.eax;
    if (ebx)
        *ebx = vm->boot.ebx;
    return true;
}

static LilyInstance *host_find_instance(LilyInstance *inst, LilyPluginKind kind, void **state,
                                        const LilyPluginDesc **desc)
{
    LilyVm *vm = inst->vm;
    for (guint i = 0; i < vm->instances->len; i++) {
        LilyInstance *o = g_ptr_array_index(vm->instances, i);
        if (o->plugin->desc->kind != kind)
            continue;
        if (state)
            *state = o->state;
        if (desc)
            *desc = o->plugin->desc;
        return o;
    }
    if (state)
        *state = NULL;
    if (desc)
        *desc = NULL;
    return NULL;
}

static bool host_vm_running(LilyInstance *inst)
{
    return !inst->vm->exited;
}

static bool host_loop_iterate(LilyInstance *inst, bool may_block)
{
    return loop_iterate(inst->vm, may_block);
}

static uint64_t host_timer_next_deadline(LilyInstance *inst)
{
    return loop_timer_next_deadline(inst->vm);
}

static const LilyHost hostapi = {
    .size = sizeof(LilyHost),
    .abi_major = LILYVM_ABI_MAJOR,
    .abi_minor = LILYVM_ABI_MINOR,
    .instance_name = host_instance_name,
    .log = host_log,
    .log_enabled = host_log_enabled,
    .pio_register = host_pio_register,
    .mmio_register = host_mmio_register,
    .irq_get = host_irq_get,
    .irq_set = irq_set,
    .irqchip_register = host_irqchip_register,
    .cpu_set_intr = host_cpu_set_intr,
    .ram = host_ram,
    .mem_read = host_mem_read,
    .mem_write = host_mem_write,
    .clock_ns = host_clock_ns,
    .timer_new = host_timer_new,
    .timer_mod = loop_timer_mod,
    .timer_del = loop_timer_del,
    .timer_free = loop_timer_free,
    .fd_watch = host_fd_watch,
    .fd_watch_update = loop_fd_watch_update,
    .fd_watch_remove = loop_fd_watch_remove,
    .vm_exit = host_vm_exit,
    .vm_fail = host_vm_fail,
    .net_attach = host_net_attach,
    .net_send = net_send,
    .net_can_send = net_can_send,
    .net_ready = net_ready,
    .net_detach = net_detach,
    .stat_add = vm_stat_add,
    .pio_read = host_pio_read,
    .pio_write = host_pio_write,
    .pio_read_rep = host_pio_read_rep,
    .pio_write_rep = host_pio_write_rep,
    .mmio_read = host_mmio_read,
    .mmio_write = host_mmio_write,
    .mmio_claimed = host_mmio_claimed,
    .ram_fd = host_ram_fd,
    .cpu_register = host_cpu_register,
    .irq_ack = host_irq_ack,
    .boot_state = host_boot_state,
    .find_instance = host_find_instance,
    .vm_running = host_vm_running,
    .loop_iterate = host_loop_iterate,
    .timer_next_deadline = host_timer_next_deadline,
};

const LilyHost *hostapi_table(void)
{
    return &hostapi;
}
