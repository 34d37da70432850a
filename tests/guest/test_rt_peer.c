// SPDX-License-Identifier: MIT
/*
 * liblumen peer access between contexts (lumen.h "Peer access between
 * contexts"): lumen_device_can_access_peer, enable/disable and
 * lumen_memcpy_peer_async on real cards and links.
 *
 *   tests/vm/run --no-build --cards 4 --fabric ring -- \
 *     sh -c 'lumen-route program --topology ring:4 && lumen-guest-tests rt_peer'
 *
 *   - can_access: a card reaches its own chip (loopback) and, on a fabric,
 *     every routed chip, with READ, WRITE and ATOMIC (REDUCE where both
 *     cards have it); a chip id beyond the table is INVALID_CHIP;
 *   - argument checks: bad handles, ctx == peer, a stream of neither
 *     context (WRONG_DEVICE), copies before enable and after disable
 *     (PEER_ACCESS_NOT_ENABLED), one way only, ranges outside the peer's
 *     allocations or in the wrong context, size 0;
 *   - two contexts on one chip (loopback) and, on a fabric, every ordered
 *     pair of cards: writes (the source's stream) and reads (the
 *     destination's stream) of 1 B to 1 MiB + 3 at unaligned offsets,
 *     guards around the range intact; the same context is a d2d copy;
 *   - fabric handles: hostile handles, copies through an imported remote
 *     pointer, another process writing with only the handle's bytes,
 *     read-only exports, revoke, free of exported memory, a caller's own
 *     window making lumen_free fail before it changes anything;
 *   - an IPC import as peer memory: lumen_ipc_close closes the runtime's
 *     window on it;
 *   - a stream waiting on a word of its memory (lumen_stream_wait_value64)
 *     until another chip's remote write and atomic release it, the work
 *     behind the wait held until then; lumen_stream_write_value64;
 *   - the runtime's windows: freeing peer memory a copy used works (its
 *     window is closed), more peer allocations than a context's window
 *     slots give BUSY naming the limit, slots come back when freed, and a
 *     destroyed peer context makes later copies INVALID_HANDLE.
 */
#include "rt_test.h"

#include <sys/wait.h>
#include <unistd.h>

#include <lumen/lumen.h>

#define MAX_CARDS 4
#define BUF	  (2 * MiB)
#define GUARD	  0x5a

struct card {
	lumen_device_t dev;
	lumen_context_t ctx;
	lumen_stream_t s;
	uint32_t chip;
	lumen_devptr_t src, dst;
};

struct fx {
	int n;
	int links;
	int fabric;
	struct card c[MAX_CARDS];
	struct card twin; /* a second context on card 0's chip */
	uint8_t *host, *back;
};

static struct fx *F;

static int card_open(struct card *c, int idx)
{
	if (rt_context_open(idx, &c->dev, &c->ctx, "rt_peer setup"))
		return -1;
	if (lumen_stream_create(c->ctx, &c->s) || lumen_device_get_chip_id(c->dev, &c->chip) ||
	    lumen_malloc(c->ctx, BUF, &c->src) || lumen_malloc(c->ctx, BUF, &c->dst)) {
		fprintf(stderr, "rt_peer setup: card %d: %s\n", idx, lumen_get_last_error());
		return -1;
	}
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	lumen_link_info_t li;
	int n = 0;

	if (!f)
		return -1;
	*state = F = f;
	f->host = malloc(BUF);
	f->back = malloc(BUF);
	if (!f->host || !f->back || lumen_device_count(&n) || n < 1)
		return -1;
	f->n = n < MAX_CARDS ? n : MAX_CARDS;
	f->fabric = getenv("LUMEN_VM_FABRIC") != NULL && f->n > 1;
	for (int i = 0; i < f->n; i++)
		if (card_open(&f->c[i], i))
			return -1;
	if (card_open(&f->twin, 0))
		return -1;
	LUMEN_STRUCT_INIT(li);
	f->links = lumen_device_get_link_info(f->c[0].dev, &li) == LUMEN_SUCCESS;
	printf("# %d cards%s%s\n", f->n, f->links ? "" : ", no link engine: peer tests skip",
	       f->fabric ? ", on a fabric" : ", no fabric: pair tests skip");
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < f->n; i++)
		lumen_context_destroy(f->c[i].ctx);
	lumen_context_destroy(f->twin.ctx);
	free(f->host);
	free(f->back);
	free(f);
	return 0;
}

static void need_links(void)
{
	if (!F->links)
		skip();
}

/* Fill dst of c with GUARD. */
static void guard_fill(struct card *c)
{
	memset(F->host, GUARD, BUF);
	rt_h2d(c->ctx, c->dst, F->host, BUF);
}

/* dst of c holds pattern seed over [off, off + size), GUARD elsewhere. */
static void expect_copied(struct card *c, size_t off, size_t size, uint32_t seed, const char *what)
{
	rt_d2h(c->ctx, F->back, c->dst, BUF);
	rt_expect_pattern(F->back + off, size, seed, 0, what);
	for (size_t i = 0; i < BUF; i++)
		if ((i < off || i >= off + size) && F->back[i] != GUARD)
			fail_msg("%s: byte %zu outside the range is %#x, not the guard", what, i,
				 F->back[i]);
}

static void can_access(void **state)
{
	int can = -1;
	uint32_t caps = 0;
	lumen_device_props_t p;

	(void)state;
	need_links();
	RT_OK(lumen_device_can_access_peer(F->c[0].dev, F->c[0].chip, &can, &caps));
	assert_int_equal(can, 1);
	assert_int_equal(caps & (LUMEN_PEER_READ | LUMEN_PEER_WRITE | LUMEN_PEER_ATOMIC),
			 LUMEN_PEER_READ | LUMEN_PEER_WRITE | LUMEN_PEER_ATOMIC);
	LUMEN_STRUCT_INIT(p);
	RT_OK(lumen_device_get_props(F->c[0].dev, &p));
	printf("# card 0 to its own chip: can %d, caps %#x\n", can, caps);
	RT_OK(lumen_device_can_access_peer(F->c[0].dev, F->c[0].chip, &can, NULL));
	RT_FAIL(lumen_device_can_access_peer(F->c[0].dev, 1u << 20, &can, &caps),
		LUMEN_ERROR_INVALID_CHIP);
	RT_FAIL(lumen_device_can_access_peer(F->c[0].dev, 0, NULL, &caps),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_device_can_access_peer(NULL, 0, &can, &caps), LUMEN_ERROR_INVALID_HANDLE);
	if (!F->fabric)
		return;
	for (int i = 0; i < F->n; i++)
		for (int j = 0; j < F->n; j++) {
			can = -1;
			RT_OK(lumen_device_can_access_peer(F->c[i].dev, F->c[j].chip, &can, &caps));
			if (can != 1)
				fail_msg("card %d cannot reach chip %u (routes programmed?)", i,
					 F->c[j].chip);
		}
	/* A chip id no route leads to: can 0 from the card's own table, or
	 * INVALID_CHIP from a fabric manager that knows the supernode. */
	lumen_status_t st = lumen_device_can_access_peer(F->c[0].dev, 4000, &can, &caps);
	if (st == LUMEN_SUCCESS) {
		assert_int_equal(can, 0);
		assert_int_equal(caps, 0);
	} else {
		RT_FAIL_AS("lumen_device_can_access_peer", st, LUMEN_ERROR_INVALID_CHIP);
	}
}

static void bad_arguments(void **state)
{
	struct card *a = &F->c[0], *b = &F->twin;

	(void)state;
	need_links();
	RT_FAIL(lumen_context_enable_peer_access(NULL, b->ctx), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_context_enable_peer_access(a->ctx, NULL), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_context_enable_peer_access(a->ctx, a->ctx), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_context_disable_peer_access(a->ctx, NULL), LUMEN_ERROR_INVALID_HANDLE);
	/* Not enabled yet: refused, naming the call to make. */
	RT_FAIL(lumen_memcpy_peer_async(a->s, b->ctx, b->dst, a->ctx, a->src, 64),
		LUMEN_ERROR_PEER_ACCESS_NOT_ENABLED);
	assert_non_null(strstr(lumen_get_last_error(), "lumen_context_enable_peer_access"));
	/* Idempotent both ways. */
	RT_OK(lumen_context_enable_peer_access(a->ctx, b->ctx));
	RT_OK(lumen_context_enable_peer_access(a->ctx, b->ctx));
	/* One way: b's stream reading from a needs b -> a. */
	RT_FAIL(lumen_memcpy_peer_async(b->s, b->ctx, b->dst, a->ctx, a->src, 64),
		LUMEN_ERROR_PEER_ACCESS_NOT_ENABLED);
	/* A stream of neither context. */
	if (F->n > 1)
		RT_FAIL(lumen_memcpy_peer_async(F->c[1].s, b->ctx, b->dst, a->ctx, a->src, 64),
			LUMEN_ERROR_WRONG_DEVICE);
	/* Ranges: past the peer's allocation, in no allocation, the wrong context. */
	RT_FAIL(lumen_memcpy_peer_async(a->s, b->ctx, b->dst + BUF - 8, a->ctx, a->src, 64),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_memcpy_peer_async(a->s, b->ctx, 0x1000, a->ctx, a->src, 64),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL2(lumen_memcpy_peer_async(a->s, b->ctx, a->dst, a->ctx, a->src, 64),
		 LUMEN_ERROR_WRONG_DEVICE, LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_memcpy_peer_async(a->s, b->ctx, b->dst, a->ctx, a->src + BUF, 1),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_memcpy_peer_async(NULL, b->ctx, b->dst, a->ctx, a->src, 64),
		LUMEN_ERROR_INVALID_HANDLE);
	RT_OK(lumen_memcpy_peer_async(a->s, b->ctx, b->dst, a->ctx, a->src, 0));
	RT_OK(lumen_context_disable_peer_access(a->ctx, b->ctx));
	RT_OK(lumen_context_disable_peer_access(a->ctx, b->ctx));
	RT_FAIL(lumen_memcpy_peer_async(a->s, b->ctx, b->dst, a->ctx, a->src, 64),
		LUMEN_ERROR_PEER_ACCESS_NOT_ENABLED);
	RT_OK(lumen_stream_synchronize(a->s));
}

static const size_t kSizes[] = {1, 4097, 65536 + 13, 1 * MiB + 3};

/* src on card a -> dst on card b: a's stream writes, then b's stream reads. */
static void pair(struct card *a, struct card *b, uint32_t seed)
{
	char what[96];

	RT_OK(lumen_context_enable_peer_access(a->ctx, b->ctx));
	RT_OK(lumen_context_enable_peer_access(b->ctx, a->ctx));
	for (size_t k = 0; k < sizeof(kSizes) / sizeof(kSizes[0]); k++) {
		size_t size = kSizes[k], soff = 3 + 7 * k, doff = 4096 * k + 1;

		ld_pattern(F->host, size, seed + (uint32_t)k);
		rt_h2d(a->ctx, a->src + soff, F->host, size);
		/* write: on the source's stream */
		guard_fill(b);
		RT_OK(lumen_memcpy_peer_async(a->s, b->ctx, b->dst + doff, a->ctx, a->src + soff,
					      size));
		RT_OK(lumen_stream_synchronize(a->s));
		snprintf(what, sizeof(what), "write chip %u -> %u, %zu bytes", a->chip, b->chip,
			 size);
		expect_copied(b, doff, size, seed + (uint32_t)k, what);
		/* read: on the destination's stream */
		guard_fill(b);
		RT_OK(lumen_memcpy_peer_async(b->s, b->ctx, b->dst + doff, a->ctx, a->src + soff,
					      size));
		RT_OK(lumen_stream_synchronize(b->s));
		snprintf(what, sizeof(what), "read chip %u <- %u, %zu bytes", b->chip, a->chip,
			 size);
		expect_copied(b, doff, size, seed + (uint32_t)k, what);
	}
}

static void same_chip(void **state)
{
	(void)state;
	need_links();
	pair(&F->c[0], &F->twin, 100);
	/* The same context: an ordinary device copy, no peer access needed. */
	struct card *a = &F->c[0];
	ld_pattern(F->host, 4096, 7);
	rt_h2d(a->ctx, a->src, F->host, 4096);
	RT_OK(lumen_memcpy_peer_async(a->s, a->ctx, a->src + 8192, a->ctx, a->src, 4096));
	RT_OK(lumen_stream_synchronize(a->s));
	rt_d2h(a->ctx, F->back, a->src + 8192, 4096);
	rt_expect_pattern(F->back, 4096, 7, 0, "memcpy_peer within one context");
}

static void every_pair(void **state)
{
	(void)state;
	need_links();
	if (!F->fabric)
		skip();
	for (int i = 0; i < F->n; i++)
		for (int j = 0; j < F->n; j++)
			if (i != j)
				pair(&F->c[i], &F->c[j], 1000 + 10 * (uint32_t)(i * MAX_CARDS + j));
	printf("# %d ordered pairs, writes and reads of %zu sizes each, byte-exact\n",
	       F->n * (F->n - 1), sizeof(kSizes) / sizeof(kSizes[0]));
}

/* The runtime's windows on peer memory: freed with the memory, limited by
 * the peer context's window slots. */
static void windows(void **state)
{
	struct card *a = &F->c[0], *b = &F->twin;
	lumen_link_info_t li;
	lumen_devptr_t p[40];
	unsigned opened = 0;
	lumen_status_t st = LUMEN_SUCCESS;

	(void)state;
	need_links();
	LUMEN_STRUCT_INIT(li);
	RT_OK(lumen_device_get_link_info(b->dev, &li));
	assert_true(li.max_windows < 40);
	RT_OK(lumen_context_enable_peer_access(a->ctx, b->ctx));
	/* Each peer allocation a copy reaches takes one of b's window slots. */
	for (unsigned i = 0; i <= li.max_windows; i++) {
		RT_OK(lumen_malloc(b->ctx, 512 * KiB, &p[i]));
		st = lumen_memcpy_peer_async(a->s, b->ctx, p[i], a->ctx, a->src, 4096);
		if (st != LUMEN_SUCCESS)
			break;
		opened++;
	}
	printf("# %u peer allocations reached, max_windows %u: %s\n", opened, li.max_windows,
	       lumen_status_string(st));
	RT_FAIL_AS("lumen_memcpy_peer_async", st, LUMEN_ERROR_BUSY);
	assert_non_null(strstr(lumen_get_last_error(), "window"));
	RT_OK(lumen_stream_synchronize(a->s));
	/* Freeing peer memory closes its window: every free works, and the
	 * slots are back. */
	for (unsigned i = 0; i <= opened && i <= li.max_windows; i++)
		RT_OK(lumen_free(b->ctx, p[i]));
	RT_OK(lumen_malloc(b->ctx, 512 * KiB, &p[0]));
	ld_pattern(F->host, 4096, 55);
	rt_h2d(a->ctx, a->src, F->host, 4096);
	RT_OK(lumen_memcpy_peer_async(a->s, b->ctx, p[0] + 100, a->ctx, a->src, 4096));
	RT_OK(lumen_stream_synchronize(a->s));
	rt_d2h(b->ctx, F->back, p[0] + 100, 4096);
	rt_expect_pattern(F->back, 4096, 55, 0, "a copy after the slots came back");
	RT_OK(lumen_free(b->ctx, p[0]));
}

/* The child of fabric_handles, in a process of its own (exec'd): import the
 * handle given in hex, write pattern seed into its first n bytes from card
 * idx, exit 0 when the stream says the write completed. */
static int child_write(const char *hexh, int idx, uint32_t seed, size_t n)
{
	lumen_fabric_handle_t h;
	lumen_device_t dev;
	lumen_context_t ctx;
	lumen_stream_t s;
	lumen_devptr_t remote, src;
	uint8_t *buf = malloc(n);

	if (!buf || strlen(hexh) != 2 * sizeof(h))
		return 2;
	for (size_t i = 0; i < sizeof(h); i++) {
		unsigned v;
		if (sscanf(hexh + 2 * i, "%2x", &v) != 1)
			return 2;
		((uint8_t *)&h)[i] = (uint8_t)v;
	}
	if (rt_context_open(idx, &dev, &ctx, "rt_peer child"))
		return 3;
	ld_pattern(buf, n, seed);
	lumen_status_t st = lumen_mem_import_fabric(ctx, &h, &remote);
	if (!st)
		st = lumen_stream_create(ctx, &s);
	if (!st)
		st = lumen_malloc(ctx, n, &src);
	if (!st)
		st = lumen_memcpy_h2d_async(s, src, buf, n);
	if (!st)
		st = lumen_memcpy_peer_async(s, ctx, remote, ctx, src, n);
	if (!st)
		st = lumen_stream_synchronize(s);
	if (st) {
		fprintf(stderr, "rt_peer child: %s: %s\n", lumen_status_string(st),
			lumen_get_last_error());
		return 1;
	}
	printf("# child pid %d: wrote %zu bytes into chip %u's region through its handle\n",
	       (int)getpid(), n, h.window.chip_id);
	lumen_context_destroy(ctx);
	free(buf);
	return 0;
}

/* Run child_write in a new process (this binary, exec'd). */
static int spawn_writer(const lumen_fabric_handle_t *h, int idx, uint32_t seed, size_t n)
{
	char hexh[2 * sizeof(*h) + 1], a1[16], a2[16], a3[24];
	int status = 0;

	for (size_t i = 0; i < sizeof(*h); i++)
		snprintf(hexh + 2 * i, 3, "%02x", ((const uint8_t *)h)[i]);
	snprintf(a1, sizeof(a1), "%d", idx);
	snprintf(a2, sizeof(a2), "%u", seed);
	snprintf(a3, sizeof(a3), "%zu", n);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", "guest_test_rt_peer", "--write-into", hexh, a1, a2, a3,
		      (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void fabric_handles(void **state)
{
	struct card *a = &F->c[0], *b = &F->twin;
	lumen_fabric_handle_t h, bad;
	lumen_devptr_t r, r2;
	const size_t n = 64 * KiB;

	(void)state;
	need_links();
	/* The region: 64 KiB of b at an unaligned offset. */
	guard_fill(b);
	RT_FAIL(lumen_mem_export_fabric(b->ctx, b->dst + 100, n, 0, &h),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_mem_export_fabric(b->ctx, b->dst + 100, BUF, LUMEN_WINDOW_WRITE, &h),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_mem_export_fabric(b->ctx, b->dst, 0, LUMEN_WINDOW_WRITE, &h),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_OK(lumen_mem_export_fabric(b->ctx, b->dst + 100, n,
				      LUMEN_WINDOW_READ | LUMEN_WINDOW_WRITE, &h));
	assert_int_equal(h.magic, LUMEN_FABRIC_HANDLE_MAGIC);
	assert_int_equal(h.version, LUMEN_FABRIC_HANDLE_VERSION);
	assert_int_equal(h.window.chip_id, b->chip);
	assert_int_equal(h.window.size, n);

	/* Hostile handles. */
	bad = h;
	bad.magic ^= 1;
	RT_FAIL(lumen_mem_import_fabric(a->ctx, &bad, &r), LUMEN_ERROR_INVALID_ARGUMENT);
	bad = h;
	bad.version = 2;
	RT_FAIL(lumen_mem_import_fabric(a->ctx, &bad, &r), LUMEN_ERROR_INVALID_ARGUMENT);
	bad = h;
	bad.reserved = 1;
	RT_FAIL(lumen_mem_import_fabric(a->ctx, &bad, &r), LUMEN_ERROR_INVALID_ARGUMENT);
	bad = h;
	bad.window.size = 0;
	RT_FAIL(lumen_mem_import_fabric(a->ctx, &bad, &r), LUMEN_ERROR_INVALID_ARGUMENT);
	bad = h;
	bad.window.window = 1u << 20;
	RT_FAIL(lumen_mem_import_fabric(a->ctx, &bad, &r), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_mem_import_fabric(a->ctx, NULL, &r), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_mem_import_fabric(a->ctx, &h, NULL), LUMEN_ERROR_INVALID_ARGUMENT);

	/* Imported: a write then a read through the remote pointer, no peer access. */
	RT_OK(lumen_mem_import_fabric(a->ctx, &h, &r));
	ld_pattern(F->host, 4096, 77);
	rt_h2d(a->ctx, a->src, F->host, 4096);
	RT_OK(lumen_memcpy_peer_async(a->s, a->ctx, r + 10, a->ctx, a->src, 4096));
	RT_OK(lumen_memcpy_peer_async(a->s, a->ctx, a->dst, a->ctx, r + 10, 4096));
	RT_OK(lumen_stream_synchronize(a->s));
	expect_copied(b, 110, 4096, 77, "write through an imported handle");
	rt_d2h(a->ctx, F->back, a->dst, 4096);
	rt_expect_pattern(F->back, 4096, 77, 0, "read through an imported handle");
	/* Misuse of the remote pointer. */
	RT_FAIL(lumen_memcpy_peer_async(a->s, a->ctx, r + n - 8, a->ctx, a->src, 16),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_memcpy_peer_async(a->s, a->ctx, r, a->ctx, r + 4096, 16),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_memcpy_peer_async(b->s, b->ctx, r, b->ctx, b->src, 16),
		LUMEN_ERROR_INVALID_ARGUMENT); /* b did not import it */
	RT_FAIL(lumen_memcpy_d2d_async(a->s, r, a->src, 16), LUMEN_ERROR_INVALID_ARGUMENT);

	/* Another process, with only the handle's bytes. */
	int idx = F->fabric ? F->n - 1 : 0;
	guard_fill(b);
	int rc = spawn_writer(&h, idx, 78, 8192);
	if (rc != 0)
		fail_msg("the writer process exited %d", rc);
	expect_copied(b, 100, 8192, 78, "written by another process through the handle");

	/* A read-only export refuses writes before anything is queued. */
	lumen_fabric_handle_t ro;
	RT_OK(lumen_mem_export_fabric(b->ctx, b->src, 4096, LUMEN_WINDOW_READ, &ro));
	RT_OK(lumen_mem_import_fabric(a->ctx, &ro, &r2));
	RT_FAIL(lumen_memcpy_peer_async(a->s, a->ctx, r2, a->ctx, a->src, 16),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_OK(lumen_mem_release_fabric(a->ctx, r2));
	RT_FAIL(lumen_mem_release_fabric(a->ctx, r2), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_memcpy_peer_async(a->s, a->ctx, a->dst, a->ctx, r2, 16),
		LUMEN_ERROR_INVALID_ARGUMENT);

	/* Revoked: the target refuses, the region keeps its bytes. */
	RT_OK(lumen_mem_revoke_fabric(b->ctx, &h));
	RT_FAIL(lumen_mem_revoke_fabric(b->ctx, &h), LUMEN_ERROR_INVALID_ARGUMENT);
	guard_fill(b);
	RT_OK(lumen_memcpy_peer_async(a->s, a->ctx, r, a->ctx, a->src, 4096));
	RT_FAIL(lumen_stream_synchronize(a->s), LUMEN_ERROR_REMOTE_ACCESS);
	expect_copied(b, 0, 0, 0, "a revoked region");
	RT_OK(lumen_mem_release_fabric(a->ctx, r));

	/* A window of the caller's own makes lumen_free fail before anything
	 * changed: the export on the same memory still works. */
	lumen_window_t uw;
	lumen_devptr_t r3;
	RT_OK(lumen_mem_export_fabric(b->ctx, b->dst, 4096, LUMEN_WINDOW_WRITE, &h));
	RT_OK(lumen_window_open(b->ctx, b->dst, 64, LUMEN_WINDOW_READ, &uw));
	RT_FAIL(lumen_free(b->ctx, b->dst), LUMEN_ERROR_BUSY);
	RT_OK(lumen_mem_import_fabric(a->ctx, &h, &r3));
	RT_OK(lumen_memcpy_peer_async(a->s, a->ctx, r3, a->ctx, a->src, 64));
	RT_OK(lumen_stream_synchronize(a->s));
	RT_OK(lumen_window_close(uw));
	RT_OK(lumen_mem_revoke_fabric(b->ctx, &h));
	RT_OK(lumen_mem_release_fabric(a->ctx, r3));

	/* Freeing exported memory closes the export: the free works. */
	lumen_devptr_t p;
	RT_OK(lumen_malloc(b->ctx, 512 * KiB, &p));
	RT_OK(lumen_mem_export_fabric(b->ctx, p, 512 * KiB, LUMEN_WINDOW_WRITE, &h));
	RT_OK(lumen_free(b->ctx, p));
	RT_FAIL(lumen_mem_revoke_fabric(b->ctx, &h), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_OK(lumen_mem_revoke_fabric(b->ctx, &ro));
}

/* An IPC import is peer memory like any other: a copy reaches it, and
 * lumen_ipc_close closes the runtime's window on it instead of failing. */
static void ipc_import_as_peer(void **state)
{
	struct card *a = &F->c[0], *b = &F->twin;
	lumen_devptr_t big, imp;
	size_t isz = 0;
	int fd = -1;

	(void)state;
	need_links();
	RT_OK(lumen_malloc(a->ctx, 1 * MiB, &big));
	RT_OK(lumen_ipc_export(a->ctx, big, &fd));
	RT_OK(lumen_ipc_import(b->ctx, fd, &imp, &isz));
	close(fd);
	ld_pattern(F->host, 4096, 91);
	rt_h2d(a->ctx, a->src, F->host, 4096);
	RT_OK(lumen_context_enable_peer_access(a->ctx, b->ctx));
	RT_OK(lumen_memcpy_peer_async(a->s, b->ctx, imp + 8, a->ctx, a->src, 4096));
	RT_OK(lumen_stream_synchronize(a->s));
	rt_d2h(a->ctx, F->back, big + 8, 4096);
	rt_expect_pattern(F->back, 4096, 91, 0, "a peer copy into an IPC import");
	RT_OK(lumen_ipc_close(b->ctx, imp));
	RT_OK(lumen_free(a->ctx, big));
}

/* A stream held by a word of its memory until a peer's remote atomic
 * releases it: the device-side ordering collectives build on. */
static void wait_on_peer(void **state)
{
	struct card *a = &F->c[0], *b = F->fabric ? &F->c[F->n - 1] : &F->twin;
	lumen_devptr_t flag;
	lumen_window_t w;
	lumen_window_desc_t d;
	lumen_devptr_t inbox;
	uint64_t v = 0;

	(void)state;
	need_links();
	/* a: [flag | inbox 4 KiB] in one allocation, a window on it for b. */
	RT_OK(lumen_malloc(a->ctx, 8 + 4096, &flag));
	inbox = flag + 8;
	RT_OK(lumen_memset(a->ctx, flag, 0, 8 + 4096));
	RT_OK(lumen_window_open(a->ctx, flag, 8 + 4096, LUMEN_WINDOW_WRITE | LUMEN_WINDOW_ATOMIC,
				&w));
	RT_OK(lumen_window_get_desc(w, &d));
	/* Bad arguments. */
	RT_FAIL(lumen_stream_wait_value64(a->s, flag + 4, 1), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_stream_write_value64(a->s, 0x1000, 1), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_stream_wait_value64(NULL, flag, 1), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_stream_write_value64(a->s, b->src, 1), LUMEN_ERROR_WRONG_DEVICE);
	/* a's stream: wait for the flag, then copy the inbox out. */
	RT_OK(lumen_memset(a->ctx, a->dst, 0, 4096));
	RT_OK(lumen_stream_wait_value64(a->s, flag, 1));
	RT_OK(lumen_memcpy_d2d_async(a->s, a->dst, inbox, 4096));
	rt_sleep_ms(300);
	assert_int_equal(lumen_stream_query(a->s), LUMEN_ERROR_NOT_READY); /* held by the wait */
	/* b: the data, then the flag, in order on one stream to one chip. */
	ld_pattern(F->host, 4096, 123);
	rt_h2d(b->ctx, b->src, F->host, 4096);
	RT_OK(lumen_remote_write_async(b->s, &d, 8, b->src, 4096));
	RT_OK(lumen_remote_atomic_async(b->s, &d, 0, LUMEN_ATOMIC_FETCH_ADD, 1, 0));
	RT_OK(lumen_stream_synchronize(b->s));
	RT_OK(lumen_stream_synchronize(a->s));
	rt_d2h(a->ctx, F->back, a->dst, 4096);
	rt_expect_pattern(F->back, 4096, 123, 0,
			  "the inbox copied once the peer released the wait");
	printf("# chip %u's stream waited for chip %u's remote atomic\n", a->chip, b->chip);
	/* write_value64, then a wait it already satisfies. */
	RT_OK(lumen_stream_write_value64(a->s, flag, 41));
	RT_OK(lumen_stream_wait_value64(a->s, flag, 41));
	RT_OK(lumen_stream_synchronize(a->s));
	RT_OK(lumen_memcpy(a->ctx, &v, (void *)(uintptr_t)flag, 8, LUMEN_COPY_DEVICE_TO_HOST));
	assert_int_equal(v, 41);
	RT_OK(lumen_window_close(w));
	RT_OK(lumen_free(a->ctx, flag));
}

/* Last: destroys the twin context. */
static void peer_destroyed(void **state)
{
	struct card *a = &F->c[0], *b = &F->twin;

	(void)state;
	need_links();
	RT_OK(lumen_context_enable_peer_access(a->ctx, b->ctx));
	RT_OK(lumen_memcpy_peer_async(a->s, b->ctx, b->dst, a->ctx, a->src, 4096));
	RT_OK(lumen_stream_synchronize(a->s));
	RT_OK(lumen_context_destroy(b->ctx));
	RT_FAIL(lumen_memcpy_peer_async(a->s, b->ctx, b->dst, a->ctx, a->src, 4096),
		LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_context_disable_peer_access(a->ctx, b->ctx), LUMEN_ERROR_INVALID_HANDLE);
	/* a goes on working. */
	RT_OK(lumen_memcpy_d2d_async(a->s, a->dst, a->src, 4096));
	RT_OK(lumen_stream_synchronize(a->s));
	/* The fixture's teardown destroys it again: make that a no-op. */
	RT_OK(lumen_context_create(a->dev, &b->ctx));
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "--write-into"))
		return child_write(argv[2], atoi(argv[3]), (uint32_t)strtoul(argv[4], NULL, 0),
				   strtoull(argv[5], NULL, 0));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(can_access),
		cmocka_unit_test(bad_arguments),
		cmocka_unit_test(same_chip),
		cmocka_unit_test(every_pair),
		cmocka_unit_test(windows),
		cmocka_unit_test(fabric_handles),
		cmocka_unit_test(ipc_import_as_peer),
		cmocka_unit_test(wait_on_peer),
		cmocka_unit_test(peer_destroyed),
	};
	return cmocka_run_group_tests_name("rt_peer", tests, setup, teardown);
}
