#!/bin/sh
# lily-check on the real test kernel: the plain build (gcc -m32) still holds
# sensitive instructions, the rewritten build (lily-cc) holds none.  User
# programs linked into the image (.user*) are compiled plainly on purpose.
top=$(cd "$(dirname "$0")/../.." && pwd)
B=$top/build
check=$B/tools/lily-check
plain=$B/guest/testkernel.elf
lily=$B/guest/testkernel-lily.elf
for f in "$check" "$plain" "$lily"; do
    [ -e "$f" ] || { echo "1..0 # SKIP $f is not built"; exit 0; }
done
echo "1..3"
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT

"$check" --skip-section='.user*' "$plain" >"$out" 2>&1
rc=$?
if [ $rc -eq 1 ]; then
    echo "ok 1 - /toolchain/testkernel/plain-build-has-findings"
else
    echo "not ok 1 - /toolchain/testkernel/plain-build-has-findings (exit $rc, expected 1)"
    sed 's/^/# /' "$out"
fi
if grep -Eq 'pushf|popf' "$out"; then
    echo "ok 2 - /toolchain/testkernel/plain-findings-include-pushf-popf"
else
    echo "not ok 2 - /toolchain/testkernel/plain-findings-include-pushf-popf"
    sed 's/^/# /' "$out"
fi
"$check" --skip-section='.user*' "$lily" >"$out" 2>&1
rc=$?
if [ $rc -eq 0 ]; then
    echo "ok 3 - /toolchain/testkernel/rewritten-build-is-clean"
else
    echo "not ok 3 - /toolchain/testkernel/rewritten-build-is-clean (exit $rc, expected 0)"
    sed 's/^/# /' "$out"
fi
