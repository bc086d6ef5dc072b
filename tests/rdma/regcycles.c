// SPDX-License-Identifier: GPL-2.0
/*
 * regcycles: 10,000 register/deregister cycles of a writable MR over a 64 KiB MAP_SHARED ext4
 * file mapping, with an RDMA write into it every 100 cycles. Nothing may leak: the long-term
 * pins balance (nr_foll_pin_acquired == nr_foll_pin_released once the MRs are gone), the
 * process's pinned-memory count (VmPin) is back to 0, and kernel memory stays flat - unreclaimable
 * slab (SUnreclaim) and page tables after the last cycle are within 4 MiB of what they were after
 * cycle 1,000 (the first thousand warm the caches up).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "10,000 register/deregister cycles over an ext4 file mapping: no pin leak, flat kernel memory";

#define CYCLES 10000
#define WARMUP 1000
#define NBLK 16
#define SLACK_KIB 4096

static long long kernel_kib(void)
{
	return pw_proc_field("/proc/meminfo", "SUnreclaim") +
	       pw_proc_field("/proc/meminfo", "PageTables");
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("regcycles.dat");
	long long base, left, warm = -1, end, pin;
	unsigned int i, failed = 0, write_errors = 0;
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_fmr f;
	struct pw_dev d;
	struct ibv_mr *mr;
	double t0;
	int ret;

	(void)argc; (void)argv;
	pw_dev_open(&d);
	pw_plan(4);
	base = pw_pins_settle(0, 2000);
	pw_qp_pair_create(&d, &qp, 16);
	pw_src_create(&d, &src, NBLK);
	/* The mapping stays; only the registration comes and goes. */
	ret = pw_fmr_open(&d, &f, path, NBLK * PW_BLOCK, PROT_READ | PROT_WRITE,
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (ret)
		pw_die("ibv_reg_mr over %s: %s", path, strerror(-ret));
	pw_fmr_dereg(&f);

	t0 = pw_now();
	for (i = 1; i <= CYCLES; i++) {
		mr = pw_reg_mr(d.pd, f.addr, f.len,
				IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
		if (!mr) {
			if (!failed++)
				pw_info("cycle %u: ibv_reg_mr: %s", i, strerror(errno));
			continue;
		}
		if (i % 100 == 0 && pw_write_gen(&qp, &src, mr, 0, NBLK, i))
			write_errors++;
		if (ibv_dereg_mr(mr))
			pw_die("cycle %u: ibv_dereg_mr: %s", i, strerror(errno));
		if (i == WARMUP)
			warm = kernel_kib();
		if (i % 2500 == 0)
			pw_info("%u cycles in %.1f s", i, pw_now() - t0);
	}
	end = kernel_kib();
	/* Everything registered goes: the file MR's mapping, the source buffer, the QPs. */
	pw_fmr_close(&f);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	left = pw_pins_settle(base, 5000);
	pin = pw_proc_field("/proc/self/status", "VmPin");

	pw_ok(!failed && !write_errors, "%d cycles: %u registrations failed, %u of %d RDMA writes failed",
	      CYCLES, failed, write_errors, CYCLES / 100);
	pw_ok(left == base, "long-term pins balance after %d cycles (%lld outstanding, %lld before)",
	      CYCLES, left, base);
	pw_ok(pin == 0, "VmPin of the process once every MR is deregistered: %lld kB (want 0)", pin);
	pw_ok(warm >= 0 && end - warm <= SLACK_KIB,
	      "unreclaimable slab + page tables: %lld KiB after cycle %d, %lld KiB after cycle %d (growth %lld KiB, at most %d allowed)",
	      warm, WARMUP, end, CYCLES, end - warm, SLACK_KIB);
	pw_seen("%d cycles in %.0f s: %lld pins outstanding, VmPin %lld kB, kernel memory %+lld KiB from cycle %d to %d",
		CYCLES, pw_now() - t0, left - base, pin, end - warm, WARMUP, CYCLES);
	pw_metric(end - warm, "KiB kernel memory growth");

	pw_dev_close(&d);
	return pw_result();
}
