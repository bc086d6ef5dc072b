#!/bin/bash
# bench/report.sh RAW [BASE [SCALE_RAW]]: median, min and max per metric and kernel, and the
# ratio of the medians patched/BASE (control, the same config without the series, unless told
# stock), as results/bench.txt and a chart of the ratios, results/bench-ratios.png; with
# SCALE_RAW (bench/run.sh's scaling runs), the same table for those and the scaling chart,
# results/bench.png: registration, fsync, range sync and idle flusher work against the
# registered size, both kernels. SERIES=6.12: in results/6.12/.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
res=$PINWB_RESULTS rel=${PINWB_RESULTS#"$top"/}
raw=$1 base=${2:-control} sraw=${3:-}
txt=$res/bench.txt dat=$res/bench/ratios.dat
# awk functions both programs below use: sort(a, c) sorts a[1..c] in place (numbers as numbers,
# strings as strings); stats(a, c) sorts and sets med, min and max of a[1..c].
awk_lib='
function sort(a, c,   i, j, t) {
	for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
}
function stats(a, c) { sort(a, c); min = a[1]; max = a[c]; med = (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2 }
'
table() {
	printf '%-30s %-8s %10s %10s %10s %10s %10s %10s %8s\n' METRIC UNIT "${base^^}_MED" MIN MAX PATCH_MED MIN MAX RATIO
	awk -v base="$base" "$awk_lib"'
	{ k = $1; m = $3; v[m, k, ++n[m, k]] = $4; unit[m] = $5; if (!(m in seen)) { seen[m] = 1; order[++nm] = m } }
	function kstats(m, k,   i, c, a) {
		c = n[m, k]; if (!c) { med = min = max = "-"; return }
		for (i = 1; i <= c; i++) a[i] = v[m, k, i] + 0
		stats(a, c)
	}
	END {
		for (i = 1; i <= nm; i++) {
			m = order[i]
			kstats(m, base); sm = med; smin = min; smax = max
			kstats(m, "patched"); pm = med; pmin = min; pmax = max
			r = (sm != "-" && pm != "-" && sm + 0 != 0) ? sprintf("%.2f", pm / sm) : "-"
			printf "%-30s %-8s %10s %10s %10s %10s %10s %10s %8s\n", m, unit[m], sm, smin, smax, pm, pmin, pmax, r
		}
	}' "$1"
}
{
	echo "pinwb bench: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown), series ${SERIES:-6.1} $(sed -n 's/^Subject: \[PATCH \(v[0-9]*\).*/\1/p' "$top/patches/${SERIES:-6.1}/cover-letter.txt"), $(nproc) host cores, QEMU TCG guest; $(awk '{print $2}' "$raw" | sort -u | wc -l) round(s), kernels alternated, ratio patched/$base"
	table "$raw"
	if [ -s "$sraw" ]; then
		echo
		echo "scaling runs: $(awk '{print $2}' "$sraw" | sort -u | wc -l) round(s), medians of 3 runs per size"
		table "$sraw"
	fi
} > "$txt"
cat "$txt"
table "$raw" | awk 'NR > 1 && $9 != "-" { print $1, $9 }' > "$dat"
if command -v gnuplot >/dev/null && [ -s "$dat" ]; then
	gnuplot <<-GP 2>/dev/null && echo "chart: $rel/bench-ratios.png"
	set terminal pngcairo size 1000,560 font ",9"
	set termoption noenhanced
	set output "$res/bench-ratios.png"
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

# The scaling chart: one line per kernel and metric, medians against the registered size.
[ -s "$sraw" ] || exit 0
sdat=$res/bench/scale.dat
# Every metric gets a column for both kernels, NaN where a kernel has none (6.12 without the
# series refuses the file MRs), so that the chart can name each column.
awk -v base="$base" "$awk_lib"'
{ k = $1; m = $3; if (!match(m, /_[0-9]+MiB/)) next
  size = substr(m, RSTART + 1, RLENGTH - 4) + 0; name = substr(m, 1, RSTART - 1) substr(m, RSTART + RLENGTH)
  key = k "_" name; v[key, size, ++n[key, size]] = $4; sizes[size] = 1; names[name] = 1 }
END {
  ns = 0; for (s in sizes) sz[++ns] = s + 0
  sort(sz, ns)
  nk = 0; for (m in names) { kk[++nk] = base "_" m; kk[++nk] = "patched_" m }
  sort(kk, nk)
  printf "size"; for (i = 1; i <= nk; i++) printf " %s", kk[i]; print ""
  for (i = 1; i <= ns; i++) {
    printf "%d", sz[i]
    for (j = 1; j <= nk; j++) {
      c = n[kk[j], sz[i]]
      if (!c) { printf " NaN"; continue }
      for (p = 1; p <= c; p++) x[p] = v[kk[j], sz[i], p] + 0
      stats(x, c)
      printf " %s", med
    }
    print ""
  }
}' "$sraw" > "$sdat"
command -v gnuplot >/dev/null || { echo "no gnuplot: no chart (the data: $sdat)"; exit 0; }
gnuplot <<-GP 2>"$res/bench/gnuplot.err" && echo "chart: $rel/bench.png" || echo "gnuplot failed: $(cat "$res/bench/gnuplot.err")"
	set terminal pngcairo size 1200,860 font ",9"
	set termoption noenhanced
	set output "$res/bench.png"
	set key top left font ",8"
	set logscale xy 2
	set logscale y 10
	set grid
	set xlabel "registered MiB"
	set xtics (64, 256, 1024, 4096, 16384)
	set xrange [48:*]
	set offsets 0, graph 0.08, 0, 0
	set multiplot layout 2,2 title "pinwb scaling: patched vs $base (each point a median of 3 calls; QEMU TCG). $base's pinned fsync and range sync write nothing: the data loss."
	set title "ibv_reg_mr of a writable file MR"
	set ylabel "ms"
	plot "$sdat" using 1:"${base}_reg" with linespoints lw 2 title "$base", \
	     "" using 1:"patched_reg" with linespoints lw 2 title "patched"
	set title "fsync of the whole range the device (pinned) or the CPU (plain) rewrote"
	plot "$sdat" using 1:"${base}_fsync_pinned" with linespoints title "$base, pinned (writes nothing)", \
	     "" using 1:"patched_fsync_pinned" with linespoints lw 2 title "patched, pinned", \
	     "" using 1:"${base}_fsync_plain" with linespoints dt 2 title "$base, plain", \
	     "" using 1:"patched_fsync_plain" with linespoints dt 2 title "patched, plain"
	set title "msync(MS_SYNC) / sync_file_range of 1 MiB inside the range"
	plot "$sdat" using 1:"${base}_range_msync_pinned" with linespoints title "$base, msync pinned (writes nothing)", \
	     "" using 1:"patched_range_msync_pinned" with linespoints lw 2 title "patched, msync pinned", \
	     "" using 1:"patched_range_sfr_pinned" with linespoints lw 2 title "patched, sync_file_range pinned", \
	     "" using 1:"${base}_range_msync_plain" with linespoints dt 2 title "$base, msync plain", \
	     "" using 1:"patched_range_msync_plain" with linespoints dt 2 title "patched, msync plain"
	set title "10 s idle after fsync, the range registered"
	set ylabel "ms of CPU outside idle; pages"
	set yrange [0.5:*]
	plot "$sdat" using 1:(column("${base}_idle_10s_busy_cpu") + 0.5) with linespoints title "$base, CPU ms + 0.5", \
	     "" using 1:(column("patched_idle_10s_busy_cpu") + 0.5) with linespoints lw 2 title "patched, CPU ms + 0.5", \
	     "" using 1:(column("patched_idle_10s_page_visits") + 0.5) with linespoints lw 2 \
	        title "patched, pinned pages the flusher visited (+0.5 for the log scale)"
	unset multiplot
	GP
