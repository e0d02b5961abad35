/*
 * The device bus: port I/O (64 KiB of ports) and MMIO regions claimed by
 * device instances, and the accesses the CPU makes to them.  Devices see
 * offsets into their own region; unclaimed reads return all ones.
 */
#include <string.h>
#include "src/core/core.h"

#define BUS_REGIONS_MAX 4096  /* per space; bounds what a plugin can make us keep */

void bus_init(Bus *bus)
{
    bus->pio = g_array_new(FALSE, TRUE, sizeof(BusRegion));
    bus->mmio = g_array_new(FALSE, TRUE, sizeof(BusRegion));
}

void bus_clear(Bus *bus)
{
    if (bus->pio)
        g_array_free(bus->pio, TRUE);
    if (bus->mmio)
        g_array_free(bus->mmio, TRUE);
    bus->pio = bus->mmio = NULL;
}

static const char *bus_owner_name(const LilyInstance *owner)
{
    return owner ? owner->name : "the core";
}

/* Insert [base, base+len) keeping the array sorted; refuse overlaps. */
static gboolean bus_claim(GArray *regions, const char *what, LilyInstance *owner,
                          uint64_t base, uint64_t len, const LilyIoOps *ops, void *opaque,
                          GError **error)
{
    if (!ops || (!ops->read && !ops->write)) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_BUS,
                    "%s: %s region at 0x%" G_GINT64_MODIFIER "x has no read or write handler",
                    bus_owner_name(owner), what, base);
        return FALSE;
    }
    uint64_t limit = strcmp(what, "ports") == 0 ? 0x10000 : UINT64_MAX;
    if (len == 0 || base > limit || len > limit - base) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_BUS,
                    "%s: invalid %s region 0x%" G_GINT64_MODIFIER "x length 0x%"
                    G_GINT64_MODIFIER "x", bus_owner_name(owner), what, base, len);
        return FALSE;
    }
    if (regions->len >= BUS_REGIONS_MAX) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_BUS,
                    "%s: too many %s regions (%d in the machine)", bus_owner_name(owner), what,
                    BUS_REGIONS_MAX);
        return FALSE;
    }
    guint pos = 0;
    for (; pos < regions->len; pos++) {
        BusRegion *r = &g_array_index(regions, BusRegion, pos);
        if (base < r->base + r->len && r->base < base + len) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_BUS,
                        "%s 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x requested by "
                        "%s overlap 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x "
                        "claimed by %s", what, base, base + len - 1, bus_owner_name(owner),
                        r->base, r->base + r->len - 1, bus_owner_name(r->owner));
            return FALSE;
        }
        if (r->base > base)
            break;
    }
    BusRegion nr = { .base = base, .len = len, .ops = ops, .opaque = opaque, .owner = owner };
    g_array_insert_val(regions, pos, nr);
    log_msg("bus", LILY_LOG_DEBUG, "%s claims %s 0x%" G_GINT64_MODIFIER "x-0x%"
            G_GINT64_MODIFIER "x", bus_owner_name(owner), what, base, base + len - 1);
    return TRUE;
}

gboolean bus_claim_pio(LilyVm *vm, LilyInstance *owner, uint16_t base, uint32_t len,
                       const LilyIoOps *ops, void *opaque, GError **error)
{
    return bus_claim(vm->bus.pio, "ports", owner, base, len, ops, opaque, error);
}

gboolean bus_claim_mmio(LilyVm *vm, LilyInstance *owner, uint64_t base, uint64_t len,
                        const LilyIoOps *ops, void *opaque, GError **error)
{
    return bus_claim(vm->bus.mmio, "MMIO", owner, base, len, ops, opaque, error);
}

static BusRegion *bus_lookup(const GArray *regions, uint64_t addr)
{
    guint lo = 0, hi = regions->len;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        BusRegion *r = &g_array_index(regions, BusRegion, mid);
        if (addr < r->base)
            hi = mid;
        else if (addr - r->base >= r->len)
            lo = mid + 1;
        else
            return r;
    }
    return NULL;
}

static uint32_t bus_size_mask(unsigned size)
{
    return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static bool bus_size_ok(unsigned size)
{
    return size == 1 || size == 2 || size == 4;
}

uint32_t bus_pio_read(LilyVm *vm, uint16_t port, unsigned size)
{
    vm->stats.pio_reads++;
    if (!bus_size_ok(size)) {
        log_msg("bus", LILY_LOG_WARN, "port read of invalid size %u at 0x%x", size, port);
        return 0xffffffffu;
    }
    BusRegion *r = bus_lookup(vm->bus.pio, port);
    if (!r || !r->ops->read) {
        vm->stats.pio_unclaimed++;
        if (log_bus_trace)
            log_msg("bus", LILY_LOG_DEBUG, "in%u 0x%x: unclaimed, 0x%x", size * 8, port,
                    bus_size_mask(size));
        return bus_size_mask(size);
    }
    r->reads++;
    uint32_t v = r->ops->read(r->opaque, port - r->base, size) & bus_size_mask(size);
    if (log_bus_trace)
        log_msg("bus", LILY_LOG_DEBUG, "in%u 0x%x: %s+0x%" G_GINT64_MODIFIER "x = 0x%x",
                size * 8, port, bus_owner_name(r->owner), port - r->base, v);
    return v;
}

void bus_pio_write(LilyVm *vm, uint16_t port, unsigned size, uint32_t value)
{
    vm->stats.pio_writes++;
    if (!bus_size_ok(size)) {
        log_msg("bus", LILY_LOG_WARN, "port write of invalid size %u at 0x%x", size, port);
        return;
    }
    BusRegion *r = bus_lookup(vm->bus.pio, port);
    value &= bus_size_mask(size);
    if (!r || !r->ops->write) {
        vm->stats.pio_unclaimed++;
        if (log_bus_trace)
            log_msg("bus", LILY_LOG_DEBUG, "out%u 0x%x = 0x%x: unclaimed, dropped", size * 8,
                    port, value);
        return;
    }
    r->writes++;
    if (log_bus_trace)
        log_msg("bus", LILY_LOG_DEBUG, "out%u 0x%x: %s+0x%" G_GINT64_MODIFIER "x = 0x%x",
                size * 8, port, bus_owner_name(r->owner), port - r->base, value);
    r->ops->write(r->opaque, port - r->base, size, value);
}

/* Items in buf are little-endian, as the guest's memory holds them. */
static void bus_store(uint8_t *p, unsigned size, uint32_t v)
{
    for (unsigned i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t bus_load(const uint8_t *p, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

void bus_pio_read_rep(LilyVm *vm, uint16_t port, unsigned size, void *buf, uint32_t count)
{
    if (!bus_size_ok(size) || count == 0)
        return;
    BusRegion *r = bus_lookup(vm->bus.pio, port);
    vm->stats.pio_reads += count;
    if (!r || !r->ops->read) {
        vm->stats.pio_unclaimed += count;
        memset(buf, 0xff, (size_t)size * count);
        return;
    }
    r->reads += count;
    if (r->ops->read_rep) {
        r->ops->read_rep(r->opaque, port - r->base, size, buf, count);
        return;
    }
    uint8_t *p = buf;
    for (uint32_t i = 0; i < count; i++, p += size)
        bus_store(p, size, r->ops->read(r->opaque, port - r->base, size) & bus_size_mask(size));
}

void bus_pio_write_rep(LilyVm *vm, uint16_t port, unsigned size, const void *buf,
                       uint32_t count)
{
    if (!bus_size_ok(size) || count == 0)
        return;
    BusRegion *r = bus_lookup(vm->bus.pio, port);
    vm->stats.pio_writes += count;
    if (!r || !r->ops->write) {
        vm->stats.pio_unclaimed += count;
        return;
    }
    r->writes += count;
    if (r->ops->write_rep) {
        r->ops->write_rep(r->opaque, port - r->base, size, buf, count);
        return;
    }
    const uint8_t *p = buf;
    for (uint32_t i = 0; i < count; i++, p += size)
        r->ops->write(r->opaque, port - r->base, size, bus_load(p, size));
}

uint32_t bus_mmio_read(LilyVm *vm, uint64_t gpa, unsigned size)
{
    vm->stats.mmio_reads++;
    if (!bus_size_ok(size))
        return 0xffffffffu;
    BusRegion *r = bus_lookup(vm->bus.mmio, gpa);
    if (!r || !r->ops->read) {
        vm->stats.mmio_unclaimed++;
        if (log_bus_trace)
            log_msg("bus", LILY_LOG_DEBUG, "read%u from unclaimed MMIO 0x%" G_GINT64_MODIFIER
                    "x", size * 8, gpa);
        return bus_size_mask(size);
    }
    r->reads++;
    return r->ops->read(r->opaque, gpa - r->base, size) & bus_size_mask(size);
}

void bus_mmio_write(LilyVm *vm, uint64_t gpa, unsigned size, uint32_t value)
{
    vm->stats.mmio_writes++;
    if (!bus_size_ok(size))
        return;
    BusRegion *r = bus_lookup(vm->bus.mmio, gpa);
    if (!r || !r->ops->write) {
        vm->stats.mmio_unclaimed++;
        if (log_bus_trace)
            log_msg("bus", LILY_LOG_DEBUG, "write%u 0x%x to unclaimed MMIO 0x%"
                    G_GINT64_MODIFIER "x", size * 8, value, gpa);
        return;
    }
    r->writes++;
    r->ops->write(r->opaque, gpa - r->base, size, value & bus_size_mask(size));
}

bool bus_mmio_claimed(LilyVm *vm, uint64_t gpa)
{
    return bus_lookup(vm->bus.mmio, gpa) != NULL;
}

static void bus_release_in(GArray *regions, LilyInstance *owner)
{
    for (guint i = regions->len; i-- > 0;) {
        if (g_array_index(regions, BusRegion, i).owner == owner)
            g_array_remove_index(regions, i);
    }
}

void bus_release_owner(Bus *bus, LilyInstance *owner)
{
    bus_release_in(bus->pio, owner);
    bus_release_in(bus->mmio, owner);
}
