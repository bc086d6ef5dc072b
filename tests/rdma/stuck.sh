#!/bin/bash
# stuck: an ext4 on a dm-linear device over $PINWB_DISK2, which the test suspends under fsync(),
# then tests/rdma/bin/stuck on it. See stuck.c.
set -u
. "$(dirname "$0")/lib/disk2.sh" stuck "$@"
dm_linear pinwb-stuck
mkfs_mount "$dev" /mnt/stuck ext4 -b 4096
echo "# ext4 on dm-linear $dev over $disk"
PINWB_DM=$dm_name run_test
