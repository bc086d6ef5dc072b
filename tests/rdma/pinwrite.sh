#!/bin/bash
# pinwrite: tests/rdma/bin/pinwrite with a 2 s dirty expiry and a 1 s flusher interval, the
# previous values restored whatever happens.
set -u
[ "${1:-}" = --describe ] && exec "$(dirname "$0")/bin/pinwrite" --describe
e=$(cat /proc/sys/vm/dirty_expire_centisecs) w=$(cat /proc/sys/vm/dirty_writeback_centisecs)
trap 'echo "$e" > /proc/sys/vm/dirty_expire_centisecs; echo "$w" > /proc/sys/vm/dirty_writeback_centisecs' EXIT
echo 200 > /proc/sys/vm/dirty_expire_centisecs
echo 100 > /proc/sys/vm/dirty_writeback_centisecs
"$(dirname "$0")/bin/pinwrite"
