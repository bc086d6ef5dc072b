#!/bin/bash
# meta: a test that leaves a long-term pin behind (an MR held by a process that outlives it). The
# runner must fail it for the pin balance. tests/meta/unleak.sh, run next, ends the holder.
"$(dirname "$0")/bin/holdmr" 600 > /tmp/holdmr.out 2>&1 &
for _ in $(seq 100); do grep -q registered /tmp/holdmr.out 2>/dev/null && break; sleep 0.1; done
grep -q registered /tmp/holdmr.out || { echo "1..1"; echo "not ok 1 - holdmr did not register: $(cat /tmp/holdmr.out)"; exit 1; }
echo "1..1"; echo "ok 1 - the test itself passes (an MR stays registered by pid $!)"
