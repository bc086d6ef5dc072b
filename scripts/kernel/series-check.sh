#!/bin/bash
# make series-check: the kernel must build after every patch of the series (bisectability), and
# what Debian builds as modules must use only exported symbols (scripts/kernel/check-exports.sh).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
n=$(series_patches | wc -l)
[ "$n" -gt 0 ] || { note "${PINWB_PATCHES#"$PINWB_TOP"/}/series is empty: nothing to check"; exit 0; }
mkdir -p "$PINWB_BUILD"
for i in $(seq 1 "$n"); do
	p=$(series_patches | sed -n "${i}p")
	if UPTO=$i "$PINWB_TOP/scripts/kernel/build.sh" >/dev/null 2>"$PINWB_BUILD/series-check.err"; then
		# Debian builds ext4 and the RDMA stack as modules: what they call must be exported.
		exports=$("$PINWB_TOP/scripts/kernel/check-exports.sh" 2>&1); rc=$?
		if [ $rc = 1 ]; then
			echo "FAIL $i/$n $p: builds, but would not link as modules"
			while read -r l; do echo "     $l"; done <<< "$exports"
			"$PINWB_TOP/scripts/kernel/prepare.sh" >/dev/null 2>&1
			exit 1
		fi
		[ $rc = 0 ] || echo "     $exports"
		echo "ok   $i/$n $p"
	else
		echo "FAIL $i/$n $p: the kernel does not build with the series up to this patch"
		sed 's/^/     /' "$PINWB_BUILD/series-check.err" | tail -n 30
		"$PINWB_TOP/scripts/kernel/prepare.sh" >/dev/null 2>&1
		exit 1
	fi
done
"$PINWB_TOP/scripts/kernel/prepare.sh" >/dev/null
echo "series-check: the kernel builds after each of the $n patch(es)"
