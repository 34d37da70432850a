#!/usr/bin/env python3
# Judges the sections tests/smi/guest.sh printed (4 cards in a ring): each
# subcommand's exit status, its JSON/CSV against the schema of
# docs/npu-smi.md, and the scenarios (non-root, PID namespace, reset under
# a user, watch memory). Usage: check.py OUTPUT_FILE. Exit 1 on any failure.
import csv
import io
import json
import re
import shutil
import subprocess
import sys

text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
sec = {}
for m in re.finditer(r"@@@BEGIN (\S+)\n(.*?)@@@STDERR\n(.*?)@@@END \1 rc=(\d+)\n", text, re.S):
    sec[m.group(1)] = (m.group(2), m.group(3), int(m.group(4)))
var = dict(re.findall(r"@@@VAR (\w+)=(\S+)", text))
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}")


def out(name):
    if name not in sec:
        check(False, f"{name}: section missing (guest script stopped early?)")
        return "", "", -1
    return sec[name]


def rc_is(name, want, err_re=None):
    o, e, rc = out(name)
    check(rc == want, f"{name}: exit {rc}, want {want} (stderr: {e.strip()[:200]})")
    if err_re:
        check(re.search(err_re, e) is not None, f"{name}: stderr {e.strip()[:200]!r} lacks /{err_re}/")
    return o


def js(name, rc=0):
    o = rc_is(name, rc)
    try:
        return json.loads(o)
    except ValueError as ex:
        check(False, f"{name}: not JSON: {ex}: {o[:200]!r}")
        return {}


def rows(name, rc=0):
    o = rc_is(name, rc)
    r = list(csv.reader(io.StringIO(o)))
    widths = {len(x) for x in r}
    check(len(widths) <= 1, f"{name}: CSV rows of different widths {sorted(widths)}")
    return r


check(text.rstrip().endswith("@@@DONE"), "guest script did not finish")

# Field names: --list-fields, info --json keys and CSV header are one list.
fields = [l.split()[0] for l in rc_is("list_fields", 0).splitlines() if l.strip()]
check(len(fields) >= 30, f"list_fields: only {len(fields)} fields")
info = js("info_json")
check(info.get("schema_version") == 1, "info_json: schema_version != 1")
devs = info.get("devices", [])
check(len(devs) == 4, f"info_json: {len(devs)} devices, want 4")
for i, d in enumerate(devs):
    check(list(d.keys()) == fields, f"info_json: device {i} keys differ from --list-fields")
    check(d.get("index") == i and d.get("chip_id") == i, f"info_json: device {i} index/chip_id")
    check(d.get("serial") == f"LMN1-{i + 1:06d}", f"info_json: device {i} serial {d.get('serial')}")
    check(d.get("error") is None and d.get("health") == "OK", f"info_json: device {i} error/health")
    for k in ("clk_core_mhz", "clk_mem_mhz", "num_queues", "memory_used_bytes", "busy_ns",
              "uptime_ms", "device_errors", "temperature_c", "power_w"):
        check(isinstance(d.get(k), (int, float)), f"info_json: device {i} {k} = {d.get(k)!r}")
    check(d.get("links_up") == 2 and d.get("num_link_ports") == 6, f"info_json: device {i} links")
r = rows("info_csv")
check(r and r[0] == fields, "info_csv: header is not the field list")
check(len(r) == 5, f"info_csv: {len(r)} lines, want 5")
r = rows("query_all_csv")
check(r and r[0] == fields, "query_all_csv: header is not the field list")
t = rc_is("info", 0)
check(len(t.strip().splitlines()) == 5 and "LMN1-000004" in t, "info: table")
check([d.get("index") for d in js("info_ids").get("devices", [])] == [1, 3], "info_ids: -i 1,0000:04:00.0")

rc_is("info_bad_id", 2, r"no card '9'")
rc_is("info_bad_id2", 2, r"no card '0x1'")
rc_is("bad_flag", 2, r"--bogus")
rc_is("no_subcommand", 2, r"subcommand")
rc_is("json_and_csv", 2, r"excludes")
rc_is("query_bad_field", 2, r"unknown field 'nosuch'")
rc_is("query_bad_format", 2, r"unknown format 'xml'")
rc_is("query_empty_field", 2, r"empty field")
rc_is("loop_bad", 2, r"loop")
rc_is("count_no_loop", 2, r"--count needs --loop")
rc_is("exporter_bad_listen", 2, r"ADDR:PORT")

r = rows("query_csv")
check(r[:1] == [["index", "serial", "chip_id", "clk_core_mhz", "memory_used_bytes", "health"]], "query_csv: header")
check(len(r) == 5 and all(x[5] == "OK" for x in r[1:]), "query_csv: rows")
q = js("query_json")
check([list(d) for d in q.get("devices", [])] == [["index", "serial", "busy_percent"]] * 4, "query_json: keys in asked order")
t = rc_is("query_table", 0).splitlines()
check(len(t) == 5 and t[0].split() == ["index", "pci_address", "temperature_c"], "query_table")

for name in ("health", "health_csv"):
    o = rc_is(name, 0)
    check(o.count("OK") == 4, f"{name}: 4 cards OK")
h = js("health_json")
check([d.get("health") for d in h.get("devices", [])] == ["OK"] * 4, "health_json")

lj = js("link_json")
cards = lj.get("cards", [])
check(len(cards) == 4, "link_json: 4 cards")
for c in cards:
    ports = c.get("ports", [])
    check(len(ports) == 6 and sum(p["state"] == "up" for p in ports) == 2, f"link_json: card {c.get('index')} ports")
r = rows("link_csv")
check(len(r) == 25, f"link_csv: {len(r)} lines, want 25")
check(rc_is("link", 0).count(" up ") == 8, "link: 8 ports up")
rc_is("link_errors", 0)

for name, src in (("topo_sysfs_json", "sysfs"), ("topo_fm_json", "fabric-manager")):
    tj = js(name)
    check(tj.get("source") == src and tj.get("chips") == 4 and tj.get("fibers_up") == 4, f"{name}: summary {tj.get('source')}")
    check(tj.get("hop_histogram") == {"1": 8, "2": 4}, f"{name}: hop histogram {tj.get('hop_histogram')}")
    check(len(tj.get("matrix", {}).get("hops", [])) == 4 and len(tj.get("neighbors", [])) == 4, f"{name}: matrix/neighbors")
check(js("topo_fm_json").get("shape") == "ring:4", "topo_fm_json: shape ring:4")
check("Shape:         ring:4" in rc_is("topo_fm", 0), "topo_fm: shape")
check("Chips:         4" in rc_is("topo_sysfs", 0), "topo_sysfs: chips")
check(len(rows("topo_csv")) == 25, "topo_csv: 24 ports")
rc_is("topo_no_fm", 1, r"no fabric manager")
rc_is("route_no_fm", 1, r"no fabric manager")
rt = js("route_json")
check(rt.get("outcome") == "arrived" and rt.get("hop_count") == 2 and len(rt.get("hops", [])) == 2, "route_json: 0 -> 2 in 2 hops")
check(rt.get("schema_version") == 1, "route_json: schema_version")
check("arrived" in rc_is("route", 0), "route: text")
check(len(rows("route_csv")) == 3, "route_csv: header + 2 hops")
rc_is("route_bad_chip", 1, r"not in the fabric")
rc_is("route_bad_arg", 2, r"DST")
check(js("topo_fm_user").get("source") == "fabric-manager", "topo_fm_user: non-root reads the manager")

r = rows("loop_csv")
check(len(r) == 21 and r[0] == ["index", "busy_percent"], f"loop_csv: {len(r)} lines, want header + 5 x 4")
lines = rc_is("loop_json", 0).splitlines()
check(len(lines) == 3 and all(len(json.loads(l)["devices"]) == 4 for l in lines), "loop_json: 3 one-line documents")

hp = int(var.get("holder_pid", "-1"))
p = js("proc_json").get("processes", [])
check(len(p) == 1 and p[0].get("pid") == hp and p[0].get("card") == 1, f"proc_json: the holder (pid {hp}) on card 1: {p}")
if p:
    check(p[0].get("memory_device_bytes") == 4 << 20, "proc_json: 4 MiB device memory")
    check(p[0].get("command", "").startswith("lumen-smi-hold"), "proc_json: command")
check(len(rows("proc_csv")) == 2, "proc_csv: header + 1")
check(str(hp) in rc_is("proc", 0), "proc: table has the holder")
check(js("proc_id").get("processes") == [], "proc_id: -i 0 has none")
pn = js("proc_ns").get("processes", [])
check(len(pn) == 1 and pn[0].get("card") == 2 and pn[0].get("pid", 99) < 10,
      f"proc_ns: only the namespace's holder, with its namespace PID: {pn}")

expo = rc_is("exporter_once", 0)
check('lumen_processes{card="1",pci_address="0000:02:00.0"} 1' not in expo, "exporter_once ran before the holder")
check("lumen_card_info{" in expo and "lumen_link_port_up{" in expo, "exporter_once: families")
check("lumen_card_info{" in rc_is("exporter_http", 0), "exporter_http: scraped over HTTP")
promtool = shutil.which("promtool")
if promtool:
    for name in ("exporter_once", "exporter_http", "user_exporter"):
        pr = subprocess.run([promtool, "check", "metrics"], input=out(name)[0], text=True, capture_output=True)
        check(pr.returncode == 0, f"{name}: promtool check metrics: {pr.stdout}{pr.stderr}")
else:
    print("note: promtool not installed (Debian package prometheus): exposition not linted")

check(rc_is("user_id", 0).strip() == "1000", "user_id: the helper switches to uid 1000")
ui = js("user_info")
check(len(ui.get("devices", [])) == 4 and all(d.get("error") is None for d in ui.get("devices", [])), "user_info: non-root reads every card")
r = rows("user_query")
check(len(r) == 5 and r[0] == fields, "user_query: non-root, every field")
check(rc_is("user_health", 0).count("OK") == 4, "user_health")
check(len(js("user_link").get("cards", [])) == 4, "user_link")
check("Chips:         4" in rc_is("user_topo", 0), "user_topo")
up = js("user_proc")
check(up.get("processes") == [] and up.get("processes_not_readable", 0) >= 1, f"user_proc: root's holder hidden, counted: {up}")
rc_is("user_exporter", 0)
rc_is("user_set", 1, r"needs root")
rc_is("user_reset", 1, r"needs root")

rc_is("set_cap", 0)
check(rows("set_cap_read")[1:] == [["100.0"]], "set_cap_read: power cap 100 W")
rc_is("set_cap_high", 2, r"above the board's limit")
rc_is("set_cap_zero", 2, r"positive")
rc_is("set_cap_restore", 0)
rc_is("reset_no_id", 2, r"exactly one card")
rc_is("reset_two", 2, r"exactly one card")
check("back up" in rc_is("reset", 0), "reset: card back")
check("ioctl failed: 19" in out("holder_after_reset")[0], "holder_after_reset: the user got ENODEV")
r = rows("after_reset")
check(len(r) == 5 and r[2][1:4] == ["ok", "1", "flr"] and r[1][2] == "0", f"after_reset: {r}")
check(js("proc_after").get("processes") == [], "proc_after: holder gone")

o = rc_is("watch_mem", 0)
check("lines=241" in o, f"watch_mem: 60 samples x 4 cards + header: {o.strip()}")
m = re.search(r"rss_a=(\d+) rss_b=(\d+)", rc_is("watch_rss", 0))
check(m is not None and int(m.group(2)) - int(m.group(1)) < 512, f"watch_rss: RSS grew: {m and m.groups()}")

hf = {d["index"]: d for d in js("health_fw_crash").get("devices", [])}
check(hf.get(2, {}).get("health") == "WARN" and any("fw_crash" in r for r in hf.get(2, {}).get("reasons", [])),
      f"health_fw_crash: card 2 WARN because of fw_crash: {hf.get(2)}")
check(hf.get(0, {}).get("health") == "OK", "health_fw_crash: card 0 still OK")
wi = js("wedged_info").get("devices", [])
check(len(wi) == 4 and wi[3].get("serial") == "LMN1-000004", "wedged_info: card 3 row present")
m = re.search(r"max_us=(\d+)", rc_is("wedged_time", 0))
check(m is not None and int(m.group(1)) < 3_000_000, f"wedged_time: info with a wedged firmware took {m and m.group(1)} us")

b = re.search(r"median_us=(\d+)", rc_is("bench", 0))
bd = re.search(r"median_us=(\d+)", rc_is("bench_devnode", 0))
if b and bd:
    print(f"bench: npu-smi info median {int(b.group(1)) / 1000:.1f} ms (sysfs, 4 cards); "
          f"same query through the device nodes {int(bd.group(1)) / 1000:.1f} ms")

print(f"{checks - len(failures)}/{checks} checks passed")
sys.exit(1 if failures else 0)
