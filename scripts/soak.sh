#!/bin/bash
# make soak [MINUTES=n] [KERNEL=patched] [SERIES=...]: issue 23's soak. Two phases, one guest at a
# time:
#  1. one guest runs tests/soak-guest.sh: race, stable, invalidate and persist in a loop under
#     stress-ng (vm, hdd, dentry), each run checked like in make check (kernel-log slice, pins);
#  2. crash runs (tests/rdma/crash.host: a guest each, killed with the MR registered, the
#     journal replayed on the host, the file checked block by block) for the rest of the time.
# The crash phase gets CRASH_SHARE percent of MINUTES (default 50). Writes results/soak/: soak.log
# (one line per run), crash.log, the guest's console.log and summary.txt; prints the summary.
# Exit status 0 if every run passed, nothing was lost, the kernel log is clean and pins balance.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$PINWB_TOP/tests/rules.sh"
minutes=${MINUTES:-60} kernel=${KERNEL:-patched} share=${CRASH_SHARE:-50}
results=${SOAK_RESULTS:-$PINWB_RESULTS/soak}
case "$minutes$share" in *[!0-9]*|'') die "MINUTES and CRASH_SHARE must be whole numbers" ;; esac
[ "$minutes" -ge 2 ] || die "MINUTES must be at least 2"
rm -rf "$results"; mkdir -p "$results"
total=$((minutes * 60))
crash_s=$((total * share / 100))
guest_s=$((total - crash_s - 90))	# the guest's boot and shutdown come out of its phase
[ "$guest_s" -ge 60 ] || guest_s=60
started=$(date -u +%Y-%m-%dT%H:%MZ)
series="$PINWB_SERIES $(sed -n 's/^Subject: \[PATCH \(v[0-9]*\) .*/\1/p' "$PINWB_PATCHES/cover-letter.txt") ($(series_patches | grep -c .) patches)"
note "soak: $minutes min on kernel $kernel (series $series): guest loop ${guest_s}s, crash runs ${crash_s}s; results in ${results#"$PINWB_TOP"/}/"

# Phase 1. The guest's timeout: its loop, plus the longest test's (a run started just before the
# end), plus boot and shutdown.
VM_TIMEOUT=$((guest_s + 600)) "$PINWB_TOP/scripts/vm/run.sh" --kernel "$kernel" --results "$results" \
	-- env PINWB_SOAK_SECONDS="$guest_s" ${SOAK_TESTS:+PINWB_SOAK_TESTS="$SOAK_TESTS"} \
	"$PINWB_TOP/tests/soak-guest.sh" > "$results/vm.out" 2>&1
vmrc=$?
[ -s "$results/soak.log" ] || echo "0 guest fail 0 - 0 0 the guest wrote no soak.log (run.sh exit $vmrc; see ${results#"$PINWB_TOP"/}/console.log)" > "$results/soak.log"
# The whole console log, boot to poweroff, against the kernel-log rule.
splats=$(console_reports "$results/console.log")
printf '%s\n' "$splats" | grep -v '^$' > "$results/splats.txt"

# Phase 2.
: > "$results/crash.log"
end=$(( $(date +%s) + crash_s )) n=0
while [ "$(date +%s)" -lt "$end" ]; do
	n=$((n + 1))
	d=$results/crash/$n
	mkdir -p "$d"
	PINWB_FS=ext4 "$PINWB_TOP/tests/rdma/crash.host" "$kernel" "$d" > /dev/null 2>&1
	IFS='|' read -r _ result secs reason < "$d/crash.result" 2>/dev/null || { result=fail secs=0 reason="no result"; }
	lost=$(sed -n 's/^# metric: \([0-9][0-9]*\) .*/\1/p' "$d/crash.full" 2>/dev/null | tail -n 1)
	echo "$n crash $result $secs ${lost:--} 1 - ${reason:-}" >> "$results/crash.log"
	[ "$result" = pass ] && rm -rf "$d"
done

# The summary: per test, runs, failures, iterations, blocks lost; then the totals.
summary=$results/summary.txt
{
	echo "# make soak: $minutes min from $started on $(head -n 1 "$results/kernel.txt" 2>/dev/null || echo "kernel $kernel")"
	echo "# series $series; stress-ng vm/hdd/dentry in the background of the guest loop"
	printf '%-12s %6s %6s %10s %8s\n' TEST RUNS FAILED ITERATIONS LOST
	cat "$results/soak.log" "$results/crash.log" | awk '
		$1 ~ /^#/ { next }
		{ runs[$2]++; if ($3 != "pass") failed[$2]++; it[$2] += $6; if ($5 != "-") lost[$2] += $5
		  if ($7 != "-" && $7 != 0) imb++ }
		END { for (t in runs) printf "%-12s %6d %6d %10d %8d\n", t, runs[t], failed[t], it[t], lost[t]
		      printf "pin imbalance after a run: %d\n", imb }' | sort
	echo "kernel log reports (whole console of the loop guest): $(grep -c . "$results/splats.txt")"
} > "$summary"
cat "$summary"
bad=$(cat "$results/soak.log" "$results/crash.log" | awk '$1 !~ /^#/ && ($3 != "pass" || ($5 != "-" && $5 > 0) || ($7 != "-" && $7 != 0))' | head -n 3)
if [ -n "$bad" ] || [ -s "$results/splats.txt" ]; then
	echo "soak: FAILED${bad:+; first: $(head -n 1 <<< "$bad")}${splats:+; kernel log: $(head -n 1 "$results/splats.txt")}"
	exit 1
fi
echo "soak: passed"
