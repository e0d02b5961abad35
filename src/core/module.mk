# LilyVM core: every src/core/*.c but main.c goes into build/liblilycore.a
# (the tests link it too); build/lilyvm is main.c plus that library.

CORE_SRCS := $(filter-out src/core/main.c,$(wildcard src/core/*.c))
CORE_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(CORE_SRCS))
CORE_LIB := $(B)/liblilycore.a
CORE_LIBS := $(CORE_LIB) -ldl $(GLIB_LIBS)

# The build tree's plugin directory, searched by programs that run from it.
$(B)/obj/src/core/registry.o: CFLAGS_EXE += -DLILYVM_BUILD_DIR='"$(abspath $(B))"'
$(B)/obj/src/core/main.o: CFLAGS_EXE += -DLILYVM_VERSION='"$(VERSION)"'

$(CORE_LIB): $(CORE_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/lilyvm: $(B)/obj/src/core/main.o $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $< $(CORE_LIBS)

BINS += $(B)/lilyvm
