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
