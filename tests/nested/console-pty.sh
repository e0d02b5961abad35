#!/bin/sh
# lily-nested's console on a terminal: the demo's prompt arrives on a pty,
# a typed command runs, Ctrl-C reaches the guest rather than ending
# anything, and Ctrl-A x (QEMU's own escape key is off) quits lilyvm, whose
# status 0 is lily-nested's.
. "$(dirname "$0")/lib.sh"
nested_setup
command -v python3 >/dev/null || skip_all "python3 not found (drives the pty)"
out=$logdir/console-pty.out
PTY_LOG=$out NESTED_DEADLINE=$NESTED_DEADLINE python3 - "$nested" $kernel_args >"$out.result" 2>&1 <<'PY'
import os, pty, select, sys, time

deadline = time.time() + int(os.environ["NESTED_DEADLINE"])
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1]] + sys.argv[2:] + ["--", "-c", "examples/demo.conf"])
seen = b""

def read_until(pattern):
    global seen
    while time.time() < deadline:
        if pattern in seen:
            return True
        r, _, _ = select.select([fd], [], [], 1)
        if r:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                return False
    return False

prompt = read_until(b"demo> ")
os.write(fd, b"ifconfig\r")
typed = read_until(b"irq 9, ")
os.write(fd, b"\x03")  # Ctrl-C: a byte for the guest
time.sleep(1)
os.write(fd, b"\x01x")  # Ctrl-A x: lilyvm's console quits
status = None
while time.time() < deadline and status is None:
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        status = os.waitstatus_to_exitcode(st)
        break
    r, _, _ = select.select([fd], [], [], 1)
    if r:
        try:
            seen += os.read(fd, 4096)
        except OSError:
            pass
if status is None:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
sys.stdout.write("prompt %d\ntyped %d\nstatus %s\n" % (prompt, typed, status))
open(os.environ.get("PTY_LOG", "/dev/null"), "wb").write(seen)
PY
r=$out.result
check "the demo's prompt arrives on the terminal" grep -q '^prompt 1$' "$r"
check "a typed command (ifconfig) runs" grep -q '^typed 1$' "$r"
check "Ctrl-A x quits: lily-nested ends with lilyvm's status 0" grep -q '^status 0$' "$r"
if [ "$failed" -ne 0 ]; then
    show "$r"
fi
echo "1..$n"
