#!/bin/sh
# make bench: the test kernel's bench mode under QEMU (plain and rewritten
# builds) and, once it can run a kernel, under LilyVM; prints one table of
# median cycles per operation.  Measures, never judges.
. "$(dirname "$0")/qemu-lib.sh"

metrics="null-syscall ctx-switch page-fault cli-sti pushf-popf inb int-iret cr0-rw cr3-reload compute"
mkdir -p "$logdir"
columns=""

# run_column NAME LOG: add a column if LOG holds bench results.
run_column() {
    if grep -a -q '^# bench done' "$2" 2>/dev/null; then
        columns="$columns $1=$2"
    else
        echo "# $1: no bench results (log: $2)" >&2
    fi
}

qemu=${QEMU:-$(sed -n 's/^QEMU *= *//p' "$top/config.mk" 2>/dev/null)}
if [ -n "$qemu" ] && [ -x "$qemu" ]; then
    for k in testkernel testkernel-lily; do
        [ -f "$top/build/guest/$k.elf" ] || continue
        qemu_boot "$top/build/guest/$k.elf" "$logdir/bench-$k-qemu.log" -append bench
        run_column "qemu:$k" "$logdir/bench-$k-qemu.log"
    done
else
    echo "# qemu-system-i386 not found: no QEMU columns" >&2
fi

lilyvm=$top/build/lilyvm
kernel=$top/build/guest/testkernel-lily.elf
if [ -x "$lilyvm" ] && [ -f "$kernel" ]; then
    log=$logdir/bench-testkernel-lily-lilyvm.log
    conf=$logdir/bench-lilyvm.conf
    {
        printf '[machine]\nkernel = %s\ncmdline = bench\n' "$kernel"
        printf '[device serial0]\nplugin = console\nbackend = file\npath = %s\n' "$log"
        printf '[device debug-exit]\nplugin = debug-exit\n'
        "$lilyvm" --list-plugins 2>/dev/null |
            awk '$2 == "device" && $1 ~ /(^|-)(pic|i8259|8259|pit|i8254|8254)($|-)/ { print $1 }' |
            while read -r p; do printf '[device %s]\nplugin = %s\n' "$p" "$p"; done
    } >"$conf"
    : >"$log"
    timeout 300 "$lilyvm" -c "$conf" </dev/null >"$log.out" 2>&1
    case $? in
    123) echo "# lilyvm: no CPU plugin yet, no LilyVM column" >&2 ;;
    *) run_column "lilyvm:testkernel-lily" "$log" ;;
    esac
fi

printf '%-14s' "cycles/op"
for c in $columns; do printf ' %24s' "${c%%=*}"; done
printf '\n'
for m in $metrics; do
    printf '%-14s' "$m"
    for c in $columns; do
        v=$(tr -d '\r' <"${c#*=}" | awk -v m="$m" '$1 == "#" && $2 == "bench" && $3 == m { print $4; exit }')
        printf ' %24s' "${v:--}"
    done
    printf '\n'
done
