#!/bin/bash
# bench_smoke: the guest side of make bench (bench/guest-bench.sh) in its short mode
# (BENCH_QUICK=1), so that a bench that no longer builds or runs fails make check (issue 20:
# bench/ once went unbuilt for weeks). Checks that every benchmark ran and printed its metrics
# as numbers, then that the scaling mode (BENCH_SCALE) runs at one small size and prints its
# per-size metrics; the figures themselves are make bench's business, not a test's.
# Output is KTAP; exit status 0 pass, 1 fail, 5 refused (a kernel that refuses writable file
# MRs: the bench's file MRs cannot be registered).
set -u
desc="make bench's guest part, short mode: every benchmark runs and prints its metrics"
[ "${1:-}" = --describe ] && { echo "$desc"; exit 0; }
top=$(cd "$(dirname "$0")/../.." && pwd)
echo "KTAP version 1"
echo "# bench_smoke: $desc"
# One metric family per benchmark of guest-bench.sh's short mode.
# (reg_[0-9] and dereg_[0-9]: the file MRs, not reg_anon_ or reg_huge_.) The first two
# families of regmem run on every kernel, and are checked even where the file MRs are refused.
# The metrics of the runs on a disk asking for stable pages (suffix _stable) are left out of
# these families' checks and checked below.
families=(reg_anon_ reg_huge_ write_bw_anon_ write_bw_mmap_ 'reg_[0-9]' 'dereg_[0-9]' fsync_pinned_ fsync_plain_ range_msync_ range_sfr_ idle_)
# The syncs run a second time with the scratch disk asking for stable pages (the series' copy
# path): each of these families' metrics must also be there with the suffix _stable, as a number.
stable_families=(fsync_pinned_ fsync_plain_ range_msync_ range_sfr_)
# The scaling mode at 16 MiB, one run each: the metrics bench/report.sh charts.
scale_metrics=(reg_16MiB fsync_pinned_16MiB fsync_plain_16MiB range_msync_pinned_16MiB
	range_sfr_pinned_16MiB idle_16MiB_10s_busy_cpu)
echo "1..$(( ${#families[@]} + ${#stable_families[@]} + 2 ))"
work=$(mktemp -d)
if [ ! -x "$top/bench/bin/pinwb_bench" ]; then
	echo "not ok 1 bench/bin/pinwb_bench is not built (make tests builds bench/)"
	rm -rf "$work"; exit 1
fi
# bench NAME [VAR=value ...]: guest-bench.sh with those variables, its metrics in $work/NAME and
# all its output as comments; its exit status.
bench() {
	local name=$1 rc
	shift
	env "$@" "$top/bench/guest-bench.sh" > "$work/$name" 2> "$work/err"
	rc=$?
	sed "s/^/# bench $name: /" "$work/$name"
	sed "s/^/# bench $name stderr: /" "$work/err"
	# guest-bench.sh leaves the scratch device unmounted; the runner unmounts it after the test.
	mount "$PINWB_DISK" "${PINWB_SCRATCH:-/mnt/scratch}" 2>/dev/null
	return $rc
}
bench out BENCH_QUICK=1
rc=$?
if [ $rc = 5 ]; then
	# Refused file MRs: registration of anonymous and hugetlbfs memory must still be there.
	for f in reg_anon_ reg_huge_; do
		grep -qE "^${f}[A-Za-z0-9_]* -?[0-9]+(\.[0-9]+)? " "$work/out" && continue
		echo "not ok 1 the kernel refuses file MRs, and no ${f}* metric was printed"
		rm -rf "$work"; exit 1
	done
	echo "# REFUSED $(sed -n 's/^# REFUSED //p' "$work/out" | head -n 1)"
	rm -rf "$work"; exit 5
fi
fail=0
if [ $rc = 0 ]; then echo "ok 1 bench/guest-bench.sh finished"; else echo "not ok 1 bench/guest-bench.sh exit status $rc"; fail=1; fi
i=1
for f in "${families[@]}"; do
	i=$((i + 1))
	lines=$(grep -E "^${f}[A-Za-z0-9_]* " "$work/out" | grep -vE '^[^ ]*_stable ')
	bad=$(awk '$2 !~ /^-?[0-9]+(\.[0-9]+)?$/ { print $1 "=" $2 }' <<< "$lines" | tr '\n' ' ')
	n=$(grep -c . <<< "$lines")
	if [ -z "$lines" ]; then
		echo "not ok $i no ${f}* metric printed"; fail=1
	elif [ -n "$bad" ]; then
		echo "not ok $i ${f}*: not a number: $bad"; fail=1
	else
		echo "ok $i ${f}*: $n metric(s): $(awk '{ printf "%s=%s %s; ", $1, $2, $3 }' <<< "$lines")"
	fi
done
for f in "${stable_families[@]}"; do
	i=$((i + 1))
	names=$(grep -E "^${f}[A-Za-z0-9_]* " "$work/out" | grep -vE '^[^ ]*_stable ' | awk '{ print $1 "_stable" }')
	lines=$(grep -E "^${f}[A-Za-z0-9_]*_stable " "$work/out")
	missing=$(grep -vxFf <(awk '$2 ~ /^-?[0-9]+(\.[0-9]+)?$/ { print $1 }' <<< "$lines") <<< "$names" | tr '\n' ' ')
	extra=$(awk '{ print $1 }' <<< "$lines" | grep -vxFf <(echo "$names") | tr '\n' ' ')
	if [ -z "$names" ]; then
		echo "not ok $i ${f}*_stable: no ${f}* metric to compare with"; fail=1
	elif [ -n "$missing" ]; then
		echo "not ok $i ${f}*_stable (the disk asking for stable pages): missing or not a number: $missing"; fail=1
	elif [ -n "$extra" ]; then
		echo "not ok $i ${f}*_stable: no such metric on the plain disk: $extra"; fail=1
	else
		echo "ok $i ${f}*_stable: $(grep -c . <<< "$names") metric(s), one for each on the plain disk: $(awk '{ printf "%s=%s %s; ", $1, $2, $3 }' <<< "$lines")"
	fi
done
i=$((i + 1))
bench scale BENCH_SCALE=16 PINWB_BENCH_REPS=1
rc=$?
missing=''
for m in "${scale_metrics[@]}"; do
	grep -qE "^$m -?[0-9]+(\.[0-9]+)? " "$work/scale" || missing+=" $m"
done
if [ $rc != 0 ]; then
	echo "not ok $i BENCH_SCALE=16: guest-bench.sh exit status $rc"; fail=1
elif [ -n "$missing" ]; then
	echo "not ok $i BENCH_SCALE=16: missing or not a number:$missing"; fail=1
else
	echo "ok $i BENCH_SCALE=16: ${#scale_metrics[@]} per-size metrics, all numbers"
fi
echo "# seen: bench/guest-bench.sh short mode: $(grep -cE '^[a-z_0-9A-Z]+ ' "$work/out") metrics$([ $fail = 0 ] && echo ", all numbers" || echo ", some missing or not numbers")"
rm -rf "$work"
exit $fail
