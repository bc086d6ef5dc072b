#!/bin/bash
# meta: a test that passes but leaves the scratch disk asking for stable pages (every later test's
# filesystem would take the series' copy path): the runner must fail it and put the flag back.
set -u
. "$PINWB_TOP/tests/rules.sh"
q=$(queue_attr "$PINWB_DISK" stable_writes)
echo "1..1"
[ "$(cat "$q")" = 0 ] || { echo "not ok 1 - $q is $(cat "$q") already, not 0"; exit 1; }
echo 1 > "$q" || { echo "not ok 1 - could not write 1 to $q"; exit 1; }
echo "ok 1 - planted: $q left at 1"
