# The debug-exit plugin: a port that ends the VM with the guest's status.
PLUGIN_NAMES += debug-exit
PLUGIN_SRCS_debug-exit := plugins/debug-exit/debug-exit.c
PLUGIN_LIBS_debug-exit :=
