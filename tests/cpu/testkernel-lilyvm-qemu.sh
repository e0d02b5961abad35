#!/bin/sh
# The rewritten test kernel under LilyVM, both transports, inside an x86-64
# Linux under QEMU: on hosts without compatibility mode (docs/native.md) this
# is where make check sees LilyVM run a guest.  Skips without
# LILYVM_TEST_KERNEL (./quickstart check fetches one).
if [ -z "${LILYVM_TEST_KERNEL:-}" ]; then
    echo "1..0 # SKIP no x86-64 kernel image for QEMU: set LILYVM_TEST_KERNEL (tests/native/fetch-kernel.sh)"
    exit 0
fi
exec "$(dirname "$0")/testkernel-lilyvm.sh" --qemu
