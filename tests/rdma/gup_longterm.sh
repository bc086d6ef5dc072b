#!/bin/bash
# gup_longterm: 6.12's own long-term pinning selftest (tools/testing/selftests/mm/gup_longterm.c,
# built by tests/rdma/Makefile) on ext4: R/O and R/W long-term pins, fast and not, and io_uring
# fixed buffers, of private and shared mappings of tmpfile()s, memfds and hugetlb memfds. Upstream
# expects every writable long-term pin of a shared ext4 mapping to fail with EFAULT; the series
# updates the selftest to expect success where ext4 opted in (one block per page, ordered or
# writeback mode, no DAX) and EFAULT elsewhere. A kernel with the series runs the updated
# selftest, one without runs the upstream one (bin/6.12/gup_longterm.upstream, from the pristine
# source): each must pass on its own kernel. Run on the scratch ext4 (4 KiB blocks: pins
# accepted), on an ext4 with 1 KiB blocks on $PINWB_DISK2 (refused) and on an XFS with 4 KiB blocks
# there (accepted: the series' patch 21; refused without the series), each time with /tmp and
# the working directory on that filesystem (the selftest's tmpfile() and mkstemp() files). On
# the scratch ext4 the other version runs too, and must fail, and only on expectations ("Should
# have worked/failed"): the kernel's behaviour is not the one that version expects, which shows
# that the two expectations differ where this kernel runs them.
# The 6.1 source has no gup_longterm: on a 6.1 kernel the test is skipped.
set -u
desc="6.12's gup_longterm selftest on ext4 with 4 KiB and 1 KiB blocks and on XFS: the series' expectations on a kernel with it, upstream's without"
[ "${1:-}" = --describe ] && { echo "$desc"; exit 0; }
here=$(cd "$(dirname "$0")" && pwd)
series=$(uname -r | sed -E 's/^([0-9]+\.[0-9]+).*/\1/')
echo "KTAP version 1"
echo "# gup_longterm: $desc"
if [ ! -d "$here/bin/$series" ] || [ "$series" = 6.1 ]; then
	echo "1..0"; echo "# SKIP no gup_longterm selftest in the $series kernel source"; exit 4
fi
if grep -q '^pin_writeback_wait ' /proc/vmstat; then
	bin=$here/bin/$series/gup_longterm what="the series' gup_longterm (this kernel has the series)"
	other=$here/bin/$series/gup_longterm.upstream owhat="upstream's"
else
	bin=$here/bin/$series/gup_longterm.upstream what="upstream's gup_longterm (this kernel lacks the series)"
	other=$here/bin/$series/gup_longterm owhat="the series'"
fi
[ -x "$bin" ] || { echo "1..0"; echo "# SKIP $bin not built (make tests builds it from build/$series/src)"; exit 4; }
disk=${PINWB_DISK2:-}
[ -b "$disk" ] || { echo "1..0"; echo "# SKIP requires disk2 (PINWB_DISK2)"; exit 4; }
echo "# $what"
echo "1..4"
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# Hugetlb cases want free huge pages: a few of the default size, if the kernel gives them.
hp0=$(cat /proc/sys/vm/nr_hugepages)
trap 'echo "$hp0" > /proc/sys/vm/nr_hugepages' EXIT
echo 4 > /proc/sys/vm/nr_hugepages 2>/dev/null
fail=0 n=0
selftest() {	# DIR BINARY: the selftest with /tmp and its cwd on DIR
	# A copy on DIR: the binary's own path may be under /tmp (a clone in /tmp), which the bind
	# mount hides.
	mkdir -p "$1/tmp"
	cp "$2" "$1/gup_longterm.bin" || return 1
	# shellcheck disable=SC2016 # $1: the inner shell's argument
	(cd "$1" && unshare -m sh -c 'mount --bind "$1/tmp" /tmp && exec ./gup_longterm.bin' sh "$1" 2>&1)
	local rc=$?
	rm -f "$1/gup_longterm.bin"
	return $rc
}
run_on() {	# DIR LABEL
	local dir=$1 label=$2 out rc totals skips allowed badskip npass
	n=$((n + 1))
	out=$(selftest "$dir" "$bin")
	rc=$?
	while IFS= read -r l; do echo "# $l"; done <<< "$out"
	totals=$(grep -m1 '^# Totals' <<< "$out" | sed 's/^# Totals: //')
	# The selftest's own skips, by reason. Two are expected: hugetlb sizes without free pages
	# (1 GiB pages in a 2 GiB guest) and, on a kernel without CONFIG_GUP_TEST, every case that
	# pins through gup_test (only the io_uring cases run then). Any other skip fails the run.
	skips=$(sed -n 's/^ok [0-9]* # SKIP //p' <<< "$out" | sort | uniq -c | sed 's/^ *\([0-9]*\) /\1 x /' | paste -sd, -)
	allowed='need more free huge pages'
	[ -e /sys/kernel/debug/gup_test ] || allowed+='|gup_test not available'
	badskip=$(sed -n 's/^ok [0-9]* # SKIP //p' <<< "$out" | grep -v -E "^($allowed)\$" | head -n 1)
	npass=$(sed -n 's/^# Totals: pass:\([0-9]*\) .*/\1/p' <<< "$out")
	if [ -n "$badskip" ]; then
		echo "not ok $n - $label: unexpected skip in the selftest: $badskip"
		fail=1
	elif [ "$rc" = 0 ] && grep -q '^# Totals: pass:[0-9]* fail:0 ' <<< "$out" && [ "${npass:-0}" -ge 8 ]; then
		echo "ok $n - $label: $totals${skips:+ (skipped: $skips)}"
	else
		echo "not ok $n - $label: exit $rc; $(grep -m1 '^not ok' <<< "$out" || echo "${totals:-no totals} (at least 8 passes wanted)")"
		fail=1
	fi
}
run_on "${PINWB_SCRATCH:-/mnt/scratch}" "ext4, 4 KiB blocks (scratch)"
n=$((n + 1))
out=$(selftest "${PINWB_SCRATCH:-/mnt/scratch}" "$other")
nfail=$(grep -c '^not ok' <<< "$out")
nexp=$(grep '^not ok' <<< "$out" | grep -c 'Should have')
grep -E '^not ok|^# Totals' <<< "$out" | while IFS= read -r l; do echo "# other: $l"; done
if [ "$nfail" -gt 0 ] && [ "$nfail" = "$nexp" ]; then
	echo "ok $n - $owhat gup_longterm fails here, on expectations only ($nfail case(s): the two versions differ on this kernel)"
else
	echo "not ok $n - $owhat gup_longterm: $nfail failure(s), $nexp of them on expectations (want at least one, and only those)"
	fail=1
fi
mkdir -p /mnt/gup_longterm
if mkfs.ext4 -q -F -b 1024 "$disk" >/dev/null 2>&1 && mount -t ext4 "$disk" /mnt/gup_longterm; then
	run_on /mnt/gup_longterm "ext4, 1 KiB blocks ($disk)"
	umount /mnt/gup_longterm
else
	n=$((n + 1)); echo "not ok $n - ext4, 1 KiB blocks: mkfs or mount of $disk failed"; fail=1
fi
if mkfs.xfs -q -f -b size=4096 "$disk" >/dev/null 2>&1 && mount -t xfs "$disk" /mnt/gup_longterm; then
	run_on /mnt/gup_longterm "XFS, 4 KiB blocks ($disk)"
	umount /mnt/gup_longterm
else
	n=$((n + 1)); echo "not ok $n - XFS: mkfs.xfs or mount of $disk failed"; fail=1
fi
exit $fail
