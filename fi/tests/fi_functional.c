// SPDX-License-Identifier: MIT
// lumen-fi-functional: the lumen provider through libfabric's API, in one
// process with one domain per chip (LUMEN_FI_DEVICE is read when a domain
// opens): tag matching (ignore bits, directed receives, the unexpected
// queue, truncation), three senders into one receiver past its ring's
// credit with order kept per sender, a message of many fragments, RMA
// write/read/writedata into a registered buffer, and argument checks.
// Needs 4 cards with routes between them. Exit 0 if every check passed.
#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>
#include <rdma/fi_tagged.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEP 4

static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			failures++;                                                                \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);                                \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
		}                                                                                  \
	} while (0)

#define OK(call)                                                                                   \
	do {                                                                                       \
		int r_ = (int)(call);                                                              \
		if (r_) {                                                                          \
			printf("FATAL %s:%d: %s = %d (%s)\n", __FILE__, __LINE__, #call, r_,       \
			       fi_strerror(-r_));                                                  \
			exit(2);                                                                   \
		}                                                                                  \
	} while (0)

struct node {
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_ep *ep;
	struct fid_av *av;
	struct fid_cq *cq;
	fi_addr_t peer[NEP]; // fi_addr of every node in this node's AV
};

static struct fi_info *info;
static struct node nodes[NEP];

static void open_node(int i)
{
	struct node *n = &nodes[i];
	char dev[8];
	snprintf(dev, sizeof(dev), "%d", i);
	setenv("LUMEN_FI_DEVICE", dev, 1);
	OK(fi_fabric(info->fabric_attr, &n->fabric, NULL));
	OK(fi_domain(n->fabric, info, &n->domain, NULL));
	struct fi_cq_attr cq_attr = {.format = FI_CQ_FORMAT_TAGGED};
	OK(fi_cq_open(n->domain, &cq_attr, &n->cq, NULL));
	struct fi_av_attr av_attr = {.type = i % 2 ? FI_AV_MAP : FI_AV_TABLE};
	OK(fi_av_open(n->domain, &av_attr, &n->av, NULL));
	OK(fi_endpoint(n->domain, info, &n->ep, NULL));
	char buf[8] = {0};
	CHECK(fi_send(n->ep, buf, 1, NULL, 0, NULL) == -FI_EOPBADSTATE, "send before enable");
	OK(fi_ep_bind(n->ep, &n->av->fid, 0));
	OK(fi_ep_bind(n->ep, &n->cq->fid, FI_TRANSMIT | FI_RECV));
	OK(fi_enable(n->ep));
}

static void connect_all(void)
{
	char names[NEP][FI_NAME_MAX];
	for (int i = 0; i < NEP; i++) {
		size_t len = sizeof(names[i]);
		OK(fi_getname(&nodes[i].ep->fid, names[i], &len));
		CHECK(len <= FI_NAME_MAX, "name of %zu bytes", len);
	}
	for (int i = 0; i < NEP; i++)
		for (int j = 0; j < NEP; j++)
			CHECK(fi_av_insert(nodes[i].av, names[j], 1, &nodes[i].peer[j], 0, NULL) ==
				      1,
			      "av insert");
}

// Polls every node's CQ (progress for all) until node n has a completion
// (or an error: *err gets it); 0 on success, -1 after too many polls.
static int wait_cq(int n, struct fi_cq_tagged_entry *e, struct fi_cq_err_entry *err)
{
	for (int round = 0; round < 20000; round++) {
		for (int i = 0; i < NEP; i++) {
			if (i == n)
				continue;
			struct fi_cq_tagged_entry skip;
			ssize_t r = fi_cq_read(nodes[i].cq, &skip, 0);
			(void)r;
		}
		ssize_t r = fi_cq_read(nodes[n].cq, e, 1);
		if (r == 1)
			return 0;
		if (r == -FI_EAVAIL) {
			struct fi_cq_err_entry tmp = {0};
			fi_cq_readerr(nodes[n].cq, err ? err : &tmp, 0);
			return 1;
		}
		if (r != -FI_EAGAIN) {
			printf("fi_cq_read: %zd\n", r);
			return -1;
		}
	}
	printf("node %d: no completion\n", n);
	return -1;
}

static void test_tags(void)
{
	struct node *a = &nodes[0], *b = &nodes[1];
	uint64_t x = 0, y = 0, z = 0;
	struct fi_cq_tagged_entry e;
	uint64_t v1 = 111, v2 = 222, v3 = 333;
	// Unexpected: sent before any receive is posted.
	OK(fi_tsend(a->ep, &v1, 8, NULL, a->peer[1], 0x100, &v1));
	OK(fi_tsend(a->ep, &v2, 8, NULL, a->peer[1], 0x201, &v2));
	OK(fi_tsenddata(a->ep, &v3, 8, NULL, 77, a->peer[1], 0x300, &v3));
	for (int k = 0; k < 3; k++) {
		CHECK(wait_cq(0, &e, NULL) == 0, "send completion");
		CHECK(e.flags == (FI_SEND | FI_TAGGED), "send flags %#lx", (unsigned long)e.flags);
	}
	// Let b take them in, unexpected.
	for (int k = 0; k < 3; k++)
		fi_cq_read(b->cq, &e, 0);
	// 0x2xx with the low byte ignored matches 0x201, not 0x100.
	OK(fi_trecv(b->ep, &y, 8, NULL, FI_ADDR_UNSPEC, 0x200, 0xff, &y));
	CHECK(wait_cq(1, &e, NULL) == 0 && e.op_context == &y && y == 222 && e.tag == 0x201,
	      "ignore bits: ctx %p y %lu tag %#lx", e.op_context, (unsigned long)y,
	      (unsigned long)e.tag);
	// Directed: from node 2 only, so the 0x100 from node 0 must not match.
	OK(fi_trecv(b->ep, &x, 8, NULL, b->peer[2], 0x100, 0, &x));
	OK(fi_trecv(b->ep, &z, 8, NULL, b->peer[0], 0x300, 0, &z));
	CHECK(wait_cq(1, &e, NULL) == 0 && e.op_context == &z && z == 333 && e.data == 77 &&
		      (e.flags & FI_REMOTE_CQ_DATA),
	      "remote CQ data: ctx %p z %lu data %lu", e.op_context, (unsigned long)z,
	      (unsigned long)e.data);
	uint64_t v4 = 444;
	struct node *c = &nodes[2];
	OK(fi_tsend(c->ep, &v4, 8, NULL, c->peer[1], 0x100, &v4));
	CHECK(wait_cq(1, &e, NULL) == 0 && e.op_context == &x && x == 444,
	      "directed receive got %lu", (unsigned long)x);
	CHECK(wait_cq(2, &e, NULL) == 0, "send completion on node 2");
	// The 0x100 of node 0 is still unexpected; a short buffer truncates it.
	char small[4];
	struct fi_cq_err_entry err = {0};
	OK(fi_trecv(b->ep, small, sizeof(small), NULL, FI_ADDR_UNSPEC, 0x100, 0, small));
	CHECK(wait_cq(1, &e, &err) == 1 && err.err == FI_ETRUNC && err.olen == 4,
	      "truncation: err %d olen %zu", err.err, err.olen);
	// Cancel a receive nobody sends to.
	OK(fi_trecv(b->ep, &x, 8, NULL, FI_ADDR_UNSPEC, 0xdead, 0, &x));
	CHECK(fi_cancel(&b->ep->fid, &x) == 0, "cancel");
	CHECK(wait_cq(1, &e, &err) == 1 && err.err == FI_ECANCELED, "cancel completion");
	// fi_tsendmsg with FI_INJECT | FI_COMPLETION: the buffer is free at
	// return and the send still completes (only fi_inject* calls do not).
	uint64_t v5 = 555, w = 0;
	struct iovec iov5 = {&v5, 8};
	struct fi_msg_tagged m5 = {
		.msg_iov = &iov5, .iov_count = 1, .addr = a->peer[1], .tag = 0x500, .context = &v5};
	OK(fi_tsendmsg(a->ep, &m5, FI_INJECT | FI_COMPLETION));
	v5 = 0;
	CHECK(wait_cq(0, &e, NULL) == 0 && e.op_context == &v5,
	      "fi_tsendmsg(FI_INJECT | FI_COMPLETION) completion");
	OK(fi_trecv(b->ep, &w, 8, NULL, FI_ADDR_UNSPEC, 0x500, 0, &w));
	CHECK(wait_cq(1, &e, NULL) == 0 && e.op_context == &w && w == 555,
	      "injected tsendmsg received %lu", (unsigned long)w);
}

// Nodes 0, 2 and 3 each send 40 messages to node 1 before it posts a single
// receive (more than its ring's 8 slots), then node 1 takes them in.
static void test_many_senders(void)
{
	enum { N = 40 };
	struct node *r = &nodes[1];
	static uint32_t out[NEP][N], in[NEP][N];
	int senders[] = {0, 2, 3};
	for (int s = 0; s < 3; s++) {
		struct node *n = &nodes[senders[s]];
		for (int k = 0; k < N; k++) {
			out[s][k] = senders[s] << 16 | k;
			ssize_t ret;
			while ((ret = fi_tsend(n->ep, &out[s][k], 4, NULL, n->peer[1], 0x5000 + s,
					       NULL)) == -FI_EAGAIN)
				fi_cq_read(n->cq, NULL, 0);
			CHECK(ret == 0, "tsend %zd", ret);
		}
	}
	for (int s = 0; s < 3; s++)
		for (int k = 0; k < N; k++)
			OK(fi_trecv(r->ep, &in[s][k], 4, NULL, FI_ADDR_UNSPEC, 0x5000 + s, 0,
				    &in[s][k]));
	struct fi_cq_tagged_entry e;
	int got = 0;
	while (got < 3 * N && wait_cq(1, &e, NULL) == 0)
		got++;
	CHECK(got == 3 * N, "received %d of %d", got, 3 * N);
	for (int s = 0; s < 3; s++)
		for (int k = 0; k < N; k++)
			CHECK(in[s][k] == out[s][k], "sender %d message %d: %#x, want %#x", s, k,
			      in[s][k], out[s][k]);
	// Drain the send completions.
	for (int s = 0; s < 3; s++)
		for (int k = 0; k < N; k++)
			CHECK(wait_cq(senders[s], &e, NULL) == 0, "send completion");
}

static void test_large(void)
{
	const size_t len = 3 * 1024 * 1024 + 13;
	uint8_t *src = malloc(len), *dst = calloc(1, len);
	for (size_t i = 0; i < len; i++)
		src[i] = (uint8_t)(i * 7 + i / 4099);
	struct fi_cq_tagged_entry e;
	OK(fi_recv(nodes[3].ep, dst, len, NULL, FI_ADDR_UNSPEC, dst));
	OK(fi_send(nodes[2].ep, src, len, NULL, nodes[2].peer[3], src));
	CHECK(wait_cq(3, &e, NULL) == 0 && e.len == len && e.flags == (FI_RECV | FI_MSG),
	      "large receive len %zu", e.len);
	CHECK(memcmp(src, dst, len) == 0, "large message corrupted");
	CHECK(wait_cq(2, &e, NULL) == 0 && e.op_context == src, "large send completion");
	free(src);
	free(dst);
}

static void test_rma(void)
{
	struct node *a = &nodes[0], *b = &nodes[3];
	static uint64_t target[1024], back[1024], local[1024];
	struct fid_mr *mr;
	OK(fi_mr_reg(b->domain, target, sizeof(target), FI_REMOTE_READ | FI_REMOTE_WRITE, 0, 42, 0,
		     &mr, NULL));
	// The key and addresses as the domain's mr_mode says.
	const uint64_t key = fi_mr_key(mr);
	const uint64_t base =
		info->domain_attr->mr_mode & FI_MR_VIRT_ADDR ? (uint64_t)(uintptr_t)target : 0;
	for (int i = 0; i < 1024; i++)
		local[i] = 0x1000000 + i;
	struct fi_cq_tagged_entry e;
	struct fi_cq_err_entry err = {0};
	// Offsets (mr_mode 0): write 512 words at byte 1024 of the region.
	OK(fi_write(a->ep, local, 512 * 8, NULL, a->peer[3], base + 1024, key, local));
	CHECK(wait_cq(0, &e, NULL) == 0 && e.flags == (FI_RMA | FI_WRITE), "write completion");
	// b applies it when it progresses; read it back through the links.
	OK(fi_read(a->ep, back, 512 * 8, NULL, a->peer[3], base + 1024, key, back));
	CHECK(wait_cq(0, &e, NULL) == 0 && e.op_context == back && e.flags == (FI_RMA | FI_READ),
	      "read completion");
	CHECK(memcmp(back, local, 512 * 8) == 0 && target[128] == local[0] &&
		      target[128 + 511] == local[511],
	      "rma data");
	OK(fi_writedata(a->ep, local, 8, NULL, 99, a->peer[3], base, key, NULL));
	CHECK(wait_cq(3, &e, NULL) == 0 && (e.flags & FI_REMOTE_CQ_DATA) && e.data == 99 &&
		      target[0] == local[0],
	      "writedata: flags %#lx data %lu", (unsigned long)e.flags, (unsigned long)e.data);
	CHECK(wait_cq(0, &e, NULL) == 0, "writedata completion");
	// A key nobody registered: the read fails at the initiator.
	OK(fi_read(a->ep, back, 8, NULL, a->peer[3], base, key + 1, back));
	CHECK(wait_cq(0, &e, &err) == 1 && err.err == FI_EACCES, "bad key read: err %d", err.err);
	// Beyond the region.
	OK(fi_read(a->ep, back, 16, NULL, a->peer[3], base + sizeof(target) - 8, key, back));
	CHECK(wait_cq(0, &e, &err) == 1 && err.err == FI_EACCES, "out of range read");
	OK(fi_close(&mr->fid));
}

static void test_arguments(void)
{
	struct node *a = &nodes[0];
	char buf[8192] = {0};
	CHECK(fi_send(a->ep, buf, 8, NULL, 99, NULL) == -FI_EINVAL, "address not in the AV");
	CHECK(fi_inject(a->ep, buf, sizeof(buf), a->peer[1]) == -FI_EMSGSIZE, "inject too big");
	struct iovec iov[8];
	for (int i = 0; i < 8; i++)
		iov[i] = (struct iovec){buf, 1};
	CHECK(fi_sendv(a->ep, iov, NULL, 8, a->peer[1], NULL) == -FI_EINVAL, "too many iovs");
	CHECK(fi_send(a->ep, NULL, 8, NULL, a->peer[1], NULL) == -FI_EINVAL, "NULL buffer");
	struct fi_msg_tagged m = {.msg_iov = iov, .iov_count = 1, .addr = a->peer[1]};
	CHECK(fi_tsendmsg(a->ep, &m, 1ull << 62) == -FI_EINVAL, "unknown send flag");
	CHECK(fi_trecvmsg(a->ep, &m, FI_PEEK) == -FI_EINVAL, "FI_PEEK");
	CHECK(fi_av_insert(a->av, buf, 1, NULL, 0, NULL) == 0, "garbage address inserted");
	struct fi_cq_attr cq_attr = {.format = 99};
	struct fid_cq *cq;
	CHECK(fi_cq_open(a->domain, &cq_attr, &cq, NULL) == -FI_EINVAL, "CQ format");
	CHECK(fi_close(&a->domain->fid) == -FI_EBUSY, "domain closed under its endpoint");
}

int main(void)
{
	struct fi_info *hints = fi_allocinfo();
	hints->ep_attr->type = FI_EP_RDM;
	hints->caps = FI_MSG | FI_TAGGED | FI_RMA | FI_DIRECTED_RECV;
	hints->fabric_attr->prov_name = strdup("lumen");
	OK(fi_getinfo(FI_VERSION(1, 17), NULL, NULL, 0, hints, &info));
	for (int i = 0; i < NEP; i++)
		open_node(i);
	connect_all();
	test_tags();
	test_many_senders();
	test_large();
	test_rma();
	test_arguments();
	for (int i = NEP - 1; i >= 0; i--) {
		OK(fi_close(&nodes[i].ep->fid));
		OK(fi_close(&nodes[i].cq->fid));
		OK(fi_close(&nodes[i].av->fid));
		OK(fi_close(&nodes[i].domain->fid));
		OK(fi_close(&nodes[i].fabric->fid));
	}
	fi_freeinfo(hints);
	fi_freeinfo(info);
	printf("lumen-fi-functional: %s (%d failures)\n", failures ? "FAILED" : "ok", failures);
	return failures ? 1 : 0;
}
