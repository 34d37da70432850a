// SPDX-License-Identifier: MIT
#include "match.hpp"

#include <algorithm>
#include <cstring>

namespace lumen_fi {

size_t RecvReq::capacity() const
{
	size_t n = 0;
	for (size_t i = 0; i < iov_count; i++)
		n += iov[i].iov_len;
	return n;
}

bool recv_matches(const RecvReq &r, const Incoming &in, bool directed)
{
	if (r.tagged != in.tagged)
		return false;
	if (directed && r.src != FI_ADDR_UNSPEC && r.src != in.src)
		return false;
	return !r.tagged || tag_matches(in.tag, r.tag, r.ignore);
}

size_t scatter(const RecvReq &r, size_t off, const void *src, size_t n)
{
	auto *from = static_cast<const uint8_t *>(src);
	size_t done = 0;
	for (size_t i = 0; i < r.iov_count && done < n; i++) {
		size_t len = r.iov[i].iov_len;
		if (off >= len) {
			off -= len;
			continue;
		}
		size_t k = std::min(len - off, n - done);
		memcpy(static_cast<uint8_t *>(r.iov[i].iov_base) + off, from + done, k);
		done += k;
		off = 0;
	}
	return done;
}

Unexpected *Matcher::post(const RecvReq &r)
{
	for (auto &u : unexpected_[r.tagged]) {
		if (!u->req && recv_matches(r, u->in, directed_)) {
			u->req = r;
			return u.get();
		}
	}
	posted_[r.tagged].push_back(r);
	return nullptr;
}

std::optional<RecvReq> Matcher::match(const Incoming &in)
{
	auto &q = posted_[in.tagged];
	for (auto it = q.begin(); it != q.end(); ++it) {
		if (recv_matches(*it, in, directed_)) {
			RecvReq r = *it;
			q.erase(it);
			return r;
		}
	}
	return std::nullopt;
}

Unexpected *Matcher::add_unexpected(const Incoming &in, size_t msg_len, uint64_t data,
				    bool has_data)
{
	auto u = std::make_unique<Unexpected>();
	u->in = in;
	u->msg_len = msg_len;
	u->data = data;
	u->has_data = has_data;
	u->bytes.resize(msg_len);
	unexpected_[in.tagged].push_back(std::move(u));
	return unexpected_[in.tagged].back().get();
}

void Matcher::remove(Unexpected *u)
{
	unexpected_[u->in.tagged].remove_if([u](const auto &p) { return p.get() == u; });
}

std::optional<RecvReq> Matcher::cancel(void *context)
{
	for (auto &q : posted_) {
		for (auto it = q.begin(); it != q.end(); ++it) {
			if (it->context == context) {
				RecvReq r = *it;
				q.erase(it);
				return r;
			}
		}
	}
	return std::nullopt;
}

} // namespace lumen_fi
