#!/bin/bash
# race: an ext4 on a dm-linear device over $PINWB_DISK2 (so that the test can hold its
# writeback in flight with dmsetup suspend), then tests/rdma/bin/race on it. See race.c.
set -u
. "$(dirname "$0")/lib/disk2.sh" race "$@"
dm_linear pinwb-race
mkfs_mount "$dev" /mnt/race ext4 -b 4096
echo "# ext4 on dm-linear $dev over $disk"
PINWB_DM=$dm_name run_test
