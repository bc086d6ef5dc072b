#!/bin/bash
# Create a soft-RoCE (rdma_rxe) device on a netdev, idempotently, and wait until it is usable.
#
# usage: scripts/setup_rxe.sh [--netdev DEV] [--name NAME] [--teardown]
#   default: --netdev lo --name rxe0
# Prints "NAME NETDEV GID_INDEX GID" once the port is ACTIVE with a RoCE v2 GID. An rxe device
# already bound to the netdev is reused (and not removed by --teardown: only what this script
# created is, as recorded in /run/pinwb-rxe/).
set -euo pipefail

netdev=lo name=rxe0 teardown=0 wait_s=${RXE_WAIT:-30}
while [ $# -gt 0 ]; do
	case "$1" in
	--netdev) netdev=$2; shift 2 ;;
	--name) name=$2; shift 2 ;;
	--teardown) teardown=1; shift ;;
	-h|--help) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "setup_rxe: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
state=/run/pinwb-rxe
command -v rdma >/dev/null || { echo "setup_rxe: the rdma tool is missing (apt-get install iproute2)" >&2; exit 1; }

# rxe_on NETDEV: the rxe device bound to NETDEV, if any.
rxe_on() { rdma link show 2>/dev/null | awk -v nd="$1" '$0 ~ (" netdev " nd "( |$)") { split($2, a, "/"); print a[1]; exit }'; }

if [ "$teardown" = 1 ]; then
	[ -f "$state/$name" ] || { echo "setup_rxe: $name was not created by this script; leaving it"; exit 0; }
	rdma link delete "$name" 2>/dev/null || true
	for _ in $(seq 50); do [ -e "/sys/class/infiniband/$name" ] || break; sleep 0.2; done
	[ ! -e "/sys/class/infiniband/$name" ] || { echo "setup_rxe: $name is still there after 10 s (in use?)" >&2; exit 1; }
	rm -f "$state/$name"
	echo "setup_rxe: removed $name"
	exit 0
fi

ip link show "$netdev" >/dev/null 2>&1 || { echo "setup_rxe: no netdev '$netdev'" >&2; exit 1; }
ip link set "$netdev" up
dev=$(rxe_on "$netdev")
if [ -z "$dev" ]; then
	# rdma_rxe may be built in (no /sys/module entry without parameters): try first, load after.
	if ! rdma link add "$name" type rxe netdev "$netdev" 2>/dev/null; then
		modprobe rdma_rxe 2>/dev/null
		rdma link add "$name" type rxe netdev "$netdev" ||
			{ echo "setup_rxe: 'rdma link add $name type rxe netdev $netdev' failed (is rdma_rxe built or loadable? modprobe rdma_rxe: $(modprobe rdma_rxe 2>&1 || true))" >&2; exit 1; }
	fi
	mkdir -p "$state"; echo "$netdev" > "$state/$name"
	dev=$name
fi

# Wait for PORT_ACTIVE and a RoCE v2 GID (an IPv4-mapped one if the netdev has IPv4).
deadline=$(( $(date +%s) + wait_s ))
while :; do
	port=/sys/class/infiniband/$dev/ports/1
	if grep -q ACTIVE "$port/state" 2>/dev/null; then
		best=
		for t in "$port"/gid_attrs/types/*; do
			[ "$(cat "$t" 2>/dev/null)" = "RoCE v2" ] || continue
			i=${t##*/} gid=$(cat "$port/gids/$i")
			case "$gid" in
			0000:0000:0000:0000:0000:ffff:*) best="$i $gid"; break ;;
			*) [ -z "$best" ] && [ "$gid" != "0000:0000:0000:0000:0000:0000:0000:0000" ] && best="$i $gid" ;;
			esac
		done
		[ -n "$best" ] && { echo "$dev $netdev $best"; exit 0; }
	fi
	[ "$(date +%s)" -lt "$deadline" ] || { echo "setup_rxe: $dev on $netdev not ACTIVE with a RoCE v2 GID after ${wait_s}s" >&2; exit 1; }
	sleep 0.2
done
