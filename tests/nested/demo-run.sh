#!/bin/sh
# lily-nested runs the demo machine (examples/demo.conf) with a boot script
# inside QEMU: the guest's console output arrives on stdout, DHCP and ping
# work from inside, and lilyvm's exit status comes back (0 from poweroff;
# 7 from a program given with --run).  Bad options fail before any boot.
. "$(dirname "$0")/lib.sh"
nested_setup
out=$logdir/demo-run.out
log=$logdir/demo-run.console

# Refused before QEMU starts: status 125 and a message saying why.
"$nested" --fwd udp:53 -- --version >"$logdir/bad.out" 2>&1
check "--fwd udp:53 is refused with status 125" [ $? -eq 125 ]
check "... naming what is accepted" has "$logdir/bad.out" 'tcp:PORT is accepted'
"$nested" $kernel_args -- -c "$logdir/missing.conf" >"$logdir/bad.out" 2>&1
check "a missing config file is refused with status 125" [ $? -eq 125 ]
check "... naming the file" has "$logdir/bad.out" 'config file .*missing.conf not found'

# shellcheck disable=SC2086
timeout "$NESTED_DEADLINE" "$nested" $kernel_args --log "$log" -- -c examples/demo.conf \
    --cmdline 'run=ifconfig;ping 10.0.2.2 3;poweroff' </dev/null >"$out" 2>&1
status=$?
check "lilyvm's status 0 (the guest powered off) is lily-nested's" [ "$status" -eq 0 ]
check "the demo's banner on the console" has "$out" '^LilyVM network demo \(lily build\)$'
check "DHCP gave 10.0.2.15" has "$out" '^  inet 10\.0\.2\.15 netmask 255\.255\.255\.0 router 10\.0\.2\.2 '
check "ping 10.0.2.2: 3 sent, 3 replies" has "$out" '^3 packets transmitted, 3 received$'
check "the boot script ran to poweroff" has "$out" '^poweroff$'
if [ "$failed" -ne 0 ]; then
    echo "# lily-nested ended with status $status"
    show "$out"
    show "$log"
fi

# Another program's status: 7 from a shell.
sh=$(command -v dash || command -v sh)
# shellcheck disable=SC2086
timeout "$NESTED_DEADLINE" "$nested" $kernel_args --run "$sh" -- -c 'echo nested-shell; exit 7' \
    </dev/null >"$logdir/status.out" 2>&1
status=$?
check "--run: the program's exit status 7 comes back" [ "$status" -eq 7 ]
check "--run: its output too" has "$logdir/status.out" '^nested-shell$'
echo "1..$n"
