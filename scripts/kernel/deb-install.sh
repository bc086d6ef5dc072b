#!/bin/bash
# scripts/kernel/deb-install.sh [OUT]: the install row of make check KERNEL=deb (issue 22). A guest
# booted from Debian's stock kernel of the same version installs make deb's packages with dpkg -i
# and checks them (scripts/kernel/deb-install-guest.sh); its whole kernel log is checked too.
# Writes OUT/deb-install.{result,full} ("NAME|pass|SECONDS|DETAIL", folded in by check.sh --host).
# Always exits 0: a failure is a row of the table, it does not stop the suite.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$PINWB_TOP/tests/rules.sh"

out=${1:-$PINWB_RESULTS/deb-install}
rm -rf "$out"; mkdir -p "$out"
t=deb-install
row() { echo "$t|$1|$2|$3" > "$out/$t.result"; note "$t: $1: $3"; exit 0; }
dir=$(deb_dir) || row fail 0 "FLAVOUR=$FLAVOUR is not a flavour make deb knows (amd64, cloud-amd64)"
[ -f "$dir/built" ] || row fail 0 "no finished make deb in ${dir#"$PINWB_TOP"/}: run make deb${SERIES:+ SERIES=$SERIES}${FLAVOUR:+ FLAVOUR=$FLAVOUR} first"

s=$(date +%s)
# 3G: the guest's tmpfs overlay (half its memory) takes the unpacked modules, the headers and
# the initramfs staging.
"$PINWB_TOP/scripts/vm/run.sh" --kernel stock --mem 3G --timeout 1500 --results "$out/vm" \
	-- "$PINWB_TOP/scripts/kernel/deb-install-guest.sh" "$dir" > "$out/vm.out" 2>&1
rc=$?
secs=$(( $(date +%s) - s ))
{ cat "$out/vm/cmd.out" 2>/dev/null; echo "# run.sh exit $rc"; sed 's/^/# run.sh: /' "$out/vm.out" | tail -n 5; } > "$out/$t.full"
if [ ! -f "$out/vm/cmd.out" ] && [ $rc != 125 ]; then
	row fail "$secs" "the stock guest did not run: $(grep -m1 'error:' "$out/vm.out" | tr -d '|' || echo "see ${out#"$PINWB_TOP"/}/vm.out")"
fi
splats=$(console_reports "$out/vm/console.log")
n=$(grep -c '^ok ' "$out/$t.full")
first=$(grep -m1 '^not ok ' "$out/$t.full" | tr -d '|')
if [ $rc = 125 ]; then
	row fail "$secs" "the stock guest died or hung without a verdict (${out#"$PINWB_TOP"/}/vm/console.log)"
elif [ -n "$splats" ]; then
	row fail "$secs" "kernel log of the stock guest: $(head -n 1 <<< "$splats" | sed 's/^\[[^]]*\] //' | tr -d '|')"
elif [ $rc = 0 ] && [ -z "$first" ] && [ "$n" -gt 0 ]; then
	row pass "$secs" "dpkg -i of $(sed -n 's/^version=//p' "$dir/built") in a guest on Debian's $(cat "$PINWB_BUILD/stock/kernelrelease"): $n checks"
else
	row fail "$secs" "exit $rc: ${first:-no failing check named; see ${out#"$PINWB_TOP"/}/$t.full}"
fi
