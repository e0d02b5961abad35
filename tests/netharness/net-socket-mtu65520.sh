#!/bin/sh
# lily-netns tests through net-socket at the largest MTU (65520), where
# segments of up to 64 KiB take their own paths in the backend (a peek
# straight into the frame, one ACK for few segments); see backend-tests.sh.
exec "$(dirname "$0")/backend-tests.sh" net-socket --mtu 65520
