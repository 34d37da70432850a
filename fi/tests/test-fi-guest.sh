#!/bin/sh
# `make test-fi` in the guest (4 cards cabled in a ring): the lumen libfabric
# provider listed by fi_info, fi_pingpong between chips 0 and 1 (untagged
# and tagged, data checked), then Open MPI's MTL over it: an all-reduce
# program on 4 ranks, one chip each. Exit 1 if any step fails.
#
# Environment: FI_PROVIDER_PATH (default /add/fi-provider); ITERS and SIZES
# of the untagged fi_pingpong (default 4 iterations of every size, 1 B to
# 6 MiB: ~1 min under TCG), TAGGED_ITERS and TAGGED_SIZE of the tagged one
# (default 20 x 64 KiB).
set -u
export FI_PROVIDER_PATH=${FI_PROVIDER_PATH:-/add/fi-provider}
ITERS=${ITERS:-4}
SIZES=${SIZES:-all}
TAGGED_ITERS=${TAGGED_ITERS:-20}
TAGGED_SIZE=${TAGGED_SIZE:-65536}
failed=""

step() { echo "== $*"; }
fail() {
	echo "FAIL: $*"
	failed="$failed
  $*"
}

lumen-route program --topology ring:4 >/dev/null || fail "lumen-route program"

step "fi_info -p lumen"
out=$(fi_info -p lumen 2>&1)
echo "$out"
case $out in
*"provider: lumen"*"FI_EP_RDM"*) ;;
*) fail "fi_info does not list lumen with FI_EP_RDM" ;;
esac
out=$(fi_info -p lumen -e msg 2>&1) && case $out in *"provider: lumen"*) echo "$out"; fail "fi_info -p lumen -e msg lists lumen" ;; esac

step "lumen-fi-functional (tags, 3 senders to 1, fragments, RMA, argument checks)"
lumen-fi-functional || fail "lumen-fi-functional"

# Bytes the chips' link ports sent: the traffic must cross the fibers.
link_tx() {
	cat /sys/bus/pci/devices/*/links/port*/tx_bytes 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}

# fi_pingpong on chip 0 (server) and chip 1 (client), its control
# connection over loopback.
pingpong() {
	mode=$1 port=$2 iters=$3 sizes=$4
	step "fi_pingpong -p lumen -e rdm -m $mode -I $iters -S $sizes -c (chip 0 <-> chip 1)"
	tx0=$(link_tx)
	LUMEN_FI_DEVICE=0 fi_pingpong -p lumen -e rdm -m "$mode" -I "$iters" -S "$sizes" -c \
		-B "$port" >server.log 2>&1 &
	server=$!
	tries=0
	until LUMEN_FI_DEVICE=1 fi_pingpong -p lumen -e rdm -m "$mode" -I "$iters" -S "$sizes" \
		-c -P "$port" 127.0.0.1 >client.log 2>&1; do
		# The server may not listen yet: the client only retries while
		# it is alive.
		tries=$((tries + 1))
		if ! kill -0 "$server" 2>/dev/null || [ $tries -ge 10 ] ||
			! grep -q -i 'connect\|refused' client.log; then
			cat client.log
			fail "fi_pingpong client ($mode)"
			kill "$server" 2>/dev/null
			break
		fi
		sleep 1
	done
	wait "$server" || { cat server.log; fail "fi_pingpong server ($mode)"; }
	cat client.log
	tx1=$(link_tx)
	echo "link ports sent $((tx1 - tx0)) bytes"
	[ "$tx1" -gt "$tx0" ] || fail "fi_pingpong ($mode) sent nothing over the links"
}
pingpong msg 47592 "$ITERS" "$SIZES"
pingpong tagged 47593 "$TAGGED_ITERS" "$TAGGED_SIZE"

step "mpirun -np 4 (pml cm, mtl ofi, provider lumen): lumen-fi-allreduce"
mpirun --allow-run-as-root --oversubscribe -np 4 --mca plm isolated \
	--mca pml cm --mca mtl ofi --mca mtl_ofi_provider_include lumen \
	-x FI_PROVIDER_PATH lumen-fi-allreduce || fail "mpirun lumen-fi-allreduce"

if [ -n "$failed" ]; then
	echo "test-fi: failed:$failed"
	exit 1
fi
echo "test-fi: all passed"
