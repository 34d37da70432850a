// SPDX-License-Identifier: MIT
// The patch panel: ports, the fibers between them, light, and moving DATA frames
// from one port through its fiber's model to the patched peer. No sockets here:
// a connected port is a PortSink, time is passed in.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <lumen/lumen_fiber.h>

#include "fiber_model.hpp"
#include "topology.hpp"

namespace lumen::fabric {

// Where the fabric writes records for one connected port.
class PortSink {
      public:
	virtual ~PortSink() = default;
	// False when the port's send queue is full: DATA waits in the fiber.
	virtual bool has_room() const = 0;
	// Queues a whole record. Never refuses: HELLO_ACK and LIGHT bypass the bound.
	virtual void send(std::vector<uint8_t> record) = 0;
};

enum class Direction { kAtoB = 0, kBtoA = 1 };

struct Fiber {
	uint32_t id = 0;
	Cable cable;
	FiberParams params;
	Lane lanes[2]; // indexed by Direction
	bool cut = false;
	uint64_t cuts = 0;
	bool lit = false;     // the state both connected ends were last told
	Nanos dark_until = 0; // after a re-patch: dark until the OCS has switched

	Fiber(uint32_t fiber_id, const Cable &c, const FiberParams &p, uint64_t seed,
	      size_t lane_bytes);
	// "lit", "cut", "switching" (re-patch in progress) or "dark" (an end absent).
	std::string state(Nanos now) const;
};

struct RepatchResult {
	std::vector<uint32_t> removed;
	std::vector<uint32_t> added;
	size_t kept = 0;
};

class Fabric {
      public:
	Fabric(uint64_t seed, const FiberParams &defaults, size_t lane_bytes);

	// A port said HELLO. Answers it through sink (HELLO_ACK) and lights the fiber
	// if the peer is there. Returns the status sent; anything but OK means the
	// caller closes the socket.
	enum lumen_fiber_status attach(Endpoint port, PortSink *sink, Nanos now);
	// The port's socket closed: its fiber goes dark for the peer.
	void detach(Endpoint port, Nanos now);
	bool attached(Endpoint port) const { return ports_.count(port) != 0; }

	// False while the port's outgoing lane is full: stop reading that port.
	bool can_accept(Endpoint from) const;
	// A DATA payload from a port; dropped (and counted) when the fiber is dark.
	void receive_data(Endpoint from, std::vector<uint8_t> payload, Nanos now);
	// Moves frames along every busy lane and lights re-patched fibers on time.
	void advance(Nanos now);
	// When advance() next has work of its own (kNever if none).
	Nanos next_deadline(Nanos now);

	// Control operations.
	const std::map<uint32_t, Fiber> &fibers() const { return fibers_; }
	Fiber *find_fiber(uint32_t id);
	Fiber *fiber_of(Endpoint port);
	void cut(Fiber &fiber, Nanos now);
	void restore(Fiber &fiber, Nanos now);
	void set_params(Fiber &fiber, const FiberParams &params, Nanos now);
	// Installs a topology: unchanged cables keep their fiber (state, counters);
	// the others go dark now and the new ones light up dark_ns later.
	RepatchResult repatch(const Topology &topology, Nanos dark_ns, Nanos now);

	const FiberParams &defaults() const { return defaults_; }
	void set_defaults(const FiberParams &params) { defaults_ = params; }
	uint64_t seed() const { return seed_; }
	const std::string &topology_spec() const { return topology_spec_; }
	// Connected ports and, for unpatched ones, DATA frames thrown away.
	std::map<Endpoint, uint64_t> port_list() const;

      private:
	struct PortState {
		PortSink *sink = nullptr;
		uint64_t dropped_unpatched = 0;
	};

	bool should_be_lit(const Fiber &fiber, Nanos now) const;
	// Recomputes the light; on a change tells every connected end except skip.
	void update_light(Fiber &fiber, enum lumen_fiber_light_reason reason, Nanos now,
			  const Endpoint *skip = nullptr);
	Endpoint receiver(const Fiber &fiber, Direction dir) const;
	void advance_lane(Fiber &fiber, Direction dir, Nanos now);

	uint64_t seed_;
	FiberParams defaults_;
	size_t lane_bytes_;
	std::string topology_spec_; // empty until the first install
	uint32_t next_fiber_id_ = 0;
	std::map<uint32_t, Fiber> fibers_;
	std::map<Endpoint, uint32_t> port_fiber_;
	std::map<Endpoint, PortState> ports_;
	std::set<std::pair<uint32_t, Direction>> busy_lanes_;
	std::set<uint32_t> switching_; // re-patched fibers waiting for dark_until
};

} // namespace lumen::fabric
