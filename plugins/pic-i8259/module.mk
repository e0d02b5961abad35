# The pic-i8259 plugin: the 8259A chip model (i8259.c) and the master/slave
# pair that is the machine's interrupt controller (pic.c).
PLUGIN_NAMES += pic-i8259
PLUGIN_SRCS_pic-i8259 := plugins/pic-i8259/pic.c plugins/pic-i8259/i8259.c
PLUGIN_LIBS_pic-i8259 :=
