# Network benchmark (make bench): iperf3 and TCP request/response latency
# through net-socket, net-slirp, pasta and native loopback.  Included from
# tests/netharness/module.mk (bench/ has no module.mk of its own in MODULES).
NET_BENCH_RR := $(B)/bench/net/tcp-rr

$(NET_BENCH_RR): $(B)/obj/bench/net/tcp-rr.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^

BENCH_DEPS += $(NET_BENCH_RR) $(LILY_NETNS)

.PHONY: bench-net
bench: bench-net
bench-net: all $(NET_BENCH_RR) $(LILY_NETNS)
	bench/net/run.sh
