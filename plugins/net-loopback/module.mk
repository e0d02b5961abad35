# net-loopback: the backend that sends every frame back to the NIC.
PLUGIN_NAMES += net-loopback
PLUGIN_SRCS_net-loopback := plugins/net-loopback/net-loopback.c
