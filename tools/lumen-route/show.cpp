// SPDX-License-Identifier: MIT
// lumen-route show: what each local chip holds.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <drm/lumen_accel.h>

#include "chip_admin.hpp"
#include "commands.hpp"
#include "local_chips.hpp"
#include "route/routes.hpp"
#include "route/topology.hpp"
#include "sys/error.hpp"

namespace lumen_route {

int run_show(bool json, std::ostream &out, std::ostream &err)
{
	using lumen::route::port_name;
	using lumen::route::RouteEntry;

	std::vector<LocalChip> chips;
	if (int rc = load_local_chips(chips, err))
		return rc;

	nlohmann::json j;
	j["schema_version"] = 1;
	j["chips"] = nlohmann::json::array();
	std::string text;
	for (const LocalChip &c : chips) {
		std::vector<uint32_t> words;
		std::vector<uint32_t> ctrl;
		try {
			words = route_get(*c.dev);
			for (uint32_t p = 0; p < c.num_ports; p++)
				ctrl.push_back(port_ctrl_get(*c.dev, p));
		} catch (const AdminError &e) {
			err << "lumen-route: " << e.what() << "\n";
			return kCardError;
		}
		nlohmann::json ports = nlohmann::json::array();
		text += fmt::format("chip {} (card {}, {})\n  ports:", c.chip_id, c.index,
				    c.pci_address);
		for (uint32_t p = 0; p < c.num_ports; p++) {
			const bool en = ctrl[p] & DRM_LUMEN_PORT_ENABLE;
			const bool dl = ctrl[p] & DRM_LUMEN_PORT_DATELINE;
			ports.push_back({{"port", p},
					 {"name", port_name(p)},
					 {"state", c.ports[p].state},
					 {"enabled", en},
					 {"dateline", dl}});
			text += fmt::format(" {} {}{}{}", port_name(p), c.ports[p].state,
					    en ? "" : " disabled", dl ? " dateline" : "");
			text += p + 1 < c.num_ports ? "," : "\n";
		}
		nlohmann::json routes = nlohmann::json::array();
		unsigned n = 0;
		for (uint32_t d = 0; d < words.size(); d++) {
			const RouteEntry e = RouteEntry::decode(words[d]);
			if (!e.valid)
				continue;
			n++;
			routes.push_back(
				{{"dest", d},
				 {"word", fmt::format("{:#010x}", words[d])},
				 {"port", port_name(e.port)},
				 {"alt_port", e.alt_port == lumen::route::kNoPort
						      ? nlohmann::json(nullptr)
						      : nlohmann::json(port_name(e.alt_port))},
				 {"lane", e.lane},
				 {"fixed_lane", e.fixed_lane}});
			text += fmt::format("  -> {:<5} {}\n", d, e.str());
		}
		if (!n)
			text += "  no routes\n";
		j["chips"].push_back({{"index", c.index},
				      {"pci_address", c.pci_address},
				      {"chip_id", c.chip_id},
				      {"ports", ports},
				      {"routes", routes}});
	}
	out << (json ? j.dump(2) + "\n" : text);
	return kOk;
}

} // namespace lumen_route
