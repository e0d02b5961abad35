# The rewriting toolchain: lily-as (rewrites sensitive instructions, then runs
# gas), lily-cc (gcc -m32 freestanding with lily-as as its assembler) and
# lily-check (lists sensitive instructions left in a built kernel).

LILYAS_SRCS := tools/lily-as.c tools/lilyas-rewrite.c
LILYCHECK_SRCS := tools/lily-check.c tools/lilycheck-elf.c

# Recursive: docs/module.mk may move LIBDIR (make install PREFIX=...) after
# this file is read, and the recipes must see where lily-as really goes.
LILYCC_BIN_INSTALLED = $(LIBDIR)/lilyvm/lilycc-bin
# lily-cc from its template, looking for lily-as in $(1) when installed.
lilycc_subst = sed -e 's|@CC32@|$(CC32)|g' -e 's|@LILYCC_BIN@|$(1)|g' -e 's|@VERSION@|$(VERSION)|g' tools/lily-cc.in

BINS += $(B)/tools/lily-as $(B)/tools/lilycc-bin/as $(B)/tools/lily-cc $(B)/tools/lily-check

$(B)/tools/lily-as: $(patsubst %.c,$(B)/obj/%.o,$(LILYAS_SRCS))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(GLIB_LIBS)

# gcc -B DIR/ runs DIR/as: that is lily-as under the name gcc looks for.
$(B)/tools/lilycc-bin/as: $(B)/tools/lily-as
	@mkdir -p $(@D)
	ln -sf ../lily-as $@

# For other module.mk files: use these in recipes only (guest/module.mk is
# read before this file), and name $(B)/tools/lily-cc, $(B)/tools/lily-as and
# $(B)/tools/lily-check literally as prerequisites.
LILY_CC ?= $(B)/tools/lily-cc
LILY_CHECK ?= $(B)/tools/lily-check

# Order-only: building lily-cc builds the assembler it runs.
$(B)/tools/lily-cc: tools/lily-cc.in config.mk | $(B)/tools/lilycc-bin/as
	@mkdir -p $(@D)
	$(call lilycc_subst,$(LILYCC_BIN_INSTALLED)) >$@.tmp
	chmod +x $@.tmp
	mv $@.tmp $@

$(B)/tools/lily-check: $(patsubst %.c,$(B)/obj/%.o,$(LILYCHECK_SRCS))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(ZYDIS_LIBS) $(GLIB_LIBS)

# (include/lilyvm/rewrite.h is installed with the other public headers.)
INSTALL_HOOKS += install-tools
.PHONY: install-tools
install-tools: $(B)/tools/lily-as $(B)/tools/lily-cc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LILYCC_BIN_INSTALLED)
	install -m 755 $(B)/tools/lily-as $(B)/tools/lily-check $(DESTDIR)$(BINDIR)/
	@# lily-cc again from its template: the install directories may differ
	@# from the configured ones (make install PREFIX=...).
	$(call lilycc_subst,$(LILYCC_BIN_INSTALLED)) >$(B)/tools/lily-cc.install
	install -m 755 $(B)/tools/lily-cc.install $(DESTDIR)$(BINDIR)/lily-cc
	rm -f $(B)/tools/lily-cc.install
	install -m 755 $(B)/tools/lily-as $(DESTDIR)$(LILYCC_BIN_INSTALLED)/as

# lily-nested: lilyvm inside an x86-64 Linux under QEMU, for hosts without a
# 32-bit code segment.  The script finds its helpers beside itself in the
# build tree and in $(LIBDIR)/lilyvm when installed.  The tests and
# bench/nested.sh that need an x86-64 Linux run it too (tests/nested-lib.sh).
LILY_NESTED_HELPERS := $(B)/tools/lily-nested-init $(B)/tools/lily-nested-mkinitramfs
BINS += $(B)/tools/lily-nested $(B)/tools/lily-nested-probe $(LILY_NESTED_HELPERS)
lily_nested_subst = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@HELPERDIR@|$(LIBDIR)/lilyvm|g' \
	-e 's|@PLUGINDIR@|$(PLUGINDIR)|g' tools/lily-nested.in

$(B)/tools/lily-nested: tools/lily-nested.in config.mk
	@mkdir -p $(@D)
	$(lily_nested_subst) >$@.tmp
	chmod +x $@.tmp
	mv $@.tmp $@

# Static: the initramfs holds no C library for it.
$(B)/tools/lily-nested-init: tools/lily-nested-init.c
	@mkdir -p $(@D)
	$(CC) -static -O2 -Wall -Wextra -o $@ $<

$(B)/tools/lily-nested-mkinitramfs: tools/lily-nested-mkinitramfs.c
	@mkdir -p $(@D)
	$(CC) -O2 -Wall -Wextra -o $@ $<

$(B)/tools/lily-nested-probe: $(B)/obj/tools/lily-nested-probe.o $(NATIVE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(GLIB_LIBS)

INSTALL_HOOKS += install-lily-nested
.PHONY: install-lily-nested
install-lily-nested: $(B)/tools/lily-nested-probe $(LILY_NESTED_HELPERS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/lilyvm
	$(lily_nested_subst) >$(B)/tools/lily-nested.install
	install -m 755 $(B)/tools/lily-nested.install $(DESTDIR)$(BINDIR)/lily-nested
	rm -f $(B)/tools/lily-nested.install
	install -m 755 $(B)/tools/lily-nested-probe $(DESTDIR)$(BINDIR)/
	install -m 755 $(LILY_NESTED_HELPERS) $(DESTDIR)$(LIBDIR)/lilyvm/

# make uninstall removes what install-lily-nested put in place (docs/module.mk
# removes the directories after it).
uninstall: uninstall-lily-nested
.PHONY: uninstall-lily-nested
uninstall-lily-nested:
	rm -f "$(DESTDIR)$(BINDIR)/lily-nested" "$(DESTDIR)$(BINDIR)/lily-nested-probe" \
	    $(foreach h,$(notdir $(LILY_NESTED_HELPERS)),"$(DESTDIR)$(LIBDIR)/lilyvm/$(h)")
