#!/bin/bash
# perftest: perftest's ib_write_bw into a server buffer that is an mmap'd ext4 file (--mmap),
# for a fixed time, while sync, fsync and drop_caches run in a loop. It must finish, print its
# bandwidth and leave dmesg clean (the runner checks dmesg and the pin balance).
# Output is KTAP; exit status 0 pass, 1 fail, 4 skip.
# Two-node topology (PINWB_TOPOLOGY=2node): only the server runs here, on port 18515; the
# client is the other side's (tests/peer-run.sh), so the server's report is what is checked.
set -u
desc="ib_write_bw into an mmap'd ext4 file during sync/fsync/drop_caches"
[ "${1:-}" = --describe ] && { echo "$desc"; exit 0; }
echo "KTAP version 1"
echo "# perftest: $desc"
command -v ib_write_bw >/dev/null || { echo "1..0"; echo "# SKIP ib_write_bw missing (apt-get install perftest)"; exit 4; }
dev=${PINWB_RDMA_DEV:-}
[ -n "$dev" ] || { for d in /sys/class/infiniband/*; do [ -e "$d" ] && dev=${d##*/} && break; done; }
[ -n "$dev" ] || { echo "1..0"; echo "# SKIP no RDMA device"; exit 4; }
gid=${PINWB_GID_INDEX:-}
if [ -z "$gid" ]; then
	for t in "/sys/class/infiniband/$dev"/ports/1/gid_attrs/types/*; do
		[ "$(cat "$t" 2>/dev/null)" = "RoCE v2" ] || continue
		case "$(cat "/sys/class/infiniband/$dev/ports/1/gids/${t##*/}")" in
		0000:0000:0000:0000:0000:ffff:*) gid=${t##*/}; break ;;
		esac
	done
fi
[ -n "$gid" ] || { echo "1..0"; echo "# SKIP $dev has no IPv4-mapped RoCE v2 GID"; exit 4; }
deadline=$(( $(date +%s) + ${PINWB_TEST_TIMEOUT:-300} - 20 ))
secs=${PERFTEST_SECONDS:-15} size=65536 port=$((18515 + RANDOM % 1000))
file=${PINWB_SCRATCH:-/mnt/scratch}/perftest.dat
work=$(mktemp -d)
remote=0; [ "${PINWB_TOPOLOGY:-}" = 2node ] && remote=1
# The output that carries the report: the client's, or with a remote client the server's.
report=$work/client; [ $remote = 1 ] && report=$work/server
[ $remote = 1 ] && echo "1..2" || echo "1..3"

# The buffer file must exist and be large enough before ib_write_bw maps it.
dd if=/dev/zero of="$file" bs=1M count=64 status=none && sync

# One run of server, stressor and client. perftest refuses to report when its CPU clock
# calibration is too noisy ("Correlation coefficient r^2 < 0.9 / Can't produce a report"),
# which happens under TCG on a loaded host: such a run is repeated (below), and all are logged.
run_once() {
	ib_write_bw -d "$dev" -x "$gid" -s "$size" -D "$secs" -p "$port" --mmap="$file" > "$work/server" 2>&1 &
	srv=$!
	sleep 2
	# The stressor: data-integrity and cache-dropping work on the very file the NIC writes into.
	(
		end=$(( $(date +%s) + secs + 5 + remote * 240 ))	# remote: until the server ends
		while [ "$(date +%s)" -lt "$end" ]; do
			sync; sleep 0.3
			sync "$file"	# fsync(2) of the file
			echo 3 > /proc/sys/vm/drop_caches; sleep 0.3
		done
	) &
	stress=$!
	if [ $remote = 1 ]; then
		# The remote client connects when it next polls (about once a second); the waits of
		# all attempts together stay inside the runner's limit for the test.
		left=$(( deadline - $(date +%s) )); wait_s=$(( secs + 120 < left ? secs + 120 : left ))
		[ $wait_s -gt 5 ] || wait_s=5
		timeout $wait_s tail --pid="$srv" -f /dev/null; kill "$srv" 2>/dev/null; wait "$srv"; src=$?
		kill "$stress" 2>/dev/null; wait "$stress" 2>/dev/null
		return
	fi
	# Line-buffered: a client killed during the measurement still shows the "#bytes" header.
	timeout $((secs + 60)) stdbuf -oL ib_write_bw -d "$dev" -x "$gid" -s "$size" -D "$secs" -p "$port" 127.0.0.1 > "$work/client" 2>&1
	crc=$?
	timeout 30 tail --pid="$srv" -f /dev/null; kill "$srv" 2>/dev/null; wait "$srv"; src=$?
	kill "$stress" 2>/dev/null; wait "$stress" 2>/dev/null
}
# Two-node: the client's calibration happens on the other side, where a one-vCPU guest fails
# it more often; the server then only sees the client go away ("Couldn't read remote
# address"). A server run without a report is repeated up to twice; the client retries by
# itself.
# One node: a client that exited with an error (1, not killed) before the measurement began (no
# "#bytes" header) and said its TCP exchange of keys and addresses failed is repeated too, with a
# server of its own (CI on 6.1, 1 Dec: "client finished (exit 1)" after 139 s). Not repeated: a
# client that failed or hung during the measurement, with the NIC writing into the file (that is
# what the test is about), and a server that could not register the file.
attempts=3
setup_re="Couldn't connect|Failed to exchange data|Unable to (init the socket|read from socket)|ethernet_read_keys|Couldn't read remote address"
for attempt in $(seq $attempts); do
	port=$((18515 + RANDOM % 1000))
	[ $remote = 1 ] && port=18515
	run_once
	if [ $remote = 1 ]; then
		grep -q "Couldn't read remote address" "$work/server" || break
		why="the remote client went away before the report (its log says why)"
	elif grep -q "Can't produce a report" "$work/client"; then
		why="ib_write_bw's clock calibration failed (Can't produce a report)"
	elif [ "$crc" = 1 ] && ! grep -q '#bytes' "$work/client" && grep -qE "$setup_re" "$work/client" &&
		! grep -qE "Couldn't allocate MR|Couldn't create IB resources" "$work/server"; then
		why="the client's exchange with the server failed before the measurement began (exit $crc)"
	else
		break
	fi
	[ "$attempt" = "$attempts" ] && break
	# Another attempt only if a whole one (2 s, the client's limit, the server's 30 s) still fits
	# in what is left of the runner's limit.
	[ $(( deadline - $(date +%s) )) -gt $(( secs + 95 )) ] || { echo "# attempt $attempt: $why; no time left for another"; break; }
	echo "# attempt $attempt: $why; running again"
	sed "s/^/# attempt $attempt: /" "$report"
	[ "$report" = "$work/server" ] || sed "s/^/# attempt $attempt: server: /" "$work/server"
done

sed 's/^/# server: /' "$work/server"
# A kernel that refuses long-term write pins of file pages (upstream since 6.5: no series, no
# pin_writeback_* counters) fails the server's registration of the mmap'd file: REFUSED, as
# pw_reg_mr() reports it for the C tests (ib_write_bw does not print the errno).
kv=$(uname -r | awk -F. '{ print $1 * 1000 + $2 }')
if grep -q "Couldn't allocate MR" "$work/server" && ! grep -q '^pin_writeback_wait ' /proc/vmstat &&
	[ "$kv" -ge 6005 ]; then
	echo "# REFUSED ib_write_bw could not register the mmap'd ext4 file (this kernel refuses long-term write pins of file pages, as upstream does since 6.5)"
	rm -rf "$work"
	exit 5
fi
if [ $remote = 1 ]; then
	crc=0 n=1
	echo "# the client ran on the other side ($PINWB_PEER_ADDR; its output is in its results)"
	[ "$src" = 0 ] && echo "ok 1 server finished" || echo "not ok 1 server finished (exit $src)"
else
	sed 's/^/# client: /' "$work/client"
	n=2
	[ "$crc" = 0 ] && echo "ok 1 client finished" || echo "not ok 1 client finished (exit $crc)"
	[ "$src" = 0 ] && echo "ok 2 server finished" || echo "not ok 2 server finished (exit $src)"
fi
# The result row: "#bytes #iterations BW peak BW average MsgRate"; the header says the unit.
unit=$(grep -o 'BW average\[[^]]*\]' "$report" | head -n 1 | sed 's/BW average\[\(.*\)\]/\1/')
bw=$(awk -v s="$size" '$1 == s && NF >= 5 { print $4 }' "$report" | tail -n 1)
if [ -n "$bw" ]; then
	echo "ok $((n + 1)) bandwidth reported: $bw ${unit:-?}"
	echo "# seen: ib_write_bw ${secs}s of ${size}-byte writes$([ $remote = 1 ] && echo " from the other guest") into an ext4 mmap under sync/fsync/drop_caches: $bw ${unit:-?}"
else
	echo "not ok $((n + 1)) no bandwidth line in the $([ $remote = 1 ] && echo "server's" || echo "client's") output"
fi
rm -rf "$work"
[ "$crc" = 0 ] && [ "$src" = 0 ] && [ -n "$bw" ] && exit 0
exit 1
