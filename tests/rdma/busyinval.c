// SPDX-License-Identifier: GPL-2.0
/*
 * busyinval: a read-only MR does not make cache invalidation fail in a filesystem that has not
 * opted in to long-term write pins (review finding 1.7). v2 and the first v3 made
 * invalidate_inode_pages2_range() return -EBUSY for every folio that might be DMA-pinned; ext4's
 * and iomap's callers fall back to buffered I/O, but others hand -EBUSY to user space (NFS to
 * read(2) and mmap(2), btrfs to its encoded-write ioctl). The test registers a read-only MR
 * (REMOTE_READ) over a MAP_SHARED mapping of a file on btrfs, then, over the same range:
 *  1. writes it with O_DIRECT: must succeed (direct or through the buffered fallback);
 *  2. writes it with BTRFS_IOC_ENCODED_WRITE (a zlib-declared extent; the test never reads it
 *     back), which invalidates the range and returns the error to the caller: must not be EBUSY.
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

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("busyinval.dat");
	const size_t len = (size_t)NBLK * PW_BLOCK;
	struct btrfs_ioctl_encoded_io_args enc;
	struct iovec iov;
	struct pw_fmr f;
	struct pw_dev d;
	ssize_t n;
	char *buf;
	int fd, dfd, ret, err;

	(void)argc; (void)argv;
	fd = pw_make_file(path, NBLK, 1);
	close(fd);
	pw_dev_open(&d);
	pw_plan(3);
	ret = pw_fmr_open(&d, &f, path, len, PROT_READ | PROT_WRITE, IBV_ACCESS_REMOTE_READ);
	pw_ok(!ret, "read-only MR (REMOTE_READ) registered over a MAP_SHARED mapping of a btrfs file%s%s",
	      ret ? ": " : "", ret ? strerror(-ret) : "");
	if (ret)
		pw_die("nothing to test without the MR");

	/* 1. O_DIRECT over the pinned range. */
	if (posix_memalign((void **)&buf, PW_BLOCK, len))
		pw_die("posix_memalign");
	for (size_t i = 0; i < NBLK; i++)
		pw_fill_block(buf + i * PW_BLOCK, i, 2);
	dfd = open(path, O_WRONLY | O_DIRECT);
	if (dfd < 0)
		pw_die("open O_DIRECT %s: %s", path, strerror(errno));
	n = pwrite(dfd, buf, len, 0);
	err = n < 0 ? errno : 0;
	pw_ok(n == (ssize_t)len, "O_DIRECT write of the pinned range: %zd bytes%s%s", n,
	      err ? ", " : "", err ? strerror(err) : "");
	close(dfd);

	/* 2. An encoded write: btrfs invalidates the range and returns what that returned. */
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
	/* On success it returns the number of encoded bytes taken (the iovec's length). */
	pw_ok(n == (ssize_t)iov.iov_len, "btrfs encoded write over the pinned range: %s (%zd)",
	      n < 0 ? strerror(err) : "succeeded", n);
	pw_seen("O_DIRECT write done; encoded write %s", n < 0 ? strerror(err) : "succeeded");
	close(fd);
	free(buf);
	pw_fmr_close(&f);
	pw_dev_close(&d);
	return pw_result();
}
