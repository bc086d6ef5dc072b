#!/bin/bash
# The runner's own tests (as blktests' tests/meta): plant in a guest what the rules must catch and
# check that make check's verdicts are failures with the right reasons (tests/meta/expect).
#  - boot 1 (warn bug skip leak unleak leftover setting settingback exitzero): a planted WARNING
#    and BUG/invalid-opcode pair in a test's window, a skipped subtest, a pin left behind (unleak
#    ends it), a mount left behind, a disk left asking for stable pages (settingback checks that
#    the runner put the flag back), a failed subtest under exit status 0, and a WARNING planted after the last test,
#    which only the end-of-run sweep (the row "kernel-log") can see;
#  - boot 2 (hang): a test in D state that no timeout can kill; the host kills the guest.
# Each expectation becomes a row meta-NAME in results/meta/ (NAME|pass|SECONDS|DETAIL), which
# make check folds into its table (scripts/check.sh --host). Pass means the runner failed the
# planted test for the stated reason. Always exits 0.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

out=$PINWB_RESULTS/meta
rm -rf "$out" "$PINWB_RESULTS"/meta-run[12]; mkdir -p "$out" "$PINWB_TOP/tests/meta/bin"
start=$(date +%s)
put() { echo "meta-$1|$2|$(( $(date +%s) - start ))|$3" > "$out/meta-$1.result"; }

if ! gcc -O2 -Wall -Wextra -Werror -o "$PINWB_TOP/tests/meta/bin/holdmr" "$PINWB_TOP/tests/meta/holdmr.c" -libverbs 2> "$out/build.err"; then
	while read -r name _; do
		case "$name" in ''|'#'*) continue ;; esac
		put "$name" fail "tests/meta/holdmr.c does not build: $(head -n 1 "$out/build.err")"
	done < "$PINWB_TOP/tests/meta/expect"
	exit 0
fi

PINWB_TESTDIR=tests/meta PINWB_TEST_TIMEOUT=60 VM_TIMEOUT=300 \
PINWB_GUEST_EPILOGUE='echo "<4>WARNING: CPU: 0 PID: 1 at pinwb_meta_after_the_last_test+0x0/0x10" > /dev/kmsg' \
	"$PINWB_TOP/scripts/check.sh" --kernel patched --results "$PINWB_RESULTS/meta-run1" \
	warn bug skip leak unleak leftover setting settingback exitzero > "$out/run1.out" 2>&1
PINWB_TESTDIR=tests/meta PINWB_TEST_TIMEOUT=20 VM_TIMEOUT=120 \
	"$PINWB_TOP/scripts/check.sh" --kernel patched --results "$PINWB_RESULTS/meta-run2" \
	hang > "$out/run2.out" 2>&1

while IFS= read -r line; do
	case "$line" in ''|'#'*) continue ;; esac
	[[ $line =~ ^([^[:space:]]+)[[:space:]]+\"([^\"]*)\" ]] || { put bad-expect fail "tests/meta/expect: '$line'"; continue; }
	name=${BASH_REMATCH[1]} re=${BASH_REMATCH[2]}
	v=
	for d in "$PINWB_RESULTS"/meta-run1 "$PINWB_RESULTS"/meta-run2; do
		[ "$name" = kernel-log ] && [ "$d" != "$PINWB_RESULTS/meta-run1" ] && continue
		[ -f "$d/$name.verdict" ] && v=$(cat "$d/$name.verdict")
		[ -n "$v" ] && break
	done
	IFS='|' read -r _ shown _ reason <<< "$v"
	if [ -z "$v" ]; then
		put "$name" fail "no verdict for the planted test (see results/meta/run1.out, run2.out)"
	elif [ "$shown" = FAIL ] && grep -qE -- "$re" <<< "$reason"; then
		put "$name" pass "the runner failed it: ${reason:0:150}"
	else
		put "$name" fail "the runner gave $shown, not a failure matching /$re/: ${reason:0:200}"
	fi
done < "$PINWB_TOP/tests/meta/expect"
rs=("$out"/*.result)
note "meta: $(grep -l '|pass|' "${rs[@]}" | wc -l) of ${#rs[@]} planted faults caught"
exit 0
