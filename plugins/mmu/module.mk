# The mmu plugin: IA-32 shadow paging (shadow.c, plain C that could run in
# the guest process) behind the LilyMmuOps table (mmu.c).
PLUGIN_NAMES += mmu
PLUGIN_SRCS_mmu := plugins/mmu/mmu.c plugins/mmu/shadow.c
PLUGIN_LIBS_mmu :=
