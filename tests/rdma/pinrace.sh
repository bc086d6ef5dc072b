#!/bin/bash
# pinrace: tests/rdma/bin/pinrace, with the debugfs delay it sets put back to 0 whatever happens.
set -u
[ "${1:-}" = --describe ] && exec "$(dirname "$0")/bin/pinrace" --describe
knob=/sys/kernel/debug/pin_writeback_lock_delay_ms
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
trap '[ -w "$knob" ] && echo 0 > "$knob"' EXIT
"$(dirname "$0")/bin/pinrace"
