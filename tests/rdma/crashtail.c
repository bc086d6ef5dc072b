// SPDX-License-Identifier: GPL-2.0
/*
 * crashtail: a truncate into a registered page, committed by the journal alone, leaves no stale
 * tail on disk after a crash (review finding 1.5, its ordered-mode half).
 * In the guest: a 16-block file MR, generation 2 RDMA-written and fsync'd; then no device
 * writes, no periodic writeback, a 1 s journal commit interval, and ftruncate() to 1000 bytes
 * into block 8. ext4 zeroes the rest of that block in the page (the registered one) and, in
 * data=ordered mode, has the journal write the zeroed block before the commit that records the
 * new size. The test waits for a commit, then makes one more transaction (it creates a file)
 * and waits for its commit too: the truncate's transaction was the running one or the one
 * before, so it is on disk. Then it asks the host to kill the guest (crashtail.host, a link to
 * crash.host, replays the journal on a copy of the image).
 * On the host, "crashtail --verify FILE IMAGE": the file is 8 blocks + 1000 bytes of generation 2,
 * and the rest of block 8 on disk is zeros. v2 of the series kept the buffers of pinned pages
 * dirty without PG_dirty, so the zeroing never set PG_dirty, the commit's ordered writeback
 * (which writes PG_dirty pages only) skipped the page, and the old bytes stayed past EOF.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "a truncate into a registered page committed by the journal alone (no fsync) leaves zeros past EOF on disk after a crash";

#define NBLK 16
#define GEN 2
#define EOF_BLK 8
#define EOF_OFF 1000
#define NEW_SIZE ((off_t)EOF_BLK * PW_BLOCK + EOF_OFF)
#define WB_KNOB "/proc/sys/vm/dirty_writeback_centisecs"

/* /proc/fs/jbd2/DEV-8/info of the scratch filesystem's journal (jbd2_info_find()). */
static char jbd2_info[128];

static void jbd2_info_find(void)
{
	char dev[64], *slash;
	uint64_t *map;

	map = pw_block_map(pw_path("crashtail.dat"), 1, dev, sizeof(dev));
	free(map);
	slash = strrchr(dev, '/');
	snprintf(jbd2_info, sizeof(jbd2_info), "/proc/fs/jbd2/%s-8/info", slash ? slash + 1 : dev);
}

/* Transactions the journal of the scratch filesystem has committed. */
static long jbd2_transactions(void)
{
	long n = -1;
	FILE *f = fopen(jbd2_info, "r");

	if (!f)
		pw_die("open %s: %s (is the scratch filesystem journalled?)", jbd2_info, strerror(errno));
	if (fscanf(f, "%ld transactions", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

/* Wait up to 10 s for a commit after the count since; returns the new count. */
static long jbd2_wait_commit(long since, const char *after)
{
	long tx = since;
	int i;

	for (i = 0; i < 100 && tx <= since; i++) {
		usleep(100000);
		tx = jbd2_transactions();
	}
	if (tx <= since)
		pw_die("the journal committed no transaction in 10 s after %s", after);
	return tx;
}

static int verify(const char *path, const char *image)
{
	char cmd[512], line[256], *buf = calloc(NBLK, PW_BLOCK), *blk;
	unsigned long long phys = 0;
	size_t i, nonzero = 0, first = 0;
	struct pw_tally t;
	struct stat st;
	FILE *f;
	int fd = open(path, O_RDONLY), ifd;
	ssize_t n;

	pw_plan(3);
	if (fd < 0 || !buf || fstat(fd, &st))
		pw_die("open %s: %s", path, strerror(errno));
	pw_ok(st.st_size == NEW_SIZE, "the file is %lld bytes after the crash (want %lld: the truncate was committed)",
	      (long long)st.st_size, (long long)NEW_SIZE);
	n = pread(fd, buf, NBLK * PW_BLOCK, 0);
	if (n < 0)
		pw_die("read %s: %s", path, strerror(errno));
	close(fd);
	pw_tally(buf, 0, EOF_BLK, GEN, &t);
	pw_ok(t.n[PW_BLK_OK] == EOF_BLK, "blocks 0-%d hold generation %d (%s)", EOF_BLK - 1, GEN,
	      pw_tally_str(&t));

	/* Block EOF_BLK as the disk holds it, past EOF included: debugfs maps it. */
	snprintf(cmd, sizeof(cmd), "debugfs -R 'bmap /crashtail.dat %d' %s 2>/dev/null", EOF_BLK, image);
	f = popen(cmd, "r");
	if (!f)
		pw_die("popen %s: %s", cmd, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (!phys)
			phys = strtoull(line, NULL, 10);
	pclose(f);
	if (!phys)
		pw_die("debugfs maps no block %d of /crashtail.dat in %s", EOF_BLK, image);
	blk = buf + EOF_BLK * PW_BLOCK;
	ifd = open(image, O_RDONLY);
	if (ifd < 0 || pread(ifd, blk, PW_BLOCK, phys * PW_BLOCK) != PW_BLOCK)
		pw_die("read block %llu of %s: %s", phys, image, strerror(errno));
	close(ifd);
	for (i = EOF_OFF; i < PW_BLOCK; i++)
		if (blk[i] && !nonzero++)
			first = i;
	pw_ok(!nonzero, "block %d on disk (block %llu) is zero past EOF (%zu non-zero bytes of %u, first at %zu)",
	      EOF_BLK, phys, nonzero, PW_BLOCK - EOF_OFF, first);
	pw_seen("after a truncate to %d bytes into block %d and a crash: %zu stale bytes past EOF on disk",
		EOF_OFF, EOF_BLK, nonzero);
	pw_metric(nonzero, "stale bytes past EOF");
	free(buf);
	return pw_result();
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("crashtail.dat");
	char cmd[512];
	struct pw_rig r;
	long tx;
	int fd;

	if (argc >= 4 && !strcmp(argv[1], "--verify"))
		return verify(argv[2], argv[3]);
	pw_host_kill_required("crashtail");

	pw_rig_open(&r, path, NBLK, 16);
	if (pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, GEN) || fsync(r.f.fd))
		pw_die("generation %d + fsync: %s", GEN, strerror(errno));

	/* From here only the journal writes: no device writes, no flusher, a commit a second. */
	pw_sysctl_set(WB_KNOB, 0);
	snprintf(cmd, sizeof(cmd), "mount -o remount,commit=1 %s", pw_scratch());
	if (system(cmd))
		pw_die("%s failed", cmd);
	jbd2_info_find();
	tx = jbd2_transactions();
	if (ftruncate(r.f.fd, NEW_SIZE))
		pw_die("ftruncate %s to %lld: %s", path, (long long)NEW_SIZE, strerror(errno));
	tx = jbd2_wait_commit(tx, "the truncate");
	fd = open(pw_path("crashtail.more"), O_CREAT | O_WRONLY, 0644);
	if (fd < 0)
		pw_die("create %s: %s", pw_path("crashtail.more"), strerror(errno));
	close(fd);
	jbd2_wait_commit(tx, "a file was created");
	pw_info("truncated to %lld bytes (block %d, %d bytes in) with the MR registered; committed; asking the host to kill the guest",
		(long long)NEW_SIZE, EOF_BLK, EOF_OFF);
	pw_host_kill();
}
