# The network demo kernel: build/guest/demo.elf (plain, for QEMU) and
# demo-lily.elf (rewritten, for LilyVM), linked with libguestnet.a.
$(eval $(call guest_kernel,demo,guest/demo/main.c guest/demo/sha256.c,))
GUEST_OBJS_demo_plain += $(B)/guest/plain/libguestnet.a
GUEST_OBJS_demo_lily += $(B)/guest/lily/libguestnet.a
$(B)/guest/demo.elf: $(B)/guest/plain/libguestnet.a
$(B)/guest/demo-lily.elf: $(B)/guest/lily/libguestnet.a
