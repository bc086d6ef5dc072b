#!/bin/bash
# wberror: an ext4 (errors=continue) on a dm-linear device over $PINWB_DISK2, whose table the test
# swaps to make one block unreadable, then tests/rdma/bin/wberror on it. See wberror.c.
set -u
. "$(dirname "$0")/lib/disk2.sh" wberror "$@"
command -v debugfs >/dev/null || setup_fail "debugfs missing (apt-get install e2fsprogs)"
dm_linear pinwb-wberror
mkfs_mount "$dev" /mnt/wberror ext4 -b 4096 -- errors=continue
echo "# ext4 (errors=continue) on dm-linear $dev over $disk"
PINWB_DM=$dm_name run_test
