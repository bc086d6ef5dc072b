#!/bin/bash
# make bench: bench/guest-bench.sh on the control kernel (the same source and config without the
# series: the denominator of every ratio) and the patched kernel, alternately, ROUNDS times
# (default 3) in one invocation so that drift cancels; then bench/report.sh.
# BENCH_BASE=stock compares with Debian's binary kernel instead (another config: not the
# series' cost alone).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
rounds=${ROUNDS:-3} base=${BENCH_BASE:-control}
case "$base" in control|stock) ;; *) die "BENCH_BASE must be control or stock, not '$base'" ;; esac
out=$top/results/bench
rm -rf "$out"; mkdir -p "$out"
for r in $(seq "$rounds"); do
	for k in "$base" patched; do
		note "bench round $r/$rounds on the $k kernel"
		"$top/scripts/vm/run.sh" --kernel "$k" --mem "${VM_MEM:-2G}" --results "$out/vm-$k-$r" \
			-- env BENCH_QUICK="${BENCH_QUICK:-0}" "$top/bench/guest-bench.sh" > "$out/vm-$k-$r.log" 2>&1
		rc=$?
		# guest-bench.sh: 1 a benchmark failed, 5 the kernel refused the file MRs; the metrics
		# that were printed are kept either way.
		[ $rc = 0 ] || note "round $r on $k: guest-bench exit $rc (see $out/vm-$k-$r.log)"
		grep -E '^[a-z_0-9A-Z]+ [-0-9.nan]+ ' "$out/vm-$k-$r/cmd.out" | sed "s/^/$k $r /" >> "$out/raw.txt"
	done
done
"$top/bench/report.sh" "$out/raw.txt" "$base"
