#!/bin/sh
# cpu-ia32's hand-over options on lilyvm's command line: bad machine.cpus,
# machine.spin and machine.spin_adaptive values exit 125 with a message naming the value and what
# is accepted, before any guest process starts.  Prints TAP.
top=$(cd "$(dirname "$0")/../.." && pwd)
lilyvm=$top/build/lilyvm
kernel=$top/build/guest/testkernel-lily.elf
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cpu-options.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

echo 1..7
if [ ! -x "$lilyvm" ] || [ ! -e "$kernel" ]; then
    for i in 1 2 3 4 5 6 7; do echo "ok $i # SKIP build/lilyvm or $kernel is not built"; done
    exit 0
fi
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }

# expect_125 NAME TEXT CMD...: CMD exits 125 and says TEXT on stderr.
expect_125() {
    name=$1 text=$2
    shift 2
    "$@" </dev/null >"$tmp/out" 2>&1
    rc=$?
    if [ "$rc" = 125 ] && grep -q -F -- "$text" "$tmp/out"; then
        ok "$name"
    else
        not_ok "$name (exit $rc, expected 125 and '$text')"
        sed 's/^/# /' "$tmp/out"
    fi
}

if "$lilyvm" --describe cpu-ia32 2>&1 | grep -q '^ *cpus  *int list'; then
    ok "lilyvm --describe cpu-ia32 lists cpus"
else
    not_ok "lilyvm --describe cpu-ia32 lists cpus"
fi
expect_125 "cpus with one CPU asks for two" "machine.cpus = 3: give two CPUs" \
    "$lilyvm" --kernel "$kernel" --set machine.cpus=3
expect_125 "cpus with three CPUs asks for two" "machine.cpus = 0,0,0: give two CPUs" \
    "$lilyvm" --kernel "$kernel" --set machine.cpus=0,0,0
expect_125 "cpus beyond the range names it" "accepted: an integer in 0..1023" \
    "$lilyvm" --kernel "$kernel" --set machine.cpus=0,4096
# Under taskset -c 0 the process may use CPU 0 only: CPU 1 is refused by
# name, with the CPUs that are allowed.
if command -v taskset >/dev/null 2>&1 && taskset -c 0 true 2>/dev/null; then
    expect_125 "a CPU outside the affinity mask is refused with the allowed set" \
        "machine.cpus = 0,1: CPU 1 is not one this process may run on (accepted: 0)" \
        taskset -c 0 "$lilyvm" --kernel "$kernel" --set machine.cpus=0,1
else
    skip "taskset (util-linux) cannot restrict this process to CPU 0"
fi
expect_125 "spin beyond the range names it" "accepted: an integer in 0..1000000" \
    "$lilyvm" --kernel "$kernel" --set machine.spin=2000000
expect_125 "spin_adaptive takes a boolean" "spin_adaptive = 'maybe': invalid bool value (accepted: true/false" \
    "$lilyvm" --kernel "$kernel" --set machine.spin_adaptive=maybe
