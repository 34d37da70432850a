// SPDX-License-Identifier: MIT
// The C API of liblumen-ccl: communicators of one process and the ring
// collectives, each a sequence of Ring sends and receives on the caller's
// stream, in slices of at most one staging slot.
#include <lumen/lumen_ccl.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <type_traits>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <vector>

#include "bootstrap.hpp"
#include "p2p.hpp"
#include "plan.hpp"
#include "ring.hpp"

// What the communicators of one lumen_ccl_comm_init_all share: once a
// collective failed after part of it was queued, the ranks' counters no
// longer agree, and every later call on any of them fails.
struct lumen_ccl_clique {
	std::mutex m;
	lumen_status_t broken = LUMEN_SUCCESS;
	std::string why;
};

struct lumen_ccl_comm_s {
	lumen_context_t ctx;
	int rank, n;
	std::unique_ptr<lumen::ccl::Ring> ring;
	std::unique_ptr<lumen::ccl::P2p> p2p; // send, receive, all-to-all
	std::shared_ptr<lumen_ccl_clique> clique;
	std::mutex m;			  // one collective queued at a time
	lumen_event_t done = nullptr;	  // recorded after each collective
	lumen_stream_t last = nullptr;	  // the stream of the last one
	std::set<lumen_stream_t> streams; // that queued collectives
	uint32_t chip = lumen::ccl::kNoChip, next_chip = lumen::ccl::kNoChip,
		 prev_chip = lumen::ccl::kNoChip;
	lumen::ccl::Plan plan;	    // of the routes to the ring neighbours
	lumen::ccl::WatchRef watch; // keeps the process's fabric watcher going

	~lumen_ccl_comm_s()
	{
		if (done)
			lumen_event_destroy(done);
	}
};

namespace lumen::ccl {
namespace {

thread_local std::string last_error;

std::mutex live_m;
std::set<const lumen_ccl_comm_s *> live; // communicators not destroyed

template <typename F> lumen_status_t guard(const char *fn, F &&f) noexcept
{
	try {
		f();
		return LUMEN_SUCCESS;
	} catch (const Failure &e) {
		last_error = std::string(fn) + ": " + e.what;
		return e.status;
	} catch (const std::bad_alloc &) {
		last_error = std::string(fn) + ": out of host memory";
		return LUMEN_ERROR_OUT_OF_MEMORY;
	} catch (const std::exception &e) {
		last_error = std::string(fn) + ": " + e.what();
		return LUMEN_ERROR_SYSTEM;
	}
}

lumen_ccl_comm_s &comm_of(lumen_ccl_comm_t c)
{
	std::lock_guard lk(live_m);
	if (!c || !live.count(c))
		fail(LUMEN_ERROR_INVALID_HANDLE, "comm is NULL or destroyed");
	return *c;
}

// An enum argument from a C caller may hold any value of the enum's integer
// type; loading one outside the enumerators' range as the enum is undefined
// in C++ (UBSAN -fsanitize=enum), so the checks read its integer value.
template <typename E> std::underlying_type_t<E> enum_value(const E &e) noexcept
{
	std::underlying_type_t<E> v;
	std::memcpy(&v, &e, sizeof(v));
	return v;
}

size_t elem_size(const lumen_dtype_t &t)
{
	switch (enum_value(t)) {
	case LUMEN_DTYPE_F32:
	case LUMEN_DTYPE_I32:
		return 4;
	case LUMEN_DTYPE_F16:
	case LUMEN_DTYPE_BF16:
		return 2;
	}
	fail(LUMEN_ERROR_INVALID_ARGUMENT, "dtype " +
						   std::to_string(static_cast<int>(enum_value(t))) +
						   " is not a lumen_dtype_t");
}

void check_op(const lumen_reduce_op_t &op)
{
	const auto v = enum_value(op);
	if (v != LUMEN_REDUCE_SUM && v != LUMEN_REDUCE_MAX && v != LUMEN_REDUCE_MIN)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "op " + std::to_string(static_cast<int>(v)) + " is not a lumen_reduce_op_t");
}

// The stream must be of the communicator's context.
void check_stream(const lumen_ccl_comm_s &c, lumen_stream_t s)
{
	lumen_context_t sc = nullptr;
	check(lumen_stream_get_context(s, &sc), "lumen_stream_get_context");
	if (sc != c.ctx)
		fail(LUMEN_ERROR_WRONG_DEVICE, "the stream is not of the communicator's context");
}

void check_root(const lumen_ccl_comm_s &c, int root)
{
	if (root < 0 || root >= c.n)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, "root " + std::to_string(root) +
							   " is not a rank (0 .. " +
							   std::to_string(c.n - 1) + ")");
}

void check_peer(const lumen_ccl_comm_s &c, int peer)
{
	if (peer < 0 || peer >= c.n)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, "peer " + std::to_string(peer) +
							   " is not a rank (0 .. " +
							   std::to_string(c.n - 1) + ")");
}

// a (alen bytes) and b (blen bytes) must not overlap, unless in_place and
// a is exactly b + offset (the collective's in-place form).
void check_apart(lumen_devptr_t a, uint64_t alen, lumen_devptr_t b, uint64_t blen, uint64_t offset,
		 bool in_place, const char *what)
{
	if (in_place && a == b + offset)
		return;
	if (a < b + blen && b < a + alen)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     std::string(what) +
			     " overlap (in place, the one must sit exactly where the collective "
			     "puts it in the other)");
}

// Streams that queued work on the staging area: destroy waits for them.
void remember(lumen_ccl_comm_s &c, lumen_stream_t s)
{
	c.streams.insert(s);
}

// Runs queue(), which puts one collective of c on stream s: in the order
// of the communicator's collectives whatever the stream (a collective on
// another stream than the last one waits for it), one at a time, and a
// failure once something was queued breaks the clique.
void run_queued(lumen_ccl_comm_s &c, lumen_stream_t s, const std::function<void()> &queue)
{
	std::lock_guard lk(c.m);
	{
		std::lock_guard ck(c.clique->m);
		if (c.clique->broken)
			fail(c.clique->broken, "the communicator is unusable: " + c.clique->why);
	}
	replan_if_moved(c.plan, c.chip, c.next_chip, c.prev_chip);
	remember(c, s);
	if (c.last && c.last != s)
		check(lumen_stream_wait_event(s, c.done), "lumen_stream_wait_event");
	try {
		queue();
		check(lumen_event_record(c.done, s), "lumen_event_record");
		c.last = s;
	} catch (const Failure &e) {
		std::lock_guard ck(c.clique->m);
		if (!c.clique->broken) {
			c.clique->broken = e.status;
			c.clique->why = "rank " + std::to_string(c.rank) + ": " + e.what;
		}
		throw;
	}
}

// ---- group calls -------------------------------------------------------------------

// What a group of this thread deferred: a collective, or one send or
// receive (consecutive ones of a communicator on one stream are queued as
// one batch, so that their slices interleave).
struct Deferred {
	lumen_ccl_comm_s *c;
	lumen_stream_t s;
	std::function<void()> queue; // a collective
	std::optional<P2pOp> p2p;    // or this
	bool blocking = false;	     // queue() waits for the ranks itself (split)
};

struct Group {
	int depth = 0;
	std::vector<Deferred> items;
};
thread_local Group group;

// Queues a collective now, or at the end of this thread's group.
void queued(lumen_ccl_comm_s &c, lumen_stream_t s, std::function<void()> queue)
{
	if (group.depth)
		group.items.push_back({&c, s, std::move(queue), std::nullopt});
	else
		run_queued(c, s, queue);
}

void queued_p2p(lumen_ccl_comm_s &c, lumen_stream_t s, const P2pOp &op)
{
	if (group.depth)
		group.items.push_back({&c, s, nullptr, op});
	else
		run_queued(c, s, [&] { c.p2p->run(s, {op}); });
}

// One communicator's part of a group, in the order it was called.
void run_group_part(const std::vector<Deferred *> &items)
{
	for (size_t i = 0; i < items.size();) {
		Deferred &d = *items[i];
		if (d.blocking) {
			d.queue();
			i++;
			continue;
		}
		if (!d.p2p) {
			run_queued(*d.c, d.s, d.queue);
			i++;
			continue;
		}
		std::vector<P2pOp> batch;
		for (; i < items.size() && items[i]->p2p && items[i]->s == d.s; i++)
			batch.push_back(*items[i]->p2p);
		run_queued(*d.c, d.s, [&] { d.c->p2p->run(d.s, batch); });
	}
}

// count elements of esize bytes, times `times`, in bytes; INVALID_ARGUMENT
// when that overflows.
uint64_t bytes_of(size_t count, size_t esize, size_t times, const char *what)
{
	unsigned __int128 b = (unsigned __int128)count * esize * times;
	if (b >> 62)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, std::string(what) + " " + std::to_string(count) +
							   " is too large: its bytes overflow");
	return static_cast<uint64_t>(b);
}

// Elements per slice: a whole number of elements in a slot.
uint64_t slice_elems(size_t esize)
{
	return kSlotBytes / esize;
}

// Block b of n blocks of count elements: [first, first + len).
void block(size_t count, int n, int b, size_t *first, size_t *len)
{
	size_t base = count / size_t(n), extra = count % size_t(n);
	*first = size_t(b) * base + std::min<size_t>(size_t(b), extra);
	*len = base + (size_t(b) < extra ? 1 : 0);
}

// What a rank hands the others at bootstrap.
struct RankBlob {
	uint32_t magic; // kBlobMagic
	uint32_t version;
	lumen_fabric_handle_t ring; // its staging area
	lumen_fabric_handle_t p2p;  // its p2p area
	uint32_t chip;		    // its chip, kNoChip if not known
	uint32_t reserved;
};

uint32_t chip_of(lumen_context_t ctx)
{
	lumen_device_t dev = nullptr;
	uint32_t chip = kNoChip;
	if (lumen_context_get_device(ctx, &dev) != LUMEN_SUCCESS ||
	    lumen_device_get_chip_id(dev, &chip) != LUMEN_SUCCESS)
		return kNoChip;
	return chip;
}

// Rank c between its neighbours' chips: its first plan.
void place(lumen_ccl_comm_s &c, uint32_t next_chip, uint32_t prev_chip)
{
	c.next_chip = next_chip;
	c.prev_chip = prev_chip;
	replan_if_moved(c.plan, c.chip, c.next_chip, c.prev_chip);
}
constexpr uint32_t kBlobMagic = 0x4b4e4152; // "RANK"

// Rank r of n on ctx, not yet connected to its neighbours.
std::unique_ptr<lumen_ccl_comm_s> new_rank(lumen_context_t ctx, int r, int n,
					   std::shared_ptr<lumen_ccl_clique> clique)
{
	auto c = std::make_unique<lumen_ccl_comm_s>();
	c->ctx = ctx;
	c->rank = r;
	c->n = n;
	c->clique = std::move(clique);
	try {
		c->ring = std::make_unique<Ring>(ctx);
		c->p2p = std::make_unique<P2p>(ctx, r, n);
		check(lumen_event_create(ctx, &c->done), "lumen_event_create");
		c->chip = chip_of(ctx);
	} catch (const Failure &e) {
		fail(e.status, "rank " + std::to_string(r) + ": " + e.what);
	}
	return c;
}

void check_ranks(int n, int rank)
{
	if (n < 1 || n > 4096)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "nranks " + std::to_string(n) + " is not 1 .. 4096");
	if (rank < 0 || rank >= n)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "rank " + std::to_string(rank) + " is not 0 .. " + std::to_string(n - 1));
}

// The communicators of this process that one bootstrap made share a clique.
std::shared_ptr<lumen_ccl_clique> clique_of(uint64_t nonce)
{
	static std::mutex m;
	static std::map<uint64_t, std::weak_ptr<lumen_ccl_clique>> cliques;
	std::lock_guard lk(m);
	for (auto it = cliques.begin(); it != cliques.end();)
		it = it->second.expired() ? cliques.erase(it) : std::next(it);
	auto &w = cliques[nonce];
	auto c = w.lock();
	if (!c) {
		c = std::make_shared<lumen_ccl_clique>();
		w = c;
	}
	return c;
}

void publish(lumen_ccl_comm_t *out, std::vector<std::unique_ptr<lumen_ccl_comm_s>> &made)
{
	std::lock_guard lk(live_m);
	for (size_t r = 0; r < made.size(); r++) {
		live.insert(made[r].get());
		out[r] = made[r].release();
	}
}

int mod(int a, int n)
{
	return ((a % n) + n) % n;
}

// One ring step: send block `out` of buf to the next rank while receiving
// block `in` from the previous one, slice by slice, interleaved so that
// neither side waits for the other's whole block (reduce: in += received).
void step(lumen_ccl_comm_s &c, lumen_stream_t s, lumen_devptr_t buf, size_t count, size_t esize,
	  int out, int in, bool reduce, lumen_dtype_t dtype, lumen_reduce_op_t op)
{
	size_t of, ol, inf, inl;
	block(count, c.n, out, &of, &ol);
	block(count, c.n, in, &inf, &inl);
	const uint64_t per = slice_elems(esize);
	for (size_t k = 0; k * per < std::max(ol, inl); k++) {
		if (k * per < ol)
			c.ring->send(s, buf + (of + k * per) * esize,
				     std::min<uint64_t>(per, ol - k * per) * esize);
		if (k * per < inl) {
			lumen_devptr_t dst = buf + (inf + k * per) * esize;
			uint64_t m = std::min<uint64_t>(per, inl - k * per);
			if (reduce)
				c.ring->recv_reduce(s, dst, m, dtype, op);
			else
				c.ring->recv_copy(s, dst, m * esize);
		}
	}
}

// Ring reduce-scatter in place on buf (count elements): afterwards rank r
// holds the reduced block (r + 1) mod n.
void reduce_scatter_ring(lumen_ccl_comm_s &c, lumen_stream_t s, lumen_devptr_t buf, size_t count,
			 size_t esize, lumen_dtype_t dtype, lumen_reduce_op_t op)
{
	for (int k = 0; k < c.n - 1; k++)
		step(c, s, buf, count, esize, mod(c.rank - k, c.n), mod(c.rank - k - 1, c.n), true,
		     dtype, op);
}

// Ring all-gather in place: rank r starts with block (r + shift) mod n.
void all_gather_ring(lumen_ccl_comm_s &c, lumen_stream_t s, lumen_devptr_t buf, size_t count,
		     size_t esize, int shift)
{
	for (int k = 0; k < c.n - 1; k++)
		step(c, s, buf, count, esize, mod(c.rank + shift - k, c.n),
		     mod(c.rank + shift - k - 1, c.n), false, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM);
}

// Every rank's bytes (the same size on all) through c's ring, rank order:
// a collective of c on a stream of its own, waited for.
std::vector<uint8_t> gather_on_cards(lumen_ccl_comm_s &c, const void *mine, size_t bytes)
{
	struct Temp {
		lumen_context_t ctx;
		lumen_stream_t s = nullptr;
		lumen_devptr_t buf = 0;
		~Temp()
		{
			if (s)
				lumen_stream_destroy(s);
			if (buf)
				lumen_free(ctx, buf);
		}
	} t{c.ctx};
	const size_t all = bytes * size_t(c.n);
	check(lumen_stream_create(c.ctx, &t.s), "lumen_stream_create");
	check(lumen_malloc(c.ctx, all, &t.buf), "lumen_malloc");
	check(lumen_memcpy_h2d_async(t.s, t.buf + bytes * size_t(c.rank), mine, bytes),
	      "lumen_memcpy_h2d_async");
	std::vector<uint8_t> out(all);
	// Bytes as i32 elements: bytes is a multiple of 4.
	run_queued(c, t.s, [&] {
		if (c.n > 1)
			all_gather_ring(c, t.s, t.buf, all / 4, 4, 0);
	});
	check(lumen_memcpy_d2h_async(t.s, out.data(), t.buf, all), "lumen_memcpy_d2h_async");
	check(lumen_stream_synchronize(t.s), "lumen_stream_synchronize (split exchange)");
	return out;
}

static_assert(sizeof(RankBlob) % 4 == 0, "gather_on_cards moves 4-byte elements");

// What each rank says at a split: its color and key, and a random number
// (the lowest rank of a color's names the new communicator's clique).
struct SplitRecord {
	int32_t color, key;
	uint64_t nonce;
};

// The ranks of c with its color, ordered by key then rank, make a new
// communicator (*newcomm; NULL for LUMEN_CCL_SPLIT_NOCOLOR). Two exchanges
// through c's ring: the records, then the new ranks' areas.
void split(lumen_ccl_comm_s &c, int color, int key, lumen_ccl_comm_t *newcomm)
{
	std::random_device rd;
	const SplitRecord mine{color, key, (uint64_t(rd()) << 32) | rd()};
	const auto raw = gather_on_cards(c, &mine, sizeof(mine));
	std::vector<SplitRecord> recs(static_cast<size_t>(c.n));
	memcpy(recs.data(), raw.data(), raw.size());
	std::vector<int> members;
	if (color != LUMEN_CCL_SPLIT_NOCOLOR)
		for (int r = 0; r < c.n; r++)
			if (recs[size_t(r)].color == color)
				members.push_back(r);
	std::sort(members.begin(), members.end(), [&](int a, int b) {
		return recs[size_t(a)].key != recs[size_t(b)].key
			       ? recs[size_t(a)].key < recs[size_t(b)].key
			       : a < b;
	});
	// Every rank takes part in the second exchange, whatever happened to
	// its own part, so that no rank waits for it in vain.
	std::vector<std::unique_ptr<lumen_ccl_comm_s>> made;
	RankBlob blob{};
	std::optional<Failure> failed;
	if (!members.empty()) {
		const int newrank =
			int(std::find(members.begin(), members.end(), c.rank) - members.begin());
		try {
			made.push_back(new_rank(c.ctx, newrank, int(members.size()),
						clique_of(recs[size_t(members[0])].nonce)));
			blob = {kBlobMagic,    2, made[0]->ring->handle(), made[0]->p2p->handle(),
				made[0]->chip, 0};
		} catch (const Failure &f) {
			failed = f;
		}
	}
	const auto blobs_raw = gather_on_cards(c, &blob, sizeof(blob));
	if (failed)
		throw *failed;
	if (members.empty())
		return;
	std::vector<RankBlob> ranks;
	for (int r : members) {
		RankBlob b;
		memcpy(&b, blobs_raw.data() + size_t(r) * sizeof(b), sizeof(b));
		if (b.magic != kBlobMagic)
			fail(LUMEN_ERROR_SYSTEM,
			     "split: rank " + std::to_string(r) + " could not make its part");
		ranks.push_back(b);
	}
	std::vector<lumen_fabric_handle_t> areas;
	for (const auto &b : ranks)
		areas.push_back(b.p2p);
	auto &nc = *made[0];
	const int nn = int(members.size());
	nc.p2p->connect(areas);
	const RankBlob &next = ranks[size_t((nc.rank + 1) % nn)],
		       &prev = ranks[size_t((nc.rank + nn - 1) % nn)];
	nc.ring->connect(next.ring, prev.ring);
	place(nc, next.chip, prev.chip);
	publish(newcomm, made);
}

// A send (or receive) of count elements at buf with peer, checked, then
// queued or deferred to the group.
void p2p_call(bool send, lumen_devptr_t buf, size_t count, const lumen_dtype_t &dtype, int peer,
	      lumen_ccl_comm_t comm, lumen_stream_t stream)
{
	auto &c = comm_of(comm);
	const size_t es = elem_size(dtype);
	check_stream(c, stream);
	check_peer(c, peer);
	if (count)
		queued_p2p(c, stream, {send, buf, bytes_of(count, es, 1, "count"), peer});
}

void copy_if(lumen_stream_t s, lumen_devptr_t dst, lumen_devptr_t src, uint64_t bytes)
{
	if (dst != src && bytes)
		check(lumen_memcpy_d2d_async(s, dst, src, bytes), "lumen_memcpy_d2d_async");
}

} // namespace
} // namespace lumen::ccl

using namespace lumen::ccl;

extern "C" {

const char *lumen_ccl_get_last_error(void)
{
	return last_error.c_str();
}

lumen_status_t lumen_ccl_comm_init_all(lumen_ccl_comm_t *comms, int n, const lumen_context_t *ctxs)
{
	return guard(__func__, [&] {
		if (!comms || !ctxs)
			fail(LUMEN_ERROR_INVALID_ARGUMENT, "comms or ctxs is NULL");
		check_ranks(n, 0);
		std::vector<std::unique_ptr<lumen_ccl_comm_s>> made;
		auto clique = std::make_shared<lumen_ccl_clique>();
		for (int r = 0; r < n; r++)
			made.push_back(new_rank(ctxs[r], r, n, clique));
		std::vector<lumen_fabric_handle_t> areas;
		for (auto &m : made)
			areas.push_back(m->p2p->handle());
		for (int r = 0; r < n; r++) {
			made[r]->p2p->connect(areas);
			auto &next = *made[(r + 1) % n], &prev = *made[(r + n - 1) % n];
			made[r]->ring->connect(next.ring->handle(), prev.ring->handle());
			place(*made[r], next.chip, prev.chip);
		}
		publish(comms, made);
	});
}

lumen_status_t lumen_ccl_get_unique_id(lumen_ccl_unique_id_t *id)
{
	return guard(__func__, [&] {
		if (!id)
			fail(LUMEN_ERROR_INVALID_ARGUMENT, "id is NULL");
		UniqueId u = start_root();
		memcpy(id, &u, sizeof(u));
	});
}

lumen_status_t lumen_ccl_comm_init_rank(lumen_ccl_comm_t *comm, int nranks,
					lumen_ccl_unique_id_t id, int rank, lumen_context_t ctx)
{
	return guard(__func__, [&] {
		if (!comm)
			fail(LUMEN_ERROR_INVALID_ARGUMENT, "comm is NULL");
		check_ranks(nranks, rank);
		UniqueId u;
		memcpy(&u, &id, sizeof(u));
		std::vector<std::unique_ptr<lumen_ccl_comm_s>> made;
		made.push_back(new_rank(ctx, rank, nranks, clique_of(u.nonce)));
		RankBlob mine{kBlobMagic,    2, made[0]->ring->handle(), made[0]->p2p->handle(),
			      made[0]->chip, 0};
		std::vector<uint8_t> blob(sizeof(mine));
		memcpy(blob.data(), &mine, sizeof(mine));
		auto all = join(u, rank, nranks, blob);
		std::vector<RankBlob> ranks(static_cast<size_t>(nranks));
		for (int r = 0; r < nranks; r++) {
			memcpy(&ranks[size_t(r)], all[size_t(r)].data(), sizeof(RankBlob));
			if (ranks[size_t(r)].magic != kBlobMagic || ranks[size_t(r)].version != 2 ||
			    ranks[size_t(r)].ring.magic != LUMEN_FABRIC_HANDLE_MAGIC ||
			    ranks[size_t(r)].p2p.magic != LUMEN_FABRIC_HANDLE_MAGIC)
				fail(LUMEN_ERROR_SYSTEM, "bootstrap: rank " + std::to_string(r) +
								 " sent what is not a rank's "
								 "description");
		}
		std::vector<lumen_fabric_handle_t> areas;
		for (const auto &rb : ranks)
			areas.push_back(rb.p2p);
		made[0]->p2p->connect(areas);
		const RankBlob &next = ranks[size_t((rank + 1) % nranks)],
			       &prev = ranks[size_t((rank + nranks - 1) % nranks)];
		made[0]->ring->connect(next.ring, prev.ring);
		place(*made[0], next.chip, prev.chip);
		publish(comm, made);
	});
}

lumen_status_t lumen_ccl_comm_destroy(lumen_ccl_comm_t comm)
{
	return guard(__func__, [&] {
		{
			std::lock_guard lk(live_m);
			if (!comm || !live.erase(comm))
				fail(LUMEN_ERROR_INVALID_HANDLE, "comm is NULL or destroyed");
		}
		// The areas must outlive the work queued on them and the peers'
		// last acknowledgements of what this rank sent: waited for on the
		// p2p area's own stream (the user's may be gone), after the last
		// collective. Not when the clique is broken: the counters no
		// longer agree and the wait would only time the context out.
		bool broken;
		{
			std::lock_guard ck(comm->clique->m);
			broken = comm->clique->broken != LUMEN_SUCCESS;
		}
		lumen_status_t st = LUMEN_SUCCESS;
		if (!broken) {
			const lumen_stream_t ds = comm->p2p->stream();
			try {
				if (comm->last)
					check(lumen_stream_wait_event(ds, comm->done),
					      "lumen_stream_wait_event");
				comm->ring->drain(ds);
				comm->p2p->drain(ds);
				check(lumen_stream_synchronize(ds), "lumen_stream_synchronize");
			} catch (const Failure &e) {
				st = e.status;
			}
		}
		for (lumen_stream_t s : comm->streams) {
			lumen_status_t r = lumen_stream_synchronize(s);
			if (r != LUMEN_SUCCESS && r != LUMEN_ERROR_INVALID_HANDLE && !st)
				st = r;
		}
		delete comm;
		check(st, "lumen_stream_synchronize of a stream the communicator used");
	});
}

lumen_status_t lumen_ccl_comm_abort(lumen_ccl_comm_t comm)
{
	return guard(__func__, [&] {
		{
			std::lock_guard lk(live_m);
			if (!comm || !live.erase(comm))
				fail(LUMEN_ERROR_INVALID_HANDLE, "comm is NULL or destroyed");
		}
		{
			std::lock_guard ck(comm->clique->m);
			if (!comm->clique->broken) {
				comm->clique->broken = LUMEN_ERROR_INVALID_HANDLE;
				comm->clique->why =
					"rank " + std::to_string(comm->rank) + " aborted";
			}
		}
		// No more writes from the peers, no more waits on them; then the
		// streams end (errors are what an abort is for: ignored) and the
		// areas can go.
		comm->ring->abort();
		comm->p2p->abort();
		for (lumen_stream_t s : comm->streams)
			lumen_stream_synchronize(s);
		delete comm;
	});
}

lumen_status_t lumen_ccl_comm_get_async_error(lumen_ccl_comm_t comm, lumen_status_t *error)
{
	return guard(__func__, [&] {
		auto &c = comm_of(comm);
		if (!error)
			fail(LUMEN_ERROR_INVALID_ARGUMENT, "error is NULL");
		{
			std::lock_guard ck(c.clique->m);
			if (c.clique->broken) {
				*error = c.clique->broken;
				last_error = "the communicator is unusable: " + c.clique->why;
				return;
			}
		}
		lumen_fault_t fault{};
		LUMEN_STRUCT_INIT(fault);
		const lumen_status_t st = lumen_context_get_fault(c.ctx, &fault);
		*error = st;
		if (st != LUMEN_SUCCESS)
			last_error = std::string("the communicator's context failed: ") +
				     lumen_status_string(st) + ": " + lumen_get_last_error();
	});
}

lumen_status_t lumen_ccl_comm_count(lumen_ccl_comm_t comm, int *count)
{
	return guard(__func__, [&] {
		auto &c = comm_of(comm);
		if (!count)
			fail(LUMEN_ERROR_INVALID_ARGUMENT, "count is NULL");
		*count = c.n;
	});
}

lumen_status_t lumen_ccl_comm_rank(lumen_ccl_comm_t comm, int *rank)
{
	return guard(__func__, [&] {
		auto &c = comm_of(comm);
		if (!rank)
			fail(LUMEN_ERROR_INVALID_ARGUMENT, "rank is NULL");
		*rank = c.rank;
	});
}

lumen_status_t lumen_ccl_comm_get_info(lumen_ccl_comm_t comm, lumen_ccl_comm_info_t *info)
{
	return guard(__func__, [&] {
		auto &c = comm_of(comm);
		if (!info)
			fail(LUMEN_ERROR_INVALID_ARGUMENT, "info is NULL");
		if (info->struct_size < sizeof(*info))
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "info->struct_size " + std::to_string(info->struct_size) +
				     " is less than sizeof(lumen_ccl_comm_info_t) " +
				     std::to_string(sizeof(*info)) + " (LUMEN_STRUCT_INIT)");
		std::lock_guard lk(c.m);
		lumen_ccl_comm_info_t out{};
		out.struct_size = sizeof(out);
		out.nranks = c.n;
		out.rank = c.rank;
		out.chip_id = c.chip;
		out.next_chip_id = c.next_chip;
		out.prev_chip_id = c.prev_chip;
		out.next_hops = c.plan.next_hops;
		out.prev_hops = c.plan.prev_hops;
		out.generation = c.plan.generation;
		out.replans = c.plan.replans;
		out.unreachable = c.plan.unreachable;
		out.channels = 1;
		snprintf(out.algorithm, sizeof(out.algorithm), "ring");
		*info = out;
	});
}

lumen_status_t lumen_ccl_all_reduce(lumen_devptr_t send, lumen_devptr_t recv, size_t count,
				    lumen_dtype_t dtype, lumen_reduce_op_t op,
				    lumen_ccl_comm_t comm, lumen_stream_t stream)
{
	return guard(__func__, [&] {
		auto &c = comm_of(comm);
		const size_t es = elem_size(dtype);
		check_op(op);
		check_stream(c, stream);
		if (count == 0)
			return;
		bytes_of(count, es, 1, "count");
		check_apart(send, count * es, recv, count * es, 0, true, "send and recv");
		queued(c, stream, [=, &c] {
			copy_if(stream, recv, send, count * es);
			if (c.n == 1)
				return;
			reduce_scatter_ring(c, stream, recv, count, es, dtype, op);
			all_gather_ring(c, stream, recv, count, es, 1);
		});
	});
}

lumen_status_t lumen_ccl_reduce_scatter(lumen_devptr_t send, lumen_devptr_t recv, size_t recv_count,
					lumen_dtype_t dtype, lumen_reduce_op_t op,
					lumen_ccl_comm_t comm, lumen_stream_t stream)
{
	return guard(__func__, [&] {
		auto &c = comm_of(comm);
		const size_t es = elem_size(dtype);
		check_op(op);
		check_stream(c, stream);
		if (recv_count == 0)
			return;
		bytes_of(recv_count, es, size_t(c.n), "recv_count");
		check_apart(recv, recv_count * es, send, recv_count * es * size_t(c.n),
			    uint64_t(c.rank) * recv_count * es, true, "recv and send");
		queued(c, stream, [=, &c] {
			const uint64_t block_bytes = recv_count * es;
			copy_if(stream, recv, send + uint64_t(c.rank) * block_bytes, block_bytes);
			if (c.n == 1)
				return;
			// Block j's partial starts at rank j + 1 and goes round to rank j,
			// each rank adding its own block j on the way; slice by slice, each
			// slice all the way round before the next (so no rank's sends wait
			// on credits its next rank can only give after sending itself).
			const uint64_t per = slice_elems(es);
			for (size_t k = 0; k * per < recv_count; k++) {
				const uint64_t m = std::min<uint64_t>(per, recv_count - k * per);
				auto at = [&](int b) {
					return send + uint64_t(b) * block_bytes + k * per * es;
				};
				c.ring->send(stream, at(mod(c.rank - 1, c.n)), m * es);
				for (int step = 1; step < c.n - 1; step++)
					c.ring->recv_reduce_forward(stream,
								    at(mod(c.rank - 1 - step, c.n)),
								    m, dtype, op, m * es);
				c.ring->recv_reduce(stream, recv + k * per * es, m, dtype, op);
			}
		});
	});
}

lumen_status_t lumen_ccl_all_gather(lumen_devptr_t send, lumen_devptr_t recv, size_t send_count,
				    lumen_dtype_t dtype, lumen_ccl_comm_t comm,
				    lumen_stream_t stream)
{
	return guard(__func__, [&] {
		auto &c = comm_of(comm);
		const size_t es = elem_size(dtype);
		check_stream(c, stream);
		if (send_count == 0)
			return;
		bytes_of(send_count, es, size_t(c.n), "send_count");
		check_apart(send, send_count * es, recv, send_count * es * size_t(c.n),
			    uint64_t(c.rank) * send_count * es, true, "send and recv");
		queued(c, stream, [=, &c] {
			const size_t total = send_count * size_t(c.n);
			copy_if(stream, recv + size_t(c.rank) * send_count * es, send,
				send_count * es);
			if (c.n > 1)
				all_gather_ring(c, stream, recv, total, es, 0);
		});
	});
}

lumen_status_t lumen_ccl_broadcast(lumen_devptr_t send, lumen_devptr_t recv, size_t count,
				   lumen_dtype_t dtype, int root, lumen_ccl_comm_t comm,
				   lumen_stream_t stream)
{
	return guard(__func__, [&] {
		auto &c = comm_of(comm);
		const size_t es = elem_size(dtype);
		check_stream(c, stream);
		check_root(c, root);
		if (count == 0)
			return;
		bytes_of(count, es, 1, "count");
		if (c.rank == root)
			check_apart(send, count * es, recv, count * es, 0, true, "send and recv");
		queued(c, stream, [=, &c] {
			const uint64_t per = slice_elems(es);
			const bool last = mod(c.rank + 1, c.n) == root; // passes nothing on
			if (c.rank == root)
				copy_if(stream, recv, send, count * es);
			// A chain root -> root + 1 -> ..., slice by slice.
			for (size_t k = 0; k * per < count; k++) {
				const uint64_t m = std::min<uint64_t>(per, count - k * per);
				const lumen_devptr_t at = recv + k * per * es;
				if (c.rank != root)
					c.ring->recv_copy(stream, at, m * es);
				if (!last)
					c.ring->send(stream, at, m * es);
			}
		});
	});
}

lumen_status_t lumen_ccl_reduce(lumen_devptr_t send, lumen_devptr_t recv, size_t count,
				lumen_dtype_t dtype, lumen_reduce_op_t op, int root,
				lumen_ccl_comm_t comm, lumen_stream_t stream)
{
	return guard(__func__, [&] {
		auto &c = comm_of(comm);
		const size_t es = elem_size(dtype);
		check_op(op);
		check_stream(c, stream);
		check_root(c, root);
		if (count == 0)
			return;
		bytes_of(count, es, 1, "count");
		if (c.rank == root)
			check_apart(send, count * es, recv, count * es, 0, true, "send and recv");
		queued(c, stream, [=, &c] {
			const uint64_t per = slice_elems(es);
			const bool first = mod(root + 1, c.n) == c.rank; // receives nothing
			if (c.rank == root)
				copy_if(stream, recv, send, count * es);
			// A chain root + 1 -> ... -> root, each rank adding its send on
			// the way, slice by slice.
			for (size_t k = 0; k * per < count; k++) {
				const uint64_t m = std::min<uint64_t>(per, count - k * per);
				const uint64_t at = k * per * es;
				if (c.n == 1)
					break;
				if (c.rank == root)
					c.ring->recv_reduce(stream, recv + at, m, dtype, op);
				else if (first)
					c.ring->send(stream, send + at, m * es);
				else
					c.ring->recv_reduce_forward(stream, send + at, m, dtype, op,
								    m * es);
			}
		});
	});
}

lumen_status_t lumen_ccl_barrier(lumen_ccl_comm_t comm, lumen_stream_t stream)
{
	return guard(__func__, [&] {
		auto &c = comm_of(comm);
		check_stream(c, stream);
		// Round k's token leaves a rank only after round k - 1's arrived
		// (stream order), so after n - 1 rounds every rank has heard,
		// through its predecessors, from all the others.
		queued(c, stream, [=, &c] {
			for (int k = 0; k < c.n - 1; k++) {
				c.ring->send(stream, c.ring->scratch(), 8);
				c.ring->recv_copy(stream, c.ring->scratch() + 8, 8);
			}
		});
	});
}

lumen_status_t lumen_ccl_send(lumen_devptr_t send, size_t count, lumen_dtype_t dtype, int peer,
			      lumen_ccl_comm_t comm, lumen_stream_t stream)
{
	return guard(__func__, [&] { p2p_call(true, send, count, dtype, peer, comm, stream); });
}

lumen_status_t lumen_ccl_recv(lumen_devptr_t recv, size_t count, lumen_dtype_t dtype, int peer,
			      lumen_ccl_comm_t comm, lumen_stream_t stream)
{
	return guard(__func__, [&] { p2p_call(false, recv, count, dtype, peer, comm, stream); });
}

lumen_status_t lumen_ccl_all_to_all(lumen_devptr_t send, lumen_devptr_t recv, size_t count,
				    lumen_dtype_t dtype, lumen_ccl_comm_t comm,
				    lumen_stream_t stream)
{
	return guard(__func__, [&] {
		auto &c = comm_of(comm);
		const size_t es = elem_size(dtype);
		check_stream(c, stream);
		if (count == 0)
			return;
		const uint64_t block = bytes_of(count, es, 1, "count");
		bytes_of(count, es, size_t(c.n), "count");
		check_apart(send, block * uint64_t(c.n), recv, block * uint64_t(c.n), 0, false,
			    "send and recv: all-to-all is not in place, and the buffers");
		// One batch: every peer's block goes out while the others' come in.
		std::vector<P2pOp> ops;
		for (int k = 1; k < c.n; k++) {
			const int to = mod(c.rank + k, c.n), from = mod(c.rank - k, c.n);
			ops.push_back({true, send + uint64_t(to) * block, block, to});
			ops.push_back({false, recv + uint64_t(from) * block, block, from});
		}
		queued(c, stream, [=, &c] {
			copy_if(stream, recv + uint64_t(c.rank) * block,
				send + uint64_t(c.rank) * block, block);
			c.p2p->run(stream, ops);
		});
	});
}

lumen_status_t lumen_ccl_comm_split(lumen_ccl_comm_t comm, int color, int key,
				    lumen_ccl_comm_t *newcomm)
{
	return guard(__func__, [&] {
		auto &c = comm_of(comm);
		if (!newcomm)
			fail(LUMEN_ERROR_INVALID_ARGUMENT, "newcomm is NULL");
		if (color < 0 && color != LUMEN_CCL_SPLIT_NOCOLOR)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "color " + std::to_string(color) +
				     " is negative and not LUMEN_CCL_SPLIT_NOCOLOR");
		*newcomm = nullptr;
		auto work = [&c, color, key, newcomm] { split(c, color, key, newcomm); };
		if (group.depth)
			group.items.push_back({&c, nullptr, work, std::nullopt, true});
		else
			work();
	});
}

lumen_status_t lumen_ccl_group_start(void)
{
	return guard(__func__, [&] {
		if (group.depth == INT32_MAX)
			fail(LUMEN_ERROR_INVALID_ARGUMENT, "groups nested too deep");
		group.depth++;
	});
}

lumen_status_t lumen_ccl_group_end(void)
{
	return guard(__func__, [&] {
		if (!group.depth)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "no group to end: lumen_ccl_group_start was not called");
		if (--group.depth)
			return;
		std::vector<Deferred> items = std::move(group.items);
		group.items.clear();
		// Each communicator's part in call order; the parts at once, a
		// thread each when there are several (the ranks of one
		// lumen_ccl_comm_init_all queued from one thread), so that no
		// rank's queuing waits on a rank queued after it.
		std::vector<lumen_ccl_comm_s *> comms;
		std::map<lumen_ccl_comm_s *, std::vector<Deferred *>> parts;
		for (auto &d : items) {
			comm_of(d.c); // still alive
			if (!parts.count(d.c))
				comms.push_back(d.c);
			parts[d.c].push_back(&d);
		}
		if (comms.size() == 1) {
			run_group_part(parts[comms[0]]);
			return;
		}
		std::vector<std::vector<Deferred *>> work;
		for (auto *cm : comms)
			work.push_back(std::move(parts[cm]));
		std::vector<std::exception_ptr> failed(work.size());
		std::vector<std::thread> threads;
		auto join_all = [&] {
			for (auto &t : threads)
				t.join();
		};
		try {
			for (size_t i = 0; i < work.size(); i++)
				threads.emplace_back([&, i] {
					try {
						run_group_part(work[i]);
					} catch (...) {
						failed[i] = std::current_exception();
					}
				});
		} catch (...) {
			// No thread for the rest: what was started ends first.
			join_all();
			fail(LUMEN_ERROR_SYSTEM,
			     "cannot start a thread for each communicator of the group");
		}
		join_all();
		for (auto &f : failed)
			if (f)
				std::rethrow_exception(f);
	});
}

} // extern "C"
