#!/bin/bash
# meta: not a planted fault. Ends the holder that leak.sh left behind, so that the pins balance
# again and the rxe teardown after the last test does not wait for it.
pkill -x holdmr
for _ in $(seq 50); do pgrep -x holdmr >/dev/null || break; sleep 0.1; done
echo "1..1"
if pgrep -x holdmr >/dev/null; then echo "not ok 1 - holdmr still runs"; exit 1; fi
echo "ok 1 - holdmr is gone"
