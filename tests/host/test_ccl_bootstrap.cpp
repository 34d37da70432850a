// SPDX-License-Identifier: MIT
// liblumen-ccl's bootstrap over libfabric's tcp provider (loopback here):
// ranks in threads meet at a root and get every rank's blob in rank order;
// ranks that disagree, ranks that never come and ids that are not ids fail
// with the right status and a message. And the C API's argument checks
// that come before any card is touched.
#include <gtest/gtest.h>

#include <lumen/lumen_ccl.h>

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
	std::vector<Joined> ga, gb;
	std::thread ta([&] { ga = run(a, {0, 1}, {2, 2}); });
	std::thread tb([&] { gb = run(b, {0, 1, 2}, {3, 3, 3}); });
	ta.join();
	tb.join();
	for (const auto &j : ga)
		ASSERT_EQ(j.table.size(), 2u) << j.why;
	for (const auto &j : gb)
		ASSERT_EQ(j.table.size(), 3u) << j.why;
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
