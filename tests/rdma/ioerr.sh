#!/bin/bash
# ioerr: an ext4 on a dm-linear device over $PINWB_DISK2, whose table the test swaps to make
# the registered file's blocks fail writes, then tests/rdma/bin/ioerr on it. See ioerr.c.
set -u
. "$(dirname "$0")/lib/disk2.sh" ioerr "$@"
dm_linear pinwb-ioerr
mkfs_mount "$dev" /mnt/ioerr ext4 -b 4096
echo "# ext4 on dm-linear $dev over $disk"
PINWB_DM=$dm_name run_test
