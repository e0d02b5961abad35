#!/bin/sh
# lilyvm and the PIC/PIT plugins: --list-plugins shows both with their kinds,
# --describe shows their options, and the default machine (no -c) has them
# as pic and pit on the PC's ports.  Prints TAP.
top=$(cd "$(dirname "$0")/../.." && pwd)
lilyvm=$top/build/lilyvm
kernel=$top/build/guest/testkernel.elf

echo 1..5
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
check() { # description, then a command that must succeed
    d=$1
    shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}

list=$("$lilyvm" --list-plugins 2>&1)
check "--list-plugins shows pic-i8259 as an irqchip" \
    sh -c 'printf "%s\n" "$1" | grep -Eq "^pic-i8259 +irqchip "' - "$list"
check "--list-plugins shows pit-i8254 as a device" \
    sh -c 'printf "%s\n" "$1" | grep -Eq "^pit-i8254 +device "' - "$list"
check "--describe pit-i8254 names its options" \
    sh -c '"$1" --describe pit-i8254 | grep -q "port61"' - "$lilyvm"

if [ ! -f "$kernel" ]; then
    skip "default machine has pic: $kernel not built"
    skip "default machine has pit: $kernel not built"
    exit 0
fi
# No CPU, so the machine is built and checked but not run (status 123).
out=$("$lilyvm" --kernel "$kernel" --set machine.cpu=none -d config </dev/null 2>&1)
status=$?
if [ "$status" -ne 123 ]; then
    not_ok "default machine has pic (lilyvm exited $status)"
    not_ok "default machine has pit (lilyvm exited $status)"
    printf '%s\n' "$out" | sed 's/^/# /' | head -20
    exit 0
fi
check "default machine has pic on 0x20 and 0xa0" \
    sh -c 'printf "%s\n" "$1" | grep "pic (pic-i8259)" | grep "0x20-0x21 (pic)" | grep -q "0xa0-0xa1 (pic)"' - "$out"
check "default machine has pit on 0x40" \
    sh -c 'printf "%s\n" "$1" | grep "pit (pit-i8254)" | grep -q "0x40-0x43 (pit)"' - "$out"
