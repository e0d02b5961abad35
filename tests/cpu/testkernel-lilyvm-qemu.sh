#!/bin/sh
# The rewritten test kernel under LilyVM, both transports, inside an x86-64
# Linux under QEMU: on hosts without compatibility mode (docs/native.md) this
# is where make check sees LilyVM run a guest.  Skips without
# LILYVM_TEST_KERNEL (./quickstart check fetches one).
exec "$(dirname "$0")/testkernel-lilyvm.sh" --qemu
