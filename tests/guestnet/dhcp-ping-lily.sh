#!/bin/sh
# dhcp-ping.sh with the rewritten demo kernel (build/guest/demo-lily.elf)
# under QEMU, where its rewrite sites run the original instructions.
top=$(cd "$(dirname "$0")/../.." && pwd)
GUESTNET_KERNEL=$top/build/guest/demo-lily.elf exec "$(dirname "$0")/dhcp-ping.sh"
