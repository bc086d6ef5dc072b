#!/bin/bash
# race: an ext4 (the suite's filesystem: XFS with PINWB_FS=xfs) on a dm-linear device over $PINWB_DISK2 (so that the test can hold its
# writeback in flight with dmsetup suspend), then tests/rdma/bin/race on it. See race.c.
set -u
. "$(dirname "$0")/lib/disk2.sh" race "$@"
dm_linear pinwb-race
mkfs_mount_fs "$dev" /mnt/race
echo "# ${PINWB_FS:-ext4} on dm-linear $dev over $disk"
PINWB_DM=$dm_name run_test
