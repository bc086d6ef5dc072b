// SPDX-License-Identifier: GPL-2.0
/*
 * badinput: registrations of writable file MRs that are wrong or go wrong, and what each kernel
 * answers (issue 23, "bad input, once more"). Run by badinput.sh on an ext4 of its own (the
 * last case shuts it down). Each case prints "# case: NAME: RESULT", the row of the README's
 * table, and checks what it must on every kernel: a clear errno or a defined behaviour, and no
 * failed RDMA write where the MR is still registered. The runner checks the kernel log and that
 * the pins balance once the MRs are gone.
 * On a kernel with the series, each result must be the one the series defines (EXPECT_*). On a
 * kernel that refuses writable file MRs (6.5 and later without the series), the cases that need
 * one say "refused" and check nothing more.
 *
 *  unaligned   MR from byte 100 of the mapping, 8 KiB: registered, a write through it completes
 *  zero        length 0: EINVAL
 *  memlock     16 MiB without CAP_IPC_LOCK under RLIMIT_MEMLOCK 1 MiB (a child): ENOMEM
 *  overlap     two MRs over the same 1 MiB: both registered, writes through both complete
 *  unmapped    an address range munmap()ed before: EFAULT
 *  truncate    ftruncate(0) while registered: succeeds (a pin cannot veto truncate), the device's
 *              writes still complete, into pages no longer in the file, which stays empty
 *  unlink      unlink while registered: succeeds, writes complete, fsync 0
 *  remount-ro  mount -o remount,ro while registered: EBUSY (the file is open for writing)
 *  shutdown    EXT4_IOC_SHUTDOWN while registered: writes complete (memory), fsync EIO
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "wrong or failing registrations of writable file MRs: a clear errno or a defined behaviour each, no failed write, no leak";

#ifndef EXT4_IOC_SHUTDOWN
#define EXT4_IOC_SHUTDOWN _IOR('X', 125, __u32)
#endif
#define EXT4_GOING_FLAGS_NOLOGFLUSH 0x2

#define NBLK 256	/* 1 MiB files */

static const int rw = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;
static bool series, refuses;
static struct pw_dev dev;
static struct pw_qp_pair qp;
static struct pw_src src;

static const char *res_str(int err)
{
	static char buf[64];

	if (!err)
		return "0 (registered)";
	snprintf(buf, sizeof(buf), "%s", strerrorname_np(err) ?: strerror(err));
	return buf;
}

/* A fresh 1 MiB file on the test's filesystem, mapped shared and writable. */
static char *map_file(const char *name, int *fdp)
{
	const char *path = pw_path(name);
	char *addr;

	*fdp = pw_make_file(path, NBLK, 1);
	addr = mmap(NULL, (size_t)NBLK * PW_BLOCK, PROT_READ | PROT_WRITE, MAP_SHARED, *fdp, 0);
	if (addr == MAP_FAILED)
		pw_die("mmap %s: %s", path, strerror(errno));
	return addr;
}

static void unmap_file(char *addr, int fd)
{
	munmap(addr, (size_t)NBLK * PW_BLOCK);
	close(fd);
}

static int reg(void *addr, size_t len, struct ibv_mr **mr)
{
	errno = 0;
	*mr = ibv_reg_mr(dev.pd, addr, len, rw);
	return *mr ? 0 : (errno ?: EIO);
}

/* The case's row, and on a kernel with the series the check of what the series defines. */
static void row(const char *name, bool as_defined, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void row(const char *name, bool as_defined, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("# case: %s: %s\n", name, buf);
	if (series)
		pw_ok(as_defined, "%s: %s", name, buf);
	else
		pw_ok(true, "%s: %s (recorded; the series defines it)", name, buf);
}

/* A registration the case needs: on a refusing kernel the case is only recorded. */
static bool need_reg(const char *name, int err)
{
	if (!err)
		return true;
	if (refuses && err == EFAULT) {
		row(name, false, "refused (EFAULT): this kernel takes no writable file MR");
		return false;
	}
	row(name, false, "registration failed: %s", res_str(err));
	return false;
}

static void case_unaligned(void)
{
	struct ibv_mr *mr;
	int fd, err, w = -1;
	char *addr = map_file("unaligned.dat", &fd);

	err = reg(addr + 100, 2 * PW_BLOCK, &mr);
	if (need_reg("unaligned", err)) {
		w = pw_write_gen(&qp, &src, mr, 0, 1, 2);
		ibv_dereg_mr(mr);
		row("unaligned", !w, "%s; a 4 KiB write through it %s", res_str(err),
		    w ? "FAILED" : "completed");
	}
	unmap_file(addr, fd);
}

static void case_zero(void)
{
	struct ibv_mr *mr;
	int fd, err;
	char *addr = map_file("zero.dat", &fd);

	err = reg(addr, 0, &mr);
	if (mr)
		ibv_dereg_mr(mr);
	row("zero", err == EINVAL, "%s", res_str(err));
	unmap_file(addr, fd);
}

/* In a child without CAP_IPC_LOCK under a 1 MiB RLIMIT_MEMLOCK: the errno of a 16 MiB MR. */
static void case_memlock(void)
{
	int status, err;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		pw_die("fork: %s", strerror(errno));
	if (!pid) {
		struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct c[2];
		struct rlimit rl = { 1 << 20, 1 << 20 };
		struct pw_dev d;
		struct ibv_mr *mr;
		char *addr;
		int fd;

		if (syscall(SYS_capget, &h, c))
			_exit(200);
		c[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
		if (syscall(SYS_capset, &h, c) || setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(201);
		fd = pw_make_file(pw_path("memlock.dat"), 4096, 1);
		addr = mmap(NULL, 16u << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (addr == MAP_FAILED)
			_exit(202);
		pw_dev_open(&d);
		errno = 0;
		mr = ibv_reg_mr(d.pd, addr, 16u << 20, rw);
		if (mr) {
			ibv_dereg_mr(mr);
			_exit(0);
		}
		_exit(errno && errno < 200 ? errno : 199);
	}
	if (!pw_reap(pid, 60000, &status) || !WIFEXITED(status))
		pw_die("the memlock child did not exit");
	err = WEXITSTATUS(status);
	if (err >= 199)
		pw_die("the memlock child could not set itself up (exit %d)", err);
	if (refuses && err == EFAULT)
		row("memlock", false, "refused (EFAULT): this kernel takes no writable file MR");
	else
		row("memlock", err == ENOMEM, "%s", res_str(err));
}

static void case_overlap(void)
{
	struct ibv_mr *a, *b = NULL;
	int fd, ea, eb = -1, w1 = -1, w2 = -1;
	char *addr = map_file("overlap.dat", &fd);

	ea = reg(addr, (size_t)NBLK * PW_BLOCK, &a);
	if (need_reg("overlap", ea)) {
		eb = reg(addr, (size_t)NBLK * PW_BLOCK, &b);
		w1 = pw_write_gen(&qp, &src, a, 0, NBLK, 2);
		if (b) {
			w2 = pw_write_gen(&qp, &src, b, 0, NBLK, 3);
			ibv_dereg_mr(b);
		}
		ibv_dereg_mr(a);
		row("overlap", !eb && !w1 && !w2, "first %s, second %s; writes through %s",
		    res_str(ea), res_str(eb), !w1 && !w2 ? "both completed" : "one FAILED");
	}
	unmap_file(addr, fd);
}

static void case_unmapped(void)
{
	struct ibv_mr *mr;
	int fd, err;
	char *addr = map_file("unmapped.dat", &fd);

	munmap(addr, (size_t)NBLK * PW_BLOCK);
	err = reg(addr, (size_t)NBLK * PW_BLOCK, &mr);
	if (mr)
		ibv_dereg_mr(mr);
	row("unmapped", err == EFAULT, "%s", res_str(err));
	close(fd);
}

static void case_truncate(void)
{
	struct ibv_mr *mr;
	struct stat st;
	int fd, err, t, w, s;
	char *addr = map_file("truncate.dat", &fd);

	err = reg(addr, (size_t)NBLK * PW_BLOCK, &mr);
	if (need_reg("truncate", err)) {
		t = ftruncate(fd, 0) ? errno : 0;
		w = pw_write_gen(&qp, &src, mr, 0, NBLK, 2);
		s = fsync(fd) ? errno : 0;
		ibv_dereg_mr(mr);
		if (fstat(fd, &st))
			pw_die("fstat: %s", strerror(errno));
		row("truncate", !t && !w && !s && st.st_size == 0,
		    "ftruncate(0) %s; the device's writes %s; fsync %s; the file %lld bytes",
		    t ? strerror(t) : "0", w ? "FAILED" : "completed", s ? strerror(s) : "0",
		    (long long)st.st_size);
	}
	unmap_file(addr, fd);
}

static void case_unlink(void)
{
	struct ibv_mr *mr;
	int fd, err, u, w, s;
	char *addr = map_file("unlink.dat", &fd);

	err = reg(addr, (size_t)NBLK * PW_BLOCK, &mr);
	if (need_reg("unlink", err)) {
		u = unlink(pw_path("unlink.dat")) ? errno : 0;
		w = pw_write_gen(&qp, &src, mr, 0, NBLK, 2);
		s = fsync(fd) ? errno : 0;
		ibv_dereg_mr(mr);
		row("unlink", !u && !w && !s, "unlink %s; the device's writes %s; fsync %s",
		    u ? strerror(u) : "0", w ? "FAILED" : "completed", s ? strerror(s) : "0");
	}
	unmap_file(addr, fd);
}

static void case_remount_ro(void)
{
	struct ibv_mr *mr;
	int fd, err, m, w;
	char *addr = map_file("remount.dat", &fd);

	err = reg(addr, (size_t)NBLK * PW_BLOCK, &mr);
	if (need_reg("remount-ro", err)) {
		m = mount(NULL, pw_scratch(), NULL, MS_REMOUNT | MS_RDONLY, NULL) ? errno : 0;
		if (!m && mount(NULL, pw_scratch(), NULL, MS_REMOUNT, NULL))
			pw_die("remount %s read-write again: %s", pw_scratch(), strerror(errno));
		w = pw_write_gen(&qp, &src, mr, 0, NBLK, 2);
		ibv_dereg_mr(mr);
		row("remount-ro", m == EBUSY && !w, "mount -o remount,ro %s; the device's writes %s",
		    m ? strerrorname_np(m) : "0 (read-only while registered)",
		    w ? "FAILED" : "completed");
	}
	unmap_file(addr, fd);
}

static void case_shutdown(void)
{
	__u32 how = EXT4_GOING_FLAGS_NOLOGFLUSH;
	struct ibv_mr *mr;
	int fd, err, sd, w, s;
	char *addr = map_file("shutdown.dat", &fd);

	err = reg(addr, (size_t)NBLK * PW_BLOCK, &mr);
	if (need_reg("shutdown", err)) {
		sd = ioctl(fd, EXT4_IOC_SHUTDOWN, &how) ? errno : 0;
		w = pw_write_gen(&qp, &src, mr, 0, NBLK, 2);
		s = fsync(fd) ? errno : 0;
		ibv_dereg_mr(mr);
		row("shutdown", !sd && !w && s == EIO,
		    "shutdown %s; the device's writes %s; fsync %s",
		    sd ? strerror(sd) : "0", w ? "FAILED" : "completed",
		    s ? strerrorname_np(s) : "0");
	}
	unmap_file(addr, fd);
}

int pw_test(int argc, char **argv)
{
	(void)argc; (void)argv;

	series = pw_vmstat("pin_writeback_bounce") >= 0;
	pw_dev_open(&dev);
	pw_qp_pair_create(&dev, &qp, 64);
	pw_src_create(&dev, &src, 64);
	{
		struct ibv_mr *mr;
		int fd, err;
		char *addr = map_file("probe.dat", &fd);

		err = reg(addr, PW_BLOCK, &mr);
		if (mr)
			ibv_dereg_mr(mr);
		refuses = err == EFAULT;
		unmap_file(addr, fd);
	}
	pw_info("kernel %s the series; writable file MRs %s", series ? "with" : "without",
		refuses ? "refused (EFAULT)" : "accepted");
	pw_plan(9);
	case_unaligned();
	case_zero();
	case_memlock();
	case_overlap();
	case_unmapped();
	case_truncate();
	case_unlink();
	case_remount_ro();
	case_shutdown();	/* last: the filesystem is gone after it */
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&dev);
	return pw_result();
}
