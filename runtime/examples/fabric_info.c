/* SPDX-License-Identifier: MIT */
/*
 * fabric_info: the supernode as an application sees it through liblumen
 * (lumen.h, "The fabric"): its shape, every chip (which are this host's
 * cards), the route from one chip to every other with its hops, ports and
 * virtual channels, and a histogram of hop counts over all pairs. Needs the
 * fabric manager (lumen-fm) running on this host.
 *
 *   fabric_info [SRC]      (default: chip 0)
 *
 * Exit status 0 when every route arrives.
 */
#include <lumen/lumen.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const port_names[] = {"+x", "-x", "+y", "-y", "+z", "-z"};

static const char *port_name(unsigned p, char *buf, size_t size)
{
	if (p < 6)
		return port_names[p];
	snprintf(buf, size, "%u", p);
	return buf;
}

static int failed(const char *call, lumen_status_t st)
{
	fprintf(stderr, "fabric_info: %s: %s: %s\n", call, lumen_status_string(st),
		lumen_get_last_error());
	return 1;
}

int main(int argc, char **argv)
{
	uint32_t src = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 0;
	lumen_fabric_info_t info;
	lumen_status_t st;
	size_t n = 0;

	LUMEN_STRUCT_INIT(info);
	st = lumen_fabric_get_info(&info);
	if (st)
		return failed("lumen_fabric_get_info", st);
	printf("supernode: %u chips, %u fibers up, %u down, shape %s, %s routes, generation "
	       "%" PRIu64 "%s%s\n",
	       info.num_chips, info.num_fibers, info.links_down,
	       info.shape[0] ? info.shape : "(no grid)", info.engine, info.generation,
	       info.flags & LUMEN_FABRIC_VERIFIED ? ", verified deadlock-free" : "",
	       info.flags & LUMEN_FABRIC_MIRROR ? " (from a standby manager)" : "");

	st = lumen_fabric_get_chips(NULL, 0, &n);
	if (st)
		return failed("lumen_fabric_get_chips", st);
	uint32_t *ids = calloc(n ? n : 1, sizeof(*ids));
	lumen_route_summary_t *pairs = calloc(n ? n * n : 1, sizeof(*pairs));
	if (!ids || !pairs)
		return 1;
	st = lumen_fabric_get_chips(ids, n, &n);
	if (st)
		return failed("lumen_fabric_get_chips", st);

	for (size_t i = 0; i < n; i++) {
		lumen_chip_info_t c;
		LUMEN_STRUCT_INIT(c);
		st = lumen_fabric_get_chip_info(ids[i], &c);
		if (st)
			return failed("lumen_fabric_get_chip_info", st);
		printf("chip %4u  %s  ", c.chip_id, c.serial);
		if (c.has_coords)
			printf("(%u,%u,%u)  ", c.coords[0], c.coords[1], c.coords[2]);
		printf("ports up %#04x  %s", c.ports_up,
		       c.device_index >= 0 ? "this host's device " : "remote");
		if (c.device_index >= 0)
			printf("%d", c.device_index);
		printf("\n");
	}

	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		lumen_route_info_t r;
		lumen_route_hop_t hops[64];
		char buf[8];

		if (ids[i] == src)
			continue;
		LUMEN_STRUCT_INIT(r);
		st = lumen_fabric_get_route(src, ids[i], &r, hops, 64);
		printf("route %u -> %u: ", src, ids[i]);
		for (uint32_t h = 0; h < r.num_hops && h < 64; h++) {
			printf("%u %s/vc%u", hops[h].chip_id,
			       port_name(hops[h].port, buf, sizeof(buf)), hops[h].vc);
			if (hops[h].alt_port != LUMEN_PORT_NONE)
				printf(" (alt %s)", port_name(hops[h].alt_port, buf, sizeof(buf)));
			printf(", ");
		}
		if (st) {
			printf("%s\n", lumen_status_string(st));
			bad = 1;
			continue;
		}
		printf("%u: %u hops, %.0f GB/s, %.1f us\n", ids[i], r.num_hops,
		       r.bottleneck_bytes_per_s / 1e9, r.latency_ns / 1e3);
	}

	/* Every ordered pair at once, without hop lists. */
	size_t np = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			if (i != j) {
				pairs[np].src = ids[i];
				pairs[np].dst = ids[j];
				np++;
			}
	uint64_t gen = 0;
	st = lumen_fabric_get_routes(pairs, np, &gen);
	if (st)
		return failed("lumen_fabric_get_routes", st);
	unsigned hist[65] = {0}, most = 0;
	for (size_t k = 0; k < np; k++) {
		if (pairs[k].status != LUMEN_SUCCESS) {
			bad = 1;
			continue;
		}
		unsigned h = pairs[k].num_hops < 64 ? pairs[k].num_hops : 64;
		hist[h]++;
		most = h > most ? h : most;
	}
	printf("hops over all %zu pairs (generation %" PRIu64 "):", np, gen);
	for (unsigned h = 1; h <= most; h++)
		printf(" %u:%u", h, hist[h]);
	printf("\n");
	free(ids);
	free(pairs);
	return bad;
}
