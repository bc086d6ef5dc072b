#!/bin/bash
# make bench: bench/guest-bench.sh on the control kernel (the same source and config without the
# series: the denominator of every ratio) and the patched kernel, alternately, ROUNDS times
# (default 3) in one invocation so that drift cancels; then bench/report.sh.
# BENCH_BASE=stock compares with Debian's binary kernel instead (another config: not the
# series' cost alone).
# Then the scaling runs: SCALE="64 256 1024 4096" (the default; SCALE=none skips them) MiB
# registered, once per kernel (SCALE_ROUNDS=1), in a guest with 3 x the largest size + 1 GiB of
# memory and two disks of 2 x that size + 1 GiB (sparse), medians of 3 runs per size.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
rounds=${ROUNDS:-3} base=${BENCH_BASE:-control} scale=${SCALE:-64 256 1024 4096}
scale_rounds=${SCALE_ROUNDS:-1}
case "$base" in control|stock) ;; *) die "BENCH_BASE must be control or stock, not '$base'" ;; esac
[ "$scale" = none ] && scale=''
for mib in $scale; do
	case "$mib" in ''|*[!0-9]*) die "SCALE must be sizes in MiB (or none), not '$scale'" ;; esac
done
out=$top/results/bench
rm -rf "$out" "$top/results/bench.png" "$top/results/bench-ratios.png"; mkdir -p "$out"
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
if [ -n "$scale" ]; then
	max=$(tr ' ' '\n' <<< "$scale" | sort -n | tail -n 1)
	smem=$(( (3 * max + 1024 + 1023) / 1024 ))G sdisk=$(( (2 * max + 1024 + 1023) / 1024 ))G
	for r in $(seq "$scale_rounds"); do
		for k in "$base" patched; do
			note "scaling round $r/$scale_rounds on the $k kernel: $scale MiB ($smem memory, $sdisk disks)"
			"$top/scripts/vm/run.sh" --timeout "${VM_TIMEOUT:-5400}" --kernel "$k" --mem "$smem" --disk "$sdisk" \
				--results "$out/scale-$k-$r" -- env BENCH_SCALE="$scale" PINWB_BENCH_REPS=3 \
				"$top/bench/guest-bench.sh" > "$out/scale-$k-$r.log" 2>&1
			rc=$?
			[ $rc = 0 ] || note "scaling round $r on $k: guest-bench exit $rc (see $out/scale-$k-$r.log)"
			grep -E '^[a-z_0-9A-Z]+ [-0-9.nan]+ ' "$out/scale-$k-$r/cmd.out" | sed "s/^/$k $r /" >> "$out/raw-scale.txt"
		done
	done
fi
"$top/bench/report.sh" "$out/raw.txt" "$base" "$out/raw-scale.txt"
