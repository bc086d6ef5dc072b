#!/bin/bash
# make lint: shellcheck on every shell script of the project, checkpatch on the series, and the C
# of the tests built with -Wall -Wextra -Werror. Each is a row in results/lint/ (NAME|RESULT|
# SECONDS|DETAIL) that make check folds into its table; the exit status is 1 if any failed.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

out=$PINWB_RESULTS/lint
rm -rf "$out"; mkdir -p "$out"
cd "$PINWB_TOP" || exit 1
put() { echo "lint-$1|$2|0|$3" > "$out/lint-$1.result"; }

# Every shell script: *.sh, the runner's files without a suffix, and the host-side stand-ins.
mapfile -t files < <( { git ls-files '*.sh' '*.host' .ci/run scripts/vm/guest-init scripts/vm/initramfs-init 'tests/host/bin/*'; } | sort -u)
if ! command -v shellcheck >/dev/null; then
	put shellcheck fail "shellcheck is not installed (scripts/deps.sh lint installs it)"
elif shellcheck -x -S style -f gcc "${files[@]}" > "$out/shellcheck.txt" 2>&1; then
	put shellcheck pass "${#files[@]} scripts clean (exceptions annotated in place)"
else
	put shellcheck fail "$(grep -c . "$out/shellcheck.txt") finding(s), first: $(head -n 1 "$out/shellcheck.txt" | tr -d '|')"
fi

if "$PINWB_TOP/scripts/kernel/checkpatch.sh" > "$out/checkpatch.txt" 2>&1; then
	put checkpatch pass "$(tail -n 1 "$out/checkpatch.txt"), all clean"
else
	put checkpatch fail "$(grep -m1 -A1 '^FAIL' "$out/checkpatch.txt" | tr '\n|' '  ')"
fi

csrc=(tests/rdma/*.c tests/rdma/lib/*.c)
if make -s -C tests/rdma > "$out/cc.txt" 2>&1 && ! grep -qi warning "$out/cc.txt"; then
	put c pass "tests/rdma builds with -Wall -Wextra -Werror (${#csrc[@]} files)"
else
	put c fail "$(grep -m1 -E 'error|warning' "$out/cc.txt" | tr -d '|')"
fi
! grep -q '|fail|' "$out"/*.result
