// SPDX-License-Identifier: GPL-2.0
/*
 * pinwb_bench: the costs the series adds, measured in one guest and printed as
 * "METRIC VALUE UNIT" lines for bench/report.sh.
 *
 *   reg SIZE_MIB        ibv_reg_mr + ibv_dereg_mr of a writable MR over an ext4 file mapping:
 *                       median of 5
 *   regmem anon|huge SIZE_MIB   the same over memory the series does not change: private
 *                       anonymous memory, or shared hugetlbfs memory (MAP_HUGETLB; the guest
 *                       reserves the huge pages): median of 5
 *   fsync SIZE_MIB      fsync of a registered, RDMA-written range, and of the same amount of
 *                       plain dirty pages of another file (CPU-written, no MR): median of 5
 *   rangesync SIZE_MIB  msync(MS_SYNC) and sync_file_range(WAIT_BEFORE|WRITE|WAIT_AFTER) of 1 MiB
 *                       the device wrote inside a registered SIZE_MIB range, and of 1 MiB of plain
 *                       dirty pages (CPU-written, no MR) inside a SIZE_MIB file: median of 9
 *   idle SIZE_MIB SECS  while a registered, fsync'd range sits idle: bytes written to the device,
 *                       pinned pages cleaning writeback visited (pin_writeback_skip), and the
 *                       CPU time all CPUs spent outside idle, then the same without the MR
 *
 * PINWB_BENCH_REPS=n takes the median of n runs instead (the scaling runs of make bench, whose
 * largest sizes take minutes per run under TCG, use 3).
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

#define MAX_REPS 15

const char pw_description[] = "pinwb micro-benchmarks (reg/dereg, fsync of pinned vs plain dirty pages, idle writeback)";

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* How many runs a median is taken of: PINWB_BENCH_REPS, or the benchmark's default. */
static int reps(int dflt)
{
	const char *e = getenv("PINWB_BENCH_REPS");
	int n = e ? atoi(e) : dflt;

	if (n < 1 || n > MAX_REPS)
		pw_die("PINWB_BENCH_REPS must be 1 to %d, not '%s'", MAX_REPS, e);
	return n;
}

/* The median of n timings (sorts them). */
static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const int rw_access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;

/*
 * Profiling: with PINWB_PERF_CTL=CTL_FIFO:ACK_FIFO (perf record -D -1 --control fifo:CTL,ACK)
 * and PINWB_PERF_WHICH naming a measured call ("reg", "fsync_pinned", "fsync_plain"), perf records that
 * call only.
 */
static void perf_ctl(const char *which, const char *cmd)
{
	const char *ctl = getenv("PINWB_PERF_CTL"), *want = getenv("PINWB_PERF_WHICH");
	char path[256], ack[16], *colon;
	int fd;

	if (!ctl || !want || strcmp(want, which))
		return;
	snprintf(path, sizeof(path), "%s", ctl);
	colon = strchr(path, ':');
	if (colon)
		*colon = '\0';
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, cmd, strlen(cmd)) < 0)
		pw_die("perf control %s: %s", path, strerror(errno));
	close(fd);
	if (colon) {
		fd = open(colon + 1, O_RDONLY);
		if (fd < 0 || read(fd, ack, sizeof(ack)) < 0)
			pw_die("perf ack %s: %s", colon + 1, strerror(errno));
		close(fd);
	}
}

#define REG_REPS 5

/* ibv_reg_mr and ibv_dereg_mr of a writable MR over a file mapping: median of REG_REPS. */
static void bench_reg(struct pw_dev *d, size_t mib)
{
	double treg[MAX_REPS], tdereg[MAX_REPS], t0, t1;
	size_t len = mib << 20;
	int ret, i, n = reps(REG_REPS);
	struct pw_fmr f;

	/* The file's pages are in the page cache and allocated: measure the pin, not the I/O. */
	ret = pw_fmr_open(d, &f, pw_path("bench-reg.dat"), len, PROT_READ | PROT_WRITE, 0);
	if (!ret)
		pw_fmr_dereg(&f);
	memset(f.addr, 1, len);
	for (i = 0; i < n; i++) {
		/* Clean and write-protected again, as before the first registration. */
		fsync(f.fd);
		perf_ctl("reg", "enable\n");
		t0 = now_ms();
		f.mr = pw_reg_mr(d->pd, f.addr, len, rw_access);	/* exit 5 where refused */
		t1 = now_ms();
		perf_ctl("reg", "disable\n");
		if (!f.mr)
			pw_die("ibv_reg_mr %zu MiB: %s", mib, strerror(errno));
		pw_fmr_dereg(&f);
		treg[i] = t1 - t0;
		tdereg[i] = now_ms() - t1;
	}
	printf("reg_%zuMiB %.2f ms\n", mib, median(treg, n));
	printf("dereg_%zuMiB %.2f ms\n", mib, median(tdereg, n));
	pw_fmr_close(&f);
	unlink(pw_path("bench-reg.dat"));
}

/*
 * ibv_reg_mr and ibv_dereg_mr of a writable MR over anonymous or hugetlbfs memory, touched
 * first: the pins of memory that the series leaves as it was (every kernel registers it).
 */
static void bench_regmem(struct pw_dev *d, const char *kind, size_t mib)
{
	double treg[MAX_REPS], tdereg[MAX_REPS], t0, t1;
	size_t len = mib << 20;
	int i, n = reps(REG_REPS), huge = !strcmp(kind, "huge");
	struct ibv_mr *mr;
	char *addr;

	if (!huge && strcmp(kind, "anon"))
		pw_die("regmem: the kind is anon or huge, not %s", kind);
	addr = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    huge ? MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB : MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (addr == MAP_FAILED)
		pw_die("mmap of %zu MiB of %s memory: %s", mib, kind, strerror(errno));
	memset(addr, 1, len);
	for (i = 0; i < n; i++) {
		t0 = now_ms();
		mr = ibv_reg_mr(d->pd, addr, len, rw_access);
		t1 = now_ms();
		if (!mr)
			pw_die("ibv_reg_mr of %zu MiB of %s memory: %s", mib, kind, strerror(errno));
		if (ibv_dereg_mr(mr))
			pw_die("ibv_dereg_mr: %s", strerror(errno));
		treg[i] = t1 - t0;
		tdereg[i] = now_ms() - t1;
	}
	printf("reg_%s_%zuMiB %.2f ms\n", kind, mib, median(treg, n));
	printf("dereg_%s_%zuMiB %.2f ms\n", kind, mib, median(tdereg, n));
	munmap(addr, len);
}

#define FSYNC_REPS 5
#define PLAIN_CHUNK (16UL << 20)

/* Rewrite [0, len) of fd with the byte c, PLAIN_CHUNK at a time: 0, or -1 (errno set). */
static int plain_write(int fd, char *buf, size_t len, int c)
{
	size_t off, n;

	memset(buf, c, PLAIN_CHUNK);
	for (off = 0; off < len; off += n) {
		n = len - off < PLAIN_CHUNK ? len - off : PLAIN_CHUNK;
		if (pwrite(fd, buf, n, off) != (ssize_t)n)
			return -1;
	}
	return 0;
}

/*
 * fsync of a registered range the device rewrote, and of the same amount of plain dirty pages
 * the CPU rewrote with write(2): FSYNC_REPS times each, the median time and the data written.
 */
static void bench_fsync(struct pw_dev *d, size_t mib)
{
	size_t len = mib << 20, nblk = len / PW_BLOCK;
	char *fdat = strdup(pw_path("bench-fsync.dat")), *pdat = strdup(pw_path("bench-plain.dat"));
	const char *dat = fdat;

	if (!fdat || !pdat)
		pw_die("out of memory");
	double t[MAX_REPS], t0;
	int n = reps(FSYNC_REPS);
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_fmr f;
	long long s0, s1;
	char *plain;
	int fd, ret, i;

	pw_qp_pair_create(d, &qp, 64);
	pw_src_create(d, &src, 64);
	ret = pw_fmr_open(d, &f, dat, len, PROT_READ | PROT_WRITE, rw_access);
	if (ret)
		pw_die("ibv_reg_mr %zu MiB: %s", mib, strerror(-ret));
	if (pw_write_gen(&qp, &src, f.mr, 0, nblk, 1) || fsync(f.fd))
		pw_die("first generation");
	s0 = s1 = 0;
	for (i = 0; i < n; i++) {
		if (pw_write_gen(&qp, &src, f.mr, 0, nblk, 2 + i))
			pw_die("generation %d", 2 + i);
		pw_drop_caches();	/* syncs everything else first */
		s0 = pw_dev_sectors_written(dat);
		perf_ctl("fsync_pinned", "enable\n");
		t0 = now_ms();
		fsync(f.fd);
		t[i] = now_ms() - t0;
		perf_ctl("fsync_pinned", "disable\n");
		s1 = pw_dev_sectors_written(dat);
	}
	printf("fsync_pinned_%zuMiB %.2f ms\n", mib, median(t, n));
	printf("fsync_pinned_%zuMiB_written %.2f MiB\n", mib, (s1 - s0) / 2048.0);
	pw_fmr_close(&f);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	/*
	 * Deregistration dirtied the whole range: gone with the file, it cannot push the plain
	 * side's dirty pages over the background threshold (the scaling runs go to GiBs).
	 */
	unlink(dat);

	/*
	 * The same amount of ordinary dirty pages, written by the CPU through write(2) from a
	 * buffer of PLAIN_CHUNK.
	 */
	dat = pdat;
	fd = open(dat, O_RDWR | O_CREAT | O_TRUNC, 0644);
	plain = malloc(PLAIN_CHUNK);
	if (fd < 0 || !plain)
		pw_die("plain file: %s", strerror(errno));
	if (plain_write(fd, plain, len, 2) || fsync(fd))
		pw_die("plain first write");
	for (i = 0; i < n; i++) {
		if (plain_write(fd, plain, len, 3 + i))
			pw_die("plain write %d", i);
		s0 = pw_dev_sectors_written(dat);
		perf_ctl("fsync_plain", "enable\n");
		t0 = now_ms();
		fsync(fd);
		t[i] = now_ms() - t0;
		perf_ctl("fsync_plain", "disable\n");
		s1 = pw_dev_sectors_written(dat);
	}
	printf("fsync_plain_%zuMiB %.2f ms\n", mib, median(t, n));
	printf("fsync_plain_%zuMiB_written %.2f MiB\n", mib, (s1 - s0) / 2048.0);
	free(plain);
	close(fd);
	unlink(pdat);
	free(pdat);
	free(fdat);
}

#define RANGE_MIB 1
#define RANGE_REPS 9

/* One range sync of [off, off + RANGE_MIB MiB) of fd/addr: "msync" or "sfr". */
static void range_sync(const char *how, int fd, char *addr, size_t off)
{
	size_t len = RANGE_MIB << 20;
	int ret;

	if (!strcmp(how, "msync"))
		ret = msync(addr + off, len, MS_SYNC);
	else
		ret = sync_file_range(fd, off, len, SYNC_FILE_RANGE_WAIT_BEFORE |
				      SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
	if (ret)
		pw_die("%s: %s", how, strerror(errno));
}

static void bench_rangesync(size_t mib)
{
	static const char *const how[] = { "msync", "sfr" };
	size_t len = mib << 20, nblk = len / PW_BLOCK;
	char *dat = strdup(pw_path("bench-range.dat")), *pdat = strdup(pw_path("bench-range-plain.dat"));
	size_t off = len / 2;	/* the synced range: the middle of the file */
	struct pw_rig r;
	double t[MAX_REPS], t0;
	int n = reps(RANGE_REPS);
	long long s0 = 0, s1 = 0;
	void *addr;
	char *plain;
	int fd, i, h;

	if (!dat || !pdat)
		pw_die("out of memory");

	pw_rig_open(&r, dat, nblk, 64);
	/* The whole range changes (the device), the peer says which 1 MiB to persist. */
	if (pw_write_gen(&r.qp, &r.src, r.f.mr, 0, nblk, 1) || fsync(r.f.fd) ||
	    pw_write_gen(&r.qp, &r.src, r.f.mr, 0, nblk, 2))
		pw_die("first generations");
	sync();		/* everything else out of the way; pin-only pages stay */
	for (h = 0; h < 2; h++) {
		for (i = 0; i < n; i++) {
			if (pw_write_gen(&r.qp, &r.src, r.f.mr, off / PW_BLOCK,
					 (RANGE_MIB << 20) / PW_BLOCK, 3 + i))
				pw_die("generation %d", 3 + i);
			s0 = pw_dev_sectors_written(dat);
			t0 = now_ms();
			range_sync(how[h], r.f.fd, r.f.addr, off);
			t[i] = now_ms() - t0;
			s1 = pw_dev_sectors_written(dat);
		}
		printf("range_%s_pinned_%zuMiB %.2f ms\n", how[h], mib, median(t, n));
		printf("range_%s_pinned_%zuMiB_written %.2f MiB\n", how[h], mib, (s1 - s0) / 2048.0);
	}
	pw_rig_close(&r);
	unlink(dat);

	/* 1 MiB of plain dirty pages in the middle of a file of the same size. */
	fd = open(pdat, O_RDWR | O_CREAT | O_TRUNC, 0644);
	plain = malloc(RANGE_MIB << 20);
	if (fd < 0 || !plain || ftruncate(fd, len))
		pw_die("plain file: %s", strerror(errno));
	addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (addr == MAP_FAILED)
		pw_die("mmap: %s", strerror(errno));
	memset(plain, 1, RANGE_MIB << 20);
	for (size_t o = 0; o < len; o += RANGE_MIB << 20)
		if (pwrite(fd, plain, RANGE_MIB << 20, o) != (ssize_t)(RANGE_MIB << 20))
			pw_die("plain write: %s", strerror(errno));
	if (fsync(fd))
		pw_die("plain fsync: %s", strerror(errno));
	for (h = 0; h < 2; h++) {
		for (i = 0; i < n; i++) {
			memset(plain, 2 + i, RANGE_MIB << 20);
			if (pwrite(fd, plain, RANGE_MIB << 20, off) != (ssize_t)(RANGE_MIB << 20))
				pw_die("plain write: %s", strerror(errno));
			s0 = pw_dev_sectors_written(pdat);
			t0 = now_ms();
			range_sync(how[h], fd, addr, off);
			t[i] = now_ms() - t0;
			s1 = pw_dev_sectors_written(pdat);
		}
		printf("range_%s_plain_%zuMiB %.2f ms\n", how[h], mib, median(t, n));
		printf("range_%s_plain_%zuMiB_written %.2f MiB\n", how[h], mib, (s1 - s0) / 2048.0);
	}
	munmap(addr, len);
	free(plain);
	close(fd);
	unlink(pdat);
	free(pdat);
	free(dat);
}

/* CPU time spent outside idle and iowait by all CPUs since boot, in ms (/proc/stat). */
static double busy_ms(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	long hz = sysconf(_SC_CLK_TCK);

	if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			 &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		pw_die("cannot read /proc/stat");
	fclose(f);
	/* user nice system [idle iowait] irq softirq steal */
	return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1000.0 / hz;
}

static void bench_idle(struct pw_dev *d, size_t mib, int secs)
{
	size_t len = mib << 20, nblk = len / PW_BLOCK;
	const char *dat = pw_path("bench-idle.dat");
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_fmr f;
	long long s0, s1, v0, v1;
	double c0, c1;
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
	v0 = pw_vmstat("pin_writeback_skip");
	c0 = busy_ms();
	sleep(secs);
	c1 = busy_ms();
	v1 = pw_vmstat("pin_writeback_skip");
	s1 = pw_dev_sectors_written(dat);
	printf("idle_%zuMiB_%ds_written %.2f MiB\n", mib, secs, (s1 - s0) / 2048.0);
	if (v0 >= 0)	/* the series' counter; a kernel without it never looks at the pages */
		printf("idle_%zuMiB_%ds_page_visits %lld pages\n", mib, secs, v1 - v0);
	printf("idle_%zuMiB_%ds_busy_cpu %.0f ms\n", mib, secs, c1 - c0);
	pw_fmr_close(&f);
	unlink(dat);
	sync();
	c0 = busy_ms();
	sleep(secs);
	c1 = busy_ms();
	printf("idle_nomr_%ds_busy_cpu %.0f ms\n", secs, c1 - c0);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
}

int pw_test(int argc, char **argv)
{
	struct pw_dev d;

	if (argc < 3)
		pw_die("usage: pinwb_bench reg|fsync|rangesync|idle SIZE_MIB [SECS], or regmem anon|huge SIZE_MIB");
	pw_dev_open(&d);
	if (!strcmp(argv[1], "reg"))
		bench_reg(&d, atol(argv[2]));
	else if (!strcmp(argv[1], "regmem") && argc > 3)
		bench_regmem(&d, argv[2], atol(argv[3]));
	else if (!strcmp(argv[1], "fsync"))
		bench_fsync(&d, atol(argv[2]));
	else if (!strcmp(argv[1], "rangesync"))
		bench_rangesync(atol(argv[2]));
	else if (!strcmp(argv[1], "idle"))
		bench_idle(&d, atol(argv[2]), argc > 3 ? atoi(argv[3]) : 30);
	else
		pw_die("unknown benchmark %s", argv[1]);
	pw_dev_close(&d);
	return 0;
}
