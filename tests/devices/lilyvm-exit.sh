#!/bin/sh
# lilyvm with the console and debug-exit plugins: the guest's debug-exit
# value becomes lilyvm's exit status (plain and qemu mappings), its serial
# output lands in the console's log file, bad console options exit 125.
# Prints TAP.
top=$(cd "$(dirname "$0")/../.." && pwd)
lilyvm=$top/build/lilyvm
kernel=$top/build/guest/testkernel-lily.elf
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lilyvm-exit.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

echo 1..5
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }

# 1-2: lilyvm finds both plugins and describes them.
if "$lilyvm" --describe console 2>&1 | grep -q "stdio, file, socket, pty, null"; then
    ok "lilyvm --describe console lists the backends"
else
    not_ok "lilyvm --describe console lists the backends"
fi
if "$lilyvm" --describe debug-exit 2>&1 | grep -q "plain, qemu"; then
    ok "lilyvm --describe debug-exit lists the status mappings"
else
    not_ok "lilyvm --describe debug-exit lists the status mappings"
fi

# 3: a console option error is a config error (125) naming the key.
cat >"$tmp/bad.conf" <<CONF
[machine]
kernel = $kernel
[device serial0]
plugin = console
backend = file
CONF
"$lilyvm" -c "$tmp/bad.conf" >"$tmp/bad.out" 2>&1
rc=$?
if [ "$rc" = 125 ] && grep -q "needs path" "$tmp/bad.out"; then
    ok "backend = file without path: exit 125 with a message"
else
    not_ok "backend = file without path: exit 125 with a message (got $rc)"
    sed 's/^/# /' "$tmp/bad.out"
fi

# 4-5: the test kernel reports through COM1 and ends through debug-exit:
# it writes 0 when every test passed, 1 otherwise.
run_kernel() { # $1: status mapping; prints lilyvm's exit status
    cat >"$tmp/$1.conf" <<CONF
[machine]
kernel = $kernel
[device serial0]
plugin = console
backend = file
path = $tmp/$1.log
[device debug-exit]
plugin = debug-exit
status = $1
CONF
    : >"$tmp/$1.log"
    timeout 120 "$lilyvm" -c "$tmp/$1.conf" </dev/null >"$tmp/$1.out" 2>&1
    echo $?
}

for mapping in plain qemu; do
    what="testkernel with status = $mapping: exit status follows the guest's value"
    if [ ! -f "$kernel" ]; then
        skip "$kernel not built"
        continue
    fi
    rc=$(run_kernel $mapping)
    if [ "$rc" = 123 ]; then
        skip "no CPU plugin yet: lilyvm builds the machine but cannot run it"
        continue
    fi
    if ! grep -q '^1\.\.[0-9]' "$tmp/$mapping.log"; then
        not_ok "$what (no TAP plan in the serial log; lilyvm exit $rc)"
        sed 's/^/# /' "$tmp/$mapping.out" "$tmp/$mapping.log" | head -40
        continue
    fi
    value=0
    grep -q '^not ok' "$tmp/$mapping.log" && value=1
    want=$value
    [ $mapping = qemu ] && want=$(( (value << 1) | 1 ))
    if [ "$rc" = "$want" ]; then
        ok "$what ($rc)"
    else
        not_ok "$what (guest wrote $value, expected exit $want, got $rc)"
        sed 's/^/# /' "$tmp/$mapping.out" | head -20
    fi
done
