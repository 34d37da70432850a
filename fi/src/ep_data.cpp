// SPDX-License-Identifier: MIT
// Posting operations on an endpoint: msg, tagged and RMA. Every argument is
// checked before anything is queued; a send's payload is copied when it is
// posted (so every send frees the caller's buffer at once), then progress
// pushes it out as far as the receiver's ring allows.
#include "info.hpp"
#include "log.hpp"
#include "objects.hpp"

#include <rdma/fi_atomic.h>

#include <cstring>

namespace lumen_fi {

namespace {

Ep *ep_of(fid_ep *e)
{
	return reinterpret_cast<Ep *>(e);
}

int check_iov(const char *call, const iovec *iov, size_t count, uint64_t *total)
{
	if (count > kMaxIov || (count && !iov)) {
		LFI_WARN(FI_LOG_EP_DATA, "%s: %zu iovs (at most %zu) or iov NULL\n", call, count,
			 kMaxIov);
		return -FI_EINVAL;
	}
	uint64_t n = 0;
	for (size_t i = 0; i < count; i++) {
		if (iov[i].iov_len && !iov[i].iov_base) {
			LFI_WARN(FI_LOG_EP_DATA, "%s: iov %zu has no buffer\n", call, i);
			return -FI_EINVAL;
		}
		n += iov[i].iov_len;
	}
	*total = n;
	return 0;
}

int check_ep(Ep *ep, const char *call, uint64_t cap)
{
	if (!ep->enabled) {
		LFI_WARN(FI_LOG_EP_DATA, "%s: the endpoint is not enabled\n", call);
		return -FI_EOPBADSTATE;
	}
	if (!(ep->caps & cap)) {
		LFI_WARN(FI_LOG_EP_DATA, "%s: the endpoint was not opened with the capability\n",
			 call);
		return -FI_EOPNOTSUPP;
	}
	return 0;
}

int lookup_dest(Ep *ep, const char *call, fi_addr_t a, Address *out)
{
	Av *av = ep->av;
	if (a >= av->entries.size() || !av->entries[a].valid) {
		LFI_WARN(FI_LOG_EP_DATA, "%s: address %lu is not in the AV\n", call,
			 (unsigned long)a);
		return -FI_EINVAL;
	}
	*out = av->entries[a].addr;
	return 0;
}

struct SendArgs {
	const char *call;
	Op op;
	const iovec *iov;
	size_t count;
	fi_addr_t dest;
	void *context;
	uint64_t flags;
	uint64_t tag = 0, data = 0;
	uint64_t rma_addr = 0, rma_key = 0;
	// fi_inject*: never a completion. FI_INJECT in flags alone (fi_sendmsg,
	// tx op_flags) only means the buffer is free at return.
	bool inject_call = false;
};

ssize_t post_send(Ep *ep, const SendArgs &a)
{
	const uint64_t cap = a.op == Op::Msg ? FI_MSG : a.op == Op::Tagged ? FI_TAGGED : FI_RMA;
	std::lock_guard<std::recursive_mutex> lk(ep->dom->mu);
	if (int r = check_ep(ep, a.call, cap))
		return r;
	uint64_t len;
	if (int r = check_iov(a.call, a.iov, a.count, &len))
		return r;
	if (a.flags & ~(kOpFlags | FI_TRANSMIT)) {
		LFI_WARN(FI_LOG_EP_DATA, "%s: flags %#lx not supported\n", a.call,
			 (unsigned long)(a.flags & ~kOpFlags));
		return -FI_EINVAL;
	}
	if (len > kMaxMsgSize) {
		LFI_WARN(FI_LOG_EP_DATA, "%s: %lu bytes, more than max_msg_size %zu\n", a.call,
			 (unsigned long)len, kMaxMsgSize);
		return -FI_EMSGSIZE;
	}
	if ((a.flags & FI_INJECT) && len > kInjectSize) {
		LFI_WARN(FI_LOG_EP_DATA, "%s: %lu bytes, more than inject_size %zu\n", a.call,
			 (unsigned long)len, kInjectSize);
		return -FI_EMSGSIZE;
	}
	TxOp op;
	if (int r = lookup_dest(ep, a.call, a.dest, &op.dst))
		return r;
	if (ep->txq.size() >= ep->tx_size)
		return -FI_EAGAIN;
	op.op = a.op;
	op.context = a.context;
	op.completion = !a.inject_call && (!ep->tx_selective || (a.flags & FI_COMPLETION));
	op.cq_flags = a.op == Op::Write ? FI_RMA | FI_WRITE
					: FI_SEND | (a.op == Op::Tagged ? FI_TAGGED : FI_MSG);
	op.tag = a.tag;
	op.data = a.data;
	op.has_data = a.flags & FI_REMOTE_CQ_DATA;
	op.rma_addr = a.rma_addr;
	op.rma_key = a.rma_key;
	op.msg_len = len;
	op.payload.resize(len);
	uint64_t off = 0;
	for (size_t i = 0; i < a.count; i++) {
		if (a.iov[i].iov_len)
			memcpy(op.payload.data() + off, a.iov[i].iov_base, a.iov[i].iov_len);
		off += a.iov[i].iov_len;
	}
	ep->txq.push_back(std::move(op));
	// Start at once: the caller may not read its CQ soon.
	ep->progress_tx();
	return 0;
}

struct RecvArgs {
	const char *call;
	bool tagged;
	const iovec *iov;
	size_t count;
	fi_addr_t src;
	uint64_t tag, ignore;
	void *context;
	uint64_t flags;
};

ssize_t post_recv(Ep *ep, const RecvArgs &a)
{
	std::lock_guard<std::recursive_mutex> lk(ep->dom->mu);
	if (int r = check_ep(ep, a.call, a.tagged ? FI_TAGGED : FI_MSG))
		return r;
	uint64_t len;
	if (int r = check_iov(a.call, a.iov, a.count, &len))
		return r;
	if (a.flags & ~(FI_COMPLETION | FI_RECV)) {
		LFI_WARN(FI_LOG_EP_DATA,
			 "%s: flags %#lx not supported (no FI_PEEK, FI_CLAIM or "
			 "FI_MULTI_RECV)\n",
			 a.call, (unsigned long)a.flags);
		return -FI_EINVAL;
	}
	if (a.src != FI_ADDR_UNSPEC && (ep->caps & FI_DIRECTED_RECV) &&
	    (a.src >= ep->av->entries.size() || !ep->av->entries[a.src].valid)) {
		LFI_WARN(FI_LOG_EP_DATA, "%s: source %lu is not in the AV\n", a.call,
			 (unsigned long)a.src);
		return -FI_EINVAL;
	}
	if (ep->matcher.posted_count() >= ep->rx_size)
		return -FI_EAGAIN;
	RecvReq r;
	r.context = a.context;
	std::copy(a.iov, a.iov + a.count, r.iov);
	r.iov_count = a.count;
	r.src = a.src;
	r.tag = a.tag;
	r.ignore = a.ignore;
	r.flags = a.flags;
	r.tagged = a.tagged;
	if (Unexpected *u = ep->matcher.post(r))
		if (u->complete())
			ep->deliver_unexpected(u);
	return 0;
}

// ---- FI_MSG ----------------------------------------------------------------

ssize_t msg_recvv(fid_ep *e, const iovec *iov, void **, size_t count, fi_addr_t src, void *ctx)
{
	Ep *ep = ep_of(e);
	return post_recv(ep, {"fi_recv", false, iov, count, src, 0, 0, ctx, ep->rx_op_flags});
}

ssize_t msg_recv(fid_ep *e, void *buf, size_t len, void *desc, fi_addr_t src, void *ctx)
{
	iovec iov{buf, len};
	return msg_recvv(e, &iov, &desc, 1, src, ctx);
}

ssize_t msg_recvmsg(fid_ep *e, const fi_msg *m, uint64_t flags)
{
	if (!m) {
		LFI_WARN(FI_LOG_EP_DATA, "fi_recvmsg: msg is NULL\n");
		return -FI_EINVAL;
	}
	return post_recv(ep_of(e), {"fi_recvmsg", false, m->msg_iov, m->iov_count, m->addr, 0, 0,
				    m->context, flags});
}

ssize_t msg_sendv(fid_ep *e, const iovec *iov, void **, size_t count, fi_addr_t dest, void *ctx)
{
	Ep *ep = ep_of(e);
	return post_send(ep, {"fi_send", Op::Msg, iov, count, dest, ctx, ep->tx_op_flags});
}

ssize_t msg_send(fid_ep *e, const void *buf, size_t len, void *desc, fi_addr_t dest, void *ctx)
{
	iovec iov{const_cast<void *>(buf), len};
	return msg_sendv(e, &iov, &desc, 1, dest, ctx);
}

ssize_t msg_sendmsg(fid_ep *e, const fi_msg *m, uint64_t flags)
{
	if (!m) {
		LFI_WARN(FI_LOG_EP_DATA, "fi_sendmsg: msg is NULL\n");
		return -FI_EINVAL;
	}
	SendArgs a{"fi_sendmsg", Op::Msg, m->msg_iov, m->iov_count, m->addr, m->context, flags};
	a.data = m->data;
	return post_send(ep_of(e), a);
}

ssize_t msg_inject(fid_ep *e, const void *buf, size_t len, fi_addr_t dest)
{
	iovec iov{const_cast<void *>(buf), len};
	Ep *ep = ep_of(e);
	SendArgs a{"fi_inject", Op::Msg, &iov, 1, dest, nullptr, ep->tx_op_flags | FI_INJECT};
	a.inject_call = true;
	return post_send(ep, a);
}

ssize_t msg_senddata(fid_ep *e, const void *buf, size_t len, void *, uint64_t data, fi_addr_t dest,
		     void *ctx)
{
	iovec iov{const_cast<void *>(buf), len};
	Ep *ep = ep_of(e);
	SendArgs a{"fi_senddata", Op::Msg, &iov, 1, dest, ctx, ep->tx_op_flags | FI_REMOTE_CQ_DATA};
	a.data = data;
	return post_send(ep, a);
}

ssize_t msg_injectdata(fid_ep *e, const void *buf, size_t len, uint64_t data, fi_addr_t dest)
{
	iovec iov{const_cast<void *>(buf), len};
	Ep *ep = ep_of(e);
	SendArgs a{"fi_injectdata",
		   Op::Msg,
		   &iov,
		   1,
		   dest,
		   nullptr,
		   ep->tx_op_flags | FI_INJECT | FI_REMOTE_CQ_DATA};
	a.inject_call = true;
	a.data = data;
	return post_send(ep, a);
}

// ---- FI_TAGGED ---------------------------------------------------------------

ssize_t tag_recvv(fid_ep *e, const iovec *iov, void **, size_t count, fi_addr_t src, uint64_t tag,
		  uint64_t ignore, void *ctx)
{
	Ep *ep = ep_of(e);
	return post_recv(ep,
			 {"fi_trecv", true, iov, count, src, tag, ignore, ctx, ep->rx_op_flags});
}

ssize_t tag_recv(fid_ep *e, void *buf, size_t len, void *desc, fi_addr_t src, uint64_t tag,
		 uint64_t ignore, void *ctx)
{
	iovec iov{buf, len};
	return tag_recvv(e, &iov, &desc, 1, src, tag, ignore, ctx);
}

ssize_t tag_recvmsg(fid_ep *e, const fi_msg_tagged *m, uint64_t flags)
{
	if (!m) {
		LFI_WARN(FI_LOG_EP_DATA, "fi_trecvmsg: msg is NULL\n");
		return -FI_EINVAL;
	}
	return post_recv(ep_of(e), {"fi_trecvmsg", true, m->msg_iov, m->iov_count, m->addr, m->tag,
				    m->ignore, m->context, flags});
}

ssize_t tag_sendv(fid_ep *e, const iovec *iov, void **, size_t count, fi_addr_t dest, uint64_t tag,
		  void *ctx)
{
	Ep *ep = ep_of(e);
	SendArgs a{"fi_tsend", Op::Tagged, iov, count, dest, ctx, ep->tx_op_flags};
	a.tag = tag;
	return post_send(ep, a);
}

ssize_t tag_send(fid_ep *e, const void *buf, size_t len, void *desc, fi_addr_t dest, uint64_t tag,
		 void *ctx)
{
	iovec iov{const_cast<void *>(buf), len};
	return tag_sendv(e, &iov, &desc, 1, dest, tag, ctx);
}

ssize_t tag_sendmsg(fid_ep *e, const fi_msg_tagged *m, uint64_t flags)
{
	if (!m) {
		LFI_WARN(FI_LOG_EP_DATA, "fi_tsendmsg: msg is NULL\n");
		return -FI_EINVAL;
	}
	SendArgs a{"fi_tsendmsg", Op::Tagged, m->msg_iov, m->iov_count, m->addr, m->context, flags};
	a.tag = m->tag;
	a.data = m->data;
	return post_send(ep_of(e), a);
}

ssize_t tag_inject(fid_ep *e, const void *buf, size_t len, fi_addr_t dest, uint64_t tag)
{
	iovec iov{const_cast<void *>(buf), len};
	Ep *ep = ep_of(e);
	SendArgs a{"fi_tinject", Op::Tagged, &iov, 1, dest, nullptr, ep->tx_op_flags | FI_INJECT};
	a.inject_call = true;
	a.tag = tag;
	return post_send(ep, a);
}

ssize_t tag_senddata(fid_ep *e, const void *buf, size_t len, void *, uint64_t data, fi_addr_t dest,
		     uint64_t tag, void *ctx)
{
	iovec iov{const_cast<void *>(buf), len};
	Ep *ep = ep_of(e);
	SendArgs a{"fi_tsenddata",
		   Op::Tagged,
		   &iov,
		   1,
		   dest,
		   ctx,
		   ep->tx_op_flags | FI_REMOTE_CQ_DATA};
	a.tag = tag;
	a.data = data;
	return post_send(ep, a);
}

ssize_t tag_injectdata(fid_ep *e, const void *buf, size_t len, uint64_t data, fi_addr_t dest,
		       uint64_t tag)
{
	iovec iov{const_cast<void *>(buf), len};
	Ep *ep = ep_of(e);
	SendArgs a{"fi_tinjectdata",
		   Op::Tagged,
		   &iov,
		   1,
		   dest,
		   nullptr,
		   ep->tx_op_flags | FI_INJECT | FI_REMOTE_CQ_DATA};
	a.inject_call = true;
	a.tag = tag;
	a.data = data;
	return post_send(ep, a);
}

// ---- FI_RMA ------------------------------------------------------------------

ssize_t post_read(Ep *ep, const char *call, const iovec *iov, size_t count, fi_addr_t src,
		  uint64_t addr, uint64_t key, void *ctx, uint64_t flags)
{
	std::lock_guard<std::recursive_mutex> lk(ep->dom->mu);
	if (int r = check_ep(ep, call, FI_RMA))
		return r;
	uint64_t len;
	if (int r = check_iov(call, iov, count, &len))
		return r;
	if (flags & ~kOpFlags) {
		LFI_WARN(FI_LOG_EP_DATA, "%s: flags %#lx not supported\n", call,
			 (unsigned long)flags);
		return -FI_EINVAL;
	}
	if (len > kMaxMsgSize) {
		LFI_WARN(FI_LOG_EP_DATA, "%s: %lu bytes, more than max_msg_size\n", call,
			 (unsigned long)len);
		return -FI_EMSGSIZE;
	}
	TxOp op;
	if (int r = lookup_dest(ep, call, src, &op.dst))
		return r;
	if (ep->txq.size() >= ep->tx_size)
		return -FI_EAGAIN;
	ReadOp rd;
	rd.context = ctx;
	std::copy(iov, iov + count, rd.dst.iov);
	rd.dst.iov_count = count;
	rd.len = len;
	rd.completion = !ep->tx_selective || (flags & FI_COMPLETION);
	const uint64_t id = ep->next_read++;
	ep->reads.emplace(id, rd);
	op.op = Op::ReadReq;
	op.context = ctx;
	op.completion = false; // the answer completes the read
	op.rma_addr = addr;
	op.rma_key = key;
	op.req_id = id;
	op.msg_len = len;
	op.cq_flags = FI_RMA | FI_READ;
	ep->txq.push_back(std::move(op));
	ep->progress_tx();
	return 0;
}

ssize_t rma_readv(fid_ep *e, const iovec *iov, void **, size_t count, fi_addr_t src, uint64_t addr,
		  uint64_t key, void *ctx)
{
	Ep *ep = ep_of(e);
	return post_read(ep, "fi_read", iov, count, src, addr, key, ctx, ep->tx_op_flags);
}

ssize_t rma_read(fid_ep *e, void *buf, size_t len, void *desc, fi_addr_t src, uint64_t addr,
		 uint64_t key, void *ctx)
{
	iovec iov{buf, len};
	return rma_readv(e, &iov, &desc, 1, src, addr, key, ctx);
}

ssize_t rma_readmsg(fid_ep *e, const fi_msg_rma *m, uint64_t flags)
{
	if (!m || m->rma_iov_count != 1 || !m->rma_iov) {
		LFI_WARN(FI_LOG_EP_DATA, "fi_readmsg: msg NULL or not exactly one rma_iov\n");
		return -FI_EINVAL;
	}
	if (m->rma_iov->len != [&] {
		    size_t n = 0;
		    for (size_t i = 0; m->msg_iov && i < m->iov_count; i++)
			    n += m->msg_iov[i].iov_len;
		    return n;
	    }()) {
		LFI_WARN(FI_LOG_EP_DATA, "fi_readmsg: rma_iov length differs from the buffers\n");
		return -FI_EINVAL;
	}
	return post_read(ep_of(e), "fi_readmsg", m->msg_iov, m->iov_count, m->addr,
			 m->rma_iov->addr, m->rma_iov->key, m->context, flags);
}

ssize_t rma_writev(fid_ep *e, const iovec *iov, void **, size_t count, fi_addr_t dest,
		   uint64_t addr, uint64_t key, void *ctx)
{
	Ep *ep = ep_of(e);
	SendArgs a{"fi_write", Op::Write, iov, count, dest, ctx, ep->tx_op_flags};
	a.rma_addr = addr;
	a.rma_key = key;
	return post_send(ep, a);
}

ssize_t rma_write(fid_ep *e, const void *buf, size_t len, void *desc, fi_addr_t dest, uint64_t addr,
		  uint64_t key, void *ctx)
{
	iovec iov{const_cast<void *>(buf), len};
	return rma_writev(e, &iov, &desc, 1, dest, addr, key, ctx);
}

ssize_t rma_writemsg(fid_ep *e, const fi_msg_rma *m, uint64_t flags)
{
	if (!m || m->rma_iov_count != 1 || !m->rma_iov) {
		LFI_WARN(FI_LOG_EP_DATA, "fi_writemsg: msg NULL or not exactly one rma_iov\n");
		return -FI_EINVAL;
	}
	SendArgs a{"fi_writemsg", Op::Write, m->msg_iov, m->iov_count, m->addr, m->context, flags};
	a.rma_addr = m->rma_iov->addr;
	a.rma_key = m->rma_iov->key;
	a.data = m->data;
	return post_send(ep_of(e), a);
}

ssize_t rma_inject(fid_ep *e, const void *buf, size_t len, fi_addr_t dest, uint64_t addr,
		   uint64_t key)
{
	iovec iov{const_cast<void *>(buf), len};
	Ep *ep = ep_of(e);
	SendArgs a{"fi_inject_write",	       Op::Write, &iov, 1, dest, nullptr,
		   ep->tx_op_flags | FI_INJECT};
	a.inject_call = true;
	a.rma_addr = addr;
	a.rma_key = key;
	return post_send(ep, a);
}

ssize_t rma_writedata(fid_ep *e, const void *buf, size_t len, void *, uint64_t data, fi_addr_t dest,
		      uint64_t addr, uint64_t key, void *ctx)
{
	iovec iov{const_cast<void *>(buf), len};
	Ep *ep = ep_of(e);
	SendArgs a{
		"fi_writedata", Op::Write, &iov, 1, dest, ctx, ep->tx_op_flags | FI_REMOTE_CQ_DATA};
	a.rma_addr = addr;
	a.rma_key = key;
	a.data = data;
	return post_send(ep, a);
}

ssize_t rma_injectdata(fid_ep *e, const void *buf, size_t len, uint64_t data, fi_addr_t dest,
		       uint64_t addr, uint64_t key)
{
	iovec iov{const_cast<void *>(buf), len};
	Ep *ep = ep_of(e);
	SendArgs a{"fi_inject_writedata",
		   Op::Write,
		   &iov,
		   1,
		   dest,
		   nullptr,
		   ep->tx_op_flags | FI_INJECT | FI_REMOTE_CQ_DATA};
	a.inject_call = true;
	a.rma_addr = addr;
	a.rma_key = key;
	a.data = data;
	return post_send(ep, a);
}

// Atomics are not offered (no FI_ATOMIC in the caps): every entry says so.
template <typename R, typename... A> R no_atomic(A...)
{
	LFI_WARN(FI_LOG_EP_DATA, "fi_atomic*: lumen has no FI_ATOMIC\n");
	return -FI_ENOSYS;
}

} // namespace

fi_ops_msg ep_msg_ops = {sizeof(fi_ops_msg), msg_recv,	  msg_recvv,  msg_recvmsg,  msg_send,
			 msg_sendv,	     msg_sendmsg, msg_inject, msg_senddata, msg_injectdata};
fi_ops_tagged ep_tagged_ops = {
	sizeof(fi_ops_tagged), tag_recv,   tag_recvv,	 tag_recvmsg,	tag_send, tag_sendv,
	tag_sendmsg,	       tag_inject, tag_senddata, tag_injectdata};
fi_ops_rma ep_rma_ops = {sizeof(fi_ops_rma), rma_read,	    rma_readv,	  rma_readmsg,
			 rma_write,	     rma_writev,    rma_writemsg, rma_inject,
			 rma_writedata,	     rma_injectdata};
fi_ops_atomic ep_atomic_ops = {sizeof(fi_ops_atomic),
			       no_atomic,
			       no_atomic,
			       no_atomic,
			       no_atomic,
			       no_atomic,
			       no_atomic,
			       no_atomic,
			       no_atomic,
			       no_atomic,
			       no_atomic,
			       no_atomic,
			       no_atomic,
			       no_atomic};

} // namespace lumen_fi
