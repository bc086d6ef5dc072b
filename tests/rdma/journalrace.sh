#!/bin/bash
# journalrace: an ext4 on $PINWB_DISK2 mounted nodelalloc (so that chattr +j changes the mode),
# then tests/rdma/bin/journalrace, with the debugfs delay it sets put back to 0 whatever happens.
set -u
. "$(dirname "$0")/lib/disk2.sh" journalrace "$@"
knob=/sys/kernel/debug/pin_writeback_lock_delay_ms
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() { [ -w "$knob" ] && echo 0 > "$knob"; umount "$mnt" 2>/dev/null; }
trap cleanup EXIT
mkfs_mount "$disk" /mnt/journalrace ext4 -b 4096 -- nodelalloc
grep -q " $mnt ext4 .*nodelalloc" /proc/mounts || setup_fail "$mnt is not mounted nodelalloc: $(grep " $mnt " /proc/mounts)"
echo "# ext4 with journal, mounted nodelalloc, on $disk"
run_test
