#!/bin/bash
# encrypt: a 64 MiB ext4 made with -O encrypt (fscrypt) on $PINWB_DISK2, then
# tests/rdma/bin/encrypt on it (it copies the device into an image and mounts the copy).
set -u
. "$(dirname "$0")/lib/disk2.sh" encrypt "$@"
mb=64
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() { umount /mnt/encrypt-copy 2>/dev/null; umount "$mnt" 2>/dev/null; rm -f /tmp/pinwb-encrypt.img; }
trap cleanup EXIT
modprobe loop 2>/dev/null	# a distribution kernel has it as a module (the copy is mounted through it)
fs_size=${mb}M mkfs_mount "$disk" /mnt/encrypt ext4 -b 4096 -O encrypt
echo "# ext4 -O encrypt ($mb MiB) on $disk"
PINWB_ENCRYPT_MB=$mb run_test
