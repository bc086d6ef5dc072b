#!/bin/bash
# meta: a test that reports a failed subtest and still exits 0.
echo "1..2"; echo "ok 1 - the first subtest passes"; echo "not ok 2 - planted: a failure the exit status hides"
exit 0
