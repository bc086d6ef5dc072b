// SPDX-License-Identifier: GPL-2.0
/*
 * pinwrite: write(2) into a registered file range is dirty memory like any other (review
 * finding 1.5): it is counted in /proc/meminfo Dirty, and periodic writeback alone (no fsync,
 * no sync) puts it on disk within dirty_expire_centisecs + dirty_writeback_centisecs + a margin.
 * v2 of the series kept the buffers of pinned pages dirty with PG_dirty clear, so write(2)'s
 * mark_buffer_dirty() found them dirty already and never set PG_dirty: the write was not
 * counted, and memory-cleaning writeback skipped the page for as long as it stayed registered.
 * Run by pinwrite.sh, which sets the expiry to 2 s and the flusher interval to 1 s.
 * Steps: register NBLK blocks, RDMA-write generation 1, fsync; write(2) generation 5 into the
 * first NWRITE blocks; read Dirty; then read the block device every 0.5 s for up to WAIT_S.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "write(2) into a registered file range is counted as dirty and reaches the disk by periodic writeback alone";

#define NBLK 256
#define NWRITE 64
#define WAIT_S 20

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("pinwrite.dat");
	long long d0, d1, expire, interval;
	struct pw_tally t, rest;
	double t0, took = -1;
	struct pw_rig r;
	char dev[64], *blk, *buf;
	uint64_t *map;
	size_t i;

	(void)argc; (void)argv;
	pw_rig_open(&r, path, NBLK, 32);
	pw_plan(3);
	expire = pw_sysctl_get("/proc/sys/vm/dirty_expire_centisecs");
	if (pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 1) || fsync(r.f.fd))
		pw_die("generation 1: RDMA write or fsync failed");
	map = pw_block_map(path, NBLK, dev, sizeof(dev));
	sync();

	blk = malloc(NWRITE * PW_BLOCK);
	for (i = 0; i < NWRITE; i++)
		pw_fill_block(blk + i * PW_BLOCK, i, 5);
	d0 = pw_proc_field("/proc/meminfo", "Dirty");
	if (pwrite(r.f.fd, blk, NWRITE * PW_BLOCK, 0) != NWRITE * PW_BLOCK)
		pw_die("write(2) into the registered range: %s", strerror(errno));
	d1 = pw_proc_field("/proc/meminfo", "Dirty");
	pw_ok(d1 - d0 >= NWRITE * 4 * 3 / 4,
	      "write(2) of %d KiB into the registered range is counted: Dirty +%lld kB (%lld -> %lld)",
	      NWRITE * 4, d1 - d0, d0, d1);

	t0 = pw_now();
	do {
		usleep(500000);
		buf = pw_read_disk(dev, map, NWRITE);
		pw_tally(buf, 0, NWRITE, 5, &t);
		free(buf);
		if (t.n[PW_BLK_OK] == NWRITE) {
			took = pw_now() - t0;
			break;
		}
	} while (pw_now() - t0 < WAIT_S);
	interval = pw_sysctl_get("/proc/sys/vm/dirty_writeback_centisecs");
	pw_info("dirty_expire_centisecs %lld, dirty_writeback_centisecs %lld", expire, interval);
	pw_ok(took >= 0, "periodic writeback alone put the write(2) data on disk within %d s (%s; %.1f s)",
	      WAIT_S, pw_tally_str(&t), took);

	buf = pw_read_disk(dev, map + NWRITE, NBLK - NWRITE);
	pw_tally(buf, NWRITE, NBLK - NWRITE, 1, &rest);
	free(buf);
	pw_ok(rest.n[PW_BLK_OK] == NBLK - NWRITE, "the rest of the range still holds generation 1 on disk (%s)",
	      pw_tally_str(&rest));
	if (took >= 0)
		pw_seen("write(2) into the registered range: Dirty +%lld kB; on disk by periodic writeback after %.1f s",
			d1 - d0, took);
	else
		pw_seen("write(2) into the registered range: Dirty +%lld kB; not on disk after %d s of periodic writeback (%s)",
			d1 - d0, WAIT_S, pw_tally_str(&t));
	pw_metric(NWRITE - t.n[PW_BLK_OK], "written blocks not on disk by periodic writeback");

	free(blk);
	free(map);
	pw_rig_close(&r);
	return pw_result();
}
