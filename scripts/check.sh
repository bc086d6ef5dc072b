#!/bin/bash
# Boot one kernel, run tests/rdma in it and report: one line per test, results/<kernel>/ with
# each test's output and dmesg slice, the console log and junit.xml, and the closing line
# "N passed, N failed, N skipped".
#
# usage: scripts/check.sh [--kernel patched|stock] [--topology 1node|2node] [--xfail FILE]
#                         [--results DIR] [--host DIR] [TEST...]
# --host DIR: fold in the host-side tests' results (scripts/check-host.sh) ahead of the guest's.
# With --xfail, a failing test listed there is XFAIL and a passing one XPASS (a failure).
# --topology 2node runs the tests of tests/rdma/TESTS.2node with the RDMA writer in a second
# guest (scripts/vm/pair.sh); results then go to results/<kernel>-2node by default.
# Exit status: 0 if nothing failed and nothing passed unexpectedly.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$PINWB_TOP/tests/rules.sh"

kernel=patched xfail= results= hostdir= topology=${TOPOLOGY:-1node}
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--topology) topology=$2; shift 2 ;;
	--xfail) xfail=$2; shift 2 ;;
	--results) results=$2; shift 2 ;;
	--host) hostdir=$2; shift 2 ;;
	*) break ;;
	esac
done
case "$topology" in
1node) list=$PINWB_TOP/tests/rdma/TESTS vm=run.sh suffix= ;;
2node) list=$PINWB_TOP/tests/rdma/TESTS.2node vm=pair.sh suffix=-2node ;;
*) die "check.sh: --topology must be 1node or 2node, not '$topology'" ;;
esac
results=${results:-$PINWB_TOP/results/$kernel$suffix}
rm -rf "$results"; mkdir -p "$results"

tests=("$@")
[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(grep -v -e '^#' -e '^[[:space:]]*$' "$list" | awk '{print $1}')
vm_timeout=${VM_TIMEOUT:-$(( 120 + ${#tests[@]} * ${PINWB_REPEAT:-1} * ${PINWB_TEST_TIMEOUT:-300} ))}

# Tests with a host side (tests/rdma/NAME.host: the guest is killed, the disk read after) get a
# guest of their own; all others share one guest.
# In the two-node topology only the tests of TESTS.2node have a remote writer.
guest_tests=() host_tests=()
for t in "${tests[@]}"; do
	if [ "$topology" = 2node ] && ! grep -q "^$t\b" "$list"; then
		echo "$t|fail|0|no two-node mode (not in tests/rdma/TESTS.2node)" > "$results/$t.result"
	elif [ -x "$PINWB_TOP/tests/rdma/$t.host" ]; then host_tests+=("$t")
	else guest_tests+=("$t")
	fi
done

start=$(date +%s)
vmrc=0
if [ ${#guest_tests[@]} -gt 0 ]; then
	# The guest does not inherit our environment: pass on the knobs the tests read.
	genv=()
	for v in PINWB_REPEAT PINWB_TEST_TIMEOUT STABLE_SECONDS PERFTEST_SECONDS; do
		[ -n "${!v:-}" ] && genv+=("$v=${!v}")
	done
	VM_TIMEOUT=$vm_timeout "$PINWB_TOP/scripts/vm/$vm" --kernel "$kernel" --results "$results" \
		-- env "${genv[@]}" "$PINWB_TOP/tests/guest-run.sh" "${guest_tests[@]}" > "$results/vm.out" 2>&1
	vmrc=$?
	if [ $vmrc = 125 ]; then cat "$results/vm.out" >&2; fi
fi
# The writer's guest obeys the kernel-log rule too: a splat there fails the tests it served,
# and so does a writer that never got as far as checking its log.
if [ "$topology" = 2node ] && [ ${#guest_tests[@]} -gt 0 ]; then
	why=
	if [ ! -f "$results/peer/splats" ]; then
		why="the writer's guest stopped before checking its kernel log (see ${results#"$PINWB_TOP"/}/peer/console.log)"
	elif [ -s "$results/peer/splats" ]; then
		why="writer guest's kernel log: $(head -n 1 "$results/peer/splats" | sed 's/^\[[^]]*\] //')"
	fi
	if [ -n "$why" ]; then
		for t in "${guest_tests[@]}"; do
			[ -f "$results/$t.result" ] || continue
			IFS='|' read -r _ res secs reason < "$results/$t.result"
			echo "$t|fail|$secs|$why${reason:+; $reason}" > "$results/$t.result"
		done
	fi
	echo "writer guest: exit $(cat "$results/peer/rc" 2>/dev/null || echo none); $(tail -n 1 "$results/peer/cmd.out" 2>/dev/null)" > "$results/peer/summary"
fi
# The end-of-run sweep: every guest's whole console log, boot to poweroff (settle periods, the
# time between tests and the rxe teardown included), against the kernel-log rule. A splat inside
# a test's window already failed that test; this catches the rest.
if [ ${#guest_tests[@]} -gt 0 ]; then
	logs=("$results/console.log")
	[ "$topology" = 2node ] && logs+=("$results/peer/console.log")
	hits= missing=
	for l in "${logs[@]}"; do
		if [ ! -s "$l" ]; then missing+=" ${l#"$PINWB_TOP"/}"; continue; fi
		hits+=$(grep -a -E "$PINWB_SPLAT_RE" "$l" | head -n 3 | sed "s|^|${l#"$results"/}: |")
	done
	if [ -n "$missing" ]; then
		echo "kernel-log|fail|0|no console log to sweep:$missing" > "$results/kernel-log.result"
	elif [ -n "$hits" ]; then
		echo "kernel-log|fail|0|$(echo "$hits" | head -n 1 | tr -d '\r|')" > "$results/kernel-log.result"
	else
		echo "kernel-log|pass|0|whole console log of ${#logs[@]} guest(s), boot to poweroff: no report" > "$results/kernel-log.result"
	fi
	tests+=(kernel-log)
fi
for t in "${host_tests[@]}"; do
	"$PINWB_TOP/tests/rdma/$t.host" "$kernel" "$results"
done
total=$(( $(date +%s) - start ))

# The host-side tests ran before the guest (make check-host); their results join the table.
if [ -n "$hostdir" ]; then
	htests=()
	for r in "$hostdir"/*.result; do
		[ -f "$r" ] || continue
		h=$(basename "$r" .result)
		cp "$r" "$hostdir/$h.full" "$results/" 2>/dev/null
		htests+=("$h")
	done
	[ ${#htests[@]} -gt 0 ] || { echo "host-tests|fail|0|no host-side test results in $hostdir (make check-host)" > "$results/host-tests.result"; htests=(host-tests); }
	tests=("${htests[@]}" "${tests[@]}")
fi

declare -A xf=()
if [ -n "$xfail" ]; then
	while read -r name issue rest; do
		case "$name" in ''|'#'*) continue ;; esac
		xf[$name]="issue $issue${rest:+: $rest}"
	done < "$xfail"
fi

pass=0 fail=0 skip=0 nxfail=0 xpass=0
junit=$results/junit.xml
cases=
printf '%-16s %-6s %7s  %s\n' TEST RESULT SECONDS DETAIL
for t in "${tests[@]}"; do
	if [ -f "$results/$t.result" ]; then
		IFS='|' read -r _ res secs reason < "$results/$t.result"
	else
		res=fail secs=0 reason="no result: the guest stopped before this test (see $results/console.log)"
	fi
	shown=${res^^}
	if [ -n "${xf[$t]+x}" ]; then
		case $res in
		fail) shown=XFAIL; reason="expected failure (${xf[$t]})${reason:+: $reason}" ;;
		pass) shown=XPASS; reason="passed but listed in ${xfail#"$PINWB_TOP"/} (${xf[$t]}): take it off the list" ;;
		esac
	fi
	case $shown in
	PASS) pass=$((pass + 1)) ;;
	SKIP|XFAIL) skip=$((skip + 1)); [ "$shown" = XFAIL ] && nxfail=$((nxfail + 1)) ;;
	*) fail=$((fail + 1)); [ "$shown" = XPASS ] && xpass=$((xpass + 1)) ;;
	esac
	printf '%-16s %-6s %7s  %s\n' "$t" "$shown" "$secs" "$reason"
	esc=$(printf '%s' "$reason" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g')
	cases+="  <testcase classname=\"pinwb.$kernel\" name=\"$t\" time=\"$secs\">"
	case $shown in
	PASS) ;;
	SKIP|XFAIL) cases+="<skipped message=\"$shown: $esc\"/>" ;;
	*) cases+="<failure message=\"$shown: $esc\"><![CDATA[$(tail -n 40 "$results/$t.full" 2>/dev/null | sed 's/]]>/]] >/g')]]></failure>" ;;
	esac
	cases+="</testcase>"$'\n'
done
{
	echo '<?xml version="1.0" encoding="UTF-8"?>'
	echo "<testsuite name=\"pinwb-$kernel\" tests=\"${#tests[@]}\" failures=\"$fail\" skipped=\"$skip\" time=\"$total\">"
	printf '%s' "$cases"
	echo '</testsuite>'
} > "$junit"
echo "kernel: $(sed -n 's/^kernel: //p' "$results"/guest-info "$results"/*/guest-info 2>/dev/null | head -n 1) ($kernel${suffix:+, two guests}); VM ${total}s; results in ${results#"$PINWB_TOP"/}/"
[ -f "$results/peer/summary" ] && cat "$results/peer/summary"
[ $nxfail -gt 0 ] && echo "($nxfail of the skipped are XFAIL: known bugs, each naming the issue that fixes it)"
[ $xpass -gt 0 ] && echo "($xpass XPASS counted as failed: a test on the expected-failure list passed)"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ] && [ $vmrc != 125 ]
