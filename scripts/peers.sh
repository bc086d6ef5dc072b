#!/bin/bash
# make peers: rdma-core's own test suite (version 44, Debian's) against rxe0 on Debian's stock
# kernel and on the patched kernel, one guest each, and a comparison: every test that passes
# on stock must pass on patched, and neither kernel may log a splat or leak pins.
#
# usage: scripts/peers.sh [stock|patched]...     (default: both; results in results/peers/)
# The suite is rdma-core's tests/ directory as python3-pyverbs ships it
# (/usr/share/doc/rdma-core/tests, some files gzipped): it is staged in build/peers/suite.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

want=44.0-2
doc=/usr/share/doc/rdma-core/tests
out=$PINWB_RESULTS/peers
suite=$PINWB_BUILD/peers/suite
kernels=("$@"); [ ${#kernels[@]} -gt 0 ] || kernels=(stock patched)

have=$(dpkg-query -W -f='${Version}' python3-pyverbs 2>/dev/null) ||
	die "python3-pyverbs is not installed (make peers installs it: scripts/deps.sh peers)"
[ "$have" = "$want" ] || die "python3-pyverbs is $have, not $want: the suite must match rdma-core 44 (apt-get install python3-pyverbs=$want)"
[ -f "$doc/run_tests.py" ] || die "$doc/run_tests.py is missing: python3-pyverbs $have ships no test suite here (dpkg -L python3-pyverbs)"

rm -rf "$suite"; mkdir -p "$suite"
cp -a "$doc/." "$suite/"
gunzip -f "$suite"/*.gz
echo "rdma-core tests from python3-pyverbs $have: $(find "$suite" -maxdepth 1 -name 'test_*.py' | wc -l) modules" > "$suite/.origin"

mkdir -p "$out"
for k in "${kernels[@]}"; do
	echo "== rdma-core $want tests on the $k kernel =="
	rm -rf "${out:?}/$k"; mkdir -p "$out/$k"
	VM_TIMEOUT=${PEERS_VM_TIMEOUT:-3600} "$PINWB_TOP/scripts/vm/run.sh" --kernel "$k" --results "$out/$k" \
		-- env PEERS_TEST_TIMEOUT="${PEERS_TEST_TIMEOUT:-180}" "$PINWB_TOP/tests/peers/guest.sh" "$suite" \
		> "$out/$k/vm.out" 2>&1
	echo "$k: guest exit $? after $(cat "$out/$k/vm-seconds" 2>/dev/null || echo ?) s (VM); suite $(cat "$out/$k/peers.seconds" 2>/dev/null || echo ?) s"
done

# counts KERNEL: "N pass, N skip, N fail, N error" from its TSV.
counts() {
	local f=$out/$1/peers.tsv
	[ -s "$f" ] || { echo "no results (see $out/$1/vm.out and console.log)"; return; }
	awk -F'\t' '{n[$2]++} END {printf "%d pass, %d skip, %d fail, %d error", n["pass"], n["skip"], n["fail"], n["error"];
		if (n["xfail"] + n["xpass"]) printf ", %d xfail, %d xpass", n["xfail"], n["xpass"]; printf " (%d cases)", NR}' "$f"
}

report=$PINWB_RESULTS/peers.txt
bad=0
{
	echo "pinwb peers: rdma-core $want tests (python3-pyverbs) on rxe0, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$PINWB_TOP" rev-parse --short HEAD 2>/dev/null || echo unknown), series $(sed -n 's/^Subject: \[PATCH \(v[0-9]*\).*/\1/p' "$PINWB_PATCHES/cover-letter.txt")"
	for k in "${kernels[@]}"; do
		printf '%-8s %s\n' "$k:" "$(counts "$k")"
		printf '%-8s kernel %s; splat lines: %s; %s\n' "" \
			"$(sed -n 's/^kernel: //p' "$out/$k/guest-info" 2>/dev/null)" \
			"$(wc -l < "$out/$k/peers.splats" 2>/dev/null || echo 0)" "$(cat "$out/$k/peers.pins" 2>/dev/null)"
	done
	if [ -s "$out/stock/peers.tsv" ] && [ -s "$out/patched/peers.tsv" ]; then
		echo
		echo "passed on stock, not on patched:"
		join -t $'\t' <(awk -F'\t' '$2=="pass"{print $1}' "$out/stock/peers.tsv" | sort) \
			<(awk -F'\t' '{print $1 "\t" $2 "\t" $4}' "$out/patched/peers.tsv" | sort) |
			awk -F'\t' '$2!="pass"{print "  " $1 ": " $2 " " $3; n++} END{if (!n) print "  none"}'
		comm -23 <(awk -F'\t' '$2=="pass"{print $1}' "$out/stock/peers.tsv" | sort) \
			<(cut -f1 "$out/patched/peers.tsv" | sort) | sed 's/^/  (not run on patched) /'
		echo "passed on patched, not on stock:"
		join -t $'\t' <(awk -F'\t' '$2=="pass"{print $1}' "$out/patched/peers.tsv" | sort) \
			<(awk -F'\t' '{print $1 "\t" $2 "\t" $4}' "$out/stock/peers.tsv" | sort) |
			awk -F'\t' '$2!="pass"{print "  " $1 ": " $2 " " $3; n++} END{if (!n) print "  none"}'
	fi
	for k in "${kernels[@]}"; do
		[ -s "$out/$k/peers.tsv" ] || continue
		echo
		echo "$k: skipped, by reason:"
		awk -F'\t' '$2=="skip"{print $4}' "$out/$k/peers.tsv" | sort | uniq -c | sort -rn | sed 's/^ */  /'
		echo "$k: failed or in error:"
		awk -F'\t' '$2=="fail"||$2=="error"{print "  " $1 ": " $2 " " $4; n++} END{if (!n) print "  none"}' "$out/$k/peers.tsv"
	done
} > "$report"
cat "$report"

for k in "${kernels[@]}"; do
	[ -s "$out/$k/peers.tsv" ] || { echo "pinwb: peers: no results from the $k kernel" >&2; bad=1; }
	[ -s "$out/$k/peers.splats" ] && { echo "pinwb: peers: the $k kernel logged: $(head -n 1 "$out/$k/peers.splats")" >&2; bad=1; }
	acq='' rel=''
	[ -f "$out/$k/peers.pins" ] && read -r _ acq _ rel < "$out/$k/peers.pins"
	if [ -z "$acq" ] || [ "$acq" != "$rel" ]; then echo "pinwb: peers: pins unbalanced on $k: $(cat "$out/$k/peers.pins" 2>/dev/null)" >&2; bad=1; fi
done
if [ -s "$out/stock/peers.tsv" ] && [ -s "$out/patched/peers.tsv" ]; then
	sed -n '/^passed on stock, not on patched:/,/^passed on patched/p' "$report" | grep -q '^  [^n]' && {
		echo "pinwb: peers: tests that pass on stock fail on patched (above)" >&2; bad=1; }
fi
echo "report: ${report#"$PINWB_TOP"/}"
exit $bad
