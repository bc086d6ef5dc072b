// SPDX-License-Identifier: GPL-2.0
/*
 * eoftail: the registered page that straddles EOF. The device writes the whole page, its part
 * beyond EOF too; fsync must put zeros on disk beyond EOF (a later extension of the file would
 * read them) and leave the page itself alone: the device's bytes beyond EOF are in memory the
 * device owns, and zeroing them in the page would change what the device wrote. With the
 * series the page across EOF is written from a copy (zeroed beyond EOF) on every device, and the
 * others in place where the disk asks for no stable pages.
 * Steps: an NBLK-block file MR, fsync'd (every block allocated); the file truncated to
 * NBLK - 1 blocks + TAIL bytes, into the last registered page; generation 2 RDMA-written into
 * all NBLK blocks; fsync. Then, with the MR still registered:
 *  - the block device at the file's blocks (O_DIRECT): blocks [0, NBLK - 1) hold generation 2;
 *    the last block holds generation 2 in [0, TAIL) and zeros in [TAIL, 4096);
 *  - the mapping: the last page still holds the device's generation 2 beyond EOF;
 *  - read(2) of the last TAIL bytes: generation 2 (from the page cache: true on every kernel);
 *  - with the series: the page across EOF written from a copy (pin_writeback_bounce >= 1), and
 *    on a disk that asks for no stable pages the other NBLK - 1 in place (ext4; on XFS the
 *    pages of a large folio across EOF are copied with it, so: every page written, at least
 *    one in place).
 * A series that always copies passes all but the last (the data is right either way).
 * A kernel that writes that page in place without zeroing puts the device's bytes beyond EOF on
 * disk; one that zeroes the page (as for an unpinned page) takes them from the device.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "lib/pinwb.h"

const char pw_description[] = "the registered page across EOF: fsync puts zeros beyond EOF on disk and leaves the device's bytes in the page";

#define NBLK 8
#define TAIL 1000

/* Bytes of buf [from, to) that differ from want's; 0 if none. */
static size_t differ(const char *buf, const char *want, size_t from, size_t to)
{
	size_t n = 0;

	for (size_t i = from; i < to; i++)
		n += buf[i] != want[i];
	return n;
}

static size_t nonzero(const char *buf, size_t from, size_t to)
{
	size_t n = 0;

	for (size_t i = from; i < to; i++)
		n += buf[i] != 0;
	return n;
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("eoftail.dat");
	const off_t size = (off_t)(NBLK - 1) * PW_BLOCK + TAIL;
	char dev[64], want[PW_BLOCK], tail[TAIL], *disk, *page;
	long long b0, b1, i0, i1;
	struct statfs sfs;
	int stable;
	struct pw_tally t;
	struct pw_rig r;
	uint64_t *map;
	size_t bad;

	(void)argc; (void)argv;
	pw_rig_open(&r, path, NBLK, NBLK);
	pw_plan(8);
	if (fsync(r.f.fd))
		pw_die("first fsync: %s", strerror(errno));
	if (ftruncate(r.f.fd, size))
		pw_die("ftruncate to %lld bytes: %s", (long long)size, strerror(errno));

	pw_ok(!pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 2),
	      "generation 2 RDMA-written into all %d registered pages, the last one beyond EOF (%lld bytes) too",
	      NBLK, (long long)size);
	stable = pw_stable_writes(path);
	b0 = pw_vmstat("pin_writeback_bounce");
	i0 = pw_vmstat("pin_writeback_inplace");
	if (fsync(r.f.fd))
		pw_die("fsync: %s", strerror(errno));
	b1 = pw_vmstat("pin_writeback_bounce");
	i1 = pw_vmstat("pin_writeback_inplace");

	map = pw_block_map(path, NBLK, dev, sizeof(dev));
	if (map[NBLK - 1] == PW_NOT_ON_DISK)
		pw_die("the last block of %s has no block on disk after fsync", path);
	disk = pw_read_disk(dev, map, NBLK);
	pw_fill_block(want, NBLK - 1, 2);

	pw_tally(disk, 0, NBLK - 1, 2, &t);
	pw_ok(t.n[PW_BLK_OK] == NBLK - 1, "on disk: the %d whole blocks hold generation 2 (%s)", NBLK - 1,
	      pw_tally_str(&t));
	page = disk + (size_t)(NBLK - 1) * PW_BLOCK;
	bad = differ(page, want, 0, TAIL);
	pw_ok(!bad, "on disk: the last block's %d bytes before EOF hold generation 2 (%zu differ)", TAIL, bad);
	bad = nonzero(page, TAIL, PW_BLOCK);
	pw_ok(!bad, "on disk: the last block's %d bytes beyond EOF are zeros (%zu are not)", PW_BLOCK - TAIL,
	      bad);

	page = r.f.addr + (size_t)(NBLK - 1) * PW_BLOCK;
	bad = differ(page, want, TAIL, PW_BLOCK);
	pw_ok(!bad, "in the registered page: the device's %d bytes beyond EOF are still there (%zu differ)",
	      PW_BLOCK - TAIL, bad);

	/* From the page cache: what a reader sees, on every kernel. */
	bad = TAIL;
	if (pread(r.f.fd, tail, TAIL, size - TAIL) == TAIL)
		bad = differ(tail, want, 0, TAIL);
	pw_ok(!bad, "read(2) (the page cache): the last %d bytes of the file hold generation 2 (%zu differ)",
	      TAIL, bad);

	if (b0 < 0)
		pw_skip("the page across EOF written from a copy: no pin_writeback_bounce in /proc/vmstat (kernel without the series)");
	else
		pw_ok(b1 - b0 >= 1, "the page across EOF written from a copy (pin_writeback_bounce +%lld, want >= 1)",
		      b1 - b0);
	if (statfs(path, &sfs))
		pw_die("statfs %s: %s", path, strerror(errno));
	if (b0 < 0 || stable)
		pw_skip("the other pages written in place: %s",
			b0 < 0 ? "no pin_writeback_bounce in /proc/vmstat (kernel without the series)"
			       : "the disk asks for stable pages, so they are copied too");
	else if (sfs.f_type == EXT4_SUPER_MAGIC)
		pw_ok(i0 >= 0 && i1 - i0 >= NBLK - 1,
		      "the other %d pages written in place (the disk asks for no stable pages): pin_writeback_inplace %s%lld",
		      NBLK - 1, i0 < 0 ? "absent (a series that always copies) " : "+",
		      i0 < 0 ? 0 : i1 - i0);
	else
		/* XFS: the pages of a large folio across EOF are copied with it (cover letter). */
		pw_ok(i0 >= 0 && i1 - i0 >= 1 && (i1 - i0) + (b1 - b0) >= NBLK,
		      "every page written, those outside the folio across EOF in place (the disk asks for no stable pages): pin_writeback_inplace %s%lld, pin_writeback_bounce +%lld (want >= 1 in place, >= %d in all)",
		      i0 < 0 ? "absent (a series that always copies) " : "+", i0 < 0 ? 0 : i1 - i0,
		      b1 - b0, NBLK);
	pw_seen("beyond EOF on disk: %zu of %d bytes not zero; in the page: %zu of %d bytes not the device's",
		nonzero(disk + (size_t)(NBLK - 1) * PW_BLOCK, TAIL, PW_BLOCK), PW_BLOCK - TAIL,
		differ(r.f.addr + (size_t)(NBLK - 1) * PW_BLOCK, want, TAIL, PW_BLOCK), PW_BLOCK - TAIL);
	pw_metric(nonzero(disk + (size_t)(NBLK - 1) * PW_BLOCK, TAIL, PW_BLOCK), "bytes beyond EOF on disk");
	free(disk);
	free(map);
	pw_rig_close(&r);
	return pw_result();
}
