#!/bin/bash
# journalflag: an ext4 on $PINWB_DISK2 mounted with nodelalloc (with delalloc, ext4 ignores the
# per-file data journaling flag and the inode keeps its mode), then tests/rdma/bin/journalflag.
set -u
[ "${1:-}" = --describe ] && exec "$(dirname "$0")/bin/journalflag" --describe
disk=${PINWB_DISK2:-/dev/vdb} mnt=/mnt/journalflag
fail() { echo "KTAP version 1"; echo "1..1"; echo "not ok 1 - setup: $*"; exit 1; }
[ -b "$disk" ] || fail "no spare disk $disk (PINWB_DISK2)"
trap 'umount "$mnt" 2>/dev/null' EXIT
mkfs.ext4 -q -F -b 4096 "$disk" >/dev/null 2>&1 || fail "mkfs.ext4 $disk failed"
mkdir -p "$mnt"; mount -t ext4 -o nodelalloc "$disk" "$mnt" || fail "mount -o nodelalloc $disk failed"
grep -q " $mnt ext4 .*nodelalloc" /proc/mounts || fail "$mnt is not mounted nodelalloc: $(grep " $mnt " /proc/mounts)"
echo "# ext4 with journal, mounted nodelalloc, on $disk"
PINWB_SCRATCH=$mnt "$(dirname "$0")/bin/journalflag"
