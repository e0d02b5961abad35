# Native execution transports (VM side) plus the guest-process stub they fork.
# Programs and plugins that run guests link NATIVE_OBJS (executables) or list
# NATIVE_SRCS in their PLUGIN_SRCS_<name> (plugins).

NATIVE_SRCS := src/transport/transport.c src/transport/signal.c src/transport/ptrace.c \
	$(GUEST_STUB_SRCS)
NATIVE_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(NATIVE_SRCS))
