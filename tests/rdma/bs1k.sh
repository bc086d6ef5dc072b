#!/bin/bash
# bs1k: an ext4 made with 1 KiB blocks on $PINWB_DISK2, then tests/rdma/bin/bs1k on it.
set -u
. "$(dirname "$0")/lib/disk2.sh" bs1k "$@"
trap 'umount "$mnt" 2>/dev/null' EXIT
mkfs_mount "$disk" /mnt/bs1k ext4 -b 1024
echo "# ext4 with 1 KiB blocks on $disk"
run_test
