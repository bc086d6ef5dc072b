# shellcheck shell=bash
# Sourced by the tests/rdma/NAME.sh wrappers that make a filesystem of their own on the second
# disk ($PINWB_DISK2, found by serial by tests/guest-run.sh) and run tests/rdma/bin/NAME on it.
#   . "$(dirname "$0")/lib/disk2.sh" NAME      (answers --describe and exits, if asked)
#   setup_fail MESSAGE                          a KTAP failure of the setup, exit 1
#   [fs_size=SIZE] mkfs_mount DEV MNT FSTYPE MKFS_ARGS... [-- MOUNT_OPTIONS]
#                                               mkfs DEV (SIZE: of the filesystem), mount it on MNT
#   mkfs_mount_fs DEV MNT                       the same with the suite's filesystem, for tests that
#                                               are not about one ($PINWB_FS: ext4 or xfs, 4 KiB
#                                               blocks); an XFS gets xfs_repair -n at exit
#   stable_writes                               the disk made to ask for stable pages
#                                               (queue/stable_writes, as a checksumming device does;
#                                               a dm device over it inherits it), put back at exit;
#                                               call it before dm_linear and mkfs_mount
#   dm_linear DM_NAME                           a dm-linear device over the disk, $dev, removed
#                                               (resumed, its table whole again, unmounted) at exit
#   [VAR=VALUE...] run_test                     bin/NAME with PINWB_SCRATCH=$mnt (and VARs)
pw_name=$1
pw_bin=$(dirname "${BASH_SOURCE[0]}")/../bin/$pw_name
[ "${2:-}" = --describe ] && exec "$pw_bin" --describe
setup_fail() { echo "KTAP version 1"; echo "1..1"; echo "not ok 1 - setup: $*"; exit 1; }
# shellcheck source=tests/rules.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../rules.sh" # queue_attr
# No default: a wrapper run by hand must not format a disk it was not told about.
disk=${PINWB_DISK2:-}
[ -n "$disk" ] || setup_fail "PINWB_DISK2 is not set (the disk this test formats)"
[ -b "$disk" ] || setup_fail "no spare disk $disk (PINWB_DISK2)"
! grep -q "^$disk " /proc/mounts || setup_fail "$disk is mounted: $(grep "^$disk " /proc/mounts | head -n 1)"
mkfs_mount() {
	local dev=$1 m=$2 fs=$3 mkfs=() opts=
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do mkfs+=("$1"); shift; done
	[ "${1:-}" = -- ] && opts=${2:-}
	mnt=$m
	case "$fs" in btrfs|xfs) mkfs=(-f "${mkfs[@]}") ;; *) mkfs=(-F "${mkfs[@]}") ;; esac
	local err
	# shellcheck disable=SC2086 # no size: no word
	err=$("mkfs.$fs" -q "${mkfs[@]}" "$dev" ${fs_size:-} 2>&1 >/dev/null) ||
		setup_fail "mkfs.$fs ${mkfs[*]} $dev ${fs_size:+$fs_size }failed: $(echo "$err" | tail -n 1)"
	mkdir -p "$mnt"
	mount -t "$fs" ${opts:+-o "$opts"} "$dev" "$mnt" || setup_fail "mount ${opts:+-o $opts }$dev failed"
}
mkfs_mount_fs() {
	case "${PINWB_FS:-ext4}" in
	ext4) mkfs_mount "$1" "$2" ext4 -b 4096 ;;
	xfs) mkfs_mount "$1" "$2" xfs -b size=4096; fs_check_dev=$1 ;;
	*) setup_fail "PINWB_FS is ext4 or xfs, not '$PINWB_FS'" ;;
	esac
}
# After the unmount: xfs_repair -n on the XFS that mkfs_mount_fs made. Problems fail the test.
fs_check() {
	local out
	[ -n "${fs_check_dev:-}" ] || return 0
	if [ -n "${mnt:-}" ] && mountpoint -q "$mnt"; then
		echo "not ok - $mnt could not be unmounted, so xfs_repair -n $fs_check_dev did not run"
		return 1
	fi
	if ! out=$(timeout 120 xfs_repair -n "$fs_check_dev" 2>&1); then
		echo "$out" | tail -n 20 | sed 's/^/# /'
		echo "not ok - xfs_repair -n $fs_check_dev found problems"
		return 1
	fi
	echo "# xfs_repair -n $fs_check_dev: no problems"
}
run_test() { PINWB_SCRATCH="$mnt" "$pw_bin"; }
stable_writes() {
	# dm_linear's exit trap restores the flag too; it must come after this one's.
	[ -z "${dm_name:-}" ] || setup_fail "stable_writes must be called before dm_linear"
	stable_q=$(queue_attr "$disk" stable_writes)
	stable_was=$(cat "$stable_q") || setup_fail "cannot read $stable_q"
	trap stable_restore EXIT
	echo 1 > "$stable_q" || setup_fail "could not write 1 to $stable_q"
}
stable_restore() {
	if [ -n "${stable_q:-}" ]; then echo "$stable_was" > "$stable_q"; fi
}
dm_linear() {
	dm_name=$1
	command -v dmsetup >/dev/null || setup_fail "dmsetup missing (apt-get install dmsetup)"
	export DM_DISABLE_UDEV=1	# no udev in the guest: libdevmapper makes the nodes itself
	dm_size=$(blockdev --getsz "$disk") || setup_fail "blockdev --getsz $disk failed"
	trap dm_cleanup EXIT
	echo "0 $dm_size linear $disk 0" | dmsetup create "$dm_name" || setup_fail "dmsetup create $dm_name failed"
	dev=/dev/mapper/$dm_name
}
# Whatever the test left: the device resumed and whole again, then unmounted and removed.
dm_cleanup() {
	dmsetup resume --nolockfs "$dm_name" 2>/dev/null
	echo "0 $dm_size linear $disk 0" | dmsetup load "$dm_name" 2>/dev/null &&
		dmsetup resume --nolockfs "$dm_name" 2>/dev/null
	# The test's last fput() may still be pending (an exiting task's files are released by
	# delayed_fput(), a workqueue): retry a busy umount for up to 5 s.
	local bad=0
	if [ -n "${mnt:-}" ]; then
		for _ in $(seq 25); do umount "$mnt" 2>/dev/null && break; sleep 0.2; done
	fi
	fs_check || bad=1
	dmsetup remove "$dm_name" 2>/dev/null
	stable_restore
	[ "$bad" = 0 ] || exit 1
}
