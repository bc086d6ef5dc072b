// SPDX-License-Identifier: GPL-2.0
/*
 * pageout: reclaim of registered pages keeps what writeback needs. madvise(MADV_PAGEOUT) on a
 * registered range hands its pages to reclaim (shrink_folio_list()), which cannot free them
 * (the pin holds a reference) but tries to release their buffers first. A pinned page that
 * lost its buffers cannot be written by the next data-integrity writeback of ext4 (the page
 * is marked PG_pin_dirty, its buffers are what writeback maps to blocks). The test registers a
 * writable MR over a file, RDMA-writes and fsyncs generation 2 (so the pages are clean and
 * the range is written), pages the range out three times, then RDMA-writes generation 3 and
 * fsyncs: generation 3 must be on disk, and the kernel log must stay clean.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/pinwb.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

const char pw_description[] = "MADV_PAGEOUT on a registered, written range, then RDMA write + fsync: the device's writes reach the disk";

#define NBLK 64

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("pageout.dat");
	int i, ret, fret, err = 0;
	struct pw_tally t;
	struct pw_rig r;
	char dev[64], *buf;
	uint64_t *map;

	(void)argc; (void)argv;
	pw_rig_open(&r, path, NBLK, 32);
	pw_plan(3);
	if (pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 2) || fsync(r.f.fd))
		pw_die("generation 2: RDMA write or fsync failed");
	map = pw_block_map(path, NBLK, dev, sizeof(dev));

	for (i = 0; i < 3 && !err; i++)
		if (madvise(r.f.addr, r.f.len, MADV_PAGEOUT))
			err = errno;
	pw_ok(!err, "madvise(MADV_PAGEOUT) on the registered range, three times%s%s",
	      err ? ": " : "", err ? strerror(err) : "");

	ret = pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 3);
	fret = fsync(r.f.fd);
	pw_ok(!ret && !fret, "generation 3 RDMA-written and fsync'd%s%s", fret ? ": " : "",
	      fret ? strerror(errno) : "");
	buf = pw_read_disk(dev, map, NBLK);
	pw_tally(buf, 0, NBLK, 3, &t);
	free(buf);
	pw_ok(t.n[PW_BLK_OK] == NBLK, "generation 3 on disk after the page-out (%s)", pw_tally_str(&t));
	pw_seen("after MADV_PAGEOUT, generation 3 on disk: %zu/%d", t.n[PW_BLK_OK], NBLK);
	pw_metric(NBLK - t.n[PW_BLK_OK], "blocks lost");
	free(map);
	pw_rig_close(&r);
	return pw_result();
}
