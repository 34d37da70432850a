// SPDX-License-Identifier: MIT
#include "perf_figures.hpp"

namespace lumen::ccl::perf {

const char *coll_name(Coll c)
{
	switch (c) {
	case Coll::AllReduce:
		return "all_reduce";
	case Coll::AllGather:
		return "all_gather";
	case Coll::ReduceScatter:
		return "reduce_scatter";
	case Coll::Broadcast:
		return "broadcast";
	case Coll::Reduce:
		return "reduce";
	}
	return "?";
}

std::optional<Coll> coll_from_name(const std::string &s)
{
	for (Coll c :
	     {Coll::AllReduce, Coll::AllGather, Coll::ReduceScatter, Coll::Broadcast, Coll::Reduce})
		if (s == coll_name(c))
			return c;
	return std::nullopt;
}

Shape shape_of(Coll c, size_t size, size_t esize, int n)
{
	Shape s;
	const size_t un = size_t(n);
	s.count = size / esize;
	if (c == Coll::AllGather || c == Coll::ReduceScatter) {
		s.count -= s.count % un;
		s.per_rank = s.count / un;
	} else {
		s.per_rank = s.count;
	}
	s.bytes = s.count * esize;
	switch (c) {
	case Coll::AllGather:
		s.send_bytes = s.per_rank * esize;
		s.recv_bytes = s.bytes;
		break;
	case Coll::ReduceScatter:
		s.send_bytes = s.bytes;
		s.recv_bytes = s.per_rank * esize;
		break;
	default:
		s.send_bytes = s.recv_bytes = s.bytes;
	}
	return s;
}

double bus_factor(Coll c, int n)
{
	switch (c) {
	case Coll::AllReduce:
		return 2.0 * (n - 1) / n;
	case Coll::AllGather:
	case Coll::ReduceScatter:
		return double(n - 1) / n;
	case Coll::Broadcast:
	case Coll::Reduce:
		return 1.0;
	}
	return 1.0;
}

} // namespace lumen::ccl::perf
