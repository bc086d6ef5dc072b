#!/bin/bash
# wberror: an ext4 (errors=continue) on a dm-linear device over $PINWB_DISK2, whose table the test
# swaps to make one block unreadable, then tests/rdma/bin/wberror on it. See wberror.c.
set -u
desc=$("$(dirname "$0")/bin/wberror" --describe)
[ "${1:-}" = --describe ] && { echo "$desc"; exit 0; }
# No default for the disk: this test formats it.
disk=${PINWB_DISK2:-} name=pinwb-wberror mnt=/mnt/wberror
fail() { echo "KTAP version 1"; echo "1..1"; echo "not ok 1 - setup: $*"; exit 1; }
command -v dmsetup >/dev/null || fail "dmsetup missing (apt-get install dmsetup)"
command -v debugfs >/dev/null || fail "debugfs missing (apt-get install e2fsprogs)"
[ -b "$disk" ] || fail "no spare disk $disk (PINWB_DISK2)"
export DM_DISABLE_UDEV=1	# no udev in the guest: libdevmapper makes the nodes itself
size=$(blockdev --getsz "$disk") || fail "blockdev --getsz $disk failed"
# Whatever the test left: the whole disk readable again, then unmounted and removed.
cleanup() {
	dmsetup resume --nolockfs "$name" 2>/dev/null
	echo "0 $size linear $disk 0" | dmsetup load "$name" 2>/dev/null &&
		dmsetup resume --nolockfs "$name" 2>/dev/null
	umount "$mnt" 2>/dev/null
	dmsetup remove "$name" 2>/dev/null
}
trap cleanup EXIT
echo "0 $size linear $disk 0" | dmsetup create "$name" || fail "dmsetup create $name failed"
dev=/dev/mapper/$name
mkfs.ext4 -q -F -b 4096 "$dev" >/dev/null 2>&1 || fail "mkfs.ext4 on $dev failed"
mkdir -p "$mnt"; mount -t ext4 -o errors=continue "$dev" "$mnt" || fail "mount $dev failed"
echo "# ext4 (errors=continue) on dm-linear $dev over $disk"
PINWB_DM=$name PINWB_SCRATCH=$mnt "$(dirname "$0")/bin/wberror"
