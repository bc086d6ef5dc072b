#!/bin/bash
# gup_test: the kernel's own GUP selftest (gup_test.c of tools/testing/selftests/vm in 6.1,
# .../mm in 6.12, from the kernel source of the running kernel's series, built by
# tests/rdma/Makefile as bin/SERIES/gup_test), its
# pin/unpin cases (get_user_pages_fast, pin_user_pages_fast, pin_user_pages, the long-term pin
# benchmark; read (-W) and write (-w; gup_test's default)) on anonymous memory and on a
# MAP_SHARED 16 MiB ext4 file. Then read pins of the file again (long-term and not), with the
# pages faulted in by GUP (-z) rather than by gup_test's own write: a read-only pin must not make
# the file look modified, so the sync after them must write no data to the device (at most
# 64 KiB of metadata: the scratch ext4 is remounted noatime,noinit_itable first, like
# pw_scratch_quiesce() does for the C tests; 16 MiB of data would be 32768 sectors).
# Output is KTAP; exit status 0 pass, 1 fail, 4 skip.
set -u
desc="the kernel's gup_test pin/unpin cases, anonymous and over an ext4 file; read pins dirty nothing"
[ "${1:-}" = --describe ] && { echo "$desc"; exit 0; }
series=$(uname -r | sed -E 's/^([0-9]+\.[0-9]+).*/\1/')
bin=$(dirname "$0")/bin/$series/gup_test
echo "KTAP version 1"
echo "# gup_test: $desc"
[ -x "$bin" ] || { echo "1..0"; echo "# SKIP $bin not built (make tests builds it from the $series kernel source)"; exit 4; }
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
[ -e /sys/kernel/debug/gup_test ] ||
	{ echo "1..0"; echo "# SKIP no /sys/kernel/debug/gup_test: kernel without CONFIG_GUP_TEST"; exit 4; }
file=${PINWB_SCRATCH:-/mnt/scratch}/gup_test.dat
dd if=/dev/urandom of="$file" bs=1M count=16 status=none && sync

# name | arguments
cases=(
	"anon get_user_pages_fast, read|-u -W -m 16"
	"anon pin_user_pages_fast, read|-a -W -m 16"
	"anon pin_user_pages, write|-b -w -m 16"
	"anon long-term pin, read|-L -W -m 16"
	"anon long-term pin, write|-L -w -m 16"
	"ext4 shared get_user_pages_fast, read|-u -W -S -f $file -m 16"
	"ext4 shared pin_user_pages_fast, read|-a -W -S -f $file -m 16"
	"ext4 shared pin_user_pages, write|-b -w -S -f $file -m 16"
	"ext4 shared long-term pin, read|-L -W -S -f $file -m 16"
	"ext4 shared long-term pin, write|-L -w -S -f $file -m 16"
)
echo "1..$(( ${#cases[@]} + 1 ))"
n=0 fail=0
for c in "${cases[@]}"; do
	n=$((n + 1)) name=${c%%|*} args=${c#*|}
	# shellcheck disable=SC2086
	out=$("$bin" $args -n 32 -r 2 2>&1); rc=$?
	head -n 4 <<< "$out" | while IFS= read -r l; do echo "# $l"; done
	if [ $rc -eq 0 ]; then echo "ok $n $name"; else echo "not ok $n $name (exit $rc)"; fail=1; fi
done

# Read pins, pages faulted in by GUP: the file must stay clean. gup_test's -z asks for that with
# its own copy of FOLL_TOUCH (0x02), which is FOLL_GET's value in 6.12 (FOLL_TOUCH became
# internal): 6.12 WARNs that FOLL_GET and FOLL_PIN are exclusive and refuses the pin. Without -z
# gup_test writes each page first, so on 6.12 this subtest is skipped (readpin checks read pins
# of file pages through RDMA on both series).
if [ "$series" != 6.1 ]; then
	n=$((n + 1))
	echo "ok $n # SKIP read pins with gup_test -z: its FOLL_TOUCH is FOLL_GET in $series (kernel WARN)"
	echo "# seen: $((n - 1)) gup_test cases, $([ $fail = 0 ] && echo all passed || echo some failed)"
	exit $fail
fi
# A fresh ext4 zeroes its inode tables from a background thread (ext4lazyinit), 2 MiB per
# group: once it did so inside the window below (4128 sectors, in a clean-clone CI run).
# noinit_itable stops it; the pause lets a zeroing already under way finish before counting.
mount -o remount,noatime,noinit_itable "$(df --output=target "$file" | tail -n 1)" 2>/dev/null ||
	echo "# remount noatime,noinit_itable failed: the count may include ext4lazyinit's writes"
sync; sleep 1; sync
dev=$(df --output=source "$file" | tail -n 1); dev=${dev#/dev/}
before=$(awk '{print $7}' "/sys/block/$dev/stat")
"$bin" -L -W -z -S -f "$file" -m 16 -n 32 -r 2 > /dev/null 2>&1; rc1=$?
"$bin" -b -W -z -S -f "$file" -m 16 -n 32 -r 2 > /dev/null 2>&1; rc2=$?
sync
after=$(awk '{print $7}' "/sys/block/$dev/stat")
n=$((n + 1))
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ $((after - before)) -le 128 ]; then
	echo "ok $n read pins of the ext4 file (long-term and not): sync wrote $((after - before)) sectors (at most 128)"
else
	echo "not ok $n read pins of the ext4 file: exit $rc1/$rc2, sync wrote $((after - before)) sectors (want at most 128)"
	fail=1
fi
echo "# seen: $((n - 1)) gup_test cases, $([ $fail = 0 ] && echo all passed || echo some failed); $((after - before)) sectors written after read pins"
exit $fail
