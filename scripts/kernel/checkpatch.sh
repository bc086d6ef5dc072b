#!/bin/bash
# make checkpatch: the kernel's scripts/checkpatch.pl --no-tree on every patch of the series.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
cp=$PINWB_BUILD/src/scripts/checkpatch.pl
[ -x "$cp" ] || "$PINWB_TOP/scripts/kernel/prepare.sh" >/dev/null || exit 1
bad=0 n=0
for p in $(series_patches); do
	n=$((n + 1))
	if out=$("$cp" --no-tree --terse --show-types "$PINWB_TOP/patches/$p" 2>&1); then
		echo "ok   $p"
	else
		echo "FAIL $p"; echo "$out" | sed 's/^/     /'; bad=1
	fi
done
echo "checkpatch: $n patch(es) checked"
exit $bad
