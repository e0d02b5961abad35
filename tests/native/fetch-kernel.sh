#!/bin/sh
# Unpacks Debian's current x86-64 kernel image into DIR (default
# build/hostkernel) and prints the path of its vmlinuz, for
# tests/native/qemu-compat.sh: on hosts that give processes no 32-bit code
# segment (see docs/native.md) compatibility mode is tested inside QEMU.
# Nothing is installed: the package is downloaded and unpacked only.
set -eu
dir=${1:-build/hostkernel}
found=$(ls "$dir"/root/boot/vmlinuz-* 2>/dev/null | head -n 1 || true)
if [ -n "$found" ]; then
    echo "$found"
    exit 0
fi
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
      sed -n 's/.*Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -n 1)
[ -n "$pkg" ] || { echo "fetch-kernel: apt-cache knows no linux-image-amd64 (run apt-get update)" >&2; exit 1; }
mkdir -p "$dir"
(cd "$dir" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
    { echo "fetch-kernel: apt-get download $pkg failed" >&2; exit 1; }
mkdir -p "$dir/root"
# Only the kernel image is needed, not its modules.
dpkg-deb --fsys-tarfile "$dir"/"$pkg"_*.deb | tar -C "$dir/root" -xf - --wildcards './boot/vmlinuz-*'
rm -f "$dir"/"$pkg"_*.deb
ls "$dir"/root/boot/vmlinuz-* | head -n 1
