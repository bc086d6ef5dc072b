#!/bin/bash
# meta: a test that leaves a long-term pin behind (an MR held by a process that outlives it by
# 15 s, longer than the runner's 5 s pin settle). The runner must fail it for the pin balance.
# The holder then exits, so that the rxe teardown after the last test does not wait for it.
"$(dirname "$0")/bin/holdmr" 15 > /tmp/holdmr.out 2>&1 &
for _ in $(seq 100); do grep -q registered /tmp/holdmr.out 2>/dev/null && break; sleep 0.1; done
grep -q registered /tmp/holdmr.out || { echo "1..1"; echo "not ok 1 - holdmr did not register: $(cat /tmp/holdmr.out)"; exit 1; }
echo "1..1"; echo "ok 1 - the test itself passes (an MR stays registered by pid $!)"
