#!/bin/sh
# lily-netns tests through the net-slirp backend (see backend-tests.sh).
exec "$(dirname "$0")/backend-tests.sh" net-slirp
