/*
 * Interrupt lines: devices drive numbered lines through opaque handles; the
 * core keeps each line's level (a line is high while any handle on it is
 * high) and forwards changes to the registered interrupt controller, whose
 * INTR output reaches the registered CPU.
 */
#include "src/core/core.h"

#define IRQ_HANDLES_MAX 1024  /* a few per device; bounds a looping plugin */

LilyIrqLine *irq_get(LilyVm *vm, LilyInstance *owner, unsigned line, GError **error)
{
    if (line >= IRQ_LINES) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "%s: interrupt line %u does not exist (0..%d)",
                    owner ? owner->name : "core", line, IRQ_LINES - 1);
        return NULL;
    }
    if (vm->irq_lines->len >= IRQ_HANDLES_MAX) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "%s: too many interrupt line handles (%d in the machine)",
                    owner ? owner->name : "core", IRQ_HANDLES_MAX);
        return NULL;
    }
    LilyIrqLine *irq = g_new0(LilyIrqLine, 1);
    irq->vm = vm;
    irq->owner = owner;
    irq->line = line;
    g_ptr_array_add(vm->irq_lines, irq);
    return irq;
}

void irq_set(LilyIrqLine *irq, bool level)
{
    if (!irq || irq->level == level)
        return;
    LilyVm *vm = irq->vm;
    unsigned n = irq->line;
    bool was = vm->irq_levels_ct[n] != 0;
    irq->level = level;
    if (level)
        vm->irq_levels_ct[n]++;
    else
        vm->irq_levels_ct[n]--;
    bool now = vm->irq_levels_ct[n] != 0;
    if (was == now)
        return;
    if (now)
        vm->stats.irq_raises++;
    if (log_irq_trace)
        log_msg("irq", LILY_LOG_DEBUG, "line %u %s by %s", n, now ? "raised" : "lowered",
                irq->owner ? irq->owner->name : "core");
    if (vm->chip_ops && vm->chip_ops->set_input)
        vm->chip_ops->set_input(vm->chip_opaque, n, now);
}

int vm_irq_level(LilyVm *vm, unsigned line)
{
    return line < IRQ_LINES && vm->irq_levels_ct[line] != 0;
}

gboolean irq_register_chip(LilyVm *vm, LilyInstance *owner, const LilyIrqChipOps *ops,
                           void *opaque, GError **error)
{
    if (vm->chip_ops) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_INIT,
                    "%s: an interrupt controller is already registered by %s; a machine "
                    "has one", owner ? owner->name : "core",
                    vm->chip_owner ? vm->chip_owner->name : "the core");
        return FALSE;
    }
    if (!ops || !ops->set_input) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_INIT,
                    "%s: interrupt controller without set_input", owner ? owner->name : "core");
        return FALSE;
    }
    vm->chip_ops = ops;
    vm->chip_opaque = opaque;
    vm->chip_owner = owner;
    /* Lines raised before the controller existed must still reach it. */
    for (unsigned n = 0; n < IRQ_LINES; n++) {
        if (vm->irq_levels_ct[n])
            ops->set_input(opaque, n, true);
    }
    return TRUE;
}

gboolean irq_register_cpu(LilyVm *vm, LilyInstance *owner,
                          void (*intr)(void *opaque, bool level), void *opaque,
                          GError **error)
{
    if (vm->cpu_intr) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_INIT,
                    "%s: a CPU is already registered", owner ? owner->name : "core");
        return FALSE;
    }
    if (!intr) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_INIT,
                    "%s: cpu_register needs an intr callback", owner ? owner->name : "core");
        return FALSE;
    }
    vm->cpu_intr = intr;
    vm->cpu_opaque = opaque;
    vm->cpu_owner = owner;
    if (vm->intr_level)
        intr(opaque, true);
    return TRUE;
}

void irq_cpu_set_intr(LilyVm *vm, bool level)
{
    if (vm->intr_level == level)
        return;
    vm->intr_level = level;
    if (log_irq_trace)
        log_msg("irq", LILY_LOG_DEBUG, "INTR %s", level ? "raised" : "lowered");
    if (vm->cpu_intr)
        vm->cpu_intr(vm->cpu_opaque, level);
}

bool vm_intr_level(LilyVm *vm)
{
    return vm->intr_level;
}

int irq_ack(LilyVm *vm)
{
    if (!vm->chip_ops || !vm->chip_ops->ack)
        return -1;
    return vm->chip_ops->ack(vm->chip_opaque);
}

void irq_release_owner(LilyVm *vm, LilyInstance *owner)
{
    for (guint i = vm->irq_lines->len; i-- > 0;) {
        LilyIrqLine *irq = g_ptr_array_index(vm->irq_lines, i);
        if (irq->owner != owner)
            continue;
        irq_set(irq, false);
        g_ptr_array_remove_index(vm->irq_lines, i);
    }
    if (vm->chip_owner == owner && vm->chip_ops) {
        vm->chip_ops = NULL;
        vm->chip_opaque = NULL;
        vm->chip_owner = NULL;
    }
    if (vm->cpu_owner == owner && vm->cpu_intr) {
        vm->cpu_intr = NULL;
        vm->cpu_opaque = NULL;
        vm->cpu_owner = NULL;
    }
}
