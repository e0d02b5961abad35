# Guest-process stub: code that runs inside the forked guest process, partly
# in signal handlers entered with the guest's %fs/%gs loaded.  It gets its own
# object rules: no stack protector, no _FORTIFY_SOURCE, no sanitizers (the
# SAN_FLAGS and HARDEN of the host rules must not reach it).

GUEST_STUB_SRCS := src/guest/stub.c
GUEST_STUB_CFLAGS := -std=gnu11 -O2 -g $(WARN) -I. -Iinclude $(GLIB_CFLAGS) \
	-fno-stack-protector -U_FORTIFY_SOURCE -fno-sanitize=all \
	-fno-tree-loop-distribute-patterns -fno-builtin $(USER_CFLAGS)

# These beat the generic build/obj/%.o and build/pic/%.o rules (shorter stem).
$(B)/obj/src/guest/%.o: src/guest/%.c config.mk
	@mkdir -p $(@D)
	$(CC) $(GUEST_STUB_CFLAGS) -fPIE -MMD -MP -c -o $@ $<

$(B)/pic/src/guest/%.o: src/guest/%.c config.mk
	@mkdir -p $(@D)
	$(CC) $(GUEST_STUB_CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c -o $@ $<
