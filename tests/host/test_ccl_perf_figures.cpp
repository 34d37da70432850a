// SPDX-License-Identifier: MIT
// lumen-ccl-perf's arithmetic against nccl-tests' definitions
// (doc/PERFORMANCE.md there): size and count per collective, busbw factors.
#include <gtest/gtest.h>

#include "perf_figures.hpp"

using namespace lumen::ccl::perf;

TEST(CclPerfFigures, BusFactorsAreNcclTests)
{
	EXPECT_DOUBLE_EQ(bus_factor(Coll::AllReduce, 8), 2.0 * 7 / 8);
	EXPECT_DOUBLE_EQ(bus_factor(Coll::AllGather, 8), 7.0 / 8);
	EXPECT_DOUBLE_EQ(bus_factor(Coll::ReduceScatter, 4), 3.0 / 4);
	EXPECT_DOUBLE_EQ(bus_factor(Coll::Broadcast, 8), 1.0);
	EXPECT_DOUBLE_EQ(bus_factor(Coll::Reduce, 8), 1.0);
	EXPECT_DOUBLE_EQ(bus_factor(Coll::AllReduce, 1), 0.0);
}

TEST(CclPerfFigures, AllReduceSizeIsThePerRankBuffer)
{
	Shape s = shape_of(Coll::AllReduce, 1000, 4, 8);
	EXPECT_EQ(s.count, 250u);
	EXPECT_EQ(s.per_rank, 250u);
	EXPECT_EQ(s.bytes, 1000u);
	EXPECT_EQ(s.send_bytes, 1000u);
	EXPECT_EQ(s.recv_bytes, 1000u);
	// Rounded down to whole elements.
	s = shape_of(Coll::Broadcast, 7, 2, 4);
	EXPECT_EQ(s.count, 3u);
	EXPECT_EQ(s.bytes, 6u);
}

TEST(CclPerfFigures, AllGatherSizeIsTheWholeOutput)
{
	// 1000 bytes of f32 on 8 ranks: 250 elements, rounded to 248, 31 each.
	Shape s = shape_of(Coll::AllGather, 1000, 4, 8);
	EXPECT_EQ(s.count, 248u);
	EXPECT_EQ(s.per_rank, 31u);
	EXPECT_EQ(s.bytes, 992u);
	EXPECT_EQ(s.send_bytes, 124u);
	EXPECT_EQ(s.recv_bytes, 992u);
}

TEST(CclPerfFigures, ReduceScatterSizeIsTheWholeInput)
{
	Shape s = shape_of(Coll::ReduceScatter, 64, 2, 4);
	EXPECT_EQ(s.count, 32u);
	EXPECT_EQ(s.per_rank, 8u);
	EXPECT_EQ(s.send_bytes, 64u);
	EXPECT_EQ(s.recv_bytes, 16u);
	// Smaller than one element per rank: nothing to run.
	s = shape_of(Coll::ReduceScatter, 8, 4, 4);
	EXPECT_EQ(s.count, 0u);
	EXPECT_EQ(s.bytes, 0u);
}

TEST(CclPerfFigures, NamesRoundTrip)
{
	for (Coll c : {Coll::AllReduce, Coll::AllGather, Coll::ReduceScatter, Coll::Broadcast,
		       Coll::Reduce})
		EXPECT_EQ(coll_from_name(coll_name(c)), c);
	EXPECT_FALSE(coll_from_name("allreduce"));
	EXPECT_FALSE(coll_from_name(""));
}
