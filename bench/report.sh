#!/bin/bash
# bench/report.sh RAW [BASE]: median, min and max per metric and kernel, and the ratio of the
# medians patched/BASE (control, the same config without the series, unless told stock), as
# results/bench.txt and a chart results/bench.png.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
raw=$1 base=${2:-control}
txt=$top/results/bench.txt dat=$top/results/bench/ratios.dat
{
	echo "pinwb bench: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown), series $(sed -n 's/^Subject: \[PATCH \(v[0-9]*\).*/\1/p' "$top/patches/${SERIES:-6.1}/cover-letter.txt"), $(nproc) host cores, QEMU TCG guest; $(awk '{print $2}' "$raw" | sort -u | wc -l) round(s), kernels alternated, ratio patched/$base"
	printf '%-30s %-8s %10s %10s %10s %10s %10s %10s %8s\n' METRIC UNIT "${base^^}_MED" MIN MAX PATCH_MED MIN MAX RATIO
	awk -v base="$base" '
	{ k = $1; m = $3; v[m, k, ++n[m, k]] = $4; unit[m] = $5; if (!(m in seen)) { seen[m] = 1; order[++nm] = m } }
	function stats(m, k,   i, j, c, a, t) {
		c = n[m, k]; if (!c) { med = min = max = "-"; return }
		for (i = 1; i <= c; i++) a[i] = v[m, k, i] + 0
		for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		min = a[1]; max = a[c]; med = (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
	}
	END {
		for (i = 1; i <= nm; i++) {
			m = order[i]
			stats(m, base); sm = med; smin = min; smax = max
			stats(m, "patched"); pm = med; pmin = min; pmax = max
			r = (sm != "-" && pm != "-" && sm + 0 != 0) ? sprintf("%.2f", pm / sm) : "-"
			printf "%-30s %-8s %10s %10s %10s %10s %10s %10s %8s\n", m, unit[m], sm, smin, smax, pm, pmin, pmax, r
		}
	}' "$raw"
} > "$txt"
cat "$txt"
awk 'NR > 2 && $9 != "-" { print $1, $9 }' "$txt" > "$dat"
if command -v gnuplot >/dev/null && [ -s "$dat" ]; then
	gnuplot <<-GP 2>/dev/null && echo "chart: results/bench.png"
	set terminal pngcairo size 1000,560 font ",9"
	set termoption noenhanced
	set output "$top/results/bench.png"
	set title "pinwb: patched / $base, median of rounds (1 = same; log scale). Without the series, fsync of a pinned range writes nothing."
	set style fill solid 0.8 border -1
	set boxwidth 0.7
	set xtics rotate by -40
	set grid ytics
	set logscale y
	set yrange [0.05:500]
	plot "$dat" using 0:2:xtic(1) with boxes lc rgb "#2e86c1" notitle, \
	     "" using 0:2:(sprintf("%.2f", \$2)) with labels offset 0,0.6 notitle, \
	     1 with lines lc rgb "#c0392b" notitle
	GP
fi
