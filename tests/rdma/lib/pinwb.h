/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pinwb test library: an RDMA device and GID, a loopback RC QP pair in one process, memory
 * regions over file mappings, the block pattern the tests write, KTAP output and the kernel's
 * pin counters.
 *
 * Every test program defines pw_description[] and pw_test(); the library's main() prints the
 * KTAP header, runs pw_test() and turns its result into a kselftest exit code
 * (0 pass, 1 fail, 4 skip).
 */
#ifndef PINWB_H
#define PINWB_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <infiniband/verbs.h>

#define PW_BLOCK	4096u
#define PW_MAGIC	0x424c4b42574e4950ull	/* "PINWBBLK" */

/* PW_REFUSED: the kernel refused the registration the test is about (pw_reg_mr()). */
enum { PW_PASS = 0, PW_FAIL = 1, PW_SKIP = 4, PW_REFUSED = 5 };

/* Provided by each test. */
extern const char pw_description[];
int pw_test(int argc, char **argv);

/* ---- KTAP ---- */
void pw_plan(int n);
/* One result line; returns cond so callers can count. */
bool pw_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pw_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pw_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The exit code for what was reported so far: fail if any failed, skip if all skipped. */
int pw_result(void);
/* Print a reason and end the program as skipped (missing device, missing filesystem...). */
void __attribute__((noreturn)) pw_skip_all(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a reason and end the program as failed (a broken precondition, not a finding). */
void __attribute__((noreturn)) pw_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * ibv_reg_mr(), except on a kernel that refuses long-term write pins of shared file mappings
 * with EFAULT, as upstream does since 6.5 (a kernel without the series: no pin_writeback_*
 * counters in /proc/vmstat). A writable MR over a MAP_SHARED file mapping refused that way ends
 * the test as REFUSED (exit PW_REFUSED, "# REFUSED ..."): what the test is about cannot happen.
 */
struct ibv_mr *pw_reg_mr(struct ibv_pd *pd, void *addr, size_t len, int access);
/*
 * A long-term write pin of a shared file mapping that failed with err: on a kernel without the
 * series (no pin_writeback_* counters) an EFAULT ends the test as REFUSED, what naming the call;
 * otherwise returns.
 */
void pw_refused_if_no_series(int err, const char *what);

/* ---- device, loopback QP pair ---- */
struct pw_dev {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	uint8_t port;
	int gid_index;
	union ibv_gid gid;
	enum ibv_mtu mtu;
	bool cm;		/* ctx belongs to an rdma_cm id (two-node mode) */
};

/*
 * Open the device named by $PINWB_RDMA_DEV (default: the first one) and pick its RoCE v2 GID
 * ($PINWB_GID_INDEX overrides). Skips the test if there is no device.
 */
void pw_dev_open(struct pw_dev *d);
void pw_dev_close(struct pw_dev *d);

/* Two RC QPs of one device connected to each other: "writer" issues RDMA WRITEs to "target". */
struct pw_qp_pair {
	struct pw_dev *dev;
	struct ibv_cq *cq;
	struct ibv_qp *writer;
	struct ibv_qp *target;
	unsigned int depth;
	unsigned int outstanding;
	/* Two-node mode: writer is the rdma_cm QP to the other side, target is NULL. */
	struct ibv_cq *rcq;		/* its receive CQ (messages) */
	struct pw_peer *peer;
	bool remote;			/* the other side does the writes (owner's side) */
};

void pw_qp_pair_create(struct pw_dev *d, struct pw_qp_pair *p, unsigned int depth);
void pw_qp_pair_destroy(struct pw_qp_pair *p);

/*
 * RDMA-WRITE len bytes from lmr+loff to the remote (addr, rkey); post only, at most
 * p->depth in flight. Returns 0 or -1 (error printed).
 */
int pw_post_write(struct pw_qp_pair *p, struct ibv_mr *lmr, size_t loff, uint64_t raddr,
		  uint32_t rkey, size_t len);
/*
 * RDMA-READ len bytes from the remote (addr, rkey) into lmr+loff (lmr needs
 * IBV_ACCESS_LOCAL_WRITE, the remote MR IBV_ACCESS_REMOTE_READ); post only, like pw_post_write.
 */
int pw_post_read(struct pw_qp_pair *p, struct ibv_mr *lmr, size_t loff, uint64_t raddr,
		 uint32_t rkey, size_t len);
/* Wait for every posted request to complete; -1 if any completion is not IBV_WC_SUCCESS. */
int pw_drain(struct pw_qp_pair *p);

/* ---- memory regions over a file mapping ---- */
struct pw_fmr {
	int fd;
	char *addr;
	size_t len;
	struct ibv_mr *mr;
};

/*
 * Create (or reuse) path, size it to len, map it MAP_SHARED with prot and register it with
 * access. On registration failure returns -errno and leaves the mapping in place (mr NULL).
 */
int pw_fmr_open(struct pw_dev *d, struct pw_fmr *f, const char *path, size_t len, int prot,
		int access);
void pw_fmr_dereg(struct pw_fmr *f);
/*
 * Deregister, then wait (up to 10 s) until the process's VmPin is back to vmpin0 kB: rxe may
 * release the MR from deferred work, and unpinning marks the pages dirty, so a test's fsync must
 * come after it. Returns the VmPin last read.
 */
long long pw_fmr_dereg_settled(struct pw_fmr *f, long long vmpin0);
void pw_fmr_close(struct pw_fmr *f);

/* A local (anonymous) source buffer of nblocks, each block patterned for gen. */
struct pw_src {
	char *buf;
	size_t len;
	struct ibv_mr *mr;
};
void pw_src_create(struct pw_dev *d, struct pw_src *s, size_t nblocks);
void pw_src_destroy(struct pw_src *s);

/*
 * RDMA-write generation gen of blocks [first, first + n) of the target MR (block i at offset
 * i * PW_BLOCK) and wait for all of it. Returns 0 or -1.
 */
int pw_write_gen(struct pw_qp_pair *p, struct pw_src *s, struct ibv_mr *target, size_t first,
		 size_t n, uint32_t gen);

/*
 * A thread that RDMA-writes generation after generation (first_gen, first_gen + 1, ...) into
 * blocks [0, nblocks) of mr until pw_writer_stop(). The QP pair and source buffer are the
 * writer's while it runs.
 */
struct pw_writer {
	struct pw_qp_pair *qp;
	struct pw_src *src;
	struct ibv_mr *mr;
	size_t nblocks;
	uint32_t gen;
	pthread_t thread;
	atomic_int stop;
	atomic_uint passes;	/* full passes over the blocks */
	atomic_uint errors;	/* passes with a failed write */
};
void pw_writer_start(struct pw_writer *w, struct pw_qp_pair *qp, struct pw_src *src,
		     struct ibv_mr *mr, size_t nblocks, uint32_t first_gen);
void pw_writer_stop(struct pw_writer *w);

/*
 * What most tests start from: the device, a loopback QP pair of the given depth, a source
 * buffer of depth blocks, and a writable (LOCAL_WRITE | REMOTE_WRITE) MR over the first
 * nblocks blocks of a MAP_SHARED mapping of path. Dies if the registration fails.
 */
struct pw_rig {
	struct pw_dev d;
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_fmr f;
};
void pw_rig_open(struct pw_rig *r, const char *path, size_t nblocks, unsigned int depth);
void pw_rig_close(struct pw_rig *r);

/*
 * ---- two-node mode (lib/peer.c) ----
 * Every test program takes --listen ADDR[:PORT] (or $PINWB_LISTEN) and --connect ADDR[:PORT],
 * plus --dev NAME to insist on a device (default port 18600). With --listen, pw_rig_open()
 * waits for a remote writer to connect with rdma_cm, and pw_write_gen(), pw_writer_start() and
 * pw_writer_stop() on the rig's QP ask it to do the writes; the test is otherwise unchanged.
 * With --connect, the program is that remote writer: it connects (retrying for
 * $PINWB_PEER_TIMEOUT seconds, default 120), serves one owner until it says goodbye, and
 * exits 0 (1 if the connection broke, 2 if nobody listened). Only tests built on
 * pw_rig_open() have a two-node mode; a loopback QP pair with --listen is refused.
 */
struct pw_peer;
/* Take the two-node options out of argv; returns the new argc. */
int pw_peer_options(int argc, char **argv);
bool pw_peer_listening(void);
bool pw_peer_connecting(void);
double pw_peer_timeout(void);
void pw_peer_accept(struct pw_dev *d, struct pw_qp_pair *p, unsigned int depth);
void pw_peer_close(struct pw_dev *d, struct pw_qp_pair *p);
int pw_peer_serve(void);
int pw_peer_write_gen(struct pw_qp_pair *p, struct ibv_mr *target, size_t first, size_t n,
		      uint32_t gen);
void pw_peer_stream_start(struct pw_writer *w);
void pw_peer_stream_stop(struct pw_writer *w);

/* ---- the block pattern ---- */
void pw_fill_block(void *blk, uint64_t block, uint32_t gen);

enum pw_blk_state { PW_BLK_OK, PW_BLK_STALE, PW_BLK_ZERO, PW_BLK_TORN, PW_BLK_FOREIGN, PW_BLK_NR };
extern const char *const pw_blk_state_name[PW_BLK_NR];

/* Classify one block against (block, gen); *seen_gen gets the generation found, if any. */
enum pw_blk_state pw_check_block(const void *blk, uint64_t block, uint32_t gen,
				 uint32_t *seen_gen);

struct pw_tally {
	size_t n[PW_BLK_NR];
	size_t first_bad;	/* first block not OK, or SIZE_MAX */
};
/* Classify nblocks blocks starting at buf (block numbers from first). */
void pw_tally(const void *buf, size_t first, size_t nblocks, uint32_t gen, struct pw_tally *t);
/* "256 blocks: 0 ok, 256 stale, ..." */
const char *pw_tally_str(const struct pw_tally *t);

/* Read [off, off+len) of path with O_DIRECT into a fresh buffer (caller frees); NULL on error. */
void *pw_read_direct(const char *path, size_t off, size_t len);

/*
 * pw_make_file: create path with nblocks blocks of generation gen (write(2)), fsync it, and
 * return it open O_RDWR. Dies on error.
 */
int pw_make_file(const char *path, size_t nblocks, uint32_t gen);

/* pw_reap: wait up to timeout_ms for child pid; true if it was reaped (status filled). */
bool pw_reap(int pid, int timeout_ms, int *status);

/*
 * Where each block of path's first nblocks lives on its block device: byte offsets, or
 * PW_NOT_ON_DISK for holes, delalloc and unwritten extents. Returns a malloc'd table; the
 * device node goes to dev (a /dev path). Map once, after a sync, before the writes a test
 * measures (FIEMAP_FLAG_SYNC would flush the very pages under test).
 */
#define PW_NOT_ON_DISK UINT64_MAX
uint64_t *pw_block_map(const char *path, size_t nblocks, char *dev, size_t devlen);
/*
 * fsync(fd) of path, then pw_block_map() of its first nblocks; dies if the fsync fails or a block
 * has no place on the device yet (what a test does once, after registration, before it measures).
 */
uint64_t *pw_block_map_synced(int fd, const char *path, size_t nblocks, char *dev, size_t devlen);
/* Read those blocks straight from the device with O_DIRECT (zeros where not on disk). */
void *pw_read_disk(const char *dev, const uint64_t *map, size_t nblocks);
/* pw_read_disk() + pw_tally() of nblocks against gen, read 1 MiB at a time (no big buffer). */
void pw_disk_tally(const char *dev, const uint64_t *map, size_t nblocks, uint32_t gen,
		   struct pw_tally *t);
/*
 * Read blocks [first, first + n) of a file from the device (map: pw_block_map()'s, of the whole
 * file) every 250 ms until all hold gen, for at most timeout_s seconds. Returns the seconds it
 * took, or -1 with the last tally in t.
 */
double pw_wait_on_disk(const char *dev, const uint64_t *map, size_t first, size_t n, uint32_t gen,
		       double timeout_s, struct pw_tally *t);

/*
 * The page behind a virtual address of this process: 0 and *kflags set to its /proc/kpageflags
 * word (KPF_* bits, include/uapi/linux/kernel-page-flags.h) if it is mapped, 1 if it is not
 * mapped (no PTE), -1 if that cannot be known (no /proc/kpageflags, no CAP_SYS_ADMIN).
 */
#define PW_KPF_DIRTY		4
#define PW_KPF_COMPOUND_HEAD	15
#define PW_KPF_COMPOUND_TAIL	16
#define PW_KPF_WRITEBACK	8
#define PW_KPF_HWPOISON		19
#define PW_KPF_UNEVICTABLE	18
int pw_page_kflags(const void *addr, uint64_t *kflags);
/* The PFN behind addr, 0 if not mapped or hidden; a PFN's kpageflags word (0 or -1). */
uint64_t pw_page_pfn(const void *addr);
int pw_pfn_kflags(uint64_t pfn, uint64_t *kflags);

/*
 * The series' test knob (CONFIG_GUP_TEST): a delay between a long-term write pin and GUP's
 * folio lock. pw_knob_set() returns false if the kernel has no such knob.
 */
#define PW_KNOB "/sys/kernel/debug/pin_writeback_lock_delay_ms"
bool pw_knob_set(unsigned int ms);

/* ---- reporting for make repro ---- */
/* "# seen: ..." : the one line make repro shows for this test on this kernel. */
void pw_seen(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "# metric: value unit" : the figure make repro charts (lower is better, 0 is right). */
void pw_metric(long long value, const char *unit);

/* ---- kernel state ---- */
long long pw_vmstat(const char *name);		/* -1 if absent */
/* An errno by its name (EFAULT), or "success" for 0. */
const char *pw_errname(int err);
/* The number after "key:" in a /proc file such as /proc/meminfo (kB there); -1 if absent. */
long long pw_proc_field(const char *path, const char *key);
/* CLOCK_MONOTONIC, in seconds. */
double pw_now(void);
/* acquired - released from /proc/vmstat (0 when balanced). */
long long pw_pins_outstanding(void);
/*
 * Wait up to timeout_ms for the outstanding pin count to come back to want (rxe drops MR
 * references from deferred work, so pins may be released shortly after ibv_dereg_mr or
 * ibv_destroy_qp returns). Returns the last count seen.
 */
long long pw_pins_settle(long long want, int timeout_ms);
/* Sectors written to the block device that holds path, from /sys/block/<dev>/stat. */
long long pw_dev_sectors_written(const char *path);
/* 1 if the block device under path asks for stable pages (queue/stable_writes), 0 if not, -1 */
int pw_stable_writes(const char *path);
void pw_drop_caches(void);
/* The number in a one-number file such as /proc/sys/vm/...; -1 if it cannot be read. */
long long pw_sysctl_get(const char *path);
/*
 * Set such a file to value for the rest of the test: the value it had first is put back at exit
 * (and by pw_sysctl_restore()). Dies if it cannot read or write it.
 */
void pw_sysctl_set(const char *path, long long value);
void pw_sysctl_restore(void);
/* Background writeback made eager (expire and interval in centiseconds), restored at exit. */
void pw_writeback_eager(long expire_cs, long interval_cs);
/* "DM_DISABLE_UDEV=1 dmsetup " + the formatted arguments, through system(); its status. */
int pw_dmsetup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The table of dm device dm (a /dev/mapper name) when it is one linear target from sector 0, as
 * tests/rdma/lib/disk2.sh's dm_linear makes it: its size in sectors and the device under it
 * (base, baselen bytes). Dies otherwise.
 */
void pw_dm_linear_table(const char *dm, unsigned long long *sectors, char *base, size_t baselen);
/*
 * Load table (one target a line) into dm and resume it. Suspended with --nolockfs, so that the
 * filesystem is not frozen and nothing is written back on the way. Dies on failure.
 */
void pw_dm_load(const char *dm, const char *table);

/*
 * Crash tests (tests/rdma/NAME.host boots a guest for NAME alone and kills it when asked):
 * pw_host_kill_required() skips the test when it is not run that way; pw_host_kill() asks the
 * host to kill the guest now and waits for it.
 */
void pw_host_kill_required(const char *name);
void __attribute__((noreturn)) pw_host_kill(void);

/* The scratch directory on the filesystem under test ($PINWB_SCRATCH, default /mnt/scratch). */
const char *pw_scratch(void);
/* pw_scratch() + "/" + name in a static buffer. */
const char *pw_path(const char *name);
/*
 * Make the scratch filesystem quiet for tests that count the sectors written to its device: a
 * fresh mkfs.ext4 zeroes its inode tables from a background thread (ext4lazyinit: tens of MiB
 * in the first minutes), so remount with noinit_itable, then sync. Returns 0, or -1 (printed)
 * if the remount failed (not ext4, not a mount point).
 */
int pw_scratch_quiesce(void);

/*
 * A memory cgroup of the test's own (cgroup v2): pw_cg_enter() makes /sys/fs/cgroup/NAME with
 * memory.max max_bytes and no swap, and moves this process into it; pw_cg_leave() (also run at
 * exit) moves it back to where it was and removes the cgroup. pw_cg_file() is the path of one
 * of its files; pw_cg_field() the number after "key " in a flat-keyed file such as memory.stat
 * or memory.events (-1 if absent); pw_cg_write() writes a value and dies on failure
 * (pw_cg_write_err() returns the errno instead).
 * pw_cg_require() skips the test when there is no cgroup v2.
 */
void pw_cg_require(void);
void pw_cg_enter(const char *name, long long max_bytes);
void pw_cg_leave(void);
const char *pw_cg_file(const char *file);
long long pw_cg_field(const char *file, const char *key);
void pw_cg_write(const char *file, const char *val);
/* pw_cg_write() that returns 0 or the errno of the write instead of dying. */
int pw_cg_write_err(const char *file, const char *val);

#endif
