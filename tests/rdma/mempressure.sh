#!/bin/bash
# mempressure: an ext4 of its own on a dm-linear device over $PINWB_DISK2 (room for an MR over
# half the guest's memory; the test suspends the device to hold an fsync's copies in flight),
# then tests/rdma/bin/mempressure on it. See mempressure.c.
set -u
. "$(dirname "$0")/lib/disk2.sh" mempressure "$@"
# A disk that asks for stable pages, so that the series writes the pinned pages from copies,
# which need memory (on other disks it writes them in place).
stable_writes
dm_linear pinwb-mempressure
mkfs_mount "$dev" /mnt/mempressure ext4 -b 4096
echo "# ext4 on dm-linear $dev over $disk, stable_writes $(cat "/sys/dev/block/$((0x$(stat -L -c %t "$dev"))):$((0x$(stat -L -c %T "$dev")))/queue/stable_writes")"
PINWB_DM=$dm_name run_test
