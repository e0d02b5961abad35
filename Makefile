# LilyVM: one non-recursive GNU Makefile.  Each part of the tree adds its
# targets in a module.mk beside its sources (src/core/module.mk,
# plugins/NAME/module.mk, tools/module.mk, guest/module.mk, tests/*/module.mk).
#
#   make            build build/lilyvm, build/plugins/*.so, tools and guests
#   make check      run every test through prove (ends with prove's summary)
#   make bench      run the benchmarks (not tests: nothing asserts a time)
#   make install    install under PREFIX (DESTDIR honoured)

ifeq ($(wildcard config.mk),)
$(error config.mk is missing: run ./configure first)
endif
include config.mk

VERSION := 0.1.0
B := build

WARN := -Wall -Wextra -Wno-unused-parameter -Wmissing-prototypes -Wstrict-prototypes
HARDEN := -fstack-protector-strong -D_FORTIFY_SOURCE=2
# Host code: core, plugins, tools, tests.
CFLAGS_HOST := -std=gnu11 -O2 -g $(WARN) $(HARDEN) -I. -Iinclude $(GLIB_CFLAGS) $(SAN_FLAGS) $(USER_CFLAGS)
LDFLAGS_HOST := $(SAN_FLAGS) $(USER_LDFLAGS)
CFLAGS_EXE := $(CFLAGS_HOST) -fPIE
LDFLAGS_EXE := $(LDFLAGS_HOST) -pie
CFLAGS_PLUGIN := $(CFLAGS_HOST) -fPIC -fvisibility=hidden

# Lists the module.mk files add to.
BINS :=        # host programs under $(B)/
PLUGIN_NAMES := # plugins: NAME -> $(B)/plugins/NAME.so from PLUGIN_SRCS_NAME
GUESTS :=      # guest images under $(B)/guest/
TESTS :=       # what prove runs: executables that print TAP
UNIT_TESTS :=  # the subset of TESTS that make check-unit runs (fast, no guest, no network)
TEST_DEPS :=   # what must be built before the tests run
BENCH_DEPS :=  # what make bench needs built
INSTALL_HOOKS := # extra install targets

.PHONY: all check check-unit bench install clean distclean fuzz
all:

# Order matters where a module uses another's variables in its rules: the
# core and the tools come first, the install rules (docs/) last.
MODULES := $(wildcard src/core/module.mk) \
	$(sort $(filter-out src/core/module.mk,$(wildcard src/*/module.mk))) \
	$(wildcard tools/module.mk) $(sort $(wildcard tools/*/module.mk)) \
	$(sort $(wildcard plugins/*/module.mk)) \
	$(wildcard guest/module.mk) \
	$(sort $(wildcard tests/*/module.mk fuzz/module.mk)) \
	$(sort $(wildcard bench/*/module.mk)) \
	$(wildcard docs/module.mk)
include $(MODULES)

# A plugin is every .c in its PLUGIN_SRCS_NAME, linked into $(B)/plugins/NAME.so
# with PLUGIN_LIBS_NAME.  Plugins link against no core symbols.
define plugin_rule
$(B)/plugins/$(1).so: $(patsubst %.c,$(B)/pic/%.o,$(PLUGIN_SRCS_$(1)))
	@mkdir -p $$(@D)
	$$(CC) -shared -Wl,-z,defs -o $$@ $$^ $$(LDFLAGS_HOST) $$(PLUGIN_LIBS_$(1)) $$(GLIB_LIBS)
endef
$(foreach p,$(PLUGIN_NAMES),$(eval $(call plugin_rule,$(p))))
PLUGINS := $(patsubst %,$(B)/plugins/%.so,$(PLUGIN_NAMES))

all: $(BINS) $(PLUGINS) $(GUESTS)

$(B)/obj/%.o: %.c config.mk
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_EXE) -MMD -MP -c -o $@ $<

$(B)/pic/%.o: %.c config.mk
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_PLUGIN) -MMD -MP -c -o $@ $<

PROVE ?= prove
PROVE_FLAGS ?=
check: all $(TEST_DEPS)
	$(PROVE) $(PROVE_FLAGS) --exec '' $(TESTS)

# The fast subset, run again in a sanitizer build by .ci/run.
check-unit: all $(TEST_DEPS)
	$(PROVE) $(PROVE_FLAGS) --exec '' $(UNIT_TESTS)

bench: all $(BENCH_DEPS)

install: all $(INSTALL_HOOKS)

clean:
	rm -rf $(B)

distclean: clean
	rm -f config.mk config.h

# Keep intermediate objects: rebuilding them on every run wastes time.
.SECONDARY:

-include $(shell find $(B) -name '*.d' 2>/dev/null)
