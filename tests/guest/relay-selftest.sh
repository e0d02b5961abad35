#!/bin/sh
# Checks the TAP relay of the guest test scripts on made-up serial logs:
# failures stay failures, missing results and bad exit statuses are caught,
# firmware noise is ignored.
. "$(dirname "$0")/qemu-lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lilyvm-relay.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0

# expect NAME STATUS PATTERN: relay $tmp/log with QEMU status STATUS and
# check that PATTERN (an extended regex) matches a line of the output.
expect() {
    n=$((n + 1))
    status=$2
    if relay_tap "$tmp/log" | grep -q -E "$3"; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        relay_tap "$tmp/log" | sed 's/^/#   /'
    fi
}

printf '\033[2JSeaBIOS\r\nBooting from ROM..\r\n# LilyVM test kernel\r\n1..3\r\nok 1 - /a\r\n# why\r\nnot ok 2 - /b\r\nok 3 - /c # SKIP no\r\n' >"$tmp/log"
expect "/relay/failure-stays-failure" 3 '^not ok 2 - /b$'
expect "/relay/pass-kept" 3 '^ok 1 - /a$'
expect "/relay/skip-kept" 3 '^ok 3 - /c # SKIP no$'
expect "/relay/comments-kept" 3 '^# why$'
expect "/relay/firmware-ignored" 3 '^ok 4 - guest printed all 3 planned results'
expect "/relay/failure-status" 3 '^not ok 5 - QEMU exit status 3'
expect "/relay/log-named" 3 "^# serial log: $tmp/log\$"

printf '1..3\nok 1 - /a\n\nBail out! unexpected trap 14\n' >"$tmp/log"
expect "/relay/missing-results" 1 '^not ok 2 - guest printed all 3 planned results \(got 1\), then bailed out'

printf '1..1\nok 1 - /a\n' >"$tmp/log"
expect "/relay/success-status" 1 '^ok 3 - QEMU exit status 1: guest reported success'
expect "/relay/timeout-status" 124 '^not ok 3 - QEMU exit status 124: deadline'
expect "/relay/no-debug-exit" 0 '^not ok 3 - QEMU exit status 0'
runner=LilyVM success_status=0
expect "/relay/lilyvm-success" 0 '^ok 3 - LilyVM exit status 0: guest reported success'
echo "1..$n"
