# Installation: make install / make uninstall (DESTDIR honoured), the
# pkg-config file for plugin authors, and the man pages.
#
# The directories come from config.mk (./configure --prefix, --bindir, ...).
# PREFIX given on the make command line (make install PREFIX=/usr) moves
# every directory that was derived from the configured prefix, unless that
# directory is itself given on the command line.

CONFIGURED_PREFIX := $(shell sed -n 's/^PREFIX = //p' config.mk)
CONFIGURED_PLUGINDIR := $(shell sed -n 's/^PLUGINDIR = //p' config.mk)
ifeq ($(origin PREFIX),command line)
ifneq ($(PREFIX),$(CONFIGURED_PREFIX))
install_reprefix = $(if $(filter command line,$(origin $(1))),,\
	$(eval $(1) := $(patsubst $(CONFIGURED_PREFIX)/%,$(PREFIX)/%,$($(1)))))
$(foreach d,BINDIR LIBDIR PLUGINDIR INCLUDEDIR MANDIR DATADIR,$(call install_reprefix,$(d)))
endif
endif

PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL ?= install
MAN_PAGES := docs/man/lilyvm.1 docs/man/lilyvm.conf.5
PUBLIC_HEADERS := $(wildcard include/lilyvm/*.h)
INSTALL_TOOLS := lily-cc lily-as lily-check
# BINS is complete only once every module.mk is read: expand it late.
INSTALL_PROGRAM = $(filter $(B)/lilyvm,$(BINS))

# In the .pc file, directories under the prefix are written relative to
# ${prefix}, so that pkg-config --define-prefix can relocate a staged install.
pc_path = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

.PHONY: install-files uninstall
install-files: all
	@if [ "$(PLUGINDIR)" != "$(CONFIGURED_PLUGINDIR)" ]; then \
	    echo "note: lilyvm was built to look for plugins in $(CONFIGURED_PLUGINDIR);" \
	         "set LILYVM_PLUGIN_PATH=$(PLUGINDIR) or re-run ./configure --prefix=$(PREFIX)"; \
	fi
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(PLUGINDIR)" \
	    "$(DESTDIR)$(INCLUDEDIR)/lilyvm" "$(DESTDIR)$(PKGCONFIGDIR)" \
	    "$(DESTDIR)$(MANDIR)/man1" "$(DESTDIR)$(MANDIR)/man5"
	$(if $(INSTALL_PROGRAM),$(INSTALL) -m 755 $(INSTALL_PROGRAM) "$(DESTDIR)$(BINDIR)/")
	@# The toolchain's own install-tools hook, when there is one, installs
	@# lily-cc with the assembler directory it needs; otherwise copy what is built.
	@$(if $(filter install-tools,$(INSTALL_HOOKS)),true ||) for t in $(INSTALL_TOOLS); do \
	    if [ -f "$(B)/tools/$$t" ]; then \
	        echo "$(INSTALL) -m 755 $(B)/tools/$$t $(DESTDIR)$(BINDIR)/"; \
	        $(INSTALL) -m 755 "$(B)/tools/$$t" "$(DESTDIR)$(BINDIR)/" || exit 1; \
	    fi; \
	done
	$(if $(PLUGINS),$(INSTALL) -m 755 $(PLUGINS) "$(DESTDIR)$(PLUGINDIR)/")
	$(INSTALL) -m 644 $(PUBLIC_HEADERS) "$(DESTDIR)$(INCLUDEDIR)/lilyvm/"
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@INCLUDEDIR@|$(call pc_path,$(INCLUDEDIR))|g' \
	    -e 's|@PLUGINDIR@|$(call pc_path,$(PLUGINDIR))|g' \
	    -e 's|@VERSION@|$(VERSION)|g' \
	    lilyvm-plugin.pc.in >"$(DESTDIR)$(PKGCONFIGDIR)/lilyvm-plugin.pc"
	$(INSTALL) -m 644 $(filter %.1,$(MAN_PAGES)) "$(DESTDIR)$(MANDIR)/man1/"
	$(INSTALL) -m 644 $(filter %.5,$(MAN_PAGES)) "$(DESTDIR)$(MANDIR)/man5/"

uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/lilyvm" $(foreach t,$(INSTALL_TOOLS),"$(DESTDIR)$(BINDIR)/$(t)")
	rm -f $(foreach p,$(PLUGIN_NAMES),"$(DESTDIR)$(PLUGINDIR)/$(p).so")
	rm -f $(foreach h,$(notdir $(PUBLIC_HEADERS)),"$(DESTDIR)$(INCLUDEDIR)/lilyvm/$(h)")
	rm -f "$(DESTDIR)$(PKGCONFIGDIR)/lilyvm-plugin.pc"
	rm -f $(foreach m,$(filter %.1,$(MAN_PAGES)),"$(DESTDIR)$(MANDIR)/man1/$(notdir $(m))") \
	    $(foreach m,$(filter %.5,$(MAN_PAGES)),"$(DESTDIR)$(MANDIR)/man5/$(notdir $(m))")
	$(if $(LILYCC_BIN_INSTALLED),rm -f "$(DESTDIR)$(LILYCC_BIN_INSTALLED)/as")
	rmdir $(if $(LILYCC_BIN_INSTALLED),"$(DESTDIR)$(LILYCC_BIN_INSTALLED)") \
	    "$(DESTDIR)$(PLUGINDIR)" "$(DESTDIR)$(patsubst %/,%,$(dir $(PLUGINDIR)))" \
	    "$(DESTDIR)$(INCLUDEDIR)/lilyvm" 2>/dev/null || true

INSTALL_HOOKS += install-files
