#!/bin/bash
# Run tests/rdma tests inside a pinwb guest (or on a real host: see docs/rig.md), blktests-style.
#
# usage: tests/guest-run.sh [TEST...]     (default: every test in tests/rdma/TESTS; TESTS.xfs with PINWB_FS=xfs)
# For each test: a fresh ext4 (-b 4096; XFS with PINWB_FS=xfs, checked with xfs_repair -n after
# the test) on $PINWB_DISK mounted at $PINWB_SCRATCH, a marker in
# /dev/kmsg, the test (tests/rdma/NAME.sh if present, else tests/rdma/bin/NAME), then the rules
# every test obeys: no new BUG:/WARNING:/Oops/KASAN/lockdep/UBSAN line after the marker, no
# "Page cache invalidation failure" unless tests/rdma/NAME.dmesg-allow lists it, and
# nr_foll_pin_acquired == nr_foll_pin_released afterwards.
# Writes $PINWB_RESULTS/NAME.{full,dmesg,result}; a .result line is NAME|RESULT|SECONDS|REASON.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
res=${PINWB_RESULTS:-$top/results/host}
export PINWB_SCRATCH=${PINWB_SCRATCH:-/mnt/scratch}
# The suite's filesystem (make check FS=xfs): the scratch one, and that of the tests on the second
# disk that are not about one filesystem (tests/rdma/lib/disk2.sh's mkfs_mount_fs).
export PINWB_FS=${PINWB_FS:-ext4}
. "$top/tests/rules.sh"
# The disks, found by serial (disk_by_serial), not by probe order; on a real host PINWB_DISK and
# PINWB_DISK2 name them.
PINWB_DISK=${PINWB_DISK:-$(disk_by_serial pinwb-scratch)}
PINWB_DISK2=${PINWB_DISK2:-$(disk_by_serial pinwb-disk2)}
export PINWB_DISK PINWB_DISK2
export PINWB_TOP=$top PINWB_RESULTS=$res
# Per-test metadata: tests/rdma/TESTS (NAME GROUP TIMEOUT REQUIRES), or TESTS.xfs for the tests
# of XFS alone (tests_meta, tests/rules.sh); tests listed in neither (the runner's own,
# tests/meta) get 300 s and no requirements.
meta_of() {	# meta_of NAME: "TIMEOUT REQUIRES"
	local m
	m=$(tests_meta "$1" | awk '{ print $2, $3 }')
	echo "${m:-300 -}"
}
# unmet REQUIRES: the first requirement this machine lacks, or nothing.
unmet() {
	local r
	for r in ${1//,/ }; do
		case "$r" in
		-) ;;
		disk2) [ -b "$PINWB_DISK2" ] || { echo "requires disk2: no second disk ($PINWB_DISK2)"; return; } ;;
		cmd:*) command -v "${r#cmd:}" >/dev/null || { echo "requires $r: ${r#cmd:} is not installed"; return; } ;;
		*) echo "requires $r: unknown requirement (tests/rdma/TESTS)"; return ;;
		esac
	done
}
# The tests' directory: tests/rdma, or tests/meta for the runner's own tests (scripts/check-meta.sh).
tdir=$top/${PINWB_TESTDIR:-tests/rdma}
mkdir -p "$res" "$PINWB_SCRATCH"

tests=("$@")
[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(grep -v -e '^#' -e '^[[:space:]]*$' "$top/tests/rdma/TESTS$([ "${PINWB_FS:-ext4}" = xfs ] && echo .xfs)" | awk '{print $1}')
printf '%s\n' "${tests[@]}" > "$res/order"

{ echo "kernel: $(uname -r)"; echo "filesystem: $PINWB_FS"; grep -E '^nr_foll_pin' /proc/vmstat; } > "$res/kernel.txt"

# Two-node topology (scripts/vm/pair.sh, or two real hosts with PINWB_TOPOLOGY=2node and
# PINWB_LOCAL_ADDR set): the device sits on the link to the writer, the tests listen on
# PINWB_LOCAL_ADDR for it (tests/peer-run.sh runs there), perftest serves its client.
if [ "${PINWB_TOPOLOGY:-}" = 2node ]; then
	[ -n "${PINWB_LOCAL_ADDR:-}" ] || { echo "guest-run: PINWB_TOPOLOGY=2node needs PINWB_LOCAL_ADDR" >&2; exit 2; }
	export PINWB_LISTEN=$PINWB_LOCAL_ADDR
fi

# The RDMA device (idempotent; a real host keeps its own if PINWB_RDMA_DEV is set).
if [ -z "${PINWB_RDMA_DEV:-}" ]; then
	if rxe=$("$top/scripts/setup_rxe.sh" --netdev "${PINWB_NETDEV:-lo}" 2>"$res/setup_rxe.err"); then
		echo "$rxe" > "$res/rxe.txt"
		export PINWB_RDMA_DEV=${rxe%% *}
	else
		echo "setup_rxe failed: $(cat "$res/setup_rxe.err")" > "$res/rxe.txt"
		# In a pinwb guest the device is part of the rig: no device is a failure, not a skip.
		if [ -n "${PINWB_GUEST:-}" ]; then
			for t in "${tests[@]}"; do
				echo "$t|fail|0|rig: $(head -n 1 "$res/setup_rxe.err")" > "$res/$t.result"
			done
			exit 0
		fi
	fi
fi

# In a pinwb guest the tests run inside a memory cgroup (cgroup v2, memory controller on), as
# on any systemd machine: the pages they dirty and pin are charged to it (review of v2: the suite
# never ran with MEMCG). No memory cgroup is a failure of the rig.
if [ -n "${PINWB_GUEST:-}" ]; then
	# (Not in a command substitution: its subshell would stay behind in the root cgroup.)
	if ! memcg_enter pinwb > "$res/memcg.err" 2>&1; then
		err=$(cat "$res/memcg.err")
		for t in "${tests[@]}"; do echo "$t|fail|0|rig: memory cgroup: $err" > "$res/$t.result"; done
		exit 0
	fi
	echo "memcg: $(cut -d: -f3 "/proc/$BASHPID/cgroup") ($(cat /sys/fs/cgroup/cgroup.subtree_control))" >> "$res/kernel.txt"
fi

bad_re="$PINWB_SPLAT_RE|Page cache invalidation failure"
knob=/sys/kernel/debug/pin_writeback_lock_delay_ms

# Settings a test may change and must put back (the library's pw_sysctl_set() restores them at
# exit, the disk2.sh helpers in their exit traps; a test killed by its timeout does neither):
# the writeback and huge page sysctls and the disks' queue/stable_writes (a partition's is its
# disk's). Their values before the first test, in $res/settings.ref, are the reference; a test
# that leaves one changed fails, and the runner puts it back, so that the next test does not
# inherit it. (Of each pair dirty_bytes/dirty_ratio, writing one zeroes the other, and a *_bytes
# cannot be written 0: a pair is put back by writing its non-zero member, which happens whatever
# the order, since each value is read again just before it is compared.)
for s in /proc/sys/vm/{dirty_bytes,dirty_background_bytes,dirty_ratio,dirty_background_ratio} \
	/proc/sys/vm/{dirty_expire_centisecs,dirty_writeback_centisecs,nr_hugepages,watermark_boost_factor} \
	"$(queue_attr "$PINWB_DISK" stable_writes)" "$(queue_attr "$PINWB_DISK2" stable_writes)"; do
	[ -r "$s" ] && printf '%s %s\n' "$(realpath "$s")" "$(cat "$s")"
done | sort -u -k1,1 > "$res/settings.ref"
# settings_left: the first setting left changed ("left PATH at VALUE, not VALUE0 (put back)"),
# after putting every one back and reading them all again. One that cannot be put back is said
# so, and its value now becomes the reference, so that the tests after this one are not blamed.
settings_left() {
	local path v0 v i first='' now paths=() was=() want=()
	while read -r path v0; do
		v=$(cat "$path" 2>/dev/null)
		[ "$v" = "$v0" ] && continue
		paths+=("$path"); was+=("$v"); want+=("$v0")
		echo "$v0" 2>/dev/null > "$path"
	done < "$res/settings.ref"
	for i in "${!paths[@]}"; do
		now=$(cat "${paths[i]}" 2>/dev/null)
		if [ "$now" = "${want[i]}" ]; then
			first=${first:-"left ${paths[i]} at ${was[i]}, not ${want[i]} (put back)"}
		else
			first=${first:-"left ${paths[i]} at ${was[i]}, not ${want[i]}, and it could not be put back (now $now)"}
			awk -v p="${paths[i]}" -v n="$now" '$1 == p { $2 = n } { print }' "$res/settings.ref" > "$res/settings.ref.new" &&
				mv "$res/settings.ref.new" "$res/settings.ref"
		fi
	done
	echo "$first"
}

prepare_scratch() {
	umount "$PINWB_SCRATCH" 2>/dev/null
	[ -b "$PINWB_DISK" ] || { echo "no scratch disk $PINWB_DISK"; return 1; }
	case "$PINWB_FS" in
	ext4) mkfs.ext4 -q -F -b 4096 "$PINWB_DISK" >/dev/null 2>&1 || { echo "mkfs.ext4 $PINWB_DISK failed"; return 1; } ;;
	xfs) command -v mkfs.xfs >/dev/null || { echo "mkfs.xfs is not installed (xfsprogs)"; return 1; }
	     mkfs.xfs -q -f -b size=4096 "$PINWB_DISK" >/dev/null 2>&1 || { echo "mkfs.xfs $PINWB_DISK failed"; return 1; } ;;
	*) echo "PINWB_FS is ext4 or xfs, not '$PINWB_FS'"; return 1 ;;
	esac
	mount -t "$PINWB_FS" "$PINWB_DISK" "$PINWB_SCRATCH" || { echo "mount -t $PINWB_FS $PINWB_DISK failed"; return 1; }
}

# run_once TEST RUN: one run of TEST; prints "RESULT|SECONDS|REASON" and appends to TEST.full
# and TEST.dmesg.
run_once() {
	local t=$1 run=$2 full=$res/$1.full reason='' cmd rc secs start marker acq rel pins_acq0 splat result allow
	local timeout_s requires leftover runout left
	read -r timeout_s requires < <(meta_of "$t")
	timeout_s=${PINWB_TEST_TIMEOUT:-$timeout_s}
	reason=$(unmet "$requires")
	if [ -n "$reason" ]; then
		case "$reason" in
		*"unknown requirement"*) echo "fail|0|$reason" ;;
		*) echo "# SKIP $reason" >> "$full"; echo "skip|0|$reason" ;;
		esac
		return
	fi
	if [ -e "$tdir/$t.sh" ] && [ ! -x "$tdir/$t.sh" ]; then
		echo "fail|0|${tdir#"$top"/}/$t.sh is not executable (its binary alone would run without its setup)"; return
	elif [ -x "$tdir/$t.sh" ]; then cmd=("$tdir/$t.sh")
	elif [ -x "$tdir/bin/$t" ]; then cmd=("$tdir/bin/$t")
	else echo "fail|0|no such test (${tdir#"$top"/}/bin/$t not built?)"; return
	fi
	if ! reason=$(prepare_scratch 2>&1); then
		echo "fail|0|scratch filesystem: $reason"; return
	fi
	[ "$repeat" -gt 1 ] && echo "# ---- run $run of $repeat ----" >> "$full"
	# The series' test knob starts at 0 for every test, whatever the last one did.
	[ -w "$knob" ] && echo 0 > "$knob"
	pins_acq0=$(awk '$1=="nr_foll_pin_acquired"{print $2}' /proc/vmstat)
	marker=$(kmsg_mark "pinwb-test: $t start")
	start=$(date +%s.%N)
	timeout -k 10 "$timeout_s" "${cmd[@]}" >> "$full" 2>&1
	rc=$?
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}')
	leftover=
	timeout 120 sync || leftover="sync after the test did not return within 120 s"
	if ! umount "$PINWB_SCRATCH" 2>>"$full"; then
		leftover=${leftover:-"the scratch filesystem could not be unmounted (still in use)"}
	elif [ "$PINWB_FS" = xfs ]; then
		# The filesystem the test leaves must be consistent (issue 21).
		if timeout 120 xfs_repair -n "$PINWB_DISK" > "$res/$t.xfs_repair" 2>&1; then
			echo "# xfs_repair -n $PINWB_DISK: no problems" >> "$full"
		else
			cat "$res/$t.xfs_repair" >> "$full"
			leftover=${leftover:-"xfs_repair -n $PINWB_DISK found problems: $(grep -v -E '^(Phase|[[:space:]]*-|[[:space:]]*$)' "$res/$t.xfs_repair" | head -n 1 | tr -d '|')"}
		fi
	fi
	# What a test must not leave behind: the knob set, a setting changed (settings_left), mounts
	# of the second disk, loop or device-mapper devices (the next test would fail for it). Found,
	# it fails this test and is cleaned up.
	if [ -r "$knob" ] && [ "$(cat "$knob")" != 0 ]; then
		leftover=${leftover:-"left $knob at $(cat "$knob")"}; echo 0 > "$knob"
	fi
	left=$(settings_left)
	[ -z "$left" ] || leftover=${leftover:-$left}
	left=$(grep -E "^($PINWB_DISK2|/dev/loop[0-9]+|/dev/mapper/[^ ]+) " /proc/mounts)
	if [ -n "$left" ]; then
		leftover=${leftover:-"left mounted: $(awk '{print $1 " on " $2; exit}' <<< "$left")"}
		awk '{print $2}' <<< "$left" | sort -r | xargs -r -n 1 umount -l 2>/dev/null
	fi
	if command -v dmsetup >/dev/null && DM_DISABLE_UDEV=1 dmsetup ls 2>/dev/null | grep -qv '^No devices found'; then
		leftover=${leftover:-"left device-mapper devices: $(DM_DISABLE_UDEV=1 dmsetup ls | head -n 1)"}
		DM_DISABLE_UDEV=1 dmsetup remove_all -f >/dev/null 2>&1
	fi
	if command -v losetup >/dev/null && [ -n "$(losetup -a 2>/dev/null)" ]; then
		leftover=${leftover:-"left loop devices: $(losetup -a | head -n 1)"}
		losetup -D 2>/dev/null
	fi
	kmsg_since "$marker" > "$res/$t.dmesg.run"
	cat "$res/$t.dmesg.run" >> "$res/$t.dmesg"
	read -r acq rel < <(pins_settle)
	allow=$tdir/$t.dmesg-allow
	if [ -f "$allow" ]; then
		splat=$(grep -E "$bad_re" "$res/$t.dmesg.run" | grep -v -E -f <(grep -v -e '^#' -e '^[[:space:]]*$' "$allow") | head -n 3)
	else
		splat=$(grep -E "$bad_re" "$res/$t.dmesg.run" | head -n 3)
	fi
	rm -f "$res/$t.dmesg.run"
	reason=
	# This run's own output (a test run several times appends to TEST.full).
	if [ "$repeat" -gt 1 ]; then runout=$(sed -n "/^# ---- run $run of/,\$p" "$full"); else runout=$(cat "$full"); fi
	case $rc in
	0) result=pass
	   # Exit 0 must agree with the test's own report.
	   if grep -q '^not ok' <<< "$runout"; then
		result=fail; reason="exit 0 but $(grep -m1 '^not ok' <<< "$runout")"
	   elif ! grep -qE '^ok ' <<< "$runout"; then
		result=fail; reason="exit 0 without a single passed subtest"
	   fi ;;
	4) result=skip; reason=$(grep -E '^# SKIP' "$full" | tail -n 1 | sed 's/^# SKIP //') ;;
	5) # REFUSED: the registration the test is about was refused, and nothing failed before it.
	   reason=$(grep -E '^# REFUSED' <<< "$runout" | tail -n 1 | sed 's/^# REFUSED //')
	   if [ -z "$reason" ]; then result=fail; reason="exit status 5 without a '# REFUSED' line"
	   elif grep -q '^not ok' <<< "$runout"; then result=fail; reason="refused after a failure: $(grep -m1 '^not ok' <<< "$runout")"
	   else result=refused
	   fi ;;
	124) result=fail; reason="timed out after ${timeout_s}s" ;;
	137) result=fail
	   if awk -v s="$secs" -v t="$timeout_s" 'BEGIN{exit !(s >= t)}'; then reason="timed out after ${timeout_s}s (and ignored SIGTERM)"
	   else reason="killed by SIGKILL after ${secs}s (not by the timeout: the OOM killer?)"; fi ;;
	*) result=fail
	   reason=$(grep -m1 -E '^not ok|^# FAIL' <<< "$runout")
	   [ -n "$reason" ] || reason="exit status $rc$( [ "$rc" -gt 128 ] && echo " (signal $((rc - 128)))")" ;;
	esac
	if [ -n "$leftover" ]; then
		result=fail; reason="after the test: $leftover${reason:+; $reason}"
	fi
	if [ -n "$splat" ]; then
		result=fail; reason="kernel log: $(echo "$splat" | head -n1 | sed 's/^\[[^]]*\] //')${reason:+; $reason}"
	fi
	if [ "$acq" != "$rel" ]; then
		result=fail; reason="pins unbalanced: nr_foll_pin_acquired $acq != nr_foll_pin_released $rel (+$((acq - pins_acq0)) in this test)${reason:+; $reason}"
	fi
	echo "# pins: acquired $acq released $rel" >> "$full"
	echo "$result|$secs|${reason//|/\/}"
}

# PINWB_REPEAT=N runs each test N times (make repro RUNS=N): TEST.runs has a line per run and
# TEST.result says in how many runs it failed.
repeat=${PINWB_REPEAT:-1}
for t in "${tests[@]}"; do
	: > "$res/$t.full"; : > "$res/$t.dmesg"; : > "$res/$t.runs"
	nfail=0 npass=0 nref=0 total=0 first_reason=
	for run in $(seq "$repeat"); do
		line=$(run_once "$t" "$run")
		IFS='|' read -r result secs reason <<< "$line"
		echo "$run|$line" >> "$res/$t.runs"
		total=$(awk -v a="$total" -v b="$secs" 'BEGIN{printf "%.1f", a+b}')
		case $result in
		pass) npass=$((npass + 1)) ;;
		fail) nfail=$((nfail + 1)); [ -n "$first_reason" ] || first_reason=$reason ;;
		refused) nref=$((nref + 1)); [ -n "$first_reason" ] || first_reason=$reason ;;
		*) [ -n "$first_reason" ] || first_reason=$reason ;;
		esac
	done
	if [ "$repeat" = 1 ]; then
		final=$result reason=$first_reason
	elif [ $nfail -gt 0 ]; then
		final=fail reason="failed in $nfail of $repeat runs: $first_reason"
	elif [ $nref -gt 0 ] && [ $npass -gt 0 ]; then
		final=fail reason="refused in $nref of $repeat runs, passed in $npass: $first_reason"
	elif [ $nref -gt 0 ]; then
		final=refused reason="refused in $nref of $repeat runs: $first_reason"
	elif [ $npass -gt 0 ]; then
		final=pass reason="passed in $npass of $repeat runs"
	else
		final=skip reason=$first_reason
	fi
	echo "$t|$final|$total|$reason" > "$res/$t.result"
	echo "$t: $final (${total}s)${reason:+ - $reason}"
done
[ -f /run/pinwb-rxe/rxe0 ] && "$top/scripts/setup_rxe.sh" --teardown >/dev/null 2>&1
exit 0
