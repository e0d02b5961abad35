# The cpu-ia32 plugin: the trap-path core (state, seg, deliver, emulate: plain
# C, Zydis) and its glue (plugin.c), with the native transport built in.
CPU_IA32_CORE_SRCS := plugins/cpu-ia32/state.c plugins/cpu-ia32/seg.c \
	plugins/cpu-ia32/deliver.c plugins/cpu-ia32/emulate.c
PLUGIN_NAMES += cpu-ia32
PLUGIN_SRCS_cpu-ia32 := $(CPU_IA32_CORE_SRCS) plugins/cpu-ia32/plugin.c $(NATIVE_SRCS)
PLUGIN_LIBS_cpu-ia32 = $(ZYDIS_LIBS)
