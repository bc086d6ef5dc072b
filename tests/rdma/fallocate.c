// SPDX-License-Identifier: GPL-2.0
/*
 * fallocate: zero range, collapse range and insert range under a registered file MR. The
 * series does not refuse them: like truncate and hole punching (tests/rdma/truncate.c) they take
 * the pinned pages of the range they change out of the file, and the MR keeps pages that are
 * no longer file data. What it must get right is what the file holds afterwards: the device's
 * writes up to the operation, at their new offsets, never older data.
 *
 * A 256-block file, registered whole; the device writes generations in turn, with no writer
 * running during an operation, so every block's expected content is known:
 *   gen 1 into all blocks, fsync (the pages are now clean: later device writes leave no dirty
 *         bit in a PTE);
 *   gen 2 into all, then FALLOC_FL_ZERO_RANGE over [32, 64);
 *   gen 3 into all, then FALLOC_FL_COLLAPSE_RANGE of [64, 96): the filesystem writes back
 *         what stays in the file from 64 on (XFS: [64, EOF); ext4: 64 and [96, EOF)), drops
 *         the pages from 64 on and moves [96, 256) down to [64, 224);
 *   gen 4 into all (only [0, 32) is still file data), then FALLOC_FL_INSERT_RANGE of 32 blocks
 *         at 128: [128, 224) moves up to [160, 256), [128, 160) is a hole;
 *   gen 5 into all.
 * Then the file must be, through read(2) while registered and from the block device (the
 * file's extents, O_DIRECT) after deregistration and fsync:
 *   [0, 32)    block i, gen 5 (the pages still pinned in the file);
 *   [32, 64)   zeros;
 *   [64, 128)  block i + 32, gen 3 (the device's last writes before the collapse);
 *   [128, 160) zeros;
 *   [160, 256) block i, gen 3.
 * Without the series' rule that write-pinned pages go to data-integrity writeback, the
 * collapse's writeback skips the pages the device wrote since the fsync and moves gen 1 into
 * [64, 128) and [160, 256) (stock 6.1). No crash, no warning, pins balance (the runner checks).
 *
 * Every boundary is a multiple of 32 blocks (128 KiB): a large folio of the page cache (XFS,
 * with transparent huge pages) could otherwise straddle one, and a pinned folio that cannot be
 * split is zeroed in part and left in the file, where the device's later writes would show.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "zero, collapse and insert range under a registered file MR: the file holds the device's last writes at their new offsets";

#define NBLK 256
#define ZERO_FIRST 32
#define ZERO_END 64
#define COLL_FIRST 64
#define COLL_LEN 32
#define INS_FIRST 128
#define INS_LEN 32

struct expect {
	size_t first, end;	/* file blocks [first, end) */
	long shift;		/* they hold block (i + shift) of the writes; ignored for zeros */
	uint32_t gen;		/* of generation gen; 0: zeros */
};

static const struct expect want[] = {
	{ 0, ZERO_FIRST, 0, 5 },
	{ ZERO_FIRST, ZERO_END, 0, 0 },
	{ ZERO_END, INS_FIRST, COLL_LEN, 3 },
	{ INS_FIRST, INS_FIRST + INS_LEN, 0, 0 },
	{ INS_FIRST + INS_LEN, NBLK, 0, 3 },
};
#define NWANT (sizeof(want) / sizeof(want[0]))
_Static_assert(ZERO_FIRST % 32 == 0 && ZERO_END % 32 == 0 && COLL_FIRST % 32 == 0 &&
	       COLL_LEN % 32 == 0 && INS_FIRST % 32 == 0 && INS_LEN % 32 == 0,
	       "fallocate: boundaries must stay 128 KiB aligned");

/* Check buf (the whole file) against want[]: a line per range, the number of wrong blocks. */
static size_t check(const char *buf, const char *when)
{
	size_t r, i, bad_all = 0;

	for (r = 0; r < NWANT; r++) {
		const struct expect *e = &want[r];
		size_t n[PW_BLK_NR] = { 0 }, bad = 0, first_bad = SIZE_MAX;
		uint32_t seen, first_seen = 0;
		enum pw_blk_state first_st = PW_BLK_OK;

		for (i = e->first; i < e->end; i++) {
			enum pw_blk_state st = pw_check_block(buf + i * PW_BLOCK, i + e->shift,
							      e->gen ? e->gen : 1, &seen);
			bool ok = e->gen ? st == PW_BLK_OK : st == PW_BLK_ZERO;

			n[st]++;
			if (!ok && !bad++) {
				first_bad = i;
				first_seen = seen;
				first_st = st;
			}
		}
		if (e->gen)
			pw_ok(!bad, "%s: [%zu, %zu) holds block i%+ld of gen %u: %zu ok, %zu of another generation, %zu zero, %zu torn, %zu foreign",
			      when, e->first, e->end, e->shift, e->gen, n[PW_BLK_OK], n[PW_BLK_STALE],
			      n[PW_BLK_ZERO], n[PW_BLK_TORN], n[PW_BLK_FOREIGN]);
		else
			pw_ok(!bad, "%s: [%zu, %zu) reads as zeros (%zu of %zu blocks not zero)",
			      when, e->first, e->end, bad, e->end - e->first);
		if (bad && first_st == PW_BLK_STALE)
			pw_info("%s: first wrong block %zu: generation %u", when, first_bad, first_seen);
		else if (bad)
			pw_info("%s: first wrong block %zu: %s", when, first_bad,
				pw_blk_state_name[first_st]);
		bad_all += bad;
	}
	return bad_all;
}

static void read_file(int fd, char *buf)
{
	ssize_t n = pread(fd, buf, NBLK * PW_BLOCK, 0);

	if (n != NBLK * PW_BLOCK)
		pw_die("read(2) of the whole file: %zd bytes, %s", n, n < 0 ? strerror(errno) : "short");
}

static void write_gen(struct pw_qp_pair *qp, struct pw_src *src, struct ibv_mr *mr, uint32_t gen)
{
	if (pw_write_gen(qp, src, mr, 0, NBLK, gen))
		pw_die("RDMA write of generation %u into all %d blocks failed", gen, NBLK);
}

static void falloc(int fd, int mode, const char *what, size_t first, size_t len)
{
	if (fallocate(fd, mode, first * PW_BLOCK, len * PW_BLOCK))
		pw_die("%s [%zu, %zu): %s", what, first, first + len, strerror(errno));
	pw_info("%s of blocks [%zu, %zu) with the MR registered", what, first, first + len);
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("fallocate.dat");
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_fmr f;
	struct pw_dev d;
	struct stat st;
	long long pins0, vmpin0, left;
	size_t bad_reg, bad_disk, bad_cached;
	int ret;
	char *buf, dev[64];
	uint64_t *map;

	(void)argc; (void)argv;
	pw_dev_open(&d);
	pw_plan(1 + 3 * (int)NWANT + 1);
	pw_qp_pair_create(&d, &qp, 32);
	pw_src_create(&d, &src, 32);
	pins0 = pw_pins_outstanding();
	vmpin0 = pw_proc_field("/proc/self/status", "VmPin");
	ret = pw_fmr_open(&d, &f, path, NBLK * PW_BLOCK, PROT_READ | PROT_WRITE,
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (ret)
		pw_die("ibv_reg_mr over %s: %s", path, strerror(-ret));

	write_gen(&qp, &src, f.mr, 1);
	if (fsync(f.fd))
		pw_die("fsync after generation 1: %s", strerror(errno));
	write_gen(&qp, &src, f.mr, 2);
	falloc(f.fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, "FALLOC_FL_ZERO_RANGE",
	       ZERO_FIRST, ZERO_END - ZERO_FIRST);
	write_gen(&qp, &src, f.mr, 3);
	falloc(f.fd, FALLOC_FL_COLLAPSE_RANGE, "FALLOC_FL_COLLAPSE_RANGE", COLL_FIRST, COLL_LEN);
	write_gen(&qp, &src, f.mr, 4);
	falloc(f.fd, FALLOC_FL_INSERT_RANGE, "FALLOC_FL_INSERT_RANGE", INS_FIRST, INS_LEN);
	write_gen(&qp, &src, f.mr, 5);

	if (fstat(f.fd, &st))
		pw_die("fstat: %s", strerror(errno));
	pw_ok(st.st_size == NBLK * PW_BLOCK,
	      "file size %lld, want %d (collapsed by %d blocks, then %d inserted)",
	      (long long)st.st_size, NBLK * PW_BLOCK, COLL_LEN, INS_LEN);

	buf = malloc(NBLK * PW_BLOCK);
	if (!buf)
		pw_die("out of memory");
	read_file(f.fd, buf);
	bad_reg = check(buf, "MR registered, read(2)");

	/* VmPin (exact, unlike the per-CPU vmstat pin counters) back before the fsync. */
	left = pw_fmr_dereg_settled(&f, vmpin0);
	ret = fsync(f.fd);
	pw_ok(left == vmpin0 && !ret, "deregistered: VmPin back to %lld kB (%lld kB), then fsync: %s",
	      vmpin0, left, ret ? strerror(errno) : "0");
	pw_pins_settle(pins0, 5000);
	/* The disk: the file's blocks read with O_DIRECT from its device (holes and unwritten: zeros). */
	map = pw_block_map(path, NBLK, dev, sizeof(dev));
	free(buf);
	buf = pw_read_disk(dev, map, NBLK);
	free(map);
	bad_disk = check(buf, "deregistered, fsync, block device");
	/* And what read(2) returns from now on, through a dropped page cache. */
	pw_drop_caches();
	read_file(f.fd, buf);
	bad_cached = check(buf, "deregistered, fsync, drop_caches, read(2)");
	free(buf);

	pw_seen("zero, collapse and insert range under the MR: wrong blocks %zu while registered, %zu on the block device, %zu through read(2) after drop_caches (of %d)",
		bad_reg, bad_disk, bad_cached, NBLK);
	pw_metric(bad_disk + bad_cached, "blocks wrong");

	pw_fmr_close(&f);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	return pw_result();
}
