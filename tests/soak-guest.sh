#!/bin/bash
# The guest side of make soak (scripts/soak.sh): the tests named in PINWB_SOAK_TESTS, in turn,
# over and over for PINWB_SOAK_SECONDS, each run through tests/guest-run.sh (a fresh scratch
# filesystem, then its kernel-log slice and the pin balance checked), while stress-ng's vm
# (anonymous memory, touched and freed), hdd (file writes and reads) and dentry (file creation
# and deletion) stressors run in the background the whole time. The files are on a tmpfs: the
# disks are the tests'. Not the io stressor: its sync(2) loop writes back the pages race dirties
# before race can hold them under writeback, and race then fails its premise.
# One line per run in $PINWB_RESULTS/soak.log:
#   ITERATION TEST RESULT SECONDS LOST ITERATIONS-INSIDE PINS-OUTSTANDING REASON
# LOST is the test's "# metric:" figure (blocks lost or unreadable; - if it printed none),
# ITERATIONS-INSIDE the test's own count where it has one (race's iterations), else 1.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
res=${PINWB_RESULTS:?PINWB_RESULTS is not set}
secs=${PINWB_SOAK_SECONDS:-3000}
read -r -a tests <<< "${PINWB_SOAK_TESTS:-race stable invalidate persist}"
log=$res/soak.log
echo "kernel: $(uname -r)" > "$res/kernel.txt"
: > "$log"
if ! command -v stress-ng >/dev/null; then
	echo "0 stress-ng fail 0 - 0 0 stress-ng is not installed (apt-get install stress-ng, or make deps)" >> "$log"
	exit 0
fi
# The stressors live in the root cgroup and on a tmpfs, not on the disks the tests format.
mkdir -p /dev/shm/pinwb-soak
stress-ng --vm 1 --vm-bytes 10% --hdd 1 --hdd-bytes 16M --dentry 1 --temp-path /dev/shm/pinwb-soak \
	--timeout "$((secs + 120))s" --metrics-brief > "$res/stress-ng.log" 2>&1 &
stress=$!
sleep 2
if ! kill -0 "$stress" 2>/dev/null; then
	echo "0 stress-ng fail 0 - 0 0 stress-ng exited at once: $(tail -n 1 "$res/stress-ng.log")" >> "$log"
	exit 0
fi
end=$((SECONDS + secs)) iter=0
while [ "$SECONDS" -lt "$end" ]; do
	iter=$((iter + 1))
	for t in "${tests[@]}"; do
		[ "$SECONDS" -lt "$end" ] || break
		d=$res/runs/$iter
		mkdir -p "$d"
		PINWB_RESULTS=$d "$top/tests/guest-run.sh" "$t" > "$d/$t.out" 2>&1
		IFS='|' read -r _ result rsecs reason < "$d/$t.result" 2>/dev/null ||
			{ result=fail rsecs=0 reason="no result (see $d/$t.out)"; }
		lost=$(sed -n 's/^# metric: \([0-9][0-9]*\) .*/\1/p' "$d/$t.full" 2>/dev/null | tail -n 1)
		inside=$(sed -n 's/^# seen: \([0-9][0-9]*\) iterations.*/\1/p' "$d/$t.full" 2>/dev/null | tail -n 1)
		pins=$(awk '$1 == "nr_foll_pin_acquired" { a = $2 } $1 == "nr_foll_pin_released" { r = $2 }
			END { print a - r }' /proc/vmstat)
		kill -0 "$stress" 2>/dev/null || reason="stress-ng is gone${reason:+; $reason}"
		echo "$iter $t $result $rsecs ${lost:--} ${inside:-1} $pins ${reason:-}" >> "$log"
		# A passing run's files are not needed: its line says it all.
		[ "$result" = pass ] && rm -f "$d/$t".*
	done
done
kill "$stress" 2>/dev/null
wait "$stress" 2>/dev/null
rm -rf /dev/shm/pinwb-soak
echo "# stress-ng: $(grep -c . "$res/stress-ng.log") lines of log, last: $(tail -n 1 "$res/stress-ng.log")" >> "$log"
exit 0
