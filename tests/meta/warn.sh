#!/bin/bash
# meta: a WARNING in the kernel log during a test that itself passes. The runner must fail it.
echo "<4>WARNING: CPU: 0 PID: $$ at tests/meta/warn.sh:3 pinwb_meta_planted+0x0/0x10" > /dev/kmsg
echo "1..1"; echo "ok 1 - the test itself passes"
