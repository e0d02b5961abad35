# Shared by the scripts that run LilyVM inside an x86-64 Linux under QEMU
# TCG through build/tools/lily-nested (tests/native/qemu-compat.sh,
# tests/cpu/testkernel-lilyvm.sh --qemu, tests/guestnet/lilyvm-demo-qemu.sh,
# bench/nested.sh): why a run cannot happen, the run, its console's parts.
# Sourced, with $B the build directory.  The caller's environment:
#   LILYVM_QEMU_CPU  QEMU -cpu model [qemu64]; not an Intel model: TCG runs
#                    `syscall` in compatibility mode where Intel CPUs raise
#                    #UD, and Linux, leaving MSR_CSTAR at 0 on Intel, then
#                    crashes (docs/native.md)
#   LILYVM_QEMU_SMP  vCPUs [2]

# nested_why_not IMAGE: why nothing can run nested here (nothing when it can).
nested_why_not() {
    if [ -z "$1" ]; then
        echo "no x86-64 kernel image: set LILYVM_TEST_KERNEL (tests/native/fetch-kernel.sh, docs/native.md)"
    elif [ ! -r "$1" ]; then
        echo "the kernel image $1 is not readable"
    elif ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
        echo "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
    elif [ ! -x "$B/tools/lily-nested" ]; then
        echo "$B/tools/lily-nested is not built (make)"
    fi
}

# nested_run SECONDS CONSOLE IMAGE LILY-NESTED-ARGUMENT...: lily-nested with
# these arguments on kernel IMAGE under TCG, for SECONDS at most; what the
# command writes (and lily-nested's own messages) goes to CONSOLE without
# carriage returns, the nested kernel's log to CONSOLE.kernel.  Returns
# lily-nested's status: the command's, 124 at the deadline or when the
# nested Linux reported none, 125 when it could not start.
nested_run() {
    nr_seconds=$1 nr_console=$2 nr_image=$3
    shift 3
    # TCG even where KVM would do: the deadlines and the CPU model are TCG's.
    timeout "$nr_seconds" "$B/tools/lily-nested" --kernel-image "$nr_image" --tcg \
        --cpu "${LILYVM_QEMU_CPU:-qemu64}" --smp "${LILYVM_QEMU_SMP:-2}" \
        --log "$nr_console.kernel" "$@" </dev/null >"$nr_console.raw" 2>&1
    nr_status=$?
    tr -d '\r' <"$nr_console.raw" >"$nr_console"
    rm -f "$nr_console.raw"
    return "$nr_status"
}

# nested_section CONSOLE NAME: the lines after the line "@@@ NAME", up to the
# next line that starts with "@@@ " (the command marks its parts so).
nested_section() {
    awk -v m="@@@ $2" '/^@@@ / { inside = ($0 == m); next } inside' "$1"
}
