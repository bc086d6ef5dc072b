# Helpers for the host-side tests (sourced): TAP lines on stdout, the exit status is the verdict.
# shellcheck shell=bash
t_n=0 t_fail=0
# t_ok CONDITION MESSAGE: CONDITION is evaluated by the shell.
t_ok() {
	t_n=$((t_n + 1))
	if eval "$1"; then echo "ok $t_n - $2"; else echo "not ok $t_n - $2"; t_fail=$((t_fail + 1)); fi
}
t_done() { echo "1..$t_n"; [ "$t_fail" = 0 ]; exit $?; }
