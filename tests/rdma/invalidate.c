// SPDX-License-Identifier: GPL-2.0
/*
 * invalidate: page-cache invalidation must not detach a DMA-pinned page from its file.
 * While RDMA writes stream into a registered file MR, O_DIRECT writes collide with pinned
 * pages (every 16th block), then POSIX_FADV_DONTNEED and drop_caches run. A final generation is
 * RDMA-written everywhere; it must be what the CPU mapping shows, what fsync puts on disk and
 * what read(2) returns after deregistration. The O_DIRECT collision is provoked on purpose, so
 * "Page cache invalidation failure" is allowed here (invalidate.dmesg-allow): lost data fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "O_DIRECT/fadvise/drop_caches while a file MR is registered lose no RDMA write";

#define NBLK 256
#define DIO_STRIDE 16

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("invalidate.dat");
	const uint32_t final_gen = 1000;
	struct pw_tally t;
	struct pw_rig r;
	struct pw_writer w;
	char dev[64], *dio, *buf;
	uint64_t *map;
	int dfd, dio_ok = 1, ret, cpu_bad, disk_bad, read_bad;
	size_t b;

	(void)argc; (void)argv;
	pw_rig_open(&r, path, NBLK, 32);
	pw_plan(4);
	if (fsync(r.f.fd))
		pw_die("fsync: %s", strerror(errno));
	map = pw_block_map(path, NBLK, dev, sizeof(dev));

	pw_writer_start(&w, &r.qp, &r.src, r.f.mr, NBLK, 10);

	/* O_DIRECT writes of a foreign pattern into pinned blocks, while RDMA writes go on. */
	dfd = open(path, O_RDWR | O_DIRECT);
	if (dfd < 0 || posix_memalign((void **)&dio, PW_BLOCK, PW_BLOCK))
		pw_die("open %s O_DIRECT: %s", path, strerror(errno));
	memset(dio, 0xd1, PW_BLOCK);
	for (b = 0; b < NBLK; b += DIO_STRIDE)
		if (pwrite(dfd, dio, PW_BLOCK, b * PW_BLOCK) != PW_BLOCK) {
			pw_info("O_DIRECT write of block %zu: %s", b, strerror(errno));
			dio_ok = 0;
		}
	close(dfd);
	free(dio);
	if (posix_fadvise(r.f.fd, 0, 0, POSIX_FADV_DONTNEED))
		pw_info("posix_fadvise(DONTNEED) failed");
	pw_drop_caches();
	usleep(200000);
	pw_writer_stop(&w);
	pw_info("writer: %u passes over %d blocks during the disruptions", atomic_load(&w.passes), NBLK);

	ret = pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, final_gen);
	pw_ok(!ret && !atomic_load(&w.errors) && dio_ok, "RDMA writes and O_DIRECT writes completed without error");

	pw_tally(r.f.addr, 0, NBLK, final_gen, &t);
	cpu_bad = NBLK - t.n[PW_BLK_OK];
	pw_ok(!cpu_bad, "final generation visible through the CPU mapping (%s)", pw_tally_str(&t));

	if (fsync(r.f.fd))
		pw_info("fsync: %s", strerror(errno));
	buf = pw_read_disk(dev, map, NBLK);
	pw_tally(buf, 0, NBLK, final_gen, &t);
	free(buf);
	disk_bad = NBLK - t.n[PW_BLK_OK];
	pw_ok(!disk_bad, "final generation on disk after fsync, MR still registered (%s)", pw_tally_str(&t));

	pw_fmr_dereg(&r.f);
	if (fsync(r.f.fd))
		pw_info("fsync: %s", strerror(errno));
	pw_drop_caches();
	buf = malloc(NBLK * PW_BLOCK);
	ret = pread(r.f.fd, buf, NBLK * PW_BLOCK, 0) == NBLK * PW_BLOCK;
	pw_tally(buf, 0, NBLK, final_gen, &t);
	free(buf);
	read_bad = NBLK - t.n[PW_BLK_OK];
	pw_ok(ret && !read_bad, "final generation in the file after deregistration (%s)", pw_tally_str(&t));

	pw_seen("RDMA-written blocks lost: %d via the CPU mapping, %d on disk after fsync, %d after deregistration (of %d; O_DIRECT hit %d)",
		cpu_bad, disk_bad, read_bad, NBLK, NBLK / DIO_STRIDE);
	pw_metric(read_bad, "blocks lost");

	pw_rig_close(&r);
	free(map);
	return pw_result();
}
