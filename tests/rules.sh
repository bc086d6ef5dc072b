# The rules every run in a guest obeys, shared by tests/guest-run.sh, tests/peer-run.sh and
# tests/peers/guest.sh, and by the scripts that check guests (sourced, not run).
# shellcheck shell=bash

# A kernel log line that fails the run. "Page cache invalidation failure" is added by
# guest-run.sh, which lets a test allow it (tests/rdma/NAME.dmesg-allow).
# Every report class of the kernel: BUG:/WARNING:/Oops (and KASAN, KFENCE, soft lockups,
# bad page state, which print "BUG:"), BUG()/VM_BUG_ON ("kernel BUG at", "invalid opcode", the
# "page dumped because" of VM_BUG_ON_PAGE/FOLIO), UBSAN, lockdep, list corruption, hung tasks and
# RCU stalls. tests/host/splat_rule.sh holds a line of each.
# shellcheck disable=SC2034 # used by the scripts that source this file
PINWB_SPLAT_RE='BUG:|WARNING:|Oops|KASAN|KFENCE|UBSAN|lockdep|possible circular locking|inconsistent lock state|general protection fault|Kernel panic|kernel BUG at|invalid opcode:|page dumped because|list_(add|del) corruption|blocked for more than [0-9]+ seconds|self-detected stall|detected stalls? on CPU|rcu_(sched|preempt) detected'

# console_reports LOG: the kernel lines (printk's timestamp: not the runner's echoes) of a guest's
# console log that break the rule above; nothing if the log is missing.
console_reports() { tr -d '\r' 2>/dev/null < "$1" | grep -a -E "^\[ *[0-9]+\.[0-9]+\] .*($PINWB_SPLAT_RE)"; }

# kmsg_mark TEXT: write a marker to the kernel log and print it, for kmsg_since.
kmsg_mark() { local m; m="$1 $(date +%s%N)"; echo "$m" > /dev/kmsg 2>/dev/null; echo "$m"; }

# kmsg_since MARKER: the kernel log from the marker on.
kmsg_since() { dmesg | awk -v m="$1" 'found; index($0, m) { found = 1; print }'; }

# pins_settle: wait up to 5 s for nr_foll_pin_acquired == nr_foll_pin_released (rxe drops MR
# references from deferred work), then print "ACQUIRED RELEASED". The counters are per-CPU
# until folded: vm.stat_refresh folds them before each read (a pin counted on one CPU and
# released on another can otherwise show more releases than pins for seconds).
pins_settle() {
	local _
	for _ in $(seq 50); do
		echo 1 > /proc/sys/vm/stat_refresh 2>/dev/null
		awk '$1=="nr_foll_pin_acquired"{a=$2} $1=="nr_foll_pin_released"{r=$2} END{exit a!=r}' /proc/vmstat && break
		sleep 0.1
	done
	echo 1 > /proc/sys/vm/stat_refresh 2>/dev/null
	awk '$1=="nr_foll_pin_acquired"{a=$2} $1=="nr_foll_pin_released"{r=$2} END{print a, r}' /proc/vmstat
}

# tests_meta NAME: its "GROUP TIMEOUT REQUIRES" from tests/rdma/TESTS, or for a test that runs on
# XFS only from tests/rdma/TESTS.xfs; nothing for a test in neither.
tests_meta() {
	awk -v t="$1" '$1 == t && $1 !~ /^#/ && NF >= 4 { print $2, $3, $4; exit }
		$1 == t && NF > 1 && NF < 4 { printf "tests_meta: %s: the line of %s has %d fields, not 4 (NAME GROUP TIMEOUT REQUIRES): ignored\n", FILENAME, t, NF > "/dev/stderr" }' \
		"$PINWB_TOP/tests/rdma/TESTS" "$PINWB_TOP/tests/rdma/TESTS.xfs"
}

# queue_attr DEV ATTR: the sysfs path of DEV's request queue attribute (a partition's is its
# disk's).
queue_attr() {
	local n
	n=$(basename "$(readlink -f "$1")")
	if [ -e "/sys/class/block/$n/partition" ]; then echo "/sys/class/block/$n/../queue/$2"
	else echo "/sys/class/block/$n/queue/$2"; fi
}

# disk_by_serial SERIAL: the disk with that serial (scripts/vm/run.sh gives the rig's two
# pinwb-scratch and pinwb-disk2), or a /dev/no-disk-with-serial-SERIAL path that is no device.
disk_by_serial() {
	local b
	for b in /sys/block/*; do
		[ "$(cat "$b/serial" 2>/dev/null)" = "$1" ] && { echo "/dev/${b##*/}"; return 0; }
	done
	echo "/dev/no-disk-with-serial-$1"
}

# memcg_enter NAME: move this shell into memory cgroup NAME (cgroup v2, memory controller on, as
# on any systemd machine), mounting cgroup2 if need be; says why on stdout if it cannot. Not in a
# command substitution: its subshell would move instead.
memcg_enter() {
	local cg=/sys/fs/cgroup
	grep -q " $cg cgroup2 " /proc/mounts || mount -t cgroup2 cgroup2 "$cg" || return 1
	grep -qw memory "$cg/cgroup.controllers" || { echo "no memory controller (CONFIG_MEMCG)"; return 1; }
	echo +memory > "$cg/cgroup.subtree_control" || return 1
	mkdir -p "$cg/$1" && echo $$ > "$cg/$1/cgroup.procs" || return 1
	grep -qx "0::/$1" "/proc/$BASHPID/cgroup" || { echo "not in /$1: $(cat "/proc/$BASHPID/cgroup")"; return 1; }
}
