#!/bin/bash
# make peers, guest side: rdma-core's test suite against rxe0 under the rules of our own tests.
#
# usage: tests/peers/guest.sh SUITE_DIR
# A marker in /dev/kmsg, then tests/peers/run.py (one TSV line per test case in
# $PINWB_RESULTS/peers.tsv, the unittest output in peers.log), then the kernel log after the
# marker (peers.dmesg) with its BUG:/WARNING:/KASAN/lockdep lines counted, and the pin balance
# (peers.pins). Exit status: run.py's (0 if every test passed or was skipped).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=${1:?usage: guest.sh SUITE_DIR}
res=${PINWB_RESULTS:?}
. "$top/tests/rules.sh"

rxe=$("$top/scripts/setup_rxe.sh" 2>&1) || { echo "peers: no RDMA device: $rxe"; exit 3; }
read -r dev _ gid _ <<< "$rxe"
echo "$rxe" > "$res/rxe.txt"
python3 -c 'import pyverbs' 2>/dev/null || { echo "peers: python3-pyverbs is missing in the guest's root"; exit 3; }

marker=$(kmsg_mark "pinwb-peers: start")
start=$(date +%s)
# --gid pins the IPv4-mapped RoCE v2 GID setup_rxe chose; the suite's rdmacm tests take the
# netdev's first address (127.0.0.1 on lo).
timeout -k 10 "${PEERS_TIMEOUT:-3000}" python3 "$top/tests/peers/run.py" "$suite" "$res/peers.tsv" \
	--dev "$dev" --gid "$gid" -v > "$res/peers.log" 2>&1
rc=$?
echo "$(( $(date +%s) - start ))" > "$res/peers.seconds"
kmsg_since "$marker" > "$res/peers.dmesg"
grep -E "$PINWB_SPLAT_RE" "$res/peers.dmesg" > "$res/peers.splats"
read -r acq rel < <(pins_settle)
echo "nr_foll_pin_acquired $acq nr_foll_pin_released $rel" > "$res/peers.pins"
tail -n 5 "$res/peers.log"
exit $rc
