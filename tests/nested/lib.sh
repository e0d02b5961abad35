# Shared by the lily-nested tests: find the tool and a kernel it can boot
# (skipping with the reason otherwise), TAP helpers.  Sourced.
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/tap-lib.sh"
B=$top/build
logdir=$B/tests/nested
nested=$B/tools/lily-nested
NESTED_DEADLINE=${NESTED_DEADLINE:-300}
mkdir -p "$logdir"
cd "$top" || exit 1

# nested_setup: $kernel_args for lily-nested, or skip with the reason.  The
# kernel is the one `lily-nested --fetch` unpacked, else LILYVM_TEST_KERNEL
# when its e1000.ko lies beside it (the unpacked package layout).
nested_setup() {
    [ -x "$nested" ] || skip_all "$nested is not built (make)"
    command -v qemu-system-x86_64 >/dev/null 2>&1 || skip_all "qemu-system-x86_64 not found"
    for f in "$B/lilyvm" "$B/guest/demo-lily.elf" "$B/plugins/cpu-ia32.so"; do
        [ -e "$f" ] || skip_all "$f is not built (make)"
    done
    kernel_args=
    if "$nested" --print-kernel >/dev/null 2>&1; then
        return
    fi
    if [ -n "${LILYVM_TEST_KERNEL:-}" ] &&
        "$nested" --kernel-image "$LILYVM_TEST_KERNEL" --print-kernel >/dev/null 2>&1; then
        kernel_args="--kernel-image $LILYVM_TEST_KERNEL"
        return
    fi
    skip_all "no x86-64 kernel with its e1000 driver: run build/tools/lily-nested --fetch (downloads Debian's linux-image package, installs nothing)"
}

# show FILE: its tail as TAP comments.
show() {
    echo "# $1:"
    tr -d '\r' <"$1" | tail -n 30 | sed 's/^/#   /'
}

