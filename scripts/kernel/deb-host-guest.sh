#!/bin/bash
# scripts/kernel/deb-host-guest.sh DEBDIR OUTDIR: run inside a guest booted from make deb's
# packaged kernel (scripts/kernel/deb-row.sh host boots it; OUTDIR is that row's results directory
# on the host). Does what the README's "On a real host" says to do once that kernel runs, outside
# the rig's runner and tree: the pinwb-tests tarball unpacked in a directory of its own, and from
# there its scripts/setup_rxe.sh and its tests/guest-run.sh run as on a host (no PINWB_GUEST, no
# PINWB_RESULTS from the rig, the disks and the device named; in a memory cgroup, as a root shell
# of a systemd host is) on the README's example tests. Not as on a host: the boot (the rig's
# initramfs and 9p root, not the package's initramfs or grub) and the userspace (this machine's
# Debian 12, seen over 9p). TAP on stdout; the exit status is the verdict.
#   1 the running kernel is the package's release
#   2 the tarball unpacks, with the runner, setup_rxe.sh and the test binaries
#   3 every test binary runs there (--describe)
#   4 setup_rxe.sh makes a soft-RoCE device of the name asked for
#   5-7 the README's tests pass under the tarball's runner (its own rules: kernel log, pins)
#   8 the runner wrote its results under the unpacked tree, and nothing new appeared in the rig's
#     tree (outside build/, .git and this row's own results)
#   9 setup_rxe.sh --teardown removes the device it made
#   10 the pins balance once the device is gone
set -uo pipefail
debdir=$1
# The project's tree and this row's results directory, as absolute paths (check 8), before the
# cd into the unpacked tarball.
top=$(cd "$(dirname "$0")/../.." && pwd) outdir=$(cd "$2" && pwd)
. "$top/tests/rules.sh"
# The README's example line (section "On a real host").
tests=(persist background invalidate)
name=pinwbhost0
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
bail() { notok "$*"; echo "1..$n"; exit 1; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else notok "$what"; fi; }

version=$(sed -n 's/^version=//p' "$debdir/built") release=$(sed -n 's/^release=//p' "$debdir/built")
check "the running kernel $(uname -r) is the package's release $release" [ "$(uname -r)" = "$release" ]

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
[ -z "$miss" ] || bail "${tarball##*/} unpacks without:$miss"
ok "${tarball##*/} unpacks in $h: $(find "$h" -type f | wc -l) files, $bins test binaries"

bad=
for b in "$h"/tests/rdma/bin/*; do
	if [ ! -f "$b" ] || [ ! -x "$b" ]; then continue; fi
	"$b" --describe > /dev/null 2> /tmp/describe.err || bad+=" ${b##*/}($(head -c 80 /tmp/describe.err))"
done
if [ -z "$bad" ]; then ok "all $bins test binaries run from the tarball (--describe)"; else notok "test binaries that do not run:$bad"; fi

# A host names its own disks (README: PINWB_DISK, PINWB_DISK2); the rig's two are found by serial.
d1=$(disk_by_serial pinwb-scratch) d2=$(disk_by_serial pinwb-disk2)
if [ ! -b "$d1" ] || [ ! -b "$d2" ]; then bail "the guest's two disks (serials pinwb-scratch, pinwb-disk2) not found: '$d1' '$d2'"; fi

# The README's commands, from the unpacked directory.
cd "$h" || bail "cd $h"
rxe=$(scripts/setup_rxe.sh --netdev lo --name "$name" 2> /tmp/rxe.err)
dev=${rxe%% *}
if [ "$dev" = "$name" ] && [ -e "/sys/class/infiniband/$name" ]; then
	ok "scripts/setup_rxe.sh --netdev lo --name $name: $rxe"
else
	bail "scripts/setup_rxe.sh --netdev lo --name $name: '$rxe' $(tail -n 1 /tmp/rxe.err)"
fi

# A root shell of a systemd host runs in a memory cgroup (cgroup v2): so do these tests, in one
# of their own (the pages they dirty and pin are charged to it, and written back for it).
if ! memcg_enter pinwb-host > /tmp/memcg.err 2>&1; then
	bail "no memory cgroup for the tests: $(head -n 1 /tmp/memcg.err)"
fi
echo "# cgroup $(cut -d: -f3 /proc/$$/cgroup)"

mark=$(mktemp /tmp/pinwb-mark.XXXXXX)
env -u PINWB_GUEST -u PINWB_TOP -u PINWB_RESULTS -u PINWB_NETDEV \
	PINWB_RDMA_DEV="$dev" PINWB_DISK="$d1" PINWB_DISK2="$d2" PINWB_SCRATCH=/mnt/scratch \
	tests/guest-run.sh "${tests[@]}" > /tmp/host-run.out 2>&1
rc=$?
sed 's/^/# guest-run: /' /tmp/host-run.out | tail -n 20
for t in "${tests[@]}"; do
	r=results/host/$t.result
	if [ ! -f "$r" ]; then
		notok "$t: no result in $r (guest-run.sh exit $rc; its output: vm/host-run.out)"
	else
		IFS='|' read -r _ res secs why < "$r"
		if [ "$res" = pass ]; then ok "$t passes under the tarball's runner (${secs} s)"; else notok "$t: $res: $why (vm/host-run/$t.full)"; fi
	fi
done
# The runner took no path from the rig: nothing new in the project's tree, which this guest sees
# through its overlay root (where the rig's runner would have written: results/host), but for
# this row's own results, which QEMU and this guest write while it runs.
stray=$(find "$top" -xdev \( -path "$top/build" -o -path "$top/.git" -o -path "$outdir" \) -prune \
	-o -newer "$mark" -type f -print 2>/dev/null | head -n 5 | tr '\n' ' ')
nres=$(find results/host -type f 2>/dev/null | wc -l)
if [ ! -d "$top" ] || [ ! -d "$outdir" ]; then
	notok "the project's tree '$top' or this row's results '$outdir' is not a directory: nothing to compare"
elif [ -z "$stray" ] && [ "$nres" -gt 0 ]; then
	ok "the runner wrote its results under the unpacked tree ($nres files in $h/results/host), nothing new in the rig's $top"
else
	notok "results under the unpacked tree: $nres files; new in the rig's tree: ${stray:-nothing}"
fi
# The runner's own output, for a failure's reader (the guest's /tmp is gone at poweroff): in
# the row's results, vm/host-run/ (per test) and vm/host-run.out.
cp -r results/host /results/host-run 2>/dev/null
cp /tmp/host-run.out /results/host-run.out 2>/dev/null

out=$(scripts/setup_rxe.sh --teardown --name "$name" 2>&1)
if grep -q '^setup_rxe: removed ' <<< "$out" && [ ! -e "/sys/class/infiniband/$name" ]; then
	ok "scripts/setup_rxe.sh --teardown --name $name: $out"
else
	notok "scripts/setup_rxe.sh --teardown --name $name: $out"
fi
read -r a r <<< "$(pins_settle)"
check "pins balance: nr_foll_pin_acquired $a == nr_foll_pin_released $r" [ "${a:-none}" = "${r:-}" ]
echo "1..$n"
exit $failed
