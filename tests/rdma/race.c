// SPDX-License-Identifier: GPL-2.0
/*
 * race: registration racing with writeback (the seed thread's point [2]: GUP must wait for
 * writeback in progress, since that writeback may not see the new pin). Each iteration dirties
 * a 16-block ext4 file through its CPU mapping, starts writeback of it with
 * sync_file_range(SYNC_FILE_RANGE_WRITE) and does not wait, registers an MR over it at once
 * (so the pin is taken while the pages are under writeback), RDMA-writes a new generation,
 * fsyncs and reads the blocks straight from the device (O_DIRECT at the file's extents): every
 * block must hold that generation. Then it RDMA-writes one more generation and checks the same
 * after a second fsync: the writeback that was in flight when the pin was taken must not have
 * left the pages looking clean for good. Then the MR is deregistered. 200 iterations or 60 s,
 * whichever ends first; nothing may be lost in any of them. (On a stock kernel the first check
 * passes, because registration write-faults the pages dirty, and the second fails.)
 *
 * Under QEMU a 64 KiB write completes before sync_file_range() returns, and on a debug kernel
 * even 4 MiB of ballast written first did not keep the pages under writeback until GUP reached
 * them. So the filesystem is on a dm-linear device (tests/rdma/race.sh, PINWB_DM) that is
 * suspended (--nolockfs) before sync_file_range(): the writeback's bios wait in dm, and a child
 * resumes the device HOLD_MS after ibv_reg_mr was called. How many of the 16 pages really were
 * under writeback when ibv_reg_mr was called (PG_writeback, from /proc/self/pagemap and
 * /proc/kpageflags) is counted; at least one page must have been, and with the series the pins
 * must have waited for it (the premise: without it the run never opened the window it is
 * named after, and its passes would prove nothing).
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "registering an MR over pages under writeback, then RDMA write + fsync: the data reaches disk";

#define NBLK 16
#define BALLAST 1024		/* blocks, after the NBLK under test */
#define ITERATIONS 200
#define MAX_S 60
#define HOLD_MS 100

extern char **environ;
static const char *dm;

/*
 * Resume the device HOLD_MS from now, from a child: the registration it unblocks holds
 * mmap_lock, so nothing in this process may fork or allocate meanwhile (posix_spawn() shares
 * the address space until the exec).
 */
static pid_t dm_resume_later(void)
{
	char cmd[256];
	char *argv[] = { "sh", "-c", cmd, NULL };
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "sleep %d.%03d; DM_DISABLE_UDEV=1 dmsetup resume %s",
		 HOLD_MS / 1000, HOLD_MS % 1000, dm);
	if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ))
		pw_die("posix_spawn dmsetup resume: %s", strerror(errno));
	return pid;
}

/* How many pages of [addr, addr + n pages) are under writeback; -1 if that cannot be known. */
static int pages_under_writeback(const char *addr, size_t n)
{
	uint64_t flags;
	int count = 0;
	size_t i;

	for (i = 0; i < n; i++)
		switch (pw_page_kflags(addr + i * PW_BLOCK, &flags)) {
		case 0:
			count += !!(flags & (1ull << PW_KPF_WRITEBACK));
			break;
		case 1:
			break;		/* not mapped */
		default:
			return -1;	/* no kpageflags, or no PFN without CAP_SYS_ADMIN */
		}
	return count;
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("race.dat");
	const size_t len = NBLK * PW_BLOCK;
	size_t lost = 0, n[PW_BLK_NR] = { 0 };
	unsigned int it, wb_iters = 0, bad_iters = 0, rdma_errors = 0;
	long long wb_pages = 0, waits, waits0;
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_dev d;
	char dev[64], *addr, *ballast;
	uint64_t *map;
	double t0;
	size_t i;
	int fd, k, err;

	(void)argc; (void)argv;
	dm = getenv("PINWB_DM");
	if (!dm)
		pw_die("PINWB_DM is not set: run tests/rdma/race.sh");
	pw_dev_open(&d);
	pw_plan(3);
	pw_qp_pair_create(&d, &qp, 32);
	pw_src_create(&d, &src, NBLK);

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ballast = malloc(BALLAST * PW_BLOCK);
	if (fd < 0 || !ballast || ftruncate(fd, len + BALLAST * PW_BLOCK))
		pw_die("create %s: %s", path, strerror(errno));
	addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (addr == MAP_FAILED)
		pw_die("mmap %s: %s", path, strerror(errno));
	for (i = 0; i < NBLK; i++)
		pw_fill_block(addr + i * PW_BLOCK, i, 1);
	if (fsync(fd))
		pw_die("fsync: %s", strerror(errno));
	map = pw_block_map(path, NBLK, dev, sizeof(dev));
	for (i = 0; i < NBLK; i++)
		if (map[i] == PW_NOT_ON_DISK)
			pw_die("block %zu of %s has no allocated block after fsync", i, path);

	waits0 = pw_vmstat("pin_writeback_wait");
	t0 = pw_now();
	for (it = 0; it < ITERATIONS && pw_now() - t0 < MAX_S; it++) {
		uint32_t cpu_gen = 3 * it + 2, rdma_gen = 3 * it + 3;
		struct pw_tally t;
		struct ibv_mr *mr;
		char *buf;
		int wb, round;

		pid_t resumer;
		int st;

		memset(ballast, it & 0xff, BALLAST * PW_BLOCK);
		if (pwrite(fd, ballast, BALLAST * PW_BLOCK, len) != BALLAST * PW_BLOCK)
			pw_die("write ballast: %s", strerror(errno));
		for (i = 0; i < NBLK; i++)
			pw_fill_block(addr + i * PW_BLOCK, i, cpu_gen);
		if (pw_dmsetup("suspend --nolockfs %s", dm))
			pw_die("dmsetup suspend --nolockfs %s failed", dm);
		if (sync_file_range(fd, len, BALLAST * PW_BLOCK, SYNC_FILE_RANGE_WRITE) ||
		    sync_file_range(fd, 0, len, SYNC_FILE_RANGE_WRITE))
			pw_die("sync_file_range: %s", strerror(errno));
		wb = pages_under_writeback(addr, NBLK);
		if (wb < 0)
			wb_pages = -1;
		else if (wb_pages >= 0 && wb) {
			wb_pages += wb;
			wb_iters++;
		}
		resumer = dm_resume_later();
		mr = pw_reg_mr(d.pd, addr, len, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
		err = errno;
		if (waitpid(resumer, &st, 0) != resumer || !WIFEXITED(st) || WEXITSTATUS(st))
			pw_die("iteration %u: dmsetup resume %s failed", it, dm);
		if (!mr)
			pw_die("iteration %u: ibv_reg_mr: %s", it, strerror(err));
		for (round = 0; round < 2; round++, rdma_gen++) {
			if (pw_write_gen(&qp, &src, mr, 0, NBLK, rdma_gen)) {
				rdma_errors++;
				pw_qp_pair_destroy(&qp);
				pw_qp_pair_create(&d, &qp, 32);
			}
			if (fsync(fd))
				pw_info("iteration %u: fsync: %s", it, strerror(errno));
			buf = pw_read_disk(dev, map, NBLK);
			pw_tally(buf, 0, NBLK, rdma_gen, &t);
			free(buf);
			for (k = 0; k < PW_BLK_NR; k++)
				n[k] += t.n[k];
			if (t.n[PW_BLK_OK] != NBLK) {
				lost += NBLK - t.n[PW_BLK_OK];
				if (!bad_iters++ || it + 1 == ITERATIONS)
					pw_info("iteration %u, fsync %d: on disk: %s", it, round + 1,
						pw_tally_str(&t));
			}
		}
		if (ibv_dereg_mr(mr))
			pw_die("ibv_dereg_mr: %s", strerror(errno));
	}
	if (wb_pages < 0)
		pw_info("%u iterations in %.1f s; pages under writeback at registration: unknown (no /proc/kpageflags)",
			it, pw_now() - t0);
	else
		pw_info("%u iterations in %.1f s; pages under writeback at registration: %lld, in %u iterations",
			it, pw_now() - t0, wb_pages, wb_iters);
	pw_info("all blocks on disk after fsync: %zu ok, %zu stale, %zu zero, %zu torn, %zu foreign",
		n[PW_BLK_OK], n[PW_BLK_STALE], n[PW_BLK_ZERO], n[PW_BLK_TORN], n[PW_BLK_FOREIGN]);

	waits = pw_vmstat("pin_writeback_wait");
	if (waits >= 0)
		pw_info("pin_writeback_wait went up by %lld: long-term pins that waited for writeback in flight",
			waits - waits0);
	/*
	 * The premise: registrations met writeback in flight. With the series, pins that waited
	 * for it are counted (pin_writeback_wait); without, the pages seen under writeback just
	 * before ibv_reg_mr are all there is.
	 */
	if (waits >= 0)
		pw_ok(waits - waits0 > 0, "premise: registrations waited for writeback in flight (pin_writeback_wait +%lld; %lld pages seen under writeback before ibv_reg_mr)",
		      waits - waits0, wb_pages);
	else
		pw_ok(wb_pages > 0, "premise: pages were under writeback when ibv_reg_mr was called (%lld pages, in %u of %u iterations)",
		      wb_pages, wb_iters, it);
	pw_ok(!rdma_errors, "RDMA writes completed in every iteration (%u failed)", rdma_errors);
	pw_ok(!lost, "RDMA generation on disk after each fsync in every iteration: %zu of %zu blocks lost, in %u checks of %u",
	      lost, (size_t)it * 2 * NBLK, bad_iters, 2 * it);
	pw_seen("%u iterations (%lld pages under writeback at registration, in %u iterations): %zu of %zu blocks lost on disk after fsync (%zu stale, %zu torn), in %u of %u checks",
		it, wb_pages, wb_iters, lost, (size_t)it * 2 * NBLK, n[PW_BLK_STALE], n[PW_BLK_TORN],
		bad_iters, 2 * it);
	pw_metric(lost, "blocks lost");

	munmap(addr, len);
	close(fd);
	free(map);
	free(ballast);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	return pw_result();
}
