// SPDX-License-Identifier: MIT
// lumen-ccl-perf's arithmetic, as nccl-tests defines it
// (nccl-tests/doc/PERFORMANCE.md): what "size" and "count" mean for each
// collective, algbw = size / time, and busbw = algbw times the factor that
// makes it comparable with the hardware's link rate whatever the ranks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace lumen::ccl::perf {

enum class Coll { AllReduce, AllGather, ReduceScatter, Broadcast, Reduce };

const char *coll_name(Coll c); // "all_reduce", ...
std::optional<Coll> coll_from_name(const std::string &s);

// The buffers of one run of size bytes (nccl-tests' column "size") of
// elements of esize bytes on n ranks: count is the column "count" (for
// all-gather the elements of the whole output, for reduce-scatter of the
// whole input), per_rank the count argument of the call. size is rounded
// down to whole elements (and to a multiple of n for all-gather and
// reduce-scatter): bytes is what the row reports.
struct Shape {
	size_t bytes = 0;
	size_t count = 0;
	size_t per_rank = 0;
	size_t send_bytes = 0, recv_bytes = 0; // per rank
};
Shape shape_of(Coll c, size_t size, size_t esize, int n);

// busbw / algbw: 2 (n - 1) / n for all-reduce, (n - 1) / n for all-gather
// and reduce-scatter, 1 for broadcast and reduce.
double bus_factor(Coll c, int n);

} // namespace lumen::ccl::perf
