// SPDX-License-Identifier: GPL-2.0
/*
 * wberror: writeback that gives up on a write-pinned page keeps the device's data (review
 * finding 1.9). tests/rdma/wberror.sh makes an ext4 on a dm-linear device (named in PINWB_DM),
 * mounted errors=continue. Steps:
 *  1. a file of NBLK blocks whose even blocks of the first half and its last block are written
 *     (generation 1) and the rest are holes: nine extents, more than the four the inode holds,
 *     so the extent tree has a leaf block; the journal is checkpointed (FIFREEZE, FITHAW) and
 *     debugfs names that block;
 *  2. a remount, then EXT4_IOC_PRECACHE_EXTENTS, which caches every extent and every hole
 *     between them in the extent status tree, then BLKFLSBUF on the device (nothing is dirty
 *     yet, so its sync writes nothing), which drops the leaf block from the cache: from here
 *     the page faults of a registration find the holes without reading the leaf, and
 *     allocating them will read it;
 *  3. periodic writeback off; the whole file registered as a writable MR (the registration's
 *     write faults make delayed allocations of the holes) and RDMA-written (generation 2);
 *     the leaf block made unreadable (an error target in the dm table, swapped with --nolockfs
 *     so that nothing is written back meanwhile): fsync() must fail with EIO - ext4 cannot
 *     allocate the holes and gives up on the pages it had locked;
 *  4. the block made readable again: read(2) of the file must return generation 2 (a page that
 *     writeback invalidated is read from the disk into the pinned page, over the device's
 *     data: old blocks and zeros), fsync() must return 0 and the block device must hold
 *     generation 2 in every block.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "lib/pinwb.h"

const char pw_description[] = "writeback that cannot allocate a registered file's blocks (unreadable extent block) keeps the device's data: fsync fails, then persists it once the block reads again";

#define NBLK 32
#define LEN ((size_t)NBLK * PW_BLOCK)
#define WB_KNOB "/proc/sys/vm/dirty_writeback_centisecs"
#define EXT4_IOC_PRECACHE_EXTENTS _IO('f', 18)

static const char *dm;

/* The physical block of the inode's first extent tree block, from debugfs; 0 if none. */
static unsigned long long extent_tree_block(const char *dev, ino_t ino)
{
	char cmd[256], line[4096];
	unsigned long long blk = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "debugfs -R 'stat <%lu>' %s 2>/dev/null", (unsigned long)ino, dev);
	f = popen(cmd, "r");
	if (!f)
		pw_die("popen %s: %s", cmd, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "(ETB0):");

		if (p && !blk)
			blk = strtoull(p + strlen("(ETB0):"), NULL, 10);
	}
	pclose(f);
	return blk;
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("wberror.dat");
	unsigned long long leaf, size, sector;
	char dev[64], table[1024], base[256], blk[PW_BLOCK], *buf;
	struct pw_tally t;
	struct pw_rig r;
	struct stat st;
	uint64_t *map;
	ssize_t n;
	size_t i;
	int fd, fd2, mfd, ret, err;

	(void)argc; (void)argv;
	dm = getenv("PINWB_DM");
	if (!dm)
		pw_die("PINWB_DM is not set: run tests/rdma/wberror.sh");
	snprintf(dev, sizeof(dev), "/dev/mapper/%s", dm);

	/* The table as it is: one linear target over the whole disk. */
	pw_dm_linear_table(dm, &size, base, sizeof(base));

	/* 1. Nine extents: blocks 0, 2, ..., 14 and the last written, the rest holes. */
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		pw_die("open %s: %s", path, strerror(errno));
	for (i = 0; i < NBLK; i += 2) {
		size_t b = i < NBLK / 2 ? i : NBLK - 1;

		pw_fill_block(blk, b, 1);
		if (pwrite(fd, blk, PW_BLOCK, b * PW_BLOCK) != PW_BLOCK)
			pw_die("pwrite %s: %s", path, strerror(errno));
		if (b == NBLK - 1)
			break;
	}
	if (fsync(fd) || fstat(fd, &st))
		pw_die("fsync or fstat %s: %s", path, strerror(errno));

	mfd = open(pw_scratch(), O_RDONLY);
	if (mfd < 0 || ioctl(mfd, FIFREEZE, 0) || ioctl(mfd, FITHAW, 0))
		pw_die("FIFREEZE/FITHAW %s (to checkpoint the journal): %s", pw_scratch(),
		       strerror(errno));
	close(mfd);
	leaf = extent_tree_block(dev, st.st_ino);
	if (!leaf)
		pw_die("debugfs shows no extent tree block for inode %lu of %s",
		       (unsigned long)st.st_ino, dev);
	pw_info("inode %lu: extent tree block %llu", (unsigned long)st.st_ino, leaf);
	close(fd);

	/* 2. Cold caches; the extents and holes cached without the leaf block. */
	snprintf(table, sizeof(table), "umount %s && mount -t ext4 -o errors=continue %s %s",
		 pw_scratch(), dev, pw_scratch());
	if (system(table))
		pw_die("%s failed", table);
	fd = open(path, O_RDWR);
	if (fd < 0 || ioctl(fd, EXT4_IOC_PRECACHE_EXTENTS, 0))
		pw_die("EXT4_IOC_PRECACHE_EXTENTS %s: %s", path, strerror(errno));
	fd2 = open(dev, O_RDONLY);
	if (fd2 < 0 || ioctl(fd2, BLKFLSBUF, 0))
		pw_die("BLKFLSBUF %s: %s", dev, strerror(errno));
	close(fd2);

	pw_plan(5);

	/* 3. No periodic writeback from here: the delayed allocations wait for fsync(). */
	pw_sysctl_set(WB_KNOB, 0);
	pw_rig_open(&r, path, NBLK, 16);
	if (pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 2))
		pw_die("RDMA write of generation 2 failed");

	/* The leaf block unreadable. */
	sector = leaf * (PW_BLOCK / 512);
	snprintf(table, sizeof(table),
		 "0 %llu linear %s 0\n%llu %u error\n%llu %llu linear %s %llu\n",
		 sector, base, sector, PW_BLOCK / 512, sector + PW_BLOCK / 512,
		 size - sector - PW_BLOCK / 512, base, sector + PW_BLOCK / 512);
	pw_dm_load(dm, table);
	ret = fsync(r.f.fd);
	err = errno;
	pw_ok(ret && err == EIO, "fsync() while the extent block cannot be read fails with EIO (%s)",
	      ret ? strerror(err) : "it returned 0");

	/* 4. Readable again. */
	snprintf(table, sizeof(table), "0 %llu linear %s 0\n", size, base);
	pw_dm_load(dm, table);
	buf = malloc(LEN);
	if (!buf)
		pw_die("out of memory");
	n = pread(fd, buf, LEN, 0);
	if (n != (ssize_t)LEN)
		pw_die("pread %s: %s", path, n < 0 ? strerror(errno) : "short read");
	pw_tally(buf, 0, NBLK, 2, &t);
	pw_ok(t.n[PW_BLK_OK] == NBLK, "read(2) after the failure returns the device's data (%s)",
	      pw_tally_str(&t));
	pw_tally(r.f.addr, 0, NBLK, 2, &t);
	pw_ok(t.n[PW_BLK_OK] == NBLK, "and so does the registered mapping (%s)", pw_tally_str(&t));
	free(buf);
	ret = fsync(r.f.fd);
	err = errno;
	pw_ok(!ret, "fsync() once the block reads again returns 0 (%s)", ret ? strerror(err) : "yes");
	map = pw_block_map(path, NBLK, dev, sizeof(dev));
	buf = pw_read_disk(dev, map, NBLK);
	pw_tally(buf, 0, NBLK, 2, &t);
	pw_ok(t.n[PW_BLK_OK] == NBLK, "generation 2 on disk in every block (%s)", pw_tally_str(&t));
	pw_seen("%zu/%d blocks of the device's data on disk after the failed writeback",
		t.n[PW_BLK_OK], NBLK);
	free(buf);
	free(map);
	close(fd);
	pw_rig_close(&r);
	pw_sysctl_restore();
	return pw_result();
}
