#!/bin/bash
# journalflag: an ext4 on $PINWB_DISK2 mounted with nodelalloc (with delalloc, ext4 ignores the
# per-file data journaling flag and the inode keeps its mode), then tests/rdma/bin/journalflag.
set -u
. "$(dirname "$0")/lib/disk2.sh" journalflag "$@"
trap 'umount "$mnt" 2>/dev/null' EXIT
mkfs_mount "$disk" /mnt/journalflag ext4 -b 4096 -- nodelalloc
grep -q " $mnt ext4 .*nodelalloc" /proc/mounts || setup_fail "$mnt is not mounted nodelalloc: $(grep " $mnt " /proc/mounts)"
echo "# ext4 with journal, mounted nodelalloc, on $disk"
run_test
