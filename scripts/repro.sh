#!/bin/bash
# make repro: the reproduction tests on Debian's stock kernel, on the control kernel (the same
# source and config as ours, without the series) and on the patched kernel, one VM each, then a
# side-by-side table (results/repro.txt) and a chart (results/repro.png). Stock is what users
# run; control against patched is the series' effect alone.
#
# usage: [RUNS=N] scripts/repro.sh [TEST...]    (default: every test in tests/rdma/TESTS)
# RUNS=N runs each test N times in the same guest; the table then says in how many it failed.
# TOPOLOGY=2node: the tests of tests/rdma/TESTS.2node with the writer in a second guest;
# results/repro-2node{,.txt,.png}.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

topology=${TOPOLOGY:-1node} list=$PINWB_TOP/tests/rdma/TESTS suffix=
case "$topology" in
1node) ;;
2node) list=$PINWB_TOP/tests/rdma/TESTS.2node suffix=-2node ;;
*) die "repro.sh: TOPOLOGY must be 1node or 2node, not '$topology'" ;;
esac
out=$PINWB_TOP/results/repro$suffix
tests=("$@")
[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(grep -v -e '^#' -e '^[[:space:]]*$' "$list" | awk '{print $1}')

# REPORT_ONLY=1 redraws the table and chart from the last run's results.
if [ "${REPORT_ONLY:-0}" != 1 ]; then
	rm -rf "$out"; mkdir -p "$out"
	for k in stock control patched; do
		echo "== $k kernel =="
		PINWB_REPEAT=${RUNS:-1} "$PINWB_TOP/scripts/check.sh" --kernel "$k" --topology "$topology" --results "$out/$k" "${tests[@]}" | tail -n +2
	done
fi

# res KERNEL TEST: the verdict check.sh gave (PASS, FAIL, SKIP; an unexpected skip is a FAIL);
# with several runs, how many failed ("FAIL 10/10").
res() {
	local r n f
	r=$(cut -d'|' -f2 "$out/$1/$2.verdict" 2>/dev/null)
	[ -n "$r" ] || { r=$(cut -d'|' -f2 "$out/$1/$2.result" 2>/dev/null); r=${r^^}; }
	n=0; [ -f "$out/$1/$2.runs" ] && n=$(wc -l < "$out/$1/$2.runs")
	if [ "$n" -gt 1 ]; then
		f=$(grep -c '^[0-9]*|fail|' "$out/$1/$2.runs")
		r="$r $f/$n"
	fi
	echo "${r:-NONE}"
}
seen() { local s; s=$(sed -n 's/^# seen: //p' "$out/$1/$2.full" 2>/dev/null | tail -n 1)
	[ -n "$s" ] || s=$(cut -d'|' -f4 "$out/$1/$2.result" 2>/dev/null); echo "${s:--}"; }
metric() { sed -n 's/^# metric: \([0-9]*\) .*/\1/p' "$out/$1/$2.full" 2>/dev/null | tail -n 1; }

# tests/expect: what each test must do on each kernel (TEST STOCK CONTROL PATCHED: PASS, FAIL or
# SKIP). A departure is marked in the table ("!") and makes make repro fail.
declare -A want_stock=() want_control=() want_patched=()
while read -r name ws wc wp _; do
	case "$name" in ''|'#'*) continue ;; esac
	want_stock[$name]=$ws want_control[$name]=$wc want_patched[$name]=$wp
done < "$PINWB_TOP/tests/expect"
mark() {	# mark KERNEL TEST: the verdict, with "!" when it departs from tests/expect
	local r w
	r=$(res "$1" "$2")
	case "$1" in
	stock) w=${want_stock[$2]:-} ;;
	control) w=${want_control[$2]:-} ;;
	*) w=${want_patched[$2]:-} ;;
	esac
	if [ -z "$w" ] || [ "${r%% *}" != "$w" ]; then
		echo "$r!"
	else
		echo "$r"
	fi
}

kver() { sed -n 's/^kernel: //p' "$out/$1/guest-info" "$out"/"$1"/*/guest-info 2>/dev/null | head -n 1; }
table=$PINWB_TOP/results/repro$suffix.txt
data=$out/chart.dat
{
	echo "pinwb repro${suffix:+ ($topology)}: $(date -u '+%Y-%m-%d %H:%M UTC'), stock $(kver stock), control $(kver control), patched $(kver patched)"
	echo "commit $(git -C "$PINWB_TOP" rev-parse --short HEAD 2>/dev/null || echo unknown), series $(sed -n 's/^Subject: \[PATCH \(v[0-9]*\).*/\1/p' "$PINWB_TOP/patches/cover-letter.txt"), expectations tests/expect (\"!\": departs from it)"
	printf '%-17s %-10s %-10s %-10s %s\n' TEST STOCK CONTROL PATCHED "WHAT WAS SEEN (last run)"
	for t in "${tests[@]}"; do
		ms=$(mark stock "$t") mc=$(mark control "$t") mp=$(mark patched "$t")
		printf '%-17s %-10s %-10s %-10s stock:   %s\n' "$t" "$ms" "$mc" "$mp" "$(seen stock "$t")"
		printf '%-50s control: %s\n' "" "$(seen control "$t")"
		printf '%-50s patched: %s\n' "" "$(seen patched "$t")"
	done
} > "$table"
: > "$data"
for t in "${tests[@]}"; do
	s=$(metric stock "$t") c=$(metric control "$t") p=$(metric patched "$t")
	[ -n "$s" ] || { [ "$(res stock "$t")" = PASS ] && s=0 || s=1; }
	[ -n "$c" ] || { [ "$(res control "$t")" = PASS ] && c=0 || c=1; }
	[ -n "$p" ] || { [ "$(res patched "$t")" = PASS ] && p=0 || p=1; }
	echo "$t $s $p $c" >> "$data"
done
echo
cat "$table"
if command -v gnuplot >/dev/null; then
	gnuplot <<-GP 2>"$out/gnuplot.err" && echo "chart: results/repro$suffix.png" || echo "gnuplot failed: $(cat "$out/gnuplot.err")"
	set terminal pngcairo size 1000,520 font ",10"
	set termoption noenhanced
	set output "$PINWB_TOP/results/repro$suffix.png"
	set title "pinwb repro: what each test found wrong, Debian stock 6.1, control and patched (0 = nothing)"
	set style data histograms
	set style histogram clustered gap 1
	set style fill solid 0.8 border -1
	set boxwidth 0.9
	set logscale y
	set yrange [0.8:*]
	set ylabel "count + 1, log scale (blocks lost, sectors dirtied, 1 = failed otherwise)"
	set xtics rotate by -30
	set grid ytics
	set key top right
	plot "$data" using (\$2+1):xtic(1) title "stock" lc rgb "#c0392b", \
	     "" using (\$4+1) title "control" lc rgb "#e67e22", \
	     "" using (\$3+1) title "patched" lc rgb "#2e86c1", \
	     "" using (\$0-0.3):(\$2+1):2 with labels offset 0,0.7 notitle, \
	     "" using (\$0):(\$4+1):4 with labels offset 0,0.7 notitle, \
	     "" using (\$0+0.3):(\$3+1):3 with labels offset 0,0.7 notitle
	GP
fi
# Departures from tests/expect (marked "!" in the table) fail make repro.
departures=$(tail -n +4 "$table" | cut -c1-50 | grep -c '!' || true)
if [ "$departures" -gt 0 ]; then
	echo "make repro: $departures result(s) depart from tests/expect (marked \"!\" above)"
	exit 1
fi
echo "make repro: every result as tests/expect says"
