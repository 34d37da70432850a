// SPDX-License-Identifier: MIT
/*
 * lumen-fuzz: the ioctl and mmap fuzzer of /dev/accel/accelN bound to lumen.ko.
 *
 *   tests/vm/run --cards 1 -- lumen-fuzz --seed 123 --count 1000000
 *   lumen-fuzz [--seed N] [--procs N] [--count N] [--mode random|struct|both]
 *              [--no-kill] [--known LIST] [--verbose]
 *
 * Defaults: seed from the clock (printed first: rerun with --seed N to get
 * the same sequences), 4 processes, 120000 ioctls in total, both modes. The
 * CMocka suite "fuzz" (test_fuzz.c, in lumen-guest-tests) runs the same
 * engine; there LUMEN_FUZZ_SEED, _COUNT, _PROCS, _MODE and _KILL=0 override
 * them. --known (or LUMEN_FUZZ_KNOWN) names kernel bugs to steer around
 * while looking for others, for modules older than their fixes:
 * syncobj-count (SYNCOBJ array ioctls with counts in the millions WARNed in
 * the page allocator; fixed by b8f6962), dmabuf-mmap (mmap of the PRIME fd
 * of a USERPTR BO oopsed; b8f6962), bo-leak (BOs left after the run are
 * only reported; ca12370 leaked those of SIGKILLed processes, fixed by
 * b5a4bdf), uq-id (early 1.4 modules: QUEUE_DESTROY of a user-mode
 * queue's id said -ENOENT but erased the id's reservation, so the next
 * QUEUE_CREATE or UQ_CREATE got the same id and the live queue leaked with
 * its hardware queue; fixed by QUEUE_DESTROY erasing only a queue that
 * exists: no QUEUE_DESTROY of a live user-mode queue's id then).
 * --verbose adds where each process spent its time.
 *
 * A parent forks the processes, SIGKILLs one at a random moment every
 * 0.1-1.6 s and respawns it; process slot i runs (seed, i, generation)'s
 * sequence. The processes share the count: each stops when all of them
 * together have issued it. In mode "both" even slots run the random mode,
 * odd slots the structure-aware one; random mode, ~10x faster per ioctl,
 * stops at 60% of the count. Struct-mode slots spread over the cards;
 * random-mode ones use every card.
 *
 * random  The whole ioctl space of the fd: DRM core numbers 0x00-0x3f and
 *         0xa0-0xff (the allow-listed ones more often), the driver's
 *         0x40-0x52 (0x40-0x4e before uAPI 1.4), 7 numbers just past its
 *         table and, rarely, the rest of the driver range; random direction bits and sizes (mostly the real
 *         ones), sometimes another ioctl type. Arguments are made of
 *         interesting values (0, small numbers, live handles, ~0, sign bits,
 *         page multiples, device VAs at the user range's edges, BO mmap
 *         offsets, fds, times) and embedded pointers that are valid, NULL,
 *         below mmap_min_addr, unmapped, PROT_NONE, read-only, in a BO
 *         mapping, kernel addresses or run into a guard page. Plus mmap(2)s
 *         of the fd and of PRIME fds (BO offsets from BO_INFO and random
 *         ones, random lengths, prots and flags, MAP_FIXED into a reserved
 *         region), partial munmaps, madvise, and accesses to the mappings
 *         through a pipe (so a bad one is -EFAULT, not a signal).
 * struct  Well-formed objects: DEVICE/HOST/USERPTR BOs of 4 KiB-4 MiB,
 *         VM_BIND mappings, queues, syncobjs (drmSyncobjCreate, binary and
 *         timeline), PRIME fds imported into a second file. Each driver
 *         ioctl, GEM_CLOSE, PRIME, VERSION/GET_CAP and every SYNCOBJ ioctl
 *         gets a well-formed argument, and most calls mutate exactly one
 *         field (bit flip, 0, ~0, +-1, boundary values, a handle of another
 *         kind, a closed handle, another process's handle number, bad
 *         pointers, counts past the limits). SUBMIT gets a valid lumen_cmd
 *         array (NOP/COPY/FILL/SIGNAL/WAIT/TIMESTAMP on mapped VAs, WAITs on
 *         words that are always ~0) and one field of the submit, of one
 *         command or of one sync entry is mutated, so jobs reach the device
 *         and fault; with CAPS.REDUCE also REDUCEs of whole, aligned
 *         elements of every type and operation, now and then misaligned
 *         (SUBMIT must refuse those), without it a rare REDUCE that SUBMIT
 *         must refuse with -EOPNOTSUPP (a job that ran would ban the
 *         context). A banned context (-ECANCELED) or a dead file (-ENODEV)
 *         is reopened. A ban of a context that submitted nothing mutated,
 *         unmapped nothing in use and hung nothing on purpose is reported
 *         as an isolation failure. A few jobs hang on purpose (released
 *         from the CPU, or left to the job timeout: once per slot). With
 *         uAPI 1.1 also queue priorities, QUERY_LIMITS and SUBMIT extension
 *         chains (valid, mutated, looped, too long). With uAPI 1.2 the link
 *         engine: QUERY_LINK, remote windows over the pool's mappings
 *         (well-formed, over unmapped or read-only ranges, mutated, closed
 *         twice, an UNMAP under an open window, which must be -EBUSY),
 *         RWRITE/RREAD/RATOMIC (and RREDUCE, with CAPS.REDUCE) through the
 *         slot's own windows to its own chip (and mutated: wrong keys,
 *         windows, chips, sizes), ROUTE GET/SET (a SET writes back what
 *         GET read, or a mutated block), PORT_CTRL, MGMT_SEND of GETs (a
 *         mutation that makes a SET is made invalid: the fuzzer never
 *         reprograms the fabric) and MGMT_RECV with deadlines. A remote
 *         command's -EACCES, -EHOSTUNREACH or -ETIMEDOUT must leave the
 *         context unbanned (a ban there is a finding). Without CAPS.LINKS
 *         the same calls must all say -EOPNOTSUPP. The parent saves every
 *         card's route table and port controls before the run and writes
 *         them back after it. With uAPI 1.4 (CAPS.USER_QUEUES) user-mode
 *         queues: UQ_CREATE well-formed (ring and record in a BO of their
 *         own, or in the pool's mappings) or with one thing wrong, each
 *         checked against its documented errno (unmapped or too short ring,
 *         unmapped or read-only record, fd2's memory: -EFAULT; misaligned
 *         ring or record, order, flags, reserved: -EINVAL; a banned
 *         context: -ECANCELED; no hardware queue left: -EBUSY) or one field
 *         mutated; at most 2 per file. Pushes through the mmapped doorbell
 *         (no syscall) of the SUBMIT commands, with F_IRQ now and then, or
 *         with one command mutated (any field, random opcodes, reserved
 *         bits, addresses in no mapping) or a tail the device must refuse;
 *         UQ_WAIT with short deadlines and counts beyond what the doorbell
 *         got (-EINVAL); UQ_FENCE into the slot's syncobjs; UQ_DESTROY
 *         idle, under long FILLs, after unmapping the ring, with the file
 *         closed under live queues (their doorbells still mapped, so a store
 *         still reaches them), and stores into destroyed queues' doorbell
 *         mappings, which must land in the scratch page (a signal fails the
 *         run); second doorbell mmaps, and ones that must fail (MAP_PRIVATE,
 *         two pages, on fd2). A WAIT on a 0 word is released from the CPU,
 *         or (once per slot, UQ_HANG_BUDGET) left to the kernel's hang
 *         detection, which must stop the queue with -ETIMEDOUT and ban the
 *         context within three check periods (job_timeout_ms, at least
 *         twice the E2E timeout with links); the slot waits for that with
 *         100 ms UQ_WAITs, unless the parent SIGKILLs it first (a process
 *         dying with a hung queue). Any UQ ioctl errno outside the uAPI's
 *         lists (plus -EINTR, -ENODEV), or a result the uAPI rules out, is
 *         reported and fails the run.
 *
 * Bounds (CI is a 2-core TCG guest with 1 GiB): the run is bounded by the
 * ioctl count, not time; a one-shot 150 ms SIGALRM interrupts any ioctl that
 * blocks (WAIT-type timeouts are at most 100 ms anyway); struct-mode BOs stay
 * at or below 4 MiB (bigger ones a mutation creates are closed at once);
 * random-mode BO_CREATE sizes over 8 MiB are cut below 8 MiB, because a HOST
 * BO of any size up to DRM_LUMEN_BO_MAX_SIZE (16 GiB) is accepted and
 * binding or touching it allocates all of it in guest RAM (the OOM killer).
 *
 * Pass: every child exits 0 or by the parent's SIGKILL (any other signal,
 * or a SIGKILL the parent did not send, e.g. the OOM killer's, fails), no
 * unexplained ban, no user-mode-queue result the uAPI rules out and no
 * doorbell store that raised a signal, the
 * kernel log since the start has no oops/BUG/WARNING lines, every card's
 * debugfs bo_stats returns to its count before the run, and a fresh fd on
 * every card copies bytes exactly through a queue.
 */
#define _GNU_SOURCE
#include "lumen_fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xf86drm.h>

#include "guest_util.h"
#include "lumen_dev.h"
#include "lumen/lumen_link.h"
#include "lumen/lumen_mgmt.h"
#include "lumen/lumen_regs.h"

/* Core ioctls newer than this libdrm's drm.h. */
struct lf_syncobj_eventfd {
	__u32 handle;
	__u32 flags;
	__u64 point;
	__s32 fd;
	__u32 pad;
};
#define LF_IOCTL_SYNCOBJ_EVENTFD	DRM_IOWR(0xCF, struct lf_syncobj_eventfd)
struct lf_mode_closefb {
	__u32 fb_id;
	__u32 pad;
};
#define LF_IOCTL_MODE_CLOSEFB		DRM_IOWR(0xD0, struct lf_mode_closefb)

#define PAGE		4096ull
#define MiB		(1ull << 20)
#define ARENA_LEN	(64u << 10)	/* argument scratch, a guard page after it */
#define CMD_ZONE	(8u << 10)	/* its first bytes: near-valid lumen_cmds */
#define REGION_LEN	(16ull << 20)	/* reserved for MAP_FIXED mmaps */
#define HOLE_PTR	0x10000ull	/* user address with nothing mapped */
#define LOW_PTR		0x1000ull	/* below mmap_min_addr */
#define KDIRECT_PTR	0xffff888000100000ull
#define KTEXT_PTR	0xffffffff81000000ull
#define USER_TOP_PTR	0x00007ffffffff000ull
#define NONCANON_PTR	0x0000800000000000ull
#define IOCTL_BOUND_US	150000		/* SIGALRM after this long in one ioctl */
#define WAIT_MAX_NS	(100ull * 1000000)
#define RANDOM_BO_CAP	(8 * MiB)
#define STRUCT_BO_CAP	(4 * MiB)
#define NERR		136		/* errno histogram: 0 = success, last = other */
#define MAX_MMAPS	24
#define HANG_BUDGET	1		/* jobs per slot left to the job timeout */
#define STUCK_S		60		/* no progress this long: report and fail */

/* uAPI 1.1: QUERY_LIMITS, queue priorities, SUBMIT extension chains. */
#if DRM_LUMEN_UAPI_MINOR >= 1
#define LF_UAPI_1_1	1
#else
#define LF_UAPI_1_1	0
#endif

/* uAPI 1.2: the link engine (windows, remote commands, routes, ports, management).
 * uAPI 1.4: user-mode queues (UQ_CREATE, UQ_DESTROY, UQ_WAIT, UQ_FENCE). */
#ifdef DRM_LUMEN_UQ_FENCE
#define LF_UQ		1
#define LF_DRV_LAST	DRM_LUMEN_UQ_FENCE
#elif DRM_LUMEN_UAPI_MINOR >= 2
#define LF_UQ		0
#define LF_DRV_LAST	DRM_LUMEN_MGMT_RECV
#else
#define LF_UQ		0
#define LF_DRV_LAST	DRM_LUMEN_WAIT
#endif

/* Reductions in the DMA engine: REDUCE and RREDUCE (CAPS.REDUCE). */
#ifdef DRM_LUMEN_CAP_REDUCE
#define LF_REDUCE	1
#else
#define LF_REDUCE	0
#endif

#define ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))

/* ---- statistics, shared between the parent and the children -------------- */

/* The driver's ioctls first, by number (OP_x == DRM_LUMEN_x). */
enum lf_op {
	OP_GET_PARAM, OP_QUERY, OP_BO_CREATE, OP_BO_INFO, OP_VM_BIND, OP_QUEUE_CREATE,
	OP_QUEUE_DESTROY, OP_SUBMIT, OP_WAIT, OP_WINDOW_OPEN, OP_WINDOW_CLOSE, OP_ROUTE,
	OP_PORT_CTRL, OP_MGMT_SEND, OP_MGMT_RECV, OP_UQ_CREATE, OP_UQ_DESTROY, OP_UQ_WAIT,
	OP_UQ_FENCE, OP_DRV_OTHER, OP_GEM_CLOSE, OP_PRIME, OP_SYNCOBJ, OP_CORE_INFO,
	OP_CORE_OTHER, OP_COUNT
};

#if LF_UQ
_Static_assert(OP_UQ_FENCE == DRM_LUMEN_UQ_FENCE && OP_MGMT_RECV == DRM_LUMEN_MGMT_RECV,
	       "OP_x must equal DRM_LUMEN_x");
#endif

static const char *const op_names[OP_COUNT] = {
	"GET_PARAM", "QUERY", "BO_CREATE", "BO_INFO", "VM_BIND", "QUEUE_CREATE",
	"QUEUE_DESTROY", "SUBMIT", "WAIT", "WINDOW_OPEN", "WINDOW_CLOSE", "ROUTE",
	"PORT_CTRL", "MGMT_SEND", "MGMT_RECV", "UQ_CREATE", "UQ_DESTROY", "UQ_WAIT",
	"UQ_FENCE", "drv-beyond", "GEM_CLOSE", "PRIME", "SYNCOBJ", "VERSION/GET_CAP",
	"core-other",
};

/* The processes share one budget: the fast ones go on while a slow one
 * waits, so all of them finish together. */
struct lf_shared {
	uint64_t issued;		/* ioctls issued by all processes */
	uint64_t count;			/* --count */
	uint64_t random_issued;		/* of them by random-mode processes */
	uint64_t random_cap;		/* where those stop: struct mode gets the rest */
};

struct lf_slot {
	uint64_t done;			/* ioctls issued, over all generations */
	uint64_t err[NERR];
	uint64_t op_calls[OP_COUNT], op_ok[OP_COUNT], op_ns[OP_COUNT];
	uint64_t reopen_ns, open_ns;
	uint64_t mmaps, mmap_ok, munmaps, touches, touch_faults, touch_signals;
	uint64_t reopens, bans, unexplained_bans, enodev, jobs, job_errors, hangs;
	uint64_t remote_errors;		/* jobs a remote refusal failed, context fine */
	/* User-mode queues (uAPI 1.4, struct mode). */
	uint64_t uq_creates, uq_pushes, uq_cmds, uq_destroys, uq_hangs, uq_hangs_seen;
	uint64_t uq_db_stores, uq_stale_stores, uq_db_faults, uq_unexpected;
	uint64_t uq_hang_ms_max;	/* longest hang detection seen */
	uint32_t pub[8];		/* handle numbers it holds, for other processes */
	int mode;			/* LF_MODE_RANDOM or LF_MODE_STRUCT */
	int card;			/* struct mode: the card it works on */
	int finished;
	char fail[256];			/* why the child gave up */
};

/* ---- per-child state ------------------------------------------------------- */

static struct lf_shared *g_sh;
static struct lf_slot *S;		/* this child's slot */
static struct lf_slot *g_slots;
static int g_nslots;
static int g_ncards;
static int g_verbose;
static int g_fd_floor;			/* fds from here on are the fuzzer's files */
static uint64_t g_rs;			/* RNG state */
/* --known / LUMEN_FUZZ_KNOWN: kernel bugs found and not fixed yet, which
 * the fuzzer steers around (or only reports) so it can look for others. */
static int g_avoid_count, g_avoid_dmabuf_mmap, g_known_bo_leak, g_avoid_uq_id;

static struct {
	uint8_t *arena;
	uint8_t *ro;			/* a read-only page */
	uint8_t *none;			/* a PROT_NONE page */
	uint8_t *region;
	int pipe[2];
} M;

/* What the interesting-value generator draws handles, offsets, fds from. */
static struct {
	uint32_t h[24];
	unsigned nh;
	uint64_t moff[16];
	unsigned nmoff;
	int fds[8];
	unsigned nfds;
} K;

struct lf_map {
	uint8_t *p;
	size_t len;
	int fixed;			/* inside M.region */
};
static struct lf_map maps[MAX_MMAPS];
static int nmaps;

static unsigned long known_req[256];	/* real request code per ioctl number */

/* ---- RNG ------------------------------------------------------------------ */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd(void)
{
	return mix64(g_rs += 0x9e3779b97f4a7c15ull);
}

static uint64_t rn(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static int pct(unsigned int p)
{
	return rn(100) < p;
}

/* ---- ioctl tables ------------------------------------------------------------ */

static const unsigned long core_reqs[] = {
	DRM_IOCTL_VERSION, DRM_IOCTL_GET_UNIQUE, DRM_IOCTL_GET_MAGIC, DRM_IOCTL_IRQ_BUSID,
	DRM_IOCTL_GET_MAP, DRM_IOCTL_GET_CLIENT, DRM_IOCTL_GET_STATS, DRM_IOCTL_SET_VERSION,
	DRM_IOCTL_MODESET_CTL, DRM_IOCTL_GEM_CLOSE, DRM_IOCTL_GEM_FLINK, DRM_IOCTL_GEM_OPEN,
	DRM_IOCTL_GET_CAP, DRM_IOCTL_SET_CLIENT_CAP, DRM_IOCTL_SET_UNIQUE, DRM_IOCTL_AUTH_MAGIC,
	DRM_IOCTL_BLOCK, DRM_IOCTL_UNBLOCK, DRM_IOCTL_CONTROL, DRM_IOCTL_ADD_MAP,
	DRM_IOCTL_ADD_BUFS, DRM_IOCTL_MARK_BUFS, DRM_IOCTL_INFO_BUFS, DRM_IOCTL_MAP_BUFS,
	DRM_IOCTL_FREE_BUFS, DRM_IOCTL_RM_MAP, DRM_IOCTL_SET_SAREA_CTX, DRM_IOCTL_GET_SAREA_CTX,
	DRM_IOCTL_SET_MASTER, DRM_IOCTL_DROP_MASTER, DRM_IOCTL_ADD_CTX, DRM_IOCTL_RM_CTX,
	DRM_IOCTL_MOD_CTX, DRM_IOCTL_GET_CTX, DRM_IOCTL_SWITCH_CTX, DRM_IOCTL_NEW_CTX,
	DRM_IOCTL_RES_CTX, DRM_IOCTL_ADD_DRAW, DRM_IOCTL_RM_DRAW, DRM_IOCTL_DMA, DRM_IOCTL_LOCK,
	DRM_IOCTL_UNLOCK, DRM_IOCTL_FINISH, DRM_IOCTL_PRIME_HANDLE_TO_FD,
	DRM_IOCTL_PRIME_FD_TO_HANDLE, DRM_IOCTL_AGP_ACQUIRE, DRM_IOCTL_AGP_RELEASE,
	DRM_IOCTL_AGP_ENABLE, DRM_IOCTL_AGP_INFO, DRM_IOCTL_AGP_ALLOC, DRM_IOCTL_AGP_FREE,
	DRM_IOCTL_AGP_BIND, DRM_IOCTL_AGP_UNBIND, DRM_IOCTL_SG_ALLOC, DRM_IOCTL_SG_FREE,
	DRM_IOCTL_WAIT_VBLANK, DRM_IOCTL_CRTC_GET_SEQUENCE, DRM_IOCTL_CRTC_QUEUE_SEQUENCE,
	DRM_IOCTL_UPDATE_DRAW, DRM_IOCTL_MODE_GETRESOURCES, DRM_IOCTL_MODE_GETCRTC,
	DRM_IOCTL_MODE_SETCRTC, DRM_IOCTL_MODE_CURSOR, DRM_IOCTL_MODE_GETGAMMA,
	DRM_IOCTL_MODE_SETGAMMA, DRM_IOCTL_MODE_GETENCODER, DRM_IOCTL_MODE_GETCONNECTOR,
	DRM_IOCTL_MODE_ATTACHMODE, DRM_IOCTL_MODE_DETACHMODE, DRM_IOCTL_MODE_GETPROPERTY,
	DRM_IOCTL_MODE_SETPROPERTY, DRM_IOCTL_MODE_GETPROPBLOB, DRM_IOCTL_MODE_GETFB,
	DRM_IOCTL_MODE_ADDFB, DRM_IOCTL_MODE_RMFB, DRM_IOCTL_MODE_PAGE_FLIP,
	DRM_IOCTL_MODE_DIRTYFB, DRM_IOCTL_MODE_CREATE_DUMB, DRM_IOCTL_MODE_MAP_DUMB,
	DRM_IOCTL_MODE_DESTROY_DUMB, DRM_IOCTL_MODE_GETPLANERESOURCES, DRM_IOCTL_MODE_GETPLANE,
	DRM_IOCTL_MODE_SETPLANE, DRM_IOCTL_MODE_ADDFB2, DRM_IOCTL_MODE_OBJ_GETPROPERTIES,
	DRM_IOCTL_MODE_OBJ_SETPROPERTY, DRM_IOCTL_MODE_CURSOR2, DRM_IOCTL_MODE_ATOMIC,
	DRM_IOCTL_MODE_CREATEPROPBLOB, DRM_IOCTL_MODE_DESTROYPROPBLOB, DRM_IOCTL_SYNCOBJ_CREATE,
	DRM_IOCTL_SYNCOBJ_DESTROY, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
	DRM_IOCTL_SYNCOBJ_WAIT, DRM_IOCTL_SYNCOBJ_RESET, DRM_IOCTL_SYNCOBJ_SIGNAL,
	DRM_IOCTL_MODE_CREATE_LEASE, DRM_IOCTL_MODE_LIST_LESSEES, DRM_IOCTL_MODE_GET_LEASE,
	DRM_IOCTL_MODE_REVOKE_LEASE, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, DRM_IOCTL_SYNCOBJ_QUERY,
	DRM_IOCTL_SYNCOBJ_TRANSFER, DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, DRM_IOCTL_MODE_GETFB2,
	LF_IOCTL_SYNCOBJ_EVENTFD, LF_IOCTL_MODE_CLOSEFB,
	DRM_IOCTL_LUMEN_GET_PARAM, DRM_IOCTL_LUMEN_QUERY, DRM_IOCTL_LUMEN_BO_CREATE,
	DRM_IOCTL_LUMEN_BO_INFO, DRM_IOCTL_LUMEN_VM_BIND, DRM_IOCTL_LUMEN_QUEUE_CREATE,
	DRM_IOCTL_LUMEN_QUEUE_DESTROY, DRM_IOCTL_LUMEN_SUBMIT, DRM_IOCTL_LUMEN_WAIT,
#if LF_DRV_LAST > DRM_LUMEN_WAIT
	DRM_IOCTL_LUMEN_WINDOW_OPEN, DRM_IOCTL_LUMEN_WINDOW_CLOSE, DRM_IOCTL_LUMEN_ROUTE,
	DRM_IOCTL_LUMEN_PORT_CTRL, DRM_IOCTL_LUMEN_MGMT_SEND, DRM_IOCTL_LUMEN_MGMT_RECV,
#endif
#if LF_UQ
	DRM_IOCTL_LUMEN_UQ_CREATE, DRM_IOCTL_LUMEN_UQ_DESTROY, DRM_IOCTL_LUMEN_UQ_WAIT,
	DRM_IOCTL_LUMEN_UQ_FENCE,
#endif
};

static const unsigned char allowed_core[] = {
	0x00, 0x09, 0x0c, 0x2d, 0x2e,				/* VERSION GEM_CLOSE GET_CAP PRIME */
	0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5,		/* SYNCOBJ_CREATE .. SIGNAL */
	0xca, 0xcb, 0xcc, 0xcd, 0xcf,				/* TIMELINE_WAIT .. EVENTFD */
};

int lf_core_allowed(unsigned int nr)
{
	for (size_t i = 0; i < sizeof(allowed_core); i++)
		if (allowed_core[i] == nr)
			return 1;
	return 0;
}

static void init_known(void)
{
	for (size_t i = 0; i < ARRAY_LEN(core_reqs); i++)
		known_req[_IOC_NR(core_reqs[i])] = core_reqs[i];
}

static int op_of_nr(unsigned int nr)
{
	if (nr >= DRM_COMMAND_BASE && nr < DRM_COMMAND_END)
		return nr - DRM_COMMAND_BASE <= LF_DRV_LAST ? (int)(nr - DRM_COMMAND_BASE)
							    : OP_DRV_OTHER;
	switch (nr) {
	case 0x09:
		return OP_GEM_CLOSE;
	case 0x2d:
	case 0x2e:
		return OP_PRIME;
	case 0x00:
	case 0x0c:
		return OP_CORE_INFO;
	}
	return lf_core_allowed(nr) ? OP_SYNCOBJ : OP_CORE_OTHER;
}

/* ---- counted ioctls --------------------------------------------------------- */

static void count_call(int op, int err)
{
	S->op_calls[op]++;
	S->err[err >= 0 && err < NERR - 1 ? err : NERR - 1]++;
	if (!err)
		S->op_ok[op]++;
	if (err == ENODEV)
		S->enodev++;
}

/* One ioctl, bounded by a one-shot SIGALRM; 0 (or the positive return) or -errno. */
static int fz_ioctl(int op, int fd, unsigned long req, void *arg)
{
	static const struct itimerval arm = { .it_value = { 0, IOCTL_BOUND_US } };
	static const struct itimerval disarm;
	int ret, err;

	uint64_t t = ld_now_ns();

	S->done++;
	__atomic_add_fetch(&g_sh->issued, 1, __ATOMIC_RELAXED);
	if (S->mode == LF_MODE_RANDOM)
		__atomic_add_fetch(&g_sh->random_issued, 1, __ATOMIC_RELAXED);
	setitimer(ITIMER_REAL, &arm, NULL);
	ret = ioctl(fd, req, arg);
	err = ret < 0 ? errno : 0;
	setitimer(ITIMER_REAL, &disarm, NULL);
	count_call(op, err);
	S->op_ns[op] += ld_now_ns() - t;
	return err ? -err : ret;
}

static int budget_done(void)
{
	return __atomic_load_n(&g_sh->issued, __ATOMIC_RELAXED) >= g_sh->count ||
	       (S->mode == LF_MODE_RANDOM &&
		__atomic_load_n(&g_sh->random_issued, __ATOMIC_RELAXED) >= g_sh->random_cap);
}

/* WAIT's timeout: an absolute CLOCK_MONOTONIC deadline, 0 polls. */
static uint64_t wait_tmo(uint64_t rel_ns)
{
	return rel_ns ? ld_now_ns() + rel_ns : 0;
}

/* ---- signals ----------------------------------------------------------------- */

static sigjmp_buf touch_jmp;
static volatile sig_atomic_t in_touch;

static void on_alarm(int sig)
{
	(void)sig;
}

static void on_fault(int sig)
{
	if (in_touch) {
		in_touch = 0;
		siglongjmp(touch_jmp, sig);
	}
	/* A bug of the fuzzer itself: die of it, the parent reports it. */
	signal(sig, SIG_DFL);
}

static void child_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: a blocked ioctl returns EINTR */
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_fault;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void child_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void child_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(S->fail, sizeof(S->fail), fmt, ap);
	va_end(ap);
	_exit(2);
}

/* ---- memory: arena, guard pages, the MAP_FIXED region, tracked mmaps -------- */

static void region_reserve(void *p, size_t len)
{
	if (mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1,
		 0) == MAP_FAILED)
		child_fail("cannot re-reserve the mmap region: %s", strerror(errno));
}

static void child_memory(void)
{
	uint8_t *p;
	int t;

	p = mmap(NULL, ARENA_LEN + PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED || mprotect(p + ARENA_LEN, PAGE, PROT_NONE))
		child_fail("arena: %s", strerror(errno));
	M.arena = p;
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		child_fail("ro page: %s", strerror(errno));
	/* ~0 everywhere: as a size or count it is out of range, as a
	 * timeout it is "forever" (the SIGALRM bound applies). */
	memset(p, 0xff, PAGE);
	if (mprotect(p, PAGE, PROT_READ))
		child_fail("ro page: %s", strerror(errno));
	M.ro = p;
	M.none = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	M.region = mmap(NULL, REGION_LEN, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (M.none == MAP_FAILED || M.region == MAP_FAILED)
		child_fail("guard mappings: %s", strerror(errno));
	if (msync((void *)HOLE_PTR, PAGE, MS_ASYNC) == 0)
		child_fail("0x%llx is mapped", HOLE_PTR);
	if (pipe2(M.pipe, O_CLOEXEC | O_NONBLOCK))
		child_fail("pipe: %s", strerror(errno));
	/* Everything opened from here on is closed by close_range(g_fd_floor). */
	t = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (t < 0)
		child_fail("/dev/null: %s", strerror(errno));
	g_fd_floor = t;
	close(t);
}

static void map_forget(int i)
{
	maps[i] = maps[--nmaps];
}

/* Unmap mapping i, or a random part of it (MAP_FIXED ones only: a hole
 * elsewhere could be reused by malloc and later unmapped under it). */
static void map_drop(int i, int partial)
{
	struct lf_map *m = &maps[i];

	if (m->fixed && partial && m->len > PAGE) {
		size_t pages = m->len / PAGE, first = rn(pages), n = 1 + rn(pages - first);

		munmap(m->p + first * PAGE, n * PAGE);
		S->munmaps++;
		region_reserve(m->p + first * PAGE, n * PAGE);
		if (n == pages)
			map_forget(i);
		return;
	}
	munmap(m->p, m->len);
	S->munmaps++;
	if (m->fixed)
		region_reserve(m->p, m->len);
	map_forget(i);
}

static void maps_drop_all(void)
{
	while (nmaps)
		map_drop(nmaps - 1, 0);
}

/* mmap(2) and track it; MAP_FIXED somewhere in the region if fixed. */
static void *do_mmap(int fd, uint64_t off, uint64_t len, int prot, int flags, int fixed)
{
	uint64_t rlen = (len + PAGE - 1) & ~(PAGE - 1);
	void *want = NULL, *p;

	if (fixed && (!rlen || rlen > REGION_LEN / 2))
		fixed = 0;
	if (fixed) {
		want = M.region + rn((REGION_LEN - rlen) / PAGE + 1) * PAGE;
		flags |= MAP_FIXED;
	}
	if (nmaps == MAX_MMAPS)
		map_drop((int)rn(nmaps), 0);
	S->mmaps++;
	p = mmap(want, len, prot, flags, fd, (off_t)off);
	if (p == MAP_FAILED) {
		/* A failed MAP_FIXED may have unmapped what was there. */
		if (fixed)
			region_reserve(want, rlen);
		return NULL;
	}
	S->mmap_ok++;
	maps[nmaps++] = (struct lf_map){ .p = p, .len = rlen, .fixed = fixed };
	return p;
}

static void pipe_drain(void)
{
	char b[256];

	while (read(M.pipe[0], b, sizeof(b)) > 0)
		;
}

/* Access user memory through the kernel: a bad address is -EFAULT. */
static void touch_pipe(uint8_t *p, size_t n, int wr)
{
	uint8_t buf[64];
	ssize_t r;

	memset(buf, 0x5a, sizeof(buf));
	n = MIN(n, sizeof(buf));
	S->touches++;
	if (wr) {
		if (write(M.pipe[1], buf, n) != (ssize_t)n)
			return;
		r = read(M.pipe[0], p, n);
	} else {
		r = write(M.pipe[1], p, n);
	}
	if (r < 0)
		S->touch_faults++;
	pipe_drain();
}

/* Access memory the fuzzer expects to be fine directly; a signal is counted. */
static void touch_cpu(uint8_t *p, size_t n, int wr)
{
	volatile uint8_t *vp = p;
	volatile size_t vn = n;
	volatile int vwr = wr;

	S->touches++;
	if (sigsetjmp(touch_jmp, 1)) {
		S->touch_signals++;
		return;
	}
	in_touch = 1;
	for (size_t i = 0; i < vn; i++) {
		if (vwr)
			vp[i] = (uint8_t)(i * 7);
		else
			(void)vp[i];
	}
	in_touch = 0;
}

/* A copy of len bytes in the read-only page (a valid pointer the kernel
 * may read but not write); NULL if it does not fit. */
static void *ro_copy(const void *src, size_t len)
{
	if (len > PAGE || mprotect(M.ro, PAGE, PROT_READ | PROT_WRITE))
		return NULL;
	memcpy(M.ro, src, len);
	mprotect(M.ro, PAGE, PROT_READ);
	return M.ro;
}

/* ---- interesting values and pointers -------------------------------------- */

static uint64_t pick_ptr(size_t len)
{
	uint64_t a = (uintptr_t)M.arena;

	len = MIN(len, (size_t)ARENA_LEN - CMD_ZONE);
	switch (rn(20)) {
	case 0:
		return 0;
	case 1:
		return LOW_PTR;
	case 2:
		return HOLE_PTR;
	case 3:
		return (uintptr_t)M.none;
	case 4:
		return (uintptr_t)M.ro + 8 * rn(PAGE / 8);
	case 5:
		return KDIRECT_PTR + PAGE * rn(1024);
	case 6:
		return KTEXT_PTR;
	case 7:
		return pct(50) ? NONCANON_PTR : USER_TOP_PTR;
	case 8:
		return a + ARENA_LEN - 1 - rn(len ? len : 1);	/* into the guard page */
	case 9:
		return a + 1 + 8 * rn(ARENA_LEN / 8 - 8);	/* misaligned */
	case 10:
		if (nmaps) {
			struct lf_map *m = &maps[rn(nmaps)];

			return (uintptr_t)m->p + 8 * rn(m->len / 8);
		}
		return a;
	case 11:
		return a + 64 * rn(CMD_ZONE / 64);		/* the lumen_cmd zone */
	default:
		return a + CMD_ZONE + 8 * rn((ARENA_LEN - CMD_ZONE - len) / 8 + 1);
	}
}

static uint64_t interesting(void)
{
	static const uint64_t edges[] = {
		0x7fffffffull, 0x80000000ull, 0xffffffffull, 0x100000000ull, 1ull << 63,
		(1ull << 63) - 1, 0xfffffffffffff000ull, (1ull << 63) + 1, 0xffffull, 0x10000ull,
	};

	switch (rn(24)) {
	case 0:
	case 1:
	case 2:
	case 3:
		return 0;
	case 4:
	case 5:
		return rn(17);
	case 6:
		return K.nh ? K.h[rn(K.nh)] : 1;
	case 7:
		return ~0ull;
	case 8:
		return edges[rn(ARRAY_LEN(edges))];
	case 9:
		return PAGE * rn(1025);
	case 10:
		return rn(1u << 22);
	case 11:
		return DRM_LUMEN_VA_USER_START + 2 * MiB * rn(8) + PAGE * rn(16);
	case 12:
		return DRM_LUMEN_VA_USER_END - PAGE * rn(3);
	case 13:
	case 14:
		return pick_ptr(64);
	case 15:
		return DRM_LUMEN_BO_MAX_SIZE - PAGE + PAGE * rn(3);
	case 16:
		return LUMEN_CMD_MAX_SIZE + rn(2);
	case 17:
		return K.nmoff ? K.moff[rn(K.nmoff)] : 1ull << 32;
	case 18:
		return K.nfds ? (uint64_t)K.fds[rn(K.nfds)] : 3;
	case 19:
		return 1ull << rn(64);
	case 20:
		return rn(7) | (rn(4) << 8);	/* lumen_cmd opcode and flags */
	case 21:
		return ld_now_ns() + rn(WAIT_MAX_NS);
	default:
		return rnd();
	}
}

static void fill_random(uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = pct(30) ? (interesting() & 0xffffffffu) | interesting() << 32
				     : interesting();

		memcpy(p + i, &v, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)rnd();
}

#if LF_REDUCE
/* Bytes of one element of a DRM_LUMEN_DTYPE_* (4 for unknown types). */
static uint32_t lf_dtype_size(uint32_t dtype)
{
	return dtype == DRM_LUMEN_DTYPE_F16 || dtype == DRM_LUMEN_DTYPE_BF16 ? 2 : 4;
}

#endif

/* Near-valid commands for random SUBMITs whose cmds pointer lands here. */
static void refill_cmd_zone(void)
{
	struct lumen_cmd *c = (struct lumen_cmd *)M.arena;

	for (unsigned int i = 0; i < CMD_ZONE / sizeof(*c); i++) {
		uint64_t va = DRM_LUMEN_VA_USER_START + 2 * MiB * rn(3) + 8 * rn(2048);

		switch (rn(7 + LF_REDUCE)) {
		case 0:
			c[i] = ld_cmd_copy(va, DRM_LUMEN_VA_USER_START + 8 * rn(2048),
					   pct(90) ? 8 * rn(256) : interesting());
			break;
		case 1:
			c[i] = ld_cmd_fill(va, pct(90) ? 8 * rn(256) : interesting(), rnd());
			break;
		case 2:
			c[i] = ld_cmd_signal(pct(90) ? va : interesting(), rnd());
			break;
		case 3:
			/* Mostly a WAIT that passes: a hang costs the job timeout. */
			c[i] = ld_cmd_wait(va, pct(99) ? 0 : interesting());
			break;
		case 4:
			c[i] = ld_cmd_timestamp(va);
			break;
		case 5:
			fill_random((uint8_t *)&c[i], sizeof(c[i]));
			break;
#if LF_REDUCE
		case 6:
			/* Any type and operation, one past the last now and then. */
			c[i] = ld_cmd_reduce(va, DRM_LUMEN_VA_USER_START + 8 * rn(2048),
					     pct(90) ? 4 * rn(128) : interesting(), (uint32_t)rn(5),
					     (uint32_t)rn(4));
			break;
#endif
		default:
			c[i] = ld_cmd_nop();
			break;
		}
		if (pct(20))
			c[i].flags = LUMEN_CMD_F_BARRIER;
	}
}

static void known_add_handle(uint32_t h)
{
	if (h)
		K.h[K.nh < ARRAY_LEN(K.h) ? K.nh++ : rn(ARRAY_LEN(K.h))] = h;
}

static void known_add_moff(uint64_t off)
{
	if (off)
		K.moff[K.nmoff < ARRAY_LEN(K.moff) ? K.nmoff++ : rn(ARRAY_LEN(K.moff))] = off;
}

static void known_add_fd(int fd)
{
	if (fd > 2)
		K.fds[K.nfds < ARRAY_LEN(K.fds) ? K.nfds++ : rn(ARRAY_LEN(K.fds))] = fd;
}

/* ---- cards ------------------------------------------------------------------ */

static int open_card(int idx)
{
	int fd = -ENODEV;

	/* Busy, or (-ENODEV) in the middle of a reset: try for 5 s. */
	for (int tries = 0; tries < 100; tries++) {
		fd = ld_open(idx);
		if (fd >= 0)
			return fd;
		if (fd != -EBUSY && fd != -EINTR && fd != -ENOMEM && fd != -ENODEV)
			break;
		usleep(50000);
	}
	child_fail("cannot open card %d: %s", idx, strerror(-fd));
}

/* Well-formed, counted helpers (struct and random mode setup). */
static int x_bo_create(int fd, uint64_t size, uint32_t flags, uint64_t userptr, uint32_t *h,
		       uint64_t *size_out)
{
	struct drm_lumen_bo_create a = { .size = size, .flags = flags, .userptr = userptr };
	int ret = fz_ioctl(OP_BO_CREATE, fd, DRM_IOCTL_LUMEN_BO_CREATE, &a);

	if (!ret) {
		*h = a.handle;
		if (size_out)
			*size_out = a.size;
	}
	return ret;
}

static int x_bo_info(int fd, uint32_t h, struct drm_lumen_bo_info *bi)
{
	memset(bi, 0, sizeof(*bi));
	bi->handle = h;
	return fz_ioctl(OP_BO_INFO, fd, DRM_IOCTL_LUMEN_BO_INFO, bi);
}

static int x_gem_close(int fd, uint32_t h)
{
	struct drm_gem_close a = { .handle = h };

	return fz_ioctl(OP_GEM_CLOSE, fd, DRM_IOCTL_GEM_CLOSE, &a);
}

static int x_vm_bind(int fd, uint32_t op, uint32_t h, uint64_t va, uint64_t off, uint64_t size,
		     uint32_t flags)
{
	struct drm_lumen_vm_bind a = {
		.op = op, .handle = h, .va = va, .offset = off, .size = size, .flags = flags,
	};

	return fz_ioctl(OP_VM_BIND, fd, DRM_IOCTL_LUMEN_VM_BIND, &a);
}

static int x_queue_create(int fd, uint32_t *id)
{
	struct drm_lumen_queue_create a = { 0 };
	int ret = fz_ioctl(OP_QUEUE_CREATE, fd, DRM_IOCTL_LUMEN_QUEUE_CREATE, &a);

	if (!ret)
		*id = a.queue_id;
	return ret;
}

static int x_queue_destroy(int fd, uint32_t id)
{
	struct drm_lumen_queue_destroy a = { .queue_id = id };

	return fz_ioctl(OP_QUEUE_DESTROY, fd, DRM_IOCTL_LUMEN_QUEUE_DESTROY, &a);
}

static int x_wait(int fd, uint32_t q, uint64_t seq, uint64_t rel_ns, int32_t *status)
{
	struct drm_lumen_wait a = { .queue_id = q, .seqno = seq, .timeout_ns = wait_tmo(rel_ns) };
	int ret = fz_ioctl(OP_WAIT, fd, DRM_IOCTL_LUMEN_WAIT, &a);

	if (!ret && status)
		*status = a.status;
	return ret;
}

/* drmSyncobjCreate(), counted like the raw ioctls. */
static uint32_t x_syncobj(int fd, int signaled)
{
	uint32_t h = 0;
	int ret;

	S->done++;
	__atomic_add_fetch(&g_sh->issued, 1, __ATOMIC_RELAXED);
	ret = drmSyncobjCreate(fd, signaled ? DRM_SYNCOBJ_CREATE_SIGNALED : 0, &h);
	count_call(OP_SYNCOBJ, ret ? (errno ? errno : EINVAL) : 0);
	return ret ? 0 : h;
}

/* ---- random mode ------------------------------------------------------------- */

struct r_state {
	int fd[GU_MAX_CARDS];
	uint32_t seed_q[GU_MAX_CARDS];
	int queues;			/* queues created since the seed ones */
	uint32_t uq[GU_MAX_CARDS];	/* the one user-mode queue a random UQ_CREATE left */
	void *user[GU_MAX_CARDS];
	uint64_t opened_at, reopen_after;
	int need_reopen;
};

#define R_USER_LEN	(64u << 10)

static void r_open(struct r_state *r)
{
	memset(&K, 0, sizeof(K));
	r->queues = 0;
	memset(r->uq, 0, sizeof(r->uq));
	for (int c = 0; c < g_ncards; c++) {
		int fd = open_card(c);
		struct drm_lumen_bo_info bi;
		uint32_t h;

		r->fd[c] = fd;
		known_add_fd(fd);
		/* A few real objects, so that small handle numbers, VAs at the
		 * bottom of the user range and BO offsets mean something. */
		if (!x_bo_create(fd, R_USER_LEN, DRM_LUMEN_BO_HOST, 0, &h, NULL)) {
			known_add_handle(h);
			if (!x_bo_info(fd, h, &bi))
				known_add_moff(bi.mmap_offset);
			x_vm_bind(fd, DRM_LUMEN_VM_MAP, h, DRM_LUMEN_VA_USER_START, 0, R_USER_LEN, 0);
		}
		if (!x_bo_create(fd, R_USER_LEN, DRM_LUMEN_BO_DEVICE, 0, &h, NULL)) {
			known_add_handle(h);
			if (!x_bo_info(fd, h, &bi))
				known_add_moff(bi.mmap_offset);
			x_vm_bind(fd, DRM_LUMEN_VM_MAP, h, DRM_LUMEN_VA_USER_START + 2 * MiB, 0,
				  R_USER_LEN, 0);
		}
		r->user[c] = mmap(NULL, R_USER_LEN, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (r->user[c] == MAP_FAILED)
			r->user[c] = NULL;
		if (r->user[c] && !x_bo_create(fd, R_USER_LEN, DRM_LUMEN_BO_USERPTR,
					       (uintptr_t)r->user[c], &h, NULL)) {
			known_add_handle(h);
			x_vm_bind(fd, DRM_LUMEN_VM_MAP, h, DRM_LUMEN_VA_USER_START + 4 * MiB, 0,
				  R_USER_LEN, 0);
		}
		known_add_handle(x_syncobj(fd, 1));
		known_add_handle(x_syncobj(fd, 0));
		r->seed_q[c] = 0;
		if (!x_queue_create(fd, &r->seed_q[c]))
			known_add_handle(r->seed_q[c]);
	}
	refill_cmd_zone();
	r->opened_at = S->done;
	r->reopen_after = 300 + rn(1500);
	r->need_reopen = 0;
}

static void r_close(struct r_state *r)
{
	/* Mappings hold the file: drop them first. */
	maps_drop_all();
	close_range((unsigned int)g_fd_floor, ~0u, 0);
	for (int c = 0; c < g_ncards; c++) {
		if (r->user[c])
			munmap(r->user[c], R_USER_LEN);
		r->user[c] = NULL;
	}
}

static void r_reopen(struct r_state *r)
{
	uint64_t t = ld_now_ns();

	r_close(r);
	S->reopen_ns += ld_now_ns() - t;
	S->reopens++;
	t = ld_now_ns();
	r_open(r);
	S->open_ns += ld_now_ns() - t;
}

/* A valid size the kernel would take, above cap: cut it below cap. */
static void clamp_size(uint8_t *p, unsigned int off, unsigned int in, uint64_t cap)
{
	unsigned int n;
	uint64_t v = 0;

	if (in <= off)
		return;
	n = MIN(8u, in - off);
	memcpy(&v, p + off, n);
	if (v > cap && v <= DRM_LUMEN_BO_MAX_SIZE) {
		v &= cap - 1;
		memcpy(p + off, &v, n);
	}
}

static uint64_t pick_tmo(void)
{
	switch (rn(6)) {
	case 0:
		return 0;
	case 1:
		return rn(WAIT_MAX_NS);
	case 2:
		return wait_tmo(rn(WAIT_MAX_NS));
	case 3:
		return ld_now_ns() + rn(WAIT_MAX_NS);	/* absolute, soon */
	case 4:
		return ld_now_ns() - rn(WAIT_MAX_NS);	/* absolute, past */
	default:
		return pct(10) ? ~0ull : 1;
	}
}

static void set_tmo(uint8_t *p, unsigned int off, unsigned int in)
{
	uint64_t v = pick_tmo();

	if (in > off)
		memcpy(p + off, &v, MIN(8u, in - off));
}

/* Keep random arguments from exhausting the guest: see the header comment.
 * Only the bytes before the guard page are there to change. */
static void sanitize(unsigned int nr, unsigned int dir, unsigned int size, uint8_t *p)
{
	unsigned int in = MIN(dir & _IOC_WRITE ? size : 0, (unsigned int)(M.arena + ARENA_LEN - p));

	switch (nr) {
	case DRM_COMMAND_BASE + DRM_LUMEN_BO_CREATE:
		clamp_size(p, offsetof(struct drm_lumen_bo_create, size), in, RANDOM_BO_CAP);
		break;
	case DRM_COMMAND_BASE + DRM_LUMEN_WAIT:
		set_tmo(p, offsetof(struct drm_lumen_wait, timeout_ns), in);
		break;
#if LF_DRV_LAST > DRM_LUMEN_WAIT
	case DRM_COMMAND_BASE + DRM_LUMEN_MGMT_RECV:
		set_tmo(p, offsetof(struct drm_lumen_mgmt, timeout_ns), in);
		break;
#endif
#if LF_UQ
	case DRM_COMMAND_BASE + DRM_LUMEN_UQ_WAIT:
		set_tmo(p, offsetof(struct drm_lumen_uq_wait, timeout_ns), in);
		break;
#endif
	case 0xc3:
		set_tmo(p, offsetof(struct drm_syncobj_wait, timeout_nsec), in);
		break;
	case 0xca:
		set_tmo(p, offsetof(struct drm_syncobj_timeline_wait, timeout_nsec), in);
		break;
	}
	if (g_avoid_count) {
		int off = -1;

		switch (nr) {
		case 0xc3:
			off = offsetof(struct drm_syncobj_wait, count_handles);
			break;
		case 0xc4:
		case 0xc5:
			off = offsetof(struct drm_syncobj_array, count_handles);
			break;
		case 0xca:
			off = offsetof(struct drm_syncobj_timeline_wait, count_handles);
			break;
		case 0xcb:
		case 0xcd:
			off = offsetof(struct drm_syncobj_timeline_array, count_handles);
			break;
		}
		if (off >= 0 && in >= (unsigned int)off + 4) {
			uint32_t v;

			memcpy(&v, p + off, 4);
			v &= 0xffff;
			memcpy(p + off, &v, 4);
		} else if (off >= 0 && in > (unsigned int)off) {
			memset(p + off, 0, in - (unsigned int)off);
		}
	}
}

static unsigned int pick_nr(void)
{
	unsigned int r = (unsigned int)rn(100);

	if (r < 45)
		return DRM_COMMAND_BASE + (unsigned int)rn(LF_DRV_LAST + 1);
	if (r < 51)
		return DRM_COMMAND_BASE + LF_DRV_LAST + 1 + (unsigned int)rn(7);
	if (r < 53)
		return DRM_COMMAND_BASE + 16 + (unsigned int)rn(DRM_COMMAND_END - DRM_COMMAND_BASE - 16);
	if (r < 73)
		return allowed_core[rn(sizeof(allowed_core))];
	if (r < 86)
		return (unsigned int)rn(DRM_COMMAND_BASE);
	return DRM_COMMAND_END + (unsigned int)rn(0x100 - DRM_COMMAND_END);
}

static unsigned int pick_size(unsigned long known)
{
	unsigned int ks = known ? _IOC_SIZE(known) : 0, s;

	if (known && pct(55))
		return ks;
	switch (rn(5)) {
	case 0:
		s = 0;
		break;
	case 1:
		s = (unsigned int)rn(129);
		break;
	case 2:
		s = ks + (unsigned int)rn(33);
		s = s >= 16 ? s - 16 : 0;
		break;
	case 3:
		s = (unsigned int)rn(_IOC_SIZEMASK + 1);
		break;
	default:
		s = 8 * (unsigned int)rn(17);
		break;
	}
	return MIN(s, (unsigned int)_IOC_SIZEMASK);
}

/* The effect of a random ioctl that the fuzzer has to keep track of. */
static void r_after(struct r_state *r, int fd, unsigned int nr, unsigned int dir,
		    unsigned int size, const uint8_t *p, int ret)
{
	int out = p && (dir & _IOC_READ);

	/* What the kernel wrote back, as far as it is in the arena. */
	if (p)
		size = MIN(size, (unsigned int)(M.arena + ARENA_LEN - p));

	if (ret == -ENODEV) {
		r->need_reopen = 1;
		return;
	}
	if (ret)
		return;
	switch (nr) {
	case DRM_COMMAND_BASE + DRM_LUMEN_QUEUE_CREATE:
		/* A zeroed argument is a valid QUEUE_CREATE: give the card's
		 * hardware queues back before the other processes run out. */
		if (++r->queues >= 2) {
			int c;

			for (c = 0; c < g_ncards && r->fd[c] != fd; c++)
				;
			for (uint32_t id = 1; id <= 8 && c < g_ncards; id++)
				if (id != r->seed_q[c] && !(g_avoid_uq_id && id == r->uq[c]))
					x_queue_destroy(fd, id);
			r->queues = 0;
		}
		break;
	case DRM_COMMAND_BASE + DRM_LUMEN_BO_CREATE:
		if (out && size >= 16)
			known_add_handle(((const struct drm_lumen_bo_create *)p)->handle);
		break;
#if LF_UQ
	case DRM_COMMAND_BASE + DRM_LUMEN_UQ_CREATE:
		/* Keep one user-mode queue per file (its id and doorbell offset
		 * feed the interesting values, so random mmaps and stores reach
		 * it); the one before gives its hardware queue back. */
		if (out && size >= sizeof(struct drm_lumen_uq_create)) {
			const struct drm_lumen_uq_create *u = (const void *)p;
			struct drm_lumen_uq_destroy d = { 0 };
			int c;

			for (c = 0; c < g_ncards && r->fd[c] != fd; c++)
				;
			if (c == g_ncards)
				break;
			if (r->uq[c] && r->uq[c] != u->queue_id) {
				d.queue_id = r->uq[c];
				fz_ioctl(OP_UQ_DESTROY, fd, DRM_IOCTL_LUMEN_UQ_DESTROY, &d);
			}
			r->uq[c] = u->queue_id;
			known_add_handle(u->queue_id);
			known_add_moff(u->doorbell_offset);
		}
		break;
#endif
	case DRM_COMMAND_BASE + DRM_LUMEN_BO_INFO:
		if (out && size >= 24)
			known_add_moff(((const struct drm_lumen_bo_info *)p)->mmap_offset);
		break;
	case 0x2d: /* PRIME_HANDLE_TO_FD */
		if (out && size >= 12)
			known_add_fd(((const struct drm_prime_handle *)p)->fd);
		break;
	case 0xbf: /* SYNCOBJ_CREATE */
		if (out && size >= 4)
			known_add_handle(((const struct drm_syncobj_create *)p)->handle);
		break;
	}
}

static uint32_t some_handle(void)
{
	return K.nh ? K.h[rn(K.nh)] : (uint32_t)rn(8);
}

/*
 * A plausible argument for driver ioctl nr at p (room bytes there), so that
 * random mode also gets past the first checks; the caller then overwrites a
 * few words with interesting values. Pointers in it point to fuzz memory.
 */
static void r_template(struct r_state *r, int c, unsigned int nr, uint8_t *p, size_t room)
{
	union {
		struct drm_lumen_get_param gp;
		struct drm_lumen_query q;
		struct drm_lumen_bo_create bc;
		struct drm_lumen_bo_info bi;
		struct drm_lumen_vm_bind vb;
		struct drm_lumen_queue_destroy qd;
		struct drm_lumen_submit sb;
		struct drm_lumen_wait w;
#if LF_DRV_LAST > DRM_LUMEN_WAIT
		struct drm_lumen_window_open wo;
		struct drm_lumen_window_close wc;
		struct drm_lumen_route rt;
		struct drm_lumen_port_ctrl pc;
		struct drm_lumen_mgmt mg;
#endif
#if LF_UQ
		struct drm_lumen_uq_create uc;
		struct drm_lumen_uq_destroy ud;
		struct drm_lumen_uq_wait uw;
		struct drm_lumen_uq_fence uf;
#endif
	} u;
	const uint64_t va = DRM_LUMEN_VA_USER_START + 2 * MiB * rn(3);

	memset(&u, 0, sizeof(u));
	switch (nr - DRM_COMMAND_BASE) {
	case DRM_LUMEN_GET_PARAM:
		u.gp.param = (uint32_t)rn(12);
		break;
	case DRM_LUMEN_QUERY:
		u.q.type = (uint32_t)rn(5);
		u.q.size = (uint32_t)rn(80);
		u.q.data = (uintptr_t)M.arena + ARENA_LEN - 8 * (1 + rn(16));
		break;
	case DRM_LUMEN_BO_CREATE:
		u.bc.size = PAGE * (1 + rn(16));
		u.bc.flags = 1u << rn(3);
		if (u.bc.flags == DRM_LUMEN_BO_USERPTR) {
			u.bc.userptr = r->user[c] ? (uintptr_t)r->user[c] : (uintptr_t)M.arena;
			u.bc.size = MIN(u.bc.size, (uint64_t)R_USER_LEN);
			if (pct(30))
				u.bc.flags |= DRM_LUMEN_BO_READ_ONLY;
		}
		break;
	case DRM_LUMEN_BO_INFO:
		u.bi.handle = some_handle();
		break;
	case DRM_LUMEN_VM_BIND:
		u.vb.op = pct(70) ? DRM_LUMEN_VM_MAP : DRM_LUMEN_VM_UNMAP;
		u.vb.va = va + PAGE * rn(32);
		u.vb.size = PAGE * (1 + rn(16));
		if (u.vb.op == DRM_LUMEN_VM_MAP) {
			u.vb.handle = some_handle();
			u.vb.offset = PAGE * rn(4);
			u.vb.flags = (uint32_t)rn(2);
		}
		break;
	case DRM_LUMEN_QUEUE_DESTROY:
		u.qd.queue_id = (uint32_t)rn(4);
		break;
	case DRM_LUMEN_SUBMIT:
		u.sb.queue_id = pct(80) ? r->seed_q[c] : (uint32_t)rn(4);
		u.sb.num_cmds = (uint32_t)(1 + rn(8));
		u.sb.cmds = (uintptr_t)M.arena + sizeof(struct lumen_cmd) * rn(CMD_ZONE / 64 - 8);
		/* The kernel only reads the handle list. */
		u.sb.num_bos = (uint32_t)rn(MIN(K.nh, 3u) + 1);
		u.sb.bo_handles = (uintptr_t)K.h;
		break;
	case DRM_LUMEN_WAIT:
		u.w.queue_id = pct(80) ? r->seed_q[c] : (uint32_t)rn(4);
		u.w.seqno = 1 + rn(8);
		break;
#if LF_DRV_LAST > DRM_LUMEN_WAIT
	case DRM_LUMEN_WINDOW_OPEN:
		/* The seed BOs are mapped at the bottom of the user range. */
		u.wo.va = va + PAGE * rn(R_USER_LEN / PAGE);
		u.wo.size = PAGE * (1 + rn(R_USER_LEN / PAGE));
		u.wo.flags = (uint32_t)(1 + rn(7));
		break;
	case DRM_LUMEN_WINDOW_CLOSE:
		u.wc.window = (uint32_t)rn(pct(90) ? 32 : 512);
		break;
	case DRM_LUMEN_ROUTE:
		/* GET mostly: a random SET block changes routes (restored at the end). */
		u.rt.op = pct(85) ? DRM_LUMEN_ROUTE_GET : DRM_LUMEN_ROUTE_SET;
		u.rt.first = (uint32_t)rn(DRM_LUMEN_MAX_CHIPS);
		u.rt.count = (uint32_t)(1 + rn(64));
		u.rt.words = (uintptr_t)M.arena + ARENA_LEN - 4 * u.rt.count;
		break;
	case DRM_LUMEN_PORT_CTRL:
		u.pc.port = (uint32_t)rn(LUMEN_LINK_PORTS_MAX);
		u.pc.set = pct(10);
		u.pc.ctrl = DRM_LUMEN_PORT_ENABLE;
		break;
	case DRM_LUMEN_MGMT_SEND:
		u.mg.data = (uintptr_t)M.arena + CMD_ZONE;
		u.mg.size = LUMEN_MGMT_HDR_SIZE;
		/* A GET INFO of this chip, unless the random bytes say otherwise. */
		M.arena[CMD_ZONE] = LUMEN_MGMT_VERSION;
		M.arena[CMD_ZONE + 1] = LUMEN_MGMT_GET;
		M.arena[CMD_ZONE + 2] = LUMEN_MGMT_ATTR_INFO;
		break;
	case DRM_LUMEN_MGMT_RECV:
		u.mg.data = (uintptr_t)M.arena + ARENA_LEN - DRM_LUMEN_MGMT_MAX;
		u.mg.size = DRM_LUMEN_MGMT_MAX;
		break;
#endif
#if LF_UQ
	case DRM_LUMEN_UQ_CREATE:
		/* Ring and record in one of the seed BOs (64 KiB each at va). */
		u.uc.ring_order = DRM_LUMEN_UQ_ORDER_MIN + (uint32_t)rn(5);
		u.uc.ring_va = va + PAGE * rn(4);
		u.uc.cpl_va = va + R_USER_LEN - 16 * (1 + rn(64));
		u.uc.priority = pct(80) ? 0 : (uint32_t)rn(3);
		break;
	case DRM_LUMEN_UQ_DESTROY:
		u.ud.queue_id = pct(50) ? r->uq[c] : (uint32_t)rn(8);
		break;
	case DRM_LUMEN_UQ_WAIT:
		u.uw.queue_id = pct(70) ? r->uq[c] : (uint32_t)rn(8);
		u.uw.count = rn(4);
		break;
	case DRM_LUMEN_UQ_FENCE:
		u.uf.queue_id = pct(70) ? r->uq[c] : (uint32_t)rn(8);
		u.uf.count = rn(4);
		u.uf.handle = some_handle();
		u.uf.point = pct(50) ? 0 : rn(8);
		break;
#endif
	default:	/* QUEUE_CREATE: all zero */
		break;
	}
	memcpy(p, &u, MIN(room, sizeof(u)));
	for (uint64_t k = rn(3); k > 0 && room >= 8; k--) {
		uint64_t v = interesting();

		memcpy(p + 8 * rn(MIN(room, sizeof(u)) / 8), &v, 8);
	}
}

static int in_arena(uint64_t a)
{
	return a >= (uintptr_t)M.arena && a < (uintptr_t)M.arena + ARENA_LEN;
}

static int in_ro(uint64_t a)
{
	return a >= (uintptr_t)M.ro && a < (uintptr_t)M.ro + PAGE;
}

static int sensitive(unsigned int nr)
{
	return nr == DRM_COMMAND_BASE + DRM_LUMEN_BO_CREATE ||
	       nr == DRM_COMMAND_BASE + DRM_LUMEN_WAIT ||
#if LF_DRV_LAST > DRM_LUMEN_WAIT
	       nr == DRM_COMMAND_BASE + DRM_LUMEN_MGMT_RECV ||
#endif
#if LF_UQ
	       nr == DRM_COMMAND_BASE + DRM_LUMEN_UQ_WAIT ||
#endif
	       (nr >= 0xc3 && nr <= 0xcd);
}

static int in_maps(uint64_t a)
{
	for (int i = 0; i < nmaps; i++)
		if (a >= (uintptr_t)maps[i].p && a < (uintptr_t)maps[i].p + maps[i].len)
			return 1;
	return a >= (uintptr_t)M.region && a < (uintptr_t)M.region + REGION_LEN;
}

static void r_ioctl(struct r_state *r)
{
	unsigned int nr = pick_nr();
	unsigned long known = known_req[nr];
	unsigned int dir = known && pct(60) ? _IOC_DIR(known) : (unsigned int)rn(4);
	unsigned int size = pick_size(known);
	unsigned int type = pct(97) ? DRM_IOCTL_BASE : (unsigned int)rn(256);
	unsigned long req = _IOC(dir, type, nr, size);
	uint8_t *p = NULL;
	uint64_t arg;
	int c = (int)rn(g_ncards), fd = r->fd[c], ret;

	if (pct(85)) {
		size_t span = MIN((size_t)(size < 64 ? 64 : size), (size_t)ARENA_LEN - CMD_ZONE);
		size_t off;

		if (pct(10))	/* the argument runs into the guard page */
			off = ARENA_LEN - 8 * (1 + rn(span / 8));
		else
			off = CMD_ZONE + 8 * rn((ARENA_LEN - CMD_ZONE - span) / 8 + 1);
		p = M.arena + off;
		fill_random(p, MIN(span, (size_t)ARENA_LEN - off));
		if (type == DRM_IOCTL_BASE && nr >= DRM_COMMAND_BASE &&
		    nr <= DRM_COMMAND_BASE + LF_DRV_LAST && pct(25))
			r_template(r, c, nr, p, ARENA_LEN - off);
		sanitize(nr, dir, size, p);
		arg = (uintptr_t)p;
	} else {
		arg = pick_ptr(size);
		/* Sizes, counts and timeouts sanitize() looks at come from the
		 * arena just filled, or from the ~0 page (out of range; the
		 * SIGALRM bound), never from stale arena bytes or a mapping. */
		if (sensitive(nr) && (in_maps(arg) || in_arena(arg) ||
				      (g_avoid_count && in_ro(arg))))
			arg = HOLE_PTR;
	}
	if (g_avoid_uq_id && nr == DRM_COMMAND_BASE + DRM_LUMEN_QUEUE_DESTROY && r->uq[c]) {
		/* --known uq-id: never the live user-mode queue's id. */
		if (!p)
			arg = HOLE_PTR;
		else if (p + 4 <= M.arena + ARENA_LEN && !memcmp(p, &r->uq[c], 4))
			memset(p, 0xff, 4);
	}
	ret = fz_ioctl(op_of_nr(nr), fd, req, (void *)(uintptr_t)arg);
	if (nr == DRM_COMMAND_BASE + DRM_LUMEN_SUBMIT && ret == -ECANCELED) {
		S->bans++;
		r->need_reopen = 1;
	}
	r_after(r, fd, nr, dir, size, p, ret);
}

static void r_mmap(struct r_state *r)
{
	int fd = K.nfds && pct(20) && !g_avoid_dmabuf_mmap ? K.fds[rn(K.nfds)]
							    : r->fd[rn(g_ncards)];
	uint64_t off, len;
	int prot, flags;
	uint8_t *p;

	switch (rn(10)) {
	case 0:
	case 1:
	case 2:
	case 3:
		off = K.nmoff ? K.moff[rn(K.nmoff)] : 0;
		if (pct(20))
			off += PAGE * rn(5) - 2 * PAGE;
		break;
	case 4:
		off = 0;
		break;
	case 5:
		off = PAGE * rn(1u << 20);
		break;
	case 6:
		off = (1ull << 32) + PAGE * rn(1u << 16);	/* DRM's offset space */
		break;
	case 7:
		off = rnd() & ~(PAGE - 1);
		break;
	default:
		off = interesting();
		break;
	}
	switch (rn(10)) {
	case 0:
	case 1:
	case 2:
	case 3:
		len = PAGE * (1 + rn(16));
		break;
	case 4:
	case 5:
		len = R_USER_LEN;
		break;
	case 6:
		len = 1 + rn(1u << 20);
		break;
	case 7:
		len = 0;
		break;
	case 8:
		len = PAGE * (1 + rn(4096));
		break;
	default:
		len = 1ull << (30 + rn(20));
		break;
	}
	prot = pct(95) ? (int)rn(8) : (int)rnd();
	switch (rn(20)) {
	case 0:
		flags = 0;
		break;
	case 1:
		flags = MAP_SHARED_VALIDATE;
		break;
	case 2:
	case 3:
	case 4:
	case 5:
		flags = MAP_PRIVATE;
		break;
	default:
		flags = MAP_SHARED;
		break;
	}
	if (pct(10))
		flags |= MAP_POPULATE;
	if (pct(5))
		flags |= MAP_NORESERVE;
	if (pct(3))
		flags |= MAP_LOCKED;
	p = do_mmap(fd, off, len, prot, flags, pct(80));
	if (p && len && pct(50))
		touch_pipe(p + (rn(len) & ~7ull), 1 + rn(64), pct(50));
}

static void r_touch(void)
{
	struct lf_map *m;
	uint8_t *p;

	if (!nmaps)
		return;
	m = &maps[rn(nmaps)];
	p = m->p + (rn(m->len) & ~7ull);
	switch (rn(10)) {
	case 0:
		madvise(m->p, m->len, MADV_DONTNEED);	/* zap: fault it in again */
		break;
	case 1:
		mprotect(m->p, m->len, (int)rn(8));
		break;
	default:
		touch_pipe(p, MIN((size_t)(m->p + m->len - p), (size_t)(1 + rn(64))), pct(50));
		break;
	}
}

static void random_main(void)
{
	struct r_state r;

	memset(&r, 0, sizeof(r));
	r_open(&r);
	while (!budget_done()) {
		unsigned int x = (unsigned int)rn(100);

		if (r.need_reopen || S->done - r.opened_at >= r.reopen_after)
			r_reopen(&r);
		if (x < 88)
			r_ioctl(&r);
		else if (x < 93)
			r_mmap(&r);
		else if (x < 96) {
			if (nmaps)
				map_drop((int)rn(nmaps), pct(50));
		} else {
			r_touch();
		}
		if (rn(64) == 0)
			refill_cmd_zone();
	}
	r_close(&r);
}

/* ---- structure-aware mode: objects --------------------------------------------- */

#define S_MAX_BO	10
#define S_MAX_MAP	12
#define S_MAX_Q		2
#define S_MAX_SYNC	6
#define S_MAX_PRIME	4
#define S_MAX_USER	32
#define S_MAX_WIN	4
#define CTL_RELEASE	0	/* control BO words 0-7: ~0, every WAIT on them passes */
#define CTL_HANG	8	/* words 8-15: 0, a WAIT for 1 hangs until set */

struct s_bo {
	uint32_t h, flags;
	uint64_t size, moff;
	uint8_t *cpu;		/* CPU view: mmap of the BO, or the user memory */
};

struct s_map {
	uint64_t va, size;
	uint32_t h;
	int writable;
};

struct s_sync {
	uint32_t h;
	uint64_t point;		/* highest point submitted or signalled */
	int fenced;		/* has a fence: usable as an in-sync */
};

struct s_user {
	void *p;
	size_t len;
};

/*
 * A user-mode queue of the slot's file (uAPI 1.4). Well-formed ones have a
 * BO of their own, the ring followed by the record, mapped at map_va and
 * on the CPU at cpu; others point into the pool's mappings (cpu NULL: the
 * ring holds whatever is there, so a doorbell store runs garbage).
 */
#define S_MAX_UQ	2
#define S_MAX_STALE_DB	4
#define UQ_HANG_BUDGET	1	/* queues per slot left to the kernel's hang detection */

struct s_uq {
	uint32_t id, entries, order;
	uint32_t ring_h;		/* its own BO, 0 if none */
	uint64_t map_va, bo_size;	/* that BO's VM_BIND mapping */
	uint64_t ring_va, cpl_va;
	uint8_t *cpu;			/* CPU view of the BO */
	volatile uint32_t *db;		/* the doorbell page, NULL until mapped */
	uint64_t db_off;
	uint32_t tail;			/* last value stored into the doorbell */
	uint64_t pushed;		/* commands given (64-bit) */
	uint64_t fenced;		/* highest count a UQ_FENCE asked for */
	int bad;			/* stored a bad tail or ran garbage: may stop */
};

/* An open remote window of the slot's file (uAPI 1.2). */
struct s_win {
	uint32_t id, flags;
	uint64_t key, va, size;
};

struct s_state {
	int card, fd, fd2;
	struct s_bo bo[S_MAX_BO];
	int nbo;
	struct s_map map[S_MAX_MAP];
	int nmap;
	uint32_t q[S_MAX_Q];
	uint64_t qseq[S_MAX_Q];
	int nq;
	struct s_sync sy[S_MAX_SYNC];
	int nsy;
	int prime[S_MAX_PRIME];
	int nprime;
	struct s_user user[S_MAX_USER];
	int nuser;
	uint32_t stale[8], stale_sync[4], stale_q[4];
	unsigned int nstale, nstale_sync, nstale_q;
	uint32_t fd2_handle;	/* a BO handle only fd2 has */
	uint64_t va_next;
	uint32_t ctl_h;
	uint64_t ctl_va;
	volatile uint64_t *ctl;
	unsigned int hang_next;
	int links;		/* CAPS.LINKS: windows, remote commands, admin ioctls */
	int reduce;		/* CAPS.REDUCE: REDUCE, and RREDUCE with links */
	uint32_t chip, nports;	/* QUERY_LINK */
	struct s_win win[S_MAX_WIN];
	int nwin;
	uint32_t stale_win[8];	/* windows closed since the open */
	unsigned int nstale_win;
	struct s_uq uq[S_MAX_UQ];
	int nuq;
	int uq_caps;		/* CAPS.USER_QUEUES */
	uint32_t job_timeout_ms;
	volatile uint32_t *stale_db[S_MAX_STALE_DB];	/* doorbells of destroyed queues */
	int nstale_db;
	uint64_t fd2_va;	/* fd2 maps its BO there (not fd's memory); 0 if not */
	int tainted;		/* something since the open may ban the context */
	int inflight;		/* jobs may be running */
	int need_reopen;
	uint64_t opened_at, reopen_after;
	/* SUBMIT arrays at their maximum length, so counts may grow. */
	struct lumen_cmd *cmds;
	uint32_t *bos;
	struct drm_lumen_sync *ins, *outs;
};

static void s_pub(struct s_state *s)
{
	uint32_t v[8] = { 0 };

	for (int i = 0; i < 4 && i < s->nbo; i++)
		v[i] = s->bo[i].h;
	v[4] = s->nsy ? s->sy[0].h : 0;
	v[5] = s->nsy > 1 ? s->sy[1].h : 0;
	v[6] = s->nq ? s->q[0] : 0;
	v[7] = s->ctl_h;
	memcpy(S->pub, v, sizeof(v));
}

static uint64_t s_va_alloc(struct s_state *s, uint64_t size)
{
	uint64_t va = s->va_next;

	/* 2 MiB aligned, a 2 MiB hole after each: overruns fault. */
	s->va_next += ((size + 2 * MiB - 1) & ~(2 * MiB - 1)) + 2 * MiB;
	return va;
}

static void *s_user_alloc(struct s_state *s, size_t len, int prot)
{
	void *p;

	if (s->nuser == S_MAX_USER) {
		s->need_reopen = 1;
		return NULL;
	}
	p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	s->user[s->nuser++] = (struct s_user){ p, len };
	return p;
}

static uint64_t s_pick_size(void)
{
	unsigned int r = (unsigned int)rn(100);

	if (r < 70)
		return PAGE * (1 + rn(16));
	if (r < 85)
		return PAGE * (1 + rn(256));
	if (r < 95)
		return PAGE * (1 + rn(STRUCT_BO_CAP / PAGE));
	return pct(50) ? 2 * MiB : STRUCT_BO_CAP;
}

static int s_find_bo(struct s_state *s, uint32_t h)
{
	for (int i = 0; i < s->nbo; i++)
		if (s->bo[i].h == h)
			return i;
	return -1;
}

/* Forget BO i after its handle was closed (mappings of it stay valid). */
static void s_forget_bo(struct s_state *s, int i)
{
	struct s_bo *b = &s->bo[i];

	if (b->cpu && !(b->flags & DRM_LUMEN_BO_USERPTR))
		munmap(b->cpu, b->size);
	s->stale[s->nstale++ % ARRAY_LEN(s->stale)] = b->h;
	s->bo[i] = s->bo[--s->nbo];
}

static void s_close_bo(struct s_state *s, int i)
{
	if (!x_gem_close(s->fd, s->bo[i].h))
		s_forget_bo(s, i);
}

/* A well-formed BO of kind 0 DEVICE, 1 HOST, 2 USERPTR (-1: any); its index or -1. */
static int s_new_bo(struct s_state *s, int kind)
{
	uint64_t size = s_pick_size(), got;
	struct drm_lumen_bo_info bi;
	uint32_t flags, h;
	void *user = NULL;
	struct s_bo b;
	int ro = 0;

	if (kind < 0)
		kind = (int)rn(3);
	if (s->nbo == S_MAX_BO)
		s_close_bo(s, (int)rn(s->nbo));
	if (s->nbo == S_MAX_BO)
		return -1;
	if (kind == 2) {
		ro = pct(20);
		user = s_user_alloc(s, size, ro ? PROT_READ : PROT_READ | PROT_WRITE);
		if (!user)
			return -1;
		flags = DRM_LUMEN_BO_USERPTR | (ro ? DRM_LUMEN_BO_READ_ONLY : 0);
	} else {
		flags = kind ? DRM_LUMEN_BO_HOST : DRM_LUMEN_BO_DEVICE;
	}
	if (x_bo_create(s->fd, size, flags, (uintptr_t)user, &h, &got))
		return -1;
	b = (struct s_bo){ .h = h, .flags = flags, .size = got, .cpu = user };
	if (user && pct(10)) {
		/* The pinned pages outlive their mapping: the device keeps them. */
		munmap(user, size);
		s->user[--s->nuser] = (struct s_user){ NULL, 0 };
		b.cpu = NULL;
	}
	if (!user && !x_bo_info(s->fd, h, &bi)) {
		void *p = mmap(NULL, got, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd,
			       (off_t)bi.mmap_offset);

		S->mmaps++;
		b.moff = bi.mmap_offset;
		known_add_moff(b.moff);
		if (p != MAP_FAILED) {
			S->mmap_ok++;
			b.cpu = p;
		}
	}
	s->bo[s->nbo] = b;
	return s->nbo++;
}

static int s_bo_writable(const struct s_bo *b)
{
	return !(b->flags & DRM_LUMEN_BO_READ_ONLY);
}

static void s_add_map(struct s_state *s, uint64_t va, uint64_t size, uint32_t h, uint32_t flags)
{
	int i = s_find_bo(s, h);

	if (s->nmap == S_MAX_MAP) {	/* nowhere to track it: undo */
		x_vm_bind(s->fd, DRM_LUMEN_VM_UNMAP, 0, va, 0, size, 0);
		return;
	}
	s->map[s->nmap++] = (struct s_map){
		.va = va, .size = size, .h = h,
		.writable = !(flags & DRM_LUMEN_VM_READ_ONLY) && i >= 0 && s_bo_writable(&s->bo[i]),
	};
}

static void s_drop_map(struct s_state *s, uint64_t va, uint64_t size)
{
	for (int i = 0; i < s->nmap; i++)
		if (s->map[i].va == va && s->map[i].size == size) {
			s->map[i] = s->map[--s->nmap];
			return;
		}
}

/* Arguments of a well-formed MAP of a pool BO; 0 or -1 (nothing to map). */
static int s_map_args(struct s_state *s, struct drm_lumen_vm_bind *a)
{
	struct s_bo *b;
	uint64_t pages, first;

	if (!s->nbo)
		return -1;
	b = &s->bo[rn(s->nbo)];
	pages = b->size / PAGE;
	first = pct(40) ? 0 : rn(pages);
	memset(a, 0, sizeof(*a));
	a->op = DRM_LUMEN_VM_MAP;
	a->handle = b->h;
	a->offset = first * PAGE;
	a->size = pct(40) ? (pages - first) * PAGE : (1 + rn(pages - first)) * PAGE;
	a->va = s_va_alloc(s, a->size);
	if (pct(15) || !s_bo_writable(b))
		a->flags = DRM_LUMEN_VM_READ_ONLY;
	return 0;
}

static void s_new_map(struct s_state *s)
{
	struct drm_lumen_vm_bind a;

	if (s->nmap == S_MAX_MAP || s_map_args(s, &a))
		return;
	if (!fz_ioctl(OP_VM_BIND, s->fd, DRM_IOCTL_LUMEN_VM_BIND, &a))
		s_add_map(s, a.va, a.size, a.handle, a.flags);
}

static void s_uq_close_all(struct s_state *s);
static void s_uq_after_close(struct s_state *s);
static int s_uq_idle(struct s_state *s);

static void s_close(struct s_state *s)
{
	s_uq_close_all(s);
	maps_drop_all();
	for (int i = 0; i < s->nbo; i++)
		if (s->bo[i].cpu && !(s->bo[i].flags & DRM_LUMEN_BO_USERPTR))
			munmap(s->bo[i].cpu, s->bo[i].size);
	if (s->ctl)
		munmap((void *)s->ctl, PAGE);
	close_range((unsigned int)g_fd_floor, ~0u, 0);
	s_uq_after_close(s);
	for (int i = 0; i < s->nuser; i++)
		munmap(s->user[i].p, s->user[i].len);
	s->nbo = s->nmap = s->nq = s->nsy = s->nprime = s->nuser = 0;
	s->nwin = 0;
	s->nstale_win = 0;
	s->ctl = NULL;
	s->ctl_h = 0;
}

static void s_open(struct s_state *s)
{
	struct drm_lumen_bo_info bi;
	void *p;

	memset(&K, 0, sizeof(K));
	s->fd = open_card(s->card);
	s->fd2 = open_card(s->card);
	known_add_fd(s->fd);
	known_add_fd(s->fd2);
	s->va_next = DRM_LUMEN_VA_USER_START;
	s->hang_next = 0;
	s->tainted = s->inflight = s->need_reopen = 0;

	/* The control BO: WAIT commands poll its words. */
	if (!x_bo_create(s->fd, PAGE, DRM_LUMEN_BO_HOST, 0, &s->ctl_h, NULL) &&
	    !x_bo_info(s->fd, s->ctl_h, &bi)) {
		p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd,
			 (off_t)bi.mmap_offset);
		if (p != MAP_FAILED) {
			s->ctl = p;
			for (int i = 0; i < 8; i++) {
				s->ctl[CTL_RELEASE + i] = ~0ull;
				s->ctl[CTL_HANG + i] = 0;
			}
			s->ctl_va = s_va_alloc(s, PAGE);
			if (x_vm_bind(s->fd, DRM_LUMEN_VM_MAP, s->ctl_h, s->ctl_va, 0, PAGE, 0)) {
				munmap(p, PAGE);
				s->ctl = NULL;
			}
		}
	}
	if (!x_queue_create(s->fd, &s->q[0])) {
		s->qseq[0] = 0;
		s->nq = 1;
	}
	for (int k = 0; k < 3; k++)
		s_new_bo(s, k);
	for (int i = 0; i < 3; i++)
		s_new_map(s);
	s->sy[0] = (struct s_sync){ .h = x_syncobj(s->fd, 1), .fenced = 1 };
	s->sy[1] = (struct s_sync){ .h = x_syncobj(s->fd, 0) };
	s->nsy = 2;
	if (s->sy[1].h) {
		uint64_t one = 1;
		struct drm_syncobj_timeline_array ta = {
			.handles = (uintptr_t)&s->sy[1].h, .points = (uintptr_t)&one,
			.count_handles = 1,
		};

		if (!fz_ioctl(OP_SYNCOBJ, s->fd, DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &ta))
			s->sy[1] = (struct s_sync){ .h = s->sy[1].h, .point = 1, .fenced = 1 };
	}
	s->fd2_handle = 0;
	x_bo_create(s->fd2, PAGE, DRM_LUMEN_BO_HOST, 0, &s->fd2_handle, NULL);
	s->nuq = s->nstale_db = 0;
	s->fd2_va = 0;
	s->uq_caps = 0;
	s->job_timeout_ms = 2000;
#if LF_UQ
	{
		struct drm_lumen_limits lim;
		uint32_t size = sizeof(lim);
		uint64_t caps = 0;

		s->uq_caps = !ld_get_param(s->fd, DRM_LUMEN_PARAM_CAPABILITIES, &caps) &&
			     (caps & DRM_LUMEN_CAP_USER_QUEUES);
		if (!ld_query(s->fd, DRM_LUMEN_QUERY_LIMITS, &lim, &size) && lim.job_timeout_ms)
			s->job_timeout_ms = lim.job_timeout_ms;
	}
#endif
	s->links = 0;
#if LF_DRV_LAST > DRM_LUMEN_WAIT
	{
		struct drm_lumen_link_info li;
		uint32_t size = sizeof(li);
		uint64_t caps = 0;

		if (!ld_get_param(s->fd, DRM_LUMEN_PARAM_CAPABILITIES, &caps) &&
		    (caps & DRM_LUMEN_CAP_LINKS) && !ld_query(s->fd, DRM_LUMEN_QUERY_LINK, &li, &size)) {
			s->links = 1;
			s->chip = li.chip_id;
			s->nports = li.num_ports;
		}
	}
#endif
	s->reduce = 0;
#if LF_REDUCE
	{
		uint64_t caps = 0;

		s->reduce = !ld_get_param(s->fd, DRM_LUMEN_PARAM_CAPABILITIES, &caps) &&
			    (caps & DRM_LUMEN_CAP_REDUCE);
	}
#endif
	for (int i = 0; i < s->nsy; i++)
		known_add_handle(s->sy[i].h);
	for (int i = 0; i < s->nbo; i++)
		known_add_handle(s->bo[i].h);
	for (int i = 0; i < DRM_LUMEN_MAX_BOS; i++)
		s->bos[i] = s->ctl_h;
	s_pub(s);
	s->opened_at = S->done;
	s->reopen_after = 3000 + rn(3000);
}

static void s_reopen(struct s_state *s)
{
	uint64_t t = ld_now_ns();

	s_close(s);
	S->reopen_ns += ld_now_ns() - t;
	S->reopens++;
	t = ld_now_ns();
	s_open(s);
	S->open_ns += ld_now_ns() - t;
}

/* A ban or a failed job: fine if this file asked for it, else a finding. */
static void s_banned(struct s_state *s, const char *what, int err)
{
	struct drm_lumen_context_status cs;

	/* -ENODEV: the card was reset (its jobs fail, its files are dead);
	 * counted and reported by the parent, not a ban of this context. */
	if (err == -ENODEV) {
		S->enodev++;
		s->need_reopen = 1;
		return;
	}
	if (!s->tainted) {
		S->unexplained_bans++;
		memset(&cs, 0, sizeof(cs));
		ld_ctx_status(s->fd, &cs);
		fprintf(stderr,
			"lumen-fuzz: slot %d: %s (%s) on a context that did nothing to deserve it: "
			"flags 0x%x error %d fault_addr 0x%llx kind %u queue %u faults %u timeouts %u\n",
			(int)(S - g_slots), what, strerror(-err), cs.flags, cs.error,
			(unsigned long long)cs.fault_addr, cs.fault_kind, cs.fault_queue, cs.faults,
			cs.timeouts);
	}
	s->need_reopen = 1;
}

/*
 * A job's non-zero status. A remote command's -EACCES, -EHOSTUNREACH or
 * -ETIMEDOUT is the other side's answer: it must not ban the context
 * (-ETIMEDOUT also ends a hang, which does ban it). Anything else is a ban.
 */
static void s_job_status(struct s_state *s, const char *what, int st)
{
	struct drm_lumen_context_status cs;

	if (st == -EACCES || st == -EHOSTUNREACH || st == -ETIMEDOUT) {
		memset(&cs, 0, sizeof(cs));
		if (!ld_ctx_status(s->fd, &cs) && !(cs.flags & DRM_LUMEN_CTX_BANNED)) {
			S->remote_errors++;
			return;
		}
	}
	S->job_errors++;
	s_banned(s, what, st);
}

/* ---- structure-aware mode: mutation of one field ------------------------------ */

enum fkind {
	K_VAL, K_RSVD, K_FLAGS, K_HANDLE, K_QUEUE, K_SIZE, K_VA, K_OFF, K_PTR, K_COUNT,
	K_FD, K_TMO, K_ATMO, K_SEQ, K_TYPE, K_POINT,
};

struct fdesc {
	uint16_t off;
	uint8_t size;
	uint8_t kind;
	uint32_t max;		/* K_COUNT: the documented limit; K_PTR: bytes */
};

#define FLD(T, m, k)		{ offsetof(T, m), sizeof(((T *)0)->m), k, 0 }
#define FLDN(T, m, k, n)	{ offsetof(T, m), sizeof(((T *)0)->m), k, n }

static uint64_t f_get(const void *base, const struct fdesc *d)
{
	uint64_t v = 0;

	memcpy(&v, (const uint8_t *)base + d->off, d->size);
	return v;
}

static void f_set(void *base, const struct fdesc *d, uint64_t v)
{
	memcpy((uint8_t *)base + d->off, &v, d->size);
}

/* A handle number that is wrong in an interesting way. */
static uint64_t wrong_handle(struct s_state *s)
{
	switch (rn(10)) {
	case 0:
		return s->nsy ? s->sy[rn(s->nsy)].h : 1;		/* a syncobj */
	case 1:
		if (s->nuq && pct(40))					/* a user-mode queue */
			return s->uq[rn(s->nuq)].id;
		return s->nq ? s->q[rn(s->nq)] : 1;			/* a queue id */
	case 2:
		return s->nbo ? s->bo[rn(s->nbo)].h : 1;		/* a BO */
	case 3:
		return s->stale[rn(ARRAY_LEN(s->stale))];		/* a closed BO */
	case 4:
		return s->stale_sync[rn(ARRAY_LEN(s->stale_sync))];
	case 5:
		return s->stale_q[rn(ARRAY_LEN(s->stale_q))];
	case 6:
		return g_slots[rn(g_nslots)].pub[rn(8)];		/* another process's */
	case 7:
		return s->fd2_handle;					/* only fd2 has it */
	case 8:
		return s->ctl_h;
	default: {
		static const uint64_t v[] = { 0, 0x7fffffff, 0xffffffff, 0x80000000, 64, 4096 };

		return v[rn(ARRAY_LEN(v))];
	}
	}
}

static uint64_t kind_value(struct s_state *s, const struct fdesc *d, uint64_t cur)
{
	static const uint64_t sizes[] = {
		0, 1, 8, PAGE - 1, PAGE, PAGE + 1, 2 * MiB, 2 * MiB + PAGE, STRUCT_BO_CAP + PAGE,
		DRM_LUMEN_BO_MAX_SIZE, DRM_LUMEN_BO_MAX_SIZE + 1, DRM_LUMEN_BO_MAX_SIZE + PAGE,
		LUMEN_CMD_MAX_SIZE, LUMEN_CMD_MAX_SIZE + 1, 1ull << 32, 1ull << 63, ~0ull,
		~0ull - PAGE + 1, 0x7ffffffffffff000ull,
	};
	unsigned int bits = d->size * 8u;

	switch (d->kind) {
	case K_RSVD:
		return rn(3) == 0 ? 1 : rn(2) ? 1ull << rn(bits) : ~0ull;
	case K_FLAGS:
		switch (rn(4)) {
		case 0:
			return cur ^ 1ull << rn(bits);
		case 1:
			return 1ull << rn(bits);
		case 2:
			return cur | 1ull << rn(MIN(bits, 8u));
		default:
			return ~cur;
		}
	case K_HANDLE:
	case K_QUEUE:
		return wrong_handle(s);
	case K_SIZE:
	case K_OFF:
		switch (rn(5)) {
		case 0:
			return cur + PAGE * (1 + rn(4));
		case 1:
			return cur * 2;
		case 2:
			return cur - PAGE;
		default:
			return sizes[rn(ARRAY_LEN(sizes))];
		}
	case K_VA: {
		const uint64_t S0 = DRM_LUMEN_VA_USER_START, E = DRM_LUMEN_VA_USER_END;
		const uint64_t v[] = {
			0, S0 - PAGE, S0, E - PAGE, E, 1ull << 48, 0x100000, ~0ull & ~(PAGE - 1),
			cur + 1, cur + 4, cur + 2048, cur + PAGE, cur - PAGE, cur + 2 * MiB,
			s->nmap ? s->map[rn(s->nmap)].va : S0, s->ctl_va, s->ctl_va + 8 * CTL_HANG,
			E - 8, S0 - 8,
		};

		return v[rn(ARRAY_LEN(v))];
	}
	case K_PTR:
		return pick_ptr(d->max ? d->max : 64);
	case K_COUNT: {
		const uint64_t v[] = {
			0, 1, d->max, d->max + 1ull, ~0ull, cur + 1, cur * 2, 0x80000000, d->max * 2ull,
		};

		return v[rn(ARRAY_LEN(v))];
	}
	case K_FD: {
		const uint64_t v[] = {
			(uint64_t)-1, (uint64_t)s->fd, (uint64_t)s->fd2, (uint64_t)M.pipe[0], 0, 1023,
			999, s->nprime ? (uint64_t)s->prime[rn(s->nprime)] : 2, 0x80000000,
		};

		return v[rn(ARRAY_LEN(v))];
	}
	case K_TMO:
	case K_ATMO:
		return pick_tmo();
	case K_SEQ: {
		const uint64_t v[] = { 0, 1, cur + 1, cur + 1000, ~0ull, cur - 1, 1ull << 63, 128 };

		return v[rn(ARRAY_LEN(v))];
	}
	case K_TYPE: {
		const uint64_t v[] = { cur + 1, rn(16), ~0ull, 0x80000000, cur - 1, 0x100 };

		return v[rn(ARRAY_LEN(v))];
	}
	case K_POINT: {
		const uint64_t v[] = { 0, cur + 1, cur - 1, ~0ull, 1ull << 63, cur + 1000 };

		return v[rn(ARRAY_LEN(v))];
	}
	default:
		return rnd();
	}
}

static uint64_t generic_value(uint64_t cur, unsigned int bits)
{
	switch (rn(7)) {
	case 0:
		return cur ^ 1ull << rn(bits);
	case 1:
		return 0;
	case 2:
		return ~0ull;
	case 3:
		return cur + 1;
	case 4:
		return cur - 1;
	case 5:
		return 1ull << (bits - 1);
	default:
		return rnd();
	}
}

/* Change exactly one of the nf fields of base. */
static void mutate(struct s_state *s, void *base, const struct fdesc *f, size_t nf)
{
	const struct fdesc *d = &f[rn(nf)];
	unsigned int bits = d->size * 8u;
	uint64_t mask = bits == 64 ? ~0ull : (1ull << bits) - 1;
	uint64_t cur = f_get(base, d), v = cur;

	for (int tries = 0; tries < 4 && v == cur; tries++) {
		v = pct(35) && d->kind != K_PTR ? generic_value(cur, bits) : kind_value(s, d, cur);
		v &= mask;
		if (g_avoid_count && d->kind == K_COUNT)
			v &= 0xffff;
	}
	if (v == cur)
		v = cur ^ 1;
	f_set(base, d, v);
}

#define MUTATE(s, a, f) mutate(s, &(a), f, ARRAY_LEN(f))

/* ---- structure-aware mode: the ioctls -------------------------------------------- */

static void s_get_param(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_get_param, param, K_TYPE),
		FLD(struct drm_lumen_get_param, reserved, K_RSVD),
		FLD(struct drm_lumen_get_param, value, K_VAL),
	};
	struct drm_lumen_get_param a = { .param = (uint32_t)rn(DRM_LUMEN_PARAM_NUM_CONTEXTS + 1) };

	if (pct(70))
		MUTATE(s, a, f);
	fz_ioctl(OP_GET_PARAM, s->fd, DRM_IOCTL_LUMEN_GET_PARAM, &a);
}

static void s_query(struct s_state *s)
{
	static const uint32_t full[] = {
		sizeof(struct drm_lumen_device_info), sizeof(struct drm_lumen_telemetry),
		sizeof(struct drm_lumen_context_status), sizeof(struct drm_lumen_memory_info),
#if LF_UAPI_1_1
		sizeof(struct drm_lumen_limits),
#endif
	};
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_query, type, K_TYPE),
		FLDN(struct drm_lumen_query, size, K_COUNT, 128),
		FLDN(struct drm_lumen_query, data, K_PTR, 128),
		FLD(struct drm_lumen_query, flags, K_FLAGS),
		FLD(struct drm_lumen_query, reserved, K_RSVD),
	};
	uint32_t t = (uint32_t)rn(ARRAY_LEN(full));
	/* The output ends at the guard page: a larger size faults. */
	struct drm_lumen_query a = {
		.type = t, .size = pct(20) ? (uint32_t)rn(full[t] + 1) : full[t],
		.data = (uintptr_t)M.arena + ARENA_LEN - full[t],
	};

	if (pct(70))
		MUTATE(s, a, f);
	fz_ioctl(OP_QUERY, s->fd, DRM_IOCTL_LUMEN_QUERY, &a);
}

static void s_bo_create(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_bo_create, size, K_SIZE),
		FLD(struct drm_lumen_bo_create, flags, K_FLAGS),
		FLD(struct drm_lumen_bo_create, handle, K_VAL),
		FLDN(struct drm_lumen_bo_create, userptr, K_PTR, PAGE),
		FLD(struct drm_lumen_bo_create, reserved, K_RSVD),
	};
	struct drm_lumen_bo_create a;
	int kind = (int)rn(3), ro = pct(20);
	void *user = NULL;
	uint64_t size;

	if (pct(30)) {		/* well-formed: into the pool */
		s_new_bo(s, kind);
		return;
	}
	memset(&a, 0, sizeof(a));
	a.size = size = s_pick_size();
	a.flags = kind == 0 ? DRM_LUMEN_BO_DEVICE : kind == 1 ? DRM_LUMEN_BO_HOST
							       : DRM_LUMEN_BO_USERPTR;
	if (kind == 2) {
		user = mmap(NULL, size, ro ? PROT_READ : PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (user == MAP_FAILED)
			return;
		a.userptr = (uintptr_t)user;
		if (ro)
			a.flags |= DRM_LUMEN_BO_READ_ONLY;
	}
	MUTATE(s, a, f);
	/* Whatever a mutation creates is closed at once: it may be huge (a
	 * lazily allocated 16 GiB HOST BO) or sit on memory we do not own. */
	if (!fz_ioctl(OP_BO_CREATE, s->fd, DRM_IOCTL_LUMEN_BO_CREATE, &a))
		x_gem_close(s->fd, a.handle);
	if (user)
		munmap(user, size);
}

static uint32_t s_some_bo(struct s_state *s)
{
	return s->nbo && pct(90) ? s->bo[rn(s->nbo)].h : s->ctl_h;
}

static void s_bo_info(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_bo_info, handle, K_HANDLE),
		FLD(struct drm_lumen_bo_info, flags, K_VAL),
		FLD(struct drm_lumen_bo_info, size, K_VAL),
		FLD(struct drm_lumen_bo_info, mmap_offset, K_VAL),
		FLD(struct drm_lumen_bo_info, reserved, K_RSVD),
	};
	struct drm_lumen_bo_info a = { .handle = s_some_bo(s) };

	if (pct(70))
		MUTATE(s, a, f);
	if (!fz_ioctl(OP_BO_INFO, s->fd, DRM_IOCTL_LUMEN_BO_INFO, &a))
		known_add_moff(a.mmap_offset);
}

static void s_gem_close(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLD(struct drm_gem_close, handle, K_HANDLE),
		FLD(struct drm_gem_close, pad, K_RSVD),
	};
	struct drm_gem_close a = { .handle = s_some_bo(s) };
	int i;

	if (pct(60))
		MUTATE(s, a, f);
	if (fz_ioctl(OP_GEM_CLOSE, s->fd, DRM_IOCTL_GEM_CLOSE, &a))
		return;
	i = s_find_bo(s, a.handle);
	if (i >= 0)
		s_forget_bo(s, i);
	else if (a.handle == s->ctl_h)
		s->ctl_h = 0;	/* its mapping and mmap keep it */
	if (s->nbo < 2)
		s_new_bo(s, -1);
}

static const struct fdesc bind_fields[] = {
	FLD(struct drm_lumen_vm_bind, op, K_TYPE),
	FLD(struct drm_lumen_vm_bind, handle, K_HANDLE),
	FLD(struct drm_lumen_vm_bind, va, K_VA),
	FLD(struct drm_lumen_vm_bind, offset, K_OFF),
	FLD(struct drm_lumen_vm_bind, size, K_SIZE),
	FLD(struct drm_lumen_vm_bind, flags, K_FLAGS),
	FLD(struct drm_lumen_vm_bind, reserved, K_RSVD),
};

static void s_vm_map(struct s_state *s)
{
	struct drm_lumen_vm_bind a;
	int mut = pct(65);

	if (s->nmap == S_MAX_MAP || s_map_args(s, &a))
		return;
	if (mut)
		MUTATE(s, a, bind_fields);
	if (fz_ioctl(OP_VM_BIND, s->fd, DRM_IOCTL_LUMEN_VM_BIND, &a))
		return;
	if (mut)
		s->tainted = 1;
	if (a.op == DRM_LUMEN_VM_MAP)
		s_add_map(s, a.va, a.size, a.handle, a.flags);
	else
		s_drop_map(s, a.va, a.size);
}

static void s_vm_unmap(struct s_state *s)
{
	struct drm_lumen_vm_bind a = { .op = DRM_LUMEN_VM_UNMAP };
	const struct s_map *m;

	if (!s->nmap)
		return;
	m = &s->map[rn(s->nmap)];
	a.va = m->va;
	a.size = m->size;
	if (pct(65))
		MUTATE(s, a, bind_fields);
	if (fz_ioctl(OP_VM_BIND, s->fd, DRM_IOCTL_LUMEN_VM_BIND, &a))
		return;
	/* A job still running on it faults: the caller's bug, our ban. */
	if (s->inflight || a.va == s->ctl_va)
		s->tainted = 1;
	if (a.op == DRM_LUMEN_VM_UNMAP)
		s_drop_map(s, a.va, a.size);
	else
		s_add_map(s, a.va, a.size, a.handle, a.flags);
}

static int s_find_uq(struct s_state *s, uint32_t id);

static int s_find_q(struct s_state *s, uint32_t id)
{
	for (int i = 0; i < s->nq; i++)
		if (s->q[i] == id)
			return i;
	return -1;
}

static void s_queue_create(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_queue_create, flags, K_FLAGS),
		FLD(struct drm_lumen_queue_create, priority, K_VAL),
		FLD(struct drm_lumen_queue_create, queue_id, K_VAL),
		FLD(struct drm_lumen_queue_create, reserved, K_RSVD),
	};
	struct drm_lumen_queue_create a = { 0 };

	if (LF_UAPI_1_1 && pct(25))
		a.priority = (uint32_t)rn(3);	/* NORMAL, LOW, HIGH (root may) */
	if (s->nq == S_MAX_Q || pct(60))
		MUTATE(s, a, f);
	if (fz_ioctl(OP_QUEUE_CREATE, s->fd, DRM_IOCTL_LUMEN_QUEUE_CREATE, &a))
		return;
	if (s->nq < S_MAX_Q) {
		s->q[s->nq] = a.queue_id;
		s->qseq[s->nq++] = 0;
	} else {
		x_queue_destroy(s->fd, a.queue_id);
	}
}

static void s_queue_destroy(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_queue_destroy, queue_id, K_QUEUE),
		FLD(struct drm_lumen_queue_destroy, reserved, K_RSVD),
	};
	struct drm_lumen_queue_destroy a = { .queue_id = s->nq ? s->q[rn(s->nq)] : 1 };
	int i;

	/* Keep one queue mostly: a well-formed destroy only of a second one. */
	if (s->nq < 2 || pct(70))
		MUTATE(s, a, f);
	if (g_avoid_uq_id && s_find_uq(s, a.queue_id) >= 0)
		return;
	if (fz_ioctl(OP_QUEUE_DESTROY, s->fd, DRM_IOCTL_LUMEN_QUEUE_DESTROY, &a))
		return;
	i = s_find_q(s, a.queue_id);
	if (i >= 0) {
		s->stale_q[s->nstale_q++ % ARRAY_LEN(s->stale_q)] = a.queue_id;
		s->q[i] = s->q[s->nq - 1];
		s->qseq[i] = s->qseq[s->nq - 1];
		s->nq--;
	}
}

/* ---- structure-aware mode: SUBMIT ---------------------------------------------------- */

static int s_pick_map(struct s_state *s, int need_write)
{
	int idx[S_MAX_MAP], n = 0;

	for (int i = 0; i < s->nmap; i++)
		if (!need_write || s->map[i].writable)
			idx[n++] = i;
	return n ? idx[rn(n)] : -1;
}

/* An address in mapping m with len bytes after it, align-aligned. */
static uint64_t s_addr(const struct s_map *m, uint64_t len, uint64_t align)
{
	return m->va + rn((m->size - len) / align + 1) * align;
}

static uint64_t s_len(uint64_t max)
{
	uint64_t len = pct(90) ? 8 * (1 + rn(128)) : pct(90) ? 1 + rn(64 << 10) : 1 + rn(MiB);

	if (pct(1))
		len = 1 + rn(4 * MiB);

	return MIN(len, max);
}

#if LF_DRV_LAST > DRM_LUMEN_WAIT
static struct lumen_cmd s_cmd_remote(uint8_t op, uint64_t local, uint64_t offset, uint64_t size,
				     uint32_t chip, uint32_t win, uint64_t key)
{
	struct lumen_cmd c = ld_cmd_nop();

	c.opcode = op;
	c.u.remote.local = lumen_cpu_to_le64(local);
	c.u.remote.offset = lumen_cpu_to_le64(offset);
	c.u.remote.size = lumen_cpu_to_le64(size);
	c.u.remote.dst_chip = lumen_cpu_to_le32(chip);
	c.u.remote.window = lumen_cpu_to_le32(win);
	c.u.remote.key = lumen_cpu_to_le64(key);
	return c;
}

/*
 * RWRITE, RREAD or RATOMIC through one of the slot's own windows to its
 * own chip (a loopback), as the window's rights allow; now and then to a
 * chip no route leads to, with another key, or another slot.
 */
static struct lumen_cmd s_remote(struct s_state *s)
{
	const struct s_win *w = &s->win[rn(s->nwin)];
	int wm = s_pick_map(s, 1), rm = s_pick_map(s, 0), n = 0;
	uint32_t chip = s->chip, win = w->id;
	uint64_t key = w->key, len, off;
	struct lumen_cmd c = ld_cmd_nop();
	uint8_t ops[4];

	if ((w->flags & DRM_LUMEN_WINDOW_WRITE) && rm >= 0)
		ops[n++] = LUMEN_CMD_RWRITE;
	if ((w->flags & DRM_LUMEN_WINDOW_READ) && wm >= 0)
		ops[n++] = LUMEN_CMD_RREAD;
	if (w->flags & DRM_LUMEN_WINDOW_ATOMIC)
		ops[n++] = LUMEN_CMD_RATOMIC;
#if LF_REDUCE
	if ((w->flags & DRM_LUMEN_WINDOW_WRITE) && rm >= 0 && s->reduce)
		ops[n++] = DRM_LUMEN_CMD_RREDUCE;
#endif
	if (!n)
		return c;
	switch (rn(40)) {
	case 0:
		chip = (s->chip + 1 + (uint32_t)rn(64)) % DRM_LUMEN_MAX_CHIPS;	/* maybe no route */
		break;
	case 1:
		key ^= 1ull << rn(64);
		break;
	case 2:
		win = (uint32_t)rn(LUMEN_NUM_WINDOWS);
		break;
	}
	switch (ops[rn(n)]) {
	case LUMEN_CMD_RWRITE:
		len = s_len(MIN(w->size, s->map[rm].size));
		off = rn(w->size - len + 1);
		c = s_cmd_remote(LUMEN_CMD_RWRITE, s_addr(&s->map[rm], len, 1), off, len, chip, win,
				 key);
		break;
	case LUMEN_CMD_RREAD:
		len = s_len(MIN(w->size, s->map[wm].size));
		off = rn(w->size - len + 1);
		c = s_cmd_remote(LUMEN_CMD_RREAD, s_addr(&s->map[wm], len, 1), off, len, chip, win,
				 key);
		break;
#if LF_REDUCE
	case DRM_LUMEN_CMD_RREDUCE: {
		/* Whole elements at an element-aligned offset of the window. */
		uint32_t dt = (uint32_t)rn(4), esz = lf_dtype_size(dt);

		len = s_len(MIN(w->size, s->map[rm].size)) / esz * esz;
		off = rn((w->size - len) / esz + 1) * esz;
		c = ld_cmd_rreduce(s_addr(&s->map[rm], len, esz), off, len, chip, win, key, dt,
				   (uint32_t)rn(3));
		break;
	}
#endif
	default:
		c.opcode = LUMEN_CMD_RATOMIC;
		c.u.ratomic.result = lumen_cpu_to_le64(wm >= 0 && pct(70) ?
						       s_addr(&s->map[wm], 8, 8) : 0);
		c.u.ratomic.offset = lumen_cpu_to_le64(8 * rn(w->size / 8));
		c.u.ratomic.operand = lumen_cpu_to_le64(rnd());
		c.u.ratomic.dst_chip = lumen_cpu_to_le32(chip);
		c.u.ratomic.window = lumen_cpu_to_le32(win);
		c.u.ratomic.key = lumen_cpu_to_le64(key);
		c.u.ratomic.op = lumen_cpu_to_le32((uint32_t)rn(2));
		break;
	}
	return c;
}
#endif

#if LF_REDUCE
/*
 * A REDUCE of whole elements from a readable mapping into a writable one,
 * any type and operation, sometimes in place. Now and then the source is
 * off the element alignment: SUBMIT must refuse it (the device would stop
 * the queue and ban the context, an unexplained ban).
 */
static struct lumen_cmd s_reduce(struct s_state *s, int w, int r)
{
	uint32_t dt = (uint32_t)rn(4), esz = lf_dtype_size(dt);
	uint64_t len = s_len(MIN(s->map[w].size, s->map[r].size)) / esz * esz;
	uint64_t dst = s_addr(&s->map[w], len, esz);
	uint64_t src = pct(10) ? dst : s_addr(&s->map[r], len, esz);

	if (pct(2))
		src += 1 + rn(esz - 1);
	return ld_cmd_reduce(dst, src, len, dt, (uint32_t)rn(3));
}
#endif

static struct lumen_cmd s_cmd(struct s_state *s)
{
	int w = s_pick_map(s, 1), r = s_pick_map(s, 0);
	struct lumen_cmd c = ld_cmd_nop();
	uint64_t len;

	switch (rn(10)) {
#if LF_REDUCE
	case 0:
		if (w < 0 || r < 0)
			break;
		if (s->reduce)
			c = s_reduce(s, w, r);
		else if (pct(5))	/* -EOPNOTSUPP, or its job would ban */
			c = ld_cmd_reduce(s->map[w].va, s->map[r].va, 64, DRM_LUMEN_DTYPE_F32,
					  DRM_LUMEN_REDOP_SUM);
		break;
#endif
	case 1:
	case 2:
		if (w < 0 || r < 0)
			break;
		len = s_len(MIN(s->map[w].size, s->map[r].size));
		c = ld_cmd_copy(s_addr(&s->map[w], len, pct(70) ? 8 : 1),
				s_addr(&s->map[r], len, pct(70) ? 8 : 1), len);
		break;
	case 3:
		if (w < 0)
			break;
		len = s_len(s->map[w].size);
		c = ld_cmd_fill(s_addr(&s->map[w], len, pct(70) ? 8 : 1), len, rnd());
		break;
	case 4:
		if (w >= 0)
			c = ld_cmd_signal(s_addr(&s->map[w], 8, 8), rnd());
		break;
	case 5:
		/* The release words are ~0: any value passes. */
		if (s->ctl)
			c = ld_cmd_wait(s->ctl_va + 8 * (CTL_RELEASE + rn(8)),
					pct(50) ? rnd() : rn(4));
		break;
	case 6:
		if (w >= 0)
			c = ld_cmd_timestamp(s_addr(&s->map[w], 8, 8));
		break;
	case 7:
		if (w >= 0 && s->ctl)	/* read the control BO */
			c = ld_cmd_copy(s_addr(&s->map[w], 64, 8), s->ctl_va, 64);
		break;
#if LF_DRV_LAST > DRM_LUMEN_WAIT
	case 8:
	case 9:
		if (s->links && s->nwin)
			c = s_remote(s);
		break;
#endif
	}
	if (pct(30))
		c.flags = LUMEN_CMD_F_BARRIER;
	if (pct(50))
		c.tag = (uint32_t)rnd();
	return c;
}

static void s_mutate_cmd(struct s_state *s, struct lumen_cmd *c)
{
	static const struct fdesc head[] = {
		FLD(struct lumen_cmd, opcode, K_TYPE),
		FLD(struct lumen_cmd, flags, K_FLAGS),
		FLD(struct lumen_cmd, reserved0, K_RSVD),
	};
	static const struct fdesc copy[] = {
		FLD(struct lumen_cmd, u.copy.src, K_VA),
		FLD(struct lumen_cmd, u.copy.dst, K_VA),
		FLD(struct lumen_cmd, u.copy.size, K_SIZE),
		FLD(struct lumen_cmd, u.copy.reserved[0], K_RSVD),
		FLD(struct lumen_cmd, u.copy.reserved[3], K_RSVD),
	};
	static const struct fdesc fill[] = {
		FLD(struct lumen_cmd, u.fill.dst, K_VA),
		FLD(struct lumen_cmd, u.fill.size, K_SIZE),
		FLD(struct lumen_cmd, u.fill.reserved[0], K_RSVD),
		FLD(struct lumen_cmd, u.fill.reserved[2], K_RSVD),
	};
	static const struct fdesc fence[] = {
		FLD(struct lumen_cmd, u.fence.addr, K_VA),
		FLD(struct lumen_cmd, u.fence.value, K_VAL),
		FLD(struct lumen_cmd, u.fence.reserved[0], K_RSVD),
		FLD(struct lumen_cmd, u.fence.reserved[4], K_RSVD),
	};
	static const struct fdesc nop[] = {
		FLD(struct lumen_cmd, u.raw[0], K_RSVD),
		FLD(struct lumen_cmd, u.raw[3], K_RSVD),
		FLD(struct lumen_cmd, u.raw[6], K_RSVD),
	};
#if LF_DRV_LAST > DRM_LUMEN_WAIT
	static const struct fdesc remote[] = {
		FLD(struct lumen_cmd, u.remote.local, K_VA),
		FLD(struct lumen_cmd, u.remote.offset, K_OFF),
		FLD(struct lumen_cmd, u.remote.size, K_SIZE),
		FLD(struct lumen_cmd, u.remote.dst_chip, K_VAL),
		FLD(struct lumen_cmd, u.remote.window, K_VAL),
		FLD(struct lumen_cmd, u.remote.key, K_VAL),
		FLD(struct lumen_cmd, u.remote.reserved[0], K_RSVD),
		FLD(struct lumen_cmd, u.remote.reserved[1], K_RSVD),
	};
	static const struct fdesc ratomic[] = {
		FLD(struct lumen_cmd, u.ratomic.result, K_VA),
		FLD(struct lumen_cmd, u.ratomic.offset, K_OFF),
		FLD(struct lumen_cmd, u.ratomic.operand, K_VAL),
		FLD(struct lumen_cmd, u.ratomic.dst_chip, K_VAL),
		FLD(struct lumen_cmd, u.ratomic.window, K_VAL),
		FLD(struct lumen_cmd, u.ratomic.key, K_VAL),
		FLD(struct lumen_cmd, u.ratomic.op, K_TYPE),
		FLD(struct lumen_cmd, u.ratomic.reserved0, K_RSVD),
		FLD(struct lumen_cmd, u.ratomic.reserved, K_RSVD),
	};
#endif
#if LF_REDUCE
	static const struct fdesc reduce[] = {
		FLD(struct lumen_cmd, u.reduce.src, K_VA),
		FLD(struct lumen_cmd, u.reduce.dst, K_VA),
		FLD(struct lumen_cmd, u.reduce.size, K_SIZE),
		FLD(struct lumen_cmd, u.reduce.dtype, K_TYPE),
		FLD(struct lumen_cmd, u.reduce.op, K_TYPE),
		FLD(struct lumen_cmd, u.reduce.reserved[0], K_RSVD),
		FLD(struct lumen_cmd, u.reduce.reserved[2], K_RSVD),
	};
	static const struct fdesc rreduce[] = {
		FLD(struct lumen_cmd, u.rreduce.local, K_VA),
		FLD(struct lumen_cmd, u.rreduce.offset, K_OFF),
		FLD(struct lumen_cmd, u.rreduce.size, K_SIZE),
		FLD(struct lumen_cmd, u.rreduce.dst_chip, K_VAL),
		FLD(struct lumen_cmd, u.rreduce.window, K_VAL),
		FLD(struct lumen_cmd, u.rreduce.key, K_VAL),
		FLD(struct lumen_cmd, u.rreduce.dtype, K_TYPE),
		FLD(struct lumen_cmd, u.rreduce.op, K_TYPE),
		FLD(struct lumen_cmd, u.rreduce.reserved, K_RSVD),
	};
#endif

	if (pct(25)) {
		MUTATE(s, *c, head);
		return;
	}
	switch (c->opcode) {
	case LUMEN_CMD_COPY:
		MUTATE(s, *c, copy);
		break;
	case LUMEN_CMD_FILL:
		MUTATE(s, *c, fill);
		break;
	case LUMEN_CMD_NOP:
		MUTATE(s, *c, nop);
		break;
#if LF_DRV_LAST > DRM_LUMEN_WAIT
	case LUMEN_CMD_RWRITE:
	case LUMEN_CMD_RREAD:
		MUTATE(s, *c, remote);
		break;
	case LUMEN_CMD_RATOMIC:
		MUTATE(s, *c, ratomic);
		break;
#endif
#if LF_REDUCE
	case DRM_LUMEN_CMD_REDUCE:
		MUTATE(s, *c, reduce);
		break;
	case DRM_LUMEN_CMD_RREDUCE:
		MUTATE(s, *c, rreduce);
		break;
#endif
	case LUMEN_CMD_WAIT:
		/* The value is not interesting on a ~0 word: the address is. */
		c->u.fence.addr = lumen_cpu_to_le64(kind_value(s, &fence[0], c->u.fence.addr));
		break;
	default:
		MUTATE(s, *c, fence);
		break;
	}
}

/* Sync entries: n valid ones, the rest of the array copies of the first. */
static uint32_t s_syncs(struct s_state *s, struct drm_lumen_sync *a, int in)
{
	uint32_t n = 0, want = (uint32_t)(pct(60) ? 0 : 1 + rn(2));

	/* Debugging aid: LUMEN_FUZZ_OPS=...,nosyncs submits without syncobjs. */
	if (getenv("LUMEN_FUZZ_OPS") && strstr(getenv("LUMEN_FUZZ_OPS"), "nosyncs"))
		want = 0;

	for (uint32_t k = 0; k < want && s->nsy; k++) {
		struct s_sync *y = &s->sy[rn(s->nsy)];

		if (in && !y->fenced)
			continue;
		a[n].handle = y->h;
		a[n].flags = 0;
		a[n].point = in ? (y->point ? 1 + rn(y->point) : 0) : (y->point ? y->point + 1 : 0);
		n++;
	}
	for (uint32_t k = n; k < DRM_LUMEN_MAX_SYNCS; k++)
		a[k] = n ? a[0] : (struct drm_lumen_sync){ .handle = s->nsy ? s->sy[0].h : 0 };
	return n;
}

static void s_after_outs(struct s_state *s, const struct drm_lumen_sync *o, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++)
		for (int i = 0; i < s->nsy; i++)
			if (s->sy[i].h == o[k].handle) {
				s->sy[i].fenced = 1;
				if (o[k].point > s->sy[i].point)
					s->sy[i].point = o[k].point;
			}
}

#if LF_UAPI_1_1
/* SUBMIT extensions in the arena (the kernel only reads them): one
 * priority extension, sometimes more (a repeated name, or a chain past
 * DRM_LUMEN_MAX_EXTENSIONS). */
#define EXT_ZONE	(CMD_ZONE + 1024)

static uint64_t s_ext_chain(void)
{
	struct drm_lumen_submit_ext_priority *e =
		(struct drm_lumen_submit_ext_priority *)(M.arena + EXT_ZONE);
	unsigned int n = pct(90) ? 1 : 2 + (unsigned int)rn(DRM_LUMEN_MAX_EXTENSIONS + 2);

	for (unsigned int i = 0; i < n; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].base.name = DRM_LUMEN_SUBMIT_EXT_PRIORITY;
		e[i].base.next = i + 1 < n ? (uintptr_t)&e[i + 1] : 0;
		e[i].priority = (uint32_t)rn(3);
	}
	return (uintptr_t)e;
}

static void s_mutate_ext(struct s_state *s, struct drm_lumen_submit_ext_priority *e)
{
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_submit_ext_priority, base.name, K_TYPE),
		FLD(struct drm_lumen_submit_ext_priority, base.flags, K_FLAGS),
		FLDN(struct drm_lumen_submit_ext_priority, base.next, K_PTR, 24),
		FLD(struct drm_lumen_submit_ext_priority, priority, K_TYPE),
		FLD(struct drm_lumen_submit_ext_priority, pad, K_RSVD),
	};

	if (pct(15))
		e->base.next = (uintptr_t)e;	/* a loop */
	else
		MUTATE(s, *e, f);
}
#endif

static void s_submit(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_submit, queue_id, K_QUEUE),
		FLDN(struct drm_lumen_submit, num_cmds, K_COUNT, DRM_LUMEN_MAX_CMDS),
		FLDN(struct drm_lumen_submit, cmds, K_PTR, 64),
		FLDN(struct drm_lumen_submit, bo_handles, K_PTR, 4),
		FLDN(struct drm_lumen_submit, num_bos, K_COUNT, DRM_LUMEN_MAX_BOS),
		FLDN(struct drm_lumen_submit, num_in_syncs, K_COUNT, DRM_LUMEN_MAX_SYNCS),
		FLDN(struct drm_lumen_submit, in_syncs, K_PTR, 16),
		FLDN(struct drm_lumen_submit, num_out_syncs, K_COUNT, DRM_LUMEN_MAX_SYNCS),
		FLD(struct drm_lumen_submit, flags, K_FLAGS),
		FLDN(struct drm_lumen_submit, out_syncs, K_PTR, 16),
		FLD(struct drm_lumen_submit, seqno, K_VAL),
		/* The last u64: reserved in uAPI 1.0, the extension chain from 1.1. */
		{ offsetof(struct drm_lumen_submit, seqno) + 8, 8, K_PTR, 16 },
	};
	static const struct fdesc sf[] = {
		FLD(struct drm_lumen_sync, handle, K_HANDLE),
		FLD(struct drm_lumen_sync, flags, K_RSVD),
		FLD(struct drm_lumen_sync, point, K_POINT),
	};
	struct drm_lumen_submit a;
	uint32_t n, nb = 0, nin, nout;
	int qi, mutated = 1, ret;
	unsigned int how = (unsigned int)rn(100);

	if (!s->nq)
		return;
	if (s->nmap < 2)
		s_new_map(s);
	qi = (int)rn(s->nq);
	n = (uint32_t)(pct(95) ? 1 + rn(6) : 16 + rn(48));
	for (uint32_t i = 0; i < n; i++)
		s->cmds[i] = s_cmd(s);
	/* The BOs behind the mappings (those still open) and the control BO. */
	for (int i = 0; i < s->nmap && nb < 8; i++)
		if (s_find_bo(s, s->map[i].h) >= 0 && pct(70))
			s->bos[nb++] = s->map[i].h;
	if (s->ctl_h && pct(50))
		s->bos[nb++] = s->ctl_h;
	nin = s_syncs(s, s->ins, 1);
	nout = s_syncs(s, s->outs, 0);
	/* Keep every handle slot behind the list valid too. */
	for (uint32_t i = nb; i < nb + 8 && i < DRM_LUMEN_MAX_BOS; i++)
		s->bos[i] = nb ? s->bos[0] : s->ctl_h;
	if (s->ctl)		/* what a mutated COPY may have overwritten */
		for (int i = 0; i < 8; i++)
			s->ctl[CTL_RELEASE + i] = ~0ull;

	memset(&a, 0, sizeof(a));
#if LF_UAPI_1_1
	if (pct(15))
		a.extensions = s_ext_chain();
#endif
	a.queue_id = s->q[qi];
	a.num_cmds = n;
	a.cmds = (uintptr_t)s->cmds;
	a.bo_handles = (uintptr_t)s->bos;
	a.num_bos = nb;
	a.num_in_syncs = nin;
	a.in_syncs = (uintptr_t)s->ins;
	a.num_out_syncs = nout;
	a.out_syncs = (uintptr_t)s->outs;
	if (how < 30) {	/* the submit's own fields: mostly caught by its checks */
		MUTATE(s, a, f);
		if (a.cmds != (uintptr_t)s->cmds && pct(30)) {
			void *ro = ro_copy(s->cmds, n * sizeof(struct lumen_cmd));

			if (ro)	/* valid, read-only */
				a.cmds = (uintptr_t)ro;
		}
	} else if (how < 42) {	/* one command: often a fault, a ban, a reopen */
		s_mutate_cmd(s, &s->cmds[rn(n)]);
#if LF_UAPI_1_1
	} else if (how < 50 && a.extensions) {
		s_mutate_ext(s, (struct drm_lumen_submit_ext_priority *)(uintptr_t)a.extensions);
#endif
	} else if (how < 58 && (nin || nout)) {
		if (nin && (!nout || pct(50)))
			MUTATE(s, s->ins[rn(nin)], sf);
		else
			MUTATE(s, s->outs[rn(nout)], sf);
	} else {
		mutated = 0;
	}
	ret = fz_ioctl(OP_SUBMIT, s->fd, DRM_IOCTL_LUMEN_SUBMIT, &a);
	memset(s->cmds, 0, n * sizeof(struct lumen_cmd));	/* NOPs again */
	if (ret == -ECANCELED) {
		S->bans++;
		s_banned(s, "SUBMIT", ret);
		return;
	}
	if (ret == -ENODEV)
		s->need_reopen = 1;
	if (ret)
		return;
	S->jobs++;
	s->inflight = 1;
	if (mutated)
		s->tainted = 1;
	qi = s_find_q(s, a.queue_id);
	if (qi >= 0)
		s->qseq[qi] = a.seqno;
	if (!mutated)
		s_after_outs(s, s->outs, nout);
	if (qi >= 0 && pct(15)) {
		int32_t st = 0;

		if (!x_wait(s->fd, a.queue_id, a.seqno, WAIT_MAX_NS, &st) && st)
			s_job_status(s, "job failed", st);
	}
}

/* A job that hangs on a control word: released from the CPU, or (at most
 * HANG_BUDGET times per slot) left to the driver's job timeout. */
static void s_hang(struct s_state *s)
{
	struct lumen_cmd c;
	struct drm_lumen_submit a = { .num_cmds = 1, .cmds = (uintptr_t)&c };
	unsigned int w;
	int32_t st = 0;
	int timeout, ret;

	if (!s->ctl || !s->nq || s->hang_next >= 8 || !pct(25))
		return;
	w = CTL_HANG + s->hang_next++;
	c = ld_cmd_wait(s->ctl_va + 8 * w, 1);
	a.queue_id = s->q[0];
	timeout = S->hangs < HANG_BUDGET && pct(30);
	ret = fz_ioctl(OP_SUBMIT, s->fd, DRM_IOCTL_LUMEN_SUBMIT, &a);
	if (ret) {
		if (ret == -ECANCELED || ret == -ENODEV)
			s->need_reopen = 1;
		return;
	}
	S->jobs++;
	s->inflight = 1;
	s->qseq[0] = a.seqno;
	if (timeout) {
		/* Its queue is stuck until the job timeout: start afresh (the
		 * close waits for the timeout handler or cancels the job). */
		S->hangs++;
		s->tainted = 1;
		s->need_reopen = 1;
		return;
	}
	usleep((useconds_t)rn(50000));
	s->ctl[w] = 1;
	if (!x_wait(s->fd, a.queue_id, a.seqno, WAIT_MAX_NS, &st) && st)
		s_job_status(s, "released job failed", st);
}

static void s_wait(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_wait, queue_id, K_QUEUE),
		FLD(struct drm_lumen_wait, flags, K_FLAGS),
		FLD(struct drm_lumen_wait, seqno, K_SEQ),
		FLD(struct drm_lumen_wait, timeout_ns, K_TMO),
		FLD(struct drm_lumen_wait, status, K_VAL),
		FLD(struct drm_lumen_wait, reserved, K_RSVD),
	};
	struct drm_lumen_wait a = { 0 };
	int qi, mut = pct(60), ret;

	if (!s->nq)
		return;
	qi = (int)rn(s->nq);
	a.queue_id = s->q[qi];
	a.seqno = s->qseq[qi] ? s->qseq[qi] - rn(MIN(s->qseq[qi], 4ull)) : 1;
	a.timeout_ns = pct(50) ? 0 : wait_tmo(rn(WAIT_MAX_NS / 2));
	a.status = 0x7eadbeef;
	if (mut)
		MUTATE(s, a, f);
	ret = fz_ioctl(OP_WAIT, s->fd, DRM_IOCTL_LUMEN_WAIT, &a);
	if (!ret && !mut && a.status)
		s_job_status(s, "waited job failed", a.status);
}

/* Wait for the last job of every queue; with all done nothing runs. */
static void s_drain(struct s_state *s)
{
	int busy = 0;

	for (int i = 0; i < s->nq; i++) {
		int32_t st = 0;

		if (!s->qseq[i])
			continue;
		if (x_wait(s->fd, s->q[i], s->qseq[i], WAIT_MAX_NS, &st))
			busy = 1;
		else if (st)
			s_job_status(s, "drained job failed", st);
	}
	if (!busy && s_uq_idle(s))
		s->inflight = 0;
}

/* ---- structure-aware mode: the link engine (uAPI 1.2) ------------------------ */

#if LF_DRV_LAST > DRM_LUMEN_WAIT
/* Without CAPS.LINKS the gate refuses every link ioctl, whatever it holds. */
static void s_no_links(const char *what, int ret)
{
	if (ret != -EOPNOTSUPP)
		child_fail("%s without CAPS.LINKS: %d (%s), want -EOPNOTSUPP", what, ret,
			   strerror(-ret));
}

static int s_find_win(struct s_state *s, uint32_t id)
{
	for (int i = 0; i < s->nwin; i++)
		if (s->win[i].id == id)
			return i;
	return -1;
}

static void s_forget_win(struct s_state *s, int i)
{
	s->stale_win[s->nstale_win++ % ARRAY_LEN(s->stale_win)] = s->win[i].id;
	s->win[i] = s->win[--s->nwin];
}

static void s_window_open(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_window_open, va, K_VA),
		FLD(struct drm_lumen_window_open, size, K_SIZE),
		FLD(struct drm_lumen_window_open, flags, K_FLAGS),
		FLD(struct drm_lumen_window_open, window, K_VAL),
		FLD(struct drm_lumen_window_open, key, K_VAL),
		FLD(struct drm_lumen_window_open, reserved, K_RSVD),
	};
	struct drm_lumen_window_open a = { .flags = DRM_LUMEN_WINDOW_READ };
	int unmapped = 0, ret;

	if (s->nmap) {
		const struct s_map *m = &s->map[rn(s->nmap)];
		uint64_t pages = m->size / PAGE, first = rn(pages);

		a.va = m->va + first * PAGE;
		a.size = (1 + rn(pages - first)) * PAGE;
		if (m->writable)
			a.flags |= (uint32_t)rn(4) << 1;	/* WRITE, ATOMIC */
		if (a.flags != DRM_LUMEN_WINDOW_READ && pct(40))
			a.flags &= ~DRM_LUMEN_WINDOW_READ;
	}
	if (!s->nmap || pct(8)) {
		/* Over a range nothing maps. */
		a.va = s_va_alloc(s, PAGE);
		a.size = PAGE * (1 + rn(4));
		unmapped = 1;
	} else if (pct(35)) {
		MUTATE(s, a, f);
	}
	ret = fz_ioctl(OP_WINDOW_OPEN, s->fd, DRM_IOCTL_LUMEN_WINDOW_OPEN, &a);
	if (!s->links) {
		s_no_links("WINDOW_OPEN", ret);
		return;
	}
	if (unmapped && ret != -EFAULT && ret != -ENODEV)
		child_fail("WINDOW_OPEN over unmapped 0x%llx+0x%llx: %d, want -EFAULT",
			   (unsigned long long)a.va, (unsigned long long)a.size, ret);
	if (ret == -ENODEV)
		s->need_reopen = 1;
	if (ret)
		return;
	if (s->nwin < S_MAX_WIN) {
		s->win[s->nwin++] = (struct s_win){
			.id = a.window, .flags = a.flags, .key = a.key, .va = a.va, .size = a.size,
		};
	} else {
		struct drm_lumen_window_close c = { .window = a.window };

		fz_ioctl(OP_WINDOW_CLOSE, s->fd, DRM_IOCTL_LUMEN_WINDOW_CLOSE, &c);
	}
}

/* A well-formed UNMAP of a mapping under an open window: must be -EBUSY. */
static void s_unmap_under(struct s_state *s, const struct s_win *w)
{
	for (int i = 0; i < s->nmap; i++) {
		const struct s_map *m = &s->map[i];
		struct drm_lumen_vm_bind a = {
			.op = DRM_LUMEN_VM_UNMAP, .va = m->va, .size = m->size,
		};
		int ret;

		if (m->va >= w->va + w->size || w->va >= m->va + m->size)
			continue;
		ret = fz_ioctl(OP_VM_BIND, s->fd, DRM_IOCTL_LUMEN_VM_BIND, &a);
		if (!ret)
			child_fail("UNMAP of 0x%llx+0x%llx under open window %u succeeded",
				   (unsigned long long)m->va, (unsigned long long)m->size, w->id);
		if (ret == -ENODEV)
			s->need_reopen = 1;
		return;
	}
}

static void s_window_close(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_window_close, window, K_VAL),
		FLD(struct drm_lumen_window_close, reserved, K_RSVD),
	};
	struct drm_lumen_window_close a = { .window = (uint32_t)rn(LUMEN_NUM_WINDOWS + 4) };
	int wi = -1, twice = 0, ret;

	if (s->nwin && pct(75)) {
		wi = (int)rn(s->nwin);
		a.window = s->win[wi].id;
		if (pct(30))
			s_unmap_under(s, &s->win[wi]);
	} else if (s->nstale_win && pct(70)) {
		a.window = s->stale_win[rn(MIN(s->nstale_win, ARRAY_LEN(s->stale_win)))];
		twice = s_find_win(s, a.window) < 0;	/* closed, not reopened by us */
	}
	if (pct(20)) {
		MUTATE(s, a, f);
		twice = 0;
	}
	ret = fz_ioctl(OP_WINDOW_CLOSE, s->fd, DRM_IOCTL_LUMEN_WINDOW_CLOSE, &a);
	if (!s->links) {
		s_no_links("WINDOW_CLOSE", ret);
		return;
	}
	if (twice && ret != -ENOENT && ret != -ENODEV)
		child_fail("closing window %u twice: %d, want -ENOENT", a.window, ret);
	if (ret == -ENODEV)
		s->need_reopen = 1;
	if (!ret && (wi = s_find_win(s, a.window)) >= 0)
		s_forget_win(s, wi);
}

static int s_route_ioctl(struct s_state *s, uint32_t op, uint32_t first, uint32_t count,
			 uint32_t *words)
{
	struct drm_lumen_route a = {
		.op = op, .first = first, .count = count, .words = (uintptr_t)words,
	};

	return fz_ioctl(OP_ROUTE, s->fd, DRM_IOCTL_LUMEN_ROUTE, &a);
}

/*
 * GET a block; SET it back unchanged; a SET with a reserved bit in one word
 * must change nothing (-EINVAL, the block reads the same); or a mutated
 * call (which may change routes: the parent restores them at the end).
 */
static void s_route(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_route, op, K_TYPE),
		FLDN(struct drm_lumen_route, first, K_COUNT, DRM_LUMEN_MAX_CHIPS),
		FLDN(struct drm_lumen_route, count, K_COUNT, DRM_LUMEN_MAX_CHIPS),
		FLD(struct drm_lumen_route, reserved, K_RSVD),
		FLDN(struct drm_lumen_route, words, K_PTR, 256),
	};
	/* At the end of the arena: a count past 64 runs into the guard page. */
	uint32_t *words = (uint32_t *)(M.arena + ARENA_LEN - 256), again[64];
	uint32_t n = (uint32_t)(1 + rn(64)), first = (uint32_t)rn(DRM_LUMEN_MAX_CHIPS - n + 1), bit;
	struct drm_lumen_route a;
	int ret, i;

	if (pct(25)) {
		a = (struct drm_lumen_route){
			.op = (uint32_t)rn(2), .first = first, .count = n, .words = (uintptr_t)words,
		};
		MUTATE(s, a, f);
		ret = fz_ioctl(OP_ROUTE, s->fd, DRM_IOCTL_LUMEN_ROUTE, &a);
		if (!s->links)
			s_no_links("ROUTE", ret);
		return;
	}
	ret = s_route_ioctl(s, DRM_LUMEN_ROUTE_GET, first, n, words);
	if (!s->links) {
		s_no_links("ROUTE", ret);
		return;
	}
	if (ret)
		return;
	if (pct(50)) {
		s_route_ioctl(s, DRM_LUMEN_ROUTE_SET, first, n, words);
		return;
	}
	i = (int)rn(n);
	bit = 1u << (10 + rn(21));	/* a reserved bit */
	words[i] ^= bit;
	ret = s_route_ioctl(s, DRM_LUMEN_ROUTE_SET, first, n, words);
	words[i] ^= bit;
	if (ret != -EINVAL && ret != -ENODEV)
		child_fail("ROUTE SET with reserved bits in word %d: %d, want -EINVAL", i, ret);
	/* Unless another slot changed them meanwhile, nothing changed. */
	if (ret == -EINVAL && !s_route_ioctl(s, DRM_LUMEN_ROUTE_GET, first, n, again) &&
	    g_nslots == 1) {
		for (uint32_t k = 0; k < n; k++)
			if (again[k] != words[k])
				child_fail("a refused ROUTE SET changed chip %u's route", first + k);
	}
}

static void s_port_ctrl(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_port_ctrl, port, K_VAL),
		FLD(struct drm_lumen_port_ctrl, set, K_TYPE),
		FLD(struct drm_lumen_port_ctrl, ctrl, K_FLAGS),
		FLD(struct drm_lumen_port_ctrl, reserved, K_RSVD),
	};
	struct drm_lumen_port_ctrl a = { .port = (uint32_t)rn(s->nports ? s->nports : 8) };
	int ret;

	ret = fz_ioctl(OP_PORT_CTRL, s->fd, DRM_IOCTL_LUMEN_PORT_CTRL, &a);
	if (!s->links) {
		s_no_links("PORT_CTRL", ret);
		return;
	}
	if (ret)
		return;
	/* Set what it is (no change), or mutated (restored at the end). */
	a.set = 1;
	if (pct(40))
		MUTATE(s, a, f);
	fz_ioctl(OP_PORT_CTRL, s->fd, DRM_IOCTL_LUMEN_PORT_CTRL, &a);
}

/* MGMT_SEND of a GET (a SET a mutation makes is spoiled) or MGMT_RECV. */
static void s_mgmt(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLDN(struct drm_lumen_mgmt, data, K_PTR, DRM_LUMEN_MGMT_MAX),
		FLDN(struct drm_lumen_mgmt, size, K_COUNT, DRM_LUMEN_MGMT_MAX),
		FLD(struct drm_lumen_mgmt, flags, K_FLAGS),
		FLD(struct drm_lumen_mgmt, timeout_ns, K_ATMO),
		FLD(struct drm_lumen_mgmt, reserved, K_RSVD),
	};
	static const struct fdesc pf[] = {
		FLD(struct lumen_mgmt, version, K_VAL),
		FLD(struct lumen_mgmt, method, K_TYPE),
		FLD(struct lumen_mgmt, attr, K_TYPE),
		FLD(struct lumen_mgmt, flags, K_FLAGS),
		FLD(struct lumen_mgmt, status, K_RSVD),
		FLDN(struct lumen_mgmt, hop_count, K_COUNT, LUMEN_MGMT_MAX_HOPS),
		FLD(struct lumen_mgmt, hop_ptr, K_RSVD),
		FLDN(struct lumen_mgmt, data_len, K_COUNT, LUMEN_MGMT_DATA_MAX),
		FLD(struct lumen_mgmt, reserved0, K_RSVD),
		FLD(struct lumen_mgmt, attr_mod, K_VAL),
		FLD(struct lumen_mgmt, reserved, K_RSVD),
		FLD(struct lumen_mgmt, path[0], K_VAL),
	};
	/* The packet sits in the arena (the kernel only reads it). */
	struct lumen_mgmt *m = (struct lumen_mgmt *)(M.arena + CMD_ZONE + 2048);
	struct drm_lumen_mgmt a;
	int ret;

	if (pct(50)) {
		memset(m, 0, sizeof(*m));
		m->version = LUMEN_MGMT_VERSION;
		m->method = LUMEN_MGMT_GET;
		m->attr = (uint8_t)(LUMEN_MGMT_ATTR_INFO + rn(LUMEN_MGMT_ATTR_TRAP_PATH));
		m->tid = rnd();
		if (m->attr == LUMEN_MGMT_ATTR_PORT)
			m->attr_mod = (uint32_t)rn(s->nports + 1);
		else if (m->attr == LUMEN_MGMT_ATTR_ROUTES)
			m->attr_mod = LUMEN_MGMT_ROUTES_PER_BLOCK * (uint32_t)rn(130);
		if (pct(25)) {
			m->hop_count = 1;
			m->path[0] = (uint8_t)rn(s->nports + 1);
		}
		a = (struct drm_lumen_mgmt){ .data = (uintptr_t)m, .size = LUMEN_MGMT_HDR_SIZE };
		if (pct(20))
			MUTATE(s, a, f);
		else if (pct(25))
			MUTATE(s, *m, pf);
		/* Never program the fabric: a SET goes with a version the card refuses. */
		if (m->method == LUMEN_MGMT_SET)
			m->version = 0;
		ret = fz_ioctl(OP_MGMT_SEND, s->fd, DRM_IOCTL_LUMEN_MGMT_SEND, &a);
		if (!s->links)
			s_no_links("MGMT_SEND", ret);
		return;
	}
	a = (struct drm_lumen_mgmt){
		.data = (uintptr_t)M.arena + ARENA_LEN - DRM_LUMEN_MGMT_MAX,
		.size = DRM_LUMEN_MGMT_MAX,
		.timeout_ns = pct(60) ? 0 : wait_tmo(rn(WAIT_MAX_NS / 2)),
	};
	if (pct(30))
		MUTATE(s, a, f);
	ret = fz_ioctl(OP_MGMT_RECV, s->fd, DRM_IOCTL_LUMEN_MGMT_RECV, &a);
	if (!s->links)
		s_no_links("MGMT_RECV", ret);
}

static void s_link(struct s_state *s)
{
	switch (rn(10)) {
	case 0:
	case 1:
		s_route(s);
		break;
	case 2:
		s_port_ctrl(s);
		break;
	case 3:
	case 4:
	case 5:
		s_mgmt(s);
		break;
	default: {
		struct drm_lumen_link_info li;
		struct drm_lumen_query q = {
			.type = DRM_LUMEN_QUERY_LINK, .size = sizeof(li), .data = (uintptr_t)&li,
		};
		int ret = fz_ioctl(OP_QUERY, s->fd, DRM_IOCTL_LUMEN_QUERY, &q);

		if (!s->links)
			s_no_links("QUERY_LINK", ret);
		else if (!ret && li.chip_id != s->chip)
			child_fail("QUERY_LINK chip id %u, was %u", li.chip_id, s->chip);
		break;
	}
	}
}
#else
static void s_window_open(struct s_state *s)
{
	(void)s;
}

static void s_window_close(struct s_state *s)
{
	(void)s;
}

static void s_link(struct s_state *s)
{
	(void)s;
}
#endif

/* ---- structure-aware mode: PRIME, syncobjs, core, mmap ------------------------ */

static void s_prime(struct s_state *s)
{
	static const struct fdesc ef[] = {
		FLD(struct drm_prime_handle, handle, K_HANDLE),
		FLD(struct drm_prime_handle, flags, K_FLAGS),
		FLD(struct drm_prime_handle, fd, K_FD),
	};
	static const struct fdesc imf[] = {
		FLD(struct drm_prime_handle, handle, K_VAL),
		FLD(struct drm_prime_handle, flags, K_FLAGS),
		FLD(struct drm_prime_handle, fd, K_FD),
	};
	struct drm_prime_handle a = { 0 };

	if (!s->nprime || pct(50)) {
		a.handle = s_some_bo(s);
		a.flags = DRM_CLOEXEC | (pct(70) ? DRM_RDWR : 0);
		a.fd = -1;
		if (pct(50))
			MUTATE(s, a, ef);
		if (fz_ioctl(OP_PRIME, s->fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &a) || a.fd < 0)
			return;
		if (s->nprime == S_MAX_PRIME) {
			close(s->prime[0]);
			s->prime[0] = s->prime[--s->nprime];
		}
		s->prime[s->nprime++] = a.fd;
		known_add_fd(a.fd);
		if (pct(30) && !g_avoid_dmabuf_mmap) {	/* the dma-buf's own mmap */
			uint64_t len = PAGE * (1 + rn(4));
			uint8_t *p = do_mmap(a.fd, pct(80) ? 0 : PAGE * rn(4), len,
					     pct(80) ? PROT_READ | PROT_WRITE : (int)rn(8),
					     pct(90) ? MAP_SHARED : MAP_PRIVATE, pct(50));

			if (p)
				touch_pipe(p + 8 * rn(len / 8 - 8), 8, pct(50));
		}
		return;
	}
	a.fd = s->prime[rn(s->nprime)];
	if (pct(50))
		MUTATE(s, a, imf);
	{
		int target = pct(60) ? s->fd2 : s->fd;

		if (fz_ioctl(OP_PRIME, target, DRM_IOCTL_PRIME_FD_TO_HANDLE, &a))
			return;
		if (target == s->fd2) {
			/* fd2 now holds one of our BOs: a handle other files may try. */
			if (pct(50))
				x_gem_close(s->fd2, a.handle);
			else
				s->fd2_handle = a.handle;
		} else if (s_find_bo(s, a.handle) < 0 && a.handle != s->ctl_h) {
			x_gem_close(s->fd, a.handle);	/* not one of ours: drop it */
		}
	}
}

static int s_find_sync(struct s_state *s, uint32_t h)
{
	for (int i = 0; i < s->nsy; i++)
		if (s->sy[i].h == h)
			return i;
	return -1;
}

static void s_sync_adopt(struct s_state *s, uint32_t h, int fenced)
{
	struct drm_syncobj_destroy d = { .handle = h };

	if (s->nsy < S_MAX_SYNC && s_find_sync(s, h) < 0)
		s->sy[s->nsy++] = (struct s_sync){ .h = h, .fenced = fenced };
	else if (s_find_sync(s, h) < 0)
		fz_ioctl(OP_SYNCOBJ, s->fd, DRM_IOCTL_SYNCOBJ_DESTROY, &d);
}

static void s_syncobj(struct s_state *s)
{
	/* Arrays the kernel reads in the arena; QUERY's points it writes end
	 * at the guard page. */
	uint32_t *ha = (uint32_t *)(M.arena + CMD_ZONE);
	uint64_t *pa = (uint64_t *)(M.arena + CMD_ZONE + 256);
	uint64_t *qa = (uint64_t *)(M.arena + ARENA_LEN - 8 * DRM_LUMEN_MAX_SYNCS);
	uint32_t n = 0;
	int mut = pct(65), ret;

	if (!s->nsy)
		s_sync_adopt(s, x_syncobj(s->fd, 1), 1);
	for (uint32_t k = 0; k < 1 + rn(MIN(s->nsy, 4)); k++) {
		ha[n] = s->sy[rn(s->nsy)].h;
		pa[n++] = rn(4);
	}
	switch (rn(12)) {
	case 0: {
		static const struct fdesc f[] = {
			FLD(struct drm_syncobj_create, handle, K_VAL),
			FLD(struct drm_syncobj_create, flags, K_FLAGS),
		};
		struct drm_syncobj_create a = { .flags = pct(50) ? DRM_SYNCOBJ_CREATE_SIGNALED : 0 };

		if (mut)
			MUTATE(s, a, f);
		if (!fz_ioctl(OP_SYNCOBJ, s->fd, DRM_IOCTL_SYNCOBJ_CREATE, &a))
			s_sync_adopt(s, a.handle, a.flags & DRM_SYNCOBJ_CREATE_SIGNALED);
		break;
	}
	case 1: {
		static const struct fdesc f[] = {
			FLD(struct drm_syncobj_destroy, handle, K_HANDLE),
			FLD(struct drm_syncobj_destroy, pad, K_RSVD),
		};
		struct drm_syncobj_destroy a = { .handle = ha[0] };
		int i;

		if (mut || s->nsy < 3)
			MUTATE(s, a, f);
		if (fz_ioctl(OP_SYNCOBJ, s->fd, DRM_IOCTL_SYNCOBJ_DESTROY, &a))
			break;
		i = s_find_sync(s, a.handle);
		if (i >= 0) {
			s->stale_sync[s->nstale_sync++ % ARRAY_LEN(s->stale_sync)] = a.handle;
			s->sy[i] = s->sy[--s->nsy];
		}
		break;
	}
	case 2: {
		static const struct fdesc f[] = {
			FLDN(struct drm_syncobj_wait, handles, K_PTR, 4),
			FLD(struct drm_syncobj_wait, timeout_nsec, K_ATMO),
			FLDN(struct drm_syncobj_wait, count_handles, K_COUNT, 64),
			FLD(struct drm_syncobj_wait, flags, K_FLAGS),
			FLD(struct drm_syncobj_wait, first_signaled, K_VAL),
			FLD(struct drm_syncobj_wait, pad, K_RSVD),
		};
		struct drm_syncobj_wait a = {
			.handles = (uintptr_t)ha, .timeout_nsec = ld_deadline(rn(20000000)),
			.count_handles = n, .flags = (uint32_t)rn(8),
		};

		if (mut)
			MUTATE(s, a, f);
		fz_ioctl(OP_SYNCOBJ, s->fd, DRM_IOCTL_SYNCOBJ_WAIT, &a);
		break;
	}
	case 3: {
		static const struct fdesc f[] = {
			FLDN(struct drm_syncobj_timeline_wait, handles, K_PTR, 4),
			FLDN(struct drm_syncobj_timeline_wait, points, K_PTR, 8),
			FLD(struct drm_syncobj_timeline_wait, timeout_nsec, K_ATMO),
			FLDN(struct drm_syncobj_timeline_wait, count_handles, K_COUNT, 64),
			FLD(struct drm_syncobj_timeline_wait, flags, K_FLAGS),
			FLD(struct drm_syncobj_timeline_wait, first_signaled, K_VAL),
			FLD(struct drm_syncobj_timeline_wait, pad, K_RSVD),
		};
		struct drm_syncobj_timeline_wait a = {
			.handles = (uintptr_t)ha, .points = (uintptr_t)pa,
			.timeout_nsec = ld_deadline(rn(20000000)), .count_handles = n,
			.flags = (uint32_t)rn(8),
		};

		if (mut)
			MUTATE(s, a, f);
		fz_ioctl(OP_SYNCOBJ, s->fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &a);
		break;
	}
	case 4:
	case 5: {
		static const struct fdesc f[] = {
			FLDN(struct drm_syncobj_array, handles, K_PTR, 4),
			FLDN(struct drm_syncobj_array, count_handles, K_COUNT, 64),
			FLD(struct drm_syncobj_array, pad, K_RSVD),
		};
		struct drm_syncobj_array a = { .handles = (uintptr_t)ha, .count_handles = n };
		int sig = pct(60);

		if (mut)
			MUTATE(s, a, f);
		ret = fz_ioctl(OP_SYNCOBJ, s->fd,
			       sig ? DRM_IOCTL_SYNCOBJ_SIGNAL : DRM_IOCTL_SYNCOBJ_RESET, &a);
		if (!ret && !mut)
			for (uint32_t k = 0; k < n; k++) {
				int i = s_find_sync(s, ha[k]);

				if (i >= 0) {
					s->sy[i].fenced = sig;
					s->sy[i].point = 0;
				}
			}
		break;
	}
	case 6:
	case 7: {
		static const struct fdesc f[] = {
			FLDN(struct drm_syncobj_timeline_array, handles, K_PTR, 4),
			FLDN(struct drm_syncobj_timeline_array, points, K_PTR, 8),
			FLDN(struct drm_syncobj_timeline_array, count_handles, K_COUNT, 64),
			FLD(struct drm_syncobj_timeline_array, flags, K_FLAGS),
		};
		int query = pct(50);
		struct drm_syncobj_timeline_array a = {
			.handles = (uintptr_t)ha, .points = (uintptr_t)(query ? qa : pa),
			.count_handles = n,
			.flags = query && pct(50) ? DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED : 0,
		};

		if (!query)	/* signal points past the highest known ones */
			for (uint32_t k = 0; k < n; k++) {
				int i = s_find_sync(s, ha[k]);

				pa[k] = (i >= 0 ? s->sy[i].point : 0) + 1 + rn(3);
			}
		if (mut)
			MUTATE(s, a, f);
		ret = fz_ioctl(OP_SYNCOBJ, s->fd,
			       query ? DRM_IOCTL_SYNCOBJ_QUERY : DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL,
			       &a);
		if (!ret && !mut && !query)
			for (uint32_t k = 0; k < n; k++) {
				int i = s_find_sync(s, ha[k]);

				if (i >= 0 && pa[k] > s->sy[i].point) {
					s->sy[i].point = pa[k];
					s->sy[i].fenced = 1;
				}
			}
		break;
	}
	case 8: {
		static const struct fdesc f[] = {
			FLD(struct drm_syncobj_transfer, src_handle, K_HANDLE),
			FLD(struct drm_syncobj_transfer, dst_handle, K_HANDLE),
			FLD(struct drm_syncobj_transfer, src_point, K_POINT),
			FLD(struct drm_syncobj_transfer, dst_point, K_POINT),
			FLD(struct drm_syncobj_transfer, flags, K_FLAGS),
			FLD(struct drm_syncobj_transfer, pad, K_RSVD),
		};
		int si = (int)rn(s->nsy), di = (int)rn(s->nsy);
		struct drm_syncobj_transfer a = {
			.src_handle = s->sy[si].h, .dst_handle = s->sy[di].h,
			.src_point = s->sy[si].point, .dst_point = pct(50) ? 0 : s->sy[di].point + 1,
		};

		if (mut)
			MUTATE(s, a, f);
		if (!fz_ioctl(OP_SYNCOBJ, s->fd, DRM_IOCTL_SYNCOBJ_TRANSFER, &a) && !mut) {
			s->sy[di].fenced = 1;
			if (a.dst_point > s->sy[di].point)
				s->sy[di].point = a.dst_point;
		}
		break;
	}
	case 9:
	case 10: {
		static const struct fdesc f[] = {
			FLD(struct drm_syncobj_handle, handle, K_HANDLE),
			FLD(struct drm_syncobj_handle, flags, K_FLAGS),
			FLD(struct drm_syncobj_handle, fd, K_FD),
			FLD(struct drm_syncobj_handle, pad, K_RSVD),
		};
		int sync_file = pct(50);
		struct drm_syncobj_handle a = {
			.handle = ha[0],
			.flags = sync_file ? DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE : 0,
			.fd = -1,
		};
		struct drm_syncobj_handle b;
		int target;

		if (mut && pct(50))
			MUTATE(s, a, f);
		if (fz_ioctl(OP_SYNCOBJ, s->fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &a) || a.fd < 0)
			break;
		/* And back: into another syncobj (sync file) or as a new one. */
		b = (struct drm_syncobj_handle){
			.handle = sync_file ? s->sy[rn(s->nsy)].h : 0,
			.flags = sync_file ? DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE : 0,
			.fd = a.fd,
		};
		if (mut)
			MUTATE(s, b, f);
		target = pct(80) ? s->fd : s->fd2;
		ret = fz_ioctl(OP_SYNCOBJ, target, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &b);
		if (!ret && target == s->fd &&
		    !(b.flags & DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE))
			s_sync_adopt(s, b.handle, 0);
		close(a.fd);
		break;
	}
	default: {
		static const struct fdesc f[] = {
			FLD(struct lf_syncobj_eventfd, handle, K_HANDLE),
			FLD(struct lf_syncobj_eventfd, flags, K_FLAGS),
			FLD(struct lf_syncobj_eventfd, point, K_POINT),
			FLD(struct lf_syncobj_eventfd, fd, K_FD),
			FLD(struct lf_syncobj_eventfd, pad, K_RSVD),
		};
		int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		struct lf_syncobj_eventfd a = {
			.handle = ha[0], .flags = pct(30) ? DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE : 0,
			.point = pa[0], .fd = efd,
		};

		if (mut)
			MUTATE(s, a, f);
		fz_ioctl(OP_SYNCOBJ, s->fd, LF_IOCTL_SYNCOBJ_EVENTFD, &a);
		if (efd >= 0)
			close(efd);
		break;
	}
	}
}

static void s_core(struct s_state *s)
{
	if (pct(50)) {
		static const struct fdesc f[] = {
			FLD(struct drm_get_cap, capability, K_TYPE),
			FLD(struct drm_get_cap, value, K_VAL),
		};
		struct drm_get_cap a = { .capability = rn(0x20) };

		if (pct(50))
			MUTATE(s, a, f);
		fz_ioctl(OP_CORE_INFO, s->fd, DRM_IOCTL_GET_CAP, &a);
	} else {
		static const struct fdesc f[] = {
			FLDN(struct drm_version, name_len, K_COUNT, 32),
			FLDN(struct drm_version, name, K_PTR, 32),
			FLDN(struct drm_version, date_len, K_COUNT, 32),
			FLDN(struct drm_version, date, K_PTR, 32),
			FLDN(struct drm_version, desc_len, K_COUNT, 64),
			FLDN(struct drm_version, desc, K_PTR, 64),
		};
		/* The strings end at the guard page: longer lengths fault. */
		uint8_t *end = M.arena + ARENA_LEN;
		struct drm_version a = {
			.name_len = 32, .name = (char *)end - 128,
			.date_len = 32, .date = (char *)end - 96,
			.desc_len = 64, .desc = (char *)end - 64,
		};

		if (pct(60))
			MUTATE(s, a, f);
		fz_ioctl(OP_CORE_INFO, s->fd, DRM_IOCTL_VERSION, &a);
	}
}

/* CPU mmaps of pool BOs by their offsets: valid ones are accessed
 * directly (a signal there is counted), mutated ones through the pipe. */
static void s_mmap(struct s_state *s)
{
	struct s_bo *b = NULL;
	uint64_t off, len, pages, k;
	int prot = PROT_READ | PROT_WRITE, flags = MAP_SHARED, valid = 1;
	uint8_t *p;

	if (nmaps && pct(40)) {
		map_drop((int)rn(nmaps), pct(40));
		return;
	}
	for (int tries = 0; tries < 4 && !b; tries++) {
		if (!s->nbo)
			return;
		b = &s->bo[rn(s->nbo)];
		if (!b->moff)
			b = NULL;
	}
	if (!b)
		return;
	pages = b->size / PAGE;
	k = rn(pages);
	off = b->moff + k * PAGE;
	len = (1 + rn(pages - k)) * PAGE;
	if (pct(60)) {
		valid = 0;
		switch (rn(9)) {
		case 0:
			off -= PAGE;
			break;
		case 1:
			off = b->moff + b->size;
			break;
		case 2:
			off += 1 + rn(PAGE - 1);
			break;
		case 3:
			len += PAGE;
			break;
		case 4:
			len = 0;
			break;
		case 5:
			prot = (int)rn(8);
			break;
		case 6:
			flags = MAP_PRIVATE;
			break;
		case 7:
			off = K.nmoff ? K.moff[rn(K.nmoff)] : 0;	/* maybe a closed BO's */
			break;
		default:
			len = b->size * 2 + PAGE * rn(1024);
			break;
		}
	}
	p = do_mmap(s->fd, off, len, prot, flags, pct(50));
	if (!p || !len)
		return;
	if (valid)
		touch_cpu(p + (rn(len - 8) & ~7ull), 8, pct(50));
	else
		touch_pipe(p + (rn(len) & ~7ull), 8, pct(50));
}

/* CPU access to the pool BOs' own views. */
static void s_cpu(struct s_state *s)
{
	struct s_bo *b;

	if (!s->nbo)
		return;
	b = &s->bo[rn(s->nbo)];
	if (!b->cpu)
		return;
	touch_cpu(b->cpu + (rn(b->size - 64) & ~7ull), 64, s_bo_writable(b) && pct(50));
}

/* ---- structure-aware mode: user-mode queues (uAPI 1.4) ------------------------ */

#if LF_UQ
static void uq_unexpected(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A result the uAPI does not allow: reported, and the run fails. */
static void uq_unexpected(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	S->uq_unexpected++;
	fprintf(stderr, "lumen-fuzz: slot %d: user-mode queue: %s\n", (int)(S - g_slots), msg);
}

/*
 * The errnos lumen_accel.h documents for each UQ ioctl, plus -EINTR (the
 * SIGALRM bound) and -ENODEV (a reset or unplug, any ioctl): UQ_CREATE
 * -EINVAL -EFAULT -EPERM -EOPNOTSUPP -EBUSY -ECANCELED -ENOMEM; UQ_DESTROY
 * -EINVAL -ENOENT; UQ_WAIT -EINVAL -ENOENT -ETIME; UQ_FENCE -EINVAL
 * -ENOENT -ENOMEM.
 */
static int uq_errno_documented(int op, int err)
{
	switch (err) {
	case EINTR:
	case ENODEV:
	case EINVAL:
		return 1;
	case ENOENT:
		return op != OP_UQ_CREATE;
	case ETIME:
		return op == OP_UQ_WAIT;
	case ENOMEM:
		return op == OP_UQ_CREATE || op == OP_UQ_FENCE;
	case EFAULT:
	case EPERM:
	case EOPNOTSUPP:
	case EBUSY:
	case ECANCELED:
		return op == OP_UQ_CREATE;
	}
	return 0;
}

/* A UQ ioctl on fd; an errno its uAPI does not document is a finding. */
static int uq_ioctl(int op, int fd, unsigned long req, void *a)
{
	int ret = fz_ioctl(op, fd, req, a);

	if (ret < 0 && !uq_errno_documented(op, -ret))
		uq_unexpected("%s: %d (%s), an errno its uAPI does not document", op_names[op], ret,
			      strerror(-ret));
	return ret;
}

static int x_uq_wait(struct s_state *s, uint32_t id, uint64_t count, uint64_t deadline,
		     uint64_t *completed, int32_t *status)
{
	struct drm_lumen_uq_wait a = { .queue_id = id, .count = count, .timeout_ns = deadline };
	int ret = uq_ioctl(OP_UQ_WAIT, s->fd, DRM_IOCTL_LUMEN_UQ_WAIT, &a);

	if (completed)
		*completed = a.completed;
	if (status)
		*status = ret ? 0 : a.status;
	return ret;
}

static int x_uq_destroy(struct s_state *s, uint32_t id)
{
	struct drm_lumen_uq_destroy a = { .queue_id = id };

	return uq_ioctl(OP_UQ_DESTROY, s->fd, DRM_IOCTL_LUMEN_UQ_DESTROY, &a);
}

/* A 32-bit store into a doorbell page: live or scratch, it must not raise a signal. */
static int db_store(volatile uint32_t *db, uint32_t v)
{
	S->uq_db_stores++;
	if (sigsetjmp(touch_jmp, 1)) {
		S->uq_db_faults++;
		return -1;
	}
	in_touch = 1;
	*db = v;
	in_touch = 0;
	return 0;
}

static int s_find_uq(struct s_state *s, uint32_t id)
{
	for (int i = 0; i < s->nuq; i++)
		if (s->uq[i].id == id)
			return i;
	return -1;
}

static uint64_t uq_ring_bytes(const struct s_uq *u)
{
	return (uint64_t)sizeof(struct lumen_cmd) << u->order;
}

/* Commands retired: from the record, or a polling UQ_WAIT for ring-less queues. */
static uint64_t uq_completed(struct s_state *s, struct s_uq *u)
{
	uint64_t done = 0;

	if (u->cpu && u->ring_va == u->map_va)
		return __atomic_load_n((uint64_t *)(u->cpu + uq_ring_bytes(u)), __ATOMIC_ACQUIRE);
	if (x_uq_wait(s, u->id, 0, 0, &done, NULL))
		return u->pushed;
	return done;
}

/* The queue's own BO: ring then record; 0 or -1. */
static int uq_bo_new(struct s_state *s, struct s_uq *u)
{
	struct drm_lumen_bo_info bi;
	uint32_t flags = pct(80) ? DRM_LUMEN_BO_HOST : DRM_LUMEN_BO_DEVICE;
	uint64_t got;
	void *p;

	u->bo_size = uq_ring_bytes(u) + PAGE;
	if (x_bo_create(s->fd, u->bo_size, flags, 0, &u->ring_h, &got))
		return -1;
	if (x_bo_info(s->fd, u->ring_h, &bi))
		goto err_close;
	p = mmap(NULL, u->bo_size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, (off_t)bi.mmap_offset);
	S->mmaps++;
	if (p == MAP_FAILED)
		goto err_close;
	S->mmap_ok++;
	u->cpu = p;
	memset(u->cpu + uq_ring_bytes(u), 0, sizeof(struct drm_lumen_uq_cpl));
	u->map_va = s_va_alloc(s, u->bo_size);
	if (x_vm_bind(s->fd, DRM_LUMEN_VM_MAP, u->ring_h, u->map_va, 0, u->bo_size, 0)) {
		munmap(p, u->bo_size);
		u->cpu = NULL;
		u->map_va = 0;
		goto err_close;
	}
	return 0;

err_close:
	x_gem_close(s->fd, u->ring_h);
	u->ring_h = 0;
	return -1;
}

static void uq_bo_free(struct s_state *s, struct s_uq *u)
{
	if (u->cpu)
		munmap(u->cpu, u->bo_size);
	u->cpu = NULL;
	if (u->map_va)
		x_vm_bind(s->fd, DRM_LUMEN_VM_UNMAP, 0, u->map_va, 0, u->bo_size, 0);
	u->map_va = 0;
	if (u->ring_h)
		x_gem_close(s->fd, u->ring_h);
	u->ring_h = 0;
}

static void uq_map_db(struct s_state *s, struct s_uq *u)
{
	void *p = mmap(NULL, PAGE, PROT_WRITE | (pct(50) ? PROT_READ : 0), MAP_SHARED, s->fd,
		       (off_t)u->db_off);

	S->mmaps++;
	if (p == MAP_FAILED) {
		if (errno != ENODEV && errno != ENOMEM)
			uq_unexpected("mmap of queue %u's doorbell at 0x%llx: %s", u->id,
				      (unsigned long long)u->db_off, strerror(errno));
		return;
	}
	S->mmap_ok++;
	u->db = p;
}

/* Forget queue i after its destroy; its doorbell mapping stays as a stale one. */
static void uq_forget(struct s_state *s, int i)
{
	struct s_uq *u = &s->uq[i];

	if (u->db) {
		if (s->nstale_db == S_MAX_STALE_DB) {
			munmap((void *)s->stale_db[0], PAGE);
			s->stale_db[0] = s->stale_db[--s->nstale_db];
		}
		s->stale_db[s->nstale_db++] = u->db;
	}
	uq_bo_free(s, u);
	s->stale_q[s->nstale_q++ % ARRAY_LEN(s->stale_q)] = u->id;
	s->uq[i] = s->uq[--s->nuq];
}

/* A store into a destroyed queue's doorbell lands in the scratch page. */
static void uq_stale_store(struct s_state *s)
{
	volatile uint32_t *db;

	if (!s->nstale_db)
		return;
	db = s->stale_db[rn(s->nstale_db)];
	S->uq_stale_stores++;
	if (db_store(db, pct(50) ? (uint32_t)rn(64) : (uint32_t)rnd()))
		uq_unexpected("a store into a destroyed queue's doorbell raised a signal");
	else if (pct(30))
		touch_pipe((uint8_t *)db, 4, 0);	/* and reads through the kernel */
}

/* Destroy queue i (well-formed) and check what is left. */
static void uq_destroy_idx(struct s_state *s, int i)
{
	struct s_uq *u = &s->uq[i];
	uint64_t done = uq_completed(s, u);
	uint32_t id = u->id;
	int ret = x_uq_destroy(s, id);

	if (ret && ret != -ENODEV && ret != -EINTR)
		uq_unexpected("UQ_DESTROY of live queue %u: %d (%s)%s", id, ret, strerror(-ret),
			      ret == -ENOENT && !g_avoid_uq_id ? " (a QUEUE_DESTROY of its id "
			      "freed it? --known uq-id)" : "");
	if (ret)
		return;
	S->uq_destroys++;
	/* Fences for counts it had not reached fail with -ECANCELED, and
	 * so would the jobs waiting on them: our doing. */
	if (u->fenced > done)
		s->tainted = 1;
	uq_forget(s, i);
	if (pct(60))
		uq_stale_store(s);
	if (pct(30)) {
		uint64_t c;

		ret = x_uq_wait(s, id, 0, 0, &c, NULL);
		if (ret != -ENOENT && ret != -ENODEV && ret != -EINTR)
			uq_unexpected("UQ_WAIT on destroyed queue %u: %d, want -ENOENT", id, ret);
	}
}

/* fd2 maps a page at a VA fd never uses: another file's memory. */
static uint64_t uq_fd2_va(struct s_state *s)
{
	const uint64_t va = DRM_LUMEN_VA_USER_END - 64 * MiB;

	if (!s->fd2_va && s->fd2_handle &&
	    !x_vm_bind(s->fd2, DRM_LUMEN_VM_MAP, s->fd2_handle, va, 0, PAGE, 0))
		s->fd2_va = va;
	return s->fd2_va;
}

/* A pool mapping of at least len bytes (writable if asked), or -1. */
static int uq_pick_map(struct s_state *s, uint64_t len, int need_write)
{
	int idx[S_MAX_MAP], n = 0;

	for (int i = 0; i < s->nmap; i++)
		if (s->map[i].size >= len && (!need_write || s->map[i].writable))
			idx[n++] = i;
	return n ? idx[rn(n)] : -1;
}

static void s_uq_destroy(struct s_state *s);

/*
 * UQ_CREATE: well-formed (own BO, or ring and record in the pool's
 * mappings) or with one thing wrong that has a documented errno: an
 * unmapped or too short ring (-EFAULT), an unmapped or read-only record
 * (-EFAULT), another file's memory (-EFAULT), misalignment, order, flags,
 * reserved (-EINVAL), or one field mutated at random, or the out fields
 * set on input (any documented errno, or success).
 */
static void s_uq_create(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_uq_create, flags, K_FLAGS),
		FLD(struct drm_lumen_uq_create, priority, K_TYPE),
		FLD(struct drm_lumen_uq_create, ring_va, K_VA),
		FLD(struct drm_lumen_uq_create, cpl_va, K_VA),
		FLDN(struct drm_lumen_uq_create, ring_order, K_COUNT, DRM_LUMEN_UQ_ORDER_MAX),
		FLD(struct drm_lumen_uq_create, queue_id, K_VAL),
		FLD(struct drm_lumen_uq_create, doorbell_offset, K_VAL),
		FLD(struct drm_lumen_uq_create, reserved, K_RSVD),
	};
	struct drm_lumen_uq_create a;
	unsigned int how = (unsigned int)rn(100);
	const char *what = "well-formed";
	int want = 0, keep = 1, ret, m;	/* want: 0 success, > 0 that errno, -1 any documented */
	struct s_uq u;

	if (!s->uq_caps) {
		memset(&a, 0, sizeof(a));
		ret = fz_ioctl(OP_UQ_CREATE, s->fd, DRM_IOCTL_LUMEN_UQ_CREATE, &a);
		if (ret != -EOPNOTSUPP && ret != -EINVAL)
			uq_unexpected("UQ_CREATE without CAPS.USER_QUEUES: %d", ret);
		return;
	}
	if (s->nuq == S_MAX_UQ) {
		s_uq_destroy(s);
		return;
	}
	memset(&u, 0, sizeof(u));
	memset(&a, 0, sizeof(a));
	u.order = DRM_LUMEN_UQ_ORDER_MIN + (uint32_t)(pct(85) ? rn(5) : rn(11));	/* <= 1 MiB */
	if (how >= 55 && how < 64 &&
	    (m = uq_pick_map(s, uq_ring_bytes(&u), 0)) >= 0 && uq_pick_map(s, 16, 1) >= 0) {
		/* Ring and record in the pool's memory: valid, whatever it holds. */
		int w = uq_pick_map(s, 16, 1);

		what = "in pool mappings";
		a.ring_va = s_addr(&s->map[m], uq_ring_bytes(&u), PAGE);
		a.cpl_va = s_addr(&s->map[w], 16, 16);
		u.bad = 1;
	} else {
		if (uq_bo_new(s, &u))
			return;
		a.ring_va = u.map_va;
		a.cpl_va = u.map_va + uq_ring_bytes(&u);
	}
	a.ring_order = u.order;
	if (pct(25))
		a.priority = (uint32_t)rn(3);	/* NORMAL, LOW, HIGH (root may) */
	if (how >= 64 && how < 70) {
		want = EFAULT;
		if (pct(50) || u.order > DRM_LUMEN_UQ_ORDER_MAX - 3) {
			what = "unmapped ring";
			a.ring_va = s->va_next + PAGE * rn(16);	/* nothing there yet */
		} else {
			what = "ring past its mapping";
			a.ring_order = u.order + 3;
		}
	} else if (how >= 70 && how < 74) {
		int ro = -1;

		want = EFAULT;
		for (int i = 0; i < s->nmap; i++)
			if (!s->map[i].writable)
				ro = i;
		if (ro >= 0 && pct(60)) {
			what = "read-only record";
			a.cpl_va = s_addr(&s->map[ro], 16, 16);
		} else {
			what = "unmapped record";
			a.cpl_va = s->va_next + 16 * rn(256);
		}
	} else if (how >= 74 && how < 78 && uq_fd2_va(s)) {
		want = EFAULT;
		what = "another file's memory";
		if (pct(50))
			a.ring_va = s->fd2_va;
		else
			a.cpl_va = s->fd2_va + 16 * rn(PAGE / 16);
	} else if (how >= 78 && how < 86) {
		static const uint32_t orders[] = {
			0, DRM_LUMEN_UQ_ORDER_MIN - 1, DRM_LUMEN_UQ_ORDER_MAX + 1, 32, 64, ~0u,
		};

		want = EINVAL;
		switch (rn(6)) {
		case 0:
			what = "misaligned ring";
			a.ring_va += pct(50) ? 64 * (1 + rn(63)) : 8;
			break;
		case 1:
			what = "misaligned record";
			a.cpl_va += 8 * (1 + 2 * rn(8)) / (pct(30) ? 8 : 1);
			break;
		case 2:
			what = "ring order";
			a.ring_order = orders[rn(ARRAY_LEN(orders))];
			break;
		case 3:
			what = "flags";
			a.flags = 1u << rn(32);
			break;
		case 4:
			what = "reserved";
			a.reserved = 1ull << rn(64);
			break;
		default:
			/* Out fields: the uAPI does not say what a set one does. */
			what = "output fields set";
			want = -1;
			if (pct(50))
				a.queue_id = 1 + (uint32_t)rn(100);
			else
				a.doorbell_offset = PAGE * (1 + rn(1000));
			break;
		}
	} else if (how >= 86) {
		want = -1;
		what = "mutated";
		MUTATE(s, a, f);
	}
	ret = uq_ioctl(OP_UQ_CREATE, s->fd, DRM_IOCTL_LUMEN_UQ_CREATE, &a);
	if (ret == -ECANCELED) {
		S->bans++;
		s_banned(s, "UQ_CREATE", ret);
	} else if (ret == -ENODEV) {
		s->need_reopen = 1;
	} else if (want > 0 && ret != -want && ret != -EINTR &&
		   !(ret == -EPERM && a.priority == DRM_LUMEN_PRIORITY_HIGH)) {
		uq_unexpected("UQ_CREATE with %s (ring 0x%llx record 0x%llx order %u): %d (%s), "
			      "want %d", what, (unsigned long long)a.ring_va,
			      (unsigned long long)a.cpl_va, a.ring_order, ret, strerror(-ret), -want);
	} else if (!want && ret && ret != -EBUSY && ret != -ENOMEM && ret != -EINTR &&
		   !(ret == -EPERM && a.priority == DRM_LUMEN_PRIORITY_HIGH)) {
		uq_unexpected("UQ_CREATE %s (ring 0x%llx record 0x%llx order %u): %d (%s)", what,
			      (unsigned long long)a.ring_va, (unsigned long long)a.cpl_va,
			      a.ring_order, ret, strerror(-ret));
	}
	if (ret) {
		uq_bo_free(s, &u);
		return;
	}
	S->uq_creates++;
	/* Whatever a wrong or mutated argument created is destroyed at once. */
	if (want)
		keep = 0;
	u.id = a.queue_id;
	u.db_off = a.doorbell_offset;
	u.entries = 1u << u.order;
	u.ring_va = a.ring_va;
	u.cpl_va = a.cpl_va;
	if (!keep) {
		if (x_uq_destroy(s, u.id) == 0)
			S->uq_destroys++;
		uq_bo_free(s, &u);
		return;
	}
	if (pct(90))
		uq_map_db(s, &u);
	s->uq[s->nuq++] = u;
}

/* Commands for a push: the SUBMIT ones (valid on mapped VAs), F_IRQ now
 * and then; taints the context if one may fail (REDUCE it cannot do). */
static struct lumen_cmd uq_cmd(struct s_state *s)
{
	struct lumen_cmd c = s_cmd(s);

	if (pct(20))
		c.flags |= DRM_LUMEN_CMD_F_IRQ;
#if LF_REDUCE
	if (c.opcode == DRM_LUMEN_CMD_REDUCE || c.opcode == DRM_LUMEN_CMD_RREDUCE) {
		uint32_t esz = lf_dtype_size(c.u.reduce.dtype);

		/* SUBMIT refuses what the device would stop on; here nobody does. */
		if (!s->reduce ||
		    (c.opcode == DRM_LUMEN_CMD_REDUCE &&
		     (c.u.reduce.src % esz || c.u.reduce.dst % esz || c.u.reduce.size % esz)))
			s->tainted = 1;
	}
#endif
	return c;
}

/*
 * Write commands into a queue's ring and the tail into its doorbell, no
 * system call: valid ones mostly, else one mutated command (any field, a
 * random opcode, reserved bits, an address outside every mapping) or a
 * tail the device must refuse (past the ring, backwards).
 */
static void s_uq_push(struct s_state *s)
{
	struct lumen_cmd cmds[8];
	struct s_uq *u;
	uint64_t done, out;
	uint32_t n = 0, room, tail;
	unsigned int how = (unsigned int)rn(100);

	if (!s->nuq) {
		s_uq_create(s);
		return;
	}
	u = &s->uq[rn(s->nuq)];
	if (!u->db) {
		uq_map_db(s, u);
		if (!u->db)
			return;
	}
	if (s->nmap < 2)
		s_new_map(s);
	done = uq_completed(s, u);
	out = u->pushed - MIN(done, u->pushed);
	room = out >= u->entries ? 0 : u->entries - (uint32_t)out;
	if (room)
		n = 1 + (uint32_t)rn(MIN(room, 8u));
	if (!n && how >= 19)
		return;
	if (s->ctl)		/* what a mutated command may have overwritten */
		for (int i = 0; i < 8; i++)
			s->ctl[CTL_RELEASE + i] = ~0ull;
	for (uint32_t i = 0; i < n; i++)
		cmds[i] = uq_cmd(s);
	tail = u->tail + n;
	if (n && how < 12) {
		s_mutate_cmd(s, &cmds[rn(n)]);
		s->tainted = 1;
	} else if (n && how < 16) {
		struct lumen_cmd *c = &cmds[rn(n)];

		switch (rn(3)) {
		case 0:
			c->opcode = (uint8_t)(DRM_LUMEN_CMD_RREDUCE + 1 + rn(256 - DRM_LUMEN_CMD_RREDUCE - 1));
			break;
		case 1:
			c->flags |= (uint8_t)(1u << (2 + rn(6)));
			break;
		default:
			c->reserved0 = (uint16_t)(1u << rn(16));
			break;
		}
		s->tainted = 1;
	} else if (n && how < 19) {
		/* An address in no mapping: the 2 MiB hole after one, or beyond all. */
		const struct s_map *m = s->nmap ? &s->map[rn(s->nmap)] : NULL;
		uint64_t hole = pct(50) || !m ? s->va_next + 8 * rn(4096)
					      : m->va + ((m->size + 2 * MiB - 1) & ~(2 * MiB - 1)) +
						8 * rn(4096);

		cmds[rn(n)] = pct(50) ? ld_cmd_fill(hole & ~7ull, 8 * (1 + rn(64)), rnd())
				      : ld_cmd_signal(hole & ~7ull, rnd());
		s->tainted = 1;
	} else if (how < 22) {
		/* A tail the device refuses: TAIL - HEAD > entries. */
		tail = pct(60) ? u->tail + u->entries + 1 + (uint32_t)rn(1000)
			       : u->tail - 1 - (uint32_t)rn(4);
		u->bad = 1;
		s->tainted = 1;
	}
	if (u->bad)
		s->tainted = 1;		/* a ring in pool memory runs what is there */
	if (u->cpu && u->ring_va == u->map_va) {
		struct lumen_cmd *ring = (struct lumen_cmd *)u->cpu;

		for (uint32_t i = 0; i < n; i++)
			memcpy(&ring[(u->tail + i) & (u->entries - 1)], &cmds[i], sizeof(cmds[i]));
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (db_store(u->db, tail))
		uq_unexpected("a store into queue %u's doorbell raised a signal", u->id);
	u->tail = tail;
	u->pushed += n;
	S->uq_pushes++;
	S->uq_cmds += n;
	s->inflight = 1;
	if (pct(25)) {
		int32_t st = 0;

		if (!x_uq_wait(s, u->id, u->pushed, wait_tmo(WAIT_MAX_NS), NULL, &st) && st)
			s_job_status(s, "user-mode queue failed", st);
	}
}

/* UQ_WAIT: counts up to what was given, short deadlines, counts beyond it
 * (-EINVAL), one field mutated. */
static void s_uq_wait(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_uq_wait, queue_id, K_QUEUE),
		FLD(struct drm_lumen_uq_wait, flags, K_FLAGS),
		FLD(struct drm_lumen_uq_wait, count, K_SEQ),
		FLD(struct drm_lumen_uq_wait, timeout_ns, K_TMO),
		FLD(struct drm_lumen_uq_wait, completed, K_VAL),
		FLD(struct drm_lumen_uq_wait, status, K_VAL),
		FLD(struct drm_lumen_uq_wait, reserved, K_RSVD),
	};
	struct drm_lumen_uq_wait a = { 0 };
	int beyond = pct(15), mut = !beyond && pct(35), strict, ret;
	struct s_uq *u;

	if (!s->nuq) {
		/* A kernel queue's id or a destroyed one: not a user-mode queue. */
		a.queue_id = pct(50) && s->nq ? s->q[rn(s->nq)]
					      : s->stale_q[rn(ARRAY_LEN(s->stale_q))];
		if (!a.queue_id)
			return;
		ret = uq_ioctl(OP_UQ_WAIT, s->fd, DRM_IOCTL_LUMEN_UQ_WAIT, &a);
		if (ret != -ENOENT && ret != -ENODEV && ret != -EINTR)
			uq_unexpected("UQ_WAIT on %u, no user-mode queue: %d, want -ENOENT",
				      a.queue_id, ret);
		return;
	}
	u = &s->uq[rn(s->nuq)];
	strict = !u->bad && !s->tainted;
	a.queue_id = u->id;
	a.count = u->pushed ? u->pushed - rn(MIN(u->pushed, 4ull)) : 0;
	if (beyond)
		a.count = u->pushed + 1 + rn(pct(50) ? 4 : 1000000);
	a.timeout_ns = pct(40) ? 0 : pct(80) ? wait_tmo(rn(WAIT_MAX_NS / 4)) : ld_now_ns() - rn(MiB);
	a.status = 0x7eadbeef;
	if (mut)
		MUTATE(s, a, f);
	ret = uq_ioctl(OP_UQ_WAIT, s->fd, DRM_IOCTL_LUMEN_UQ_WAIT, &a);
	if (mut)
		return;
	if (beyond) {
		if (strict && ret != -EINVAL && ret != -ENODEV && ret != -EINTR && !(!ret && a.status))
			uq_unexpected("UQ_WAIT for %llu with %llu given: %d, want -EINVAL",
				      (unsigned long long)a.count, (unsigned long long)u->pushed, ret);
		return;
	}
	if (!ret && a.status)
		s_job_status(s, "user-mode queue failed", a.status);
	else if (!ret && a.completed < a.count)
		uq_unexpected("UQ_WAIT for %llu returned 0 at %llu without an error",
			      (unsigned long long)a.count, (unsigned long long)a.completed);
}

/* UQ_FENCE into the slot's syncobjs (binary, or a new timeline point). */
static void s_uq_fence(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_uq_fence, queue_id, K_QUEUE),
		FLD(struct drm_lumen_uq_fence, flags, K_FLAGS),
		FLD(struct drm_lumen_uq_fence, count, K_SEQ),
		FLD(struct drm_lumen_uq_fence, handle, K_HANDLE),
		FLD(struct drm_lumen_uq_fence, reserved, K_RSVD),
		FLD(struct drm_lumen_uq_fence, point, K_POINT),
	};
	struct drm_lumen_uq_fence a = { 0 };
	int beyond = pct(10), mut = !beyond && pct(35), ret, i;
	struct s_sync *y;
	struct s_uq *u;

	if (!s->nuq || !s->nsy)
		return;
	u = &s->uq[rn(s->nuq)];
	y = &s->sy[rn(s->nsy)];
	a.queue_id = u->id;
	a.count = u->pushed ? u->pushed - rn(MIN(u->pushed, 4ull)) : 0;
	if (beyond)
		a.count = u->pushed + 1 + rn(1000);
	a.handle = y->h;
	a.point = pct(50) ? 0 : y->point + 1;
	if (mut)
		MUTATE(s, a, f);
	ret = uq_ioctl(OP_UQ_FENCE, s->fd, DRM_IOCTL_LUMEN_UQ_FENCE, &a);
	if (beyond && !u->bad && !s->tainted && ret != -EINVAL && ret != -ENODEV && ret != -EINTR)
		uq_unexpected("UQ_FENCE for %llu with %llu given: %d, want -EINVAL",
			      (unsigned long long)a.count, (unsigned long long)u->pushed, ret);
	if (ret)
		return;
	i = s_find_uq(s, a.queue_id);
	if (i >= 0 && a.count > s->uq[i].fenced)
		s->uq[i].fenced = a.count;
	i = s_find_sync(s, a.handle);
	if (i >= 0) {
		s->sy[i].fenced = 1;
		if (a.point > s->sy[i].point)
			s->sy[i].point = a.point;
	}
}

/*
 * UQ_DESTROY at random moments: idle, while long commands run, after
 * unmapping the ring under the queue; then stores into the stale doorbell
 * mapping. Or close the whole file with its queues running (the next
 * reopen), or destroy a wrong id (-ENOENT), or mutate a field.
 */
static void s_uq_destroy(struct s_state *s)
{
	static const struct fdesc f[] = {
		FLD(struct drm_lumen_uq_destroy, queue_id, K_QUEUE),
		FLD(struct drm_lumen_uq_destroy, reserved, K_RSVD),
	};
	struct drm_lumen_uq_destroy a = { 0 };
	unsigned int how = (unsigned int)rn(100);
	struct s_uq *u;
	int i, ret;

	if (!s->nuq || how >= 90) {
		a.queue_id = pct(50) && s->nq ? s->q[rn(s->nq)]
					      : s->stale_q[rn(ARRAY_LEN(s->stale_q))];
		if (!a.queue_id || s_find_uq(s, a.queue_id) >= 0)
			return;
		ret = uq_ioctl(OP_UQ_DESTROY, s->fd, DRM_IOCTL_LUMEN_UQ_DESTROY, &a);
		if (ret != -ENOENT && ret != -ENODEV && ret != -EINTR)
			uq_unexpected("UQ_DESTROY of %u, no user-mode queue: %d, want -ENOENT",
				      a.queue_id, ret);
		uq_stale_store(s);
		return;
	}
	i = (int)rn(s->nuq);
	u = &s->uq[i];
	if (how < 35 && u->db && u->cpu && u->ring_va == u->map_va) {
		/* Long FILLs and COPYs (up to 4 MiB each): destroyed while they run. */
		int w = s_pick_map(s, 1);
		uint64_t done = uq_completed(s, u), out = u->pushed - MIN(done, u->pushed);
		uint32_t n = (uint32_t)MIN(u->entries - MIN(out, (uint64_t)u->entries), 1 + rn(3));
		struct lumen_cmd *ring = (struct lumen_cmd *)u->cpu;

		for (uint32_t k = 0; k < n && w >= 0; k++) {
			const struct s_map *m = &s->map[w];

			ring[(u->tail + k) & (u->entries - 1)] =
				ld_cmd_fill(m->va, m->size, rnd());
		}
		if (w >= 0 && n) {
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			u->tail += n;
			u->pushed += n;
			s->inflight = 1;
			S->uq_pushes++;
			S->uq_cmds += n;
			db_store(u->db, u->tail);
		}
	} else if (how < 45 && u->map_va) {
		/* The ring's mapping goes first: the next fetch faults the context. */
		if (!x_vm_bind(s->fd, DRM_LUMEN_VM_UNMAP, 0, u->map_va, 0, u->bo_size, 0)) {
			u->map_va = 0;
			s->tainted = 1;
			if (u->db && pct(70)) {
				u->bad = 1;
				db_store(u->db, ++u->tail);
				u->pushed++;
			}
		}
	} else if (how < 52) {
		/* Close the file with its queues live and the doorbells mapped. */
		s->need_reopen = 1;
		return;
	}
	if (pct(20)) {
		a.queue_id = u->id;
		MUTATE(s, a, f);
		ret = uq_ioctl(OP_UQ_DESTROY, s->fd, DRM_IOCTL_LUMEN_UQ_DESTROY, &a);
		if (!ret) {
			i = s_find_uq(s, a.queue_id);
			if (i >= 0) {
				S->uq_destroys++;
				s->tainted |= s->uq[i].fenced > 0;
				uq_forget(s, i);
			} else {
				uq_unexpected("UQ_DESTROY of %u (reserved 0x%x), not a queue of "
					      "ours, succeeded", a.queue_id, a.reserved);
			}
		}
		return;
	}
	uq_destroy_idx(s, i);
}

/* Doorbell mmaps: another valid mapping, and ones that must be refused
 * (MAP_PRIVATE, two pages, on the other file); stale-mapping stores. */
static void s_uq_doorbell(struct s_state *s)
{
	unsigned int how = (unsigned int)rn(100);
	struct s_uq *u;
	const char *what;
	int fd, flags = MAP_SHARED, prot = PROT_WRITE;
	size_t len = PAGE;
	uint8_t *p;

	if (how < 30 || !s->nuq) {
		uq_stale_store(s);
		return;
	}
	u = &s->uq[rn(s->nuq)];
	fd = s->fd;
	if (how < 50) {
		what = NULL;		/* a second valid mapping */
	} else if (how < 62) {
		what = "MAP_PRIVATE";
		flags = MAP_PRIVATE;
		prot |= pct(50) ? PROT_READ : 0;
	} else if (how < 74) {
		what = "two pages";
		len = 2 * PAGE;
	} else if (how < 86) {
		what = "on another file";
		fd = s->fd2;
	} else {
		what = NULL;
		prot = PROT_READ;	/* read through the kernel */
	}
	S->mmaps++;
	p = mmap(NULL, len, prot, flags, fd, (off_t)u->db_off);
	if (p == MAP_FAILED) {
		if (!what && errno != ENODEV && errno != ENOMEM)
			uq_unexpected("second mmap of queue %u's doorbell: %s", u->id,
				      strerror(errno));
		return;
	}
	S->mmap_ok++;
	if (what)
		uq_unexpected("mmap of queue %u's doorbell %s succeeded", u->id, what);
	else if (prot & PROT_WRITE)
		db_store((volatile uint32_t *)p, u->tail);	/* the same tail: nothing new */
	else
		touch_pipe(p, 4, 0);
	munmap(p, len);
}

/*
 * A WAIT on a control word that is 0: released from the CPU, or (at most
 * UQ_HANG_BUDGET times per slot) left to the kernel's hang detection,
 * which must stop the queue with -ETIMEDOUT within a few job timeouts
 * and ban the context (a SIGKILL of the parent may come first: then the
 * file closes with a hung queue).
 */
static void s_uq_stall(struct s_state *s)
{
	struct s_uq *u = NULL;
	struct lumen_cmd c[2], *ring;
	uint64_t done, end, t0;
	uint32_t w, period;
	int32_t st = 0;
	int timeout, was_tainted = s->tainted;

	if (!s->ctl || s->hang_next >= 8 || !pct(40))
		return;
	for (int i = 0; i < s->nuq && !u; i++)
		if (s->uq[i].db && s->uq[i].cpu && s->uq[i].ring_va == s->uq[i].map_va &&
		    !s->uq[i].bad)
			u = &s->uq[i];
	if (!u)
		return;
	done = uq_completed(s, u);
	if (u->pushed - MIN(done, u->pushed) + 2 > u->entries)
		return;
	w = CTL_HANG + s->hang_next++;
	c[0] = ld_cmd_wait(s->ctl_va + 8 * w, 1);
	c[1] = ld_cmd_nop();
	c[1].flags = DRM_LUMEN_CMD_F_IRQ;
	ring = (struct lumen_cmd *)u->cpu;
	for (int k = 0; k < 2; k++)
		ring[(u->tail + k) & (u->entries - 1)] = c[k];
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	u->tail += 2;
	u->pushed += 2;
	S->uq_pushes++;
	S->uq_cmds += 2;
	s->inflight = 1;
	timeout = S->uq_hangs < UQ_HANG_BUDGET && pct(30);
	if (timeout) {
		S->uq_hangs++;
		s->tainted = 1;
	}
	db_store(u->db, u->tail);
	if (!timeout) {
		usleep((useconds_t)rn(30000));
		s->ctl[w] = 1;
		if (!x_uq_wait(s, u->id, u->pushed, wait_tmo(WAIT_MAX_NS), NULL, &st) && st)
			s_job_status(s, "released user-mode queue failed", st);
		return;
	}
	/* The kernel checks every period and wants two alike: at most three
	 * periods. The period is job_timeout_ms, or with links at least twice
	 * the default E2E timeout (lumen_uq_hang_period()). */
	period = s->job_timeout_ms;
#if LF_DRV_LAST > DRM_LUMEN_WAIT
	if (s->links && period < 2 * LUMEN_E2E_TIMEOUT_DEFAULT_MS)
		period = 2 * LUMEN_E2E_TIMEOUT_DEFAULT_MS;
#endif
	t0 = ld_now_ns();
	end = t0 + (3ull * period + 2000) * 1000000ull;
	for (;;) {
		int ret = x_uq_wait(s, u->id, u->pushed, wait_tmo(WAIT_MAX_NS), &done, &st);

		if (!ret && st)
			break;
		if (!ret) {
			if (!was_tainted)
				uq_unexpected("queue %u retired a WAIT on a word that stays 0",
					      u->id);
			break;
		}
		if (ret != -ETIME && ret != -EINTR)
			break;
		if (ld_now_ns() > end) {
			const struct drm_lumen_uq_cpl *r =
				(const void *)(u->cpu + uq_ring_bytes(u));
			struct drm_lumen_context_status cs;

			memset(&cs, 0, sizeof(cs));
			ld_ctx_status(s->fd, &cs);
			uq_unexpected("queue %u hung on a WAIT for %u ms and the kernel did not "
				      "notice (job_timeout_ms %u, check period %u): UQ_WAIT "
				      "completed %llu of %llu, "
				      "record completed %llu status %u error %u, tail %u, context "
				      "flags 0x%x error %d timeouts %u, tainted before %d", u->id,
				      3 * period + 2000, s->job_timeout_ms, period,
				      (unsigned long long)done, (unsigned long long)u->pushed,
				      (unsigned long long)r->completed, r->status, r->error, u->tail,
				      cs.flags, cs.error, cs.timeouts, was_tainted);
			break;
		}
	}
	if (st) {
		struct drm_lumen_context_status cs;

		S->uq_hangs_seen++;
		if (st == -ETIMEDOUT)
			S->uq_hang_ms_max = MAX(S->uq_hang_ms_max, (ld_now_ns() - t0) / 1000000);
		memset(&cs, 0, sizeof(cs));
		/* A remote command before the WAIT may have stopped it first
		 * (refused, unreachable), leaving the context usable. */
		if (st != -ETIMEDOUT && st != -ECANCELED && st != -ENODEV && st != -EACCES &&
		    st != -EHOSTUNREACH && !was_tainted)
			uq_unexpected("hung queue %u failed with %d (%s), want -ETIMEDOUT", u->id, st,
				      strerror(-st));
		else if (st == -ETIMEDOUT && !ld_ctx_status(s->fd, &cs) &&
			 !(cs.flags & DRM_LUMEN_CTX_BANNED))
			uq_unexpected("hung queue %u left its context unbanned (flags 0x%x)", u->id,
				      cs.flags);
	}
	s->need_reopen = 1;
}

/* Nothing given to a user-mode queue is still outstanding. */
static int s_uq_idle(struct s_state *s)
{
	for (int i = 0; i < s->nuq; i++)
		if (uq_completed(s, &s->uq[i]) < s->uq[i].pushed)
			return 0;
	return 1;
}

/* Before the file closes: ring views and stale doorbells go. */
static void s_uq_close_all(struct s_state *s)
{
	for (int i = 0; i < s->nuq; i++) {
		if (s->uq[i].cpu)
			munmap(s->uq[i].cpu, s->uq[i].bo_size);
		s->uq[i].cpu = NULL;
	}
	for (int i = 0; i < s->nstale_db; i++)
		munmap((void *)s->stale_db[i], PAGE);
	s->nstale_db = 0;
}

/* After close(): the live doorbell mappings still hold the file, so the
 * queues run on; a store goes to the queue, then the munmap releases it. */
static void s_uq_after_close(struct s_state *s)
{
	for (int i = 0; i < s->nuq; i++) {
		if (s->uq[i].db) {
			if (pct(50))
				db_store(s->uq[i].db, s->uq[i].tail);
			munmap((void *)s->uq[i].db, PAGE);
		}
	}
	s->nuq = 0;
}
#else
static void s_uq_create(struct s_state *s) { (void)s; }
static void s_uq_push(struct s_state *s) { (void)s; }
static void s_uq_wait(struct s_state *s) { (void)s; }
static void s_uq_fence(struct s_state *s) { (void)s; }
static void s_uq_destroy(struct s_state *s) { (void)s; }
static void s_uq_doorbell(struct s_state *s) { (void)s; }
static void s_uq_stall(struct s_state *s) { (void)s; }
static int s_uq_idle(struct s_state *s) { (void)s; return 1; }
static int s_find_uq(struct s_state *s, uint32_t id) { (void)s; (void)id; return -1; }
static void s_uq_close_all(struct s_state *s) { (void)s; }
static void s_uq_after_close(struct s_state *s) { (void)s; }
#endif

static void struct_main(int card)
{
	static const struct {
		void (*fn)(struct s_state *s);
		const char *name;
		unsigned int weight;
	} ops[] = {
		{ s_submit, "submit", 24 }, { s_vm_map, "map", 8 }, { s_vm_unmap, "unmap", 5 },
		{ s_bo_create, "bo_create", 7 }, { s_bo_info, "bo_info", 4 },
		{ s_gem_close, "gem_close", 3 }, { s_wait, "wait", 5 }, { s_query, "query", 3 },
		{ s_get_param, "get_param", 2 }, { s_queue_create, "queue_create", 2 },
		{ s_queue_destroy, "queue_destroy", 2 }, { s_prime, "prime", 5 },
		{ s_syncobj, "syncobj", 8 }, { s_mmap, "mmap", 5 }, { s_cpu, "cpu", 3 },
		{ s_core, "core", 2 }, { s_drain, "drain", 1 }, { s_hang, "hang", 1 },
		{ s_window_open, "window_open", 4 }, { s_window_close, "window_close", 3 },
		{ s_link, "link", 4 },
		/* uAPI 1.4: user-mode queues (stubs without it). */
		{ s_uq_create, "uq_create", LF_UQ * 3 }, { s_uq_push, "uq_push", LF_UQ * 6 },
		{ s_uq_wait, "uq_sync", LF_UQ * 3 }, { s_uq_fence, "uq_fence", LF_UQ * 2 },
		{ s_uq_destroy, "uq_destroy", LF_UQ * 2 },
		{ s_uq_doorbell, "uq_doorbell", LF_UQ * 1 }, { s_uq_stall, "uq_stall", LF_UQ * 1 },
	};
	/* Debugging aid: LUMEN_FUZZ_OPS=submit,map,... runs only those. */
	const char *only = getenv("LUMEN_FUZZ_OPS");
	unsigned int total = 0, weight[ARRAY_LEN(ops)];
	struct s_state s;

	memset(&s, 0, sizeof(s));
	s.card = card;
	s.cmds = calloc(DRM_LUMEN_MAX_CMDS, sizeof(*s.cmds));
	s.bos = calloc(DRM_LUMEN_MAX_BOS, sizeof(*s.bos));
	s.ins = calloc(DRM_LUMEN_MAX_SYNCS, sizeof(*s.ins));
	s.outs = calloc(DRM_LUMEN_MAX_SYNCS, sizeof(*s.outs));
	if (!s.cmds || !s.bos || !s.ins || !s.outs)
		child_fail("out of memory");
	for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
		weight[i] = only && !strstr(only, ops[i].name) ? 0 : ops[i].weight;
		total += weight[i];
	}
	if (!total)
		child_fail("LUMEN_FUZZ_OPS selects no operation");
	s_open(&s);
	while (!budget_done()) {
		unsigned int x = (unsigned int)rn(total);
		size_t i;

		if (s.need_reopen || S->done - s.opened_at >= s.reopen_after)
			s_reopen(&s);
		for (i = 0; x >= weight[i]; i++)
			x -= weight[i];
		ops[i].fn(&s);
		if (s.nq == 0 && pct(20))
			s_queue_create(&s);
		if (s.nbo == 0)
			s_new_bo(&s, -1);
	}
	s_close(&s);
}

/* ---- one child ----------------------------------------------------------------- */

static void child_main(int slot, uint64_t seed, uint32_t gen)
{
	struct rlimit rl;

	S = &g_slots[slot];
	g_rs = mix64(seed ^ mix64((uint64_t)slot << 32 | gen));

	child_signals();
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < MIN(rl.rlim_max, (rlim_t)4096)) {
		rl.rlim_cur = MIN(rl.rlim_max, (rlim_t)4096);
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	child_memory();
	if (S->mode == LF_MODE_RANDOM)
		random_main();
	else
		struct_main(S->card);
	S->finished = 1;
	_exit(0);
}

/* ---- the parent ----------------------------------------------------------------- */

struct proc {
	pid_t pid;
	uint32_t gen;
	int killed;		/* the parent sent SIGKILL */
	uint64_t last_done;
	uint64_t last_change_ns;
};

static int bo_stats_total(int card, long *objects)
{
	char dir[128], path[192];
	char *txt, *line;

	if (ld_debugfs_dir(card, dir, sizeof(dir)))
		return -1;
	snprintf(path, sizeof(path), "%s/bo_stats", dir);
	txt = ld_read_file(path);
	if (!txt)
		return -1;
	line = strstr(txt, "\ntotal");
	if (!line || sscanf(line + 6, "%ld", objects) != 1) {
		free(txt);
		return -1;
	}
	free(txt);
	return 0;
}

/* sysfs reset_count of a card (drivers that reset cards by themselves), or -1. */
static long card_resets(int card, char *reason, size_t len)
{
	char pci[16], path[128], buf[64];

	if (reason && len)
		reason[0] = '\0';
	if (ld_card_pci(card, pci, sizeof(pci)))
		return -1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset_reason", pci);
	if (reason && gu_read_sysfs(path, reason, len))
		reason[0] = '\0';
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset_count", pci);
	if (gu_read_sysfs(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

static void report_stuck(int slot, pid_t pid)
{
	char path[64], *txt;

	printf("lumen-fuzz: slot %d (pid %d) made no progress for %d s\n", slot, (int)pid,
	       STUCK_S);
	snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
	txt = ld_read_file(path);
	printf("  wchan: %s\n", txt ? txt : "?");
	free(txt);
	snprintf(path, sizeof(path), "/proc/%d/stack", (int)pid);
	txt = ld_read_file(path);
	printf("  kernel stack:\n%s", txt ? txt : "?\n");
	free(txt);
}

static void print_summary(const struct lf_opts *o, int nslots, int kills, double secs)
{
	uint64_t per_mode[2] = { 0, 0 }, err[NERR] = { 0 }, calls[2][OP_COUNT] = { { 0 } };
	uint64_t ok[2][OP_COUNT] = { { 0 } };
	struct lf_slot t;

	memset(&t, 0, sizeof(t));
	for (int i = 0; i < nslots; i++) {
		const struct lf_slot *s = &g_slots[i];
		int m = s->mode == LF_MODE_STRUCT;

		per_mode[m] += s->done;
		for (int e = 0; e < NERR; e++)
			err[e] += s->err[e];
		for (int k = 0; k < OP_COUNT; k++) {
			calls[m][k] += s->op_calls[k];
			ok[m][k] += s->op_ok[k];
		}
		t.mmaps += s->mmaps;
		t.mmap_ok += s->mmap_ok;
		t.munmaps += s->munmaps;
		t.touches += s->touches;
		t.touch_faults += s->touch_faults;
		t.touch_signals += s->touch_signals;
		t.reopens += s->reopens;
		t.bans += s->bans;
		t.unexplained_bans += s->unexplained_bans;
		t.enodev += s->enodev;
		t.jobs += s->jobs;
		t.job_errors += s->job_errors;
		t.hangs += s->hangs;
		t.remote_errors += s->remote_errors;
		t.uq_creates += s->uq_creates;
		t.uq_pushes += s->uq_pushes;
		t.uq_cmds += s->uq_cmds;
		t.uq_destroys += s->uq_destroys;
		t.uq_hangs += s->uq_hangs;
		t.uq_hangs_seen += s->uq_hangs_seen;
		t.uq_db_stores += s->uq_db_stores;
		t.uq_stale_stores += s->uq_stale_stores;
		t.uq_db_faults += s->uq_db_faults;
		t.uq_unexpected += s->uq_unexpected;
		t.uq_hang_ms_max = MAX(t.uq_hang_ms_max, s->uq_hang_ms_max);
	}
	printf("lumen-fuzz: summary: seed %" PRIu64 ", mode %s, %d processes, %.1f s: "
	       "%" PRIu64 " ioctls (random %" PRIu64 ", struct %" PRIu64 ")\n",
	       o->seed, lf_mode_name(o->mode), o->procs, secs, per_mode[0] + per_mode[1],
	       per_mode[0], per_mode[1]);
	printf("lumen-fuzz: mmaps %" PRIu64 " (%" PRIu64 " mapped), munmaps %" PRIu64
	       ", accesses %" PRIu64 " (%" PRIu64 " -EFAULT, %" PRIu64 " signals), kills %d, "
	       "reopens %" PRIu64 ", bans %" PRIu64 ", -ENODEV %" PRIu64 ", jobs %" PRIu64
	       " (%" PRIu64 " failed, %" PRIu64 " left to time out)\n",
	       t.mmaps, t.mmap_ok, t.munmaps, t.touches, t.touch_faults, t.touch_signals, kills,
	       t.reopens, t.bans, t.enodev, t.jobs, t.job_errors, t.hangs);
	if (t.uq_creates || t.uq_unexpected || t.uq_db_faults)
		printf("lumen-fuzz: user-mode queues: %" PRIu64 " created, %" PRIu64 " destroyed, %"
		       PRIu64 " pushes (%" PRIu64 " commands), %" PRIu64 " doorbell stores (%" PRIu64
		       " into stale mappings, %" PRIu64 " raised a signal), %" PRIu64 " left to hang (%"
		       PRIu64 " seen stopped, after at most %" PRIu64 " ms), %" PRIu64
		       " results the uAPI does not allow\n",
		       t.uq_creates, t.uq_destroys, t.uq_pushes, t.uq_cmds, t.uq_db_stores,
		       t.uq_stale_stores, t.uq_db_faults, t.uq_hangs, t.uq_hangs_seen,
		       t.uq_hang_ms_max, t.uq_unexpected);
	if (t.remote_errors)
		printf("lumen-fuzz: %" PRIu64 " jobs failed by a remote refusal (-EACCES, "
		       "-EHOSTUNREACH, -ETIMEDOUT) with their context left unbanned\n",
		       t.remote_errors);
	printf("lumen-fuzz: errno:");
	for (int e = 0; e < NERR; e++) {
		const char *name;

		if (!err[e])
			continue;
		name = e == 0 ? "ok" : e == NERR - 1 ? "other" : strerrorname_np(e);
		printf(" %s %" PRIu64, name ? name : "?", err[e]);
	}
	printf("\n");
	for (int m = 0; m < 2; m++) {
		if (!per_mode[m])
			continue;
		printf("lumen-fuzz: %s calls (ok):", m ? "struct" : "random");
		for (int k = 0; k < OP_COUNT; k++)
			if (calls[m][k])
				printf(" %s %" PRIu64 " (%" PRIu64 ")", op_names[k], calls[m][k],
				       ok[m][k]);
		printf("\n");
	}
	if (o->verbose)
		for (int i = 0; i < nslots; i++) {
			const struct lf_slot *s = &g_slots[i];

			printf("lumen-fuzz: slot %d (%s): %" PRIu64 " ioctls, close %.1f s, open %.1f s,"
			       " ms per op:", i, s->mode == LF_MODE_STRUCT ? "struct" : "random",
			       s->done, s->reopen_ns / 1e9, s->open_ns / 1e9);
			for (int k = 0; k < OP_COUNT; k++)
				if (s->op_calls[k])
					printf(" %s %.0f", op_names[k], s->op_ns[k] / 1e6);
			printf("\n");
		}
	if (t.unexplained_bans)
		printf("lumen-fuzz: FAIL: %" PRIu64 " bans/job failures of contexts that did "
		       "nothing wrong (details above)\n", t.unexplained_bans);
	if (t.uq_unexpected || t.uq_db_faults)
		printf("lumen-fuzz: FAIL: user-mode queues: %" PRIu64 " results the uAPI does not "
		       "allow, %" PRIu64 " doorbell stores that raised a signal (details above)\n",
		       t.uq_unexpected, t.uq_db_faults);
}

void lf_opts_default(struct lf_opts *o)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	memset(o, 0, sizeof(*o));
	o->seed = mix64(((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^
			((uint64_t)getpid() << 40)) % 1000000000ull;
	o->procs = 4;
	o->count = 120000;
	o->mode = LF_MODE_BOTH;
	o->kill = 1;
	if (getenv("LUMEN_FUZZ_KNOWN"))
		snprintf(o->known, sizeof(o->known), "%s", getenv("LUMEN_FUZZ_KNOWN"));
}

const char *lf_mode_name(enum lf_mode mode)
{
	return mode == LF_MODE_RANDOM ? "random" : mode == LF_MODE_STRUCT ? "struct" : "both";
}

int lf_parse_args(struct lf_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "procs", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'c' },
		{ "mode", required_argument, NULL, 'm' },
		{ "no-kill", no_argument, NULL, 'K' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "known", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	char *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:p:c:m:vh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			o->seed = strtoull(optarg, &end, 0);
			if (*end)
				goto bad;
			break;
		case 'p':
			o->procs = (int)strtol(optarg, &end, 0);
			if (*end || o->procs < 1 || o->procs > LF_MAX_PROCS)
				goto bad;
			break;
		case 'c':
			o->count = strtoull(optarg, &end, 0);
			if (*end || !o->count)
				goto bad;
			break;
		case 'm':
			if (!strcmp(optarg, "random"))
				o->mode = LF_MODE_RANDOM;
			else if (!strcmp(optarg, "struct"))
				o->mode = LF_MODE_STRUCT;
			else if (!strcmp(optarg, "both"))
				o->mode = LF_MODE_BOTH;
			else
				goto bad;
			break;
		case 'K':
			o->kill = 0;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'k':
			snprintf(o->known, sizeof(o->known), "%s", optarg);
			break;
		case 'h':
			printf("Usage: lumen-fuzz [--seed N] [--procs N (1-%d)] [--count N] "
			       "[--mode random|struct|both] [--no-kill] [--verbose]\n"
			       "                  [--known syncobj-count,dmabuf-mmap,bo-leak,uq-id]\n"
			       "Fuzz the ioctls and mmaps of every /dev/accel card bound to lumen "
			       "(run it in a tests/vm/run guest); see the top of "
			       "tests/guest/lumen_fuzz.c.\n", LF_MAX_PROCS);
			return 1;
		default:
			return -1;
		}
	}
	if (optind == argc)
		return 0;
bad:
	fprintf(stderr, "lumen-fuzz: bad argument (see --help)\n");
	return -1;
}

static pid_t spawn(int slot, const struct lf_opts *o, uint32_t gen)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		child_main(slot, o->seed, gen);
	return pid;
}

int lf_check_cards(void)
{
	const size_t len = 256 << 10;
	int n = ld_num_cards(), bad = 0;

	for (int i = 0; i < n; i++) {
		struct ld_buf src, mid, dst;
		uint32_t q, bos[3];
		struct lumen_cmd c;
		int fd = ld_open(i), ret;
		long at;

		if (fd < 0) {
			printf("lumen-fuzz: card %d: cannot open: %s\n", i, strerror(-fd));
			bad = 1;
			continue;
		}
		ret = ld_queue_create(fd, &q);
		if (!ret)
			ret = ld_buf_new(fd, LD_HOST, len, &src);
		if (!ret)
			ret = ld_buf_new(fd, LD_DEVICE, len, &mid);
		if (!ret)
			ret = ld_buf_new(fd, LD_HOST, len, &dst);
		if (ret) {
			printf("lumen-fuzz: card %d: setup for the copy failed: %s\n", i,
			       strerror(-ret));
			bad = 1;
			close(fd);
			continue;
		}
		ld_pattern(src.map, len, 0xf022u + (uint32_t)i);
		memset(dst.map, 0, len);
		bos[0] = src.handle;
		bos[1] = mid.handle;
		bos[2] = dst.handle;
		c = ld_cmd_copy(mid.va, src.va, len);
		ret = ld_run1(fd, q, &c, bos, 3);
		if (!ret) {
			c = ld_cmd_copy(dst.va, mid.va, len);
			ret = ld_run1(fd, q, &c, bos, 3);
		}
		at = ret ? -1 : ld_check_pattern(dst.map, len, 0xf022u + (uint32_t)i, 0);
		if (ret || at >= 0) {
			printf("lumen-fuzz: card %d: copy host -> device -> host %s (%s, first "
			       "bad byte %ld)\n", i, "FAILED", ret ? strerror(-ret) : "data", at);
			bad = 1;
		}
		ld_buf_free(&dst);
		ld_buf_free(&mid);
		ld_buf_free(&src);
		close(fd);
	}
	if (!n) {
		printf("lumen-fuzz: no card bound to lumen\n");
		bad = 1;
	}
	if (!bad)
		printf("lumen-fuzz: a fresh fd on each of the %d card(s) copies 256 KiB "
		       "byte-exactly through a queue\n", n);
	return bad ? -1 : 0;
}

#if LF_DRV_LAST > DRM_LUMEN_WAIT
/* Every card's route table and port controls, kept across the run. */
static struct {
	int links;
	uint32_t nports;
	uint32_t ctrl[LUMEN_LINK_PORTS_MAX];
	uint32_t *routes;
} g_fabric[GU_MAX_CARDS];

static int route_all(int fd, uint32_t op, uint32_t *words)
{
	struct drm_lumen_route r = {
		.op = op, .count = DRM_LUMEN_MAX_CHIPS, .words = (uintptr_t)words,
	};

	return ld_ioctl(fd, DRM_IOCTL_LUMEN_ROUTE, &r);
}

static void fabric_save(void)
{
	for (int c = 0; c < g_ncards && c < GU_MAX_CARDS; c++) {
		struct drm_lumen_link_info li;
		uint32_t size = sizeof(li);
		uint64_t caps = 0;
		int fd = ld_open(c);

		g_fabric[c].links = 0;
		if (fd < 0)
			continue;
		if (!ld_get_param(fd, DRM_LUMEN_PARAM_CAPABILITIES, &caps) &&
		    (caps & DRM_LUMEN_CAP_LINKS) && !ld_query(fd, DRM_LUMEN_QUERY_LINK, &li, &size)) {
			g_fabric[c].nports = MIN(li.num_ports, (uint32_t)LUMEN_LINK_PORTS_MAX);
			g_fabric[c].routes = calloc(DRM_LUMEN_MAX_CHIPS, sizeof(uint32_t));
			g_fabric[c].links = g_fabric[c].routes &&
					    !route_all(fd, DRM_LUMEN_ROUTE_GET, g_fabric[c].routes);
			for (uint32_t p = 0; p < g_fabric[c].nports && g_fabric[c].links; p++) {
				struct drm_lumen_port_ctrl pc = { .port = p };

				if (ld_ioctl(fd, DRM_IOCTL_LUMEN_PORT_CTRL, &pc))
					g_fabric[c].links = 0;
				g_fabric[c].ctrl[p] = pc.ctrl;
			}
		}
		close(fd);
	}
}

/* Put routes and ports back as they were; -1 if that failed. */
static int fabric_restore(void)
{
	int bad = 0;

	for (int c = 0; c < g_ncards && c < GU_MAX_CARDS; c++) {
		int fd;

		if (!g_fabric[c].links)
			continue;
		fd = ld_open(c);
		if (fd < 0 || route_all(fd, DRM_LUMEN_ROUTE_SET, g_fabric[c].routes)) {
			printf("lumen-fuzz: FAIL: card %d: cannot restore its route table\n", c);
			bad = 1;
		}
		for (uint32_t p = 0; fd >= 0 && p < g_fabric[c].nports; p++) {
			struct drm_lumen_port_ctrl pc = { .port = p, .set = 1,
							  .ctrl = g_fabric[c].ctrl[p] };

			if (ld_ioctl(fd, DRM_IOCTL_LUMEN_PORT_CTRL, &pc) ||
			    pc.ctrl != g_fabric[c].ctrl[p]) {
				printf("lumen-fuzz: FAIL: card %d: cannot restore port %u\n", c, p);
				bad = 1;
			}
		}
		if (fd >= 0)
			close(fd);
		free(g_fabric[c].routes);
		g_fabric[c].routes = NULL;
	}
	return bad ? -1 : 0;
}
#else
static void fabric_save(void)
{
}

static int fabric_restore(void)
{
	return 0;
}
#endif

int lf_run(const struct lf_opts *o)
{
	struct proc procs[LF_MAX_PROCS];
	long before[GU_MAX_CARDS], after = -1, resets[GU_MAX_CARDS];
	uint64_t t0 = ld_now_ns(), next_kill, next_report;
	int nslots = o->procs, nstruct = 0, kills = 0, failed = 0, live;
	size_t shared_len = sizeof(struct lf_shared) + sizeof(struct lf_slot) * (size_t)o->procs;

	init_known();
	g_verbose = o->verbose;
	g_avoid_count = !!strstr(o->known, "syncobj-count");
	g_avoid_dmabuf_mmap = !!strstr(o->known, "dmabuf-mmap");
	g_known_bo_leak = !!strstr(o->known, "bo-leak");
	g_avoid_uq_id = !!strstr(o->known, "uq-id");
	g_ncards = ld_num_cards();
	printf("lumen-fuzz: seed %" PRIu64 " (rerun: lumen-fuzz --seed %" PRIu64 " --procs %d "
	       "--count %" PRIu64 " --mode %s%s%s%s), %d card(s)\n",
	       o->seed, o->seed, o->procs, o->count, lf_mode_name(o->mode),
	       o->kill ? "" : " --no-kill", o->known[0] ? " --known " : "", o->known, g_ncards);
	fflush(stdout);
	if (g_ncards < 1) {
		printf("lumen-fuzz: no card bound to lumen\n");
		return -1;
	}
	for (int c = 0; c < g_ncards && c < GU_MAX_CARDS; c++) {
		if (bo_stats_total(c, &before[c]))
			before[c] = -1;
		resets[c] = card_resets(c, NULL, 0);
	}
	fabric_save();
	gu_log_mark();

	g_nslots = nslots;
	g_sh = mmap(NULL, shared_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g_sh == MAP_FAILED) {
		printf("lumen-fuzz: cannot map the statistics: %s\n", strerror(errno));
		return -1;
	}
	g_sh->count = o->count;
	/* Random mode is ~10x faster per ioctl (struct mode waits for jobs):
	 * in "both" it stops at 60% of the count, struct mode does the rest. */
	g_sh->random_cap = o->mode == LF_MODE_BOTH ? o->count * 6 / 10 : o->count;
	g_slots = (struct lf_slot *)(g_sh + 1);
	memset(procs, 0, sizeof(procs));
	for (int i = 0; i < nslots; i++) {
		struct lf_slot *s = &g_slots[i];

		s->mode = o->mode == LF_MODE_BOTH ? (i % 2 ? LF_MODE_STRUCT : LF_MODE_RANDOM)
						  : (int)o->mode;
		if (s->mode == LF_MODE_STRUCT)
			s->card = nstruct++ % g_ncards;
	}
	g_rs = mix64(o->seed ^ 0x5eed);	/* the parent's own sequence: kill times */
	next_kill = t0 + 100000000ull + rn(1500000000ull);
	next_report = t0 + 20 * LD_SEC_NS;

	for (;;) {
		uint64_t now;
		int status;
		pid_t pid;

		/* Reap; respawn what the parent killed. */
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			int i;

			for (i = 0; i < nslots && procs[i].pid != pid; i++)
				;
			if (i == nslots)
				continue;
			procs[i].pid = 0;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && g_slots[i].finished)
				continue;
			if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && procs[i].killed) {
				procs[i].killed = 0;
				continue;
			}
			failed = 1;
			g_slots[i].finished = 1;	/* no respawn */
			if (WIFSIGNALED(status))
				printf("lumen-fuzz: FAIL: slot %d (pid %d, generation %u, seed %"
				       PRIu64 ") killed by signal %d (%s)%s\n", i, (int)pid,
				       procs[i].gen, o->seed, WTERMSIG(status),
				       strsignal(WTERMSIG(status)),
				       WTERMSIG(status) == SIGKILL ? ", not sent by the parent "
				       "(the OOM killer?)" : ": a bug of the fuzzer");
			else
				printf("lumen-fuzz: FAIL: slot %d (pid %d) exited with %d: %s\n", i,
				       (int)pid, WEXITSTATUS(status),
				       g_slots[i].fail[0] ? g_slots[i].fail : "?");
		}
		now = ld_now_ns();
		live = 0;
		for (int i = 0; i < nslots; i++) {
			if (!procs[i].pid && !g_slots[i].finished) {
				procs[i].gen++;
				procs[i].pid = spawn(i, o, procs[i].gen);
				if (procs[i].pid < 0) {
					printf("lumen-fuzz: fork: %s\n", strerror(errno));
					procs[i].pid = 0;
					g_slots[i].finished = 1;
					failed = 1;
					continue;
				}
				procs[i].last_change_ns = now;
			}
			if (procs[i].pid)
				live++;
			if (g_slots[i].done != procs[i].last_done) {
				procs[i].last_done = g_slots[i].done;
				procs[i].last_change_ns = now;
			} else if (procs[i].pid && !procs[i].killed &&
				   now - procs[i].last_change_ns > STUCK_S * LD_SEC_NS) {
				report_stuck(i, procs[i].pid);
				failed = 1;
				g_slots[i].finished = 1;
				kill(procs[i].pid, SIGKILL);
				procs[i].killed = 1;
			}
		}
		if (!live)
			break;
		if (o->kill && now >= next_kill) {
			int i = (int)rn(nslots);

			if (procs[i].pid && !procs[i].killed && !g_slots[i].finished) {
				kill(procs[i].pid, SIGKILL);
				procs[i].killed = 1;
				kills++;
			}
			next_kill = now + 100000000ull + rn(1500000000ull);
		}
		if (now >= next_report) {
			uint64_t done = g_sh->issued;

			printf("lumen-fuzz: %" PRIu64 "/%" PRIu64 " ioctls, %d kills, %.0f s\n",
			       done, o->count, kills, (double)(now - t0) / 1e9);
			fflush(stdout);
			next_report = now + 20 * LD_SEC_NS;
		}
		usleep(10000);
	}
	print_summary(o, nslots, kills, (double)(ld_now_ns() - t0) / 1e9);
	for (int i = 0; i < nslots; i++)
		if (g_slots[i].unexplained_bans || g_slots[i].uq_unexpected ||
		    g_slots[i].uq_db_faults)
			failed = 1;
	/* Routes and ports the run changed, for whatever runs next. */
	if (fabric_restore())
		failed = 1;

	/* The driver may reset a card by itself (e.g. after repeated hangs):
	 * allowed, but worth knowing about. */
	for (int c = 0; c < g_ncards && c < GU_MAX_CARDS; c++) {
		char why[64];
		long n = card_resets(c, why, sizeof(why));

		if (resets[c] >= 0 && n > resets[c])
			printf("lumen-fuzz: card %d was reset %ld time(s) during the run (last reason: "
			       "%s)\n", c, n - resets[c], why[0] ? why : "?");
	}

	/* Every BO freed once the processes are gone (jobs retire meanwhile). */
	for (int c = 0; c < g_ncards && c < GU_MAX_CARDS; c++) {
		int ok = 0;

		if (before[c] < 0)
			continue;
		for (int tries = 0; tries < 100 && !ok; tries++) {
			ok = !bo_stats_total(c, &after) && after == before[c];
			if (!ok)
				usleep(100000);
		}
		if (!ok) {
			printf("lumen-fuzz: %s: card %d: %ld BOs before the run, %ld after it "
			       "(debugfs bo_stats, 10 s after the last process exited)\n",
			       g_known_bo_leak ? "known bug (bo-leak)" : "FAIL", c, before[c], after);
			if (!g_known_bo_leak)
				failed = 1;
		}
	}
	if (!gu_log_clean()) {
		printf("lumen-fuzz: FAIL: the kernel log has an oops/BUG/WARNING since the start "
		       "(seed %" PRIu64 ")\n", o->seed);
		failed = 1;
	}
	if (lf_check_cards())
		failed = 1;
	munmap(g_sh, shared_len);
	g_slots = NULL;
	g_sh = NULL;
	printf("lumen-fuzz: %s (seed %" PRIu64 ")\n", failed ? "FAILED" : "passed", o->seed);
	fflush(stdout);
	return failed ? -1 : 0;
}
