#!/bin/bash
# Boot a kernel under QEMU (TCG) with the host's root over 9p and run one command in it.
#
# usage: scripts/vm/run.sh [options] -- COMMAND...
#   --kernel patched|stock|control|deb|PATH   which kernel (default patched: build/bzImage; control:
#                            build/control/bzImage, the same source and config without the series;
#                            deb: the packages of make deb, the series with Debian's config;
#                            PATH: a bzImage built with the rig's config elsewhere, a mutant or an
#                            older series)
#   --mem SIZE               guest memory (default 2G)
#   --smp N                  vCPUs (default 2)
#   --timeout SECONDS        host-side limit; a hung guest is killed (default 900)
#   --results DIR            the results share (default results/run-<kernel>)
#   --disk SIZE              size of each of the two fresh raw disks, vda and vdb (default 2G)
#   --keep-disk              keep the disk images (in DIR/disks) after the guest is gone
#   --scratch IMAGE          the scratch disk (vda, serial pinwb-scratch) is this raw image, not a
#                            fresh one; the guest writes to it, and it stays after the guest
#   --net listen:PORT|connect:PORT   a virtio-net card on a QEMU socket netdev on 127.0.0.1:PORT
#                            (the listening guest first), the private link of a two-node run
#   --ip ADDR/PREFIX         the guest's address on that card (PINWB_NETDEV names it in the guest)
#   --mac MAC                its MAC address
#
# Only one guest runs at a time (/tmp/pinwb-vm.lock); scripts/vm/pair.sh holds the lock for
# both of its guests and sets PINWB_VM_LOCKED=1.
#
# The exit status is the command's, carried back through DIR/rc. A guest that panics, hangs
# or dies without a verdict exits 125 with the end of its console log (DIR/console.log) shown.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

kernel=patched mem=${VM_MEM:-2G} smp=2 timeout=${VM_TIMEOUT:-900} results='' disk=2G keep=0 scratch=
net='' ip='' mac=52:54:00:99:00:01
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--results) results=$2; shift 2 ;;
	--disk) disk=$2; shift 2 ;;
	--keep-disk) keep=1; shift ;;
	--scratch) scratch=$2; shift 2 ;;
	--net) net=$2; shift 2 ;;
	--ip) ip=$2; shift 2 ;;
	--mac) mac=$2; shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || die "run.sh: no command given (usage: scripts/vm/run.sh [--kernel stock] -- CMD...)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing (make deps-vm installs it)"

append="console=ttyS0 loglevel=6 panic=-1 watchdog_thresh=165 rcupdate.rcu_cpu_stall_timeout=300"
append+=" sysctl.kernel.hung_task_timeout_secs=420 ${VM_CLOCK:-tsc=unstable} ${VM_APPEND:-}"
case "$kernel" in
patched)
	kimg=$PINWB_BUILD/bzImage initrd=()
	[ -f "$kimg" ] || die "${kimg#"$PINWB_TOP"/} is missing: run 'make kernel${SERIES:+ SERIES=$SERIES}' first"
	append+=" root=/dev/root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose ro"
	append+=" init=$PINWB_TOP/scripts/vm/guest-init"
	;;
stock|deb)	# Debian's binary image (make stock), or our packages built with its config (make deb)
	kdir=$PINWB_BUILD/stock
	if [ "$kernel" = deb ]; then
		kdir=$(deb_dir) || exit 1
		[ -f "$kdir/built" ] || die "no finished make deb${SERIES:+ SERIES=$SERIES}${FLAVOUR:+ FLAVOUR=$FLAVOUR} in ${kdir#"$PINWB_TOP"/}: run it first"
	fi
	kimg=$kdir/vmlinuz initrd=(-initrd "$kdir/initrd.img")
	[ -f "$kimg" ] || die "${kimg#"$PINWB_TOP"/} is missing: run 'make $kernel${SERIES:+ SERIES=$SERIES}' first"
	append+=" pinwb.init=$PINWB_TOP/scripts/vm/guest-init pinwb.modules=$kdir/root"
	;;
control|*/*)	# the control kernel (make control: the same source and config, no series), or a
	# bzImage built with the rig's config elsewhere (a mutant, an older series): booted like ours
	kimg=$kernel initrd=()
	[ "$kernel" = control ] && kimg=$PINWB_BUILD_ROOT/control/bzImage
	[ -f "$kimg" ] || die "run.sh: no kernel image at $kimg"
	append+=" root=/dev/root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose ro"
	append+=" init=$PINWB_TOP/scripts/vm/guest-init"
	;;
*) die "run.sh: --kernel must be patched, stock, control, deb or the path of a bzImage built with the rig's config, not '$kernel'" ;;
esac

netargs=()
case "$net" in
'') ;;
listen:*|connect:*)
	netargs=(-netdev "socket,id=link,${net%%:*}=127.0.0.1:${net#*:}" -device "virtio-net-pci,netdev=link,mac=$mac") ;;
*) die "run.sh: --net must be listen:PORT or connect:PORT, not '$net'" ;;
esac
[ -n "$ip" ] && append+=" pinwb.ip=$ip"

results=${results:-$PINWB_RESULTS/run-$kernel}
mkdir -p "$results"
results=$(cd "$results" && pwd)
rm -f "$results/rc" "$results/cmd.out" "$results/console.log" "$results/guest-info" "$results/stopped-by-pair" \
	"$results/killed" "$results/qemu-aborted.out" "$results/console-aborted.log"
printf '%q ' "$@" > "$results/cmd"; echo >> "$results/cmd"
pwd > "$results/cwd"
disks=$results/disks
rm -rf "$disks"; mkdir -p "$disks"
truncate -s "$disk" "$disks/vdb.img"
if [ -n "$scratch" ]; then
	[ -f "$scratch" ] || die "run.sh: --scratch $scratch: no such image"
	scratch=$(cd "$(dirname "$scratch")" && pwd)/$(basename "$scratch")
else
	scratch=$disks/vda.img
	truncate -s "$disk" "$scratch"
fi

# shellcheck disable=SC2054 # commas inside QEMU's own option values
qemu=(qemu-system-x86_64 -accel tcg,thread=multi -cpu max -machine q35 -smp "$smp" -m "$mem"
	-nographic -no-reboot -monitor none -serial "file:$results/console.log"
	-kernel "$kimg" "${initrd[@]}" -append "$append"
	-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap
	-device virtio-9p-pci,fsdev=hostroot,mount_tag=/dev/root
	-fsdev "local,id=results,path=$results,security_model=none,multidevs=remap"
	-device virtio-9p-pci,fsdev=results,mount_tag=results
	-drive "file=$scratch,format=raw,if=none,id=scratch,cache=none"
	-device virtio-blk-pci,drive=scratch,serial=pinwb-scratch
	-drive "file=$disks/vdb.img,format=raw,if=none,id=disk2,cache=none"
	-device virtio-blk-pci,drive=disk2,serial=pinwb-disk2
	"${netargs[@]}")
[ -n "${VM_KILL_ON:-}" ] && rm -f "$results/$VM_KILL_ON"

# One guest at a time: each uses both cores. Wait for any other run to finish.
if [ "${PINWB_VM_LOCKED:-0}" != 1 ]; then
	exec 9>/tmp/pinwb-vm.lock
	flock -n 9 || { note "another guest is running; waiting for it"; flock 9; }
fi

for boot in 1 2; do
start=$(date +%s)
timeout --signal=KILL "$timeout" "${qemu[@]}" </dev/null >"$results/qemu.out" 2>&1 &
qpid=$!
# A test may ask to be killed with no shutdown (crash consistency): it creates results/$VM_KILL_ON.
if [ -n "${VM_KILL_ON:-}" ]; then
	while kill -0 "$qpid" 2>/dev/null; do
		if [ -e "$results/$VM_KILL_ON" ]; then
			pkill -KILL -P "$qpid" qemu-system-x86 2>/dev/null; pkill -KILL -f "file=$scratch," 2>/dev/null
			echo "killed by host at the guest's request" > "$results/killed"; break
		fi
		sleep 0.2
	done
fi
wait "$qpid" 2>/dev/null; qrc=$?
# QEMU itself may abort on an assertion of its own while the kernel boots (under TCG, once in
# about 125 boots of the soak of 1 Dec: msix_table_mmio_write). Before the guest's init has run
# (no guest-info) nothing has touched the disks or the results: boot once more. Not a guest of a
# pair (--net): its peer's link would not come back.
if [ "$boot" = 1 ] && [ -z "$net" ] && [ "$qrc" = 134 ] && [ ! -e "$results/guest-info" ] &&
	grep -q 'Assertion .* failed' "$results/qemu.out" 2>/dev/null; then
	note "QEMU aborted while the guest booted, before its init ran ($(grep -m1 'Assertion' "$results/qemu.out" | cut -c1-200)); booting once more"
	mv -f "$results/qemu.out" "$results/qemu-aborted.out" 2>/dev/null
	mv -f "$results/console.log" "$results/console-aborted.log" 2>/dev/null
	continue
fi
break
done
secs=$(( $(date +%s) - start ))
echo "$secs" > "$results/vm-seconds"
[ "$keep" = 1 ] || rm -rf "$disks"

show_console() { echo "---- last 40 lines of $results/console.log ----" >&2; tail -n 40 "$results/console.log" >&2; echo "----" >&2; }
if [ -e "$results/stopped-by-pair" ]; then
	echo "pinwb: the guest ($kernel kernel) was stopped by pair.sh: $(cat "$results/stopped-by-pair"); console log kept in $results/console.log" >&2
	show_console; exit 125
fi
if [ "$qrc" = 137 ] && [ ! -e "$results/killed" ]; then
	echo "pinwb: the guest ($kernel kernel) hung: killed after ${timeout}s; console log kept in $results/console.log" >&2
	show_console; exit 125
fi
if grep -q -e 'Kernel panic' -e 'end Kernel panic' "$results/console.log" 2>/dev/null; then
	echo "pinwb: the guest ($kernel kernel) panicked; console log kept in $results/console.log" >&2
	show_console; exit 125
fi
[ -e "$results/killed" ] && exit 0
if [ ! -s "$results/rc" ]; then
	echo "pinwb: the guest ($kernel kernel) stopped without a verdict (qemu exit $qrc); console log kept in $results/console.log" >&2
	cat "$results/qemu.out" >&2; show_console; exit 125
fi
exit "$(cat "$results/rc")"
