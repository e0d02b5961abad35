#!/bin/sh
# The demo kernel under QEMU's user networking: DHCP gives it 10.0.2.15
# (mask, router, DNS from slirp) and the host answers its pings at 10.0.2.2.
. "$(dirname "$0")/lib.sh"
guestnet_setup
log=$logdir/dhcp-ping-$flavour.log
boot_demo "$log" "run=ping 10.0.2.2 3;ifconfig;ps;poweroff"
check "guest powered off by itself (QEMU status $status, 1 = debug-exit 0)" [ "$status" -eq 1 ]
check "DHCP bound the guest to 10.0.2.15" has "$log" '^dhcp: bound to 10\.0\.2\.15$'
check "ifconfig shows address, mask, router and DNS from DHCP" \
    has "$log" '^  inet 10\.0\.2\.15 netmask 255\.255\.255\.0 router 10\.0\.2\.2 dns 10\.0\.2\.3 '
check "ping 10.0.2.2: replies came" has "$log" '^reply from 10\.0\.2\.2: icmp_seq=1 '
check "ping 10.0.2.2: 3 sent, 3 received" has "$log" '^3 packets transmitted, 3 received$'
check "received frames raised IRQ 9" has "$log" '^  irq 9, [1-9][0-9]* interrupts$'
check "ARP cache holds the router" has "$log" '^  10\.0\.2\.2 52:55:0a:00:02:02$'
finish "$log"
