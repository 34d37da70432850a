// SPDX-License-Identifier: MIT
//
// vector_copy_cpp: vector_copy.c with the C++ wrapper <lumen/lumen.hpp>.
// RAII owners release everything, failures throw lumen::Error.
//
//   vector_copy_cpp [COUNT [DEVICE]]   (default: 1Mi 32-bit words on device 0)
//
// Exit status 0 only if the data came back intact.
#include <lumen/lumen.hpp>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char **argv)
{
	const size_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : size_t(1) << 20;
	const int index = argc > 2 ? std::atoi(argv[2]) : 0;
	if (count == 0) {
		std::fprintf(stderr, "usage: vector_copy_cpp [COUNT [DEVICE]] (COUNT > 0)\n");
		return 2;
	}
	try {
		if (index < 0 || index >= lumen::Device::count()) {
			std::fprintf(stderr, "vector_copy_cpp: device %d not found\n", index);
			return 1;
		}
		lumen::Context ctx(lumen::Device::get(index));
		lumen::Stream stream(ctx);
		lumen::Event start(ctx), end(ctx);
		lumen::DeviceBuffer<uint32_t> a(ctx, count), b(ctx, count);
		lumen::HostBuffer result(ctx, count * sizeof(uint32_t));

		std::vector<uint32_t> input(count);
		for (size_t i = 0; i < count; i++)
			input[i] = uint32_t(i * 2654435761u);

		start.record(stream);
		stream.copy_to_device(a, input.data());
		stream.copy(b.get(), a.get(), b.bytes());
		stream.copy_to_host(result.get(), b);
		end.record(stream);
		stream.synchronize();

		const uint32_t *out = result.as<uint32_t>();
		for (size_t i = 0; i < count; i++) {
			if (out[i] != input[i]) {
				std::fprintf(stderr,
					     "vector_copy_cpp: FAILED at element %zu: 0x%08" PRIx32
					     ", expected 0x%08" PRIx32 "\n",
					     i, out[i], input[i]);
				return 1;
			}
		}
		std::printf("vector_copy_cpp: %zu words host -> device -> device -> host in "
			    "%.3f ms: OK\n",
			    count, end.elapsed_since(start));
		return 0;
	} catch (const lumen::Error &e) {
		std::fprintf(stderr, "vector_copy_cpp: %s\n", e.what());
		return 1;
	}
}
