#!/bin/bash
# Tests of the rewriting toolchain as programs: lily-cc builds C (inline asm),
# .S and .s through lily-as; lily-check finds nothing in the result and
# exactly the expected sites in a plain build; bad input gives clear errors.
# Prints TAP.  Run from the top of the tree after make (B=build by default).

B=${B:-build}
CC32=${CC32:-gcc}
DATA=tests/tools/data
LILY_AS=$PWD/$B/tools/lily-as
LILY_CC=$PWD/$B/tools/lily-cc
LILY_CHECK=$PWD/$B/tools/lily-check

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
# check NAME COMMAND...: ok if the command succeeds
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
# show FILE: print a file as TAP diagnostics
show() { sed 's/^/# /' "$1"; }

for p in "$LILY_AS" "$LILY_CC" "$LILY_CHECK"; do
    if [ ! -x "$p" ]; then
        echo "1..0 # SKIP $p not built (run make)"
        exit 0
    fi
done
if ! command -v as >/dev/null || ! $CC32 -m32 -c -x c -o /dev/null /dev/null 2>/dev/null; then
    echo "1..0 # SKIP no 32-bit gcc and binutils (apt-get install gcc-multilib binutils)"
    exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lily-toolchain-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
# lily-as's temporary files go here, so the test can see that none is left.
mkdir "$tmp/astmp"
export TMPDIR="$tmp/astmp"

# Strip lily-check's lines down to the symbol names, sorted.
symbols() { sed -n 's/^[^ ]*: 0x[0-9a-f]* <\([^+>]*\).*/\1/p' "$1" | sort; }

KFLAGS="-O2 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -fcf-protection=none"

# ---- lily-cc builds and lily-check agrees ------------------------------------
if "$LILY_CC" -O2 -o "$tmp/lily.elf" $DATA/sensitive.c $DATA/entry.S $DATA/plain.s 2>"$tmp/cc.err"; then
    ok "/toolchain/lily-cc/builds-c-S-s"
else
    not_ok "/toolchain/lily-cc/builds-c-S-s"; show "$tmp/cc.err"
fi

"$LILY_CHECK" "$tmp/lily.elf" >"$tmp/check.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q 'clean' "$tmp/check.out"; then
    ok "/toolchain/lily-check/lily-cc-build-is-clean"
else
    not_ok "/toolchain/lily-check/lily-cc-build-is-clean (exit $rc)"; show "$tmp/check.out"
fi

sites=$(sed -n 's/.*, \([0-9]*\) rewritten sites.*/\1/p' "$tmp/check.out")
check "/toolchain/lily-check/counts-rewritten-sites (21 expected, got ${sites:-none})" test "${sites:-0}" -eq 21

$CC32 -m32 $KFLAGS -nostdlib -static -no-pie -o "$tmp/plain.elf" \
    $DATA/sensitive.c $DATA/entry.S $DATA/plain.s -lgcc 2>"$tmp/plain.err" || show "$tmp/plain.err"
"$LILY_CHECK" "$tmp/plain.elf" >"$tmp/plain.out" 2>"$tmp/plain.stderr"
rc=$?
check "/toolchain/lily-check/plain-build-exits-1 (got $rc)" test $rc -eq 1
cat >"$tmp/expected" <<'EOF'
f_builtin_flags
f_intel
f_lar
f_lsl
f_mov_cs
f_mov_ss_mem
f_popf
f_push_ds
f_pushf
f_sgdt
f_sidt
f_sldt
f_smsw
f_str
f_verr
f_verw
p_fs
p_sidt
s_es
s_flags
s_flags
EOF
symbols "$tmp/plain.out" >"$tmp/found"
if cmp -s "$tmp/expected" "$tmp/found"; then
    ok "/toolchain/lily-check/plain-build-finds-exactly-the-expected-symbols"
else
    not_ok "/toolchain/lily-check/plain-build-finds-exactly-the-expected-symbols"
    diff "$tmp/expected" "$tmp/found" | sed 's/^/# /'; show "$tmp/plain.out"
fi
if grep -q '^[^ ]*: 0x[0-9a-f]* <f_lsl+0x[0-9a-f]*>: lsl' "$tmp/plain.out"; then
    ok "/toolchain/lily-check/line-format-address-symbol-text"
else
    not_ok "/toolchain/lily-check/line-format-address-symbol-text"; show "$tmp/plain.out"
fi

# Code with nothing sensitive (but functions named str, pushf, popf) comes
# out of lily-cc byte for byte as gcc makes it, line table included.
mkdir -p "$tmp/o1" "$tmp/o2"
$CC32 -m32 $KFLAGS -g -c -o "$tmp/o1/ordinary.o" $DATA/ordinary.c
"$LILY_CC" -O2 -g -c -o "$tmp/o2/ordinary.o" $DATA/ordinary.c
objcopy -O binary -j .text "$tmp/o1/ordinary.o" "$tmp/o1/text.bin"
objcopy -O binary -j .text "$tmp/o2/ordinary.o" "$tmp/o2/text.bin"
readelf -wl "$tmp/o1/ordinary.o" | grep -v 'File:' >"$tmp/o1/lines"
readelf -wl "$tmp/o2/ordinary.o" | grep -v 'File:' >"$tmp/o2/lines"
if cmp -s "$tmp/o1/text.bin" "$tmp/o2/text.bin" && cmp -s "$tmp/o1/lines" "$tmp/o2/lines" &&
    [ -s "$tmp/o1/text.bin" ]; then
    ok "/toolchain/lily-cc/ordinary-code-unchanged"
else
    not_ok "/toolchain/lily-cc/ordinary-code-unchanged"
fi
"$LILY_CHECK" -q "$tmp/o1/ordinary.o" >"$tmp/ord.out" 2>&1
rc=$?
check "/toolchain/lily-check/ordinary-code-is-clean (got $rc)" test $rc -eq 0

# -pipe: gcc hands lily-as the assembly on standard input.
if "$LILY_CC" -pipe -O2 -c -o "$tmp/pipe.o" $DATA/sensitive.c 2>"$tmp/pipe.err" &&
    "$LILY_CHECK" -q "$tmp/pipe.o" >"$tmp/pipe.out" 2>&1; then
    ok "/toolchain/lily-cc/pipe-object-is-clean"
else
    not_ok "/toolchain/lily-cc/pipe-object-is-clean"; show "$tmp/pipe.err"; show "$tmp/pipe.out"
fi

# The installed layout: lily-cc in BINDIR, lily-as as LIBDIR/lilyvm/lilycc-bin/as.
mkdir -p "$tmp/inst/bin" "$tmp/inst/lib/lilyvm/lilycc-bin"
sed -e "s|@CC32@|$CC32|g" -e "s|@LILYCC_BIN@|$tmp/inst/lib/lilyvm/lilycc-bin|g" -e 's|@VERSION@|test|g' \
    tools/lily-cc.in >"$tmp/inst/bin/lily-cc"
chmod +x "$tmp/inst/bin/lily-cc"
cp "$LILY_AS" "$tmp/inst/lib/lilyvm/lilycc-bin/as"
if "$tmp/inst/bin/lily-cc" -O2 -c -o "$tmp/inst.o" $DATA/sensitive.c 2>"$tmp/inst.err" &&
    "$LILY_CHECK" -q "$tmp/inst.o" >"$tmp/inst.out" 2>&1; then
    ok "/toolchain/lily-cc/installed-layout"
else
    not_ok "/toolchain/lily-cc/installed-layout"; show "$tmp/inst.err"; show "$tmp/inst.out"
fi

# ---- lily-as as a program ----------------------------------------------------
printf '\tpushf\n\tmov %%cs, %%eax\n' | "$LILY_AS" --32 -o "$tmp/stdin.o" 2>"$tmp/stdin.err"
objcopy -O binary -j .text "$tmp/stdin.o" "$tmp/stdin.bin" 2>>"$tmp/stdin.err"
bytes=$(od -An -tx1 "$tmp/stdin.bin" 2>/dev/null | tr -d ' \n')
check "/toolchain/lily-as/stdin-input (cd e0 9c cd e2 8c c8 expected, got $bytes)" test "$bytes" = cde09ccde28cc8

# Every argument reaches the real assembler; the input is swapped for the rewrite.
cat >"$tmp/fake-as" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >"$tmp/fake-args"
for last; do :; done
cp "\$last" "$tmp/fake-input"
exit 3
EOF
chmod +x "$tmp/fake-as"
printf '\tsgdt (%%eax)\n' >"$tmp/in.s"
LILY_REAL_AS="$tmp/fake-as" "$LILY_AS" --32 --defsym X=1 -I "$tmp" -o "$tmp/out.o" -g "$tmp/in.s" 2>"$tmp/fake.err"
rc=$?
check "/toolchain/lily-as/exit-status-of-real-as (3 expected, got $rc)" test $rc -eq 3
head -n 8 "$tmp/fake-args" >"$tmp/fake-head"
printf '%s\n' --32 --defsym X=1 -I "$tmp" -o "$tmp/out.o" -g >"$tmp/want-head"
if cmp -s "$tmp/fake-head" "$tmp/want-head" && [ "$(wc -l <"$tmp/fake-args")" -eq 9 ] &&
    [ "$(tail -n 1 "$tmp/fake-args")" != "$tmp/in.s" ]; then
    ok "/toolchain/lily-as/keeps-every-argument"
else
    not_ok "/toolchain/lily-as/keeps-every-argument"; show "$tmp/fake-args"
fi
if grep -q 'int $0xe4; sgdt (%eax)' "$tmp/fake-input" 2>/dev/null; then
    ok "/toolchain/lily-as/real-as-gets-rewritten-input"
else
    not_ok "/toolchain/lily-as/real-as-gets-rewritten-input"; show "$tmp/fake-input"
fi
tempfile=$(tail -n 1 "$tmp/fake-args")
check "/toolchain/lily-as/removes-its-temporary-file" test ! -e "$tempfile"

printf '\tpushf\n\tbogus_insn %%eax\n' >"$tmp/bad.s"
"$LILY_AS" --32 -o "$tmp/bad.o" "$tmp/bad.s" 2>"$tmp/bad.err"
rc=$?
if [ $rc -ne 0 ] && grep -q "bad.s:2" "$tmp/bad.err"; then
    ok "/toolchain/lily-as/gas-errors-name-the-original-file-and-line"
else
    not_ok "/toolchain/lily-as/gas-errors-name-the-original-file-and-line (exit $rc)"; show "$tmp/bad.err"
fi

# .include: found where gas looks (here: -I), rewritten, nested too.
mkdir -p "$tmp/inc/sub"
printf '\t.include "leaf.s"\n\tpush %%cs\n' >"$tmp/inc/mid.s"
printf '\tsmsw %%eax\n' >"$tmp/inc/sub/leaf.s"
printf '\t.text\n\t.globl top\ntop:\t.include "mid.s"\n\tpopf\n' >"$tmp/top.s"
if "$LILY_AS" --32 -I "$tmp/inc" -I"$tmp/inc/sub" -o "$tmp/top.o" "$tmp/top.s" 2>"$tmp/top.err" &&
    "$LILY_CHECK" "$tmp/top.o" >"$tmp/top.out" 2>&1 && grep -q ', 3 rewritten sites' "$tmp/top.out"; then
    ok "/toolchain/lily-as/include-is-rewritten"
else
    not_ok "/toolchain/lily-as/include-is-rewritten"; show "$tmp/top.err"; show "$tmp/top.out"
fi

PATH=/nonexistent "$LILY_AS" --32 -o "$tmp/x.o" "$tmp/in.s" 2>"$tmp/noas.err"
rc=$?
if [ $rc -ne 0 ] && grep -q "LILY_REAL_AS" "$tmp/noas.err"; then
    ok "/toolchain/lily-as/no-real-as-is-a-clear-error"
else
    not_ok "/toolchain/lily-as/no-real-as-is-a-clear-error (exit $rc)"; show "$tmp/noas.err"
fi

LILY_REAL_AS="$LILY_AS" "$LILY_AS" --32 -o "$tmp/x.o" "$tmp/in.s" 2>"$tmp/loop.err"
rc=$?
if [ $rc -ne 0 ] && grep -q "loop" "$tmp/loop.err"; then
    ok "/toolchain/lily-as/refuses-to-run-itself"
else
    not_ok "/toolchain/lily-as/refuses-to-run-itself (exit $rc)"; show "$tmp/loop.err"
fi

"$LILY_AS" --version >"$tmp/version.out" 2>&1
check "/toolchain/lily-as/version-passes-through" grep -q 'GNU assembler' "$tmp/version.out"

leftover=$(ls -A "$TMPDIR")
check "/toolchain/lily-as/leaves-no-temporary-files (${leftover:-none})" test -z "$leftover"

# ---- lily-check on what it cannot read ---------------------------------------
# check_error NAME FILE PATTERN: lily-check exits 2 and says PATTERN
check_error() {
    "$LILY_CHECK" "$2" >"$tmp/err.out" 2>&1
    local rc=$?
    if [ $rc -eq 2 ] && grep -q "$3" "$tmp/err.out"; then
        ok "$1"
    else
        not_ok "$1 (exit $rc)"; show "$tmp/err.out"
    fi
}
head -c 4096 /dev/urandom >"$tmp/garbage.bin"
printf '\000\000' | dd of="$tmp/garbage.bin" bs=1 count=2 conv=notrunc 2>/dev/null
check_error "/toolchain/lily-check/garbage" "$tmp/garbage.bin" "not an ELF file"
check_error "/toolchain/lily-check/text-file" $DATA/plain.s "not an ELF file"
check_error "/toolchain/lily-check/empty-file" /dev/null "not an ELF file"
check_error "/toolchain/lily-check/missing-file" "$tmp/does-not-exist" "does-not-exist"
cc -c -o "$tmp/host64.o" -x c - <<<'int f(void) { return 1; }'
check_error "/toolchain/lily-check/64-bit-elf" "$tmp/host64.o" "64-bit ELF"
head -c 40 "$tmp/plain.elf" >"$tmp/short.elf"
check_error "/toolchain/lily-check/truncated-header" "$tmp/short.elf" "truncated"
head -c 1000 "$tmp/plain.elf" >"$tmp/cut.elf"
check_error "/toolchain/lily-check/truncated-file" "$tmp/cut.elf" "outside the file"
"$LILY_CHECK" >"$tmp/noargs.out" 2>&1
rc=$?
check "/toolchain/lily-check/no-file-exits-2 (got $rc)" test $rc -eq 2
"$LILY_CHECK" --bogus "$tmp/plain.elf" >"$tmp/badopt.out" 2>&1
rc=$?
check "/toolchain/lily-check/unknown-option-exits-2 (got $rc)" test $rc -eq 2

# No section headers: the PF_X segments are checked instead.
cp "$tmp/plain.elf" "$tmp/nosh.elf"
printf '\000\000\000\000' | dd of="$tmp/nosh.elf" bs=1 seek=32 conv=notrunc 2>/dev/null
printf '\000\000\000\000\000\000' | dd of="$tmp/nosh.elf" bs=1 seek=46 conv=notrunc 2>/dev/null
"$LILY_CHECK" "$tmp/nosh.elf" >"$tmp/nosh.out" 2>&1
rc=$?
count=$(grep -c 'segment' "$tmp/nosh.out")
check "/toolchain/lily-check/segments-without-section-headers (exit 1 and 21 found expected, got $rc and $count)" \
    test $rc -eq 1 -a "$count" -eq 21

# A reserved trap followed by the wrong instruction is reported.
printf '\t.text\nbad_site:\n\tint $0xe0\n\tnop\n\tint $0xe1\n\tpopf\n' >"$tmp/site.s"
as --32 -o "$tmp/site.o" "$tmp/site.s"
"$LILY_CHECK" "$tmp/site.o" >"$tmp/site.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q 'bad_site>: int.*malformed rewrite site' "$tmp/site.out" &&
    [ "$(grep -c '^[^ ]*: 0x' "$tmp/site.out")" -eq 1 ]; then
    ok "/toolchain/lily-check/malformed-site"
else
    not_ok "/toolchain/lily-check/malformed-site (exit $rc)"; show "$tmp/site.out"
fi

# --skip-section leaves out code that runs at CPL 3 (user programs).
printf '\t.section .user.text,"ax"\nuser_code:\tpushf\n\t.text\nkernel_code:\tint $0xe0; pushf\n' >"$tmp/user.s"
as --32 -o "$tmp/user.o" "$tmp/user.s"
"$LILY_CHECK" "$tmp/user.o" >"$tmp/user1.out" 2>&1
rc1=$?
"$LILY_CHECK" --skip-section='.user*' "$tmp/user.o" >"$tmp/user2.out" 2>&1
rc2=$?
if [ $rc1 -eq 1 ] && grep -q '<user_code>: pushf' "$tmp/user1.out" && [ $rc2 -eq 0 ] &&
    grep -q '1 rewritten sites, 1 sections skipped' "$tmp/user2.out"; then
    ok "/toolchain/lily-check/skip-section"
else
    not_ok "/toolchain/lily-check/skip-section (exit $rc1, $rc2)"; show "$tmp/user1.out"; show "$tmp/user2.out"
fi

# Data declared as an object inside .text is not decoded as code.
printf '\t.text\n\t.type hdr, @object\n\t.size hdr, 12\nhdr:\t.long 0x1badb002, 0x9c9c9c9c, 0x9d9d9d9d\n' >"$tmp/obj.s"
printf 'code:\tnop\n\t.byte 0x9c\n' >>"$tmp/obj.s"
as --32 -o "$tmp/obj.o" "$tmp/obj.s"
"$LILY_CHECK" "$tmp/obj.o" >"$tmp/obj.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && [ "$(grep -c '^[^ ]*: 0x' "$tmp/obj.out")" -eq 1 ] && grep -q '<code+0x1>: pushf' "$tmp/obj.out"; then
    ok "/toolchain/lily-check/skips-data-objects"
else
    not_ok "/toolchain/lily-check/skips-data-objects (exit $rc)"; show "$tmp/obj.out"
fi

# Damaged ELF files never crash it: every run ends with 0, 1 or 2.
RANDOM=4242
crashes=0
size=$(wc -c <"$tmp/plain.elf")
for round in $(seq 1 40); do
    cp "$tmp/plain.elf" "$tmp/fuzz.elf"
    for k in 1 2 3 4 5 6; do
        if [ $((k % 2)) -eq 0 ]; then off=$((RANDOM % 64)); else off=$(((RANDOM * 32768 + RANDOM) % size)); fi
        printf "\\$(printf %o $((RANDOM % 256)))" | dd of="$tmp/fuzz.elf" bs=1 seek=$off conv=notrunc 2>/dev/null
    done
    "$LILY_CHECK" -q "$tmp/fuzz.elf" >/dev/null 2>&1
    rc=$?
    if [ $rc -gt 2 ]; then
        crashes=$((crashes + 1))
        cp "$tmp/fuzz.elf" "${TMPDIR:-/tmp}/lily-check-crash-$round.elf"
        echo "# round $round: exit $rc, input kept in ${TMPDIR:-/tmp}/lily-check-crash-$round.elf"
    fi
done
check "/toolchain/lily-check/damaged-elf-files-do-not-crash ($crashes crashes)" test $crashes -eq 0

echo "1..$n"
[ $failed -eq 0 ]
