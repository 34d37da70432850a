# Lumen: the front door. `make demo` and `make test` are the two commands
# the README documents; everything else is a step they need.

BUILD     ?= build
JOBS      ?= 2
KVER      ?= $(shell scripts/kernel-version)
KDIR      ?= /usr/src/linux-headers-$(KVER)
SUDO      := $(if $(filter 0,$(shell id -u)),,sudo)
VM        := tests/vm/run --no-build
PREFIX    ?= /usr/local
DESTDIR   ?=

.PHONY: all deps userspace kmod qemu guest-deps demo test test-host test-device test-guest test-link
.PHONY: test-guests test-link-ring test-link-guests test-ccl-guests test-link-stop test-fm
.PHONY: test-tcg-race test-device-asan test-smi
.PHONY: bench bench-fabric clean
.PHONY: install examples test-examples
.PHONY: test-fi

all: userspace kmod qemu

deps:
	$(SUDO) scripts/install-deps

userspace:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

kmod:
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod W=1 -j $(JOBS) modules

qemu:
	qemu-device/build-qemu

# Everything tests/vm/run puts into a guest.
guest-deps: userspace kmod qemu

demo: deps guest-deps
	$(VM) --cards 4 --fabric ring -- lumen-demo

test-host: userspace
	ctest --test-dir $(BUILD) --output-on-failure

# The device model alone, driven through QEMU's qtest protocol (no guest).
test-device: qemu
	qemu-device/tests/qtest-lumen-npu.py
	qemu-device/tests/qtest-lumen-remote.py

# The same qtest suites against an ASAN + UBSAN build of QEMU (build-qemu
# --sanitize, its own cached tree: about an hour to build from nothing on 2
# cores, so not part of `make test`); any sanitizer report fails it.
test-device-asan:
	qemu-device/tests/qtest-asan

# QEMU's TCG dispatch use-after-free (qemu-device/patches/0001), the CI's
# boot-time SIGSEGV, with its race window widened: 3 guest boots, ~3 minutes.
test-tcg-race: qemu
	qemu-device/tests/tcg-dispatch-race

# The suites take about 12 minutes under TCG on 2 cores (the fuzzer ~2.5).
test-guest: guest-deps
	$(VM) --cards 3 --timeout 2400 -- lumen-guest-tests

# runtime/examples built against a staged install of liblumen (the CTest
# install_package does the same), then run on emulated cards.
examples: userspace
	tests/host/install-package.sh $(BUILD)

# The staged lib dir goes in too: the binaries' RUNPATH may point under /tmp,
# which is a fresh tmpfs in the guest.
test-examples: examples guest-deps
	$(VM) --cards 1 --add $(BUILD)/examples-installed/bin \
	  --add $(BUILD)/install-test/usr/local/lib -- \
	  env LD_LIBRARY_PATH=/add/lib sh -c '/add/bin/vector_copy && /add/bin/two_streams && /add/bin/vector_copy_cpp && /add/bin/ccl_all_reduce'

# The link engine on cards cabled by lumen-fabric; the four parts below
# (about 4 minutes on 2 busy cores: 90 + 40 + 90 + 25 s).
test-link: test-link-ring test-link-guests test-ccl-guests test-link-stop

# 4 cards in a ring: training, cuts and retraining (link), peer memory between
# every pair of chips (rt_remote), bit errors and a fiber cut in the middle of
# a 64 MiB remote write (link_faults).
test-link-ring: guest-deps
	$(VM) --cards 4 --fabric ring -- \
	  sh -c 'lumen-route program --topology ring:4 >/dev/null; lumen-guest-tests link link_faults rt_remote rt_reduce rt_peer ccl ccl_ranks'

# Peer memory across two guests that exchange window descriptors over their
# management Ethernet (tests/guest/test_rt_cross_guest.c).
test-link-guests: guest-deps
	$(VM) --guests 2 --cards 2 --fabric ring --timeout 600 -- lumen-guest-tests rt_cross_guest

# Collectives of 8 ranks on 2 guests x 4 cards (torus:2x4): the ranks meet
# through lumen_ccl_comm_init_rank over the management Ethernet
# (tests/guest/test_ccl_ranks.c). About 90 s.
test-ccl-guests: guest-deps
	$(VM) --guests 2 --cards 4 --fabric torus:2x4 --timeout 900 -- lumen-guest-tests ccl_ranks

# lumen-fabric SIGSTOPped for 5 s under remote traffic (tests/link/fabric-stop).
test-link-stop: guest-deps
	tests/link/fabric-stop --no-build

# npu-smi: every subcommand and format on 4 cards in a ring, as root and as
# an unprivileged user, proc in a PID namespace, reset under a user
# (tests/smi/run; promtool from Debian's prometheus lints the exporter).
test-smi: guest-deps
	LUMEN_BUILD=$(BUILD) tests/smi/run --no-build

# The libfabric provider lumen (fi/, docs/libfabric-provider.md) on 4 cards
# in a ring (fi/tests/test-fi-guest.sh, ~2 min): fi_info, lumen-fi-functional,
# fi_pingpong between two chips, Open MPI's all-reduce on 4 ranks over it.
FI_HOST_FILES := /usr/bin/fi_info /usr/bin/fi_pingpong /usr/bin/mpirun /usr/bin/orterun \
  /usr/bin/orted /usr/lib/x86_64-linux-gnu/openmpi /usr/lib/x86_64-linux-gnu/pmix2 \
  /usr/share/openmpi /etc/openmpi
test-fi: guest-deps
	LUMEN_BUILD=$(BUILD) $(VM) --cards 4 --fabric ring --timeout 1200 \
	  $(addprefix --host ,$(FI_HOST_FILES)) --add $(BUILD)/fi-provider \
	  --add fi/tests/test-fi-guest.sh -- sh /add/test-fi-guest.sh

# The fabric manager (tools/lumen-fm) in 2 guests x 4 cards on torus:2x4
# (tests/fm/run, tests/fm/README.md): discovery of 8 chips and 16 fibers,
# remote writes between every pair, a fiber cut under traffic rerouted,
# an OCS re-patch to a ring and back, a takeover by the standby.
test-fm: guest-deps
	tests/fm/run --no-build

# Two guests on one fabric and management Ethernet (tests/vm/guests-selftest):
# ping, barrier, key exchange, ports trained across guests, a fiber cut from
# a guest. 30-80 s, depending on the load.
test-guests: guest-deps
	$(VM) --guests 2 --cards 1 --fabric ring --timeout 300 \
	  --add tests/vm/guests-selftest -- /add/guests-selftest

# libFuzzer + ASAN (clang-14) for FUZZ_SECONDS (default 120): first the
# reproducers of earlier crashes (qemu-device/tests/fuzz-repro/), then
# QEMU's generic-fuzz on lumen-npu (5/8 of the time), lumen-link-fuzz (a
# hostile peer on a link port, 2/8) and lumen-fabric-fuzz (lumen-fabric's
# control and port sockets, 1/8), seeded by qemu-device/fuzz/gen-seeds.py
# (qemu-device/fuzz/README.md). qemu-fuzz-x86_64 is build-qemu --fuzz, its
# own cached tree (17 minutes from nothing on 2 cores). A crash fails it
# and prints its reproducer.
FUZZ_SECONDS ?= 120
.PHONY: fuzz-device
fuzz-device: deps qemu
	qemu-device/tests/qtest-fuzz-repro.py
	qemu-device/fuzz/run-generic-fuzz --seconds $(FUZZ_SECONDS)

# The debug-kernel guest: Debian's linux-source-6.12 with KASAN, kmemleak,
# lockdep, debugobjects, DMA-API debugging and allocation fault injection
# (tests/vm/build-debug-kernel, cached in $(LUMEN_CACHE)/kernel-debug-<key>/),
# and lumen.ko built against it (build/kmod-debug/). test-debug runs
# tests/vm/debug-checks there: every guest suite, lumen-fuzz, probes and
# ioctls under failslab/fail_page_alloc, then kmemleak; any kernel report
# fails it. A separate CI job, not part of `make test` (tests/vm/README.md:
# times). DEBUG_CHECKS passes options, e.g. DEBUG_CHECKS='--suites "query mem"'.
DEBUG_CHECKS ?=
.PHONY: deps-debug-kernel debug-kernel test-debug
deps-debug-kernel:
	$(SUDO) scripts/install-deps --debug-kernel
debug-kernel: deps-debug-kernel
	tests/vm/build-debug-kernel --jobs $(JOBS) --module >/dev/null
test-debug: deps-debug-kernel guest-deps debug-kernel
	$(VM) --debug-kernel --cards 3 --timeout 7200 --add tests/vm/debug-checks -- \
	  sh /add/debug-checks $(DEBUG_CHECKS)

# Sanitizers (issue 14, tests/sanitize/README.md): the userspace built with
# -DLUMEN_SANITIZE (CMakeLists.txt) in trees of its own, the tests run with
# options that make any report fail them; suppressions (third-party code
# only, each justified) in tests/sanitize/. Times measured on 2 cores (in
# brackets the builds' CPU time; on 2 idle cores the wall time is ~half):
#   test-host-asan   every CTest test, ASAN+UBSAN (build-asan): the build
#                    from nothing 56 min on cores shared with a fuzzer and a
#                    kernel build [23 min CPU, so ~12 min idle]; then the
#                    tests 22 s (idle) to 100 s (loaded)
#   test-host-tsan   the threaded host tests (rt_api, rt_fabric: a scripted
#                    lumen-fm server thread; fm; ccl_bootstrap: one thread
#                    per rank) under TSAN (build-tsan, only what they need):
#                    the build [2.6 min CPU], the tests 35-85 s
#   test-guest-asan  liblumen's in-guest suites (rt_*) with the ASAN+UBSAN
#                    build-asan in the guest (libasan/libubsan go into the
#                    initramfs with the binaries): 3 cards for the
#                    single-chip suites, 4 in a ring for the peer ones:
#                    with build-asan built, 124 s + 113 s
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
SAN_DIR    := $(CURDIR)/tests/sanitize
ASAN_OPTS  := ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:print_stacktrace=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
TSAN_TESTS := rt_api|rt_fabric|fm|ccl_bootstrap
RT_SUITES  := rt_device rt_memory rt_stream rt_fault rt_ipc rt_threads rt_cxx
RT_LINK_SUITES := rt_remote rt_reduce rt_peer
.PHONY: userspace-asan test-host-asan test-host-tsan test-guest-asan
userspace-asan:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLUMEN_SANITIZE=address,undefined
	cmake --build $(ASAN_BUILD) -j $(JOBS)
test-host-asan: userspace-asan
	$(ASAN_OPTS) LSAN_OPTIONS=suppressions=$(SAN_DIR)/lsan.supp \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)
test-host-tsan:
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLUMEN_SANITIZE=thread
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target $(addprefix test_,$(subst |, ,$(TSAN_TESTS)))
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(SAN_DIR)/tsan.supp \
	  ctest --test-dir $(TSAN_BUILD) --output-on-failure -j $(JOBS) -R '^($(TSAN_TESTS))$$'
test-guest-asan: userspace-asan kmod qemu
	LUMEN_BUILD=$(ASAN_BUILD) $(VM) --cards 3 --timeout 2400 --add tests/sanitize/lsan.supp -- \
	  env $(ASAN_OPTS) LSAN_OPTIONS=suppressions=/add/lsan.supp lumen-guest-tests $(RT_SUITES)
	LUMEN_BUILD=$(ASAN_BUILD) $(VM) --cards 4 --fabric ring --timeout 1800 --add tests/sanitize/lsan.supp -- \
	  env $(ASAN_OPTS) LSAN_OPTIONS=suppressions=/add/lsan.supp \
	  sh -c 'lumen-route program --topology ring:4 >/dev/null && lumen-guest-tests $(RT_LINK_SUITES)'

# The qtest suites against the ASAN qemu-system-x86_64 that the fuzz tree
# links from its objects (build-qemu --fuzz: ASAN, without UBSAN), any
# report fails them: the sanitizer run of `make test`, 4 minutes on 2
# cores once that tree exists. test-device-asan is the ASAN + UBSAN one.
.PHONY: test-device-fuzz-asan
test-device-fuzz-asan: deps
	q=$$(qemu-device/build-qemu --fuzz | tail -n 1) && \
	  LUMEN_QEMU_ASAN=$$(dirname "$$q")/qemu-system-x86_64 qemu-device/tests/qtest-asan --no-build

# test-host-tsan, fuzz-device (2 minutes of fuzzing, FUZZ_SECONDS) and
# test-device-fuzz-asan add about 20 minutes from nothing; the ASAN
# userspace targets (~20) and test-debug run as jobs of their own.
test: deps test-host test-device test-tcg-race test-guest test-link test-fm test-examples test-fi test-smi \
  test-host-tsan fuzz-device test-device-fuzz-asan

# Benchmarks (tests/bench/benches) print figures next to a baseline from the
# same guest (memcpy, NVMe read, raw uAPI) and their targets; not pass/fail.
bench: deps guest-deps
	tests/bench/run --no-build

# lumen-fabric-sim's benchmark set (issue 9): routes, reroutes and the verifier
# at 256 to 8192 chips, each figure next to its target; on the host, no guest.
# STRICT=1 exits 1 when a figure misses its target.
bench-fabric:
	@[ -f $(BUILD)/CMakeCache.txt ] || $(MAKE) --no-print-directory userspace
	cmake --build $(BUILD) -j $(JOBS) --target lumen-fabric-sim
	$(BUILD)/bin/lumen-fabric-sim --bench $(if $(STRICT),--strict)

# liblumen (library, headers, pkg-config and CMake package files) and
# npu-smi under $(PREFIX); DESTDIR stages the tree elsewhere. Configures only
# a missing build and then builds like `ninja install` (a no-op when up to
# date), so `make && sudo make install` writes no root-owned files in $(BUILD).
install:
	@[ -f $(BUILD)/CMakeCache.txt ] || $(MAKE) --no-print-directory userspace
	cmake --build $(BUILD) -j $(JOBS)
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"
	@# The group of 70-lumen.rules, on the live system only.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
		getent group lumen >/dev/null || groupadd --system lumen; \
		udevadm control --reload-rules 2>/dev/null; \
		udevadm trigger --subsystem-match=accel 2>/dev/null || true; fi

clean:
	rm -rf $(BUILD)
	-$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod clean
