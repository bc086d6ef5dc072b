#!/bin/bash
# Boot one kernel, run tests/rdma in it and report: one line per test, results/<kernel>/ with
# each test's output and dmesg slice, the console log and junit.xml, and the closing line
# "N passed, N failed, N skipped".
#
# usage: scripts/check.sh [--kernel patched|stock|control|deb|PATH] [--topology 1node|2node]
#                         [--fs ext4|xfs] [--xfail FILE] [--results DIR] [--host DIR] [TEST...]
# --host DIR (repeatable): fold in results made outside this guest (scripts/check-host.sh,
# scripts/check-meta.sh) ahead of the guest's.
# With --xfail, a failing test listed there is XFAIL if its failure matches the stated one, and a
# passing one XPASS (a failure). Every SKIP, of a whole test or of a subtest ("ok N # SKIP ..."),
# must be listed in tests/skip.list for this kernel with a matching message, or it fails the test.
# --topology 2node runs the tests of tests/rdma/TESTS.2node with the RDMA writer in a second
# guest (scripts/vm/pair.sh); results then go to results/<kernel>-2node by default.
# --fs xfs (make check FS=xfs) runs the tests of tests/rdma/TESTS.xfs on XFS instead of ext4 (the guest's
# PINWB_FS); results then go to results/<kernel>-xfs by default.
# Exit status: 0 if nothing failed and nothing passed unexpectedly.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$PINWB_TOP/tests/rules.sh"

kernel=patched xfail='' results='' hostdirs=() topology=${TOPOLOGY:-1node} fs=ext4
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--topology) topology=$2; shift 2 ;;
	--fs) fs=$2; shift 2 ;;
	--xfail) xfail=$2; shift 2 ;;
	--results) results=$2; shift 2 ;;
	--host) hostdirs+=("$2"); shift 2 ;;
	*) break ;;
	esac
done
case "$topology" in
1node) list=$PINWB_TOP/tests/rdma/TESTS vm=run.sh suffix= ;;
2node) list=$PINWB_TOP/tests/rdma/TESTS.2node vm=pair.sh suffix=-2node ;;
*) die "check.sh: --topology must be 1node or 2node, not '$topology'" ;;
esac
case "$fs" in
ext4) ;;
xfs) [ "$topology" = 1node ] || die "check.sh: --fs xfs runs in the one-node topology only"
     [ "$PINWB_SERIES" != 6.1 ] || [ "$kernel" = stock ] ||
	die "check.sh: --fs xfs on 6.1 runs on Debian's stock kernel only (--kernel stock): the 6.1 series has no XFS opt-in and the rig's 6.1 kernels are built without XFS; the XFS opt-in is in SERIES=6.12 (issue 21)"
     list=$PINWB_TOP/tests/rdma/TESTS.xfs suffix=-xfs ;;
*) die "check.sh: --fs must be ext4 or xfs, not '$fs'" ;;
esac
results=${results:-$PINWB_RESULTS/$kernel$suffix}
rm -rf "$results"; mkdir -p "$results"

# GROUP=quick|slow: only the tests of that group (tests/rdma/TESTS, second column).
tests=("$@")
if [ ${#tests[@]} = 0 ]; then
	case "${GROUP:-}" in ''|quick|slow) ;; *) die "GROUP must be quick or slow, not '$GROUP'" ;; esac
	mapfile -t tests < <(grep -v -e '^#' -e '^[[:space:]]*$' "$list" | awk '{print $1}')
	if [ -n "${GROUP:-}" ]; then
		mapfile -t tests < <(for t in "${tests[@]}"; do
			tests_meta "$t" | awk -v t="$t" -v g="$GROUP" '$1 == g { print t }'; done)
		[ ${#tests[@]} -gt 0 ] || die "GROUP=$GROUP selects no test of ${list#"$PINWB_TOP"/}"
	fi
fi
# The guest may take the sum of its tests' timeouts (tests/rdma/TESTS) and 30 s of the runner's
# own work per test (mkfs, pin settling, the kill grace), plus two minutes to boot.
tsum=0
for t in "${tests[@]}"; do
	to=$(tests_meta "$t" | awk '{ print $2 }')
	tsum=$(( tsum + ${PINWB_TEST_TIMEOUT:-${to:-300}} + 30 ))
done
vm_timeout=${VM_TIMEOUT:-$(( 120 + tsum * ${PINWB_REPEAT:-1} ))}

# Tests with a host side (tests/rdma/NAME.host: the guest is killed, the disk read after) get a
# guest of their own; all others share one guest.
# In the two-node topology only the tests of TESTS.2node have a remote writer.
guest_tests=() host_tests=()
for t in "${tests[@]}"; do
	if [ "$topology" = 2node ] && ! grep -q "^$t\b" "$list"; then
		echo "$t|fail|0|no two-node mode (not in tests/rdma/TESTS.2node)" > "$results/$t.result"
	elif [ "$fs" = xfs ] && ! grep -q "^$t\b" "$list"; then
		echo "$t|fail|0|not run on XFS (not in tests/rdma/TESTS.xfs)" > "$results/$t.result"
	elif [ -x "$PINWB_TOP/tests/rdma/$t.host" ]; then host_tests+=("$t")
	else guest_tests+=("$t")
	fi
done

start=$(date +%s)
vmrc=0
if [ ${#guest_tests[@]} -gt 0 ]; then
	# The guest does not inherit our environment: pass on the knobs the tests read.
	genv=()
	for v in PINWB_REPEAT PINWB_TEST_TIMEOUT STABLE_SECONDS PERFTEST_SECONDS PINWB_TESTDIR PINWB_MEMPRESSURE_STUCK; do
		[ -n "${!v:-}" ] && genv+=("$v=${!v}")
	done
	genv+=("PINWB_FS=$fs")
	# PINWB_GUEST_EPILOGUE: a command run in the guest after the tests (scripts/check-meta.sh).
	gcmd=("$PINWB_TOP/tests/guest-run.sh" "${guest_tests[@]}")
	[ -n "${PINWB_GUEST_EPILOGUE:-}" ] && gcmd=(bash -c "\"\$@\"; $PINWB_GUEST_EPILOGUE" guest "${gcmd[@]}")
	VM_TIMEOUT=$vm_timeout "$PINWB_TOP/scripts/vm/$vm" --kernel "$kernel" --results "$results" \
		-- env "${genv[@]}" "${gcmd[@]}" > "$results/vm.out" 2>&1
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
	hits='' missing=''
	for l in "${logs[@]}"; do
		if [ ! -s "$l" ]; then missing+=" ${l#"$PINWB_TOP"/}"; continue; fi
		# Kernel lines only (printk's timestamp): the runner's own output echoes reports too.
		hits+=$(console_reports "$l")$'\n'
	done
	hits=$(grep -v '^$' <<< "$hits")
	# Reports outside every test's window (boot, settle periods, between tests, teardown) are
	# the sweep's own finding; those inside a window already failed their test.
	outside=$(grep -v -x -F -f <(cat "$results"/*.dmesg 2>/dev/null | tr -d '\r' | grep -v '^$') <<< "$hits")
	if [ -n "$missing" ]; then
		echo "kernel-log|fail|0|no console log to sweep:$missing" > "$results/kernel-log.result"
	elif [ -n "$outside" ]; then
		echo "kernel-log|fail|0|$(grep -c . <<< "$outside") report line(s) outside any test's window, first: $(head -n 1 <<< "$outside" | tr -d '|')" > "$results/kernel-log.result"
	elif [ -n "$hits" ]; then
		echo "kernel-log|fail|0|$(grep -c . <<< "$hits") report line(s), all inside the windows of tests that failed for them" > "$results/kernel-log.result"
	else
		echo "kernel-log|pass|0|whole console log of ${#logs[@]} guest(s), boot to poweroff: no report" > "$results/kernel-log.result"
	fi
	tests+=(kernel-log)
fi
for t in "${host_tests[@]}"; do
	PINWB_FS=$fs "$PINWB_TOP/tests/rdma/$t.host" "$kernel" "$results"
done
total=$(( $(date +%s) - start ))

# The host-side tests ran before the guest (make check-host); their results join the table.
for hostdir in "${hostdirs[@]}"; do
	htests=()
	for r in "$hostdir"/*.result; do
		[ -f "$r" ] || continue
		h=$(basename "$r" .result)
		cp "$r" "$hostdir/$h.full" "$results/" 2>/dev/null
		htests+=("$h")
	done
	[ ${#htests[@]} -gt 0 ] || { h=host-${hostdir##*/}; echo "$h|fail|0|no results in ${hostdir#"$PINWB_TOP"/}" > "$results/$h.result"; htests=("$h"); }
	tests=("${htests[@]}" "${tests[@]}")
done

# tests/xfail.list: TEST ISSUE "REGEX" WHY - the failure must match REGEX (the reason shown).
declare -A xf=() xfre=()
if [ -n "$xfail" ]; then
	while IFS= read -r line; do
		case "$line" in ''|'#'*) continue ;; esac
		[[ $line =~ ^([^[:space:]]+)[[:space:]]+([^[:space:]]+)[[:space:]]+\"([^\"]*)\"[[:space:]]*(.*)$ ]] ||
			die "$xfail: '$line' is not TEST ISSUE \"REGEX\" WHY"
		xf[${BASH_REMATCH[1]}]="issue ${BASH_REMATCH[2]}${BASH_REMATCH[4]:+: ${BASH_REMATCH[4]}}"
		xfre[${BASH_REMATCH[1]}]=${BASH_REMATCH[3]}
	done < "$xfail"
fi

# tests/skip.list: TEST KERNEL ISSUE "REGEX" WHY - KERNEL is stock, control (the same source and
# config without the series), patched (any kernel with the series, mutants included), deb (make
# deb's packages: the series with Debian's config; the patched lines hold for it too), a
# comma-separated list of those, or any; every SKIP message of TEST on this kernel must match a REGEX.
kclass=patched
case "$kernel" in stock|control|deb) kclass=$kernel ;; esac
skiplist=${SKIP_LIST:-$PINWB_TOP/tests/skip.list}
declare -A skre=()
if [ -f "$skiplist" ]; then
	while IFS= read -r line; do
		case "$line" in ''|'#'*) continue ;; esac
		[[ $line =~ ^([^[:space:]]+)[[:space:]]+([^[:space:]]+)[[:space:]]+([^[:space:]]+)[[:space:]]+\"([^\"]*)\"[[:space:]]*(.*)$ ]] ||
			die "$skiplist: '$line' is not TEST KERNEL ISSUE \"REGEX\" WHY"
		[ -n "${BASH_REMATCH[4]}" ] || die "$skiplist: '$line' has an empty REGEX (it would allow every skip)"
		[ "${BASH_REMATCH[2]}" = any ] || [[ ,${BASH_REMATCH[2]}, == *,$kclass,* ]] ||
			{ [ "$kclass" = deb ] && [[ ,${BASH_REMATCH[2]}, == *,patched,* ]]; } || continue
		t=${BASH_REMATCH[1]}
		skre[$t]+="${skre[$t]:+|}${BASH_REMATCH[4]}"
	done < "$skiplist"
fi
# skips_of TEST: the SKIP messages in its output, one per line.
skips_of() {
	sed -n -e 's/^ok [0-9]* # SKIP //p' -e 's/^# SKIP //p' "$results/$1.full" 2>/dev/null | sort -u
}

pass=0 fail=0 skip=0 nxfail=0 xpass=0
junit=$results/junit.xml ktap=$results/ktap.txt
cases='' n=0
# One KTAP stream for the run (next to junit.xml): each test's own KTAP output nested under it.
{ echo "KTAP version 1"; echo "# pinwb on the $kernel kernel"; echo "1..${#tests[@]}"; } > "$ktap"
printf '%-16s %-6s %7s  %s\n' TEST RESULT SECONDS DETAIL
for t in "${tests[@]}"; do
	if [ -f "$results/$t.result" ]; then
		IFS='|' read -r _ res secs reason < "$results/$t.result"
	else
		res=fail secs=0 reason="no result: the guest stopped before this test (see $results/console.log)"
	fi
	# Skips: each must be expected on this kernel (tests/skip.list), or the test fails.
	nsk=0 unexp=
	while IFS= read -r m; do
		[ -n "$m" ] || continue
		nsk=$((nsk + 1))
		if [ -z "${skre[$t]:-}" ] || ! grep -qE -- "${skre[$t]}" <<< "$m"; then
			unexp=${unexp:-$m}
		fi
	done < <(skips_of "$t")
	if [ "$res" = skip ] && [ $nsk = 0 ]; then
		nsk=1; [ -n "${skre[$t]:-}" ] && grep -qE -- "${skre[$t]}" <<< "$reason" || unexp=${reason:-no reason given}
	fi
	if [ -n "$unexp" ] && [ "$res" != fail ]; then
		res=fail reason="unexpected skip on $kclass (not in ${skiplist#"$PINWB_TOP"/}): $unexp"
	elif [ $nsk -gt 0 ] && [ "$res" = pass ]; then
		reason="${reason:+$reason; }$nsk expected skip(s) (${skiplist#"$PINWB_TOP"/})"
	fi
	shown=${res^^}
	if [ -n "${xf[$t]+x}" ]; then
		case $res in
		fail)
			if grep -qE -- "${xfre[$t]}" <<< "$reason"; then
				shown=XFAIL; reason="expected failure (${xf[$t]})${reason:+: $reason}"
			else
				reason="failed, but not as ${xfail#"$PINWB_TOP"/} expects (/${xfre[$t]}/): $reason"
			fi ;;
		pass) shown=XPASS; reason="passed but listed in ${xfail#"$PINWB_TOP"/} (${xf[$t]}): take it off the list" ;;
		esac
	fi
	echo "$t|$shown|$secs|$reason" > "$results/$t.verdict"
	case $shown in
	PASS) pass=$((pass + 1)) ;;
	SKIP|XFAIL) skip=$((skip + 1)); [ "$shown" = XFAIL ] && nxfail=$((nxfail + 1)) ;;
	*) fail=$((fail + 1)); [ "$shown" = XPASS ] && xpass=$((xpass + 1)) ;;
	esac
	printf '%-16s %-6s %7s  %s\n' "$t" "$shown" "$secs" "$reason"
	n=$((n + 1))
	{
		sed -n '/^KTAP version/,$p' "$results/$t.full" 2>/dev/null | sed 's/^/    /'
		case $shown in
		PASS) echo "ok $n $t" ;;
		SKIP|XFAIL) echo "ok $n $t # SKIP $shown${reason:+: $reason}" ;;
		*) echo "not ok $n $t # $shown${reason:+: $reason}" ;;
		esac
	} >> "$ktap"
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
echo "kernel: $(sed -n 's/^kernel: //p' "$results"/guest-info "$results"/*/guest-info 2>/dev/null | head -n 1) ($kernel$([ "$topology" = 2node ] && echo ", two guests")$([ "$fs" = xfs ] && echo ", XFS")); VM ${total}s; results in ${results#"$PINWB_TOP"/}/"
[ -f "$results/peer/summary" ] && cat "$results/peer/summary"
[ $nxfail -gt 0 ] && echo "($nxfail of the skipped are XFAIL: known bugs, each naming the issue that fixes it)"
[ $xpass -gt 0 ] && echo "($xpass XPASS counted as failed: a test on the expected-failure list passed)"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ] && [ $vmrc != 125 ]
