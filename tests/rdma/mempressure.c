// SPDX-License-Identifier: GPL-2.0
/*
 * mempressure: fsync of a large registered file MR when memory is short (issue 23). With the
 * series, data-integrity writeback writes each write-pinned page from a copy where the disk asks
 * for stable pages, so it needs one fresh page per page in flight exactly when memory may be
 * gone. tests/rdma/mempressure.sh makes an ext4 on a dm-linear device over $PINWB_DISK2
 * (PINWB_DM), the disk set to ask for stable pages. Periodic writeback is off.
 * An MR over half of the guest's memory, RDMA-written (generation 2), then three parts:
 *  1. stuck and short (only with PINWB_MEMPRESSURE_STUCK=1, issue 23): the device suspended, fsync() in a thread copies pinned pages into bios
 *     that cannot complete until free memory runs low (the premise: the main zone's free pages
 *     fall below its low watermark, fsync still blocked HOLD_MS later). The lowest free memory
 *     of that zone is reported, not asserted (see the comment there).
 *     After the resume the fsync returns 0 and every block holds generation 2 on the device.
 *     The device is suspended and resumed by ioctl: no fork or exec while memory is at the
 *     bottom (with dmsetup run then, v5 once OOM-killed this process and panicked);
 *  2. a memory hog: generation 3 RDMA-written; a child (oom_score_adj 1000, so that the OOM
 *     killer would take it first) maps and touches anonymous memory until only HEADROOM_MB is
 *     free (after dropping the clean page cache) and holds it; fsync() must return 0, nothing
 *     but the hog may be OOM-killed, generation 3 must be on disk; the premise: reclaim ran (kswapd runs
 *     plus direct-reclaim stalls) during the fsync more often than in a quiet second before it.
 *     What reclaim did meanwhile is printed (it scans the pinned pages it cannot free: issue 20).
 *     This process is mlocked (before any MR is mapped), so that its own major faults under
 *     the hog do not call the OOM killer, and watermark boosting is off (see pw_test());
 *  3. in a memory cgroup: this process moves into a new cgroup whose memory.max is a new MR of
 *     MEMCG_MR_MB plus MEMCG_SLACK_MB, registers it (the page cache is charged to the cgroup),
 *     RDMA-writes it and, while write(2) of MEMCG_PLAIN_MB to a second file keeps the cgroup at
 *     its limit (the premise: memory.events "max" goes up), fsyncs the MR: 0, no OOM event in
 *     the cgroup, the data on disk. The copies are not charged to the cgroup (see the series).
 * Hung tasks and other reports fail the run through the rig's log check.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dm-ioctl.h>

#include "lib/pinwb.h"

const char pw_description[] = "fsync of a registered file MR over half the guest's memory on a stuck device, under a memory hog and in a memory cgroup at its limit: completes, nothing but the hog OOM-killed, data on disk";

#define HEADROOM_MB 12
#define MEMCG_MR_MB 128
#define MEMCG_SLACK_MB 48
#define MEMCG_PLAIN_MB 256
#define WB_KNOB "/proc/sys/vm/dirty_writeback_centisecs"
#define STUCK_S 20	/* at most, waiting for free memory to run low */
#define HOLD_MS 8000	/* then how long the copies are watched at the bottom */

static const char *dm;

/*
 * Suspend (--nolockfs) or resume the dm device with the ioctl itself, through a control fd opened
 * beforehand: with free memory at the bottom, a fork and exec of dmsetup may need more memory than
 * is left, and the OOM killer would then pick the process with the most resident pages - this
 * one, whose mapping is the pinned file.
 */
static int dm_fd = -1;

/* A dm ioctl header naming our device. */
static void dm_io_init(struct dm_ioctl *io)
{
	memset(io, 0, sizeof(*io));
	io->version[0] = DM_VERSION_MAJOR;
	io->data_size = sizeof(*io);
	io->data_start = sizeof(*io);
	snprintf(io->name, sizeof(io->name), "%s", dm);
}

static int dm_ioctl_suspend(bool suspend)
{
	struct dm_ioctl io;

	dm_io_init(&io);
	io.flags = suspend ? DM_SUSPEND_FLAG | DM_SKIP_LOCKFS_FLAG : 0;
	return ioctl(dm_fd, DM_DEV_SUSPEND, &io);
}

/*
 * The guard: a child forked before any MR exists, in a session of its own (a timeout that kills
 * the test's process group spares it), locked in memory and exempt from the OOM killer. It
 * resumes the device when it has been suspended for GUARD_S, or when this process has gone (its
 * end of the pipe closes), retrying until the resume succeeds. A SIGKILL does not end this
 * process while its fsync thread waits on the suspended device, so the deadline is what counts:
 * the stuck part holds the device for at most STUCK_S. Without the guard, an OOM kill of this
 * process while the device is suspended left every writer of the scratch filesystem, then the
 * guest, stuck (6.12, 30 Nov); with it, that is a failed test in a guest that goes on.
 */
#define GUARD_S 60
static int guard_fd = -1;

/* Resume the device, retrying for up to two minutes (ENXIO: it is gone, nothing to do). */
static void guard_resume(const char *why)
{
	for (int tries = 0; dm_ioctl_suspend(false); tries++) {
		if (errno == ENXIO)
			return;
		if (tries == 120) {
			fprintf(stderr, "# guard: gave up resuming %s (%s): %s\n", dm, why, strerror(errno));
			return;
		}
		if (tries % 10 == 0)
			fprintf(stderr, "# guard: resume of %s (%s): %s; retrying\n", dm, why, strerror(errno));
		sleep(1);
	}
}

static int dm_is_suspended(void);

static void guard_run(int cmd, int ready)
{
	struct pollfd pfd = { .fd = cmd, .events = POLLIN };
	double deadline = 0;	/* armed: when to resume; then checked every second until 'R' */
	int fd;
	char c;

	setsid();
	if (chdir("/"))
		_exit(1);
	for (fd = 3; fd < 1024; fd++)
		if (fd != cmd && fd != ready && fd != dm_fd)
			close(fd);
	fd = open("/proc/self/oom_score_adj", O_WRONLY);
	if (fd < 0 || write(fd, "-1000", 5) != 5 || mlockall(MCL_CURRENT | MCL_FUTURE))
		_exit(1);
	close(fd);
	if (write(ready, "k", 1) != 1)
		_exit(1);
	close(ready);
	for (;;) {
		int timeout = -1, n;

		if (deadline)
			timeout = deadline > pw_now() ? (int)((deadline - pw_now()) * 1000) + 1 : 0;
		n = poll(&pfd, 1, timeout);
		if (n == 0) {
			/* Past the deadline: resume, and again if a late suspend lands after. */
			if (dm_is_suspended() == 1) {
				fprintf(stderr, "# guard: %s suspended for %d s or more: resuming it\n", dm, GUARD_S);
				guard_resume("deadline");
			}
			deadline = pw_now() + 1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || read(cmd, &c, 1) != 1)
			break;
		deadline = c == 'S' ? pw_now() + GUARD_S : 0;
	}
	/* The test is gone: the device must not stay suspended. */
	guard_resume("the test is gone");
	_exit(0);
}

static void guard_start(void)
{
	int cmd[2], ready[2];
	pid_t pid;
	char c;

	/* Neither the guard (stderr) nor this process (the guard's pipe) may die writing. */
	signal(SIGPIPE, SIG_IGN);
	/* Close-on-exec, and closed in the hog: only this process holds the write end. */
	if (pipe2(cmd, O_CLOEXEC) || pipe2(ready, O_CLOEXEC))
		pw_die("pipe2: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		pw_die("fork: %s", strerror(errno));
	if (!pid) {
		close(cmd[1]);
		close(ready[0]);
		guard_run(cmd[0], ready[1]);
	}
	close(cmd[0]);
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		pw_die("the guard (pid %d) did not start: oom_score_adj, mlockall or chdir failed", (int)pid);
	close(ready[0]);
	guard_fd = cmd[1];
}

/* Arm the guard's deadline before a suspend; disarm it after a resume. */
static void guard_tell(char c)
{
	if (write(guard_fd, &c, 1) != 1)
		pw_die("write to the guard: %s", strerror(errno));
}

static int dm_suspend(bool suspend)
{
	int ret;

	if (suspend)
		guard_tell('S');
	ret = dm_ioctl_suspend(suspend);
	if (!suspend ? !ret : ret)
		guard_tell('R');
	return ret;
}

/* Is the device suspended (DM_DEV_STATUS)? -1 on error. */
static int dm_is_suspended(void)
{
	struct dm_ioctl io;

	dm_io_init(&io);
	if (ioctl(dm_fd, DM_DEV_STATUS, &io))
		return -1;
	return !!(io.flags & DM_SUSPEND_FLAG);
}

/*
 * Read a /proc file whole through *fd (opened on first use and kept) into buf, both kept
 * between calls: the stuck part reads while free memory is at the bottom, where a new file
 * is an allocation that may end in the OOM killer (a seq_file keeps its buffer between reads
 * from offset 0). NUL-terminated; -1 if the read fails.
 */
static int read_kept(int *fd, const char *path, char *buf, size_t size)
{
	ssize_t n, len = 0;

	if (*fd < 0)
		*fd = open(path, O_RDONLY);
	if (*fd < 0)
		pw_die("%s: %s", path, strerror(errno));
	while ((n = pread(*fd, buf + len, size - 1 - len, len)) > 0)
		len += n;
	if (n < 0)
		return -1;	/* at the bottom of memory: the caller must not die suspended */
	if (len == (ssize_t)size - 1)
		pw_die("%s: longer than the buffer", path);
	buf[len] = 0;
	return 0;
}

/*
 * A /proc/vmstat counter read through one fd and buffer, both kept: read while free memory is
 * at the bottom (see read_kept()). The kernel still allocates a small buffer for each read of
 * /proc/vmstat; -1 if that fails.
 */
static long long vmstat_kept(const char *key)
{
	static char buf[16384];
	static int fd = -1;
	size_t klen = strlen(key);
	char *line, *save;

	if (read_kept(&fd, "/proc/vmstat", buf, sizeof(buf)))
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			return atoll(line + klen + 1);
	return -1;
}

/* What reclaim did during the fsync (reported: the pinned pages cannot be reclaimed). */
static const char *const reclaim_stat[] = {
	"pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct", "allocstall_normal",
	"allocstall_dma32", "pgactivate", "pgrefill", "pgmajfault",
};
#define NR_RECLAIM_STATS (int)(sizeof(reclaim_stat) / sizeof(reclaim_stat[0]))

/* Free pages and the sum of the zones' low watermarks, from /proc/zoneinfo. */
static void free_and_low(long long *free_pages, long long *low)
{
	char line[256];
	FILE *f = fopen("/proc/zoneinfo", "r");
	long long v;

	*free_pages = 0;
	*low = 0;
	if (!f)
		pw_die("/proc/zoneinfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " pages free %lld", &v) == 1)
			*free_pages += v;
		else if (sscanf(line, " low %lld", &v) == 1)
			*low += v;
	}
	fclose(f);
}

struct sampler {
	pthread_t thread;
	atomic_int stop;
	long long min_free, low;
};

/*
 * The zone that holds most of the memory (DMA32 in a small guest, Normal in a large one): its
 * free pages and its min and low watermarks, from /proc/zoneinfo.
 */
struct zone_seen {
	char name[16];
	long long free, boost, min, low, managed;	/* min and low without the boost */
	long long pcp;		/* pages in the zone's per-CPU lists: free, but not in "free" */
};

static int big_zone(struct zone_seen *z)
{
	/* Sampled while free memory is at the bottom: see read_kept(). */
	static char buf[65536];
	static int fd = -1;
	struct zone_seen cur;
	char name[16], *line, *save;
	long long v;

	memset(z, 0, sizeof(*z));
	memset(&cur, 0, sizeof(cur));
	if (read_kept(&fd, "/proc/zoneinfo", buf, sizeof(buf)))
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "Node %*d, zone %15s", name) == 1) {
			if (cur.managed > z->managed)
				*z = cur;
			memset(&cur, 0, sizeof(cur));
			snprintf(cur.name, sizeof(cur.name), "%s", name);
		} else if (sscanf(line, " pages free %lld", &v) == 1) {
			cur.free = v;
		} else if (sscanf(line, " boost %lld", &v) == 1) {
			cur.boost = v;
		} else if (sscanf(line, " min %lld", &v) == 1) {
			/* /proc/zoneinfo adds the watermark boost (temporary) to each. */
			cur.min = v - cur.boost;
		} else if (sscanf(line, " low %lld", &v) == 1) {
			cur.low = v - cur.boost;
		} else if (sscanf(line, " managed %lld", &v) == 1) {
			cur.managed = v;
		} else if (sscanf(line, " count: %lld", &v) == 1) {
			cur.pcp += v;
		}
	}
	if (cur.managed > z->managed)
		*z = cur;
	return 0;
}

struct syncer {
	pthread_t thread;
	int fd;
	atomic_int done;
	int err;
};

static void *sync_fn(void *arg)
{
	struct syncer *s = arg;

	s->err = fsync(s->fd) ? errno : 0;
	atomic_store(&s->done, 1);
	return NULL;
}

static void *sample_fn(void *arg)
{
	struct sampler *s = arg;
	long long f, l;

	while (!atomic_load(&s->stop)) {
		free_and_low(&f, &l);
		if (f < s->min_free)
			s->min_free = f;
		s->low = l;
		usleep(5000);
	}
	return NULL;
}

/* A child that holds mb MiB of touched anonymous memory until killed; -1 if it died first. */
static int hog_start(long long mb)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		pw_die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		pw_die("fork: %s", strerror(errno));
	if (!pid) {
		size_t len = (size_t)mb << 20;
		FILE *f;
		char *m;

		/* The guard must see the test's end, not wait for the hog's. */
		close(guard_fd);
		f = fopen("/proc/self/oom_score_adj", "w");

		if (f) {
			fputs("1000", f);
			fclose(f);
		}
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			_exit(1);
		for (size_t i = 0; i < len; i += 4096)
			m[i] = 1;
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		close(p[0]);
		waitpid(pid, NULL, 0);
		return -1;
	}
	close(p[0]);
	return pid;
}

/* Times memory was found short: kswapd's runs and allocations that stalled in direct reclaim. */
static long long reclaim_events(void)
{
	return pw_vmstat("pageoutrun") + pw_vmstat("allocstall_normal") +
	       pw_vmstat("allocstall_dma32") + pw_vmstat("allocstall_dma");
}

/* What memory holds, for the log: the hog is sized on MemFree. */
static void meminfo_line(const char *when)
{
	static const char *const key[] = { "MemFree", "MemAvailable", "Buffers", "Cached", "Dirty",
		"Writeback", "Mapped", "AnonPages", "Mlocked", "Active(file)", "Inactive(file)" };
	char line[512];
	int n = 0;

	for (size_t k = 0; k < sizeof(key) / sizeof(key[0]); k++)
		n += snprintf(line + n, sizeof(line) - n, " %s %lld", key[k],
			      pw_proc_field("/proc/meminfo", key[k]) >> 10);
	pw_info("%s (MiB):%s", when, line);
}

static void part_system(struct pw_dev *d, struct pw_qp_pair *qp, struct pw_src *src)
{
	const char *path = pw_path("mempressure.dat");
	long long total_kb = pw_proc_field("/proc/meminfo", "MemTotal");
	long long avail, hog_mb, left_mb, oom0, oom1, kswapd0, kswapd1, quiet, stat0[NR_RECLAIM_STATS];
	long long copies0, copies1;
	char stats[512];
	size_t nblocks = (size_t)(total_kb / 2 / 4) & ~(size_t)255;
	struct sampler s;
	struct pw_fmr f;
	struct pw_tally t;
	char dev[64];
	uint64_t *map;
	double t0, took;
	int hog, ret, err, status, hog_killed;
	bool stuck_blocked;

	pw_info("MemTotal %lld MiB: MR of %zu MiB", total_kb >> 10, nblocks >> 8);
	ret = pw_fmr_open(d, &f, path, nblocks * PW_BLOCK, PROT_READ | PROT_WRITE,
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (ret)
		pw_die("registration of %zu MiB: %s", nblocks >> 8, strerror(-ret));
	map = pw_block_map_synced(f.fd, path, nblocks, dev, sizeof(dev));
	/* mempressure.sh's premise: a disk that asks for stable pages, so the series copies. */
	ret = pw_stable_writes(path);
	if (ret != 1)
		pw_die("the disk under %s does not ask for stable pages (queue/stable_writes %d): the series would write the pinned pages in place, with no copy to allocate",
		       path, ret);
	if (pw_write_gen(qp, src, f.mr, 0, nblocks, 2))
		pw_die("RDMA write of generation 2 failed");

	/*
	 * MemAvailable counts the pinned page cache as reclaimable: size the hog on what is free
	 * once the clean page cache is dropped (the pinned pages stay).
	 */
	pw_drop_caches();
	/*
	 * Stuck and short: the device suspended, fsync() copies the pinned pages into bios that
	 * cannot complete, until free memory runs out. The copies must then wait for their own
	 * kind to come back, not take the kernel's reserves: the free pages of the main zone must
	 * stay above half its min watermark (an allocation that may ignore the watermarks takes
	 * them to nothing).
	 */
	/*
	 * Only with PINWB_MEMPRESSURE_STUCK=1. On 6.12 (make check, 30 Nov) this process was once
	 * OOM-killed here while memory was at the bottom, and the device stayed suspended and took
	 * the guest down; the guard now resumes the device, and the loop below reads through fds
	 * and buffers opened before. But in a whole make check SERIES=6.12 with this part on
	 * (1 Dec), the hog below then died five times filling memory (issue 23): off by default
	 * until that is understood.
	 */
	if (getenv("PINWB_MEMPRESSURE_STUCK") && !strcmp(getenv("PINWB_MEMPRESSURE_STUCK"), "1")) {
		struct syncer sy = { .fd = f.fd };
		struct zone_seen z, lowest;
		long long b0, b1;
		int still;
		double ts, bottom, held;

		pw_drop_caches();
		b0 = vmstat_kept("pin_writeback_bounce");
		if (big_zone(&lowest))
			pw_die("/proc/zoneinfo: %s", strerror(errno));
		pw_info("zone %s: %lld MiB free, watermarks min %lld kB, low %lld kB", lowest.name,
			lowest.free >> 8, lowest.min * 4, lowest.low * 4);
		if (dm_suspend(true))
			pw_die("DM_DEV_SUSPEND of %s: %s", dm, strerror(errno));
		if (pthread_create(&sy.thread, NULL, sync_fn, &sy)) {
			dm_suspend(false);
			pw_die("pthread_create (fsync)");
		}
		/* Until free memory is below the low watermark, then HOLD_MS more. */
		ts = pw_now();
		bottom = 0;
		while (!bottom ? pw_now() - ts < STUCK_S : pw_now() - bottom < HOLD_MS / 1000.0) {
			if (big_zone(&z))
				break;	/* resume first; the premise then fails */
			if (z.free < lowest.free)
				lowest = z;
			if (!bottom && z.free < z.low)
				bottom = pw_now();
			usleep(2000);
		}
		held = bottom ? pw_now() - bottom : 0;
		b1 = vmstat_kept("pin_writeback_bounce");
		stuck_blocked = !atomic_load(&sy.done);
		still = dm_is_suspended();
		if (dm_suspend(false))
			pw_die("DM_DEV_SUSPEND (resume) of %s: %s", dm, strerror(errno));
		ts = pw_now();
		while (!atomic_load(&sy.done) && pw_now() - ts < 300)
			usleep(20000);
		if (!atomic_load(&sy.done))
			pw_die("fsync still blocked 300 s after the resume");
		pthread_join(sy.thread, NULL);
		if (still != 1)
			pw_info("the device was %s when this test went to resume it",
				still < 0 ? "not found (DM_DEV_STATUS failed)" : "running: the guard resumed it");
		pw_ok(stuck_blocked && bottom && held >= HOLD_MS / 1000.0 && still == 1,
		      "premise: with the device suspended, fsync() copied %lld pages and free memory fell below the low watermark within %d s (lowest %lld kB, low %lld kB), fsync still blocked %.0f ms later (wanted %d), the device still suspended then",
		      b0 < 0 || b1 < 0 ? -1 : b1 - b0, STUCK_S, lowest.free * 4, lowest.low * 4, held * 1000, HOLD_MS);
		/*
		 * Reported, not asserted: v5's __GFP_NOFAIL copies passed a check that free
		 * memory stays above half the min watermark, so it showed nothing of the
		 * series; and on 6.12 free memory once fell to 288 kB here, by a cause
		 * not found yet (issue 23's closing note).
		 */
		pw_info("lowest free memory of zone %s while the device was suspended: %lld kB, and %lld kB more in its per-CPU lists then (min watermark %lld kB)",
			lowest.name, lowest.free * 4, lowest.pcp * 4, lowest.min * 4);
		pw_ok(!sy.err, "after the resume, that fsync() returns 0 (%s)",
		      sy.err ? strerror(sy.err) : "yes");
		pw_disk_tally(dev, map, nblocks, 2, &t);
		pw_ok(t.n[PW_BLK_OK] == nblocks, "generation 2 on disk in every block (%s)",
		      pw_tally_str(&t));
	} else {
		pw_skip("stuck and short: not run (PINWB_MEMPRESSURE_STUCK unset: see issue 23)");
		pw_skip("stuck and short: fsync after the resume");
		pw_skip("stuck and short: generation 2 on disk");
	}
	if (pw_write_gen(qp, src, f.mr, 0, nblocks, 3))
		pw_die("RDMA write of generation 3 failed");

	meminfo_line("before the hog");
	/*
	 * Size the hog on what is free, or on what is available less the pinned MR, whichever is
	 * more: the clean page cache that drop_caches leaves (on a second run in the same guest,
	 * ~760 MiB of file pages beyond "Cached") is reclaimed as the hog fills, and would
	 * otherwise be left as headroom. MemAvailable counts the pinned pages as reclaimable.
	 */
	avail = pw_proc_field("/proc/meminfo", "MemFree") >> 10;
	if ((pw_proc_field("/proc/meminfo", "MemAvailable") >> 10) - (long long)(nblocks >> 8) > avail)
		avail = (pw_proc_field("/proc/meminfo", "MemAvailable") >> 10) - (long long)(nblocks >> 8);
	if (avail <= HEADROOM_MB)
		pw_die("only %lld MiB free with the MR registered", avail);
	/*
	 * The watermarks may be boosted for a while (watermark_boost_factor), and a hog that
	 * crosses them can be OOM-killed while it fills memory: then try 16 MiB less, up to
	 * eight times (four were not enough on 6.12 in a whole make check on 1 Dec, after the
	 * copies of the first fsync: killed down to 835 MiB with 911 MiB free before). The
	 * premise below still requires reclaim during the fsync. Only the fsync's OOM kills count.
	 */
	hog_mb = avail - HEADROOM_MB;
	for (int tries = 0; (hog = hog_start(hog_mb)) < 0; tries++) {
		if (tries == 8)
			pw_die("the memory hog died before it held its memory, down to %lld MiB", hog_mb);
		pw_info("the memory hog of %lld MiB died filling memory: %lld MiB", hog_mb, hog_mb - 16);
		hog_mb -= 16;
	}
	oom0 = pw_vmstat("oom_kill");
	left_mb = pw_proc_field("/proc/meminfo", "MemFree") >> 10;
	pw_info("hog holds %lld MiB; MemAvailable now %lld MiB, MemFree %lld MiB", hog_mb,
		pw_proc_field("/proc/meminfo", "MemAvailable") >> 10, left_mb);

	/*
	 * Reclaim in a quiet second (kswapd's runs and the allocations that stalled in direct
	 * reclaim), to compare with that during the fsync. Both count: kswapd may stay in one run
	 * for the whole fsync while every allocation reclaims for itself (pageoutrun +0,
	 * allocstall +237: 1 Dec).
	 */
	quiet = reclaim_events();
	sleep(1);
	kswapd0 = reclaim_events();
	quiet = kswapd0 - quiet;
	for (int k = 0; k < NR_RECLAIM_STATS; k++)
		stat0[k] = pw_vmstat(reclaim_stat[k]);
	memset(&s, 0, sizeof(s));
	free_and_low(&s.min_free, &s.low);
	if (pthread_create(&s.thread, NULL, sample_fn, &s))
		pw_die("pthread_create (sampler)");
	copies0 = pw_vmstat("pin_writeback_bounce");
	t0 = pw_now();
	ret = fsync(f.fd);
	err = errno;
	took = pw_now() - t0;
	copies1 = pw_vmstat("pin_writeback_bounce");
	atomic_store(&s.stop, 1);
	pthread_join(s.thread, NULL);
	for (int k = 0, n = 0; k < NR_RECLAIM_STATS; k++)
		n += snprintf(stats + n, sizeof(stats) - n, " %s +%lld", reclaim_stat[k],
			      pw_vmstat(reclaim_stat[k]) - stat0[k]);
	pw_info("reclaim during the fsync:%s", stats);
	oom1 = pw_vmstat("oom_kill");
	kswapd1 = reclaim_events();
	pw_ok(!ret, "fsync of %zu MiB under the hog returns 0 (%s) in %.1f s", nblocks >> 8,
	      ret ? strerror(err) : "yes", took);
	pw_ok(kswapd1 - kswapd0 > quiet, "premise: the fsync's allocations found memory short: %lld kswapd runs and direct-reclaim stalls during it (%lld in the second before; free memory min %lld kB, low watermark %lld kB)",
	      kswapd1 - kswapd0, quiet, s.min_free * 4, s.low * 4);
	/* With the series, on this disk (it asks for stable pages) every pinned page from a copy. */
	if (copies0 < 0)
		pw_skip("the fsync wrote every pinned page from a copy: no pin_writeback_bounce in /proc/vmstat (kernel without the series)");
	else
		pw_ok(copies1 - copies0 >= (long long)nblocks,
		      "the fsync wrote every pinned page from a copy (the disk asks for stable pages): pin_writeback_bounce +%lld (want >= %zu)",
		      copies1 - copies0, nblocks);
	/*
	 * The OOM killer may take the hog (that is what it is for): the fsync's own allocations
	 * (GFP_NOFS) never call it, and its copies stop at the min watermark, but with 12 MiB
	 * left and the pinned pages unevictable the rest of the kernel can still go below it (a
	 * thread's exit allocating a slab, 1 Dec). Anything else killed fails the test.
	 */
	hog_killed = waitpid(hog, &status, WNOHANG) == hog && WIFSIGNALED(status) &&
		     WTERMSIG(status) == SIGKILL;
	pw_ok(oom1 - oom0 == hog_killed,
	      "nothing but the hog was OOM-killed during the fsync (oom_kill +%lld; the hog %s)",
	      oom1 - oom0, hog_killed ? "was" : "still holds its memory");
	if (!hog_killed) {
		kill(hog, SIGKILL);
		waitpid(hog, NULL, 0);
	}

	pw_disk_tally(dev, map, nblocks, 3, &t);
	pw_ok(t.n[PW_BLK_OK] == nblocks, "generation 3 on disk in every block (%s)", pw_tally_str(&t));
	pw_seen("fsync of %zu MiB with %lld MiB free (hog of %lld MiB): %.1f s, %zu/%zu blocks on disk, min free %lld kB",
		nblocks >> 8, left_mb, hog_mb, took, t.n[PW_BLK_OK], nblocks, s.min_free * 4);
	pw_metric(nblocks - t.n[PW_BLK_OK], "blocks lost");
	free(map);
	pw_fmr_close(&f);
	unlink(path);
}

struct plain_writer {
	pthread_t thread;
	const char *path;
	atomic_int done;
	int err;
};

static void *plain_fn(void *arg)
{
	struct plain_writer *p = arg;
	static char buf[1 << 20];
	int fd = open(p->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	memset(buf, 0x5a, sizeof(buf));
	if (fd < 0) {
		p->err = errno;
		atomic_store(&p->done, 1);
		return NULL;
	}
	for (int i = 0; i < MEMCG_PLAIN_MB; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
			p->err = errno;
			break;
		}
	close(fd);
	atomic_store(&p->done, 1);
	return NULL;
}

static void part_memcg(struct pw_dev *d, struct pw_qp_pair *qp, struct pw_src *src)
{
	/* pw_path() returns a static buffer: one copy per name. */
	char *path = strdup(pw_path("mempressure-cg.dat"));
	size_t nblocks = (size_t)MEMCG_MR_MB << 8;
	struct plain_writer pw = { .path = strdup(pw_path("mempressure-plain.dat")) };
	long long max0, max1, oom1, kill1;
	struct pw_tally t;
	struct pw_fmr f;
	char dev[64];
	uint64_t *map;
	double t0;
	int ret, err;

	pw_cg_enter("pinwb-mempressure", (long long)(MEMCG_MR_MB + MEMCG_SLACK_MB) << 20);

	ret = pw_fmr_open(d, &f, path, nblocks * PW_BLOCK, PROT_READ | PROT_WRITE,
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (ret)
		pw_die("registration of %d MiB in a cgroup of %d MiB: %s", MEMCG_MR_MB,
		       MEMCG_MR_MB + MEMCG_SLACK_MB, strerror(-ret));
	map = pw_block_map_synced(f.fd, path, nblocks, dev, sizeof(dev));
	if (pw_write_gen(qp, src, f.mr, 0, nblocks, 4))
		pw_die("RDMA write of generation 4 failed");
	pw_info("cgroup memory.current %lld MiB of %d MiB", pw_sysctl_get(pw_cg_file("memory.current")) >> 20,
		MEMCG_MR_MB + MEMCG_SLACK_MB);

	max0 = pw_cg_field("memory.events", "max");
	if (pthread_create(&pw.thread, NULL, plain_fn, &pw))
		pw_die("pthread_create (plain writer)");
	/* Let the plain writer fill the cgroup first. */
	t0 = pw_now();
	while (pw_cg_field("memory.events", "max") == max0 && !atomic_load(&pw.done) &&
	       pw_now() - t0 < 30)
		usleep(10000);
	ret = fsync(f.fd);
	err = errno;
	pthread_join(pw.thread, NULL);
	max1 = pw_cg_field("memory.events", "max");
	oom1 = pw_cg_field("memory.events", "oom");
	kill1 = pw_cg_field("memory.events", "oom_kill");
	pw_ok(!ret && !pw.err, "fsync of the MR while write(2) of %d MiB fills the cgroup returns 0 (%s; write(2): %s)",
	      MEMCG_PLAIN_MB, ret ? strerror(err) : "yes", pw.err ? strerror(pw.err) : "ok");
	pw_ok(max1 > max0, "premise: the cgroup hit memory.max (memory.events max +%lld)", max1 - max0);
	pw_ok(!oom1 && !kill1, "no OOM in the cgroup (memory.events oom %lld, oom_kill %lld)", oom1,
	      kill1);
	if (fsync(f.fd))
		pw_die("fsync after the plain writer: %s", strerror(errno));
	pw_disk_tally(dev, map, nblocks, 4, &t);
	pw_ok(t.n[PW_BLK_OK] == nblocks, "generation 4 on disk in every block (%s)", pw_tally_str(&t));
	free(map);
	pw_fmr_close(&f);
	pw_cg_leave();
	unlink(path);
	unlink(pw.path);
	free(path);
	free((char *)pw.path);
}

int pw_test(int argc, char **argv)
{
	struct pw_dev d;
	struct pw_qp_pair qp;
	struct pw_src src;

	(void)argc; (void)argv;
	pw_cg_require();
	/*
	 * This process's own text, libraries and stacks stay in memory: under the hog it
	 * otherwise pays major faults for them, and a fault that finds free memory below
	 * boosted watermarks (a 14 MiB boost on this guest, with 12 MiB left) asks the OOM
	 * killer for memory that no test allocated (CI, 30 Nov). Only what is mapped now: the
	 * MRs, mapped later, are not locked.
	 */
	if (mlockall(MCL_CURRENT))
		pw_die("mlockall: %s", strerror(errno));
	pw_sysctl_set(WB_KNOB, 0);
	/*
	 * No watermark boosting (restored at exit): after a fragmentation event the kernel raises
	 * every watermark of the zone by up to 150% of its high watermark (14 MiB on this guest),
	 * above the hog's HEADROOM_MB, and with nothing left to reclaim any allocation by anyone
	 * then calls the OOM killer (a thread's exit, in CI and on 1 Dec). The test is about the
	 * series' copies, which never go below the unboosted min watermark, not about the boost.
	 */
	pw_sysctl_set("/proc/sys/vm/watermark_boost_factor", 0);
	dm = getenv("PINWB_DM");
	if (!dm)
		pw_die("PINWB_DM is not set: run tests/rdma/mempressure.sh");
	dm_fd = open("/dev/mapper/control", O_RDWR);
	if (dm_fd < 0)
		pw_die("/dev/mapper/control: %s", strerror(errno));
	guard_start();
	pw_dev_open(&d);
	pw_qp_pair_create(&d, &qp, 32);
	pw_src_create(&d, &src, 32);
	pw_plan(12);
	part_system(&d, &qp, &src);
	part_memcg(&d, &qp, &src);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	pw_sysctl_restore();
	return pw_result();
}
