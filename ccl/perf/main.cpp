// SPDX-License-Identifier: MIT
// lumen-ccl-perf: nccl-tests' table for liblumen-ccl's collectives. One
// process, one rank per card (or several per card), each queued from a
// thread of its own, as a framework would; times are the ranks' average,
// as nccl-tests' default; see docs/collectives.md.
#include <CLI/CLI.hpp>

#include <lumen/lumen_ccl.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "route/collective_model.hpp"
#include "perf_figures.hpp"

using namespace lumen::ccl::perf;
using Clock = std::chrono::steady_clock;

namespace {

struct Error : std::runtime_error {
	using std::runtime_error::runtime_error;
};

void ok(lumen_status_t s, const char *what)
{
	if (s != LUMEN_SUCCESS)
		throw Error(std::string(what) + ": " + lumen_status_string(s) + ": " +
			    (*lumen_ccl_get_last_error() ? lumen_ccl_get_last_error()
							 : lumen_get_last_error()));
}

struct Options {
	size_t min_bytes = 8, max_bytes = 64u << 20;
	double factor = 2;
	std::string op = "all_reduce", dtype = "f32", redop = "sum";
	int iters = 20, warmup = 5, ranks = 0, root = 0;
	bool check = true;
	double fiber_rate = 0; // bytes/s, lumen-fabric --rate
};

// One rank: a context of its own (on card card), a stream, its buffers.
struct Rank {
	int rank = 0, card = 0;
	lumen_context_t ctx = nullptr;
	lumen_stream_t s = nullptr;
	lumen_devptr_t send = 0, recv = 0;
	std::vector<uint8_t> host;
	double seconds = 0; // of the last timed run

	Rank() = default;
	Rank(const Rank &) = delete;
	Rank &operator=(const Rank &) = delete;
	~Rank()
	{
		if (ctx)
			lumen_context_destroy(ctx); // frees the stream and buffers
	}
};

// Threads meet here before the timed part, so that no rank's clock starts
// while another is still warming up.
class ThreadBarrier {
      public:
	explicit ThreadBarrier(int n) : n_(n) {}
	void wait()
	{
		std::unique_lock lk(m_);
		const unsigned gen = gen_;
		if (++waiting_ == n_) {
			waiting_ = 0;
			gen_++;
			cv_.notify_all();
		} else {
			cv_.wait(lk, [&] { return gen_ != gen; });
		}
	}

      private:
	std::mutex m_;
	std::condition_variable cv_;
	int n_, waiting_ = 0;
	unsigned gen_ = 0;
};

// fn(rank) on every rank at once, a thread each; rethrows the first error.
void on_every_rank(std::vector<std::unique_ptr<Rank>> &ranks, const std::function<void(Rank &)> &fn)
{
	std::mutex m;
	std::string first;
	std::vector<std::thread> t;
	for (auto &r : ranks)
		t.emplace_back([&, rp = r.get()] {
			try {
				fn(*rp);
			} catch (const std::exception &e) {
				std::lock_guard lk(m);
				if (first.empty())
					first = "rank " + std::to_string(rp->rank) + ": " +
						e.what();
			}
		});
	for (auto &th : t)
		th.join();
	if (!first.empty())
		throw Error(first);
}

// ---- values and their reference ------------------------------------------------

// Rank r's input at element i: small integers, exact in every dtype and in
// every partial sum of up to 64 ranks of f32/i32 (bf16 and f16: 8 ranks).
int32_t val(int r, size_t i)
{
	return int32_t((i * 7 + size_t(r) * 13) % 61) - 30;
}

size_t esize(lumen_dtype_t t)
{
	return t == LUMEN_DTYPE_F16 || t == LUMEN_DTYPE_BF16 ? 2 : 4;
}

uint16_t half_of(float f) // exact for the integers val() makes
{
	if (f == 0)
		return 0;
	uint32_t u;
	memcpy(&u, &f, 4);
	const uint32_t sign = (u >> 16) & 0x8000;
	const int exp = int((u >> 23) & 0xff) - 127 + 15;
	return uint16_t(sign | uint32_t(exp) << 10 | ((u >> 13) & 0x3ff));
}

float float_of_half(uint16_t h)
{
	const uint32_t sign = uint32_t(h & 0x8000) << 16;
	const uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
	if (!exp && !man) {
		float z;
		memcpy(&z, &sign, 4);
		return z;
	}
	if (!exp || exp == 31) // not produced by val() sums: say so by a NaN
		return __builtin_nanf("");
	const uint32_t u = sign | (exp - 15 + 127) << 23 | man << 13;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

void put(uint8_t *buf, size_t i, lumen_dtype_t t, int32_t v)
{
	const float f = float(v);
	uint32_t u;
	uint16_t h;
	switch (t) {
	case LUMEN_DTYPE_F32:
		memcpy(buf + 4 * i, &f, 4);
		break;
	case LUMEN_DTYPE_I32:
		memcpy(buf + 4 * i, &v, 4);
		break;
	case LUMEN_DTYPE_F16:
		h = half_of(f);
		memcpy(buf + 2 * i, &h, 2);
		break;
	case LUMEN_DTYPE_BF16:
		memcpy(&u, &f, 4);
		h = uint16_t(u >> 16);
		memcpy(buf + 2 * i, &h, 2);
		break;
	}
}

double get(const uint8_t *buf, size_t i, lumen_dtype_t t)
{
	float f;
	int32_t v;
	uint16_t h;
	uint32_t u;
	switch (t) {
	case LUMEN_DTYPE_F32:
		memcpy(&f, buf + 4 * i, 4);
		return f;
	case LUMEN_DTYPE_I32:
		memcpy(&v, buf + 4 * i, 4);
		return v;
	case LUMEN_DTYPE_F16:
		memcpy(&h, buf + 2 * i, 2);
		return float_of_half(h);
	case LUMEN_DTYPE_BF16:
		memcpy(&h, buf + 2 * i, 2);
		u = uint32_t(h) << 16;
		memcpy(&f, &u, 4);
		return f;
	}
	return 0;
}

int64_t reduced(size_t i, int n, lumen_reduce_op_t op)
{
	int64_t want = val(0, i);
	for (int q = 1; q < n; q++) {
		const int64_t v = val(q, i);
		want = op == LUMEN_REDUCE_SUM	? want + v
		       : op == LUMEN_REDUCE_MAX ? std::max(want, v)
						: std::min(want, v);
	}
	return want;
}

// ---- one collective ---------------------------------------------------------------

struct Run {
	Coll coll;
	Shape shape;
	lumen_dtype_t dtype;
	lumen_reduce_op_t op;
	int root, n;
	bool in_place;
	std::vector<lumen_ccl_comm_t> comms;

	// The buffers this rank's call takes: in place as nccl-tests places them.
	void buffers(const Rank &r, lumen_devptr_t *send, lumen_devptr_t *recv) const
	{
		const size_t es = esize(dtype);
		*send = r.send;
		*recv = r.recv;
		if (!in_place)
			return;
		switch (coll) {
		case Coll::AllGather:
			*send = r.recv + size_t(r.rank) * shape.per_rank * es;
			break;
		case Coll::ReduceScatter:
			*recv = r.send + size_t(r.rank) * shape.per_rank * es;
			break;
		default:
			*send = r.recv;
		}
	}

	void queue(Rank &r) const
	{
		lumen_devptr_t s, d;
		buffers(r, &s, &d);
		lumen_ccl_comm_t c = comms[size_t(r.rank)];
		const size_t k = shape.per_rank;
		switch (coll) {
		case Coll::AllReduce:
			ok(lumen_ccl_all_reduce(s, d, k, dtype, op, c, r.s),
			   "lumen_ccl_all_reduce");
			break;
		case Coll::AllGather:
			ok(lumen_ccl_all_gather(s, d, k, dtype, c, r.s), "lumen_ccl_all_gather");
			break;
		case Coll::ReduceScatter:
			ok(lumen_ccl_reduce_scatter(s, d, k, dtype, op, c, r.s),
			   "lumen_ccl_reduce_scatter");
			break;
		case Coll::Broadcast:
			ok(lumen_ccl_broadcast(s, d, k, dtype, root, c, r.s),
			   "lumen_ccl_broadcast");
			break;
		case Coll::Reduce:
			ok(lumen_ccl_reduce(s, d, k, dtype, op, root, c, r.s), "lumen_ccl_reduce");
			break;
		}
	}

	// Loads rank r's input where the call reads it.
	void fill(Rank &r) const
	{
		lumen_devptr_t s, d;
		buffers(r, &s, &d);
		const size_t elems = shape.send_bytes / esize(dtype);
		for (size_t i = 0; i < elems; i++)
			put(r.host.data(), i, dtype, val(r.rank, i));
		ok(lumen_memcpy_h2d_async(r.s, s, r.host.data(), shape.send_bytes),
		   "lumen_memcpy_h2d_async");
	}

	// Elements of rank r's result that differ from the CPU's.
	size_t wrong(Rank &r) const
	{
		lumen_devptr_t s, d;
		buffers(r, &s, &d);
		if (coll == Coll::Reduce && r.rank != root)
			return 0;
		const size_t bytes = coll == Coll::ReduceScatter ? shape.per_rank * esize(dtype)
								 : shape.recv_bytes;
		ok(lumen_memcpy_d2h_async(r.s, r.host.data(), d, bytes), "lumen_memcpy_d2h_async");
		ok(lumen_stream_synchronize(r.s), "lumen_stream_synchronize");
		size_t bad = 0;
		const size_t k = shape.per_rank;
		for (size_t i = 0; i < bytes / esize(dtype); i++) {
			int64_t want = 0;
			switch (coll) {
			case Coll::AllReduce:
			case Coll::Reduce:
				want = reduced(i, n, op);
				break;
			case Coll::AllGather:
				want = val(int(i / k), i % k);
				break;
			case Coll::ReduceScatter:
				want = reduced(size_t(r.rank) * k + i, n, op);
				break;
			case Coll::Broadcast:
				want = val(root, i);
				break;
			}
			if (get(r.host.data(), i, dtype) != double(want))
				bad++;
		}
		return bad;
	}
};

struct Figures {
	double us = 0, algbw = 0, busbw = 0; // GB/s
	size_t wrong = 0;
};

Figures measure(std::vector<std::unique_ptr<Rank>> &ranks, const Run &run, const Options &o)
{
	Figures f;
	if (o.check) {
		std::mutex m;
		on_every_rank(ranks, [&](Rank &r) {
			run.fill(r);
			run.queue(r);
			const size_t w = run.wrong(r);
			std::lock_guard lk(m);
			f.wrong += w;
		});
	}
	ThreadBarrier start(int(ranks.size()));
	on_every_rank(ranks, [&](Rank &r) {
		for (int i = 0; i < o.warmup; i++)
			run.queue(r);
		ok(lumen_stream_synchronize(r.s), "lumen_stream_synchronize");
		start.wait();
		const auto t0 = Clock::now();
		for (int i = 0; i < o.iters; i++)
			run.queue(r);
		ok(lumen_stream_synchronize(r.s), "lumen_stream_synchronize");
		r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
	});
	// nccl-tests' default (-a 1): the ranks' average.
	double sum = 0;
	for (auto &r : ranks)
		sum += r->seconds;
	const double t = sum / double(ranks.size()) / o.iters;
	f.us = t * 1e6;
	f.algbw = t > 0 ? double(run.shape.bytes) / t / 1e9 : 0;
	f.busbw = f.algbw * bus_factor(run.coll, run.n);
	return f;
}

// Seconds per barrier: the time of one ring step of a tiny message times
// n - 1, which calibrates the alpha of the model.
double barrier_seconds(std::vector<std::unique_ptr<Rank>> &ranks,
		       const std::vector<lumen_ccl_comm_t> &comms, const Options &o)
{
	ThreadBarrier start(int(ranks.size()));
	on_every_rank(ranks, [&](Rank &r) {
		for (int i = 0; i < o.warmup; i++)
			ok(lumen_ccl_barrier(comms[size_t(r.rank)], r.s), "lumen_ccl_barrier");
		ok(lumen_stream_synchronize(r.s), "lumen_stream_synchronize");
		start.wait();
		const auto t0 = Clock::now();
		for (int i = 0; i < o.iters; i++)
			ok(lumen_ccl_barrier(comms[size_t(r.rank)], r.s), "lumen_ccl_barrier");
		ok(lumen_stream_synchronize(r.s), "lumen_stream_synchronize");
		r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
	});
	double worst = 0;
	for (auto &r : ranks)
		worst = std::max(worst, r->seconds);
	return worst / o.iters;
}

const char *type_name(lumen_dtype_t t)
{
	switch (t) {
	case LUMEN_DTYPE_F32:
		return "float";
	case LUMEN_DTYPE_F16:
		return "half";
	case LUMEN_DTYPE_BF16:
		return "bfloat16";
	case LUMEN_DTYPE_I32:
		return "int32";
	}
	return "?";
}

bool rooted(Coll c)
{
	return c == Coll::Broadcast || c == Coll::Reduce;
}

bool reducing(Coll c)
{
	return c != Coll::AllGather && c != Coll::Broadcast;
}

int run_tool(const Options &o, Coll coll, lumen_dtype_t dtype, lumen_reduce_op_t op)
{
	int cards = 0;
	ok(lumen_device_count(&cards), "lumen_device_count");
	if (cards < 1)
		throw Error("no Lumen card");
	const int n = o.ranks ? o.ranks : std::min(cards, 8);
	if (rooted(coll) && (o.root < 0 || o.root >= n))
		throw Error("--root " + std::to_string(o.root) + " is not a rank (0 .. " +
			    std::to_string(n - 1) + ")");
	const size_t es = esize(dtype);
	if ((dtype == LUMEN_DTYPE_F16 || dtype == LUMEN_DTYPE_BF16) && n > 8 && o.check)
		throw Error("--check with 16-bit types needs at most 8 ranks (exact sums)");

	std::vector<std::unique_ptr<Rank>> ranks;
	std::string chips;
	const size_t buf = o.max_bytes + size_t(n) * es; // in-place offsets included
	for (int r = 0; r < n; r++) {
		auto rk = std::make_unique<Rank>();
		rk->rank = r;
		rk->card = r % cards;
		lumen_device_t dev;
		ok(lumen_device_get(rk->card, &dev), "lumen_device_get");
		uint32_t chip = 0;
		if (lumen_device_get_chip_id(dev, &chip) == LUMEN_SUCCESS)
			chips += " " + std::to_string(chip);
		ok(lumen_context_create(dev, &rk->ctx), "lumen_context_create");
		ok(lumen_stream_create(rk->ctx, &rk->s), "lumen_stream_create");
		ok(lumen_malloc(rk->ctx, buf, &rk->send), "lumen_malloc (send buffer)");
		ok(lumen_malloc(rk->ctx, buf, &rk->recv), "lumen_malloc (receive buffer)");
		rk->host.resize(buf);
		ranks.push_back(std::move(rk));
	}
	std::vector<lumen_context_t> ctxs;
	for (auto &r : ranks)
		ctxs.push_back(r->ctx);
	std::vector<lumen_ccl_comm_t> comms(size_t(n), nullptr);
	ok(lumen_ccl_comm_init_all(comms.data(), n, ctxs.data()), "lumen_ccl_comm_init_all");
	struct CommsGuard {
		std::vector<lumen_ccl_comm_t> &c;
		std::vector<std::unique_ptr<Rank>> &r;
		~CommsGuard()
		{
			// Destroy drains the neighbours' acknowledgements: all at once.
			std::vector<std::thread> t;
			for (auto comm : c)
				t.emplace_back([comm] { lumen_ccl_comm_destroy(comm); });
			for (auto &th : t)
				th.join();
		}
	} guard{comms, ranks};

	printf("# lumen-ccl-perf: %s, %d ranks on %d card%s (chips%s), %s%s%s, %d iterations "
	       "after %d warm-up, check %s\n",
	       coll_name(coll), n, cards, cards > 1 ? "s" : "", chips.c_str(), type_name(dtype),
	       reducing(coll) ? " " : "", reducing(coll) ? o.redop.c_str() : "", o.iters, o.warmup,
	       o.check ? "on" : "off");
	printf("#\n");
	printf("# %10s  %12s  %8s  %6s  %6s  %28s  %28s\n", "", "", "", "", "",
	       "out-of-place             ", "in-place               ");
	printf("# %10s  %12s  %8s  %6s  %6s  %8s  %6s  %6s  %6s  %8s  %6s  %6s  %6s\n", "size",
	       "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong", "time",
	       "algbw", "busbw", "#wrong");
	printf("# %10s  %12s  %8s  %6s  %6s  %8s  %6s  %6s  %6s  %8s  %6s  %6s  %6s\n", "(B)",
	       "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)",
	       "");
	size_t wrong = 0, rows = 0;
	double bus_sum = 0;
	Figures last{};
	size_t last_bytes = 0;
	double small_us = -1;
	for (size_t size = o.min_bytes; size <= o.max_bytes;) {
		Run run{coll, shape_of(coll, size, es, n), dtype, op, o.root, n, false, comms};
		if (run.shape.count) {
			Figures out = measure(ranks, run, o);
			run.in_place = true;
			Figures in = measure(ranks, run, o);
			printf("  %10zu  %12zu  %8s  %6s  %6d  %8.1f  %6.3f  %6.3f  %6zu  %8.1f  "
			       "%6.3f  "
			       "%6.3f  %6zu\n",
			       run.shape.bytes, run.shape.count, type_name(dtype),
			       reducing(coll) ? o.redop.c_str() : "none",
			       rooted(coll) ? o.root : -1, out.us, out.algbw, out.busbw, out.wrong,
			       in.us, in.algbw, in.busbw, in.wrong);
			fflush(stdout);
			wrong += out.wrong + in.wrong;
			bus_sum += out.busbw + in.busbw;
			rows += 2;
			last = out;
			last_bytes = run.shape.bytes;
			if (small_us < 0)
				small_us = out.us;
		}
		const size_t next = size_t(double(size) * o.factor);
		size = next > size ? next : size + 1;
	}
	printf("# Out of bounds values : %zu %s\n", wrong, wrong ? "FAILED" : "OK");
	printf("# Avg bus bandwidth    : %.3f GB/s\n", rows ? bus_sum / double(rows) : 0.0);
	if (o.fiber_rate > 0 && last_bytes) {
		printf("# busbw at %zu B: %.4f GB/s = %.2f of the fiber rate %.4f GB/s "
		       "(lumen-fabric "
		       "--rate; target >= 0.90)\n",
		       last_bytes, last.busbw, last.busbw * 1e9 / o.fiber_rate, o.fiber_rate / 1e9);
		// For tests/bench/run: the figure next to its baseline.
		printf("@figure ccl.%s.busbw %.6g GB/s fiber_rate %.6g\n", coll_name(coll),
		       last.busbw, o.fiber_rate / 1e9);
	}
	if (coll == Coll::AllReduce && n > 1 && small_us >= 0) {
		// alpha from the barrier's n - 1 token steps; the model's 8 B
		// all-reduce is 2 (n - 1) such steps (the bytes are negligible).
		const double step = barrier_seconds(ranks, comms, o) / (n - 1);
		lumen::route::AlphaBeta m;
		m.hop_latency_s = 0;
		m.launch_overhead_s = step;
		if (o.fiber_rate > 0)
			m.port_bandwidth = o.fiber_rate;
		const auto est = lumen::route::ring_estimate(m, lumen::route::Collective::AllReduce,
							     uint32_t(n), double(o.min_bytes));
		printf("# %zu B all_reduce: %.1f us; alpha-beta estimate %.1f us (%llu steps of "
		       "alpha "
		       "= %.1f us, alpha measured as a barrier's time / (n - 1)); ratio %.2f\n",
		       o.min_bytes, small_us, est.seconds * 1e6,
		       static_cast<unsigned long long>(est.steps), step * 1e6,
		       small_us / (est.seconds * 1e6));
		printf("@figure ccl.all_reduce.%zuB.time %.6g us alpha_beta_estimate %.6g\n",
		       o.min_bytes, small_us, est.seconds * 1e6);
	}
	return wrong ? 1 : 0;
}

} // namespace

int main(int argc, char **argv)
{
	Options o;
	CLI::App app{"lumen-ccl-perf: nccl-tests' table (size, count, time, algbw, busbw, #wrong) "
		     "for liblumen-ccl's collectives, one rank per card"};
	app.add_option("-b,--minbytes", o.min_bytes,
		       "smallest size in bytes, K/M/G suffixes (default 8)")
		->transform(CLI::AsSizeValue(false))
		->check(CLI::Range(size_t(1), size_t(1) << 40));
	app.add_option("-e,--maxbytes", o.max_bytes, "largest size in bytes (default 64M)")
		->transform(CLI::AsSizeValue(false))
		->check(CLI::Range(size_t(1), size_t(1) << 40));
	app.add_option("-f,--stepfactor", o.factor, "size multiplier between rows (default 2)")
		->check(CLI::Range(1.01, 1024.0));
	app.add_option("-o,--op", o.op,
		       "all_reduce, all_gather, reduce_scatter, broadcast or reduce");
	app.add_option("-d,--datatype", o.dtype, "f32, f16, bf16 or i32")
		->check(CLI::IsMember({"f32", "f16", "bf16", "i32"}));
	app.add_option("-r,--redop", o.redop, "sum, max or min")
		->check(CLI::IsMember({"sum", "max", "min"}));
	app.add_option("-n,--iters", o.iters, "timed iterations per size (default 20)")
		->check(CLI::Range(1, 100000));
	app.add_option("-w,--warmup", o.warmup, "untimed iterations first (default 5)")
		->check(CLI::Range(0, 100000));
	app.add_option("-g,--ranks", o.ranks, "ranks (default: one per card, at most 8)")
		->check(CLI::Range(1, 4096));
	app.add_option("--root", o.root, "root of broadcast and reduce (default 0)");
	app.add_option("-c,--check", o.check, "check every result against the CPU (default 1)");
	app.add_option("--fiber-rate", o.fiber_rate,
		       "the fibers' configured rate in bytes/s (lumen-fabric --rate), to print "
		       "busbw against")
		->check(CLI::Range(0.0, 1e13));
	CLI11_PARSE(app, argc, argv);
	if (o.min_bytes > o.max_bytes) {
		fprintf(stderr, "lumen-ccl-perf: --minbytes %zu is above --maxbytes %zu\n",
			o.min_bytes, o.max_bytes);
		return 2;
	}
	const auto coll = coll_from_name(o.op);
	if (!coll) {
		fprintf(stderr,
			"lumen-ccl-perf: --op '%s' is not all_reduce, all_gather, reduce_scatter, "
			"broadcast or reduce\n",
			o.op.c_str());
		return 2;
	}
	const lumen_dtype_t dtype = o.dtype == "f32"	? LUMEN_DTYPE_F32
				    : o.dtype == "f16"	? LUMEN_DTYPE_F16
				    : o.dtype == "bf16" ? LUMEN_DTYPE_BF16
							: LUMEN_DTYPE_I32;
	const lumen_reduce_op_t op = o.redop == "sum"	? LUMEN_REDUCE_SUM
				     : o.redop == "max" ? LUMEN_REDUCE_MAX
							: LUMEN_REDUCE_MIN;
	try {
		return run_tool(o, *coll, dtype, op);
	} catch (const std::exception &e) {
		fprintf(stderr, "lumen-ccl-perf: %s\n", e.what());
		return 1;
	}
}
