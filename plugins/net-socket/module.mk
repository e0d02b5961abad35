# net-socket: the default network backend (user-mode TCP/UDP/ICMP over host
# sockets).  The core files are also linked into the tests and the fuzzer.
NETSOCK_CORE_SRCS := $(addprefix plugins/net-socket/,flow.c eth.c arp.c ip.c \
	icmp.c udp.c tcp.c dhcp.c dns.c fwd.c sock.c)
PLUGIN_NAMES += net-socket
PLUGIN_SRCS_net-socket := $(NETSOCK_CORE_SRCS) plugins/net-socket/netsock.c
PLUGIN_LIBS_net-socket :=
