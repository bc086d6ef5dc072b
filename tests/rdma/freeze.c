// SPDX-License-Identifier: GPL-2.0
/*
 * freeze: a frozen filesystem writes nothing, pinned pages included (review finding 1.11).
 * With a writable MR registered and written, the filesystem is frozen (FIFREEZE); the device
 * writes generation 3; sync(2) and fsync() on the frozen filesystem must write no sector to its
 * device (a snapshot taken now must stay valid); after the thaw (FITHAW), fsync puts generation
 * 3 on disk. v2 of the series wrote every pinned page during the freeze. sync and fsync run in
 * a child that gets WAIT_S to return, so that a blocked sync fails the test instead of hanging it.
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

const char pw_description[] = "sync and fsync on a frozen ext4 write nothing, pinned pages included; after the thaw fsync persists the device's writes";

#define NBLK 64
#define WAIT_S 30

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("freeze.dat");
	long long s0, s1;
	int mfd, st, ret;
	bool done = false;
	struct pw_tally t;
	struct pw_rig r;
	char dev[64], *buf;
	uint64_t *map;
	double t0;
	pid_t pid;

	(void)argc; (void)argv;
	pw_rig_open(&r, path, NBLK, 32);
	pw_plan(4);
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
	pid = fork();
	if (pid < 0)
		pw_die("fork: %s", strerror(errno));
	if (!pid) {
		sync();
		_exit(fsync(r.f.fd) ? 1 : 0);
	}
	t0 = pw_now();
	while (pw_now() - t0 < WAIT_S) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			done = true;
			break;
		}
		usleep(50000);
	}
	s1 = pw_dev_sectors_written(path);
	pw_ok(done, "sync + fsync on the frozen file system returned (%s)",
	      done ? "yes" : "no, still blocked: thawing");
	pw_ok(s1 - s0 == 0, "the frozen file system's device was written %lld sectors by sync + fsync (want 0)",
	      s1 - s0);

	if (ioctl(mfd, FITHAW, 0))
		pw_die("FITHAW: %s", strerror(errno));
	if (!done)
		waitpid(pid, &st, 0);
	if (fsync(r.f.fd))
		pw_info("fsync after the thaw: %s", strerror(errno));
	buf = pw_read_disk(dev, map, NBLK);
	pw_tally(buf, 0, NBLK, 3, &t);
	free(buf);
	pw_ok(t.n[PW_BLK_OK] == NBLK, "after the thaw, fsync puts generation 3 on disk (%s)",
	      pw_tally_str(&t));
	pw_seen("during the freeze sync + fsync wrote %lld sectors; after the thaw %zu/%d blocks on disk",
		s1 - s0, t.n[PW_BLK_OK], NBLK);
	pw_metric(s1 - s0, "sectors written while frozen");
	close(mfd);
	free(map);
	pw_rig_close(&r);
	return pw_result();
}
