#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Supervisor benchmark: keel's PID 1 as a supervisor and reaper, beside tini where tini does
the same job, measured inside booted keel guests.

    ./dev bench supervisor [--sizes 10,100,1000] [--idle S] [--orphans N] ...
                           (or: KEEL_BUILD=build bench/supervisor.py)

It builds one image per unit count (N idle containers, `Exec=/bin/sleep 100000`, nothing
printed, `Network=none` unless --network says otherwise) and one with crash-once containers,
each with keel-bench-supervisor (bench/supervisor-bench.c), Debian's tini-static and, for
the restart image, keel-bench-spawn. It boots them one after the other under QEMU and
measures, at the console shell:

  memory     PID 1's /proc/1/smaps_rollup once the units have settled: Rss, and private
             (Private_Clean + Private_Dirty: what PID 1 alone costs; VmRSS undercounts on 6.1
             kernels). tini: `tini-static -- sleep 100000` started in the 100-unit guest.
             When units could not start (PID 1 out of file descriptors), it measures as
             booted, then raises PID 1's RLIMIT_NOFILE, starts the failed units again and
             measures once more; both are reported with how many units ran.
  wakeups    voluntary + involuntary context switches of PID 1 (and of that tini) over an
             idle window (the guest kernel has no schedstats): each wakeup from sleep is one.
  restart    crash-once units (keel-bench-supervisor crash-once) exit 1 once, staggered so
             that no two restarts overlap, and are restarted at once (the default policy's
             first restart): from the payload's clock just before _exit() to its clock at the
             start of main() in the new container. Goal: at most twice the spawn median of
             keel-bench-spawn (runtime_spawn() of /bin/true, one per process, to its exit) in
             the same guest. PID 1's own share (its "exited … restarting in 0ms" log line to
             "running") is read from dmesg.
  orphans    keel-bench-supervisor orphans: a burst of N zombies handed to PID 1 at once,
             from the moment their parent is told to exit to the last one reaped (pidfds);
             the same under `tini-static -s` (tini as a subreaper, the reaper of the burst).
  status     `initctl status` in every guest (the goal is for 100 units): the control
             socket's round trip (connect, "keel1 status", read to EOF) and the whole command
             (fork, exec, wait); with 100 units also `status UNIT` of one unit.
  crowd      the same round trip in every guest while the socket is crowded (issue 11,
             item 3): --crowd-idle connections that send nothing (re-opened when PID 1 times
             them out) and --crowd-followers `logs -f` followers that never read, held open
             throughout; its p99 has a goal (<= 100 ms), and no request may be refused.

  start cost from the boot log of every image: PID 1's "loaded N units" line to its "ready"
             line (kmsg timestamps on the console), divided by N: per-unit start cost at
             10, 100 and 1,000 units (goal: flat, 1,000 units within 10x the 100-unit time).
  start load one more boot (--start-load N, default 100): N unit files (half Network=bridge,
             half Network=none) written at the shell, `initctl reload` in the background, and
             `initctl status` round trips on the socket from then until all N run: their
             p99 (goal <= 100 ms) and the time until all N run.

A table compares each figure with its goal (PASS/MISS) and with tini's where tini does the
same job; everything is written to KEEL_BUILD/bench/supervisor.json.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from keelvm import KeelVM, KeelVMError, build_dir, cached_kernel, mkimage  # noqa: E402

HELPER_DIR = "/usr/lib/keel-bench"  # bind-mounted read-only into the crash-once containers
HELPER = f"{HELPER_DIR}/keel-bench-supervisor"
SPAWN = "/usr/bin/keel-bench-spawn"
TINI = "/usr/bin/tini-static"
STATE_VOLUME = "benchstate"  # a named volume: /var/lib/keel/volumes/benchstate
STATE_DIR = f"/var/lib/keel/volumes/{STATE_VOLUME}"
MIB = 1024 * 1024

IDLE_UNIT = """\
[Unit]
Description=supervisor bench: an idle container that prints nothing

[Container]
Rootfs=/usr/share/keel/rootfs/busybox
Exec=/bin/sleep 100000
# none (default): only lo, as keel-bench-spawn's "default"; --network bridge for the default
Network={network}

[Service]
# sleep as a container's PID 1 ignores SIGTERM: poweroff need not wait TimeoutStopSec= for it
KillSignal=SIGKILL
"""

CRASH_UNIT = """\
[Unit]
Description=supervisor bench: exits 1 once after {delay} ms, then stays up

[Container]
Rootfs=/usr/share/keel/rootfs/busybox
Exec={helper} crash-once /state {delay}
Volume={helper_dir}:/bench:ro
Volume={volume}:/state
# none (default): the isolation of keel-bench-spawn's "default", to which this is compared
Network={network}

[Service]
Restart=on-failure
"""

# (label, metric key, goal as text, check(value, results) -> bool | None)
GOALS = {
    "rss_100": ("<= 2 MiB", lambda v, r: v <= 2 * MIB),
    "rss_1000": ("<= 4 MiB", lambda v, r: v <= 4 * MIB),
    "wakeups": ("0/s", lambda v, r: v == 0),
    "restart": ("<= 2x spawn", lambda v, r: r.get("spawn_exit") is not None and v <= 2 * r["spawn_exit"]),
    "reap_rate": (">= 20000/s", lambda v, r: v >= 20000),
    "status_socket": ("<= 5 ms", lambda v, r: v <= 5),
    "status_crowd": ("<= 100 ms", lambda v, r: v <= 100),
    "start_flat": ("<= 10x", lambda v, r: r.get("start_100") is not None and v <= 10 * r["start_100"]),
    "status_starting": ("<= 100 ms", lambda v, r: v <= 100),
}
CROWD_RE = re.compile(r"^crowd idle=(\d+) followers=(\d+) reopened=(\d+)$", re.M)
STATUS_RE = re.compile(r"^status (\d+) us=(\d+) bytes=(\d+) code=(-?\d+)$", re.M)
EXEC_RE = re.compile(r"^exec (\d+) us=(\d+) rc=(-?\d+)$", re.M)
ORPHANS_RE = re.compile(r"^orphans N=(\d+) made_us=(\d+) handover_us=(\d+) reaped_us=(\d+)$", re.M)
SPAWN_RE = re.compile(r"^bench (\S+) (\d+) exec=(\S+) exit=(\d+) rm=(\S+) rc=(-?\d+)$", re.M)
STAMP_RE = re.compile(r"^STAMP (\S+) (\d+) (\d*)$", re.M)
DMESG_RE = re.compile(r"^\[\s*(\d+\.\d+)\] keel: (crash-\d+): (exited with code 1; restarting in (\S+)|running \(pid)")


def ensure_tini():
    if Path(TINI).exists():
        return
    print("bench: installing tini (apt-get install -y tini)", flush=True)
    subprocess.run(["apt-get", "install", "-y", "tini"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdout=subprocess.DEVNULL)


def build_image(out: Path, units: dict[str, str], build: Path, kernel: str, spawn: bool) -> None:
    helper = build / "keel-bench-supervisor"
    if not helper.is_file():
        raise SystemExit(f"bench: {helper} not found (ninja -C {build})")
    with tempfile.TemporaryDirectory(prefix="keel-bench-supervisor.") as tmp:
        tmp = Path(tmp)
        files = {helper: HELPER, Path(TINI): TINI}
        if spawn:
            files[build / "keel-bench-spawn"] = SPAWN
        in_image = {}
        for src, dst in files.items():
            stripped = tmp / Path(dst).name
            subprocess.run(["strip", "-o", str(stripped), str(src)], check=True)
            in_image[stripped] = dst.lstrip("/")
        (tmp / "units").mkdir()
        for name, text in units.items():
            (tmp / "units" / f"{name}.container").write_text(text)
        # 1000 containers take longer to start than the default 30 s before "ready"
        r = mkimage(out, build, tmp / "units", kernel, "keel.shell=1 keel.ready_timeout=900s", in_image)
        if r.returncode != 0:
            raise SystemExit(f"bench: mkimage.sh failed:\n{r.stderr}")


def unit_states(vm: KeelVM) -> dict[str, int]:
    out = vm.check("initctl status | awk '$1 != \"UNIT\" { n[$2]++ } END { for (s in n) print \"STATE\", s, n[s] }'",
                   timeout=120)
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^STATE (\S+) (\d+)$", out, re.M)}


def wait_settled(vm: KeelVM, want_running: int, timeout: float) -> dict[str, int]:
    """Until want_running units run, or nothing is starting, waiting or restarting and two
    looks in a row agree (units that failed stay failed: Restart=no)."""
    deadline = time.monotonic() + timeout * vm.scale
    last = None
    while True:
        states = unit_states(vm)
        busy = any(states.get(s) for s in ("starting", "waiting", "restarting", "stopping"))
        if states.get("running", 0) >= want_running or (not busy and states == last):
            return states
        if time.monotonic() > deadline:
            raise KeelVMError(f"units not settled after {timeout:.0f}s: {states}")
        last = states
        vm.run("sleep 2", timeout=30)


def spawn_failures(vm: KeelVM, since: float = 0) -> dict[str, int]:
    """PID 1's reasons for failed spawns logged after guest uptime `since`, unit names taken
    out, with their counts (as far as the kernel's log ring still holds them)."""
    _, out = vm.run("dmesg | grep 'spawn failed' | sed 's/^/DMESG:/'", strip=False, timeout=120)
    reasons: dict[str, int] = {}
    for ln in out.splitlines():
        m = re.search(r"^DMESG:\[\s*(\d+\.\d+)\] keel: (\S+): spawn failed: (.*)$", ln)
        if m and float(m.group(1)) > since:
            why = m.group(3).replace(m.group(2), "UNIT")
            reasons[why] = reasons.get(why, 0) + 1
    return reasons


def read_memory(vm: KeelVM, pid: str) -> dict:
    out = vm.check(f"cat /proc/{pid}/smaps_rollup; grep -E '^(VmRSS|VmHWM):' /proc/{pid}/status; "
                   f"echo \"FDS $(ls /proc/{pid}/fd | wc -l)\"")
    kb = {m.group(1): int(m.group(2)) * 1024 for m in re.finditer(r"^(\w+):\s+(\d+) kB$", out, re.M)}
    fds = re.search(r"^FDS (\d+)$", out, re.M)
    # Where it lies: Rss and private kB per mapping name (the binary, [heap], [stack], anon).
    maps = vm.check("awk '/^[0-9a-f]+-[0-9a-f]+ / { n = $6 == \"\" ? \"anon\" : $6 } /^Rss:/ { r[n] += $2 } "
                    f"/^Private_(Clean|Dirty):/ {{ p[n] += $2 }} END {{ for (k in r) print \"MAP\", k, r[k], p[k] }}' "
                    f"/proc/{pid}/smaps")
    by_map = {m.group(1): {"rss": int(m.group(2)) * 1024, "private": int(m.group(3)) * 1024}
              for m in re.finditer(r"^MAP (\S+) (\d+) (\d+)$", maps, re.M)}
    return {"rss": kb.get("Rss"), "pss": kb.get("Pss"),
            "private": kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0),
            "private_clean": kb.get("Private_Clean"), "private_dirty": kb.get("Private_Dirty"),
            "anonymous": kb.get("Anonymous"), "vmrss": kb.get("VmRSS"), "vmhwm": kb.get("VmHWM"),
            "fds": int(fds.group(1)) if fds else None, "by_mapping": by_map}


def guest_memory(vm: KeelVM) -> dict:
    out = vm.check("grep -E '^(MemTotal|MemAvailable):' /proc/meminfo")
    kb = {m.group(1): int(m.group(2)) * 1024 for m in re.finditer(r"^(\w+):\s+(\d+) kB$", out, re.M)}
    return {"total": kb.get("MemTotal"), "available": kb.get("MemAvailable")}


def idle_wakeups(vm: KeelVM, pids: list[str], seconds: int) -> dict[str, dict]:
    """Context switches of each pid over `seconds` of idle (the shell sleeps meanwhile)."""
    snap = ("for p in " + " ".join(pids) + "; do echo \"CTX $p $(awk '/^voluntary_ctxt_switches/ { v = $2 } "
            "/^nonvoluntary_ctxt_switches/ { n = $2 } END { print v, n }' /proc/$p/status)\"; done; "
            "echo \"UPTIME $(cut -d' ' -f1 /proc/uptime)\"")
    out = vm.check(f"{snap}; sleep {seconds}; {snap}", timeout=seconds + 60)
    ctx = re.findall(r"^CTX (\d+) (\d+) (\d+)$", out, re.M)
    up = [float(x) for x in re.findall(r"^UPTIME (\S+)$", out, re.M)]
    if len(ctx) != 2 * len(pids) or len(up) != 2:
        raise KeelVMError(f"cannot read context switches:\n{out}")
    dt = up[1] - up[0]
    res = {}
    for k, pid in enumerate(pids):
        a, b = ctx[k], ctx[k + len(pids)]
        vol, invol = int(b[1]) - int(a[1]), int(b[2]) - int(a[2])
        res[pid] = {"seconds": dt, "voluntary": vol, "involuntary": invol, "per_s": (vol + invol) / dt}
    return res


def start_tini(vm: KeelVM) -> str:
    # From a subshell, not as a job of the console shell: ash's job notices on the console
    # can garble the next command line.
    out = vm.check(f"({TINI} -- sleep 100000 >/dev/null 2>&1 & echo \"TINI $!\"); sleep 1")
    m = re.search(r"^TINI (\d+)$", out, re.M)
    if not m:
        raise KeelVMError(f"tini did not start:\n{out}")
    return m.group(1)


def p90(vals: list[float]) -> float:
    s = sorted(vals)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def summary(vals: list[float]) -> dict | None:
    if not vals:
        return None
    return {"median": statistics.median(vals), "p90": p90(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def run_idle(iso: Path, n: int, args, extra: bool) -> dict:
    """Boot the N-unit image; memory and idle wakeups, and with extra the tini, status and
    orphan measurements."""
    mem = args.memory or (3072 if n > 100 else 1024)
    vm = KeelVM(iso, name=f"bench-supervisor-{n}", timeout_scale=args.timeout_scale, memory=mem,
                smp=args.smp, accel=args.accel)
    r = {"units": n, "memory_mib": mem, "log": str(vm.log_path)}
    try:
        t = time.monotonic()
        vm.boot(timeout=120 + n * 1.0)
        r["ready_line"] = vm.ready_line
        r["start"] = start_cost(vm)
        r["states"] = wait_settled(vm, n, timeout=120 + n * 1.0)
        r["settle_s"] = time.monotonic() - t
        vm.run("sleep 3")  # PID 1's last console lines drain; nothing else is pending
        if r["states"].get("running", 0) < n:
            # Not all could start. What PID 1 costs so, and why; then, if it was its
            # RLIMIT_NOFILE (the kernel gives init 1024:4096, and each running unit holds
            # about 4 fds), raise it from the shell, start the failed units again and
            # measure with all of them running.
            r["pid1_as_booted"] = read_memory(vm, "1")
            r["states_as_booted"] = r["states"]
            r["spawn_failures"] = spawn_failures(vm)
            if any("Too many open files" in k for k in r["spawn_failures"]):
                r["nofile_raised"] = 65536
                since = float(vm.check("cut -d' ' -f1 /proc/uptime").strip())
                vm.check(f"{HELPER} nofile 1 65536")
                # (12: a control request carries at most 13 unit names)
                vm.check("initctl status | awk '$2 == \"failed\" { print $1 }' | xargs -n 12 initctl start "
                         ">/dev/null", timeout=120 + n * 2.0)
                r["states"] = wait_settled(vm, n, timeout=120 + n * 2.0)
                r["spawn_failures_after_raise"] = spawn_failures(vm, since)
                vm.run("sleep 3")
        r["pid1"] = read_memory(vm, "1")
        r["guest_memory"] = guest_memory(vm)
        pids = ["1"]
        if extra:
            tini = start_tini(vm)
            r["tini"] = read_memory(vm, tini)
            pids.append(tini)
        w = idle_wakeups(vm, pids, args.idle)
        r["wakeups"] = w["1"]
        if extra:
            r["tini_wakeups"] = w[pids[1]]
            vm.run(f"kill {pids[1]}")
        out = vm.check(f"{HELPER} status -w 3 -n {args.status_runs}", timeout=600)
        r["status_socket_ms"] = [int(m.group(2)) / 1000 for m in STATUS_RE.finditer(out)]
        r["status_bytes"] = max((int(m.group(3)) for m in STATUS_RE.finditer(out)), default=None)
        if any(m.group(4) != "0" for m in STATUS_RE.finditer(out)) or not r["status_socket_ms"]:
            raise KeelVMError(f"status over the socket failed:\n{out}")
        if args.crowd_runs:
            r["status_crowd"] = status_under_crowd(vm, args)
        out = vm.check(f"{HELPER} exec -w 1 -n {args.status_runs} initctl status", timeout=900)
        r["status_command_ms"] = [int(m.group(2)) / 1000 for m in EXEC_RE.finditer(out)]
        if extra:
            # The floor: one unit's status (its row's cgroup reads and more), no table.
            out = vm.check(f"{HELPER} status -w 3 -n {args.status_runs} -r 'status idle-0001'", timeout=300)
            r["status_one_ms"] = [int(m.group(2)) / 1000 for m in STATUS_RE.finditer(out)]
            r["kernel_limits"] = vm.check("cat /proc/sys/kernel/pid_max /proc/sys/kernel/threads-max").split()
            # Every zombie holds a pid and counts as a thread until reaped; the kernel's
            # CONFIG_BASE_SMALL makes pid_max 4096 (its ceiling is 32768), threads-max is
            # sized from RAM.
            vm.check(f"echo 32768 > /proc/sys/kernel/pid_max; "
                     f"echo {max(args.orphans * 4, 65536)} > /proc/sys/kernel/threads-max")
            r["orphans"], r["orphans_tini"] = [], []
            for k in range(args.orphan_runs):
                for who, prefix in (("orphans", ""), ("orphans_tini", f"{TINI} -s -- ")):
                    out = vm.check(f"{prefix}{HELPER} orphans -n {args.orphans}", timeout=900)
                    m = ORPHANS_RE.search(out)
                    if not m:
                        raise KeelVMError(f"orphans: no result:\n{out}")
                    r[who].append({"n": int(m.group(1)), "made_ms": int(m.group(2)) / 1000,
                                   "handover_ms": int(m.group(3)) / 1000, "reaped_ms": int(m.group(4)) / 1000})
                    print(f"    {who.replace('_', ' under ')}: {int(m.group(1))} reaped "
                          f"{int(m.group(4)) / 1000:.0f} ms after their parent's exit", flush=True)
        r["states_after"] = unit_states(vm)
        vm.poweroff(timeout=300)
    finally:
        vm.kill()
    return r


def status_under_crowd(vm: KeelVM, args) -> dict:
    """`initctl status` round trips while idle clients and stalled followers crowd the socket
    (runs 100 ms apart, so that PID 1's 5 s idle timeout drops and the helper re-opens)."""
    out = vm.check(f"ulimit -n 4096; {HELPER} status -w 3 -n {args.crowd_runs} -p 100 -i {args.crowd_idle} "
                   f"-f {args.crowd_followers} -u idle-0001", timeout=900)
    runs = list(STATUS_RE.finditer(out))
    m = CROWD_RE.search(out)
    if not runs or not m or any(r.group(4) != "0" for r in runs):
        raise KeelVMError(f"status under a crowd failed:\n{out[-2000:]}")
    ms = sorted(int(r.group(2)) / 1000 for r in runs)
    p99 = ms[min(len(ms) - 1, math.ceil(0.99 * len(ms)) - 1)]
    return {"ms": ms, "p99": p99, "idle": int(m.group(1)), "followers": int(m.group(2)),
            "reopened": int(m.group(3))}


LOADED_RE = re.compile(r"\[\s*(\d+\.\d+)\] keel: loaded (\d+) units")
READY_TS_RE = re.compile(r"\[\s*(\d+\.\d+)\] keel: ready: (\d+) units running")


def start_cost(vm: KeelVM) -> dict | None:
    """Guest seconds from PID 1's "loaded N units" to its "ready" line, from the console (the
    kernel's ring may have dropped the first by then), and per unit."""
    loaded, ready = LOADED_RE.search(vm.console), READY_TS_RE.search(vm.console)
    if not loaded or not ready:
        return None
    s, n = float(ready.group(1)) - float(loaded.group(1)), int(loaded.group(2))
    return {"units": n, "running": int(ready.group(2)), "s": s, "per_unit_ms": s / max(n, 1) * 1000}


# The probes run from before the reload until every unit runs, in the background: a request
# that PID 1 leaves waiting is then one of the measured ones (the loop that checks for "all
# running" waits too, unmeasured).
START_LOAD_SCRIPT = """\
i=0; while [ $i -lt {n} ]; do
  if [ $((i % 2)) -eq 0 ]; then net=bridge; else net=none; fi
  printf '[Container]\\nRootfs=/usr/share/keel/rootfs/busybox\\nExec=/bin/sleep 100000\\nNetwork=%s\\n[Service]\\nKillSignal=SIGKILL\\n' $net > /etc/keel/units/load-$i.container
  i=$((i + 1))
done
rm -f /tmp/all-up
(while [ ! -e /tmp/all-up ]; do {helper} status -w 0 -n 5 | grep '^status'; done > /tmp/probes.out) &
echo "T0 $(cut -d' ' -f1 /proc/uptime)"
initctl reload > /tmp/reload.out 2>&1 &
while [ "$(initctl status | grep -c ' running ')" -lt {want} ] &&
      [ "$(initctl status | grep -c -E ' (waiting|starting) ')" -gt 0 ]; do sleep 0.2; done
echo "T1 $(cut -d' ' -f1 /proc/uptime)"
touch /tmp/all-up
wait
cat /tmp/probes.out
"""


def run_start_load(iso: Path, n: int, args) -> dict:
    """Status round trips on the control socket while a reload starts n units."""
    vm = KeelVM(iso, name=f"bench-supervisor-start-{n}", timeout_scale=args.timeout_scale,
                memory=args.memory or 1024, smp=args.smp, accel=args.accel)
    r = {"units": n, "log": str(vm.log_path)}
    try:
        vm.boot(timeout=180)
        out = vm.check(START_LOAD_SCRIPT.format(n=n, want=n + 1, helper=HELPER), timeout=600 + n * 10)
        t0, t1 = (float(re.search(rf"^{k} (\S+)$", out, re.M).group(1)) for k in ("T0", "T1"))
        r["status_ms"] = [int(m.group(2)) / 1000 for m in STATUS_RE.finditer(out)]
        r["all_running_s"] = t1 - t0
        r["states"] = unit_states(vm)
        r["spawn_failures"] = spawn_failures(vm)
        vm.poweroff(timeout=300)
    finally:
        vm.kill()
    return r


def p99(vals: list[float]) -> float:
    s = sorted(vals)
    return s[max(0, math.ceil(0.99 * len(s)) - 1)]


def start_rows(res: dict, vals: dict) -> list:
    """The table's rows for the start cost per unit count and for status while units start."""
    rows = []
    for n, b in res["boots"].items():
        c = b.get("start")
        if c:
            vals[f"start_{n}"] = c["s"]
            rows.append((f"start cost per unit, {n} units (loaded -> ready)",
                         f"{fmt_ms(c['per_unit_ms'])} ({c['s']:.1f} s)", None, None, ""))
    if "start_1000" in vals and "start_100" in vals:
        rows.append(("  1000 units ready, in 100-unit times", f"{vals['start_1000'] / vals['start_100']:.1f}x",
                     "start_flat", vals["start_1000"], ""))
    sl = res.get("start_load")
    if sl and sl.get("status_ms"):
        v = sl["status_ms"]
        rows.append((f"initctl status p99 while {sl['units']} units start (n={len(v)})", fmt_ms(p99(v)),
                     "status_starting", p99(v), ""))
        rows.append(("  median / max", f"{fmt_ms(statistics.median(v))} / {fmt_ms(max(v))}", None, None, ""))
        rows.append((f"  reload -> all {sl['units']} running", f"{sl['all_running_s']:.1f} s", None, None, ""))
    return rows


def run_restart(iso: Path, count: int, delays: dict[str, int], args) -> dict:
    vm = KeelVM(iso, name="bench-supervisor-restart", timeout_scale=args.timeout_scale,
                memory=args.memory or 512, smp=args.smp, accel=args.accel)
    r = {"units": count, "memory_mib": vm.memory, "log": str(vm.log_path)}
    try:
        vm.boot(timeout=180)
        deadline = time.monotonic() + (max(delays.values()) / 1000 + 120) * vm.scale
        while True:
            done = int(vm.check(f"ls {STATE_DIR} 2>/dev/null | grep -c '\\.exec$' || true").strip() or 0)
            if done >= count:
                break
            if time.monotonic() > deadline:
                raise KeelVMError(f"only {done} of {count} crash-once units came back")
            vm.run("sleep 2", timeout=30)
        out = vm.check(f"cd {STATE_DIR} && for f in *.exit; do n=${{f%.exit}}; "
                       f"echo \"STAMP $n $(cat $f) $(cat $n.exec 2>/dev/null)\"; done")
        r["stamps"] = {m.group(1): (int(m.group(2)), int(m.group(3)) if m.group(3) else None)
                       for m in STAMP_RE.finditer(out)}
        _, out = vm.run("dmesg | grep -E 'keel: crash-' | sed 's/^/DMESG:/'", strip=False)
        r["dmesg"] = [ln[len("DMESG:"):] for ln in out.splitlines() if ln.startswith("DMESG:")]
        r["states"] = unit_states(vm)
        # One spawn per process, as bench/spawn.py's "keel"; the first process warms the page
        # cache and is not counted.
        out = vm.check(f"for i in $(seq {args.spawn_runs + 1}); do {SPAWN} -n 1 -l keel keel default; done",
                       timeout=60 + args.spawn_runs * 30)
        runs = [m for m in SPAWN_RE.finditer(out) if m.group(6) == "0"][1:]
        r["spawn_exec_ms"] = [int(m.group(3)) / 1000 for m in runs if m.group(3) != "-"]
        r["spawn_exit_ms"] = [int(m.group(4)) / 1000 for m in runs]
        vm.poweroff(timeout=120)
    finally:
        vm.kill()
    # exit -> exec on the payload's clock; PID 1's share from its own log lines
    r["restart_ms"] = {u: (b - a) / 1e6 for u, (a, b) in r["stamps"].items() if b is not None}
    logged = {}
    for line in r["dmesg"]:
        m = DMESG_RE.search(line)
        if not m:
            continue
        u, t = m.group(2), float(m.group(1))
        if m.group(4) is not None:
            logged.setdefault(u, {})["exited"] = t
            logged[u]["delay"] = m.group(4)
        elif "exited" in logged.get(u, {}):
            logged[u].setdefault("running", t)
    r["pid1_share_ms"] = {u: (v["running"] - v["exited"]) * 1000 for u, v in logged.items() if "running" in v}
    r["restart_delays"] = sorted({v.get("delay") for v in logged.values()} - {None})
    return r


def fmt_bytes(v) -> str:
    return "-" if v is None else f"{v / MIB:.2f} MiB"


def fmt_ms(v) -> str:
    return "-" if v is None else f"{v:.1f} ms" if v >= 10 else f"{v:.2f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10,100,1000", help="unit counts, one boot each (default 10,100,1000); "
                    "the tini, status and orphan figures need 100 in the list")
    ap.add_argument("--idle", type=int, default=10, help="idle window for wakeups, seconds (default 10)")
    ap.add_argument("--restarts", type=int, default=30, help="crash-once units, one restart each (default 30; 0: skip)")
    ap.add_argument("--orphans", type=int, default=10000, help="orphans per burst (default 10000)")
    ap.add_argument("--orphan-runs", type=int, default=3, help="bursts for keel and for tini each (default 3)")
    ap.add_argument("--status-runs", type=int, default=30, help="initctl status round trips (default 30)")
    ap.add_argument("--crowd-runs", type=int, default=100,
                    help="status round trips under a crowd, 100 ms apart (default 100; 0: skip)")
    ap.add_argument("--crowd-idle", type=int, default=200, help="idle connections of the crowd (default 200)")
    ap.add_argument("--crowd-followers", type=int, default=40,
                    help="`logs -f` followers of the crowd that never read (default 40)")
    ap.add_argument("--spawn-runs", type=int, default=20, help="keel-bench-spawn processes in the restart guest (default 20)")
    ap.add_argument("--network", default="none", choices=["none", "bridge", "host"],
                    help="Network= of the bench units (default none: lo only, as keel-bench-spawn's default)")
    ap.add_argument("--start-load", type=int, default=100,
                    help="units a reload starts while status is timed (default 100; 0: skip)")
    ap.add_argument("--smp", type=int, default=2, help="guest vCPUs (default 2)")
    ap.add_argument("--memory", type=int, default=None,
                    help="guest memory in MiB (default 1024, 3072 above 100 units, 512 for the restart boot)")
    ap.add_argument("--accel", default="tcg", help="QEMU accelerator (default tcg, as the issue's figures)")
    ap.add_argument("--json", type=Path, default=None, help="results file (default KEEL_BUILD/bench/supervisor.json)")
    ap.add_argument("--timeout-scale", type=float, default=None, help="multiply timeouts (default KEEL_TIMEOUT_SCALE)")
    args = ap.parse_args()
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        ap.error("--sizes: comma-separated unit counts")
    if any(s < 1 for s in sizes) or args.idle < 1 or args.status_runs < 1 or args.orphans < 1:
        ap.error("counts must be at least 1")
    build = build_dir()
    out_json = args.json or build / "bench" / "supervisor.json"

    ensure_tini()
    kernel = cached_kernel()
    print(f"keel supervisor benchmark: units {', '.join(map(str, sizes))}"
          f"{f' + {args.restarts} crash-once' if args.restarts else ''}, Network={args.network}, QEMU {args.accel}, "
          f"-smp {args.smp}",
          flush=True)
    results: dict = {"accel": args.accel, "smp": args.smp, "network": args.network, "idle_s": args.idle,
                     "boots": {}}
    started = time.monotonic()
    try:
        for n in sizes:
            image = build / "bench" / f"supervisor-{n}"
            unit = IDLE_UNIT.format(network=args.network)
            build_image(image, {f"idle-{i:04d}": unit for i in range(1, n + 1)}, build, kernel, spawn=False)
            print(f"  {n} units: booting {image}/keel.iso", flush=True)
            r = run_idle(image / "keel.iso", n, args, extra=n == 100)
            results["boots"][str(n)] = r
            print(f"  {n} units: settled in {r['settle_s']:.0f}s ({r['states']}), PID 1 Rss "
                  f"{fmt_bytes(r['pid1']['rss'])}, private {fmt_bytes(r['pid1']['private'])}; "
                  f"{time.monotonic() - started:.0f}s so far", flush=True)
        if args.start_load:
            image = build / "bench" / "supervisor-start"
            build_image(image, {"first": IDLE_UNIT.format(network="none")}, build, kernel, spawn=False)
            print(f"  start load: booting {image}/keel.iso", flush=True)
            results["start_load"] = sl = run_start_load(image / "keel.iso", args.start_load, args)
            print(f"  start load: {len(sl['status_ms'])} status round trips, p99 {fmt_ms(p99(sl['status_ms']))}, "
                  f"all running after {sl['all_running_s']:.1f}s ({sl['states']}); "
                  f"{time.monotonic() - started:.0f}s so far", flush=True)
        if args.restarts:
            image = build / "bench" / "supervisor-restart"
            # Every unit has started before the first exits; then one exit every 400 ms.
            delays = {f"crash-{i:02d}": 4000 + 400 * i for i in range(1, args.restarts + 1)}
            build_image(image, {u: CRASH_UNIT.format(delay=d, helper=f"/bench/{Path(HELPER).name}",
                                                     helper_dir=HELPER_DIR, volume=STATE_VOLUME,
                                                     network=args.network)
                                for u, d in delays.items()}, build, kernel, spawn=True)
            print(f"  restarts: booting {image}/keel.iso", flush=True)
            results["restart"] = run_restart(image / "keel.iso", args.restarts, delays, args)
            print(f"  restarts: done; {time.monotonic() - started:.0f}s so far", flush=True)
    except KeelVMError as e:
        print(f"bench: {e}", file=sys.stderr)
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps({**results, "error": str(e)}, indent=1, default=str))
        return 1

    report(results, args)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(results, indent=1, default=str))
    print(f"\nresults: {out_json}")
    return 0


def report(res: dict, args) -> None:
    boots, rs = res["boots"], res.get("restart")
    rows = []  # (metric, keel text, goal key or text, value for the goal, tini text)
    vals: dict = {}
    b100 = boots.get("100")
    tini_mem = b100.get("tini") if b100 else None
    for n, b in boots.items():
        if "pid1_as_booted" in b:
            p, running = b["pid1_as_booted"], b["states_as_booted"].get("running", 0)
            rows.append((f"PID 1 Rss, {n} units loaded, {running} running", fmt_bytes(p["rss"]),
                         f"rss_{n}", p["rss"], ""))
            rows.append((f"PID 1 private, the same", fmt_bytes(p["private"]), None, None, ""))
        p, running = b["pid1"], b["states"].get("running", 0)
        how = f"{running} of {n} units running" if running != int(n) else f"{n} units running"
        if b.get("nofile_raised"):
            how += " (nofile raised)"
        rows.append((f"PID 1 Rss, {how}", fmt_bytes(p["rss"]), f"rss_{n}", p["rss"],
                     fmt_bytes(tini_mem["rss"]) + " (1 child)" if tini_mem and n == "100" else ""))
        rows.append((f"PID 1 private, the same", fmt_bytes(p["private"]), None, None,
                     fmt_bytes(tini_mem["private"]) if tini_mem and n == "100" else ""))
    for n, b in boots.items():
        w = b["wakeups"]
        tw = b.get("tini_wakeups")
        rows.append((f"PID 1 wakeups at idle, {n} units", f"{w['per_s']:.2f}/s", "wakeups", w["per_s"],
                     f"{tw['per_s']:.2f}/s" if tw else ""))
    if rs:
        spawn_exit = summary(rs["spawn_exit_ms"])
        spawn_exec = summary(rs["spawn_exec_ms"])
        vals["spawn_exit"] = spawn_exit["median"] if spawn_exit else None
        lat = summary(list(rs["restart_ms"].values()))
        share = summary(list(rs["pid1_share_ms"].values()))
        rows.append((f"restart, exit -> new exec (median of {lat['n'] if lat else 0})",
                     fmt_ms(lat["median"] if lat else None), "restart", lat["median"] if lat else None, ""))
        rows.append(("  p90 / max", f"{fmt_ms(lat['p90'])} / {fmt_ms(lat['max'])}" if lat else "-", None, None, ""))
        rows.append(("  PID 1's share (reaped -> running, dmesg)", fmt_ms(share["median"] if share else None),
                     None, None, ""))
        rows.append((f"  spawn median, keel-bench-spawn (n={spawn_exit['n'] if spawn_exit else 0})",
                     f"exit {fmt_ms(vals['spawn_exit'])}, exec {fmt_ms(spawn_exec['median'] if spawn_exec else None)}",
                     None, None, ""))
    if b100:
        k = [o["n"] / o["reaped_ms"] * 1000 for o in b100["orphans"]]
        t = [o["n"] / o["reaped_ms"] * 1000 for o in b100["orphans_tini"]]
        rk = statistics.median(k) if k else None
        rows.append((f"zombie reaping, {args.orphans} orphans (median of {len(k)})",
                     f"{rk:,.0f}/s" if rk else "-", "reap_rate", rk,
                     f"{statistics.median(t):,.0f}/s (-s)" if t else ""))
        h = [o["n"] / o["handover_ms"] * 1000 for o in b100["orphans"] + b100["orphans_tini"]]
        rows.append(("  the kernel's handover alone (re-parenting)", f"{statistics.median(h):,.0f}/s" if h else "-",
                     None, None, ""))
    for n, b in boots.items():
        s, c = summary(b["status_socket_ms"]), summary(b["status_command_ms"])
        rows.append((f"initctl status round trip, socket, {n} units (n={s['n']})", fmt_ms(s["median"]),
                     "status_socket" if n == "100" else None, s["median"], ""))
        if b.get("status_one_ms"):
            o = summary(b["status_one_ms"])
            rows.append(("  `initctl status UNIT` (one unit), socket", fmt_ms(o["median"]), None, None, ""))
        rows.append((f"  as a command: fork+exec+wait (n={c['n'] if c else 0})",
                     fmt_ms(c["median"] if c else None), None, None, ""))
        if b.get("status_crowd"):
            k = b["status_crowd"]
            rows.append((f"  p99 under a crowd ({k['idle']} idle, {k['followers']} stalled; n={len(k['ms'])})",
                         f"{fmt_ms(k['p99'])} (median {fmt_ms(statistics.median(k['ms']))})", "status_crowd",
                         k["p99"], ""))
    rows += start_rows(res, vals)

    print()
    print(f"{'metric':<52}{'keel':>24}  {'goal':<12}{'':<6}{'tini':>18}")
    verdicts = {}
    for metric, text, key, v, tini in rows:
        goal, verdict = "", ""
        if key in GOALS and v is not None:
            goal = GOALS[key][0]
            if key == "restart" and vals.get("spawn_exit"):
                goal = f"<= {2 * vals['spawn_exit']:.0f} ms"
            ok = GOALS[key][1](v, vals)
            verdict = "PASS" if ok else "MISS"
            verdicts[metric] = ok
        elif key in GOALS:
            goal, verdict = GOALS[key][0], "-"
        print(f"{metric:<52}{text:>24}  {goal:<12}{verdict:<6}{tini:>18}")
    res["table"] = [{"metric": m, "keel": t, "goal": GOALS[k][0] if k in GOALS else None, "tini": ti or None,
                     "pass": verdicts.get(m)} for m, t, k, _, ti in rows]
    print(f"(QEMU {res['accel']}, -smp {res['smp']}, units Network={res['network']}; memory from /proc/PID/smaps_rollup once all units ran; "
          f"wakeups: context switches over {res['idle_s']} s idle; tini: tini-static in the 100-unit guest)")
    for n, b in boots.items():
        g, p = b["guest_memory"], b["pid1"]
        print(f"  {n} units: {b['states']}, guest {b['memory_mib']} MiB ({fmt_bytes(g['available'])} available), "
              f"PID 1 Pss {fmt_bytes(p['pss'])}, VmRSS {fmt_bytes(p['vmrss'])}, VmHWM {fmt_bytes(p['vmhwm'])}, "
              f"{p['fds']} fds; log {b['log']}")
        for key, when in (("spawn_failures", "as booted"), ("spawn_failures_after_raise", "with nofile raised")):
            if b.get(key):
                print(f"    spawn failures {when} (dmesg): " + "; ".join(
                    f"{c}x {w}" for w, c in sorted(b[key].items(), key=lambda kv: -kv[1])[:4]))
        big = sorted(((k, v) for k, v in p["by_mapping"].items() if v["rss"] >= 64 * 1024), key=lambda kv: -kv[1]["rss"])
        print("    PID 1 Rss by mapping: " + ", ".join(f"{k} {fmt_bytes(v['rss'])}" for k, v in big))
    if rs:
        missing = rs["units"] - len(rs["restart_ms"])
        print(f"  restarts: {rs['units']} units, delays logged {rs['restart_delays']}, states {rs['states']}"
              f"{f', {missing} without a measured restart' if missing else ''}; log {rs['log']}")


if __name__ == "__main__":
    sys.exit(main())
