// SPDX-License-Identifier: MIT
// Progress (FI_PROGRESS_MANUAL): called from every CQ read and after every
// post. Transmit: queued operations become fragments in the receivers'
// rings, in order per receiver, as far as credit and the staging slots
// allow; an operation completes once every fragment of it is confirmed by
// its target. Receive: one poll of the inbox; fragments are matched,
// reassembled and completed.
#include "info.hpp"
#include "log.hpp"
#include "objects.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_set>

namespace lumen_fi {

void Ep::progress()
{
	// An endpoint bound to a CQ but not enabled (no AV yet) has nothing to
	// deliver to: what peers sent waits in its inbox.
	if (!enabled || !av)
		return;
	progress_tx();
	progress_rx();
}

void Ep::complete_tx(const TxOp &op)
{
	if (op.state == TxOp::Failed && !op.completion && !op.context && op.op != Op::ReadReq) {
		// The provider's own operation (a read answer): nobody to tell.
		LFI_WARN(FI_LOG_EP_DATA, "an internal transfer failed (%d) and was dropped\n",
			 op.err);
		return;
	}
	if (op.state == TxOp::Failed) {
		Completion c;
		c.e.op_context = op.context;
		c.e.flags = op.cq_flags;
		c.e.tag = op.tag;
		c.err = -op.err;
		if (op.op == Op::ReadReq) {
			auto it = reads.find(op.req_id);
			if (it != reads.end()) {
				c.e.op_context = it->second.context;
				reads.erase(it);
			}
		}
		cq_push(txcq, c);
		return;
	}
	if (!op.completion)
		return;
	Completion c;
	c.e.op_context = op.context;
	c.e.flags = op.cq_flags;
	cq_push(txcq, c);
}

void Ep::progress_tx()
{
	if (txq.empty())
		return;
	std::unordered_set<AddrKey, AddrKeyHash> blocked;
	// Confirms the fragments queued so far; the operations fully queued
	// complete (or fail, with the batch).
	auto flush = [this] {
		int r = tp->flush();
		for (TxOp &op : txq) {
			// A failure also ends operations only partly sent: their
			// ring is given up.
			if (op.state == TxOp::Queued ||
			    (r && op.state == TxOp::Pending && op.started)) {
				op.state = r ? TxOp::Failed : TxOp::Done;
				op.err = r;
			}
		}
		if (r)
			for (auto &kv : conns)
				kv.second.ring = UINT32_MAX; // state unknown: claim anew
	};
	auto fail = [](TxOp &op, int err) {
		op.state = TxOp::Failed;
		op.err = err;
	};

	for (TxOp &op : txq) {
		if (op.state != TxOp::Pending)
			continue;
		const AddrKey key = key_of(op.dst);
		if (blocked.count(key))
			continue;
		auto [it, fresh] = conns.try_emplace(key);
		Conn &c = it->second;
		if (fresh || c.ring == UINT32_MAX) {
			c.dst = op.dst;
			c.hello_sent = false;
			if (int r = tp->claim(c)) {
				fail(op, r);
				blocked.insert(key);
				continue;
			}
		}
		const uint32_t max = tp->max_payload(c.dst);
		while (!op.started || op.sent < op.msg_len || !c.hello_sent) {
			if (tp->staging_full())
				flush();
			if (!tp->has_credit(c)) {
				flush();
				if (int r = tp->refresh_credit(c)) {
					fail(op, r);
					break;
				}
				if (!tp->has_credit(c))
					break;
			}
			FragHdr h{};
			h.magic = kFragMagic;
			if (!c.hello_sent) {
				// The receiver learns who owns the ring.
				h.op = uint16_t(Op::Hello);
				h.frag_len = sizeof(Address);
				h.msg_len = sizeof(Address);
				if (int r = tp->queue(c, h, &tp->address())) {
					fail(op, r);
					break;
				}
				c.hello_sent = true;
				continue;
			}
			h.op = uint16_t(op.op);
			h.flags = op.has_data ? kFragData : 0;
			h.tag = op.tag;
			h.data = op.data;
			h.msg_len = op.msg_len;
			h.offset = op.sent;
			h.rma_addr = op.rma_addr;
			h.rma_key = op.rma_key;
			h.req_id = op.req_id;
			h.status = op.status;
			const uint64_t n =
				op.op == Op::ReadReq
					? 0
					: std::min<uint64_t>(max, op.payload.size() - op.sent);
			h.frag_len = uint32_t(n);
			if (int r = tp->queue(c, h, op.payload.data() + op.sent)) {
				fail(op, r);
				break;
			}
			op.started = true;
			op.sent += op.op == Op::ReadReq ? op.msg_len : n;
		}
		if (op.state == TxOp::Pending && op.started && op.sent >= op.msg_len)
			op.state = TxOp::Queued;
		if (op.state != TxOp::Queued)
			blocked.insert(key); // later operations to it wait: order
	}
	flush();
	while (!txq.empty() && txq.front().state != TxOp::Pending) {
		complete_tx(txq.front());
		txq.pop_front();
	}
	// Done operations behind a pending one complete now too; the order
	// of completions is not promised (comp_order FI_ORDER_NONE).
	for (auto it = txq.begin(); it != txq.end();) {
		if (it->state != TxOp::Pending) {
			complete_tx(*it);
			it = txq.erase(it);
		} else {
			++it;
		}
	}
}

void Ep::complete_recv(const RecvReq &r, const Incoming &in, uint64_t msg_len, uint64_t data,
		       bool has_data)
{
	Completion c;
	c.e.op_context = r.context;
	c.e.flags = FI_RECV | (in.tagged ? FI_TAGGED : FI_MSG) | (has_data ? FI_REMOTE_CQ_DATA : 0);
	c.e.len = std::min<uint64_t>(msg_len, r.capacity());
	c.e.data = has_data ? data : 0;
	c.e.tag = in.tag;
	c.src = in.src;
	if (msg_len > r.capacity()) {
		c.err = FI_ETRUNC;
		c.olen = msg_len - r.capacity();
		LFI_WARN(FI_LOG_EP_DATA, "message of %lu bytes truncated to %zu\n",
			 (unsigned long)msg_len, r.capacity());
	} else if (rx_selective && !(r.flags & FI_COMPLETION)) {
		return;
	}
	cq_push(rxcq, c);
}

void Ep::deliver_unexpected(Unexpected *u)
{
	const RecvReq &r = *u->req;
	scatter(r, 0, u->bytes.data(), u->bytes.size());
	complete_recv(r, u->in, u->msg_len, u->data, u->has_data);
	matcher.remove(u);
}

// The message a ring was receiving is given up: its receive fails with
// FI_EIO, its unexpected entry goes.
void Ep::abandon(RingRx &rr)
{
	if (rr.req) {
		Completion c;
		c.e.op_context = rr.req->context;
		c.e.flags = rr.in.tagged ? FI_TAGGED | FI_RECV : FI_MSG | FI_RECV;
		c.err = FI_EIO;
		cq_push(rxcq, c);
		rr.req.reset();
	}
	if (rr.ux) {
		if (rr.ux->req) { // a receive already waits on it
			Completion c;
			c.e.op_context = rr.ux->req->context;
			c.e.flags = rr.in.tagged ? FI_TAGGED | FI_RECV : FI_MSG | FI_RECV;
			c.err = FI_EIO;
			cq_push(rxcq, c);
		}
		matcher.remove(rr.ux);
		rr.ux = nullptr;
	}
}

void Ep::on_fragment(uint32_t ring, const FragHdr &h, const uint8_t *payload)
{
	RingRx &rr = rings[ring];
	switch (Op(h.op)) {
	case Op::Hello: {
		std::string why;
		if (!address_valid(payload, h.frag_len, &why)) {
			LFI_WARN(FI_LOG_EP_DATA, "ring %u: bad sender address: %s\n", ring,
				 why.c_str());
			return;
		}
		memcpy(&rr.src, payload, sizeof(Address));
		rr.have_src = true;
		return;
	}
	case Op::Msg:
	case Op::Tagged: {
		if (h.offset == 0 && h.msg_len > kMaxMsgSize) {
			LFI_WARN(FI_LOG_EP_DATA,
				 "ring %u: a message of %lu bytes (more than max_msg_size) "
				 "dropped\n",
				 ring, (unsigned long)h.msg_len);
			abandon(rr);
			return;
		}
		if (h.offset == 0) {
			// A new message while one was still arriving: the sender gave
			// the old one up.
			abandon(rr);
			rr.in.tagged = Op(h.op) == Op::Tagged;
			rr.in.src = rr.have_src ? av->lookup(rr.src) : FI_ADDR_NOTAVAIL;
			rr.in.tag = h.tag;
			rr.msg_len = h.msg_len;
			rr.got = 0;
			rr.data = h.data;
			rr.has_data = h.flags & kFragData;
			rr.req = matcher.match(rr.in);
			rr.ux = rr.req ? nullptr
				       : matcher.add_unexpected(rr.in, h.msg_len, h.data,
								rr.has_data);
		}
		if ((!rr.req && !rr.ux) || h.offset != rr.got ||
		    h.offset + h.frag_len > rr.msg_len) {
			LFI_WARN(FI_LOG_EP_DATA, "ring %u: fragment out of sequence dropped\n",
				 ring);
			return;
		}
		if (rr.req) {
			scatter(*rr.req, h.offset, payload, h.frag_len);
		} else {
			memcpy(rr.ux->bytes.data() + h.offset, payload, h.frag_len);
			rr.ux->received += h.frag_len;
		}
		rr.got += h.frag_len;
		if (rr.got < rr.msg_len)
			return;
		if (rr.req)
			complete_recv(*rr.req, rr.in, rr.msg_len, rr.data, rr.has_data);
		else if (rr.ux->req)
			deliver_unexpected(rr.ux);
		rr.req.reset();
		rr.ux = nullptr;
		return;
	}
	case Op::Write: {
		uint8_t *p = mr_target(dom, h.rma_key, h.rma_addr + h.offset, h.frag_len,
				       FI_REMOTE_WRITE);
		if (!p) {
			LFI_WARN(FI_LOG_EP_DATA,
				 "RMA write to key %#lx addr %#lx (%u bytes) refused: no such MR, "
				 "no FI_REMOTE_WRITE or out of range\n",
				 (unsigned long)h.rma_key, (unsigned long)(h.rma_addr + h.offset),
				 h.frag_len);
			return;
		}
		memcpy(p, payload, h.frag_len);
		if ((h.flags & kFragData) && h.offset + h.frag_len == h.msg_len) {
			Completion c;
			c.e.flags = FI_RMA | FI_REMOTE_WRITE | FI_REMOTE_CQ_DATA;
			c.e.data = h.data;
			c.src = rr.have_src ? av->lookup(rr.src) : FI_ADDR_NOTAVAIL;
			cq_push(rxcq, c);
		}
		return;
	}
	case Op::ReadReq: {
		if (!rr.have_src) {
			LFI_WARN(FI_LOG_EP_DATA, "ring %u: read request before hello\n", ring);
			return;
		}
		TxOp op;
		op.op = Op::ReadResp;
		op.dst = rr.src;
		op.context = nullptr;
		op.completion = false;
		op.cq_flags = 0;
		op.req_id = h.req_id;
		const uint8_t *p = mr_target(dom, h.rma_key, h.rma_addr, h.msg_len, FI_REMOTE_READ);
		if (!p) {
			LFI_WARN(FI_LOG_EP_DATA, "RMA read of key %#lx refused\n",
				 (unsigned long)h.rma_key);
			op.status = FI_EACCES;
		} else {
			op.payload.assign(p, p + h.msg_len);
			op.msg_len = h.msg_len;
		}
		txq.push_back(std::move(op));
		return;
	}
	case Op::ReadResp: {
		auto it = reads.find(h.req_id);
		if (it == reads.end()) {
			LFI_WARN(FI_LOG_EP_DATA, "read answer for unknown request %lu\n",
				 (unsigned long)h.req_id);
			return;
		}
		ReadOp &rd = it->second;
		if (h.status) {
			rd.status = h.status;
		} else {
			scatter(rd.dst, h.offset, payload, h.frag_len);
			rd.got += h.frag_len;
		}
		if (!rd.status && rd.got < rd.len)
			return;
		Completion c;
		c.e.op_context = rd.context;
		c.e.flags = FI_RMA | FI_READ;
		c.e.len = rd.got;
		c.err = int(rd.status);
		if (c.err || rd.completion)
			cq_push(txcq, c);
		reads.erase(it);
		return;
	}
	}
	LFI_WARN(FI_LOG_EP_DATA, "ring %u: fragment of unknown kind %u dropped\n", ring, h.op);
}

void Ep::progress_rx()
{
	int r = tp->poll([this](uint32_t ring, const FragHdr &h, const uint8_t *p) {
		// Whatever a peer sends, the application's process goes on.
		try {
			on_fragment(ring, h, p);
		} catch (const std::exception &e) {
			LFI_WARN(FI_LOG_EP_DATA, "ring %u: fragment dropped: %s\n", ring, e.what());
		}
	});
	if (r < 0)
		LFI_WARN(FI_LOG_EP_DATA, "polling the inbox failed (%d)\n", r);
	else if (r > 0)
		progress_tx(); // read answers queued by the fragments
}

} // namespace lumen_fi
