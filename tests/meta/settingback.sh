#!/bin/bash
# meta: runs after 'setting' and fails on purpose, saying whether the runner put the scratch
# disk's stable_writes back to 0 after 'setting' left it at 1 (tests/meta/expect wants "is 0
# again"; a runner that only reported the setting would leave it at 1 here).
set -u
. "$PINWB_TOP/tests/rules.sh"
q=$(queue_attr "$PINWB_DISK" stable_writes)
echo "1..1"
if [ "$(cat "$q")" = 0 ]; then echo "not ok 1 - planted: $q is 0 again"
else echo "not ok 1 - $q is still $(cat "$q")"; fi
exit 1
