# The cpu-ia32 plugin: the trap-path core (state, seg, deliver, emulate: plain
# C, Zydis) and its glue (plugin.c), with the native transport built in.
CPU_IA32_CORE_SRCS := plugins/cpu-ia32/state.c plugins/cpu-ia32/seg.c \
	plugins/cpu-ia32/deliver.c plugins/cpu-ia32/emulate.c
# The in-guest fast path: local.c runs in the guest process's signal handler,
# local-vm.c is its VM side.
CPU_IA32_LOCAL_SRCS := plugins/cpu-ia32/local.c plugins/cpu-ia32/local-vm.c
PLUGIN_NAMES += cpu-ia32
PLUGIN_SRCS_cpu-ia32 := $(CPU_IA32_CORE_SRCS) $(CPU_IA32_LOCAL_SRCS) plugins/cpu-ia32/plugin.c \
	$(NATIVE_SRCS)
PLUGIN_LIBS_cpu-ia32 = $(ZYDIS_LIBS)

# local.c gets the stub's flags (src/guest/module.mk): no stack protector, no
# sanitizers, no builtins -- it runs where the stub's handler runs.
$(B)/pic/plugins/cpu-ia32/local.o: plugins/cpu-ia32/local.c config.mk
	@mkdir -p $(@D)
	$(CC) $(GUEST_STUB_CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c -o $@ $<
