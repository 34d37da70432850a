# Lumen: the front door. `make demo` and `make test` are the two commands
# the README documents; everything else is a step they need.

BUILD     ?= build
JOBS      ?= 2
KVER      ?= $(shell scripts/kernel-version)
KDIR      ?= /usr/src/linux-headers-$(KVER)
SUDO      := $(if $(filter 0,$(shell id -u)),,sudo)
VM        := tests/vm/run --no-build

.PHONY: all deps userspace kmod qemu guest-deps demo test test-host test-device test-guest bench clean

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
	$(VM) --cards 4 -- lumen-demo

test-host: userspace
	ctest --test-dir $(BUILD) --output-on-failure

# The device model alone, driven through QEMU's qtest protocol (no guest).
test-device: qemu
	qemu-device/tests/qtest-lumen-npu.py

test-guest: guest-deps
	$(VM) --cards 3 -- lumen-guest-tests

test: deps test-host test-device test-guest

# Benchmarks print figures next to an in-guest baseline (memcpy, NVMe read);
# they are not pass/fail tests.
bench: deps guest-deps
	tests/bench/run-bench --no-build all

clean:
	rm -rf $(BUILD)
	-$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod clean
