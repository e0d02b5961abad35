# lily-netns: runs a command in a private network namespace whose TAP link is
# served by a network backend loaded through the real core (test bench for
# the backends with real applications; see docs/networking.md).
LILY_NETNS := $(B)/tools/lily-netns
LILY_NETNS_SRCS := $(addprefix tools/lily-netns/,lily-netns.c netns.c tapnic.c)

$(LILY_NETNS): $(patsubst %.c,$(B)/obj/%.o,$(LILY_NETNS_SRCS)) $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $(filter %.o,$^) $(CORE_LIBS)

BINS += $(LILY_NETNS)
