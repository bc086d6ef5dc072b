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
# BENCH_REG_ONLY=1: registration only, and no scaling runs unless SCALE says so.
[ "${BENCH_REG_ONLY:-0}" = 1 ] && scale=${SCALE:-none}
# BENCH_SYNC_ONLY=1: the fsync and range-sync comparisons only (in place and from copies), likewise.
[ "${BENCH_SYNC_ONLY:-0}" = 1 ] && scale=${SCALE:-none}
scale_rounds=${SCALE_ROUNDS:-1}
case "$base" in control|stock) ;; *) die "BENCH_BASE must be control or stock, not '$base'" ;; esac
[ "$scale" = none ] && scale=''
for mib in $scale; do
	case "$mib" in ''|*[!0-9]*) die "SCALE must be sizes in MiB (or none), not '$scale'" ;; esac
done
out=$PINWB_RESULTS/bench
rm -rf "$out" "$PINWB_RESULTS/bench.png" "$PINWB_RESULTS/bench-ratios.png"; mkdir -p "$out"
# guest_bench WHAT KERNEL ROUND RAW [run.sh options] -- env [VAR=value ...]: one guest running
# guest-bench.sh (results in $out/WHAT-KERNEL-ROUND); its metric lines go to RAW, after the
# kernel and the round. guest-bench.sh exits 1 if a benchmark failed, 5 if the kernel refused
# the file MRs; the metrics that were printed are kept either way.
guest_bench() {
	local what=$1 k=$2 r=$3 raw=$4 dir=$out/$1-$2-$3
	shift 4
	"$top/scripts/vm/run.sh" --kernel "$k" --results "$dir" "$@" "$top/bench/guest-bench.sh" > "$dir.log" 2>&1 ||
		note "$what round $r on $k: guest-bench exit $? (see $dir.log)"
	grep -E '^[a-z_0-9A-Z]+ [-0-9.nan]+ ' "$dir/cmd.out" | sed "s/^/$k $r /" >> "$raw"
}
for r in $(seq "$rounds"); do
	for k in "$base" patched; do
		note "bench round $r/$rounds on the $k kernel"
		guest_bench vm "$k" "$r" "$out/raw.txt" --mem "${VM_MEM:-2G}" -- env BENCH_QUICK="${BENCH_QUICK:-0}" \
			BENCH_REG_ONLY="${BENCH_REG_ONLY:-0}" BENCH_SYNC_ONLY="${BENCH_SYNC_ONLY:-0}"
	done
done
if [ -n "$scale" ]; then
	max=$(tr ' ' '\n' <<< "$scale" | sort -n | tail -n 1)
	smem=$(( (3 * max + 1024 + 1023) / 1024 ))G sdisk=$(( (2 * max + 1024 + 1023) / 1024 ))G
	for r in $(seq "$scale_rounds"); do
		for k in "$base" patched; do
			note "scaling round $r/$scale_rounds on the $k kernel: $scale MiB ($smem memory, $sdisk disks)"
			guest_bench scale "$k" "$r" "$out/raw-scale.txt" --timeout "${VM_TIMEOUT:-5400}" --mem "$smem" \
				--disk "$sdisk" -- env BENCH_SCALE="$scale" PINWB_BENCH_REPS=3
		done
	done
fi
"$top/bench/report.sh" "$out/raw.txt" "$base" "$out/raw-scale.txt"
