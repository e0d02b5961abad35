# The pit-i8254 plugin: the 8254 counter model (i8254.c) and its glue to the
# bus, the VM clock, IRQ 0 and port 0x61 (pit.c).
PLUGIN_NAMES += pit-i8254
PLUGIN_SRCS_pit-i8254 := plugins/pit-i8254/pit.c plugins/pit-i8254/i8254.c
PLUGIN_LIBS_pit-i8254 :=
