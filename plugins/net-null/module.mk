# net-null: the backend that drops every frame.
PLUGIN_NAMES += net-null
PLUGIN_SRCS_net-null := plugins/net-null/net-null.c
