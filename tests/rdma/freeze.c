// SPDX-License-Identifier: GPL-2.0
/*
 * freeze: a frozen filesystem writes nothing, pinned pages included (review finding 1.11).
 * With a writable MR registered and written, the filesystem is frozen (FIFREEZE) and the device
 * writes generation 3. A child calls sync(2), which must return, then fsync(), which may wait for
 * the thaw but must not write; 2 s later no sector may have been written to the frozen
 * filesystem's device (a snapshot taken now must stay valid). After the thaw (FITHAW) the
 * child's fsync() returns 0, and generation 3 is on disk with no further sync. v2 of the series
 * wrote every pinned page during the freeze.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/fs.h>

#include "lib/pinwb.h"

const char pw_description[] = "sync and fsync on a frozen ext4 write nothing, pinned pages included; the fsync returns after the thaw with the device's writes on disk";

#define NBLK 64
#define WAIT_S 30

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("freeze.dat");
	long long s0, s1;
	int mfd, st = 0, ret, p[2];
	bool done = false, synced = false;
	char c;
	struct pw_tally t;
	struct pw_rig r;
	char dev[64], *buf;
	uint64_t *map;
	double t0;
	pid_t pid;

	(void)argc; (void)argv;
	pw_rig_open(&r, path, NBLK, 32);
	pw_plan(5);
	if (pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 2) || fsync(r.f.fd))
		pw_die("generation 2: RDMA write or fsync failed");
	map = pw_block_map(path, NBLK, dev, sizeof(dev));
	sync();

	mfd = open(pw_scratch(), O_RDONLY);
	if (mfd < 0 || ioctl(mfd, FIFREEZE, 0))
		pw_die("FIFREEZE %s: %s", pw_scratch(), strerror(errno));
	ret = pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 3);
	pw_ok(!ret, "generation 3 RDMA-written into the frozen file system's pages");

	s0 = pw_dev_sectors_written(path);
	if (pipe(p))
		pw_die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		pw_die("fork: %s", strerror(errno));
	if (!pid) {
		sync();
		if (write(p[1], "s", 1) != 1)
			_exit(2);
		_exit(fsync(r.f.fd) ? 1 : 0);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	t0 = pw_now();
	while (pw_now() - t0 < WAIT_S && !synced) {
		synced = read(p[0], &c, 1) == 1;
		usleep(50000);
	}
	pw_ok(synced, "sync(2) on the frozen file system returned (%s)", synced ? "yes" : "no, still blocked");
	sleep(2);	/* and give the child's fsync() time to write, if it would */
	s1 = pw_dev_sectors_written(path);
	pw_ok(s1 - s0 == 0, "the frozen file system's device was written %lld sectors by sync + fsync (want 0)",
	      s1 - s0);

	if (ioctl(mfd, FITHAW, 0))
		pw_die("FITHAW: %s", strerror(errno));
	done = pw_reap(pid, WAIT_S * 1000, &st);
	if (!done) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	pw_ok(done && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "after the thaw, the fsync() called during the freeze returned 0 (%s)",
	      !done ? "not within the wait" : WIFEXITED(st) ? (WEXITSTATUS(st) ? "it failed" : "yes") : "killed");
	buf = pw_read_disk(dev, map, NBLK);
	pw_tally(buf, 0, NBLK, 3, &t);
	free(buf);
	pw_ok(t.n[PW_BLK_OK] == NBLK, "generation 3 on disk, written by that fsync() (%s)",
	      pw_tally_str(&t));
	pw_seen("during the freeze sync + fsync wrote %lld sectors; after the thaw %zu/%d blocks on disk",
		s1 - s0, t.n[PW_BLK_OK], NBLK);
	pw_metric(s1 - s0, "sectors written while frozen");
	close(mfd);
	free(map);
	pw_rig_close(&r);
	return pw_result();
}
