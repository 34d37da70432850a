// SPDX-License-Identifier: MIT
// The control protocol: one JSON object per line in, one JSON object per line out.
#pragma once

#include <string>

#include "fabric.hpp"

namespace lumen::fabric {

class Control {
      public:
	// default_switch_ms: how long re-patched fibers stay dark unless a
	// repatch command says otherwise (the OCS mirrors moving).
	Control(Fabric &fabric, double default_switch_ms)
	    : fabric_(fabric), default_switch_ms_(default_switch_ms)
	{
	}

	// Answers one request line (without its newline); never throws.
	std::string handle(const std::string &line, Nanos now);
	bool shutdown_requested() const { return shutdown_requested_; }

      private:
	Fabric &fabric_;
	double default_switch_ms_;
	bool shutdown_requested_ = false;
};

} // namespace lumen::fabric
