#!/bin/bash
# scripts/kernel/deb-host-guest.sh DEBDIR: run inside a guest booted from make deb's packaged
# kernel (scripts/kernel/deb-row.sh host boots it). Does what the README's "On a real host" says
# to do after the reboot, outside the rig's runner and tree: the pinwb-tests tarball unpacked in
# a directory of its own, its scripts/setup_rxe.sh, and its tests/guest-run.sh run as on a host
# (no PINWB_GUEST, no PINWB_TOP or PINWB_RESULTS from the rig, the disks and the device named)
# on the README's example tests. TAP on stdout; the exit status is the verdict.
#   1 the tarball unpacks, with the runner, setup_rxe.sh and the test binaries
#   2 every test binary runs there (--describe)
#   3 setup_rxe.sh makes a soft-RoCE device and says its name
#   4-6 the README's tests pass under the tarball's runner (its own rules: kernel log, pins)
#   7 the runner wrote its results under the unpacked tree, nowhere else it was not told to
#   8 setup_rxe.sh --teardown removes the device
#   9 the pins balance once the device is gone
set -uo pipefail
debdir=$1
# The README's example line (section "On a real host").
tests=(persist background invalidate)
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
bail() { notok "$*"; echo "1..$n"; exit 1; }

version=$(sed -n 's/^version=//p' "$debdir/built")
echo "# version $version; booted on $(uname -r)"
tarball=$debdir/pinwb-tests-$version.tar.gz
[ -f "$tarball" ] || bail "no ${tarball##*/} in $debdir"
h=$(mktemp -d /tmp/pinwb-host.XXXXXX)
if ! tar -C "$h" -xzf "$tarball" 2> /tmp/tar.err; then
	bail "tar xzf ${tarball##*/}: $(head -n 1 /tmp/tar.err)"
fi
bins=$(find "$h/tests/rdma/bin" -maxdepth 1 -type f -perm -u+x 2>/dev/null | wc -l)
miss=
for f in tests/guest-run.sh tests/rules.sh scripts/setup_rxe.sh; do [ -f "$h/$f" ] || miss+=" $f"; done
[ "$bins" -gt 0 ] || miss+=" tests/rdma/bin/*"
if [ -n "$miss" ]; then
	bail "${tarball##*/} unpacks without:$miss"
fi
ok "${tarball##*/} unpacks in $h: $(find "$h" -type f | wc -l) files, $bins test binaries"

bad=
for b in "$h"/tests/rdma/bin/*; do
	if [ ! -f "$b" ] || [ ! -x "$b" ]; then continue; fi
	"$b" --describe > /dev/null 2> /tmp/describe.err || bad+=" ${b##*/}($(head -c 80 /tmp/describe.err))"
done
if [ -z "$bad" ]; then ok "all $bins test binaries run from the tarball (--describe)"; else notok "test binaries that do not run:$bad"; fi

# A host names its own disks (README: PINWB_DISK, PINWB_DISK2); the rig's two are found by serial.
disk() { local b; for b in /sys/block/*; do [ "$(cat "$b/serial" 2>/dev/null)" = "$1" ] && echo "/dev/${b##*/}"; done; }
d1=$(disk pinwb-scratch) d2=$(disk pinwb-disk2)
if [ ! -b "$d1" ] || [ ! -b "$d2" ]; then bail "the guest's two disks (serials pinwb-scratch, pinwb-disk2) not found: '$d1' '$d2'"; fi

cd / || exit 1
if rxe=$("$h/scripts/setup_rxe.sh" --netdev lo --name pinwbhost0 2> /tmp/rxe.err); then
	dev=${rxe%% *}
	ok "scripts/setup_rxe.sh --netdev lo: $rxe"
else
	bail "scripts/setup_rxe.sh --netdev lo failed: $(tail -n 1 /tmp/rxe.err)"
fi

mark=$(mktemp /tmp/pinwb-mark.XXXXXX)
env -u PINWB_GUEST -u PINWB_TOP -u PINWB_RESULTS -u PINWB_NETDEV \
	PINWB_RDMA_DEV="$dev" PINWB_DISK="$d1" PINWB_DISK2="$d2" PINWB_SCRATCH=/mnt/scratch \
	"$h/tests/guest-run.sh" "${tests[@]}" > /tmp/host-run.out 2>&1
rc=$?
sed 's/^/# guest-run: /' /tmp/host-run.out | tail -n 20
for t in "${tests[@]}"; do
	r=$h/results/host/$t.result
	if [ ! -f "$r" ]; then
		notok "$t: no result in ${r#"$h"/} (guest-run.sh exit $rc)"
	else
		IFS='|' read -r _ res secs why < "$r"
		if [ "$res" = pass ]; then ok "$t passes under the tarball's runner (${secs} s)"; else notok "$t: $res: $why"; fi
	fi
done
# The runner took no path from the rig: nothing new in the project's tree, which this guest sees
# (through its overlay root) where the rig's runner would have written (results/host), but for
# this row's own results share.
top=$(cd "$(dirname "$0")/../.." && pwd)
stray=$(find "$top" -xdev \( -path "$top/build" -o -path "$top/results/deb-host*" -o -path "$top/.git" \) -prune \
	-o -newer "$mark" -type f -print 2>/dev/null | head -n 5 | tr '\n' ' ')
nres=$(find "$h/results/host" -type f 2>/dev/null | wc -l)
if [ -z "$stray" ] && [ "$nres" -gt 0 ]; then
	ok "the runner wrote its results under the unpacked tree ($nres files in ${h}/results/host), nothing in the rig's ${top}"
else
	notok "results under the unpacked tree: $nres files; written in the rig's tree: ${stray:-nothing}"
fi

if out=$("$h/scripts/setup_rxe.sh" --teardown --name pinwbhost0 2>&1) && [ ! -e /sys/class/infiniband/pinwbhost0 ]; then
	ok "setup_rxe.sh --teardown: $out"
else
	notok "setup_rxe.sh --teardown: $out"
fi
a=$(awk '$1 == "nr_foll_pin_acquired" { print $2 }' /proc/vmstat) r=$(awk '$1 == "nr_foll_pin_released" { print $2 }' /proc/vmstat)
if [ -n "$a" ] && [ "$a" = "$r" ]; then ok "pins balance: nr_foll_pin_acquired $a == nr_foll_pin_released $r"; else notok "pins unbalanced: nr_foll_pin_acquired $a, nr_foll_pin_released $r"; fi
echo "1..$n"
exit $failed
