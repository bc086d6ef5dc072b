// SPDX-License-Identifier: GPL-2.0
/*
 * crash: what fsync promised must survive a crash while the MR is still registered.
 * In the guest: register a 256-block file MR, fsync, RDMA-write generation 2 into every block,
 * fsync (it returns 0: the promise), then ask the host to kill the guest with no shutdown
 * (crash.host does that, then replays the journal on a copy of the image and dumps the file).
 * On the host: "crash --verify FILE" checks that every block holds generation 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "after RDMA writes and fsync, a guest killed with the MR registered keeps what fsync covered";

#define NBLK 256
#define GEN 2

static int verify(const char *path)
{
	struct pw_tally t;
	char *buf = malloc(NBLK * PW_BLOCK);
	int fd = open(path, O_RDONLY);
	ssize_t n;

	pw_plan(1);
	if (fd < 0 || !buf)
		pw_die("open %s: %s", path, strerror(errno));
	n = pread(fd, buf, NBLK * PW_BLOCK, 0);
	if (n < 0)
		pw_die("read %s: %s", path, strerror(errno));
	if (n < NBLK * PW_BLOCK)
		memset(buf + n, 0, NBLK * PW_BLOCK - n);
	pw_tally(buf, 0, NBLK, GEN, &t);
	pw_ok(t.n[PW_BLK_OK] == NBLK, "every block holds generation %d after the crash (%s)", GEN,
	      pw_tally_str(&t));
	pw_seen("after fsync and a kill with the MR registered: %zu of %d blocks hold what fsync covered",
		t.n[PW_BLK_OK], NBLK);
	pw_metric(NBLK - t.n[PW_BLK_OK], "blocks lost");
	free(buf);
	close(fd);
	return pw_result();
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("crash.dat");
	struct pw_rig r;

	if (argc >= 3 && !strcmp(argv[1], "--verify"))
		return verify(argv[2]);
	pw_host_kill_required("crash");

	pw_rig_open(&r, path, NBLK, 32);
	if (pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 1) || fsync(r.f.fd))
		pw_die("generation 1 + fsync: %s", strerror(errno));
	if (pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, GEN))
		pw_die("RDMA writes of generation %d failed", GEN);
	if (fsync(r.f.fd))
		pw_die("fsync after generation %d: %s", GEN, strerror(errno));
	pw_info("generation %d RDMA-written and fsync'd with the MR registered; asking the host to kill the guest", GEN);
	pw_host_kill();
}
