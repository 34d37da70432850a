#!/bin/sh
# npu-smi in a guest with 4 cards in a ring (tests/smi/run): runs every
# subcommand and format, as root and as an unprivileged user, and prints
# each result as a section that tests/smi/check.py judges on the host:
#   @@@BEGIN name / stdout / @@@STDERR / stderr / @@@END name rc=N
# Scenario state (PIDs) is printed as "@@@VAR name=value".

run() {
	name=$1
	shift
	echo "@@@BEGIN $name"
	"$@" >/tmp/smi.out 2>/tmp/smi.err
	rc=$?
	cat /tmp/smi.out
	echo "@@@STDERR"
	cat /tmp/smi.err
	echo "@@@END $name rc=$rc"
}

# The unprivileged user: uid/gid 1000, no groups (busybox setpriv cannot
# change ids, and there is no passwd file for su).
user() {
	lumen-smi-util as 1000 "$@"
}

ip link set lo up 2>/dev/null

# --- reading, as root ---
run info npu-smi info
run info_json npu-smi info --json
run info_csv npu-smi info --csv
run info_ids npu-smi info --json -i 1,0000:04:00.0
run info_bad_id npu-smi info -i 9
run info_bad_id2 npu-smi info -i 0x1
run bad_flag npu-smi info --bogus
run no_subcommand npu-smi
run json_and_csv npu-smi info --json --csv
run list_fields npu-smi query --list-fields
run query_csv npu-smi query --fields index,serial,chip_id,clk_core_mhz,memory_used_bytes,health --format csv
run query_json npu-smi query --fields index,serial,busy_percent --format json
run query_table npu-smi query --fields index,pci_address,temperature_c
run query_all_csv npu-smi query --fields all --csv
run query_bad_field npu-smi query --fields index,nosuch
run query_bad_format npu-smi query --format xml
run query_empty_field npu-smi query --fields index,,serial
run health npu-smi health
run health_json npu-smi health --json
run health_csv npu-smi health --csv
run link npu-smi link
run link_json npu-smi link --json
run link_csv npu-smi link --csv
run link_errors npu-smi link --errors
run topo_sysfs npu-smi topo --source sysfs
run topo_sysfs_json npu-smi topo --source sysfs --json --neighbors --matrix
run topo_csv npu-smi topo --source sysfs --csv --neighbors
run topo_no_fm npu-smi topo --source fm --fm-dir /tmp/no-fm
run route_no_fm npu-smi route 0 2 --fm-dir /tmp/no-fm
run loop_csv npu-smi query --fields index,busy_percent --csv -l 0.1 -c 5
run loop_json npu-smi info --json -l 0.1 -c 3
run loop_bad npu-smi query -l -1
run count_no_loop npu-smi info -c 3
run exporter_once npu-smi exporter --once

# --- the fabric manager: topology and routes from its socket ---
lumen-fm run --card 0 >/tmp/fm.log 2>&1 &
fm=$!
i=0
while [ $i -lt 300 ]; do
	lumen-fm ctl status 2>/dev/null | grep -q '"routes_programmed":true' && break
	sleep 0.2
	i=$((i + 1))
done
run topo_fm npu-smi topo
run topo_fm_json npu-smi topo --json --neighbors --matrix
run route npu-smi route 0 2
run route_json npu-smi route 0 2 --json
run route_csv npu-smi route 1 3 --csv
run route_bad_chip npu-smi route 0 99
run route_bad_arg npu-smi route 0 x
run topo_fm_user user npu-smi topo --json
kill $fm
wait $fm 2>/dev/null

# --- processes ---
lumen-smi-holder /dev/accel/accel1 4 >/tmp/holder1.log &
h1=$!
sleep 0.5
echo "@@@VAR holder_pid=$h1"
run proc npu-smi proc
run proc_json npu-smi proc --json
run proc_csv npu-smi proc --csv
run proc_id npu-smi proc --json -i 0
# A new PID namespace with its own /proc: only its own processes, with its PIDs.
run proc_ns unshare -p -f --mount-proc sh -c \
	'lumen-smi-holder /dev/accel/accel2 2 >/dev/null & sleep 0.5; npu-smi proc --json; r=$?; kill $!; exit $r'
run exporter_http sh -c 'npu-smi exporter --listen 127.0.0.1:9477 --max-requests 1 & p=$!;
	i=0; while [ $i -lt 50 ] && ! wget -q -O - http://127.0.0.1:9477/metrics; do sleep 0.1; i=$((i+1)); done; wait $p'
run exporter_bad_listen npu-smi exporter --listen nowhere

# --- an unprivileged user reads everything, and may not act ---
run user_info user npu-smi info --json
run user_query user npu-smi query --fields all --csv
run user_health user npu-smi health
run user_link user npu-smi link --json
run user_topo user npu-smi topo --source sysfs
run user_proc user npu-smi proc --json
run user_exporter user npu-smi exporter --once
run user_set user npu-smi set --power-cap 100 -i 0
run user_reset user npu-smi reset -i 0
run user_id user id -u

# --- actions, as root ---
run set_cap npu-smi set --power-cap 100 -i 0
run set_cap_read npu-smi query --fields power_cap_w -i 0 --csv
run set_cap_high npu-smi set --power-cap 100000 -i 0
run set_cap_zero npu-smi set --power-cap 0 -i 0
run set_cap_restore npu-smi set --power-cap 150 -i 0
run reset_no_id npu-smi reset
run reset_two npu-smi reset -i 0,1
# Reset the card the holder uses: it gets an error, the card comes back.
run reset npu-smi reset -i 1
sleep 0.5
echo "@@@BEGIN holder_after_reset"
cat /tmp/holder1.log
kill -0 $h1 2>/dev/null && echo "holder still running"
wait $h1
echo "@@@STDERR"
echo "@@@END holder_after_reset rc=$?"
run after_reset npu-smi query --fields index,state,reset_count,reset_reason,health --csv
run proc_after npu-smi proc --json

# --- watch: 60 samples, memory must not grow ---
run watch_mem sh -c 'npu-smi watch -l 0.05 -c 60 --csv --fields index,busy_percent >/tmp/w.csv & p=$!
	sleep 1; a=$(grep VmRSS /proc/$p/status | tr -dc 0-9)
	wait $p; r=$?; echo "rss_early=$a"; echo "lines=$(wc -l </tmp/w.csv)"; exit $r'
run watch_rss sh -c 'npu-smi watch -l 0.05 -c 200 --fields index >/dev/null & p=$!
	sleep 1; a=$(grep VmRSS /proc/$p/status | tr -dc 0-9)
	sleep 5; b=$(grep VmRSS /proc/$p/status | tr -dc 0-9)
	wait $p; r=$?; echo "rss_a=$a rss_b=$b"; exit $r'

# --- wall time of npu-smi info: 20 runs ---
run bench lumen-smi-util bench 20 npu-smi info
run bench_devnode lumen-smi-util bench 20 lumen-smi-holder --info
# --- a broken card (debugfs fault injection, kmod/lumen_debugfs.c) ---
# Firmware crash on card 2: the driver resets it; health says WARN and why.
echo fw_crash >/sys/kernel/debug/accel/0000:03:00.0/inject
i=0
while [ $i -lt 100 ] && [ "$(cat /sys/bus/pci/devices/0000:03:00.0/reset_count)" = 0 ]; do
	sleep 0.1
	i=$((i + 1))
done
sleep 1
run health_fw_crash npu-smi health --json
# Firmware that stops answering on card 3: reading needs no firmware, so
# npu-smi still answers at once.
echo mbox_hang >/sys/kernel/debug/accel/0000:04:00.0/inject
run wedged_info npu-smi info --json --timeout 1000
run wedged_time lumen-smi-util bench 3 npu-smi info --timeout 1000
echo "@@@DONE"
