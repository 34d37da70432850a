#!/bin/sh
# /init of the Lumen VM harness guest (source: tests/vm/init.sh; busybox ash).
#
# Channels:
#   ttyS0 = kernel console -> console.log on the host; this script's own
#           messages go to the kernel log (/dev/kmsg), so they land there too
#   virtio-serial port "lumen.output" (or, if QEMU lacks virtio-serial,
#   ttyS1) = the command's stdout+stderr, raw -> the harness's stdout
# Results are marker lines in the kernel log, parsed by tests/vm/run:
#   LUMEN-VM-EXIT=<n>            the command ran and exited with status n
#   LUMEN-VM-SETUP-FAILED=<why>  the command could not be run
# /lumen/config (written per run and guest) sets LUMEN_MODULE (module to
# modprobe, empty for none), LUMEN_CWD, LUMEN_OUTPUT (virtio or serial), the
# exported LUMEN_VM_* description of the machine (LUMEN_FABRIC_CTL with
# --fabric; LUMEN_VM_MGMT_* with several guests) and the command as
# positional parameters.

PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin
export PATH
/bin/busybox --install -s

kmsg() {
	# <6> = KERN_INFO; printed on the console at the default loglevel 7.
	echo "<6>lumen-vm: $*" >/dev/kmsg 2>/dev/null || echo "lumen-vm: $*"
}

marker() {
	# Make sure the marker reaches the console even if the command lowered
	# the console loglevel, then print it as one kernel log record.
	echo 7 >/proc/sys/kernel/printk 2>/dev/null
	echo "<6>$*" >/dev/kmsg 2>/dev/null || echo "$*"
}

shutdown() {
	sync
	poweroff -f
	sleep 10
	kmsg "poweroff -f did not stop the machine"
	while :; do sleep 3600; done
}

setup_failed() {
	marker "LUMEN-VM-SETUP-FAILED=$*"
	shutdown
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
kmsg "init started"
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
hostname lumen-vm
ip link set lo up 2>/dev/null

[ -r /lumen/config ] || setup_failed "/lumen/config missing"
LUMEN_MODULE=""
LUMEN_CWD=/tmp
LUMEN_OUTPUT=serial
# shellcheck source=/dev/null
. /lumen/config
[ "${LUMEN_VM_GUESTS:-1}" -le 1 ] || hostname "lumen-vm-g$LUMEN_VM_GUEST"

# The command's output channel: a virtio-serial port named lumen.output
# (fast; writes return once QEMU has the data) or else ttyS1 (raw mode, so
# bytes pass unchanged).
cmd_out=""
if [ "$LUMEN_OUTPUT" = virtio ]; then
	n=0
	while [ -z "$cmd_out" ] && [ $n -lt 100 ]; do
		for p in /sys/class/virtio-ports/*; do
			[ "$(cat "$p/name" 2>/dev/null)" = lumen.output ] && cmd_out=/dev/${p##*/}
		done
		[ -n "$cmd_out" ] || sleep 0.05
		n=$((n + 1))
	done
	[ -c "$cmd_out" ] || setup_failed "virtio-serial port lumen.output not found"
else
	cmd_out=/dev/ttyS1
	[ -c $cmd_out ] || setup_failed "no $cmd_out for the command's output"
	stty -F $cmd_out raw -echo 2>/dev/null || setup_failed "cannot set $cmd_out to raw mode"
fi

# With --fabric, LUMEN_FABRIC_CTL (from /lumen/config) is
# /dev/virtio-ports/lumen.fabric, a stream to lumen-fabric's control socket.
# No udev here: make the /dev/virtio-ports/<name> links it would.
virtio_port_links() {
	mkdir -p /dev/virtio-ports
	for p in /sys/class/virtio-ports/*; do
		name=$(cat "$p/name" 2>/dev/null) && [ -n "$name" ] &&
			ln -sf "../${p##*/}" "/dev/virtio-ports/$name"
	done
}
if [ -n "${LUMEN_FABRIC_CTL:-}" ]; then
	n=0
	virtio_port_links
	while [ ! -c "$LUMEN_FABRIC_CTL" ] && [ $n -lt 100 ]; do
		sleep 0.05
		virtio_port_links
		n=$((n + 1))
	done
	[ -c "$LUMEN_FABRIC_CTL" ] || setup_failed "fabric control port $LUMEN_FABRIC_CTL not found"
fi

# With several guests: the management Ethernet, a virtio-net NIC with MAC
# LUMEN_VM_MGMT_MAC on one segment with the other guests, gets the static
# address LUMEN_VM_MGMT_IP/24.
if [ -n "${LUMEN_VM_MGMT_IP:-}" ]; then
	modout=$(modprobe virtio_net 2>&1) || setup_failed "modprobe virtio_net: $modout"
	dev="" n=0
	while [ -z "$dev" ] && [ $n -lt 100 ]; do
		for d in /sys/class/net/*; do
			[ "$(cat "$d/address" 2>/dev/null)" = "$LUMEN_VM_MGMT_MAC" ] && dev=${d##*/}
		done
		[ -n "$dev" ] || sleep 0.05
		n=$((n + 1))
	done
	[ -n "$dev" ] || setup_failed "no network interface with MAC $LUMEN_VM_MGMT_MAC (management Ethernet)"
	# QEMU's multicast segment echoes a guest's own frames back to it:
	# IPv6 duplicate address detection would fail on them, and is not used.
	echo 1 >"/proc/sys/net/ipv6/conf/$dev/disable_ipv6" 2>/dev/null
	if ! ip addr add "$LUMEN_VM_MGMT_IP/24" dev "$dev" || ! ip link set "$dev" up; then
		setup_failed "cannot configure $dev as $LUMEN_VM_MGMT_IP/24"
	fi
	n=0
	while [ "$(cat "/sys/class/net/$dev/operstate")" != up ] && [ $n -lt 100 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	[ "$(cat "/sys/class/net/$dev/operstate")" = up ] ||
		setup_failed "management interface $dev is $(cat "/sys/class/net/$dev/operstate") after 5 s"
	LUMEN_VM_MGMT_DEV=$dev
	export LUMEN_VM_MGMT_DEV
	kmsg "management Ethernet: $dev $LUMEN_VM_MGMT_IP/24"
fi

if [ -n "$LUMEN_MODULE" ]; then
	if modout=$(modprobe "$LUMEN_MODULE" 2>&1); then
		kmsg "modprobe $LUMEN_MODULE: ok"
	else
		rc=$?
		printf '%s\n' "$modout" | while IFS= read -r line; do kmsg "modprobe: $line"; done
		setup_failed "modprobe $LUMEN_MODULE exited with status $rc"
	fi
fi

HOME=/tmp
export HOME
cd "$LUMEN_CWD" || setup_failed "cannot cd to $LUMEN_CWD"
kmsg "running: $*"
"$@" </dev/null >"$cmd_out" 2>&1
rc=$?
kmsg "command exited with status $rc"

# Blocking writes to the virtio port return once QEMU has the data; the last
# close of ttyS1 waits for its output to drain. Stop anything the command
# left behind so that their output is flushed too, then report.
leftovers() { # any user process but this one? (kernel threads have no exe)
	for d in /proc/[0-9]*; do
		[ "$d" != /proc/1 ] && [ -e "$d/exe" ] && return 0
	done
	return 1
}
if leftovers; then
	kmsg "killing processes the command left behind"
	kill -KILL -1 2>/dev/null
	n=0
	while leftovers && [ $n -lt 50 ]; do
		sleep 0.1
		n=$((n + 1))
	done
fi
marker "LUMEN-VM-EXIT=$rc"
shutdown
