// SPDX-License-Identifier: GPL-2.0
/*
 * busyinval: a read-only MR does not make cache invalidation fail in a filesystem that has not
 * opted in to long-term write pins (review finding 1.7). v2 and the first v3 made
 * invalidate_inode_pages2_range() return -EBUSY for every folio that might be DMA-pinned; ext4's
 * and iomap's callers fall back to buffered I/O, but others hand -EBUSY to user space (NFS to
 * read(2) and mmap(2), btrfs to its encoded-write ioctl). The test registers a read-only MR
 * (REMOTE_READ) over a MAP_SHARED mapping of a file on btrfs, whose pages are in the page cache
 * (premise, mincore()), then writes the same range with BTRFS_IOC_ENCODED_WRITE (a
 * zlib-declared extent; the test never reads it back), which invalidates the range and returns
 * the error to the caller: it must not fail with EBUSY. Then, on a second file with an MR of its
 * own, an O_DIRECT write over the pinned range must succeed (as it does anyway: an EBUSY there
 * turns into a buffered write, so this half cannot tell the kernels apart; the review asked for
 * it).
 * NFS, the caller the review names, needs an NFS server in the guest, whose programs
 * (nfs-kernel-server) the rig does not install; btrfs's ioctl reaches the same return value.
 * Run by busyinval.sh on a btrfs made on $PINWB_DISK2.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/btrfs.h>

#include "lib/pinwb.h"

const char pw_description[] = "a read-only MR over a btrfs file, then an O_DIRECT write and a btrfs encoded write over the same range: both succeed, no EBUSY reaches user space";

#define NBLK 16

/* How many pages of [addr, addr + len) are in the page cache. */
static int resident(void *addr, size_t len)
{
	size_t n = len / (size_t)sysconf(_SC_PAGESIZE), i;
	unsigned char vec[NBLK * 4];
	int count = 0;

	if (n > sizeof(vec) || mincore(addr, len, vec))
		pw_die("mincore: %s", strerror(errno));
	for (i = 0; i < n; i++)
		count += vec[i] & 1;
	return count;
}

int pw_test(int argc, char **argv)
{
	char *path = strdup(pw_path("busyinval.dat")), *path2 = strdup(pw_path("busyinval-dio.dat"));
	const size_t len = (size_t)NBLK * PW_BLOCK;
	struct btrfs_ioctl_encoded_io_args enc;
	int fd, dfd, ret, err, before, after;
	struct pw_fmr f, f2;
	struct iovec iov;
	struct pw_dev d;
	char *buf, enc_res[64];
	ssize_t n;

	(void)argc; (void)argv;
	close(pw_make_file(path, NBLK, 1));
	close(pw_make_file(path2, NBLK, 1));
	pw_dev_open(&d);
	pw_plan(3);
	ret = pw_fmr_open(&d, &f, path, len, PROT_READ | PROT_WRITE, IBV_ACCESS_REMOTE_READ);
	if (ret)
		pw_die("read-only MR (REMOTE_READ) over a MAP_SHARED mapping of a btrfs file: %s",
		       strerror(-ret));
	ret = pw_fmr_open(&d, &f2, path2, len, PROT_READ | PROT_WRITE, IBV_ACCESS_REMOTE_READ);
	if (ret)
		pw_die("read-only MR over %s: %s", path2, strerror(-ret));
	before = resident(f.addr, len);
	pw_ok(before == NBLK, "premise: a read-only MR over a btrfs file, its %d pages in the page cache (%d)",
	      NBLK, before);

	/* 1. An encoded write: btrfs invalidates the range and returns what that returned. */
	if (posix_memalign((void **)&buf, PW_BLOCK, len))
		pw_die("posix_memalign");
	fd = open(path, O_RDWR);
	if (fd < 0)
		pw_die("open %s: %s", path, strerror(errno));
	memset(buf, 0x5a, PW_BLOCK);
	iov.iov_base = buf;
	iov.iov_len = PW_BLOCK;		/* one block of "compressed" data for the whole range */
	memset(&enc, 0, sizeof(enc));
	enc.iov = &iov;
	enc.iovcnt = 1;
	enc.offset = 0;
	enc.len = len;
	enc.unencoded_len = len;
	enc.unencoded_offset = 0;
	enc.compression = BTRFS_ENCODED_IO_COMPRESSION_ZLIB;
	enc.encryption = BTRFS_ENCODED_IO_ENCRYPTION_NONE;
	n = ioctl(fd, BTRFS_IOC_ENCODED_WRITE, &enc);
	err = n < 0 ? errno : 0;
	if (n < 0 && err != EBUSY)
		pw_die("BTRFS_IOC_ENCODED_WRITE: %s (not the error under test: the rig is broken)",
		       strerror(err));
	after = resident(f.addr, len);
	/* On success it returns the number of encoded bytes taken (the iovec's length). */
	pw_ok(n == (ssize_t)iov.iov_len, "btrfs encoded write over the pinned range: %s (%zd; %d of %d pages still cached after it)",
	      n < 0 ? strerror(err) : "succeeded", n, after, NBLK);
	snprintf(enc_res, sizeof(enc_res), "%s", n < 0 ? strerror(err) : "succeeded");
	close(fd);
	pw_fmr_close(&f);

	/* 2. O_DIRECT over another file's pinned range. */
	for (size_t i = 0; i < NBLK; i++)
		pw_fill_block(buf + i * PW_BLOCK, i, 2);
	dfd = open(path2, O_WRONLY | O_DIRECT);
	if (dfd < 0)
		pw_die("open O_DIRECT %s: %s", path2, strerror(errno));
	n = pwrite(dfd, buf, len, 0);
	err = n < 0 ? errno : 0;
	pw_ok(n == (ssize_t)len, "O_DIRECT write over a second file's pinned range: %zd bytes%s%s", n,
	      err ? ", " : "", err ? strerror(err) : "");
	close(dfd);
	pw_seen("encoded write over a read-pinned, cached range: %s; O_DIRECT write: %s",
		enc_res, err ? strerror(err) : "done");
	free(buf);
	pw_fmr_close(&f2);
	pw_dev_close(&d);
	free(path);
	free(path2);
	return pw_result();
}
