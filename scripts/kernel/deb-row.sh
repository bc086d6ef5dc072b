#!/bin/bash
# scripts/kernel/deb-row.sh install|host [OUT]: a row of make check KERNEL=deb (issue 22), one
# guest each, run before the suite:
#   install  a guest booted from Debian's stock kernel of the same version installs make deb's
#            packages with dpkg -i and checks them (scripts/kernel/deb-install-guest.sh);
#   host     a guest booted from the packaged kernel does what the README's "On a real host" says
#            once that kernel runs, outside the rig's runner and tree: unpacks the pinwb-tests
#            tarball, makes a soft-RoCE device with its setup_rxe.sh and runs its
#            tests/guest-run.sh on named disks (scripts/kernel/deb-host-guest.sh).
# The guest's whole kernel log is checked too. Writes OUT/deb-ROW.{result,full}
# ("NAME|pass|SECONDS|DETAIL", folded in by check.sh --host). Exits 0 whatever the row's verdict
# (a failure is a row of the table, it does not stop the suite); 2 on a usage error.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$PINWB_TOP/tests/rules.sh"

case ${1:-} in
install) kernel=stock mem=3G on="Debian's $(cat "$PINWB_BUILD/stock/kernelrelease" 2>/dev/null)" ;;
host) kernel=deb mem=2G on="the packaged kernel" ;;
*) echo "usage: scripts/kernel/deb-row.sh install|host [OUT]" >&2; exit 2 ;;
esac
row=$1
t=deb-$row
out=${2:-$PINWB_RESULTS/$t}
rm -rf "$out"; mkdir -p "$out"; out=$(cd "$out" && pwd)
put() { echo "$t|$1|$2|$3" > "$out/$t.result"; note "$t: $1: $3"; exit 0; }
dir=$(deb_dir) || put fail 0 "FLAVOUR=$FLAVOUR is not a flavour make deb knows (amd64, cloud-amd64)"
[ -f "$dir/built" ] || put fail 0 "no finished make deb in ${dir#"$PINWB_TOP"/}: run make deb${SERIES:+ SERIES=$SERIES}${FLAVOUR:+ FLAVOUR=$FLAVOUR} first"

s=$(date +%s)
# install: 3G, for the guest's tmpfs overlay (half its memory) takes the unpacked modules, the
# headers and the initramfs staging.
"$PINWB_TOP/scripts/vm/run.sh" --kernel "$kernel" --mem "$mem" --timeout 1500 --results "$out/vm" \
	-- "$PINWB_TOP/scripts/kernel/$t-guest.sh" "$dir" "$out" > "$out/vm.out" 2>&1
rc=$?
secs=$(( $(date +%s) - s ))
{ cat "$out/vm/cmd.out" 2>/dev/null; echo "# run.sh exit $rc"; sed 's/^/# run.sh: /' "$out/vm.out" | tail -n 5; } > "$out/$t.full"
if [ ! -f "$out/vm/cmd.out" ] && [ $rc != 125 ]; then
	put fail "$secs" "the guest on $on did not run: $(grep -m1 'error:' "$out/vm.out" | tr -d '|' || echo "see ${out#"$PINWB_TOP"/}/vm.out")"
fi
splats=$(console_reports "$out/vm/console.log")
n=$(grep -c '^ok ' "$out/$t.full") nf=$(grep -c '^not ok ' "$out/$t.full")
first=$(grep -m1 '^not ok ' "$out/$t.full" | tr -d '|')
# A guest script that stopped early with status 0 has no plan, or one that counts other checks.
grep -qx "1\.\.$((n + nf))" "$out/$t.full" || first=${first:-"no TAP plan 1..$((n + nf)) at the end: the guest's checks stopped early"}
version=$(sed -n 's/^version=//p' "$dir/built")
if [ $rc = 125 ]; then
	put fail "$secs" "the guest on $on died or hung without a verdict (${out#"$PINWB_TOP"/}/vm/console.log)"
elif [ -n "$splats" ]; then
	put fail "$secs" "kernel log of the guest on $on: $(head -n 1 <<< "$splats" | sed 's/^\[[^]]*\] //' | tr -d '|')"
elif [ $rc = 0 ] && [ -z "$first" ] && [ "$n" -gt 0 ]; then
	case $row in
	install) put pass "$secs" "dpkg -i of $version in a guest on $on: $n checks" ;;
	host) put pass "$secs" "the tarball of $version run as on a real host, on $on: $n checks" ;;
	esac
else
	put fail "$secs" "exit $rc: ${first:-no failing check named; see ${out#"$PINWB_TOP"/}/$t.full}"
fi
