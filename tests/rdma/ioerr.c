// SPDX-License-Identifier: GPL-2.0
/*
 * ioerr: write errors under a registered file MR lose nothing once the device heals (issue 23).
 * tests/rdma/ioerr.sh makes an ext4 on a dm-linear device (named in PINWB_DM). Periodic
 * writeback is off, so only the test's fsync() calls write. Steps:
 *  1. a 1 MiB file registered as a writable MR (the registration write-faults every page) and
 *     fsynced, so that every block is allocated and mapped; generation 2 RDMA-written and
 *     fsynced: the block device holds it (the baseline: on a kernel without the series this
 *     already fails, as in persist);
 *  2. generation 3 RDMA-written; the file's blocks (only those: the journal and the metadata
 *     stay writable, so ext4 keeps running) swapped to dm "error" targets: fsync() must fail
 *     with EIO;
 *  3. generation 4 RDMA-written while the blocks still fail: fsync() must fail with EIO again.
 *     The errseq rules report an error once per file descriptor for each new error: a second
 *     fsync fails only if it wrote again and failed again, so the pages must still be looked
 *     on as dirty (and, with the series, every pinned page written again, in place or from a
 *     copy);
 *  4. the blocks healed (the linear table back): fsync() must return 0 and the block device
 *     must hold generation 4, the device's latest writes, in every block; the page cache and
 *     the mapping too.
 * Plain dirty pages would lose the data at step 2 (a failed write leaves them clean); a
 * long-term write-pinned page stays tagged and is rewritten at every data-integrity writeback.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "write errors under a registered file MR: fsync fails with EIO while the disk fails, then persists the device's latest writes once it heals";

#define NBLK 256
#define LEN ((size_t)NBLK * PW_BLOCK)
#define WB_KNOB "/proc/sys/vm/dirty_writeback_centisecs"
#define SECT (PW_BLOCK / 512)

/* Pinned pages written, in place or from a copy; -1 on a kernel without the series. */
static long long pinned_writes(void)
{
	long long bounce = pw_vmstat("pin_writeback_bounce");
	long long inplace = pw_vmstat("pin_writeback_inplace");

	return bounce < 0 ? -1 : bounce + (inplace < 0 ? 0 : inplace);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * A table over base (size sectors) that maps everything linearly except the device blocks
 * in map[0..n), which get "error" targets (consecutive blocks share one).
 */
static char *error_table(const uint64_t *map, size_t n, unsigned long long size, const char *base,
			 unsigned int *ranges)
{
	uint64_t *s = malloc(n * sizeof(*s));
	size_t cap = 128 * (n + 2), len = 0, i = 0;
	char *t = malloc(cap);
	unsigned long long at = 0;

	if (!s || !t)
		pw_die("out of memory");
	for (i = 0; i < n; i++)
		s[i] = map[i] / 512;
	qsort(s, n, sizeof(*s), cmp_u64);
	*ranges = 0;
	for (i = 0; i < n;) {
		unsigned long long start = s[i], end = s[i] + SECT;

		while (++i < n && s[i] <= end)
			end = s[i] + SECT > end ? s[i] + SECT : end;
		if (start > at)
			len += snprintf(t + len, cap - len, "%llu %llu linear %s %llu\n", at, start - at,
					base, at);
		len += snprintf(t + len, cap - len, "%llu %llu error\n", start, end - start);
		at = end;
		(*ranges)++;
	}
	if (at < size)
		snprintf(t + len, cap - len, "%llu %llu linear %s %llu\n", at, size - at, base, at);
	free(s);
	return t;
}

static void check_disk(const char *dev, const uint64_t *map, uint32_t gen, const char *what,
		       size_t *ok)
{
	struct pw_tally t;
	char *buf = pw_read_disk(dev, map, NBLK);

	pw_tally(buf, 0, NBLK, gen, &t);
	free(buf);
	pw_ok(t.n[PW_BLK_OK] == NBLK, "%s: generation %u on disk in every block (%s)", what, gen,
	      pw_tally_str(&t));
	if (ok)
		*ok = t.n[PW_BLK_OK];
}

static int fsync_errno(int fd)
{
	return fsync(fd) ? errno : 0;
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("ioerr.dat"), *dm;
	char dev[64], base[256], linear[512], *bad;
	unsigned long long size;
	long long b0, b1;
	unsigned int ranges;
	struct pw_tally t;
	struct pw_rig r;
	size_t healed;
	uint64_t *map;
	int err;

	(void)argc; (void)argv;
	dm = getenv("PINWB_DM");
	if (!dm)
		pw_die("PINWB_DM is not set: run tests/rdma/ioerr.sh");
	pw_dm_linear_table(dm, &size, base, sizeof(base));
	snprintf(linear, sizeof(linear), "0 %llu linear %s 0\n", size, base);

	pw_sysctl_set(WB_KNOB, 0);
	pw_rig_open(&r, path, NBLK, 32);
	pw_plan(8);

	/* 1. Allocated and mapped, then the baseline. */
	map = pw_block_map_synced(r.f.fd, path, NBLK, dev, sizeof(dev));
	if (pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 2))
		pw_die("RDMA write of generation 2 failed");
	err = fsync_errno(r.f.fd);
	if (err)
		pw_die("fsync of generation 2: %s", strerror(err));
	check_disk(dev, map, 2, "before the failure", NULL);

	/* 2. The file's blocks fail. */
	bad = error_table(map, NBLK, size, base, &ranges);
	pw_info("the file's %d blocks are %u extent(s) on %s", NBLK, ranges, dev);
	if (pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 3))
		pw_die("RDMA write of generation 3 failed");
	pw_dm_load(dm, bad);
	err = fsync_errno(r.f.fd);
	pw_ok(err == EIO, "fsync() while the file's blocks fail: EIO (%s)",
	      err ? strerror(err) : "it returned 0");

	/* 3. Newer device writes, still failing: the pages are written (and fail) again. */
	if (pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 4))
		pw_die("RDMA write of generation 4 failed");
	b0 = pinned_writes();
	err = fsync_errno(r.f.fd);
	b1 = pinned_writes();
	pw_ok(err == EIO, "a second fsync() while they still fail: EIO again (%s)",
	      err ? strerror(err) : "it returned 0, so it wrote nothing");
	if (b0 < 0)
		pw_skip("the second fsync wrote every pinned page again: no pin_writeback_bounce in /proc/vmstat (kernel without the series)");
	else
		pw_ok(b1 - b0 >= NBLK, "the second fsync wrote every pinned page again (pin_writeback_bounce + pin_writeback_inplace: +%lld, want >= %d)",
		      b1 - b0, NBLK);

	/* 4. Healed. */
	pw_dm_load(dm, linear);
	err = fsync_errno(r.f.fd);
	pw_ok(!err, "fsync() once the blocks write again: 0 (%s)", err ? strerror(err) : "yes");
	check_disk(dev, map, 4, "after healing", &healed);
	pw_tally(r.f.addr, 0, NBLK, 4, &t);
	pw_ok(t.n[PW_BLK_OK] == NBLK, "the registered mapping holds generation 4 (%s)",
	      pw_tally_str(&t));
	{
		char *buf = pw_read_direct(path, 0, LEN);

		if (!buf)
			pw_die("O_DIRECT read of %s failed", path);
		pw_tally(buf, 0, NBLK, 4, &t);
		free(buf);
		pw_ok(t.n[PW_BLK_OK] == NBLK, "an O_DIRECT read of the file returns generation 4 (%s)",
		      pw_tally_str(&t));
	}
	pw_seen("%zu/%d blocks of the device's writes made during the failure on disk after it healed",
		healed, NBLK);
	pw_metric(NBLK - healed, "blocks lost");
	free(bad);
	free(map);
	pw_rig_close(&r);
	pw_sysctl_restore();
	return pw_result();
}
