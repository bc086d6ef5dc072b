#!/bin/bash
# make repro: the reproduction tests on Debian's stock kernel, on the control kernel (the same
# source and config as ours, without the series) and on the patched kernel, one VM each, for
# each series (6.1, and 6.12 when its kernels are built: stock-6.12, control-6.12,
# patched-6.12), then a side-by-side table (results/repro.txt) and a chart
# (results/repro.png). Stock is what users run; control against patched is the series' effect
# alone. On stock 6.12 the tests that register writable MRs over file mappings are REFUSED:
# upstream refuses those pins with EFAULT since 6.5.
#
# usage: [RUNS=N] scripts/repro.sh [TEST...]    (default: every test in tests/rdma/TESTS)
# RUNS=N runs each test N times in the same guest; the table then says in how many it failed.
# TOPOLOGY=2node: the tests of tests/rdma/TESTS.2node with the writer in a second guest;
# results/repro-2node{,.txt,.png}.
# FS=xfs: the tests of tests/rdma/TESTS.xfs on XFS (issue 21), against tests/expect.xfs, on
# Debian's stock 6.1 (its XFS module) and the 6.12 kernels; the rig's own 6.1 kernels are built
# without XFS (the 6.1 series has no XFS opt-in). results/repro-xfs{,.txt,.png}.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

topology=${TOPOLOGY:-1node} fs=${FS:-ext4} list=$PINWB_TOP/tests/rdma/TESTS suffix=
expect=$PINWB_TOP/tests/expect
case "$topology" in
1node) ;;
2node) list=$PINWB_TOP/tests/rdma/TESTS.2node suffix=-2node ;;
*) die "repro.sh: TOPOLOGY must be 1node or 2node, not '$topology'" ;;
esac
case "$fs" in
ext4) ;;
xfs) [ "$topology" = 1node ] || die "repro.sh: FS=xfs runs in the one-node topology only"
     list=$PINWB_TOP/tests/rdma/TESTS.xfs suffix=-xfs expect=$PINWB_TOP/tests/expect.xfs ;;
*) die "repro.sh: FS must be ext4 or xfs, not '$fs'" ;;
esac
out=$PINWB_TOP/results/repro$suffix
tests=("$@")
# The kernels, in the order of tests/expect's columns: NAME SERIES KERNEL. A 6.12 kernel that
# is not built is left out (make repro builds all of them; REPRO_SERIES=6.1 runs only 6.1's).
kernels=() all=()
for s in 6.1 6.12; do
	for k in stock control patched; do
		name=$k; [ "$s" = 6.1 ] || name=$k-$s
		all+=("$name $s $k")
		[ "$fs" = xfs ] && [ "$s" = 6.1 ] && [ "$k" != stock ] && continue	# no XFS in them
		[[ " ${REPRO_SERIES:-6.1 6.12} " == *" $s "* ]] && kernels+=("$name $s $k")
	done
done
kernel_ready() {	# SERIES KERNEL: is that kernel built?
	local b
	b=$PINWB_TOP/build$(series_dir "$1")
	case "$2" in
	stock) [ -f "$b/stock/vmlinuz" ] ;;
	control) [ -f "$b/control/bzImage" ] &&
		{ [ "$fs" != xfs ] || { grep -q '^CONFIG_XFS_FS=y' "$b/control/src/.config" 2>/dev/null &&
			[ "$b/control/bzImage" -nt "$b/control/src/.config" ]; }; } ;;
	patched) [ -f "$b/bzImage" ] ;;
	esac
}
[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(grep -v -e '^#' -e '^[[:space:]]*$' "$list" | awk '{print $1}')

# REPORT_ONLY=1 redraws the table and chart from the last run's results.
if [ "${REPORT_ONLY:-0}" != 1 ]; then
	rm -rf "$out"; mkdir -p "$out"
	for kk in "${kernels[@]}"; do
		read -r name s k <<< "$kk"
		if ! kernel_ready "$s" "$k"; then
			echo "== $name kernel: not built$([ "$fs" = xfs ] && [ "$k" != stock ] && echo " with XFS") (make $k SERIES=$s builds it) =="
			continue
		fi
		echo "== $name kernel =="
		SERIES=$s PINWB_BUILD='' PINWB_REPEAT=${RUNS:-1} "$PINWB_TOP/scripts/check.sh" --kernel "$k" --topology "$topology" --fs "$fs" --results "$out/$name" "${tests[@]}" | tail -n +2
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

# tests/expect: what each test must do on each kernel (TEST and one column per kernel, in the
# order of "kernels" above: PASS, FAIL, SKIP or REFUSED). A departure is marked in the table
# ("!") and makes make repro fail.
declare -A want=()
while read -r name rest; do
	case "$name" in ''|'#'*) continue ;; esac
	i=0
	for w in $rest; do
		[ $i -lt ${#all[@]} ] || break
		want[$name/${all[$i]%% *}]=$w
		i=$((i + 1))
	done
done < "$expect"
mark() {	# mark KERNEL TEST: the verdict, with "!" when it departs from tests/expect
	local r w
	r=$(res "$1" "$2")
	w=${want[$2/$1]:-}
	if [ -z "$w" ] || [ "${r%% *}" != "$w" ]; then
		echo "$r!"
	else
		echo "$r"
	fi
}

kver() { sed -n 's/^kernel: //p' "$out/$1/guest-info" "$out"/"$1"/*/guest-info 2>/dev/null | head -n 1; }
# The columns: the kernels that have results. A kernel of the run without results (not built)
# is named under the table: its column of tests/expect was not checked.
cols=() missing=()
for kk in "${kernels[@]}"; do
	name=${kk%% *}
	if [ -d "$out/$name" ]; then cols+=("$name"); else missing+=("$name"); fi
done
[ ${#cols[@]} -gt 0 ] || die "no results in ${out#"$PINWB_TOP"/}: run make repro"
table=$PINWB_TOP/results/repro$suffix.txt
data=$out/chart.dat
{
	echo "pinwb repro${suffix:+ (${suffix#-})}: $(date -u '+%Y-%m-%d %H:%M UTC')"
	for c in "${cols[@]}"; do echo "  $c: $(kver "$c")"; done
	echo "commit $(git -C "$PINWB_TOP" rev-parse --short HEAD 2>/dev/null || echo unknown), series $(for sd in "$PINWB_TOP"/patches/*/; do printf '%s %s ' "$(basename "$sd")" "$(sed -n 's/^Subject: \[PATCH \(v[0-9]*\).*/\1/p' "$sd/cover-letter.txt" 2>/dev/null)"; done), expectations ${expect#"$PINWB_TOP"/} (\"!\": departs from it)"
	printf '%-17s' TEST; for c in "${cols[@]}"; do printf ' %-13s' "${c^^}"; done; echo " WHAT WAS SEEN (last run)"
	for t in "${tests[@]}"; do
		printf '%-17s' "$t"; for c in "${cols[@]}"; do printf ' %-13s' "$(mark "$c" "$t")"; done; echo
		for c in "${cols[@]}"; do printf '%-17s %-13s %s\n' "" "$c:" "$(seen "$c" "$t")"; done
	done
	for m in "${missing[@]}"; do
		echo "($m kernel: no results (not built$([ "$fs" = xfs ] && [ "${m%%-*}" != stock ] && echo " with XFS"), so not run); its column of ${expect#"$PINWB_TOP"/} was not checked)"
	done
} > "$table"
: > "$data"
for t in "${tests[@]}"; do
	line=$t
	for c in "${cols[@]}"; do
		v=$(metric "$c" "$t")
		[ -n "$v" ] || { [ "$(res "$c" "$t")" = PASS ] && v=0 || v=1; }
		line+=" $v"
	done
	echo "$line" >> "$data"
done
echo
cat "$table"
if command -v gnuplot >/dev/null; then
	plot='' i=0
	colors=("#c0392b" "#e67e22" "#2e86c1" "#8e44ad" "#d4ac0d" "#17a589")
	for c in "${cols[@]}"; do
		plot+="${plot:+, }\"$data\" using (\$$((i + 2))+1)$([ $i = 0 ] && echo ':xtic(1)') title \"$c\" lc rgb \"${colors[$i]}\""
		i=$((i + 1))
	done
	gnuplot <<-GP 2>"$out/gnuplot.err" && echo "chart: results/repro$suffix.png" || echo "gnuplot failed: $(cat "$out/gnuplot.err")"
	set terminal pngcairo size 1200,560 font ",10"
	set termoption noenhanced
	set output "$PINWB_TOP/results/repro$suffix.png"
	set title "pinwb repro: what each test found wrong on each kernel (0 = nothing; REFUSED and other failures = 1)"
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
	plot $plot
	GP
fi
# Departures from tests/expect (marked "!" in the table) fail make repro.
departures=$(grep -E '^[^ (]' "$table" | tail -n +4 | grep -o '!' | wc -l)
if [ "$departures" -gt 0 ]; then
	echo "make repro: $departures result(s) depart from ${expect#"$PINWB_TOP"/} (marked \"!\" above)"
	exit 1
fi
echo "make repro: every result as ${expect#"$PINWB_TOP"/} says"
