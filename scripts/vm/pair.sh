#!/bin/bash
# Two guests on one private link: the owner (10.99.0.1) runs a command, the writer (10.99.0.2)
# runs tests/peer-run.sh, the remote side of the two-node tests, until the owner is done.
#
# usage: scripts/vm/pair.sh [--kernel patched|stock] [--results DIR] [--timeout S] -- CMD...
# The link is a QEMU socket netdev on 127.0.0.1 (no host bridge, nothing leaves the machine);
# each guest gets one vCPU. The owner's results go to DIR, the writer's to DIR/peer; both keep
# their console logs. When the owner's guest stops, the writer is told to stop (DIR/peer/stop)
# and is killed if it has not stopped 90 s later; if the writer's guest stops first, the owner
# is killed (its tests would only wait for a writer that is gone). The exit status is the
# owner's, as with run.sh; the writer's is in DIR/peer/rc.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

kernel=patched results='' timeout=${VM_TIMEOUT:-900}
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--results) results=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || die "pair.sh: no command given (usage: scripts/vm/pair.sh [--kernel stock] -- CMD...)"
command -v ss >/dev/null || die "pair.sh: ss is missing (apt-get install iproute2)"
results=${results:-$PINWB_TOP/results/pair-$kernel}
mkdir -p "$results/peer"
results=$(cd "$results" && pwd)
owner_ip=10.99.0.1 writer_ip=10.99.0.2

exec 9>/tmp/pinwb-vm.lock
flock -n 9 || { note "another guest is running; waiting for it"; flock 9; }
export PINWB_VM_LOCKED=1

# A free port for the link (the owner's QEMU must then be the one listening on it).
port=
for _ in $(seq 50); do
	p=$((20000 + RANDOM % 20000))
	ss -Hltn "sport = :$p" | grep -q . || { port=$p; break; }
done
[ -n "$port" ] || die "pair.sh: no free TCP port on 127.0.0.1 found for the guests' link"

vm() { "$PINWB_TOP/scripts/vm/run.sh" --kernel "$kernel" --smp 1 --timeout "$timeout" "$@"; }
# kill_guest DIR: the QEMU of the guest whose disks are under DIR (a fixed string, not a regex).
kill_guest() {
	local pid
	for pid in $(pgrep -x qemu-system-x86 2>/dev/null; pgrep -x qemu-system-x86_64 2>/dev/null); do
		tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$1/disks/vda.img" && kill -KILL "$pid"
	done
}
# Interrupted (Ctrl-C, CI cancelled): take both guests down with us.
trap 'kill_guest "$results/peer"; kill_guest "$results"; exit 130' INT TERM

rm -f "$results/peer/stop"
vm --results "$results" --net "listen:$port" --ip "$owner_ip/24" --mac 52:54:00:99:00:01 \
	-- env PINWB_TOPOLOGY=2node PINWB_LOCAL_ADDR=$owner_ip PINWB_PEER_ADDR=$writer_ip "$@" &
owner=$!
for _ in $(seq 300); do
	ss -Hltnp "sport = :$port" | grep -q qemu && break
	kill -0 "$owner" 2>/dev/null || break
	sleep 0.1
done
ss -Hltnp "sport = :$port" | grep -q qemu || {
	wait "$owner"; die "pair.sh: the owner's QEMU never listened on 127.0.0.1:$port (see $results/qemu.out)"; }
# The writer keeps the TSC as its clock (tsc=reliable; the rig's default is tsc=unstable, so
# HPET): perftest's client calibrates its cycle counter against gettimeofday(), and on one
# vCPU sharing the host with the owner's guest, HPET reads are too noisy for it (r^2 < 0.9,
# "Can't produce a report", every time in the first runs).
VM_CLOCK=tsc=reliable vm --results "$results/peer" --net "connect:$port" --ip "$writer_ip/24" --mac 52:54:00:99:00:02 \
	-- env PINWB_TOPOLOGY=2node PINWB_LOCAL_ADDR=$writer_ip PINWB_PEER_ADDR=$owner_ip \
	${PERFTEST_SECONDS:+PERFTEST_SECONDS=$PERFTEST_SECONDS} \
	"$PINWB_TOP/tests/peer-run.sh" "$owner_ip" > "$results/peer/vm.out" 2>&1 &
writer=$!

# Whichever stops first decides.
while kill -0 "$owner" 2>/dev/null && kill -0 "$writer" 2>/dev/null; do sleep 1; done
if ! kill -0 "$writer" 2>/dev/null && kill -0 "$owner" 2>/dev/null; then
	note "the writer's guest stopped before the owner's (status $(cat "$results/peer/rc" 2>/dev/null || echo none)); stopping the owner. Logs: $results/peer/{console.log,cmd.out,vm.out}"
	sleep 5
	echo "the writer's guest stopped first" > "$results/stopped-by-pair"
	kill_guest "$results"
fi
wait "$owner"; rc=$?
touch "$results/peer/stop"
for _ in $(seq 90); do kill -0 "$writer" 2>/dev/null || break; sleep 1; done
if kill -0 "$writer" 2>/dev/null; then
	note "the writer's guest did not stop 90 s after the owner's; killed (console log: $results/peer/console.log)"
	kill_guest "$results/peer"
fi
wait "$writer"
exit $rc
