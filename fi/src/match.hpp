// SPDX-License-Identifier: MIT
// Receive matching: posted receives and the unexpected-message queue, for
// untagged (FI_MSG) and tagged (FI_TAGGED) traffic. Pure host logic (no
// device), unit-tested in fi/tests.
#pragma once

#include <rdma/fabric.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <vector>

namespace lumen_fi {

constexpr size_t kMaxIov = 4;

struct RecvReq {
	void *context = nullptr;
	iovec iov[kMaxIov] = {};
	size_t iov_count = 0;
	fi_addr_t src = FI_ADDR_UNSPEC;
	uint64_t tag = 0, ignore = 0;
	uint64_t flags = 0; // operation flags (FI_COMPLETION, ...)
	bool tagged = false;
	size_t capacity() const;
};

// What the receiver knows of an arriving message when it matches it.
struct Incoming {
	bool tagged;
	fi_addr_t src; // FI_ADDR_NOTAVAIL when the sender is not in the AV
	uint64_t tag;
};

inline bool tag_matches(uint64_t tag, uint64_t want, uint64_t ignore)
{
	return ((tag ^ want) & ~ignore) == 0;
}

// directed: the endpoint has FI_DIRECTED_RECV, so a receive's src counts.
bool recv_matches(const RecvReq &r, const Incoming &in, bool directed);

// Copies n bytes to byte offset off of the receive's buffers; returns how
// many fitted.
size_t scatter(const RecvReq &r, size_t off, const void *src, size_t n);

// A message that arrived before its receive: buffered whole.
struct Unexpected {
	Incoming in;
	uint64_t data = 0;
	bool has_data = false;
	size_t msg_len = 0, received = 0;
	std::vector<uint8_t> bytes;
	std::optional<RecvReq> req; // the receive it matched while incomplete
	bool complete() const { return received == msg_len; }
};

class Matcher {
      public:
	explicit Matcher(bool directed) : directed_(directed) {}

	// A new receive. Returns the unexpected message it matched (the oldest
	// one not yet claimed; the receive is attached to it) or nullptr when
	// the receive was queued.
	Unexpected *post(const RecvReq &r);
	// An arriving message: the oldest posted receive it matches, removed.
	std::optional<RecvReq> match(const Incoming &in);
	// Queues a new unexpected message; the Matcher owns it.
	Unexpected *add_unexpected(const Incoming &in, size_t msg_len, uint64_t data,
				   bool has_data);
	// Forgets a delivered unexpected message.
	void remove(Unexpected *u);
	// Removes the posted receive with this context (fi_cancel).
	std::optional<RecvReq> cancel(void *context);
	size_t posted_count() const { return posted_[0].size() + posted_[1].size(); }
	size_t unexpected_count() const { return unexpected_[0].size() + unexpected_[1].size(); }

      private:
	bool directed_;
	std::list<RecvReq> posted_[2];			       // [tagged]
	std::list<std::unique_ptr<Unexpected>> unexpected_[2]; // [tagged], arrival order
};

} // namespace lumen_fi
