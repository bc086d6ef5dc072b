// SPDX-License-Identifier: GPL-2.0
/*
 * truncate: truncation and hole punching of a file under a registered MR, while RDMA writes go
 * on. A writer thread RDMA-writes generation after generation into all 256 blocks of a file MR;
 * meanwhile the file is truncated to 128 blocks, a hole is punched in blocks [32, 64)
 * (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) and the file is extended back to 256 blocks
 * with ftruncate. Then the writer stops and a final generation is RDMA-written: first into the
 * blocks that stayed in the file, then into the removed ranges (those writes target pages that
 * are still pinned by the MR; they may complete or fail cleanly, and which is reported).
 *
 * What is correct, per Linux truncate semantics: truncate and hole punching remove the range's
 * pages from the page cache and free its blocks, and cannot be refused; from then on the range
 * reads as zeros until the file itself is written there again (write(2) or a store through a
 * mapping, which faults in a new page). A long-term pin does not keep a page in the file: the
 * MR still points at the removed pages, and whatever the device writes into them afterwards is
 * not file data (an MR's view of a file is only guaranteed while the file is not truncated or
 * punched under it). So:
 *  - the file size is 256 blocks (the last ftruncate);
 *  - the truncated-then-extended range [128, 256) and the punched hole [32, 64) read as zeros
 *    through read(2) while the MR is registered, and from the block device (the file's extents,
 *    O_DIRECT; a hole reads as zeros) after deregistration and fsync: unpinning (which marks the pages dirty) must not bring RDMA data back into
 *    the file, nor may stale data from before the truncation reappear;
 *  - the blocks that stayed in the file, [0, 32) and [64, 128), hold the final generation,
 *    through read(2) with the MR registered and on the block device after deregistration and
 *    fsync;
 *  - no crash, no warning and balanced pins (the runner checks dmesg and /proc/vmstat).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "truncate, hole punch and re-extend under a registered file MR: removed ranges read as zeros";

#define NBLK 256
#define HALF (NBLK / 2)
#define HOLE_FIRST 32
#define HOLE_END 64
#define FINAL_GEN 1000

/* Let the writer finish at least one more full pass over the MR. */
static void wait_pass(struct pw_writer *w)
{
	unsigned int p = atomic_load(&w->passes);
	int ms = 0;

	while (atomic_load(&w->passes) < p + 2 && ms < 20000) {
		usleep(1000);
		ms++;
	}
}

struct ranges {
	size_t kept_ok, kept_bad;	/* [0, 32) + [64, 128): final generation or not */
	size_t hole_nonzero;		/* [32, 64) */
	size_t ext_nonzero;		/* [128, 256) */
	char kept_str[160];
};

static void classify(const char *buf, struct ranges *r)
{
	struct pw_tally a, b;
	size_t i;

	memset(r, 0, sizeof(*r));
	pw_tally(buf, 0, HOLE_FIRST, FINAL_GEN, &a);
	pw_tally(buf + HOLE_END * PW_BLOCK, HOLE_END, HALF - HOLE_END, FINAL_GEN, &b);
	for (i = 0; i < PW_BLK_NR; i++)
		a.n[i] += b.n[i];
	r->kept_ok = a.n[PW_BLK_OK];
	r->kept_bad = HOLE_FIRST + HALF - HOLE_END - r->kept_ok;
	snprintf(r->kept_str, sizeof(r->kept_str), "%s", pw_tally_str(&a));
	for (i = HOLE_FIRST; i < HOLE_END; i++)
		if (pw_check_block(buf + i * PW_BLOCK, i, FINAL_GEN, NULL) != PW_BLK_ZERO)
			r->hole_nonzero++;
	for (i = HALF; i < NBLK; i++)
		if (pw_check_block(buf + i * PW_BLOCK, i, FINAL_GEN, NULL) != PW_BLK_ZERO)
			r->ext_nonzero++;
}

static void report(const struct ranges *r, const char *when)
{
	pw_ok(!r->kept_bad, "%s: blocks kept in the file hold the final generation (%s)", when,
	      r->kept_str);
	pw_ok(!r->hole_nonzero, "%s: punched hole [%d, %d) reads as zeros (%zu of %d blocks not zero)",
	      when, HOLE_FIRST, HOLE_END, r->hole_nonzero, HOLE_END - HOLE_FIRST);
	pw_ok(!r->ext_nonzero, "%s: truncated-then-extended [%d, %d) reads as zeros (%zu of %d blocks not zero)",
	      when, HALF, NBLK, r->ext_nonzero, NBLK - HALF);
}

static void read_file(int fd, char *buf)
{
	ssize_t n = pread(fd, buf, NBLK * PW_BLOCK, 0);

	if (n != NBLK * PW_BLOCK)
		pw_die("read(2) of the whole file: %zd bytes, %s", n, n < 0 ? strerror(errno) : "short");
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("truncate.dat");
	struct pw_writer w;
	struct ranges reg, after, cached;
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_fmr f;
	struct pw_dev d;
	struct stat st;
	long long pins0, left, vmpin0;
	int ret, kept_ret, removed_ret, unmapped, i;
	unsigned int errors;
	char *buf, dev[64];
	uint64_t *map;

	(void)argc; (void)argv;
	pw_dev_open(&d);
	pw_plan(12);
	pw_qp_pair_create(&d, &qp, 32);
	pw_src_create(&d, &src, 32);
	pins0 = pw_pins_outstanding();
	vmpin0 = pw_proc_field("/proc/self/status", "VmPin");
	ret = pw_fmr_open(&d, &f, path, NBLK * PW_BLOCK, PROT_READ | PROT_WRITE,
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (ret)
		pw_die("ibv_reg_mr over %s: %s", path, strerror(-ret));
	if (pw_write_gen(&qp, &src, f.mr, 0, NBLK, 1))
		pw_die("first RDMA write pass failed");
	if (fsync(f.fd))
		pw_die("fsync: %s", strerror(errno));

	pw_writer_start(&w, &qp, &src, f.mr, NBLK, 10);
	wait_pass(&w);
	if (ftruncate(f.fd, HALF * PW_BLOCK))
		pw_die("ftruncate to %d blocks: %s", HALF, strerror(errno));
	wait_pass(&w);
	if (fallocate(f.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, HOLE_FIRST * PW_BLOCK,
		      (HOLE_END - HOLE_FIRST) * PW_BLOCK))
		pw_die("punch hole [%d, %d): %s", HOLE_FIRST, HOLE_END, strerror(errno));
	wait_pass(&w);
	if (ftruncate(f.fd, NBLK * PW_BLOCK))
		pw_die("ftruncate back to %d blocks: %s", NBLK, strerror(errno));
	wait_pass(&w);
	pw_writer_stop(&w);
	errors = atomic_load(&w.errors);
	pw_info("writer: %u passes over %d blocks, %u with failed writes, across truncate/punch/extend",
		atomic_load(&w.passes), NBLK, errors);
	if (errors) {
		/* A failed completion leaves the QPs in the error state: start over. */
		pw_qp_pair_destroy(&qp);
		pw_qp_pair_create(&d, &qp, 32);
	}

	/* The final generation: blocks still in the file first, then the removed ranges. */
	kept_ret = pw_write_gen(&qp, &src, f.mr, 0, HOLE_FIRST, FINAL_GEN);
	if (!kept_ret)
		kept_ret = pw_write_gen(&qp, &src, f.mr, HOLE_END, HALF - HOLE_END, FINAL_GEN);
	removed_ret = pw_write_gen(&qp, &src, f.mr, HOLE_FIRST, HOLE_END - HOLE_FIRST, FINAL_GEN);
	if (!removed_ret)
		removed_ret = pw_write_gen(&qp, &src, f.mr, HALF, NBLK - HALF, FINAL_GEN);
	pw_info("final generation into the removed ranges (pages still pinned by the MR): %s",
		removed_ret ? "failed" : "completed");
	pw_ok(!kept_ret, "final generation RDMA-written into the blocks kept in the file");

	if (fstat(f.fd, &st))
		pw_die("fstat: %s", strerror(errno));
	pw_ok(st.st_size == NBLK * PW_BLOCK, "file size %lld, want %d (truncated to %d blocks, extended to %d)",
	      (long long)st.st_size, NBLK * PW_BLOCK, HALF, NBLK);

	buf = malloc(NBLK * PW_BLOCK);
	if (!buf)
		pw_die("out of memory");
	read_file(f.fd, buf);
	classify(buf, &reg);
	report(&reg, "MR registered, read(2)");

	/* VmPin (exact, unlike the per-CPU vmstat pin counters) back before the fsync. */
	left = pw_fmr_dereg_settled(&f, vmpin0);
	ret = fsync(f.fd);
	pw_ok(left == vmpin0 && !ret, "deregistered: VmPin back to %lld kB (%lld kB), then fsync: %s",
	      vmpin0, left, ret ? strerror(errno) : "0");
	pw_pins_settle(pins0, 5000);
	/* The disk itself: the file's blocks read with O_DIRECT from its device (holes: zeros). */
	map = pw_block_map(path, NBLK, dev, sizeof(dev));
	for (i = 0, unmapped = 0; i < NBLK; i++)
		unmapped += map[i] == PW_NOT_ON_DISK;
	free(buf);
	buf = pw_read_disk(dev, map, NBLK);
	free(map);
	classify(buf, &after);
	report(&after, "deregistered, fsync, block device");
	/* And through the page cache, after dropping it: what read(2) returns from now on. */
	pw_drop_caches();
	read_file(f.fd, buf);
	classify(buf, &cached);
	report(&cached, "deregistered, fsync, drop_caches, read(2)");
	free(buf);
	pw_info("after fsync, %d of %d blocks have no block on disk (holes; zeros by definition)",
		unmapped, NBLK);

	pw_seen("writes into removed pages %s (writer: %u failed passes); non-zero blocks: hole %zu/%d, extended range %zu/%d while registered, %zu/%d and %zu/%d after dereg; kept blocks wrong: %zu, %zu",
		removed_ret ? "failed" : "completed", errors,
		reg.hole_nonzero, HOLE_END - HOLE_FIRST, reg.ext_nonzero, NBLK - HALF,
		after.hole_nonzero, HOLE_END - HOLE_FIRST, after.ext_nonzero, NBLK - HALF,
		reg.kept_bad, after.kept_bad);
	pw_metric(after.hole_nonzero + after.ext_nonzero + after.kept_bad + cached.hole_nonzero +
		  cached.ext_nonzero + cached.kept_bad, "blocks wrong");

	pw_fmr_close(&f);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	return pw_result();
}
