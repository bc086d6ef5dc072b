// SPDX-License-Identifier: GPL-2.0
/*
 * hwpoison: memory failure of a page that only the device wrote is reported by fsync()
 * (review finding 1.8). A writable MR is registered over a file, generation 2 is RDMA-written
 * and fsync'ed, then the device writes generation 3: from now on block 0's page holds data that
 * exists nowhere else, although PG_dirty was never set on it. madvise(MADV_HWPOISON) on that
 * page makes the kernel handle it as a memory failure; the data is gone, so the next fsync()
 * must fail with EIO, once (the next one returns 0, as errseq has it). A kernel that classifies
 * the page by PG_dirty alone drops it as a clean page and fsync() returns 0. Premises asserted:
 * the page holds generation 3 and is not PG_dirty before, and is HWPoison after (by its PFN,
 * /proc/kpageflags). The file is removed at the end; the poisoned page stays out of use for
 * the rest of the guest's life. Since 6.4 MADV_HWPOISON injects the failure as "action
 * required": the kernel kills (SIGBUS, BUS_MCEERR_AR) the calling process when the page is
 * dirty data, which a kernel that sees the device's writes does on 6.12; the test catches the
 * signal and goes on.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/pinwb.h"

static sigjmp_buf sigbus_jmp;
static volatile sig_atomic_t sigbus_code = -1;
static void *volatile sigbus_addr;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig; (void)uc;
	sigbus_code = si->si_code;
	sigbus_addr = si->si_addr;
	siglongjmp(sigbus_jmp, 1);
}

const char pw_description[] = "MADV_HWPOISON on a pinned page the device wrote after the last fsync: the next fsync() returns EIO";

#define NBLK 16

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("hwpoison.dat");
	volatile int mret = 0, merr = 0;
	struct sigaction sa, old;
	int ret, err, st0;
	uint64_t kf0 = 0, kf1 = 0, pfn;
	enum pw_blk_state b;
	struct pw_rig r;

	(void)argc; (void)argv;
	/* vm.memory_failure_early_kill exists exactly when the kernel has CONFIG_MEMORY_FAILURE. */
	if (access("/proc/sys/vm/memory_failure_early_kill", F_OK))
		pw_skip_all("kernel without CONFIG_MEMORY_FAILURE (no /proc/sys/vm/memory_failure_early_kill): MADV_HWPOISON cannot poison a page");
	pw_rig_open(&r, path, NBLK, 16);
	pw_plan(4);
	if (pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 2) || fsync(r.f.fd))
		pw_die("generation 2: RDMA write or fsync failed");
	ret = pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 3);
	b = pw_check_block(r.f.addr, 0, 3, NULL);
	st0 = pw_page_kflags(r.f.addr, &kf0);
	if (st0 < 0)
		pw_die("cannot read block 0's page flags (/proc/self/pagemap, /proc/kpageflags)");
	/* The premise: the data is the device's, and nothing but PG_pin_dirty says so. */
	pw_ok(!ret && b == PW_BLK_OK && st0 == 0 && !(kf0 & (1ull << PW_KPF_DIRTY)),
	      "premise: generation 3 RDMA-written after the last fsync is in block 0's page, which is not PG_dirty (%s)",
	      ret ? "RDMA write failed" : b != PW_BLK_OK ? "the page does not hold it" :
	      st0 ? "the page is not mapped" : (kf0 & (1ull << PW_KPF_DIRTY)) ? "PG_dirty is set" : "yes");

	/*
	 * The kernel may report the failure itself as not recovered (EBUSY: the MR's pin is an
	 * extra reference); what matters is that the page is poisoned and what fsync() says
	 * afterwards. EPERM/EINVAL mean no memory-failure support at all, a broken rig.
	 */
	pfn = pw_page_pfn(r.f.addr);	/* the PFN, before the PTE goes */
	if (!pfn)
		pw_die("block 0's page is not mapped, or its PFN is hidden");
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old))
		pw_die("sigaction: %s", strerror(errno));
	if (!sigsetjmp(sigbus_jmp, 1)) {
		mret = madvise(r.f.addr, (size_t)sysconf(_SC_PAGESIZE), MADV_HWPOISON);
		merr = mret ? errno : 0;
	} else {
		/* Only the kernel's kill of a process that maps the lost page is accepted. */
		if (sigbus_code != BUS_MCEERR_AR || (char *)sigbus_addr < r.f.addr ||
		    (char *)sigbus_addr >= r.f.addr + sysconf(_SC_PAGESIZE))
			pw_die("madvise(MADV_HWPOISON): SIGBUS with si_code %d at %p, not BUS_MCEERR_AR at block 0's page %p",
			       (int)sigbus_code, sigbus_addr, (void *)r.f.addr);
		mret = 0, merr = 0;	/* killed as the process that maps the lost data */
		pw_info("madvise(MADV_HWPOISON): SIGBUS (si_code %d%s): the kernel treats the page as lost data",
			(int)sigbus_code, sigbus_code == BUS_MCEERR_AR ? ", BUS_MCEERR_AR" : "");
	}
	sigaction(SIGBUS, &old, NULL);
	if (mret && merr != EBUSY && merr != EIO)
		pw_die("madvise(MADV_HWPOISON): %s (the kernel needs CONFIG_MEMORY_FAILURE and CAP_SYS_ADMIN)",
		       strerror(merr));
	pw_ok(!pw_pfn_kflags(pfn, &kf1) && (kf1 & (1ull << PW_KPF_HWPOISON)), "madvise(MADV_HWPOISON) on block 0's page (%s): the page is marked HWPoison",
	      sigbus_code >= 0 ? "SIGBUS" : mret ? strerror(merr) : "0");

	ret = fsync(r.f.fd);
	err = ret ? errno : 0;
	pw_ok(ret == -1 && err == EIO, "the next fsync() reports the lost page: %s (want EIO)",
	      ret ? strerror(err) : "returned 0");
	ret = fsync(r.f.fd);
	pw_ok(!ret, "the fsync() after it returns 0: the error is reported once (%s)",
	      ret ? strerror(errno) : "0");
	pw_seen("madvise %s, then fsync %s", sigbus_code >= 0 ? "SIGBUS" : mret ? strerror(merr) : "0",
		err ? strerror(err) : "0");

	/* The poisoned page must not be touched again: deregister, unmap, close, remove. */
	pw_rig_close(&r);
	unlink(path);
	return pw_result();
}
