#!/bin/bash
# The host-side tests (tests/host/*.sh with a "# DESCRIPTION:" line): run before any guest, no
# network, no root needed. Each writes TAP on stdout; its exit status is the verdict.
# Results: results/host/NAME.{full,result} ("NAME|pass|SECONDS|DETAIL", as the guest runner's),
# which scripts/check.sh --host folds into make check's table. Always exits 0: a failure here is
# counted with the rest of the suite, it does not stop the guest tests.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

out=${1:-$PINWB_TOP/results/host}
rm -rf "$out"; mkdir -p "$out"
for f in "$PINWB_TOP"/tests/host/*.sh; do
	grep -q '^# DESCRIPTION:' "$f" || continue
	t=host-$(basename "$f" .sh)
	s=$(date +%s)
	timeout 120 "$f" > "$out/$t.full" 2>&1
	rc=$?
	secs=$(( $(date +%s) - s ))
	n=$(grep -c '^ok ' "$out/$t.full")
	if [ $rc = 0 ] && ! grep -q '^not ok ' "$out/$t.full"; then
		echo "$t|pass|$secs|$n checks" > "$out/$t.result"
	else
		why=$(grep -m1 '^not ok ' "$out/$t.full" || true)
		[ $rc = 124 ] && why="timed out after 120 s"
		echo "$t|fail|$secs|exit $rc: ${why:-no failing check named; see results/host/$t.full}" > "$out/$t.result"
	fi
	note "$(cut -d'|' -f1,2,4 "$out/$t.result" | tr '|' ' ')"
done
