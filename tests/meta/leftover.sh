#!/bin/bash
# meta: a test that passes but leaves the second disk mounted (the next test's mkfs would fail).
set -u
mkfs.ext4 -q -F "$PINWB_DISK2" >/dev/null 2>&1 || { echo "1..1"; echo "not ok 1 - mkfs $PINWB_DISK2"; exit 1; }
mkdir -p /mnt/meta-leftover
mount -t ext4 "$PINWB_DISK2" /mnt/meta-leftover || { echo "1..1"; echo "not ok 1 - mount $PINWB_DISK2"; exit 1; }
echo "1..1"; echo "ok 1 - planted: the second disk stays mounted"
