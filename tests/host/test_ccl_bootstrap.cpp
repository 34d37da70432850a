// SPDX-License-Identifier: MIT
// liblumen-ccl's bootstrap over libfabric's tcp provider (loopback here):
// ranks in threads meet at a root and get every rank's blob in rank order;
// ranks that disagree, ranks that never come and ids that are not ids fail
// with the right status and a message. And the C API's argument checks
// that come before any card is touched.
#include <gtest/gtest.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>

#include <lumen/lumen_ccl.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap.hpp"
#include "failure.hpp"

using namespace lumen::ccl;

namespace {

struct Joined {
	lumen_status_t status = LUMEN_SUCCESS;
	std::string why;
	std::vector<std::vector<uint8_t>> table;
};

Joined join_as(const UniqueId &id, int rank, int n, std::vector<uint8_t> blob)
{
	Joined j;
	try {
		j.table = join(id, rank, n, blob);
	} catch (const Failure &f) {
		j.status = f.status;
		j.why = f.what;
	}
	return j;
}

std::vector<uint8_t> blob_of(int rank)
{
	std::vector<uint8_t> b(40);
	for (size_t i = 0; i < b.size(); i++)
		b[i] = uint8_t(rank * 31 + int(i));
	return b;
}

// Each rank r of ns.size() joins with nranks ns[r] and rank ranks[r].
std::vector<Joined> run(const UniqueId &id, const std::vector<int> &ranks,
			const std::vector<int> &ns)
{
	std::vector<Joined> out(ranks.size());
	std::vector<std::thread> t;
	for (size_t i = 0; i < ranks.size(); i++)
		t.emplace_back(
			[&, i] { out[i] = join_as(id, ranks[i], ns[i], blob_of(ranks[i])); });
	for (auto &th : t)
		th.join();
	return out;
}

class Bootstrap : public ::testing::Test {
      protected:
	void SetUp() override { setenv("LUMEN_CCL_BOOTSTRAP_TIMEOUT", "20", 1); }
	void TearDown() override { unsetenv("LUMEN_CCL_BOOTSTRAP_TIMEOUT"); }
};

} // namespace

TEST_F(Bootstrap, EveryRankGetsEveryBlobInRankOrder)
{
	UniqueId id = start_root();
	// Joined out of rank order.
	auto got = run(id, {2, 0, 3, 1}, {4, 4, 4, 4});
	for (const auto &j : got) {
		ASSERT_EQ(j.status, LUMEN_SUCCESS) << j.why;
		ASSERT_EQ(j.table.size(), 4u);
		for (int r = 0; r < 4; r++)
			EXPECT_EQ(j.table[size_t(r)], blob_of(r));
	}
}

TEST_F(Bootstrap, OneRank)
{
	UniqueId id = start_root();
	auto got = run(id, {0}, {1});
	ASSERT_EQ(got[0].status, LUMEN_SUCCESS) << got[0].why;
	EXPECT_EQ(got[0].table.at(0), blob_of(0));
}

TEST_F(Bootstrap, TwoBootstrapsDoNotMix)
{
	UniqueId a = start_root(), b = start_root();
	EXPECT_NE(a.nonce, b.nonce);
	// Blobs that say which bootstrap they are of.
	std::vector<Joined> ga(2), gb(3);
	std::vector<std::thread> t;
	for (int r = 0; r < 2; r++)
		t.emplace_back([&, r] { ga[size_t(r)] = join_as(a, r, 2, {uint8_t(0xa0 + r)}); });
	for (int r = 0; r < 3; r++)
		t.emplace_back([&, r] { gb[size_t(r)] = join_as(b, r, 3, {uint8_t(0xb0 + r)}); });
	for (auto &th : t)
		th.join();
	for (const auto &j : ga) {
		ASSERT_EQ(j.table.size(), 2u) << j.why;
		for (int r = 0; r < 2; r++)
			EXPECT_EQ(j.table[size_t(r)], std::vector<uint8_t>{uint8_t(0xa0 + r)});
	}
	for (const auto &j : gb) {
		ASSERT_EQ(j.table.size(), 3u) << j.why;
		for (int r = 0; r < 3; r++)
			EXPECT_EQ(j.table[size_t(r)], std::vector<uint8_t>{uint8_t(0xb0 + r)});
	}
}

// What a broken or hostile peer sends the root: len bytes of junk from an
// endpoint of libfabric's tcp provider. Waits for the send's completion.
void send_junk(const UniqueId &id, size_t len)
{
	fi_info *hints = fi_allocinfo();
	hints->ep_attr->type = FI_EP_RDM;
	hints->caps = FI_MSG;
	hints->mode = FI_CONTEXT;
	hints->addr_format = FI_SOCKADDR_IN;
	hints->fabric_attr->prov_name = strdup("tcp;ofi_rxm");
	fi_info *info = nullptr;
	ASSERT_EQ(fi_getinfo(FI_VERSION(1, 17), "127.0.0.1", nullptr, 0, hints, &info), 0);
	fi_freeinfo(hints);
	fid_fabric *fab;
	fid_domain *dom;
	fid_cq *cq;
	fid_av *av;
	fid_ep *ep;
	ASSERT_EQ(fi_fabric(info->fabric_attr, &fab, nullptr), 0);
	ASSERT_EQ(fi_domain(fab, info, &dom, nullptr), 0);
	fi_cq_attr cqa{};
	cqa.format = FI_CQ_FORMAT_MSG;
	ASSERT_EQ(fi_cq_open(dom, &cqa, &cq, nullptr), 0);
	fi_av_attr ava{};
	ava.type = FI_AV_MAP;
	ASSERT_EQ(fi_av_open(dom, &ava, &av, nullptr), 0);
	ASSERT_EQ(fi_endpoint(dom, info, &ep, nullptr), 0);
	ASSERT_EQ(fi_ep_bind(ep, &cq->fid, FI_SEND | FI_RECV), 0);
	ASSERT_EQ(fi_ep_bind(ep, &av->fid, 0), 0);
	ASSERT_EQ(fi_enable(ep), 0);
	fi_addr_t root;
	ASSERT_EQ(fi_av_insert(av, id.addr, 1, &root, 0, nullptr), 1);
	std::vector<uint8_t> junk(len, 0x5a);
	fi_context ctx{};
	ssize_t r;
	while ((r = fi_send(ep, junk.data(), junk.size(), nullptr, root, &ctx)) == -FI_EAGAIN)
		fi_cq_read(cq, nullptr, 0);
	ASSERT_EQ(r, 0);
	fi_cq_msg_entry e;
	const auto t0 = std::chrono::steady_clock::now();
	while (fi_cq_read(cq, &e, 1) == -FI_EAGAIN &&
	       std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5))
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	fi_close(&ep->fid);
	fi_close(&av->fid);
	fi_close(&cq->fid);
	fi_close(&dom->fid);
	fi_close(&fab->fid);
	fi_freeinfo(info);
}

TEST_F(Bootstrap, JunkDoesNotStopTheRoot)
{
	UniqueId id = start_root();
	send_junk(id, 64 * 1024); // more than a join: truncated at the root
	send_junk(id, 3);	  // less than a join's header
	send_junk(id, 200);	  // a header's size of junk
	auto got = run(id, {1, 0}, {2, 2});
	for (const auto &j : got) {
		ASSERT_EQ(j.status, LUMEN_SUCCESS) << j.why;
		EXPECT_EQ(j.table.at(1), blob_of(1));
	}
}

TEST_F(Bootstrap, ALateJoinerIsToldAndDoesNotHang)
{
	UniqueId id = start_root();
	auto got = run(id, {0, 1}, {2, 2});
	for (const auto &j : got)
		ASSERT_EQ(j.status, LUMEN_SUCCESS) << j.why;
	const auto t0 = std::chrono::steady_clock::now();
	auto late = join_as(id, 1, 2, blob_of(1));
	EXPECT_EQ(late.status, LUMEN_ERROR_INVALID_ARGUMENT);
	EXPECT_NE(late.why.find("over"), std::string::npos) << late.why;
	EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

TEST_F(Bootstrap, AJoinOfAnotherIdIsIgnored)
{
	UniqueId id = start_root(); // serves 20 s without a join
	setenv("LUMEN_CCL_BOOTSTRAP_TIMEOUT", "2", 1);
	UniqueId other = id;
	other.nonce ^= 1;
	auto stray = join_as(other, 0, 1, blob_of(0)); // the root does not answer it
	EXPECT_EQ(stray.status, LUMEN_ERROR_TIMEOUT);
	setenv("LUMEN_CCL_BOOTSTRAP_TIMEOUT", "20", 1);
	auto got = run(id, {0}, {1});
	EXPECT_EQ(got[0].status, LUMEN_SUCCESS) << got[0].why;
}

TEST_F(Bootstrap, RanksThatDisagreeOnTheCountAllFail)
{
	UniqueId id = start_root();
	auto got = run(id, {0, 1, 2}, {3, 3, 4});
	int failed = 0;
	for (const auto &j : got)
		if (j.status == LUMEN_ERROR_INVALID_ARGUMENT) {
			failed++;
			EXPECT_NE(j.why.find("nranks"), std::string::npos) << j.why;
		}
	// The one that came with 4 and the others that had joined, or came
	// after, all learn it.
	EXPECT_EQ(failed, 3);
}

TEST_F(Bootstrap, TheSameRankTwiceFails)
{
	UniqueId id = start_root();
	auto got = run(id, {0, 0}, {2, 2});
	int dup = 0;
	for (const auto &j : got)
		if (j.status == LUMEN_ERROR_INVALID_ARGUMENT &&
		    j.why.find("joined twice") != std::string::npos)
			dup++;
	EXPECT_EQ(dup, 2);
}

TEST_F(Bootstrap, ARankThatNeverComesTimesOut)
{
	setenv("LUMEN_CCL_BOOTSTRAP_TIMEOUT", "1", 1);
	UniqueId id = start_root();
	auto got = run(id, {0, 2}, {3, 3});
	for (const auto &j : got) {
		EXPECT_EQ(j.status, LUMEN_ERROR_TIMEOUT);
		EXPECT_NE(j.why.find("LUMEN_CCL_BOOTSTRAP_TIMEOUT"), std::string::npos) << j.why;
	}
}

TEST_F(Bootstrap, AnIdThatIsNotOneIsRefused)
{
	UniqueId id = start_root();
	id.magic ^= 1;
	auto j = join_as(id, 0, 1, blob_of(0));
	EXPECT_EQ(j.status, LUMEN_ERROR_INVALID_ARGUMENT);
	id = start_root();
	id.addr_len = sizeof(id.addr) + 1;
	j = join_as(id, 0, 1, blob_of(0));
	EXPECT_EQ(j.status, LUMEN_ERROR_INVALID_ARGUMENT);
}

TEST_F(Bootstrap, ABadTimeoutIsNamed)
{
	setenv("LUMEN_CCL_BOOTSTRAP_TIMEOUT", "soon", 1);
	UniqueId id{};
	id.magic = kIdMagic;
	id.version = kIdVersion;
	id.addr_len = 16;
	auto j = join_as(id, 0, 1, blob_of(0));
	EXPECT_EQ(j.status, LUMEN_ERROR_INVALID_ARGUMENT);
	EXPECT_NE(j.why.find("'soon'"), std::string::npos) << j.why;
}

TEST_F(Bootstrap, AnInterfaceThatDoesNotExistIsNamed)
{
	setenv("LUMEN_CCL_SOCKET_IFNAME", "nosuch0", 1);
	lumen_ccl_unique_id_t id;
	EXPECT_EQ(lumen_ccl_get_unique_id(&id), LUMEN_ERROR_INVALID_ARGUMENT);
	EXPECT_NE(std::string(lumen_ccl_get_last_error()).find("nosuch0"), std::string::npos);
	unsetenv("LUMEN_CCL_SOCKET_IFNAME");
	EXPECT_EQ(lumen_ccl_get_unique_id(&id), LUMEN_SUCCESS) << lumen_ccl_get_last_error();
}

// The C API's checks that come before a card or the network is touched.
TEST(CclApi, InitRankArguments)
{
	lumen_ccl_unique_id_t id{};
	lumen_ccl_comm_t comm = nullptr;
	EXPECT_EQ(lumen_ccl_get_unique_id(nullptr), LUMEN_ERROR_INVALID_ARGUMENT);
	EXPECT_EQ(lumen_ccl_comm_init_rank(nullptr, 2, id, 0, nullptr),
		  LUMEN_ERROR_INVALID_ARGUMENT);
	EXPECT_EQ(lumen_ccl_comm_init_rank(&comm, 0, id, 0, nullptr), LUMEN_ERROR_INVALID_ARGUMENT);
	EXPECT_NE(std::string(lumen_ccl_get_last_error()).find("nranks 0"), std::string::npos);
	EXPECT_EQ(lumen_ccl_comm_init_rank(&comm, 4097, id, 0, nullptr),
		  LUMEN_ERROR_INVALID_ARGUMENT);
	EXPECT_EQ(lumen_ccl_comm_init_rank(&comm, 2, id, 2, nullptr), LUMEN_ERROR_INVALID_ARGUMENT);
	EXPECT_NE(std::string(lumen_ccl_get_last_error()).find("rank 2 is not 0 .. 1"),
		  std::string::npos);
	EXPECT_EQ(lumen_ccl_comm_init_rank(&comm, 2, id, -1, nullptr),
		  LUMEN_ERROR_INVALID_ARGUMENT);
	EXPECT_EQ(comm, nullptr);
}

TEST(CclApi, BadCommunicators)
{
	int v = 0;
	EXPECT_EQ(lumen_ccl_comm_count(nullptr, &v), LUMEN_ERROR_INVALID_HANDLE);
	EXPECT_EQ(lumen_ccl_comm_rank(nullptr, &v), LUMEN_ERROR_INVALID_HANDLE);
	EXPECT_EQ(lumen_ccl_comm_destroy(nullptr), LUMEN_ERROR_INVALID_HANDLE);
	lumen_ccl_comm_info_t info{};
	LUMEN_STRUCT_INIT(info);
	EXPECT_EQ(lumen_ccl_comm_get_info(nullptr, &info), LUMEN_ERROR_INVALID_HANDLE);
	EXPECT_EQ(lumen_ccl_reduce(0, 0, 1, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM, 0, nullptr, nullptr),
		  LUMEN_ERROR_INVALID_HANDLE);
	EXPECT_EQ(lumen_ccl_barrier(nullptr, nullptr), LUMEN_ERROR_INVALID_HANDLE);
	auto bogus = reinterpret_cast<lumen_ccl_comm_t>(&v);
	EXPECT_EQ(lumen_ccl_all_reduce(0, 0, 1, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM, bogus, nullptr),
		  LUMEN_ERROR_INVALID_HANDLE);
	EXPECT_NE(std::string(lumen_ccl_get_last_error()).find("destroyed"), std::string::npos);
}
