#!/bin/bash
# The writer's side of a two-node run (scripts/vm/pair.sh), or of tests between two real hosts:
# the remote RDMA writer for the owner's tests/rdma tests, and perftest's ib_write_bw client
# for its perftest, both retried until the owner is done.
#
# usage: tests/peer-run.sh OWNER_ADDR
# Stops when $PINWB_RESULTS/stop appears (pair.sh creates it when the owner's guest is done).
# Logs: $PINWB_RESULTS/writer.log (each connection the writer served) and perftest-client.log
# (each ib_write_bw run that reached the owner), and splats: any BUG:/WARNING:/KASAN/lockdep
# line this kernel logged meanwhile (the owner's runner fails its tests on it). Exit status: 0,
# or 1 if a served connection broke or the RDMA device could not be set up.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
owner=${1:?usage: tests/peer-run.sh OWNER_ADDR}
res=${PINWB_RESULTS:-$top/results/peer}
mkdir -p "$res"
stop=$res/stop
: > "$res/writer.log"; : > "$res/perftest-client.log"

. "$top/tests/rules.sh"
marker=$(kmsg_mark "pinwb-peer: start")
rxe=$("$top/scripts/setup_rxe.sh" --netdev "${PINWB_NETDEV:-lo}" 2>&1) || { echo "peer-run: $rxe"; exit 1; }
read -r dev _ gid _ <<< "$rxe"
echo "peer-run: $rxe; serving $owner"
export PINWB_RDMA_DEV=$dev PINWB_PEER_STOP=$stop

# The remote writer: one owner connection per run; a run that finds nobody listening within
# 20 s (exit 2) is simply repeated.
writer_loop() {
	local rc bad=0
	while [ ! -e "$stop" ]; do
		PINWB_PEER_TIMEOUT=20 "$top/tests/rdma/bin/persist" --connect "$owner" > "$res/writer.cur" 2>&1
		rc=$?
		[ $rc = 2 ] && continue
		{ echo "---- $(date +%T) exit $rc"; cat "$res/writer.cur"; } >> "$res/writer.log"
		[ $rc = 0 ] || bad=1
	done
	rm -f "$res/writer.cur"
	return $bad
}

# perftest's client, against the owner's ib_write_bw server on port 18515 (tests/rdma/perftest.sh
# in two-node mode). A run that cannot reach a server ends at once and is not logged.
perftest_loop() {
	command -v ib_write_bw >/dev/null || { echo "peer-run: no ib_write_bw; perftest has no client"; return 0; }
	while [ ! -e "$stop" ]; do
		# In the background: a connect to an owner that died can hang in TCP retries for
		# minutes, and the stop file must end it at once.
		timeout 300 ib_write_bw -d "$dev" -x "$gid" -s 65536 -D "${PERFTEST_SECONDS:-15}" -p 18515 \
			"$owner" > "$res/perftest.cur" 2>&1 &
		c=$!
		while kill -0 $c 2>/dev/null; do
			[ -e "$stop" ] && { kill $c 2>/dev/null; break; }
			sleep 0.5
		done
		wait $c
		rc=$?
		if grep -q '#bytes' "$res/perftest.cur"; then
			{ echo "---- $(date +%T) exit $rc"; cat "$res/perftest.cur"; } >> "$res/perftest-client.log"
		fi
		sleep 1
	done
	rm -f "$res/perftest.cur"
}

writer_loop & w=$!
perftest_loop & p=$!
wait $w; wrc=$?
wait $p
kmsg_since "$marker" | grep -E "$PINWB_SPLAT_RE" > "$res/splats"
echo "peer-run: stopped; writer connections: $(grep -c '^---- [0-9]' "$res/writer.log" 2>/dev/null || echo 0), perftest runs: $(grep -c '^---- [0-9]' "$res/perftest-client.log" 2>/dev/null || echo 0)"
exit $wrc
