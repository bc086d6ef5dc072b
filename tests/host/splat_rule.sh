#!/bin/bash
# DESCRIPTION: the kernel-log rule (tests/rules.sh PINWB_SPLAT_RE) catches one line of every
# report class (tests/host/kmsg/reports: BUG/WARNING/Oops, BUG()/VM_BUG_ON, KASAN, KFENCE,
# UBSAN, lockdep, list corruption, hung task, RCU stall, panic) and lets a clean run's lines
# through (tests/host/kmsg/benign); an allow-file with a blank line does not silence the rule.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
. "$top/tests/rules.sh"

while IFS= read -r line; do
	case "$line" in '#'*|'') continue ;; esac
	t_ok "grep -qE \"\$PINWB_SPLAT_RE\" <<< '${line//\'/}'" "caught: ${line#*] }"
done < "$here/kmsg/reports"
while IFS= read -r line; do
	case "$line" in '#'*|'') continue ;; esac
	t_ok "! grep -qE \"\$PINWB_SPLAT_RE\" <<< '${line//\'/}'" "let through: ${line#*] }"
done < "$here/kmsg/benign"

# guest-run.sh drops comment and blank lines of NAME.dmesg-allow before using it as patterns
# (an empty pattern would match, and so allow, every line).
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '# allow\nPage cache invalidation failure\n\n' > "$tmp/allow"
printf '%s\n' "[ 1.0] Page cache invalidation failure on direct I/O." "[ 2.0] WARNING: CPU: 0 PID: 1 at mm/truncate.c:1 x" > "$tmp/log"
# shellcheck disable=SC2034 # used by t_ok's eval
filt=$(grep -o "grep -v -e '^#' -e '^\[\[:space:\]\]\*\$'" "$top/tests/guest-run.sh" | head -n 1)
t_ok "[ -n \"\$filt\" ]" "guest-run.sh filters blank and comment lines out of allow-files"
# shellcheck disable=SC2034 # used by t_ok's eval
left=$(grep -E "$PINWB_SPLAT_RE|Page cache invalidation failure" "$tmp/log" | grep -v -E -f <(grep -v -e '^#' -e '^[[:space:]]*$' "$tmp/allow"))
t_ok "[ \"\$(echo \"\$left\" | grep -c WARNING)\" = 1 ] && ! grep -q invalidation <<< \"\$left\"" "an allow-file with a blank line allows its pattern and nothing else"
t_done
