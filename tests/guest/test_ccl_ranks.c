// SPDX-License-Identifier: MIT
/*
 * liblumen-ccl communicators whose ranks meet through
 * lumen_ccl_comm_init_rank, each rank in a thread of its own as it would
 * be in a process of its own, against a CPU reference:
 *
 *   tests/vm/run --no-build --cards 4 --fabric ring -- \
 *     sh -c 'lumen-route program --topology ring:4 && lumen-guest-tests ccl_ranks'
 *   tests/vm/run --no-build --guests 2 --cards 4 --fabric torus:2x4 -- \
 *     lumen-guest-tests ccl_ranks
 *
 * Ranks: one per card, guest g's cards being ranks g * cards ..; the
 * unique id travels from guest 0 over the management Ethernet and the
 * bootstrap runs over it (libfabric's tcp provider). Without a fabric,
 * three ranks on card 0's loopback. Each test runs on every rank at once:
 *   - all-reduce for every dtype and op, non-power-of-two counts, in place
 *     and out of place, and one of several staging slices per block;
 *   - all-gather, reduce-scatter, broadcast and reduce from two roots;
 *   - sends and receives to the next two ranks in a group, all-to-all;
 *   - a barrier holds every rank's stream until the last rank's stream
 *     reaches it (rank 0's held by a host callback);
 *   - argument checks of reduce and barrier;
 *   - with lumen-fm in one guest: an all-reduce loop across a fiber cut
 *     that the manager reroutes; every result right, the communicator
 *     reports the new generation and its re-plan.
 */
#include "rt_test.h"
#include "guest_util.h"
#include "link_util.h"
#include "vm_sync.h"

#include <stdbool.h>

#include "ccl_test.h"

#define MAX_LOCAL 4
#define SYNC_S	  300

struct rank {
	int rank, card;
	lumen_context_t ctx;
	lumen_stream_t s;
	lumen_ccl_comm_t comm;
	lumen_devptr_t a, b;
	uint8_t *host;
	char err[512];
	pthread_t t;
};

struct fx {
	int g, guests, local, n;
	lumen_ccl_unique_id_t id;
	struct rank r[MAX_LOCAL];
};

static struct fx *F;

#define BUF_BYTES (8 * MiB)

static void rank_fail(struct rank *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rank_fail(struct rank *r, const char *fmt, ...)
{
	va_list ap;

	if (r->err[0])
		return; /* the first failure says most */
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
}

/* Each of r's steps: false once it failed (the rest of that rank's part skips). */
#define R_OK(r, call)                                                                              \
	({                                                                                         \
		lumen_status_t st_ = (call);                                                       \
		if (st_ != LUMEN_SUCCESS)                                                          \
			rank_fail((r), "rank %d: %s -> %s: %s %s", (r)->rank, #call,               \
				  lumen_status_string(st_), lumen_ccl_get_last_error(),            \
				  lumen_get_last_error());                                         \
		st_ == LUMEN_SUCCESS;                                                              \
	})

struct phase {
	void (*fn)(struct rank *r, const void *arg);
	const void *arg;
	struct rank *r;
};

static void *phase_thread(void *p)
{
	struct phase *ph = p;

	ph->fn(ph->r, ph->arg);
	return NULL;
}

/* fn on every local rank at once, each in its thread; fails the test with
 * the first rank's error. */
static void on_every_rank(void (*fn)(struct rank *, const void *), const void *arg)
{
	struct phase ph[MAX_LOCAL];

	for (int i = 0; i < F->local; i++) {
		F->r[i].err[0] = 0;
		ph[i] = (struct phase){fn, arg, &F->r[i]};
		assert_int_equal(pthread_create(&F->r[i].t, NULL, phase_thread, &ph[i]), 0);
	}
	for (int i = 0; i < F->local; i++)
		pthread_join(F->r[i].t, NULL);
	for (int i = 0; i < F->local; i++)
		if (F->r[i].err[0])
			fail_msg("%s", F->r[i].err);
}

/* ---- values and their reference ---------------------------------------------- */

/* Rank r's input at element i: small integers, exact in every dtype and in
 * every partial sum of up to 8 ranks. */
static int32_t val(int r, size_t i)
{
	return (int32_t)((i * 7 + (size_t)r * 13) % 61) - 30;
}

static size_t esize(lumen_dtype_t t)
{
	return t == LUMEN_DTYPE_F16 || t == LUMEN_DTYPE_BF16 ? 2 : 4;
}

static void put(void *buf, size_t i, lumen_dtype_t t, int32_t v)
{
	float f = (float)v;
	uint32_t u;

	switch (t) {
	case LUMEN_DTYPE_F32:
		((float *)buf)[i] = f;
		break;
	case LUMEN_DTYPE_I32:
		((int32_t *)buf)[i] = v;
		break;
	case LUMEN_DTYPE_F16:
		((_Float16 *)buf)[i] = (_Float16)f;
		break;
	case LUMEN_DTYPE_BF16:
		memcpy(&u, &f, 4);
		((uint16_t *)buf)[i] = (uint16_t)(u >> 16); /* exact for small integers */
		break;
	}
}

static double get(const void *buf, size_t i, lumen_dtype_t t)
{
	uint32_t u;
	float f;

	switch (t) {
	case LUMEN_DTYPE_F32:
		return ((const float *)buf)[i];
	case LUMEN_DTYPE_I32:
		return ((const int32_t *)buf)[i];
	case LUMEN_DTYPE_F16:
		return (double)((const _Float16 *)buf)[i];
	case LUMEN_DTYPE_BF16:
		u = (uint32_t)((const uint16_t *)buf)[i] << 16;
		memcpy(&f, &u, 4);
		return f;
	}
	return 0;
}

static int64_t reduced(size_t i, lumen_reduce_op_t op)
{
	int64_t want = val(0, i);

	for (int q = 1; q < F->n; q++) {
		int64_t v = val(q, i);

		want = op == LUMEN_REDUCE_SUM	? want + v
		       : op == LUMEN_REDUCE_MAX ? (v > want ? v : want)
						: (v < want ? v : want);
	}
	return want;
}

/* count elements of rank r's values, from element `first` on, to dst. */
static bool fill(struct rank *r, lumen_devptr_t dst, size_t first, size_t count, lumen_dtype_t t)
{
	for (size_t i = 0; i < count; i++)
		put(r->host, i, t, val(r->rank, first + i));
	/* The source is captured before the call returns. */
	return R_OK(r, lumen_memcpy_h2d_async(r->s, dst, r->host, count * esize(t)));
}

static bool fetch(struct rank *r, lumen_devptr_t src, size_t bytes)
{
	return R_OK(r, lumen_memcpy_d2h_async(r->s, r->host, src, bytes)) &&
	       R_OK(r, lumen_stream_synchronize(r->s));
}

static const char *dtype_name(lumen_dtype_t t)
{
	static const char *const n[] = {"f32", "f16", "bf16", "i32"};

	return (unsigned)t < 4 ? n[t] : "?";
}

/* ---- fixture -------------------------------------------------------------------- */

static void init_rank(struct rank *r, const void *arg)
{
	(void)arg;
	if (!R_OK(r, lumen_stream_create(r->ctx, &r->s)) ||
	    !R_OK(r, lumen_malloc(r->ctx, BUF_BYTES, &r->a)) ||
	    !R_OK(r, lumen_malloc(r->ctx, BUF_BYTES, &r->b)))
		return;
	R_OK(r, lumen_ccl_comm_init_rank(&r->comm, F->n, F->id, r->rank, r->ctx));
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	lumen_device_t dev;
	int cards = 0;

	if (!f)
		return -1;
	*state = F = f;
	if (lumen_device_count(&cards) || cards < 1)
		return -1;
	const int fabric = getenv("LUMEN_VM_FABRIC") != NULL && cards > 1;
	f->g = vs_env_int("LUMEN_VM_GUEST", 0);
	f->guests = vs_env_int("LUMEN_VM_GUESTS", 1);
	f->local = fabric ? (cards < MAX_LOCAL ? cards : MAX_LOCAL) : 3;
	f->n = f->local * f->guests;
	if (f->guests > 1) {
		/* Every chip on the way has its routes before any traffic. */
		if (lu_program_routes() || vs_barrier("ccl_ranks setup", "ccl-routes", SYNC_S))
			return -1;
	}
	for (int i = 0; i < f->local; i++) {
		struct rank *r = &f->r[i];

		r->rank = f->g * f->local + i;
		r->card = fabric ? i : 0;
		r->host = malloc(BUF_BYTES);
		if (!r->host || rt_context_open(r->card, &dev, &r->ctx, "ccl_ranks setup"))
			return -1;
	}
	if (f->g == 0 && lumen_ccl_get_unique_id(&f->id)) {
		fprintf(stderr, "ccl_ranks setup: %s\n", lumen_ccl_get_last_error());
		return -1;
	}
	if (f->guests > 1) {
		size_t len = 0;
		void *id;

		if (vs_exchange("ccl_ranks setup", "ccl-id", &f->id, sizeof(f->id), SYNC_S))
			return -1;
		id = vs_exchanged("ccl-id", 0, &len);
		if (!id || len != sizeof(f->id)) {
			fprintf(stderr, "ccl_ranks setup: no unique id from guest 0\n");
			free(id);
			return -1;
		}
		memcpy(&f->id, id, sizeof(f->id));
		free(id);
	}
	struct phase ph[MAX_LOCAL];

	for (int i = 0; i < f->local; i++) {
		ph[i] = (struct phase){init_rank, NULL, &f->r[i]};
		if (pthread_create(&f->r[i].t, NULL, phase_thread, &ph[i]))
			return -1;
	}
	for (int i = 0; i < f->local; i++)
		pthread_join(f->r[i].t, NULL);
	for (int i = 0; i < f->local; i++)
		if (f->r[i].err[0]) {
			fprintf(stderr, "ccl_ranks setup: %s\n", f->r[i].err);
			return -1;
		}
	printf("# %d ranks (%d guest%s x %d), %s\n", f->n, f->guests, f->guests > 1 ? "s" : "",
	       f->local, fabric ? "one per card over the fabric" : "on card 0's loopback");
	return 0;
}

static void destroy_rank(struct rank *r, const void *arg)
{
	(void)arg;
	if (r->comm)
		R_OK(r, lumen_ccl_comm_destroy(r->comm));
}

static int teardown(void **state)
{
	struct fx *f = *state;
	struct phase ph[MAX_LOCAL];

	/* Each rank drains its neighbours' acknowledgements: all at once. */
	for (int i = 0; i < f->local; i++) {
		f->r[i].err[0] = 0;
		ph[i] = (struct phase){destroy_rank, NULL, &f->r[i]};
		pthread_create(&f->r[i].t, NULL, phase_thread, &ph[i]);
	}
	for (int i = 0; i < f->local; i++) {
		pthread_join(f->r[i].t, NULL);
		if (f->r[i].err[0])
			fprintf(stderr, "ccl_ranks teardown: %s\n", f->r[i].err);
		if (f->r[i].ctx)
			lumen_context_destroy(f->r[i].ctx);
		free(f->r[i].host);
	}
	if (f->guests > 1)
		vs_barrier("ccl_ranks teardown", "ccl-done", SYNC_S);
	free(f);
	return 0;
}

/* ---- the collectives ------------------------------------------------------------ */

struct ar_case {
	lumen_dtype_t t;
	lumen_reduce_op_t op;
	size_t count;
	bool in_place;
};

static void all_reduce_rank(struct rank *r, const void *arg)
{
	const struct ar_case *c = arg;
	lumen_devptr_t recv = c->in_place ? r->a : r->b;

	if (!fill(r, r->a, 0, c->count, c->t) ||
	    !R_OK(r, lumen_ccl_all_reduce(r->a, recv, c->count, c->t, c->op, r->comm, r->s)) ||
	    !fetch(r, recv, c->count * esize(c->t)))
		return;
	for (size_t i = 0; i < c->count; i++)
		if (get(r->host, i, c->t) != (double)reduced(i, c->op)) {
			rank_fail(r,
				  "all-reduce %s op %d count %zu%s: rank %d element %zu is %g, "
				  "expected %lld",
				  dtype_name(c->t), c->op, c->count, c->in_place ? " in place" : "",
				  r->rank, i, get(r->host, i, c->t), (long long)reduced(i, c->op));
			return;
		}
}

static void all_reduce_every_dtype_and_op(void **state)
{
	static const lumen_dtype_t types[] = {LUMEN_DTYPE_F32, LUMEN_DTYPE_F16, LUMEN_DTYPE_BF16,
					      LUMEN_DTYPE_I32};
	static const lumen_reduce_op_t ops[] = {LUMEN_REDUCE_SUM, LUMEN_REDUCE_MAX,
						LUMEN_REDUCE_MIN};
	int k = 0;

	(void)state;
	for (size_t t = 0; t < 4; t++)
		for (size_t o = 0; o < 3; o++, k++) {
			/* Counts that divide neither by the ranks nor by a slice. */
			struct ar_case c = {types[t], ops[o], 20011 + (size_t)k * 997, k % 2 == 1};

			on_every_rank(all_reduce_rank, &c);
		}
	printf("# all-reduce on %d ranks: f32, f16, bf16, i32 x sum, max, min\n", F->n);
}

static void all_reduce_several_slices(void **state)
{
	/* f32: blocks of several 1 MiB staging slices, whatever the ranks. */
	struct ar_case c = {LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM, (size_t)F->n * 400000 + 3,
			    .in_place = false};

	(void)state;
	if (c.count * 4 > BUF_BYTES)
		c.count = BUF_BYTES / 4 - 5;
	on_every_rank(all_reduce_rank, &c);
}

#define AG_COUNT 70001

static void all_gather_rank(struct rank *r, const void *arg)
{
	(void)arg;
	if (!fill(r, r->a, 0, AG_COUNT, LUMEN_DTYPE_I32) ||
	    !R_OK(r, lumen_ccl_all_gather(r->a, r->b, AG_COUNT, LUMEN_DTYPE_I32, r->comm, r->s)) ||
	    !fetch(r, r->b, (size_t)F->n * AG_COUNT * 4))
		return;
	for (int q = 0; q < F->n; q++)
		for (size_t i = 0; i < AG_COUNT; i++)
			if (((int32_t *)r->host)[(size_t)q * AG_COUNT + i] != val(q, i)) {
				rank_fail(r, "all-gather: rank %d, block %d element %zu", r->rank,
					  q, i);
				return;
			}
}

static void all_gather(void **state)
{
	(void)state;
	on_every_rank(all_gather_rank, NULL);
}

static void reduce_scatter_rank(struct rank *r, const void *arg)
{
	(void)arg;
	if (!fill(r, r->a, 0, (size_t)F->n * AG_COUNT, LUMEN_DTYPE_F32) ||
	    !R_OK(r, lumen_ccl_reduce_scatter(r->a, r->b, AG_COUNT, LUMEN_DTYPE_F32,
					      LUMEN_REDUCE_SUM, r->comm, r->s)) ||
	    !fetch(r, r->b, AG_COUNT * 4))
		return;
	for (size_t i = 0; i < AG_COUNT; i++) {
		size_t g = (size_t)r->rank * AG_COUNT + i;

		if (((float *)r->host)[i] != (float)reduced(g, LUMEN_REDUCE_SUM)) {
			rank_fail(r, "reduce-scatter: rank %d element %zu", r->rank, i);
			return;
		}
	}
}

static void reduce_scatter(void **state)
{
	(void)state;
	on_every_rank(reduce_scatter_rank, NULL);
}

struct rooted {
	int root;
	lumen_reduce_op_t op;
};

static void broadcast_rank(struct rank *r, const void *arg)
{
	const struct rooted *c = arg;

	if (!R_OK(r, lumen_memset(r->ctx, r->b, 0, AG_COUNT * 4)) ||
	    !fill(r, r->a, 0, AG_COUNT, LUMEN_DTYPE_I32) ||
	    !R_OK(r, lumen_ccl_broadcast(r->a, r->b, AG_COUNT, LUMEN_DTYPE_I32, c->root, r->comm,
					 r->s)) ||
	    !fetch(r, r->b, AG_COUNT * 4))
		return;
	for (size_t i = 0; i < AG_COUNT; i++)
		if (((int32_t *)r->host)[i] != val(c->root, i)) {
			rank_fail(r, "broadcast from %d: rank %d element %zu", c->root, r->rank, i);
			return;
		}
}

static void reduce_rank(struct rank *r, const void *arg)
{
	const struct rooted *c = arg;
	const uint32_t untouched = 0xa5a5a5a5;

	/* recv of the other ranks stays as it was. */
	for (size_t i = 0; i < AG_COUNT; i++)
		((uint32_t *)r->host)[i] = untouched;
	if (!R_OK(r, lumen_memcpy_h2d_async(r->s, r->b, r->host, AG_COUNT * 4)) ||
	    !fill(r, r->a, 0, AG_COUNT, LUMEN_DTYPE_F32) ||
	    !R_OK(r, lumen_ccl_reduce(r->a, r->b, AG_COUNT, LUMEN_DTYPE_F32, c->op, c->root,
				      r->comm, r->s)) ||
	    !fetch(r, r->b, AG_COUNT * 4))
		return;
	for (size_t i = 0; i < AG_COUNT; i++) {
		bool ok = r->rank == c->root ? ((float *)r->host)[i] == (float)reduced(i, c->op)
					     : ((uint32_t *)r->host)[i] == untouched;

		if (!ok) {
			rank_fail(r, "reduce op %d to %d: rank %d element %zu is %g", c->op,
				  c->root, r->rank, i, ((float *)r->host)[i]);
			return;
		}
	}
	/* The send buffer is not changed on any rank. */
	if (!fetch(r, r->a, AG_COUNT * 4))
		return;
	for (size_t i = 0; i < AG_COUNT; i++)
		if (((float *)r->host)[i] != (float)val(r->rank, i)) {
			rank_fail(r, "reduce changed rank %d's send at %zu", r->rank, i);
			return;
		}
}

static void broadcast_and_reduce(void **state)
{
	const int roots[] = {0, F->n - 1, F->n / 2};

	(void)state;
	for (int k = 0; k < 3; k++) {
		struct rooted c = {roots[k], k == 1 ? LUMEN_REDUCE_MAX : LUMEN_REDUCE_SUM};

		on_every_rank(broadcast_rank, &c);
		on_every_rank(reduce_rank, &c);
	}
}

/* ---- point to point ----------------------------------------------------------------- */

#define P2P_COUNT (300000 + 7) /* i32: 1.2 MB, several p2p slots */

/* Every rank sends to the ranks 1 and 2 after it and receives from those
 * before it, in one group; across guests when there are several. */
static void send_recv_rank(struct rank *r, const void *arg)
{
	const size_t bytes = P2P_COUNT * 4;
	const int n = F->n;

	(void)arg;
	if (!fill(r, r->a, 0, P2P_COUNT, LUMEN_DTYPE_I32) ||
	    !R_OK(r, lumen_memset(r->ctx, r->b, 0, 2 * bytes)) || !R_OK(r, lumen_ccl_group_start()))
		return;
	for (int k = 1; k <= 2; k++) {
		R_OK(r, lumen_ccl_send(r->a, P2P_COUNT, LUMEN_DTYPE_I32, (r->rank + k) % n, r->comm,
				       r->s));
		R_OK(r, lumen_ccl_recv(r->b + (size_t)(k - 1) * bytes, P2P_COUNT, LUMEN_DTYPE_I32,
				       (r->rank + n - k) % n, r->comm, r->s));
	}
	if (!R_OK(r, lumen_ccl_group_end()) || !fetch(r, r->b, 2 * bytes))
		return;
	for (int k = 1; k <= 2; k++)
		for (size_t i = 0; i < P2P_COUNT; i++)
			if (((int32_t *)r->host)[(size_t)(k - 1) * P2P_COUNT + i] !=
			    val((r->rank + n - k) % n, i)) {
				rank_fail(r, "send/recv: rank %d, from rank %d, element %zu",
					  r->rank, (r->rank + n - k) % n, i);
				return;
			}
}

static void send_recv(void **state)
{
	(void)state;
	on_every_rank(send_recv_rank, NULL);
}

#define A2A_COUNT 20011 /* i32 per block */

static void all_to_all_rank(struct rank *r, const void *arg)
{
	(void)arg;
	if (!fill(r, r->a, 0, A2A_COUNT * (size_t)F->n, LUMEN_DTYPE_I32) ||
	    !R_OK(r, lumen_ccl_all_to_all(r->a, r->b, A2A_COUNT, LUMEN_DTYPE_I32, r->comm, r->s)) ||
	    !fetch(r, r->b, A2A_COUNT * (size_t)F->n * 4))
		return;
	for (int j = 0; j < F->n; j++)
		for (size_t i = 0; i < A2A_COUNT; i++)
			if (((int32_t *)r->host)[(size_t)j * A2A_COUNT + i] !=
			    val(j, (size_t)r->rank * A2A_COUNT + i)) {
				rank_fail(r, "all-to-all: rank %d, block from %d, element %zu",
					  r->rank, j, i);
				return;
			}
}

static void all_to_all(void **state)
{
	(void)state;
	on_every_rank(all_to_all_rank, NULL);
}

/* ---- barrier --------------------------------------------------------------------- */

struct barrier_case {
	struct rt_gate gate; /* holds global rank 0's stream before its barrier */
	int held_ms;
};

static void barrier_rank(struct rank *r, const void *arg)
{
	struct barrier_case *c = (struct barrier_case *)arg;
	lumen_status_t q;

	if (r->rank == 0 && !R_OK(r, lumen_launch_host_func(r->s, rt_gate_fn, &c->gate)))
		return;
	if (!R_OK(r, lumen_ccl_barrier(r->comm, r->s)))
		return;
	if (r->rank == 0) {
		/* Every other rank of this guest is held meanwhile. */
		rt_sleep_ms((unsigned)c->held_ms);
		rt_gate_open(&c->gate);
	} else if (F->g == 0) {
		rt_sleep_ms((unsigned)c->held_ms / 2);
		q = lumen_stream_query(r->s);
		if (q != LUMEN_ERROR_NOT_READY)
			rank_fail(r, "rank %d passed the barrier while rank 0 was held (%s)",
				  r->rank, lumen_status_string(q));
	}
	R_OK(r, lumen_stream_synchronize(r->s));
	/* And barriers back to back pass. */
	for (int k = 0; k < 3; k++)
		if (!R_OK(r, lumen_ccl_barrier(r->comm, r->s)))
			return;
	R_OK(r, lumen_stream_synchronize(r->s));
}

static void barrier_holds_until_the_last_rank(void **state)
{
	struct barrier_case c = {.held_ms = 600};

	(void)state;
	rt_gate_init(&c.gate);
	on_every_rank(barrier_rank, &c);
}

/* ---- a fiber cut under an all-reduce loop ----------------------------------------- */

#define CUT_ITERS  12
#define CUT_AT	   3 /* iterations before rank 0 cuts */
#define CUT_COUNT  (300000 + 11)
#define FM_WAIT_MS 120000

struct cut_case {
	char port[16];	 /* the fiber's end to cut, "C.+x" */
	uint64_t before; /* routing generation before the cut */
	int iters_after; /* iterations rank 0 ran once the manager rerouted */
};

static const char *const port_names[] = {"+x", "-x", "+y", "-y", "+z", "-z"};

static void cut_loop_rank(struct rank *r, const void *arg)
{
	struct cut_case *c = (struct cut_case *)arg;
	const struct ar_case ar = {LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM, CUT_COUNT, .in_place = false};

	for (int k = 0; k < CUT_ITERS && !r->err[0]; k++) {
		if (r->rank == 0 && k == CUT_AT) {
			uint64_t g = 0;

			if (gu_system("lumen-fabric-ctl '{\"cmd\":\"cut\",\"port\":\"%s\"}' "
				      ">/dev/null",
				      c->port)) {
				rank_fail(r, "lumen-fabric-ctl cut %s failed", c->port);
				return;
			}
			/* The rest of the loop runs on the manager's new tables. */
			if (!R_OK(r, lumen_fabric_wait_generation(c->before, FM_WAIT_MS, &g)))
				return;
			printf("# cut %s at iteration %d: generation %llu -> %llu\n", c->port, k,
			       (unsigned long long)c->before, (unsigned long long)g);
		}
		all_reduce_rank(r, &ar);
		if (r->rank == 0 && k >= CUT_AT)
			c->iters_after++;
	}
}

/* An all-reduce loop on every rank while rank 0 cuts the fiber rank 1 sends
 * to rank 2 over, and lumen-fm reroutes: every iteration's result is right,
 * and rank 1's communicator reports the new generation, a re-plan and the
 * longer way round. Needs one guest, 3 cards or more on a ring, lumen-fm and
 * the fabric's control socket. */
static void all_reduce_loop_across_a_fiber_cut(void **state)
{
	struct cut_case c = {0};
	lumen_ccl_comm_info_t info;
	lumen_fabric_info_t fi;
	lumen_route_info_t ri;
	lumen_route_hop_t hop;

	(void)state;
	if (F->guests > 1 || F->local < 3 || !getenv("LUMEN_FABRIC_CTL") ||
	    gu_system("command -v lumen-fm >/dev/null"))
		skip();
	assert_int_equal(gu_system("lumen-fm run >/tmp/ccl-fm.log 2>&1 & echo $! >/tmp/ccl-fm.pid"),
			 0);
	assert_int_equal(
		gu_system("i=0; until lumen-fm ctl status 2>/dev/null | "
			  "grep -q '\"routes_programmed\":true'; do i=$((i + 1)); "
			  "[ $i -lt 1200 ] || { cat /tmp/ccl-fm.log; exit 1; }; sleep 0.1; "
			  "done"),
		0);
	LUMEN_STRUCT_INIT(fi);
	RT_OK(lumen_fabric_get_info(&fi));
	c.before = fi.generation;
	LUMEN_STRUCT_INIT(info);
	CCL_OK(lumen_ccl_comm_get_info(F->r[1].comm, &info));
	LUMEN_STRUCT_INIT(ri);
	RT_OK(lumen_fabric_get_route(info.chip_id, info.next_chip_id, &ri, &hop, 1));
	assert_int_equal(ri.num_hops, 1);
	assert_true(hop.port < 6);
	snprintf(c.port, sizeof(c.port), "%u.%s", info.chip_id, port_names[hop.port]);

	on_every_rank(cut_loop_rank, &c);

	LUMEN_STRUCT_INIT(info);
	CCL_OK(lumen_ccl_comm_get_info(F->r[1].comm, &info));
	printf("# rank 1 after %d iterations past the cut: generation %llu, %u re-plan(s), %u "
	       "hops to the next rank\n",
	       c.iters_after, (unsigned long long)info.generation, info.replans, info.next_hops);
	assert_true(info.generation > c.before);
	assert_true(info.replans >= 1);
	assert_true(info.next_hops >= 2); /* the other way round the ring */

	/* The whole ring back, rerouted, before the manager goes. */
	LUMEN_STRUCT_INIT(fi);
	RT_OK(lumen_fabric_get_info(&fi));
	assert_int_equal(gu_system("lumen-fabric-ctl '{\"cmd\":\"restore\",\"all\":true}' "
				   ">/dev/null"),
			 0);
	RT_OK(lumen_fabric_wait_generation(fi.generation, FM_WAIT_MS, &c.before));
	assert_int_equal(gu_system("kill $(cat /tmp/ccl-fm.pid); i=0; while kill -0 $(cat "
				   "/tmp/ccl-fm.pid) 2>/dev/null; do i=$((i + 1)); [ $i -lt 150 ] "
				   "|| exit 1; sleep 0.1; done"),
			 0);
}

static void bad_arguments(void **state)
{
	struct rank *r = &F->r[0];
	lumen_stream_t other;

	(void)state;
	assert_int_equal(lumen_ccl_reduce(r->a, r->b, 1, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM, F->n,
					  r->comm, r->s),
			 LUMEN_ERROR_INVALID_ARGUMENT);
	assert_non_null(strstr(lumen_ccl_get_last_error(), "root"));
	assert_int_equal(lumen_ccl_reduce(r->a, r->b, 1, LUMEN_DTYPE_F32, (lumen_reduce_op_t)5, 0,
					  r->comm, r->s),
			 LUMEN_ERROR_INVALID_ARGUMENT);
	assert_int_equal(lumen_ccl_barrier(NULL, r->s), LUMEN_ERROR_INVALID_HANDLE);
	if (F->local > 1) {
		RT_OK(lumen_stream_create(F->r[1].ctx, &other));
		assert_int_equal(lumen_ccl_barrier(r->comm, other), LUMEN_ERROR_WRONG_DEVICE);
		RT_OK(lumen_stream_destroy(other));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(all_reduce_every_dtype_and_op),
		cmocka_unit_test(all_reduce_several_slices),
		cmocka_unit_test(all_gather),
		cmocka_unit_test(reduce_scatter),
		cmocka_unit_test(broadcast_and_reduce),
		cmocka_unit_test(send_recv),
		cmocka_unit_test(all_to_all),
		cmocka_unit_test(barrier_holds_until_the_last_rank),
		cmocka_unit_test(bad_arguments),
		cmocka_unit_test(all_reduce_loop_across_a_fiber_cut),
	};
	return cmocka_run_group_tests_name("ccl_ranks", tests, setup, teardown);
}
