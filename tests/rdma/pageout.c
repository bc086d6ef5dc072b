// SPDX-License-Identifier: GPL-2.0
/*
 * pageout: reclaim of registered pages loses nothing. madvise(MADV_PAGEOUT) on a registered
 * range hands its pages to reclaim. Without the series, or with it before 6.1 v7 / 6.12 v5,
 * shrink_folio_list() unmaps them, finds them pinned (folio_maybe_dma_pinned(), checked once a
 * folio is unmapped) and puts them back on the active list; since then it moves them to the
 * unevictable list without unmapping them (tests/rdma/reclaim.c tests that). The test
 * registers a writable MR over a file, RDMA-writes and fsyncs generation 2, pages the range
 * out three times - the premise: afterwards reclaim has handled pages of the range, which are
 * no longer mapped (/proc/self/pagemap) or are unevictable (/proc/kpageflags) - then
 * RDMA-writes generation 3 and fsyncs: generation 3 must be on disk (PG_pin_dirty and the
 * dirty tag survive either), and the kernel log must stay clean.
 * (Reclaim stops before it would release a pinned folio's buffers, so ext4_release_folio()'s
 * guard is not reached from here: that mutant is listed as not killed, tests/mutants/MUTANTS.)
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
	int i, ret, fret, err = 0, unmapped, unevictable;
	uint64_t kf;
	struct pw_tally t;
	struct pw_rig r;
	char dev[64];
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
	for (i = 0, unmapped = 0, unevictable = 0; i < NBLK; i++) {
		ret = pw_page_kflags(r.f.addr + (size_t)i * PW_BLOCK, &kf);
		unmapped += ret == 1;
		unevictable += !ret && (kf & (1ULL << PW_KPF_UNEVICTABLE));
	}
	pw_ok(!err && unmapped + unevictable > 0,
	      "premise: madvise(MADV_PAGEOUT) three times%s%s; reclaim unmapped %d and moved to the unevictable list %d of %d pages",
	      err ? ": " : "", err ? strerror(err) : "", unmapped, unevictable, NBLK);

	ret = pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 3);
	fret = fsync(r.f.fd);
	pw_ok(!ret && !fret, "generation 3 RDMA-written and fsync'd%s%s", fret ? ": " : "",
	      fret ? strerror(errno) : "");
	pw_disk_tally(dev, map, NBLK, 3, &t);
	pw_ok(t.n[PW_BLK_OK] == NBLK, "generation 3 on disk after the page-out (%s)", pw_tally_str(&t));
	pw_seen("MADV_PAGEOUT unmapped %d and made unevictable %d of %d pinned pages; generation 3 on disk: %zu/%d",
		unmapped, unevictable, NBLK, t.n[PW_BLK_OK], NBLK);
	pw_metric(NBLK - t.n[PW_BLK_OK], "blocks lost");
	free(map);
	pw_rig_close(&r);
	return pw_result();
}
