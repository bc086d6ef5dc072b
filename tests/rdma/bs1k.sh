#!/bin/bash
# bs1k: an ext4 made with 1 KiB blocks on $PINWB_DISK2, then tests/rdma/bin/bs1k on it.
set -u
[ "${1:-}" = --describe ] && exec "$(dirname "$0")/bin/bs1k" --describe
disk=${PINWB_DISK2:-/dev/vdb} mnt=/mnt/bs1k
fail() { echo "KTAP version 1"; echo "1..1"; echo "not ok 1 - setup: $*"; exit 1; }
[ -b "$disk" ] || fail "no spare disk $disk (PINWB_DISK2)"
trap 'umount "$mnt" 2>/dev/null' EXIT
mkfs.ext4 -q -F -b 1024 "$disk" >/dev/null 2>&1 || fail "mkfs.ext4 -b 1024 $disk failed"
mkdir -p "$mnt"; mount -t ext4 "$disk" "$mnt" || fail "mount $disk failed"
echo "# ext4 with 1 KiB blocks on $disk"
PINWB_SCRATCH=$mnt "$(dirname "$0")/bin/bs1k"
