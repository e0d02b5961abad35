#!/bin/sh
# Install test (TAP): stage make install, then build the example plugin
# against the installed headers with pkg-config and run it in the installed
# lilyvm, as a third party would.  Needs a configured and built tree.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lilyvm-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
# check DESCRIPTION COMMAND...: one test point; on failure show the output.
check() {
    desc=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then
        ok "$desc"
    else
        not_ok "$desc"
        sed 's/^/# /' "$tmp/out"
    fi
}

# check_todo REASON DESCRIPTION COMMAND...: a known gap; TAP's TODO keeps a
# failure from failing the run, and prove reports it when it starts passing.
check_todo() {
    reason=$1
    desc=$2
    shift 2
    n=$((n + 1))
    if "$@" >"$tmp/out" 2>&1; then
        echo "ok $n - $desc # TODO $reason"
    else
        echo "not ok $n - $desc # TODO $reason"
        sed 's/^/# /' "$tmp/out"
    fi
}

# make, without the jobserver of a make check that may be running us.
run_make() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${MAKE:-make}" --no-print-directory "$@"
}

cc32=$(sed -n 's/^CC32 = //p' "$top/config.mk")
have_lilyvm=no
[ -x "$build/lilyvm" ] && have_lilyvm=yes

# --- a staged install: make install DESTDIR=... PREFIX=/usr --------------------
stage=$tmp/stage
check "make install DESTDIR=\$tmp PREFIX=/usr" run_make -C "$top" install DESTDIR="$stage" PREFIX=/usr

if [ "$have_lilyvm" = yes ]; then
    check "lilyvm installed in /usr/bin" test -x "$stage/usr/bin/lilyvm"
else
    skip "lilyvm is not built in this tree (build/lilyvm missing)"
fi

missing=
for h in "$top"/include/lilyvm/*.h; do
    [ -f "$stage/usr/include/lilyvm/${h##*/}" ] || missing="$missing ${h##*/}"
done
check "public headers installed in /usr/include/lilyvm${missing:+ (missing:$missing)}" test -z "$missing"

missing=
count=0
for p in "$build"/plugins/*.so; do
    [ -e "$p" ] || continue
    count=$((count + 1))
    [ -f "$stage/usr/lib/lilyvm/plugins/${p##*/}" ] || missing="$missing ${p##*/}"
done
if [ "$count" -gt 0 ]; then
    check "$count plugins installed in /usr/lib/lilyvm/plugins${missing:+ (missing:$missing)}" \
        test -z "$missing"
else
    skip "no plugin is built in this tree"
fi

missing=
count=0
for t in lily-cc lily-as lily-check; do
    [ -f "$build/tools/$t" ] || continue
    count=$((count + 1))
    [ -x "$stage/usr/bin/$t" ] || missing="$missing $t"
done
if [ "$count" -gt 0 ]; then
    check "$count toolchain programs installed in /usr/bin${missing:+ (missing:$missing)}" \
        test -z "$missing"
else
    skip "no toolchain program is built in this tree"
fi

pc=$stage/usr/lib/pkgconfig/lilyvm-plugin.pc
check "lilyvm-plugin.pc names prefix /usr" grep -qx 'prefix=/usr' "$pc"
check "lilyvm-plugin.pc defines plugindir" grep -qx 'plugindir=${prefix}/lib/lilyvm/plugins' "$pc"
check "lilyvm-plugin.pc requires glib-2.0 and has no Libs" \
    sh -c "grep -q '^Requires:.*glib-2.0' '$pc' && ! grep -q '^Libs:' '$pc'"

check "man pages installed in man1 and man5" \
    test -f "$stage/usr/share/man/man1/lilyvm.1" -a -f "$stage/usr/share/man/man5/lilyvm.conf.5"
if command -v groff >/dev/null 2>&1; then
    for m in man1/lilyvm.1 man5/lilyvm.conf.5; do
        # -ww: every warning; -z: no output.  Warnings go to stderr.
        check "$m formats without groff warnings" \
            sh -c "groff -man -ww -z -Tutf8 '$stage/usr/share/man/$m' 2>&1 | (! grep .)"
    done
else
    skip "groff not installed (apt-get install groff): man pages not checked"
fi

check "make uninstall removes every installed file" \
    sh -c "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL ${MAKE:-make} --no-print-directory -C '$top' \
               uninstall DESTDIR='$stage' PREFIX=/usr >/dev/null &&
           test -z \"\$(find '$stage' -type f)\""

# --- a third party: install at a prefix, build the example with pkg-config ----
# pkg-config --define-prefix and PKG_CONFIG_SYSROOT_DIR would also rewrite
# glib's flags (Debian keeps glib-2.0.pc under a multiarch directory), so the
# example is built against a plain install at a prefix inside $tmp.
prefix=$tmp/opt
check "make install PREFIX=\$tmp/opt" run_make -C "$top" install PREFIX="$prefix"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
check "pkg-config --cflags lilyvm-plugin gives the installed include directory" \
    sh -c "pkg-config --cflags lilyvm-plugin | grep -q -- '-I$prefix/include'"
check "pkg-config --cflags lilyvm-plugin brings glib's flags" \
    sh -c "pkg-config --cflags lilyvm-plugin | grep -q -- 'glib-2.0'"
check "pkg-config --variable=plugindir lilyvm-plugin" \
    sh -c "test \"\$(pkg-config --variable=plugindir lilyvm-plugin)\" = '$prefix/lib/lilyvm/plugins'"

# Programs installed under a PREFIX given to make install rather than to
# ./configure still carry the configured directories.
if [ -x "$prefix/bin/lily-cc" ]; then
    printf 'f:\n\tpushf\n\tret\n' >"$tmp/t.s"
    # gcc -### prints the commands it would run: the assembler must be ours.
    check \
        "the installed lily-cc assembles through the installed lily-as" \
        sh -c "'$prefix/bin/lily-cc' -### -c -o '$tmp/t.o' '$tmp/t.s' 2>&1 |
               grep -Eq '^ *\"?$prefix/[^ \"]*/as\"? '"
else
    skip "lily-cc is not built in this tree"
fi
if [ "$have_lilyvm" = yes ] && [ -f "$build/plugins/nic-ne2000.so" ]; then
    check "the installed lilyvm finds the installed plugins without LILYVM_PLUGIN_PATH" \
        sh -c "env -u LILYVM_PLUGIN_PATH '$prefix/bin/lilyvm' --list-plugins | grep -q '^nic-ne2000 '"
else
    skip "lilyvm or the nic-ne2000 plugin is not built in this tree"
fi

cp -R "$top/docs/examples/hello-dev" "$tmp/hello-dev"
rm -f "$tmp/hello-dev/hello-dev.so"
# No CPATH or C_INCLUDE_PATH: the installed headers must be enough.
check "the hello-dev example builds against the installed headers" \
    env -u CPATH -u C_INCLUDE_PATH -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
        "${MAKE:-make}" --no-print-directory -C "$tmp/hello-dev"
if command -v nm >/dev/null 2>&1 && [ -f "$tmp/hello-dev/hello-dev.so" ]; then
    check "hello-dev.so exports only lilyvm_plugin_entry" \
        sh -c "test \"\$(nm -D --defined-only '$tmp/hello-dev/hello-dev.so' | awk '\$2 == \"T\" { print \$3 }')\" = lilyvm_plugin_entry"
else
    skip "nm missing or hello-dev.so not built"
fi

# --- the installed lilyvm finds and runs the example --------------------------
lilyvm=$prefix/bin/lilyvm
export LILYVM_PLUGIN_PATH="$tmp/hello-dev:$prefix/lib/lilyvm/plugins"
if [ "$have_lilyvm" = yes ] && [ -f "$tmp/hello-dev/hello-dev.so" ]; then
    check "lilyvm --list-plugins lists hello-dev" \
        sh -c "'$lilyvm' --list-plugins | grep -q 'hello-dev'"
    check "lilyvm --describe hello-dev shows its options" \
        sh -c "'$lilyvm' --describe hello-dev >'$tmp/describe' &&
               grep -q 'irq-every' '$tmp/describe' && grep -q 'iobase' '$tmp/describe'"
else
    skip "lilyvm or hello-dev.so missing: --list-plugins not checked"
    skip "lilyvm or hello-dev.so missing: --describe not checked"
fi

guest=$build/tests/install/hello-guest.elf
plugins=$prefix/lib/lilyvm/plugins

# The man page shows docs/examples/pc.conf (without its comments).
sed -n '/^\.SH EXAMPLES/,/^\.SH/p' "$top/docs/man/lilyvm.conf.5" |
    sed -n '/^\.EX/,/^\.EE/p' | sed '/^\.E[XE]/d; s/\\-/-/g' >"$tmp/man-example"
grep -v '^#' "$top/docs/examples/pc.conf" | sed '/./,$!d' >"$tmp/pc-example"
check "lilyvm.conf(5) shows docs/examples/pc.conf as it is" diff -u "$tmp/pc-example" "$tmp/man-example"

# The example machine of lilyvm.conf(5) must stay valid.  No CPU: the
# machine is only built; no port forward and no capture file: nothing is
# left listening or written outside $tmp.
missing=
for p in pic-i8259 pit-i8254 console debug-exit net-socket nic-ne2000; do
    [ -f "$plugins/$p.so" ] || missing="$missing $p"
done
if [ "$have_lilyvm" != yes ] || [ ! -f "$guest" ]; then
    skip "lilyvm or $guest missing: docs/examples/pc.conf not checked"
elif [ -n "$missing" ]; then
    skip "plugins not built:$missing: docs/examples/pc.conf not checked"
else
    "$lilyvm" -c "$top/docs/examples/pc.conf" --kernel "$guest" --set machine.cpu=none \
        --set net0.hostfwd= --set "net0.pcap=$tmp/pc.pcap" </dev/null >"$tmp/pc.log" 2>&1
    status=$?
    if [ "$status" -eq 123 ]; then
        ok "the example machine of lilyvm.conf(5) (docs/examples/pc.conf) is accepted"
    else
        not_ok "the example machine of lilyvm.conf(5) (docs/examples/pc.conf) is accepted (exit status $status, expected 123)"
        sed 's/^/# /' "$tmp/pc.log"
    fi
fi

# Without a CPU the machine is still built: every instance is created and
# checked, then lilyvm stops with status 123 and says what it built.
if [ "$have_lilyvm" = yes ] && [ -f "$tmp/hello-dev/hello-dev.so" ] && [ -f "$guest" ]; then
    printf '[machine]\nmemory = 16M\nkernel = %s\ncpu = none\n\n' "$guest" >"$tmp/realize.conf"
    printf '[device hello0]\nplugin = hello-dev\niobase = 0x530\ngreeting = greetings\n' \
        >>"$tmp/realize.conf"
    "$lilyvm" -c "$tmp/realize.conf" -d hello0 >"$tmp/realize.log" 2>&1
    status=$?
    if [ "$status" -eq 123 ] && grep -q 'greetings from ports 0x530-0x531' "$tmp/realize.log" &&
       grep -q '0x530-0x531 (hello0)' "$tmp/realize.log"; then
        ok "lilyvm -c creates a hello-dev instance from a config file"
    else
        not_ok "lilyvm -c creates a hello-dev instance from a config file (exit status $status, expected 123)"
        sed 's/^/# /' "$tmp/realize.conf" "$tmp/realize.log"
    fi
else
    skip "lilyvm, hello-dev.so or $guest missing: no machine built"
fi

if [ "$have_lilyvm" != yes ] || [ ! -f "$tmp/hello-dev/hello-dev.so" ]; then
    skip "lilyvm or hello-dev.so missing: the example device was not run"
elif [ ! -f "$plugins/cpu-ia32.so" ] || [ ! -f "$plugins/debug-exit.so" ]; then
    skip "cpu-ia32 or debug-exit plugin not built: the example device was not run"
elif [ ! -f "$guest" ]; then
    skip "$guest not built (make check builds it)"
else
    {
        printf '[machine]\nmemory = 16M\nkernel = %s\n\n' "$guest"
        if [ -f "$plugins/pic-i8259.so" ]; then
            printf '[device pic]\nplugin = pic-i8259\n\n'
        fi
        printf '[device debug-exit]\nplugin = debug-exit\niobase = 0xf4\n\n'
        printf '[device hello0]\nplugin = hello-dev\niobase = 0x520\nirq = 5\n'
        printf 'greeting = hello from the install test\n'
    } >"$tmp/hello.conf"
    timeout 60 "$lilyvm" -c "$tmp/hello.conf" >"$tmp/run.log" 2>&1
    status=$?
    if [ "$status" -eq 5 ]; then
        ok "a guest counts 5 writes on hello-dev (exit status 5)"
    elif why=$(grep -i -m1 'compatibility mode' "$tmp/run.log"); then
        # Some hosts (e.g. under the PVM hypervisor) give user processes no
        # 32-bit code segment; cpu-ia32 says so and no guest can run.
        skip "this host cannot run 32-bit guest code: $why"
    else
        not_ok "a guest counts 5 writes on hello-dev (exit status $status, expected 5)"
        sed 's/^/# /' "$tmp/hello.conf" "$tmp/run.log"
    fi
fi

echo "1..$n"
