#!/bin/bash
# badinput: an ext4 of its own on $PINWB_DISK2 (the last case shuts it down), then
# tests/rdma/bin/badinput on it. See badinput.c.
set -u
. "$(dirname "$0")/lib/disk2.sh" badinput "$@"
cleanup() { for _ in $(seq 25); do umount "$mnt" 2>/dev/null && break; sleep 0.2; done; }
trap cleanup EXIT
mkfs_mount "$disk" /mnt/badinput ext4 -b 4096
echo "# ext4 on $disk"
run_test
