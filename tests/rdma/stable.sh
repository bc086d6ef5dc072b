#!/bin/bash
# stable: ext4 (XFS with PINWB_FS=xfs, then checked with xfs_repair -n) on dm-integrity (crc32c,
# 4 KiB sectors, direct mode: no journal) on
# $PINWB_DISK2, then tests/rdma/bin/stable on it; fails on "Checksum failed" in the kernel log.
# dm-integrity's default journal mode would hide the problem (data is copied into the journal).
set -u
desc=$("$(dirname "$0")/bin/stable" --describe)
[ "${1:-}" = --describe ] && { echo "$desc"; exit 0; }
# No default for the disk: this test formats it.
disk=${PINWB_DISK2:-} name=pinwb-integ mnt=/mnt/integ
skip() { echo "KTAP version 1"; echo "1..0"; echo "# SKIP $*"; exit 4; }
command -v integritysetup >/dev/null || skip "integritysetup missing (apt-get install cryptsetup-bin)"
[ -b "$disk" ] || skip "no spare disk $disk (PINWB_DISK2)"
export DM_DISABLE_UDEV=1	# no udev in the guest: libdevmapper makes the nodes itself
fs=${PINWB_FS:-ext4}
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	local bad=0
	# The test's last fput() may still be pending (delayed_fput()): retry a busy umount for 5 s.
	for _ in $(seq 25); do mountpoint -q "$mnt" || break; umount "$mnt" 2>/dev/null && break; sleep 0.2; done
	if mountpoint -q "$mnt"; then
		echo "not ok - $mnt could not be unmounted$([ "$fs" = xfs ] && echo ", so xfs_repair -n did not run")"; bad=1
	elif [ "$fs" = xfs ] && [ "${made_fs:-0}" = 1 ]; then
		if out=$(timeout 120 xfs_repair -n "$dev" 2>&1); then echo "# xfs_repair -n $dev: no problems"
		else echo "$out" | tail -n 20 | sed 's/^/# /'; echo "not ok - xfs_repair -n $dev found problems"; bad=1
		fi
	fi
	integritysetup close "$name" 2>/dev/null
	[ "$bad" = 0 ] || exit 1
}
trap cleanup EXIT
modprobe dm-integrity 2>/dev/null
integritysetup format -q --batch-mode --integrity crc32c --sector-size 4096 "$disk" >/tmp/integ.log 2>&1 ||
	{ cat /tmp/integ.log; skip "integritysetup format failed (dm-integrity missing?)"; }
# The flag must come from dm-integrity itself, not from the disk under it (a test killed
# before it put back a flag it set would leave it there).
dsw=$(cat "/sys/class/block/$(basename "$(readlink -f "$disk")")/queue/stable_writes" 2>/dev/null)
if [ "$dsw" != 0 ]; then
	echo "KTAP version 1"; echo "1..1"
	echo "not ok 1 premise: $disk itself has queue/stable_writes '$dsw', not 0: dm-integrity's own flag could not be told from it"
	exit 1
fi
integritysetup open --integrity crc32c --integrity-no-journal "$disk" "$name" >>/tmp/integ.log 2>&1 ||
	{ cat /tmp/integ.log; skip "integritysetup open failed"; }
dev=/dev/mapper/$name
dm=
for b in /sys/block/dm-*; do [ "$(cat "$b/dm/name" 2>/dev/null)" = "$name" ] && dm=${b##*/}; done
[ -b "$dev" ] || dev=/dev/$dm
sw=$(cat "/sys/block/$dm/queue/stable_writes" 2>/dev/null)
mode=$(dmsetup table "$name" 2>/dev/null | awk '$3 == "integrity" { print $7 }')
echo "# dm-integrity on $disk as $dev ($dm), mode ${mode:-unknown}, stable_writes=$sw"
# The premise: dm-integrity checksums the bio's own pages (mode D, no journal: with a journal
# it would checksum its copy), and says so: queue/stable_writes is 1 (6.1 through the target's
# needs_stable_writes; 6.11 lost that, and the 6.12 series' dm-integrity patch puts it back). The
# series writes pinned pages from copies only where the device asks for stable pages, as
# folio_wait_stable() holds CPU writers back only there; bin/stable checks the flag again.
if [ "$mode" != D ]; then
	echo "KTAP version 1"; echo "1..1"
	echo "not ok 1 premise: $dev is dm-integrity in mode ${mode:-unknown}, not D (direct, no journal)"
	exit 1
fi
case "$fs" in
ext4) mkfs.ext4 -q -F -b 4096 "$dev" >/dev/null 2>&1 || { echo "# mkfs.ext4 on $dev failed"; exit 1; } ;;
xfs) mkfs.xfs -q -f -b size=4096 "$dev" >/dev/null 2>&1 || { echo "# mkfs.xfs on $dev failed"; exit 1; }
     made_fs=1 ;;
*) echo "# PINWB_FS is ext4 or xfs, not '$fs'"; exit 1 ;;
esac
mkdir -p "$mnt"; mount -t "$fs" "$dev" "$mnt" || { echo "# mount -t $fs $dev failed"; exit 1; }
echo "# $fs on $dev"
marker="pinwb-stable: $(date +%s%N)"
echo "$marker" > /dev/kmsg
PINWB_SCRATCH=$mnt "$(dirname "$0")/bin/stable"
rc=$?
sync
n=$(dmesg | awk -v m="$marker" 'f; index($0, m) { f = 1 }' | grep -c 'Checksum failed')
echo "# kernel log: $n 'Checksum failed' lines"
if [ "$n" -gt 0 ]; then
	dmesg | grep -m 3 'Checksum failed' | sed 's/^/# /'
	echo "# FAIL: dm-integrity reported checksum failures"
	rc=1
fi
exit $rc
