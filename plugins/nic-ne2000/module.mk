# nic-ne2000: the DP8390 register model and its NE2000 ISA glue.
PLUGIN_NAMES += nic-ne2000
PLUGIN_SRCS_nic-ne2000 := plugins/nic-ne2000/dp8390.c plugins/nic-ne2000/ne2000.c
