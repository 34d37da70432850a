// SPDX-License-Identifier: MIT
/*
 * liblumen's fabric queries (lumen.h, "The fabric") against a scripted
 * manager on a unix socket: how the client reads answers, good and hostile.
 * The real lumen-fm is tested in the guests (tests/fm, runtime_fabric);
 * this checks what a real manager would rarely send: garbage, missing
 * fields, silence, error codes, generations that move mid-batch.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <lumen/lumen.h>

/* The scripted manager: answer(request) per connection, in a thread. What
 * the test sets while that thread runs (requests, generation, silent, the
 * hostile answer) goes through atomics: the socket orders it in practice,
 * but to the language (and TSAN) it is shared memory of two threads. */
typedef void (*answer_fn)(const char *req, char *out, size_t size);

static struct {
	int fd;
	pthread_t thread;
	answer_fn answer;
	char path[108];
	unsigned requests;
	unsigned generation; /* for answers that move it */
	int silent;	     /* accept, read, never answer */
} fm;

static void *serve(void *arg)
{
	(void)arg;
	static char req[1 << 17];
	static char out[1 << 21];
	for (;;) {
		int c = accept(fm.fd, NULL, NULL);
		if (c < 0)
			return NULL;
		size_t len = 0;
		while (len < sizeof(req) - 1) {
			ssize_t n = read(c, req + len, sizeof(req) - 1 - len);
			if (n <= 0)
				break;
			len += (size_t)n;
			if (memchr(req, '\n', len))
				break;
		}
		req[len] = 0;
		char *nl = strchr(req, '\n');
		if (nl)
			*nl = 0;
		__atomic_fetch_add(&fm.requests, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&fm.silent, __ATOMIC_SEQ_CST)) {
			/* hold the connection until the client gives up */
			char b;
			while (read(c, &b, 1) > 0)
				;
			close(c);
			continue;
		}
		fm.answer(req, out, sizeof(out));
		size_t n = strlen(out), off = 0;
		while (off < n) {
			ssize_t w = write(c, out + off, n - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		close(c);
	}
}

static void start(answer_fn answer)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	memset(&fm, 0, sizeof(fm));
	fm.answer = answer;
	snprintf(fm.path, sizeof(fm.path), "/tmp/lumen-test-fm.%d.sock", getpid());
	unlink(fm.path);
	strcpy(a.sun_path, fm.path);
	fm.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fm.fd >= 0);
	assert_int_equal(bind(fm.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fm.fd, 8), 0);
	assert_int_equal(setenv("LUMEN_FM_SOCKET", fm.path, 1), 0);
	assert_int_equal(pthread_create(&fm.thread, NULL, serve, NULL), 0);
}

static int stop(void **state)
{
	(void)state;
	if (fm.fd > 0) {
		shutdown(fm.fd, SHUT_RDWR);
		close(fm.fd);
		pthread_join(fm.thread, NULL);
		unlink(fm.path);
		fm.fd = 0;
	}
	return 0;
}

static const char status_ok[] =
	"{\"role\":\"master\",\"guid\":\"00c0ffee12345678\",\"chip\":0,\"master_chip\":0,"
	"\"generation\":7,"
	"\"event_seq\":42,\"chips\":8,\"fibers\":15,\"links_down\":1,\"unreachable\":0,"
	"\"dims\":[4,2,1],\"wrap\":true,\"shape\":\"torus:4x2\",\"engine\":\"dor\","
	"\"verify\":\"ok\",\"routes_from\":\"computed\"}\n";

static const char topology_ok[] =
	"{\"chips\":[{\"id\":5,\"serial\":\"LMN1-000006\",\"num_ports\":6,\"coords\":[1,1,0],"
	"\"ports\":[{\"port\":0,\"state\":\"up\",\"peer_chip\":6,\"peer_port\":1},"
	"{\"port\":2,\"state\":\"down\"},{\"port\":3,\"state\":\"up\",\"peer_chip\":1,"
	"\"peer_port\":2}]},{\"id\":1,\"serial\":\"LMN1-000002\",\"num_ports\":6,"
	"\"coords\":null,\"ports\":[]}],\"fibers\":[],\"down\":[],\"conflicts\":[]}\n";

static void answer_good(const char *req, char *out, size_t size)
{
	if (!strcmp(req, "status")) {
		snprintf(out, size, "%s", status_ok);
	} else if (!strcmp(req, "topology")) {
		snprintf(out, size, "%s", topology_ok);
	} else if (!strcmp(req, "route 5 1")) {
		snprintf(out, size,
			 "{\"src\":5,\"dst\":1,\"outcome\":\"arrived\",\"generation\":7,"
			 "\"hop_count\":2,\"bottleneck_bytes_per_s\":50000000000,"
			 "\"latency_ns\":1000,\"hops\":[{\"chip\":5,\"port\":3,\"vc\":0,"
			 "\"alt_port\":null,\"detour\":false},{\"chip\":1,\"port\":1,\"vc\":1,"
			 "\"alt_port\":4,\"detour\":true}]}\n");
	} else if (!strcmp(req, "route 5 6")) {
		snprintf(out, size,
			 "{\"src\":5,\"dst\":6,\"outcome\":\"no route\",\"generation\":7,"
			 "\"hop_count\":1,\"bottleneck_bytes_per_s\":0,\"latency_ns\":500,"
			 "\"hops\":[{\"chip\":5,\"port\":0,\"vc\":0,\"alt_port\":null,"
			 "\"detour\":false}]}\n");
	} else if (!strcmp(req, "route 5 99")) {
		snprintf(out, size, "{\"error\":\"no chip 99\",\"code\":\"invalid_chip\"}\n");
	} else if (!strcmp(req, "port 5 0")) {
		snprintf(out, size,
			 "{\"chip\":5,\"port\":0,\"state\":\"up\",\"enabled\":true,"
			 "\"dateline\":false,\"peer_chip\":6,\"peer_port\":1,"
			 "\"bandwidth_bytes_per_s\":50000000000,\"latency_ns\":500,"
			 "\"counters\":{\"tx_frames\":10,\"rx_frames\":11,\"crc_errors\":1,"
			 "\"retransmits\":2,\"down_events\":3,\"tx_bytes\":4294967301,"
			 "\"rx_bytes\":5,\"frame_errors\":0,\"naks_rx\":0,\"naks_tx\":0,"
			 "\"replay_timeouts\":6,\"ttl_drops\":7,\"credit_stalls\":8,"
			 "\"failovers\":9,\"retrains\":12,\"data_tx\":0,\"data_rx\":0,"
			 "\"seq_errors\":0}}\n");
	} else if (!strcmp(req, "port 5 7")) {
		snprintf(out, size,
			 "{\"error\":\"chip 5 has 6 ports\",\"code\":\"invalid_port\"}\n");
	} else if (!strncmp(req, "events --since ", 15)) {
		snprintf(out, size,
			 "{\"events\":[{\"seq\":3,\"ms\":100,\"type\":\"link_down\","
			 "\"fiber\":[\"3.+y\",\"7.-y\"],\"by\":\"trap\"},{\"seq\":4,\"ms\":101,"
			 "\"type\":\"reroute\",\"generation\":8,\"reason\":\"trap\"},"
			 "{\"seq\":5,\"ms\":102,\"type\":\"sweep\"}]}\n");
	} else {
		snprintf(out, size,
			 "{\"error\":\"unknown command\",\"code\":\"unknown_command\"}\n");
	}
}

/* No manager at all: the socket does not exist. */
static void no_manager(void **state)
{
	lumen_fabric_info_t info;

	(void)state;
	setenv("LUMEN_FM_SOCKET", "/tmp/lumen-test-no-such-fm.sock", 1);
	LUMEN_STRUCT_INIT(info);
	assert_int_equal(lumen_fabric_get_info(&info), LUMEN_ERROR_FABRIC_UNAVAILABLE);
	assert_non_null(strstr(lumen_get_last_error(), "/tmp/lumen-test-no-such-fm.sock"));
	assert_non_null(strstr(lumen_get_last_error(), "lumen-fm"));
	size_t n = 1;
	assert_int_equal(lumen_fabric_get_chips(NULL, 0, &n), LUMEN_ERROR_FABRIC_UNAVAILABLE);
}

static void info_and_chips(void **state)
{
	lumen_fabric_info_t info;
	lumen_chip_info_t chip;
	uint32_t ids[4] = {0};
	size_t n = 0;

	(void)state;
	start(answer_good);
	memset(&info, 0xa5, sizeof(info));
	LUMEN_STRUCT_INIT(info);
	assert_int_equal(lumen_fabric_get_info(&info), LUMEN_SUCCESS);
	assert_int_equal(info.generation, 7);
	assert_int_equal(info.event_seq, 42);
	assert_int_equal(info.num_chips, 8);
	assert_int_equal(info.num_fibers, 15);
	assert_int_equal(info.links_down, 1);
	assert_int_equal(info.dims[0], 4);
	assert_int_equal(info.dims[1], 2);
	assert_int_equal(info.dims[2], 1);
	assert_int_equal(info.wrap, 1);
	assert_int_equal(info.manager_chip, 0);
	assert_int_equal(info.flags, LUMEN_FABRIC_VERIFIED);
	assert_string_equal(info.shape, "torus:4x2");
	assert_string_equal(info.engine, "dor");
	assert_int_equal(info.manager_guid, 0x00c0ffee12345678ull);

	/* An older caller's shorter struct: only its prefix is written. */
	struct {
		size_t struct_size;
		uint64_t generation;
		uint64_t guard;
	} old = {sizeof(size_t) + sizeof(uint64_t), 0, 0x1122334455667788ull};
	assert_int_equal(lumen_fabric_get_info((lumen_fabric_info_t *)&old), LUMEN_SUCCESS);
	assert_int_equal(old.generation, 7);
	assert_int_equal(old.guard, 0x1122334455667788ull);

	assert_int_equal(lumen_fabric_get_chips(NULL, 0, &n), LUMEN_SUCCESS);
	assert_int_equal(n, 2);
	assert_int_equal(lumen_fabric_get_chips(ids, 1, &n), LUMEN_SUCCESS);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 1); /* ascending */
	assert_int_equal(ids[1], 0); /* beyond max: untouched */
	assert_int_equal(lumen_fabric_get_chips(NULL, 3, &n), LUMEN_ERROR_INVALID_ARGUMENT);

	LUMEN_STRUCT_INIT(chip);
	assert_int_equal(lumen_fabric_get_chip_info(5, &chip), LUMEN_SUCCESS);
	assert_int_equal(chip.chip_id, 5);
	assert_int_equal(chip.num_ports, 6);
	assert_int_equal(chip.ports_up, 1u << 0 | 1u << 3);
	assert_int_equal(chip.has_coords, 1);
	assert_int_equal(chip.coords[0], 1);
	assert_int_equal(chip.coords[1], 1);
	assert_int_equal(chip.device_index, -1); /* no card on the build host */
	assert_string_equal(chip.serial, "LMN1-000006");
	assert_int_equal(lumen_fabric_get_chip_info(1, &chip), LUMEN_SUCCESS);
	assert_int_equal(chip.has_coords, 0);
	assert_int_equal(lumen_fabric_get_chip_info(2, &chip), LUMEN_ERROR_INVALID_CHIP);
	assert_non_null(strstr(lumen_get_last_error(), "chip 2"));
	assert_int_equal(lumen_fabric_get_chip_info(5, NULL), LUMEN_ERROR_INVALID_ARGUMENT);
	chip.struct_size = 0;
	assert_int_equal(lumen_fabric_get_chip_info(5, &chip), LUMEN_ERROR_INVALID_ARGUMENT);
}

static void ports(void **state)
{
	lumen_port_info_t p;

	(void)state;
	start(answer_good);
	LUMEN_STRUCT_INIT(p);
	assert_int_equal(lumen_fabric_get_port_info(5, 0, &p), LUMEN_SUCCESS);
	assert_int_equal(p.state, LUMEN_PORT_UP);
	assert_int_equal(p.enabled, 1);
	assert_int_equal(p.peer_chip, 6);
	assert_int_equal(p.peer_port, 1);
	assert_int_equal(p.bandwidth_bytes_per_s, 50000000000ull);
	assert_int_equal(p.latency_ns, 500);
	assert_int_equal(p.tx_bytes, 4294967301ull);
	assert_int_equal(p.tx_frames, 10);
	assert_int_equal(p.rx_frames, 11);
	assert_int_equal(p.crc_errors, 1);
	assert_int_equal(p.retrains, 12);
	assert_int_equal(p.failovers, 9);
	assert_int_equal(lumen_fabric_get_port_info(5, 7, &p), LUMEN_ERROR_INVALID_CHIP);
	assert_non_null(strstr(lumen_get_last_error(), "6 ports"));
}

static void routes_one(void **state)
{
	lumen_route_info_t r;
	lumen_route_hop_t hops[4];

	(void)state;
	start(answer_good);
	LUMEN_STRUCT_INIT(r);
	assert_int_equal(lumen_fabric_get_route(5, 1, &r, hops, 4), LUMEN_SUCCESS);
	assert_int_equal(r.num_hops, 2);
	assert_int_equal(r.generation, 7);
	assert_int_equal(r.latency_ns, 1000);
	assert_int_equal(r.bottleneck_bytes_per_s, 50000000000ull);
	assert_int_equal(hops[0].chip_id, 5);
	assert_int_equal(hops[0].port, 3);
	assert_int_equal(hops[0].alt_port, LUMEN_PORT_NONE);
	assert_int_equal(hops[0].flags, 0);
	assert_int_equal(hops[1].chip_id, 1);
	assert_int_equal(hops[1].vc, 1);
	assert_int_equal(hops[1].alt_port, 4);
	assert_int_equal(hops[1].flags, LUMEN_HOP_DETOUR);

	/* Fewer slots than hops: num_hops still says how many there are. */
	memset(hops, 0, sizeof(hops));
	assert_int_equal(lumen_fabric_get_route(5, 1, &r, hops, 1), LUMEN_SUCCESS);
	assert_int_equal(r.num_hops, 2);
	assert_int_equal(hops[1].chip_id, 0);
	assert_int_equal(lumen_fabric_get_route(5, 1, &r, NULL, 0), LUMEN_SUCCESS);
	assert_int_equal(lumen_fabric_get_route(5, 1, &r, NULL, 2), LUMEN_ERROR_INVALID_ARGUMENT);

	/* The tables lead nowhere: UNREACHABLE, with the hops known. */
	assert_int_equal(lumen_fabric_get_route(5, 6, &r, hops, 4), LUMEN_ERROR_UNREACHABLE);
	assert_int_equal(r.num_hops, 1);
	assert_non_null(strstr(lumen_get_last_error(), "no route"));
	assert_int_equal(lumen_fabric_get_route(5, 99, &r, hops, 4), LUMEN_ERROR_INVALID_CHIP);
	assert_non_null(strstr(lumen_get_last_error(), "no chip 99"));
}

/* Echoes each pair; src 13 is unknown, dst 12 unreachable. */
static void answer_batch(const char *req, char *out, size_t size)
{
	size_t len = 0;
	const char *p = req + strlen("routes");

	assert_memory_equal(req, "routes", 6);
	len += snprintf(out + len, size - len, "{\"generation\":%u,\"routes\":[",
			__atomic_load_n(&fm.generation, __ATOMIC_SEQ_CST));
	for (int first = 1; *p == ' '; first = 0) {
		unsigned s, d;
		int used;
		assert_int_equal(sscanf(p, " %u:%u%n", &s, &d, &used), 2);
		p += used;
		const char *o = s == 13 ? "invalid_chip" : d == 12 ? "no route" : "arrived";
		len += snprintf(out + len, size - len,
				"%s{\"src\":%u,\"dst\":%u,\"outcome\":\"%s\",\"hop_count\":%u,"
				"\"bottleneck_bytes_per_s\":%u,\"latency_ns\":%u}",
				first ? "" : ",", s, d, o, (s + d) % 5, 7, 500 * ((s + d) % 5));
		assert_true(len < size);
	}
	snprintf(out + len, size - len, "]}\n");
}

static void routes_batched(void **state)
{
	enum { N = 20000 }; /* several requests of at most 64 KiB */
	static lumen_route_summary_t pairs[N];
	uint64_t gen = 0;

	(void)state;
	start(answer_batch);
	__atomic_store_n(&fm.generation, 9, __ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < N; i++) {
		pairs[i].src = 100 + i % 4000; /* 12 and 13 only where set below */
		pairs[i].dst = 100 + (i * 7) % 4000;
	}
	pairs[5].src = 13;
	pairs[6].dst = 12;
	assert_int_equal(lumen_fabric_get_routes(pairs, N, &gen), LUMEN_SUCCESS);
	assert_int_equal(gen, 9);
	assert_true(__atomic_load_n(&fm.requests, __ATOMIC_SEQ_CST) >= 4);
	for (unsigned i = 0; i < N; i++) {
		lumen_status_t want = i == 5   ? LUMEN_ERROR_INVALID_CHIP
				      : i == 6 ? LUMEN_ERROR_UNREACHABLE
					       : LUMEN_SUCCESS;
		assert_int_equal(pairs[i].status, want);
		assert_int_equal(pairs[i].num_hops, (pairs[i].src + pairs[i].dst) % 5);
		assert_int_equal(pairs[i].latency_ns, 500 * pairs[i].num_hops);
	}
	assert_int_equal(lumen_fabric_get_routes(NULL, 3, &gen), LUMEN_ERROR_INVALID_ARGUMENT);
}

/* Every request sees a new generation: a batch of several requests never
 * gets one consistent view. */
static void answer_batch_moving(const char *req, char *out, size_t size)
{
	__atomic_fetch_add(&fm.generation, 1, __ATOMIC_SEQ_CST);
	answer_batch(req, out, size);
}

static void routes_generation_moves(void **state)
{
	enum { N = 20000 };
	static lumen_route_summary_t pairs[N];

	(void)state;
	start(answer_batch_moving);
	for (unsigned i = 0; i < N; i++)
		pairs[i].src = pairs[i].dst = i % 100;
	assert_int_equal(lumen_fabric_get_routes(pairs, N, NULL), LUMEN_ERROR_NOT_READY);
	assert_non_null(strstr(lumen_get_last_error(), "rerouted"));
	/* One request: always consistent. */
	assert_int_equal(lumen_fabric_get_routes(pairs, 10, NULL), LUMEN_SUCCESS);
}

static void events(void **state)
{
	lumen_fabric_event_t ev[4];
	size_t n = 0;

	(void)state;
	start(answer_good);
	assert_int_equal(lumen_fabric_get_events(2, ev, 4, &n), LUMEN_SUCCESS);
	assert_int_equal(n, 3);
	assert_int_equal(ev[0].seq, 3);
	assert_int_equal(ev[0].type, LUMEN_FABRIC_EVENT_LINK_DOWN);
	assert_int_equal(ev[0].chip_id, 3);
	assert_int_equal(ev[0].port, 2); /* +y */
	assert_string_equal(ev[0].name, "link_down");
	assert_int_equal(ev[1].type, LUMEN_FABRIC_EVENT_REROUTE);
	assert_int_equal(ev[1].generation, 8);
	assert_int_equal(ev[1].chip_id, UINT32_MAX);
	assert_int_equal(ev[2].type, LUMEN_FABRIC_EVENT_OTHER);
	assert_string_equal(ev[2].name, "sweep");
	assert_int_equal(lumen_fabric_get_events(2, ev, 1, &n), LUMEN_SUCCESS);
	assert_int_equal(n, 1);
	assert_int_equal(lumen_fabric_get_events(2, NULL, 1, &n), LUMEN_ERROR_INVALID_ARGUMENT);
	assert_int_equal(lumen_fabric_get_events(2, ev, 1, NULL), LUMEN_ERROR_INVALID_ARGUMENT);
}

static void wait_generation(void **state)
{
	uint64_t g = 0;

	(void)state;
	start(answer_good);
	assert_int_equal(lumen_fabric_wait_generation(6, 0, &g), LUMEN_SUCCESS);
	assert_int_equal(g, 7);
	assert_int_equal(lumen_fabric_wait_generation(7, 0, &g), LUMEN_ERROR_TIMEOUT);
	assert_int_equal(g, 7);
	unsigned before = __atomic_load_n(&fm.requests, __ATOMIC_SEQ_CST);
	assert_int_equal(lumen_fabric_wait_generation(7, 100, &g), LUMEN_ERROR_TIMEOUT);
	unsigned polls = __atomic_load_n(&fm.requests, __ATOMIC_SEQ_CST) - before;
	assert_true(polls >= 2); /* it polled */
	assert_true(polls <= 12);
	assert_int_equal(lumen_fabric_wait_generation(7, -2, &g), LUMEN_ERROR_INVALID_ARGUMENT);
}

/* Hostile or broken managers: each gets FABRIC_UNAVAILABLE with a reason. */
static const char *hostile_answer;

static void answer_hostile(const char *req, char *out, size_t size)
{
	(void)req;
	snprintf(out, size, "%s", __atomic_load_n(&hostile_answer, __ATOMIC_SEQ_CST));
}

static void set_hostile(const char *answer)
{
	__atomic_store_n(&hostile_answer, answer, __ATOMIC_SEQ_CST);
}

static void hostile_answers(void **state)
{
	static const struct {
		const char *answer;
		const char *says;
	} cases[] = {
		{"not json\n", "not a JSON object"},
		{"[1,2]\n", "not a JSON object"},
		{"{\"generation\":7}", "without a whole answer"}, /* no newline */
		{"", "without a whole answer"},
		{"{\"generation\":\"seven\"}\n", "no count"},
		{"{\"generation\":-1}\n", "no count"},
		{"{\"role\":\"master\"}\n", "has no \"generation\""},
		{"{\"error\":\"busy\",\"code\":\"not_master\"}\n", "busy"},
		{"{\"error\":{\"x\":1}}\n", "an error that is a object"},
		/* a field of another JSON type than the manager's contract says */
		{"{\"role\":\"master\",\"guid\":\"1\",\"generation\":7,\"event_seq\":1,"
		 "\"chips\":8,\"fibers\":1,\"links_down\":0,\"unreachable\":0,\"dims\":null,"
		 "\"wrap\":\"yes\",\"shape\":\"\",\"engine\":\"dor\",\"verify\":\"ok\","
		 "\"routes_from\":\"computed\"}\n",
		 "not as expected"},
		{"{\"role\":\"master\",\"guid\":\"xyz\",\"generation\":7,\"event_seq\":1,"
		 "\"chips\":8,\"fibers\":1,\"links_down\":0,\"unreachable\":0,\"dims\":null,"
		 "\"wrap\":true,\"shape\":\"\",\"engine\":\"dor\",\"verify\":\"ok\","
		 "\"routes_from\":\"computed\"}\n",
		 "guid"},
	};
	lumen_fabric_info_t info;

	(void)state;
	start(answer_hostile);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		set_hostile(cases[i].answer);
		LUMEN_STRUCT_INIT(info);
		assert_int_equal(lumen_fabric_get_info(&info), LUMEN_ERROR_FABRIC_UNAVAILABLE);
		if (!strstr(lumen_get_last_error(), cases[i].says))
			fail_msg("case %zu: '%s' does not say '%s'", i, lumen_get_last_error(),
				 cases[i].says);
	}
	/* Nested 100000 deep (a stack overflow in a recursive dump or walk):
	 * refused unread. */
	{
		static char deep[200016];
		size_t k = 0;
		k += (size_t)sprintf(deep, "{\"error\":");
		for (int i = 0; i < 100000; i++)
			deep[k++] = '[';
		for (int i = 0; i < 100000; i++)
			deep[k++] = ']';
		strcpy(deep + k, "}\n");
		set_hostile(deep);
		LUMEN_STRUCT_INIT(info);
		assert_int_equal(lumen_fabric_get_info(&info), LUMEN_ERROR_FABRIC_UNAVAILABLE);
		assert_non_null(strstr(lumen_get_last_error(), "nested deeper"));
	}
	/* A hop's port beyond a byte. */
	set_hostile("{\"src\":1,\"dst\":2,\"outcome\":\"arrived\",\"generation\":1,"
		    "\"hop_count\":1,\"bottleneck_bytes_per_s\":1,\"latency_ns\":1,"
		    "\"hops\":[{\"chip\":1,\"port\":300,\"vc\":0,\"alt_port\":null}]}\n");
	lumen_route_info_t ri;
	lumen_route_hop_t hop;
	LUMEN_STRUCT_INIT(ri);
	assert_int_equal(lumen_fabric_get_route(1, 2, &ri, &hop, 1),
			 LUMEN_ERROR_FABRIC_UNAVAILABLE);
	assert_non_null(strstr(lumen_get_last_error(), "beyond a byte"));
	/* A status of the manager before routes: not available yet. */
	set_hostile("{\"role\":\"starting\",\"generation\":0,\"event_seq\":1,\"chips\":0,"
		    "\"fibers\":0,\"links_down\":0,\"unreachable\":0,\"dims\":null,"
		    "\"wrap\":false,\"shape\":\"\",\"engine\":\"dor\",\"verify\":\"failed\","
		    "\"routes_from\":\"none\"}\n");
	assert_int_equal(lumen_fabric_get_info(&info), LUMEN_ERROR_FABRIC_UNAVAILABLE);
	assert_non_null(strstr(lumen_get_last_error(), "no routes yet"));
	/* Bad shapes of lists. */
	set_hostile("{\"chips\":[{\"id\":5,\"serial\":\"x\",\"num_ports\":6,"
		    "\"coords\":[1,2],\"ports\":[]}]}\n");
	lumen_chip_info_t chip;
	LUMEN_STRUCT_INIT(chip);
	assert_int_equal(lumen_fabric_get_chip_info(5, &chip), LUMEN_ERROR_FABRIC_UNAVAILABLE);
	set_hostile("{\"events\":[{\"seq\":1,\"ms\":1,\"type\":\"link_up\","
		    "\"fiber\":[\"bogus\",\"1.+x\"]}]}\n");
	lumen_fabric_event_t ev;
	size_t n;
	assert_int_equal(lumen_fabric_get_events(0, &ev, 1, &n), LUMEN_ERROR_FABRIC_UNAVAILABLE);
	set_hostile("{\"generation\":1,\"routes\":[]}\n");
	lumen_route_summary_t pair = {.src = 1, .dst = 2};
	assert_int_equal(lumen_fabric_get_routes(&pair, 1, NULL), LUMEN_ERROR_FABRIC_UNAVAILABLE);
	set_hostile("{\"generation\":1,\"routes\":[{\"src\":2,\"dst\":1,\"outcome\":"
		    "\"arrived\",\"hop_count\":1,\"bottleneck_bytes_per_s\":1,"
		    "\"latency_ns\":1}]}\n");
	assert_int_equal(lumen_fabric_get_routes(&pair, 1, NULL), LUMEN_ERROR_FABRIC_UNAVAILABLE);
	assert_non_null(strstr(lumen_get_last_error(), "another pair"));
}

/* A manager with no room for another client says "busy": the client tries
 * again within its time. */
static void answer_busy_twice(const char *req, char *out, size_t size)
{
	if (__atomic_load_n(&fm.requests, __ATOMIC_SEQ_CST) <= 2)
		snprintf(out, size, "{\"error\":\"too many clients\",\"code\":\"busy\"}\n");
	else
		answer_good(req, out, size);
}

static void busy_manager(void **state)
{
	lumen_fabric_info_t info;

	(void)state;
	start(answer_busy_twice);
	LUMEN_STRUCT_INIT(info);
	assert_int_equal(lumen_fabric_get_info(&info), LUMEN_SUCCESS);
	assert_int_equal(__atomic_load_n(&fm.requests, __ATOMIC_SEQ_CST), 3);
	assert_int_equal(info.generation, 7);
}

/* A manager that takes the request and never answers: bounded wait. */
static void silent_manager(void **state)
{
	lumen_fabric_info_t info;

	(void)state;
	start(answer_good);
	__atomic_store_n(&fm.silent, 1, __ATOMIC_SEQ_CST);
	LUMEN_STRUCT_INIT(info);
	assert_int_equal(lumen_fabric_get_info(&info), LUMEN_ERROR_FABRIC_UNAVAILABLE);
	assert_non_null(strstr(lumen_get_last_error(), "no answer within 2000 ms"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_manager),
		cmocka_unit_test_teardown(info_and_chips, stop),
		cmocka_unit_test_teardown(ports, stop),
		cmocka_unit_test_teardown(routes_one, stop),
		cmocka_unit_test_teardown(routes_batched, stop),
		cmocka_unit_test_teardown(routes_generation_moves, stop),
		cmocka_unit_test_teardown(events, stop),
		cmocka_unit_test_teardown(wait_generation, stop),
		cmocka_unit_test_teardown(hostile_answers, stop),
		cmocka_unit_test_teardown(busy_manager, stop),
		cmocka_unit_test_teardown(silent_manager, stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
