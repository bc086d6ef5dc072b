#!/bin/bash
# regkill: a journal-less ext4 on a dm-linear device over $PINWB_DISK2 (so that the test can hold
# its I/O with dmsetup suspend), then tests/rdma/bin/regkill on it. See regkill.c.
set -u
. "$(dirname "$0")/lib/disk2.sh" regkill "$@"
dm_linear pinwb-regkill
mkfs_mount "$dev" /mnt/regkill ext4 -b 4096 -O ^has_journal
echo "# journal-less ext4 on dm-linear $dev over $disk"
PINWB_DM=$dm_name run_test
