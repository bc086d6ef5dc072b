#!/bin/bash
# busyinval: a btrfs (a filesystem without the opt-in, whose encoded write passes the result of
# cache invalidation to user space) on $PINWB_DISK2, then tests/rdma/bin/busyinval on it.
set -u
. "$(dirname "$0")/lib/disk2.sh" busyinval "$@"
trap 'umount "$mnt" 2>/dev/null' EXIT
mkfs_mount "$disk" /mnt/busyinval btrfs
echo "# btrfs on $disk"
run_test
