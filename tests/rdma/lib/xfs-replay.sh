#!/bin/bash
# Guest side of the XFS crash replay (tests/rdma/crash.host with PINWB_FS=xfs), in a guest of its
# own whose scratch disk is a copy of the killed guest's: mount it (XFS replays its log at mount),
# copy NAME.dat to the results share, unmount, then xfs_repair -n. The host's own kernel never
# mounts an image a test kernel wrote.
# usage: tests/rdma/lib/xfs-replay.sh NAME     exit 0 if all went well, else the step that failed:
#   2 no scratch disk, 3 mount (log replay) failed, 4 no NAME.dat, 5 umount failed,
#   6 xfs_repair -n found problems, 7 xfs_repair -n timed out (120 s), 8 no xfs_repair
set -u
name=$1 res=${PINWB_RESULTS:-/results} dev='' mnt=/mnt/replay
for b in /sys/block/*; do
	[ "$(cat "$b/serial" 2>/dev/null)" = pinwb-scratch ] && dev=/dev/${b##*/}
done
[ -b "$dev" ] || { echo "replay: no disk with serial pinwb-scratch"; exit 2; }
mkdir -p "$mnt"
mount -t xfs "$dev" "$mnt" || { echo "replay: mount -t xfs $dev failed (log replay)"; dmesg | tail -n 20; exit 3; }
echo "replay: $dev mounted, log replayed"
rc=0
cp "$mnt/$name.dat" "$res/$name.dat" || { echo "replay: no $name.dat in the replayed filesystem"; rc=4; }
umount "$mnt" || { echo "replay: umount failed"; exit 5; }
timeout 120 xfs_repair -n "$dev" > "$res/xfs_repair" 2>&1
case $? in
0) echo "replay: xfs_repair -n $dev: no problems" ;;
124) echo "replay: xfs_repair -n $dev did not finish within 120 s"; [ "$rc" = 0 ] && rc=7 ;;
127) echo "replay: xfs_repair is not installed (apt-get install xfsprogs)"; [ "$rc" = 0 ] && rc=8 ;;
*) echo "replay: xfs_repair -n $dev found problems:"; tail -n 20 "$res/xfs_repair"; [ "$rc" = 0 ] && rc=6 ;;
esac
exit "$rc"
