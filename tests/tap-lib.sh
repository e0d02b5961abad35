# TAP helpers shared by the shell tests (tests/guestnet, tests/nested).
# Sourced; the caller prints the plan ("1..$n") and exits with $failed.
n=0
failed=0

# skip_all REASON: the whole script cannot run here.
skip_all() {
    echo "1..0 # SKIP $1"
    exit 0
}

# check DESCRIPTION COMMAND...: one TAP line from the command's status.
check() {
    desc=$1
    shift
    n=$((n + 1))
    if "$@"; then
        echo "ok $n - $desc"
    else
        echo "not ok $n - $desc"
        failed=1
    fi
}

# has FILE PATTERN: an extended regex matches a line (carriage returns dropped).
has() {
    tr -d '\r' <"$1" | grep -a -q -E "$2"
}

# free_port: a TCP port on 127.0.0.1 that nobody listens on right now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
