# The console plugin: a 16550A UART (register model apart from the glue) on a
# host backend.
PLUGIN_NAMES += console
PLUGIN_SRCS_console := plugins/console/console.c plugins/console/uart16550.c \
	plugins/console/backend.c plugins/console/term.c
# nodelete: the terminal-restoring atexit() hook and signal handlers must
# outlive an unload of the plugin.
PLUGIN_LIBS_console := -Wl,-z,nodelete
