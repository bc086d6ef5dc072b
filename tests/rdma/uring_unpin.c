// SPDX-License-Identifier: GPL-2.0
/*
 * uring_unpin: what a pinner wrote through a long-term pin reaches the disk after it unpins,
 * even when it never marks the pages dirty, and with no sync call.
 *
 * io_uring's fixed buffers are long-term write pins (pin_user_pages(FOLL_WRITE |
 * FOLL_LONGTERM)) that are released with unpin_user_page(), without set_page_dirty: what
 * IORING_OP_READ_FIXED put into a buffer that is a MAP_SHARED ext4 mapping is, to the page
 * cache, a change nobody reported. The test maps NBLK blocks of an ext4 file (written and
 * fsync'd: every block allocated, its place on the device known), registers the mapping as a
 * fixed buffer, fsyncs, makes background writeback eager (vm.dirty_expire_centisecs 100,
 * vm.dirty_writeback_centisecs 50, restored afterwards) and waits until cleaning writeback has
 * found the file idle (pin_writeback_idle, issue 20; or SETTLE_S seconds on a kernel without
 * it). Then READ_FIXED reads generation 2 from another file into the whole buffer, the buffers
 * are unregistered, and, without any sync, the device must hold generation 2 in every block
 * within CLEAN_S seconds (read from the block device).
 * A kernel without the series never writes these pages back: the change is lost. With the
 * series the pages are PG_pin_dirty; once unpinned, cleaning writeback writes them a last
 * time - also when it had found the mapping idle, because unpinning clears that.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "an io_uring fixed buffer over an ext4 mapping, READ_FIXED into it, unregistered: on disk without a sync";

#define NBLK 256
#define SETTLE_S 10
#define CLEAN_S 15
#define PREMISE_S 3

int pw_test(int argc, char **argv)
{
	char *path = strdup(pw_path("uring-unpin.dat")), *src = strdup(pw_path("uring-src.dat"));
	size_t len = (size_t)NBLK * PW_BLOCK;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	long long idle0, idle;
	struct pw_tally t;
	struct iovec iov;
	char dev[64], *buf;
	uint64_t *map;
	double t0, took;
	int fd, sfd, ret;
	void *addr;

	(void)argc; (void)argv;
	pw_scratch_quiesce();
	fd = pw_make_file(path, NBLK, 1);
	sfd = pw_make_file(src, NBLK, 2);
	map = pw_block_map(path, NBLK, dev, sizeof(dev));
	for (int i = 0; i < NBLK; i++)
		if (map[i] == PW_NOT_ON_DISK)
			pw_die("block %d of %s has no allocated block after fsync", i, path);
	addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (addr == MAP_FAILED)
		pw_die("mmap %s: %s", path, strerror(errno));
	ret = io_uring_queue_init(8, &ring, 0);
	if (ret)
		pw_die("io_uring_queue_init: %s", strerror(-ret));
	iov.iov_base = addr;
	iov.iov_len = len;
	ret = io_uring_register_buffers(&ring, &iov, 1);
	pw_refused_if_no_series(-ret, "io_uring_register_buffers of a writable MAP_SHARED file mapping");
	if (ret == -EOPNOTSUPP)	/* io_sqe_buffer_register() before 6.5 */
		pw_skip_all("io_uring refuses file-backed fixed buffers (EOPNOTSUPP, before 6.5)");
	if (ret)
		pw_die("io_uring_register_buffers over %s: %s", path, strerror(-ret));
	pw_plan(4);
	if (fsync(fd))
		pw_die("fsync: %s", strerror(errno));

	pw_writeback_eager(100, 50);
	/* Wait until cleaning writeback has found the pinned file idle (or SETTLE_S s). */
	idle0 = pw_vmstat("pin_writeback_idle");
	t0 = pw_now();
	do {
		usleep(250000);
		idle = pw_vmstat("pin_writeback_idle");
	} while ((idle0 < 0 || idle - idle0 < 2) && pw_now() - t0 < SETTLE_S);
	pw_info("waited %.1f s for the flusher (pin_writeback_idle %+lld)", pw_now() - t0,
		idle0 < 0 ? 0 : idle - idle0);

	/* The "device" write: READ_FIXED of generation 2 into the whole fixed buffer. */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read_fixed(sqe, sfd, addr, len, 0, 0);
	ret = io_uring_submit(&ring);
	if (ret != 1)
		pw_die("io_uring_submit: %s", strerror(ret < 0 ? -ret : EIO));
	ret = io_uring_wait_cqe(&ring, &cqe);
	if (ret)
		pw_die("io_uring_wait_cqe: %s", strerror(-ret));
	pw_ok(cqe->res == (int)len, "READ_FIXED of %zu bytes into the fixed buffer over the ext4 mapping: %d",
	      len, cqe->res);
	io_uring_cqe_seen(&ring, cqe);
	pw_tally(addr, 0, NBLK, 2, &t);
	pw_ok(t.n[PW_BLK_OK] == NBLK, "in the page cache after READ_FIXED: %s (want all %d of generation 2)",
	      pw_tally_str(&t), NBLK);

	/*
	 * The premise: while pinned, what only the "device" wrote stays out of cleaning
	 * writeback (the series skips such pages; a kernel without it never sees them).
	 */
	sleep(PREMISE_S);
	buf = pw_read_disk(dev, map, NBLK);
	pw_tally(buf, 0, NBLK, 1, &t);
	free(buf);
	pw_ok(t.n[PW_BLK_OK] == NBLK,
	      "%d s later, still pinned, no sync: on disk %s (want all %d still of generation 1)",
	      PREMISE_S, pw_tally_str(&t), NBLK);

	/* Unpin without marking anything dirty, then wait for cleaning writeback: no sync. */
	ret = io_uring_unregister_buffers(&ring);
	if (ret)
		pw_die("io_uring_unregister_buffers: %s", strerror(-ret));
	io_uring_queue_exit(&ring);
	took = pw_wait_on_disk(dev, map, 0, NBLK, 2, CLEAN_S, &t);
	if (took < 0)
		took = CLEAN_S;
	pw_ok(t.n[PW_BLK_OK] == NBLK,
	      "on disk %.1f s after the buffer was unregistered, no sync: %s (want all %d of generation 2 within %d s)",
	      took, pw_tally_str(&t), NBLK, CLEAN_S);
	pw_seen("READ_FIXED into an io_uring fixed buffer over a %d-block ext4 mapping, then unregistered: %zu of %d blocks on disk within %d s without a sync",
		NBLK, t.n[PW_BLK_OK], NBLK, CLEAN_S);
	pw_metric(NBLK - (long long)t.n[PW_BLK_OK], "blocks not written back");
	pw_sysctl_restore();
	munmap(addr, len);
	close(sfd);
	close(fd);
	free(map);
	free(path);
	free(src);
	return pw_result();
}
