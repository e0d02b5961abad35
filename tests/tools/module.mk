# Tests of the rewriting toolchain: the rewriter core (GTest) and lily-as,
# lily-cc and lily-check driven as programs (shell TAP).

$(B)/tests/tools/lilyas-rewrite-test: $(B)/obj/tests/tools/lilyas-rewrite-test.o $(B)/obj/tools/lilyas-rewrite.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(GLIB_LIBS)

TOOLS_TESTS := $(B)/tests/tools/lilyas-rewrite-test tests/tools/toolchain.sh
TESTS += $(TOOLS_TESTS)
UNIT_TESTS += $(TOOLS_TESTS)
TEST_DEPS += $(B)/tests/tools/lilyas-rewrite-test $(B)/tools/lily-as $(B)/tools/lilycc-bin/as \
	$(B)/tools/lily-cc $(B)/tools/lily-check
