#!/bin/sh
# Unpacks Debian's current x86-64 kernel image, and the e1000 driver the
# nested network needs, into DIR (default build/hostkernel) and prints the
# path of its vmlinuz: on hosts that give processes no 32-bit code segment
# (docs/native.md) compatibility mode is tested inside QEMU with it.
# Nothing is installed; build/tools/lily-nested --fetch does the work.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-build/hostkernel}
nested=$top/build/tools/lily-nested
[ -x "$nested" ] || { echo "fetch-kernel: $nested is not built (run make)" >&2; exit 1; }
mkdir -p "$dir"
LILY_NESTED_CACHE=$(cd "$dir" && pwd) exec "$nested" --fetch
