// SPDX-License-Identifier: GPL-2.0
/*
 * pinwb_bench: the costs the series adds, measured in one guest and printed as
 * "METRIC VALUE UNIT" lines for bench/report.sh.
 *
 *   reg SIZE_MIB        ibv_reg_mr + ibv_dereg_mr of a writable MR over an ext4 file mapping
 *   fsync SIZE_MIB      fsync of a registered, RDMA-written range, and of the same amount of
 *                       plain dirty pages of another file (CPU-written, no MR)
 *   idle SIZE_MIB SECS  bytes written to the device while a registered, fsync'd range sits idle
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "pinwb micro-benchmarks (reg/dereg, fsync of pinned vs plain dirty pages, idle writeback)";

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const int rw_access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;

static void bench_reg(struct pw_dev *d, size_t mib)
{
	size_t len = mib << 20;
	struct pw_fmr f;
	double t0, t1, t2;
	int ret;

	/* The file's pages are in the page cache and allocated: measure the pin, not the I/O. */
	ret = pw_fmr_open(d, &f, pw_path("bench-reg.dat"), len, PROT_READ | PROT_WRITE, 0);
	if (!ret)
		pw_fmr_dereg(&f);
	memset(f.addr, 1, len);
	fsync(f.fd);
	t0 = now_ms();
	f.mr = ibv_reg_mr(d->pd, f.addr, len, rw_access);
	t1 = now_ms();
	if (!f.mr)
		pw_die("ibv_reg_mr %zu MiB: %s", mib, strerror(errno));
	pw_fmr_dereg(&f);
	t2 = now_ms();
	printf("reg_%zuMiB %.2f ms\n", mib, t1 - t0);
	printf("dereg_%zuMiB %.2f ms\n", mib, t2 - t1);
	pw_fmr_close(&f);
	unlink(pw_path("bench-reg.dat"));
}

static void bench_fsync(struct pw_dev *d, size_t mib)
{
	size_t len = mib << 20, nblk = len / PW_BLOCK;
	const char *dat = pw_path("bench-fsync.dat");
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_fmr f;
	long long s0, s1;
	double t0, t1;
	char *plain;
	int fd, ret;

	pw_qp_pair_create(d, &qp, 64);
	pw_src_create(d, &src, 64);
	ret = pw_fmr_open(d, &f, dat, len, PROT_READ | PROT_WRITE, rw_access);
	if (ret)
		pw_die("ibv_reg_mr %zu MiB: %s", mib, strerror(-ret));
	if (pw_write_gen(&qp, &src, f.mr, 0, nblk, 1) || fsync(f.fd))
		pw_die("first generation");
	if (pw_write_gen(&qp, &src, f.mr, 0, nblk, 2))
		pw_die("second generation");
	pw_drop_caches();	/* syncs everything else first */
	s0 = pw_dev_sectors_written(dat);
	t0 = now_ms();
	fsync(f.fd);
	t1 = now_ms();
	s1 = pw_dev_sectors_written(dat);
	printf("fsync_pinned_%zuMiB %.2f ms\n", mib, t1 - t0);
	printf("fsync_pinned_%zuMiB_written %.2f MiB\n", mib, (s1 - s0) / 2048.0);
	pw_fmr_close(&f);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);

	/* The same amount of ordinary dirty pages, written by the CPU through write(2). */
	fd = open(pw_path("bench-plain.dat"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	plain = malloc(len);
	if (fd < 0 || !plain)
		pw_die("plain file: %s", strerror(errno));
	memset(plain, 2, len);
	if (pwrite(fd, plain, len, 0) != (ssize_t)len || fsync(fd))
		pw_die("plain first write");
	memset(plain, 3, len);
	if (pwrite(fd, plain, len, 0) != (ssize_t)len)
		pw_die("plain second write");
	s0 = pw_dev_sectors_written(dat);
	t0 = now_ms();
	fsync(fd);
	t1 = now_ms();
	s1 = pw_dev_sectors_written(dat);
	printf("fsync_plain_%zuMiB %.2f ms\n", mib, t1 - t0);
	printf("fsync_plain_%zuMiB_written %.2f MiB\n", mib, (s1 - s0) / 2048.0);
	free(plain);
	close(fd);
	unlink(pw_path("bench-plain.dat"));
	unlink(dat);
}

static void bench_idle(struct pw_dev *d, size_t mib, int secs)
{
	size_t len = mib << 20, nblk = len / PW_BLOCK;
	const char *dat = pw_path("bench-idle.dat");
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_fmr f;
	long long s0, s1;
	int ret;

	pw_qp_pair_create(d, &qp, 64);
	pw_src_create(d, &src, 64);
	ret = pw_fmr_open(d, &f, dat, len, PROT_READ | PROT_WRITE, rw_access);
	if (ret)
		pw_die("ibv_reg_mr %zu MiB: %s", mib, strerror(-ret));
	if (pw_write_gen(&qp, &src, f.mr, 0, nblk, 1) || fsync(f.fd))
		pw_die("write + fsync");
	sync();
	s0 = pw_dev_sectors_written(dat);
	sleep(secs);
	s1 = pw_dev_sectors_written(dat);
	printf("idle_%zuMiB_%ds_written %.2f MiB\n", mib, secs, (s1 - s0) / 2048.0);
	pw_fmr_close(&f);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	unlink(dat);
}

int pw_test(int argc, char **argv)
{
	struct pw_dev d;

	if (argc < 3)
		pw_die("usage: pinwb_bench reg|fsync|idle SIZE_MIB [SECS]");
	pw_dev_open(&d);
	if (!strcmp(argv[1], "reg"))
		bench_reg(&d, atol(argv[2]));
	else if (!strcmp(argv[1], "fsync"))
		bench_fsync(&d, atol(argv[2]));
	else if (!strcmp(argv[1], "idle"))
		bench_idle(&d, atol(argv[2]), argc > 3 ? atoi(argv[3]) : 30);
	else
		pw_die("unknown benchmark %s", argv[1]);
	pw_dev_close(&d);
	return 0;
}
