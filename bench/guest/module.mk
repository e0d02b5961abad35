# make bench, guest network table (bench/guest/run.sh): the demo guest's
# ping, wget and the host's fetch through hostfwd, under QEMU and LilyVM,
# on this host and nested in lily-nested's x86-64 Linux.
GUEST_BENCH_DEPS := $(B)/guest/demo.elf $(B)/tools/lily-nested $(B)/tools/lily-nested-probe \
	$(LILY_NESTED_HELPERS) $(if $(GUEST_HAVE_LILY_CC),$(B)/guest/demo-lily.elf)
BENCH_DEPS += $(GUEST_BENCH_DEPS)

.PHONY: bench-guestnet
bench: bench-guestnet
bench-guestnet: all $(GUEST_BENCH_DEPS)
	bench/guest/run.sh
