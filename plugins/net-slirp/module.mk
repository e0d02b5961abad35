# net-slirp: the network backend over libslirp (built when configure found
# libslirp-dev: HAVE_SLIRP = yes).
ifeq ($(HAVE_SLIRP),yes)
PLUGIN_NAMES += net-slirp
PLUGIN_SRCS_net-slirp := plugins/net-slirp/netslirp.c plugins/net-slirp/loop.c
PLUGIN_LIBS_net-slirp := $(SLIRP_LIBS)
$(B)/pic/plugins/net-slirp/%.o: CFLAGS_PLUGIN += $(SLIRP_CFLAGS)
endif
