#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Run rdma-core's own test suite (its tests/ directory, staged by scripts/peers.sh) and record
one line per test case in a TSV file: id, outcome (pass fail error skip xfail xpass), seconds,
reason. Lines are written as the tests finish, so a guest that dies keeps what ran.

usage: run.py SUITE_DIR OUT.tsv [--dev rxe0] [--gid N] [-v]    (the suite's own options)
A test that runs longer than $PEERS_TEST_TIMEOUT seconds (default 180) is stopped with an
error, and the run goes on.
"""
import os
import signal
import sys
import time
import unittest
from importlib.machinery import SourceFileLoader

suite_dir, out_path = sys.argv[1], sys.argv[2]
sys.argv = [sys.argv[0]] + sys.argv[3:]
sys.path.insert(0, suite_dir)
from args_parser import parser  # noqa: E402  (rdma-core's: takes --dev, --gid ... off argv)

parser.parse_args()
suite_pkg = SourceFileLoader('tests', os.path.join(suite_dir, '__init__.py')).load_module()
limit = int(os.environ.get('PEERS_TEST_TIMEOUT', '180'))
out = open(out_path, 'w', buffering=1)


class TestTimeout(Exception):
    pass


def on_alarm(signum, frame):
    raise TestTimeout('no result after %d s' % limit)


class Recorder(unittest.TextTestResult):
    def startTest(self, test):
        self.t0 = time.monotonic()
        signal.alarm(limit)
        super().startTest(test)

    def stopTest(self, test):
        signal.alarm(0)
        super().stopTest(test)

    def record(self, test, outcome, reason=''):
        secs = time.monotonic() - getattr(self, 't0', time.monotonic())
        reason = ' '.join(str(reason).split())[:400]
        out.write('%s\t%s\t%.2f\t%s\n' % (test.id(), outcome, secs, reason))

    @staticmethod
    def why(err):
        return '%s: %s' % (err[0].__name__, err[1])

    def addSuccess(self, test):
        super().addSuccess(test)
        self.record(test, 'pass')

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.record(test, 'fail', self.why(err))

    def addError(self, test, err):
        super().addError(test, err)
        self.record(test, 'error', self.why(err))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.record(test, 'skip', reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.record(test, 'xfail', self.why(err))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.record(test, 'xpass')

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self.record(subtest, 'fail' if failed else 'error', self.why(err))


signal.signal(signal.SIGALRM, on_alarm)
suite = unittest.defaultTestLoader.loadTestsFromModule(suite_pkg)
result = unittest.TextTestRunner(verbosity=2, resultclass=Recorder).run(suite)
out.close()
sys.exit(0 if result.wasSuccessful() else 1)
