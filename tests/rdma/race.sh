#!/bin/bash
# race: an ext4 on a dm-linear device over $PINWB_DISK2 (so that the test can hold its
# writeback in flight with dmsetup suspend), then tests/rdma/bin/race on it. See race.c.
set -u
desc=$("$(dirname "$0")/bin/race" --describe)
[ "${1:-}" = --describe ] && { echo "$desc"; exit 0; }
# No default for the disk: this test formats it.
disk=${PINWB_DISK2:-} name=pinwb-race mnt=/mnt/race
fail() { echo "KTAP version 1"; echo "1..1"; echo "not ok 1 - setup: $*"; exit 1; }
command -v dmsetup >/dev/null || fail "dmsetup missing (apt-get install dmsetup)"
[ -b "$disk" ] || fail "no spare disk $disk (PINWB_DISK2)"
export DM_DISABLE_UDEV=1	# no udev in the guest: libdevmapper makes the nodes itself
cleanup() { dmsetup resume "$name" 2>/dev/null; umount "$mnt" 2>/dev/null; dmsetup remove "$name" 2>/dev/null; }
trap cleanup EXIT
echo "0 $(blockdev --getsz "$disk") linear $disk 0" | dmsetup create "$name" || fail "dmsetup create $name failed"
dev=/dev/mapper/$name
mkfs.ext4 -q -F -b 4096 "$dev" >/dev/null 2>&1 || fail "mkfs.ext4 on $dev failed"
mkdir -p "$mnt"; mount -t ext4 "$dev" "$mnt" || fail "mount $dev failed"
echo "# ext4 on dm-linear $dev over $disk"
PINWB_DM=$name PINWB_SCRATCH=$mnt "$(dirname "$0")/bin/race"
