/*
 * lilyvm: the command-line program.  Loads the plugins, builds the machine
 * from a config file (or the default PC), loads the kernel and runs the main
 * loop until the guest or a signal ends the VM.
 */
#include <locale.h>
#include <signal.h>
#include <string.h>
#include "config.h"
#include "src/core/core.h"

#ifndef LILYVM_VERSION
#define LILYVM_VERSION "unknown"
#endif

static char *opt_config, *opt_kernel, *opt_cmdline, *opt_debug, *opt_log_file, *opt_describe;
static char **opt_sets;
static gboolean opt_stats, opt_list, opt_version;

static const GOptionEntry main_options[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config,
      "Machine configuration file (default: a PC with the plugins present)", "FILE" },
    { "kernel", 0, 0, G_OPTION_ARG_FILENAME, &opt_kernel,
      "Multiboot ELF32 kernel (same as --set machine.kernel=ELF)", "ELF" },
    { "cmdline", 0, 0, G_OPTION_ARG_STRING, &opt_cmdline,
      "Kernel command line (same as --set machine.cmdline=TEXT)", "TEXT" },
    { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_sets,
      "Override one key, e.g. --set serial0.irq=3 (repeatable)", "G.K=V" },
    { "debug", 'd', 0, G_OPTION_ARG_STRING, &opt_debug,
      "Debug output for categories: instance names, registry, config, bus, irq, "
      "loader, loop, net, or all", "CATS" },
    { "log-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_log_file,
      "Write log messages to FILE (warnings and errors also go to stderr)", "FILE" },
    { "stats", 0, 0, G_OPTION_ARG_NONE, &opt_stats, "Print counters on exit", NULL },
    { "list-plugins", 0, 0, G_OPTION_ARG_NONE, &opt_list,
      "List the plugins found and exit", NULL },
    { "describe", 0, 0, G_OPTION_ARG_STRING, &opt_describe,
      "Describe a plugin's options (or the core's [machine] keys) and exit", "PLUGIN|machine" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &opt_version, "Print the version and exit", NULL },
    { NULL },
};

static const char main_description[] =
    "Exit status: the guest's debug-exit value when the guest ends the VM;\n"
    "  125  bad command line, configuration, plugin or kernel image\n"
    "  124  the guest crashed or the VM failed while running\n"
    "  123  no CPU plugin available: the machine was built but not run\n"
    "  128+N  ended by signal N (SIGINT, SIGTERM, SIGHUP)\n"
    "\n"
    "Plugins are searched in the build tree (next to an uninstalled lilyvm),\n"
    "in " LILYVM_PLUGINDIR " and in every directory of LILYVM_PLUGIN_PATH.\n";

static void main_list_plugins(LilyVm *vm)
{
    Registry *reg = vm_registry(vm);
    if (!reg->plugins->len) {
        printf("no plugins found\n");
        return;
    }
    for (guint i = 0; i < reg->plugins->len; i++) {
        const LilyPlugin *p = g_ptr_array_index(reg->plugins, i);
        printf("%-16s %-8s %s\n", p->desc->name, registry_kind_name(p->desc->kind),
               p->desc->description);
    }
}

static void main_describe_option(const LilyOption *o)
{
    char *accepted = opt_describe_accepted(o);
    printf("  %-14s %s%s", o->name, opt_type_name(o->type),
           (o->flags & LILY_OPT_F_LIST) ? " list" : "");
    if (o->def)
        printf(", default %s", o->def);
    else if (o->flags & LILY_OPT_F_REQUIRED)
        printf(", required");
    else
        printf(", no default");
    printf("\n      %s\n      accepts %s\n", o->help ? o->help : "(no help)", accepted);
    g_free(accepted);
}

static int main_describe(LilyVm *vm, const char *name)
{
    Registry *reg = vm_registry(vm);
    if (strcmp(name, "machine") == 0) {
        printf("[machine]: the core's machine keys (the selected CPU and MMU plugins "
               "add their own; see --describe cpu-ia32)\noptions:\n");
        for (const LilyOption *o = cfg_machine_core_options(); o->name; o++)
            main_describe_option(o);
        printf("[netdev NAME] also takes:\n");
        for (const LilyOption *o = cfg_netdev_core_options(); o->name; o++)
            main_describe_option(o);
        return 0;
    }
    const LilyPlugin *p = registry_find(reg, name);
    if (!p) {
        const char *why = registry_failure(reg, name);
        char *names = registry_names(reg, 0);
        if (why)
            fprintf(stderr, "lilyvm: --describe %s: %s\n", name, why);
        else
            fprintf(stderr, "lilyvm: --describe %s: no such plugin (available: %s)\n", name,
                    names);
        g_free(names);
        return LILYVM_EXIT_CONFIG;
    }
    const LilyPluginDesc *d = p->desc;
    printf("%s (%s plugin, ABI %u.%u): %s\n", d->name, registry_kind_name(d->kind),
           d->abi_major, d->abi_minor, d->description);
    printf("file: %s\n", p->path);
    switch (d->kind) {
    case LILY_PLUGIN_DEVICE:
    case LILY_PLUGIN_IRQCHIP:
        printf("use: [device NAME] with plugin = %s\n", d->name);
        break;
    case LILY_PLUGIN_NETDEV:
        printf("use: [netdev NAME] with plugin = %s (core key: pcap = FILE)\n", d->name);
        break;
    case LILY_PLUGIN_CPU:
        printf("use: [machine] cpu = %s; its options are [machine] keys\n", d->name);
        break;
    case LILY_PLUGIN_MMU:
        printf("use: [machine] mmu = %s; its options are [machine] keys\n", d->name);
        break;
    }
    if (!d->options || !d->options[0].name) {
        printf("options: none\n");
        return 0;
    }
    printf("options:\n");
    for (const LilyOption *o = d->options; o->name; o++)
        main_describe_option(o);
    return 0;
}

static int main_fail(const char *what, GError *err)
{
    fprintf(stderr, "lilyvm: %s%s%s\n", what ? what : "", what ? ": " : "", err->message);
    g_error_free(err);
    return LILYVM_EXIT_CONFIG;
}

/* Everything after the options are parsed; returns the exit status. */
static int main_run(LilyVm *vm)
{
    GError *err = NULL;
    if (opt_list) {
        main_list_plugins(vm);
        return 0;
    }
    if (opt_describe)
        return main_describe(vm, opt_describe);

    if (opt_config) {
        if (!vm_configure_file(vm, opt_config, &err))
            return main_fail(NULL, err);
    } else {
        char *text = cfg_default_machine_text(vm_registry(vm));
        gboolean ok = vm_configure_data(vm, text, "<default machine>", &err);
        g_free(text);
        if (!ok)
            return main_fail(NULL, err);
    }
    if (opt_kernel) {
        char *a = g_strconcat("machine.kernel=", opt_kernel, NULL);
        gboolean ok = vm_set_option(vm, a, &err);
        g_free(a);
        if (!ok)
            return main_fail("--kernel", err);
    }
    if (opt_cmdline) {
        char *a = g_strconcat("machine.cmdline=", opt_cmdline, NULL);
        gboolean ok = vm_set_option(vm, a, &err);
        g_free(a);
        if (!ok)
            return main_fail("--cmdline", err);
    }
    for (char **s = opt_sets; s && *s; s++) {
        if (!vm_set_option(vm, *s, &err))
            return main_fail(NULL, err);
    }
    CfgGroup *m = cfg_find_group(&vm->cfg, "machine");
    if (!m || !cfg_find_entry(m, "kernel")) {
        fprintf(stderr, "lilyvm: no kernel to run: give --kernel ELF, or kernel = ELF in "
                        "[machine] of the config file (see lilyvm --help)\n");
        return LILYVM_EXIT_CONFIG;
    }
    /* Before realize: a signal during a plugin's init must still end the VM cleanly. */
    loop_watch_signals(vm);
    if (!vm_realize(vm, &err))
        return main_fail(NULL, err);
    if (!log_check_categories(vm, &err))
        return main_fail(NULL, err);

    if (!vm->cpu) {
        char *summary = vm_summary(vm);
        char *cpus = registry_names(vm_registry(vm), LILY_PLUGIN_CPU);
        CfgEntry *ce = cfg_find_entry(m, "cpu");
        if (ce)  /* only "none" gets here: a named CPU that is missing is an error */
            fprintf(stderr, "lilyvm: [machine] cpu = none: the machine has no CPU, so the "
                            "guest cannot run.");
        else
            fprintf(stderr, "lilyvm: no CPU plugin is available (cpu-ia32 was not found; "
                            "CPU plugins found: %s), so the guest cannot run.", cpus);
        fprintf(stderr, " The kernel was loaded and the devices were realized and checked, "
                        "but no guest instruction was executed. %s%s Exit status %d.\n",
                summary, ce ? "" : " Build or install a CPU plugin, or set [machine] cpu.",
                LILYVM_EXIT_NO_CPU);
        g_free(cpus);
        g_free(summary);
        return LILYVM_EXIT_NO_CPU;
    }
    vm_run(vm);
    int status = 0;
    vm_exited(vm, &status);
    return status;
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    /* A peer that closed a socket or pipe (a console reader, a backend's
     * host connection) is an error for that file, not a reason to die. */
    signal(SIGPIPE, SIG_IGN);
    GOptionContext *ctx = g_option_context_new("- run an IA-32 kernel in an unprivileged process");
    g_option_context_add_main_entries(ctx, main_options, NULL);
    g_option_context_set_description(ctx, main_description);
    GError *err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "lilyvm: %s (see lilyvm --help)\n", err->message);
        g_error_free(err);
        g_option_context_free(ctx);
        return LILYVM_EXIT_CONFIG;
    }
    g_option_context_free(ctx);
    if (argc > 1) {
        fprintf(stderr, "lilyvm: unexpected argument '%s' (see lilyvm --help)\n", argv[1]);
        return LILYVM_EXIT_CONFIG;
    }
    if (opt_version) {
        printf("lilyvm %s (plugin ABI %d.%d)\n", LILYVM_VERSION, LILYVM_ABI_MAJOR,
               LILYVM_ABI_MINOR);
        return 0;
    }
    if (opt_log_file && !log_set_file(opt_log_file, &err))
        return main_fail(NULL, err);
    if (opt_debug)
        log_set_categories(opt_debug);

    LilyVm *vm = vm_new();
    int status = LILYVM_EXIT_CONFIG;
    if (vm_load_plugins(vm, &err))
        status = main_run(vm);
    else
        status = main_fail(NULL, err);
    vm_stop(vm);
    if (opt_stats && vm->realized)
        vm_print_stats(vm, stderr);
    vm_free(vm);
    log_shutdown();
    g_strfreev(opt_sets);
    g_free(opt_config);
    g_free(opt_kernel);
    g_free(opt_cmdline);
    g_free(opt_debug);
    g_free(opt_log_file);
    g_free(opt_describe);
    return status;
}
