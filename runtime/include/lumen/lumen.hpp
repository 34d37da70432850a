// SPDX-License-Identifier: MIT
/*
 * liblumen C++ wrapper: header-only RAII over the C API in lumen.h.
 *
 * Failures throw lumen::Error carrying the status and the library's message.
 * Every owning type is move-only and releases its object in its destructor
 * (errors there are ignored: destructors never throw).
 *
 *   lumen::Context ctx(lumen::Device::get(0));
 *   lumen::Stream s(ctx);
 *   lumen::DeviceBuffer<float> buf(ctx, 1024);
 *   s.copy_to_device(buf, host.data());
 *   s.synchronize();
 */
#ifndef LUMEN_LUMEN_HPP
#define LUMEN_LUMEN_HPP

#include <lumen/lumen.h>

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace lumen {

/** A failed liblumen call: status() and what() (the library's message). */
class Error : public std::runtime_error {
      public:
	Error(lumen_status_t status, const std::string &msg)
	    : std::runtime_error(msg), status_(status)
	{
	}
	lumen_status_t status() const noexcept { return status_; }
	const char *status_name() const noexcept { return lumen_status_string(status_); }

      private:
	lumen_status_t status_;
};

/** Throw lumen::Error unless s is LUMEN_SUCCESS. */
inline void check(lumen_status_t s)
{
	if (s != LUMEN_SUCCESS)
		throw Error(s, std::string(lumen_status_string(s)) + ": " + lumen_get_last_error());
}

namespace detail {
// A move-only owner of a C handle with a destroy function.
template <typename H, lumen_status_t (*Destroy)(H)> class Owned {
      public:
	Owned() = default;
	explicit Owned(H h) noexcept : h_(h) {}
	~Owned() { reset(); }
	Owned(Owned &&o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
	Owned &operator=(Owned &&o) noexcept
	{
		if (this != &o) {
			reset();
			h_ = std::exchange(o.h_, nullptr);
		}
		return *this;
	}
	Owned(const Owned &) = delete;
	Owned &operator=(const Owned &) = delete;
	H get() const noexcept { return h_; }
	H release() noexcept { return std::exchange(h_, nullptr); }
	void reset() noexcept
	{
		if (h_)
			(void)Destroy(std::exchange(h_, nullptr));
	}

      private:
	H h_ = nullptr;
};
} // namespace detail

/** A device (not owned: devices live for the process). */
class Device {
      public:
	explicit Device(lumen_device_t d) noexcept : d_(d) {}
	static int count()
	{
		int n = 0;
		check(lumen_device_count(&n));
		return n;
	}
	static Device get(int index)
	{
		lumen_device_t d = nullptr;
		check(lumen_device_get(index, &d));
		return Device(d);
	}
	lumen_device_props_t props() const
	{
		lumen_device_props_t p{};
		LUMEN_STRUCT_INIT(p);
		check(lumen_device_get_props(d_, &p));
		return p;
	}
	/** Supernode chip id: what remote operations address. */
	uint32_t chip_id() const
	{
		uint32_t c = 0;
		check(lumen_device_get_chip_id(d_, &c));
		return c;
	}
	/** The chip on the fabric (throws NOT_SUPPORTED without a link engine). */
	lumen_link_info_t link_info() const
	{
		lumen_link_info_t li{};
		LUMEN_STRUCT_INIT(li);
		check(lumen_device_get_link_info(d_, &li));
		return li;
	}
	/** Can this device reach chip peer_chip now? caps: LUMEN_PEER_* */
	bool can_access_peer(uint32_t peer_chip, uint32_t *caps = nullptr) const
	{
		int can = 0;
		check(lumen_device_can_access_peer(d_, peer_chip, &can, caps));
		return can != 0;
	}
	lumen_device_t get() const noexcept { return d_; }

      private:
	lumen_device_t d_;
};

/** A device context (one address space); destroys everything it owns. */
class Context {
      public:
	explicit Context(Device dev)
	{
		lumen_context_t c = nullptr;
		check(lumen_context_create(dev.get(), &c));
		h_ = Handle(c);
	}
	explicit Context(int device_index = 0) : Context(Device::get(device_index)) {}
	lumen_context_t get() const noexcept { return h_.get(); }

	lumen_fault_t fault() const
	{
		lumen_fault_t f{};
		LUMEN_STRUCT_INIT(f);
		(void)lumen_context_get_fault(get(), &f); // returns the sticky status
		return f;
	}
	lumen_mem_info_t mem_info() const
	{
		lumen_mem_info_t m{};
		LUMEN_STRUCT_INIT(m);
		check(lumen_mem_get_info(get(), &m));
		return m;
	}
	void trim() { check(lumen_mem_trim(get())); }
	void memcpy(void *dst, const void *src, size_t size,
		    lumen_copy_kind_t kind = LUMEN_COPY_DEFAULT)
	{
		check(lumen_memcpy(get(), dst, src, size, kind));
	}
	void memset(lumen_devptr_t dst, int value, size_t size)
	{
		check(lumen_memset(get(), dst, value, size));
	}
	/** This context's streams may copy to and from peer's memory (one way). */
	void enable_peer_access(const Context &peer)
	{
		check(lumen_context_enable_peer_access(get(), peer.get()));
	}
	void disable_peer_access(const Context &peer)
	{
		check(lumen_context_disable_peer_access(get(), peer.get()));
	}

      private:
	using Handle = detail::Owned<lumen_context_t, lumen_context_destroy>;
	Handle h_;
};

/** Untyped device memory of a context. */
class Buffer {
      public:
	Buffer() = default;
	Buffer(const Context &ctx, size_t bytes) : ctx_(ctx.get()), size_(bytes)
	{
		check(lumen_malloc(ctx_, bytes, &ptr_));
	}
	~Buffer() { reset(); }
	Buffer(Buffer &&o) noexcept
	    : ctx_(o.ctx_), ptr_(std::exchange(o.ptr_, 0)), size_(std::exchange(o.size_, 0))
	{
	}
	Buffer &operator=(Buffer &&o) noexcept
	{
		if (this != &o) {
			reset();
			ctx_ = o.ctx_;
			ptr_ = std::exchange(o.ptr_, 0);
			size_ = std::exchange(o.size_, 0);
		}
		return *this;
	}
	Buffer(const Buffer &) = delete;
	Buffer &operator=(const Buffer &) = delete;

	lumen_devptr_t get() const noexcept { return ptr_; }
	size_t bytes() const noexcept { return size_; }
	lumen_context_t context() const noexcept { return ctx_; }
	void reset() noexcept
	{
		if (ptr_)
			(void)lumen_free(ctx_, std::exchange(ptr_, 0));
	}

      private:
	lumen_context_t ctx_ = nullptr;
	lumen_devptr_t ptr_ = 0;
	size_t size_ = 0;
};

/** Device memory holding count elements of T. */
template <typename T> class DeviceBuffer : public Buffer {
      public:
	DeviceBuffer() = default;
	DeviceBuffer(const Context &ctx, size_t count) : Buffer(ctx, count * sizeof(T)), n_(count)
	{
	}
	size_t size() const noexcept { return n_; }

      private:
	size_t n_ = 0;
};

/** Pinned host memory the device reaches directly. */
class HostBuffer {
      public:
	HostBuffer() = default;
	HostBuffer(const Context &ctx, size_t bytes) : ctx_(ctx.get()), size_(bytes)
	{
		check(lumen_malloc_host(ctx_, bytes, &p_));
	}
	~HostBuffer() { reset(); }
	HostBuffer(HostBuffer &&o) noexcept
	    : ctx_(o.ctx_), p_(std::exchange(o.p_, nullptr)), size_(std::exchange(o.size_, 0))
	{
	}
	HostBuffer &operator=(HostBuffer &&o) noexcept
	{
		if (this != &o) {
			reset();
			ctx_ = o.ctx_;
			p_ = std::exchange(o.p_, nullptr);
			size_ = std::exchange(o.size_, 0);
		}
		return *this;
	}
	HostBuffer(const HostBuffer &) = delete;
	HostBuffer &operator=(const HostBuffer &) = delete;

	void *get() const noexcept { return p_; }
	template <typename T> T *as() const noexcept { return static_cast<T *>(p_); }
	size_t bytes() const noexcept { return size_; }
	void reset() noexcept
	{
		if (p_)
			(void)lumen_free_host(ctx_, std::exchange(p_, nullptr));
	}

      private:
	lumen_context_t ctx_ = nullptr;
	void *p_ = nullptr;
	size_t size_ = 0;
};

/** A remote window on device memory; closed when destroyed. */
class Window {
      public:
	Window(const Context &ctx, lumen_devptr_t ptr, size_t bytes, unsigned flags)
	    : Window(ctx.get(), ptr, bytes, flags)
	{
	}
	/** The whole buffer. */
	Window(const Buffer &buf, unsigned flags)
	    : Window(buf.context(), buf.get(), buf.bytes(), flags)
	{
	}
	lumen_window_t get() const noexcept { return h_.get(); }
	/** What peers need: plain bytes. */
	lumen_window_desc_t desc() const
	{
		lumen_window_desc_t d{};
		check(lumen_window_get_desc(get(), &d));
		return d;
	}

      private:
	Window(lumen_context_t ctx, lumen_devptr_t ptr, size_t bytes, unsigned flags)
	{
		lumen_window_t w = nullptr;
		check(lumen_window_open(ctx, ptr, bytes, flags, &w));
		h_ = Handle(w);
	}
	using Handle = detail::Owned<lumen_window_t, lumen_window_close>;
	Handle h_;
};

class Stream;

/** A point in a stream, with a device timestamp. */
class Event {
      public:
	explicit Event(const Context &ctx)
	{
		lumen_event_t e = nullptr;
		check(lumen_event_create(ctx.get(), &e));
		h_ = Handle(e);
	}
	lumen_event_t get() const noexcept { return h_.get(); }
	inline void record(const Stream &s);
	bool query() const
	{
		lumen_status_t st = lumen_event_query(get());
		if (st == LUMEN_ERROR_NOT_READY)
			return false;
		check(st);
		return true;
	}
	void synchronize() const { check(lumen_event_synchronize(get())); }
	/** Milliseconds from start to this event. */
	float elapsed_since(const Event &start) const
	{
		float ms = 0;
		check(lumen_event_elapsed_time(&ms, start.get(), get()));
		return ms;
	}

      private:
	using Handle = detail::Owned<lumen_event_t, lumen_event_destroy>;
	Handle h_;
};

/** An in-order stream of device work. */
class Stream {
      public:
	explicit Stream(const Context &ctx)
	{
		lumen_stream_t s = nullptr;
		check(lumen_stream_create(ctx.get(), &s));
		h_ = Handle(s);
	}
	lumen_stream_t get() const noexcept { return h_.get(); }

	void synchronize() const { check(lumen_stream_synchronize(get())); }
	bool query() const
	{
		lumen_status_t st = lumen_stream_query(get());
		if (st == LUMEN_ERROR_NOT_READY)
			return false;
		check(st);
		return true;
	}
	void wait(const Event &e) const { check(lumen_stream_wait_event(get(), e.get())); }

	void copy_to_device(lumen_devptr_t dst, const void *src, size_t bytes) const
	{
		check(lumen_memcpy_h2d_async(get(), dst, src, bytes));
	}
	void copy_to_device(const Buffer &dst, const void *src) const
	{
		copy_to_device(dst.get(), src, dst.bytes());
	}
	void copy_to_host(void *dst, lumen_devptr_t src, size_t bytes) const
	{
		check(lumen_memcpy_d2h_async(get(), dst, src, bytes));
	}
	void copy_to_host(void *dst, const Buffer &src) const
	{
		copy_to_host(dst, src.get(), src.bytes());
	}
	void copy(lumen_devptr_t dst, lumen_devptr_t src, size_t bytes) const
	{
		check(lumen_memcpy_d2d_async(get(), dst, src, bytes));
	}
	void copy_host(void *dst, const void *src, size_t bytes) const
	{
		check(lumen_memcpy_h2h_async(get(), dst, src, bytes));
	}
	void memset(lumen_devptr_t dst, int value, size_t bytes) const
	{
		check(lumen_memset_async(get(), dst, value, bytes));
	}
	void memset_d32(lumen_devptr_t dst, uint32_t value, size_t bytes) const
	{
		check(lumen_memset_d32_async(get(), dst, value, bytes));
	}
	/** Wait on the card until the device word *ptr >= value. */
	void wait_value(lumen_devptr_t ptr, uint64_t value) const
	{
		check(lumen_stream_wait_value64(get(), ptr, value));
	}
	/** *ptr = value when the stream gets there. */
	void write_value(lumen_devptr_t ptr, uint64_t value) const
	{
		check(lumen_stream_write_value64(get(), ptr, value));
	}
	/** bytes from src of src_ctx to dst of dst_ctx; this stream is of one of them. */
	void memcpy_peer(const Context &dst_ctx, lumen_devptr_t dst, const Context &src_ctx,
			 lumen_devptr_t src, size_t bytes) const
	{
		check(lumen_memcpy_peer_async(get(), dst_ctx.get(), dst, src_ctx.get(), src, bytes));
	}
	/** Remote operations (lumen.h "Peer memory"): failures surface in synchronize(). */
	void remote_write(const lumen_window_desc_t &dst, uint64_t offset, lumen_devptr_t src,
			  size_t bytes) const
	{
		check(lumen_remote_write_async(get(), &dst, offset, src, bytes));
	}
	void remote_read(lumen_devptr_t dst, const lumen_window_desc_t &src, uint64_t offset,
			 size_t bytes) const
	{
		check(lumen_remote_read_async(get(), dst, &src, offset, bytes));
	}
	void remote_atomic(const lumen_window_desc_t &dst, uint64_t offset, lumen_atomic_op_t op,
			   uint64_t operand, lumen_devptr_t result = 0) const
	{
		check(lumen_remote_atomic_async(get(), &dst, offset, op, operand, result));
	}
	/** Reductions (lumen.h "Reductions"): dst[i] = dst[i] op src[i]. */
	void reduce(lumen_devptr_t dst, lumen_devptr_t src, size_t count, lumen_dtype_t dtype,
		    lumen_reduce_op_t op) const
	{
		check(lumen_reduce_async(get(), dst, src, count, dtype, op));
	}
	void remote_reduce(const lumen_window_desc_t &dst, uint64_t offset, lumen_devptr_t src,
			   size_t count, lumen_dtype_t dtype, lumen_reduce_op_t op) const
	{
		check(lumen_remote_reduce_async(get(), &dst, offset, src, count, dtype, op));
	}
	void nop() const { check(lumen_launch_nop_async(get())); }
	void host_func(lumen_host_fn_t fn, void *user_data) const
	{
		check(lumen_launch_host_func(get(), fn, user_data));
	}

      private:
	using Handle = detail::Owned<lumen_stream_t, lumen_stream_destroy>;
	Handle h_;
};

/** A region exported for the fabric; revoked when destroyed. */
class FabricExport {
      public:
	FabricExport(const Context &ctx, lumen_devptr_t ptr, size_t bytes, unsigned rights)
	    : ctx_(ctx.get())
	{
		check(lumen_mem_export_fabric(ctx_, ptr, bytes, rights, &h_));
		live_ = true;
	}
	~FabricExport() { reset(); }
	FabricExport(FabricExport &&o) noexcept
	    : ctx_(o.ctx_), h_(o.h_), live_(std::exchange(o.live_, false))
	{
	}
	FabricExport &operator=(FabricExport &&o) noexcept
	{
		if (this != &o) {
			reset();
			ctx_ = o.ctx_;
			h_ = o.h_;
			live_ = std::exchange(o.live_, false);
		}
		return *this;
	}
	FabricExport(const FabricExport &) = delete;
	FabricExport &operator=(const FabricExport &) = delete;
	/** The 64 bytes to hand to importers. */
	const lumen_fabric_handle_t &handle() const noexcept { return h_; }
	void reset() noexcept
	{
		if (std::exchange(live_, false))
			(void)lumen_mem_revoke_fabric(ctx_, &h_);
	}

      private:
	lumen_context_t ctx_;
	lumen_fabric_handle_t h_{};
	bool live_ = false;
};

/** An imported region: get() is its remote pointer for Stream::memcpy_peer. */
class FabricImport {
      public:
	FabricImport(const Context &ctx, const lumen_fabric_handle_t &h) : ctx_(ctx.get())
	{
		check(lumen_mem_import_fabric(ctx_, &h, &ptr_));
	}
	~FabricImport() { reset(); }
	FabricImport(FabricImport &&o) noexcept : ctx_(o.ctx_), ptr_(std::exchange(o.ptr_, 0)) {}
	FabricImport &operator=(FabricImport &&o) noexcept
	{
		if (this != &o) {
			reset();
			ctx_ = o.ctx_;
			ptr_ = std::exchange(o.ptr_, 0);
		}
		return *this;
	}
	FabricImport(const FabricImport &) = delete;
	FabricImport &operator=(const FabricImport &) = delete;
	lumen_devptr_t get() const noexcept { return ptr_; }
	void reset() noexcept
	{
		if (ptr_)
			(void)lumen_mem_release_fabric(ctx_, std::exchange(ptr_, 0));
	}

      private:
	lumen_context_t ctx_;
	lumen_devptr_t ptr_ = 0;
};

/**
 * The supernode as the fabric manager knows it (lumen.h, "The fabric"):
 *
 *   auto r = lumen::fabric::route(0, 5);
 *   for (const auto &h : r.hops)
 *           printf("chip %u port %u vc %u\n", h.chip_id, h.port, h.vc);
 */
namespace fabric {

inline lumen_fabric_info_t info()
{
	lumen_fabric_info_t i{};
	LUMEN_STRUCT_INIT(i);
	check(lumen_fabric_get_info(&i));
	return i;
}

/** Chip ids, ascending. */
inline std::vector<uint32_t> chips()
{
	size_t n = 0;
	check(lumen_fabric_get_chips(nullptr, 0, &n));
	std::vector<uint32_t> ids(n);
	// The fabric may have grown in between: ask until the array is large enough.
	while (n) {
		check(lumen_fabric_get_chips(ids.data(), ids.size(), &n));
		if (n <= ids.size())
			break;
		ids.resize(n);
	}
	ids.resize(n);
	return ids;
}

inline lumen_chip_info_t chip(uint32_t chip_id)
{
	lumen_chip_info_t c{};
	LUMEN_STRUCT_INIT(c);
	check(lumen_fabric_get_chip_info(chip_id, &c));
	return c;
}

inline lumen_port_info_t port(uint32_t chip_id, uint32_t port)
{
	lumen_port_info_t p{};
	LUMEN_STRUCT_INIT(p);
	check(lumen_fabric_get_port_info(chip_id, port, &p));
	return p;
}

struct Route {
	lumen_route_info_t info;
	std::vector<lumen_route_hop_t> hops;
};

/** The route src -> dst with its hops (throws UNREACHABLE when there is none). */
inline Route route(uint32_t src, uint32_t dst)
{
	Route r{};
	LUMEN_STRUCT_INIT(r.info);
	// A route is at most the TTL long; ask again if the answer says more.
	r.hops.resize(64);
	for (;;) {
		check(lumen_fabric_get_route(src, dst, &r.info, r.hops.data(), r.hops.size()));
		if (r.info.num_hops <= r.hops.size())
			break;
		r.hops.resize(r.info.num_hops);
	}
	r.hops.resize(r.info.num_hops);
	return r;
}

/** Summaries of many routes; each pair carries its own status. */
inline std::vector<lumen_route_summary_t>
routes(const std::vector<std::pair<uint32_t, uint32_t>> &pairs, uint64_t *generation = nullptr)
{
	std::vector<lumen_route_summary_t> out(pairs.size());
	for (size_t i = 0; i < pairs.size(); i++) {
		out[i].src = pairs[i].first;
		out[i].dst = pairs[i].second;
	}
	check(lumen_fabric_get_routes(out.data(), out.size(), generation));
	return out;
}

/** Events after seq after_seq (at most max). */
inline std::vector<lumen_fabric_event_t> events(uint64_t after_seq = 0, size_t max = 1024)
{
	std::vector<lumen_fabric_event_t> ev(max);
	size_t n = 0;
	check(lumen_fabric_get_events(after_seq, ev.data(), ev.size(), &n));
	ev.resize(n);
	return ev;
}

/** The new generation once it is past seen, or nothing after timeout_ms. */
inline std::optional<uint64_t> wait_generation(uint64_t seen, int timeout_ms)
{
	uint64_t g = 0;
	lumen_status_t s = lumen_fabric_wait_generation(seen, timeout_ms, &g);
	if (s == LUMEN_ERROR_TIMEOUT)
		return std::nullopt;
	check(s);
	return g;
}

} // namespace fabric

inline void Event::record(const Stream &s)
{
	check(lumen_event_record(get(), s.get()));
}

} // namespace lumen

#endif /* LUMEN_LUMEN_HPP */
