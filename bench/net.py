#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Networking benchmark: what Network=bridge costs a container start, and what the bridge
costs bulk TCP, inside one booted keel guest.

    ./dev bench net [--runs N] [--tcp-runs N] [--mib N]   (or: KEEL_BUILD=build bench/net.py)

It builds a bench image (booted with keel.shell=1 keel.debug, a virtio-net uplink on QEMU's
restricted user networking as tests/e2e/test_network.py boots it) with these units:

  sp-none, sp-bridge, sp-host   the same BusyBox shell waiting on `sleep`, with Network=none,
                                bridge and host
  sink                          Network=bridge: `keel-bench-net recv 5000`
  bulk                          Network=bridge: runs the TCP rounds when started from the
                                console (at boot it finds no request and exits)

keel-bench-net is meson's build of bench/net-bench.c (KEEL_BUILD/keel-bench-net).

Spawn latency. The console restarts sp-none, sp-bridge and sp-host once per round, in an
order rotated by one each round, with a pause after each (--pause) so that one start never
overlaps the next. Each restart makes PID 1 log, into the kernel log at once:

  sp-X: stopping (SIGTERM)      the stop begins
  sp-X: stopped (...)           the old container was reaped, its cgroup and veth deleted;
                                PID 1 calls act_spawn() right after this line
  sp-X: spawned as pid N        (debug) runtime_spawn() returned; for bridge, after PID 1
                                made the veth pair, the address and route (unit_net_attach)
  sp-X: running (pid N)         the container's execve() succeeded (EOF on its status fd)

The figures are differences between the kmsg timestamps of these lines (the kernel's clock,
microseconds), so they are PID 1's own view, free of the console, QEMU and the host. `spawn`
is stopped → running, the whole start; `setup` is stopped → spawned, the part PID 1 does
synchronously; `stop` is stopping → stopped (for bridge it includes deleting the veth pair).
Network=none also gets a network namespace (with only lo): none vs bridge is the cost of the
veth pair, address, route and the /etc/hosts and resolv.conf files; host vs none is the
network namespace itself.

Bulk TCP. keel-bench-net (bench/net-bench.c, a static sender and receiver, copied into the
image) moves --mib MiB per transfer in 128 KiB reads and writes, and times each transfer with
CLOCK_MONOTONIC from the first write to the receiver's answer, which it sends once it has read
every byte (the sender checks the count). `sink` (one container on the bridge) runs the
receiver on port 5000; `bulk` (another) runs --tcp-runs rounds, each one transfer to `sink`
over keel0 (bridge: veth, bridge, veth) and one to a receiver in its own namespace over
127.0.0.1 (lo), in alternating order, after a warm-up round that is not counted (TCP slow
start, first page faults). The same program on both paths, so the ratio is the path's cost.
MiB/s are 2^20 bytes per second; the figures are medians over the rounds.

Why not BusyBox `nc` and `dd`, as an earlier version did: BusyBox nc moves 1 KiB per read and
write through a select() loop, fed by dd through a pipe, so under TCG its own system calls set
the pace on both paths and squash the ratio; it cannot say when the receiver has everything
except by its exit; and keeping the receiving nc's stdin open (`sleep N | nc -l`, or it
half-closes at once) made the lo round hang: ash's `wait PID` waits for the whole pipeline job,
`sleep` included. The helper needs neither.

Waits. Every wait is keyed to a console line with a generous timeout (the machine may be a
shared 2-core box under TCG): the units' "running" lines, `sink| listening on 5000`, and one
`bulk| net MODE ROUND ...` line per transfer (each with its own timeout, so a slow but moving
run is never cut short), then `bulk| done`.
"""
from __future__ import annotations

import argparse
import json
import math
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

BB = "Rootfs=/usr/share/keel/rootfs/busybox"
BENCH_DIR = "/usr/share/keel/bench-net"
SPAWN_SCRIPT = f"{BENCH_DIR}/spawn.sh"
HELPER = "keel-bench-net"
OUT_DIR = "/var/lib/keel/volumes/netbench"  # on the machine; the bulk unit sees it as /out
SINK_PORT, LO_PORT = 5000, 5001
MODES = ["none", "bridge", "host"]
# A shell as a container's PID 1 ignores SIGTERM unless it traps it: `sleep & wait`, so a stop is
# immediate (as units/crasher.container).
WAIT_EXEC = "/bin/sh -c 'trap \"exit 0\" TERM; sleep 1000000 & wait $!'"

UNITS = {f"sp-{m}": f"""[Container]
{BB}
Exec={WAIT_EXEC}
Network={m}
""" for m in MODES}
UNITS["sink"] = f"""[Container]
{BB}
Exec=/bench/{HELPER} recv {SINK_PORT}
Volume={BENCH_DIR}:/bench:ro
"""
# A named volume: created on first use, so the bulk unit's boot-time start (which finds no
# request and exits) does not fail on a missing directory.
UNITS["bulk"] = f"""[Container]
{BB}
Exec=/bin/sh /bench/bulk.sh
Volume={BENCH_DIR}:/bench:ro
Volume=netbench:/out
"""

SPAWN_SH = """#!/bin/sh
# SPDX-License-Identifier: MIT
# Generated by bench/net.py. spawn.sh FIRST LAST PAUSE: rounds FIRST..LAST; each restarts
# sp-none, sp-bridge and sp-host once, starting at mode (round mod 3), then sleeps PAUSE.
set -- "$1" "$2" "$3" none bridge host
i=$1
while [ "$i" -le "$2" ]; do
        j=0
        while [ $j -lt 3 ]; do
                case $(( (i + j) % 3 )) in 0) m=none ;; 1) m=bridge ;; *) m=host ;; esac
                initctl restart sp-$m >/dev/null || echo "FAIL restart sp-$m"
                sleep "$3"
                j=$((j + 1))
        done
        i=$((i + 1))
done
"""

BULK_SH = f"""#!/bin/sh
# SPDX-License-Identifier: MIT
# Generated by bench/net.py. Run by the bulk unit: /out/go holds "ROUNDS MIB". Each transfer
# gives one line, on stdout (the console) and in /out/results; then "done".
[ -r /out/go ] || exit 0
read rounds mib < /out/go
rm -f /out/go
h=/bench/{HELPER}
say() {{ echo "$*" >> /out/results; echo "$*"; }}
sink=$(awk '$2 == "sink" {{ print $1 }}' /etc/hosts)
[ -n "$sink" ] || {{ say "ERROR sink is not in /etc/hosts"; say done; exit 1; }}
# The lo receiver, in this container's namespace; the sender retries while it starts.
$h recv {LO_PORT} > /out/lo-recv.log 2>&1 &
lo=$!
one() {{ # MODE ROUND ADDR PORT
        out=$($h send -w 120 "$3" "$4" "$mib" 2>&1)
        rc=$?
        say "net $1 $2 rc=$rc $(echo $out)"
}}
r=0 # round 0 warms both paths up (slow start, first page faults); it is not counted
while [ $r -le "$rounds" ]; do
        if [ $((r % 2)) = 1 ]; then
                one bridge $r "$sink" {SINK_PORT}; one lo $r 127.0.0.1 {LO_PORT}
        else
                one lo $r 127.0.0.1 {LO_PORT}; one bridge $r "$sink" {SINK_PORT}
        fi
        r=$((r + 1))
done
kill $lo
say done
"""

KMSG_RE = re.compile(r"^\[\s*(\d+\.\d+)\] keel: (sp-\w+): (stopping|stopped|spawned as|running)\b")
NET_RE = re.compile(r"^net (bridge|lo) (\d+) rc=(\d+) (.*)$", re.M)
SEND_RE = re.compile(r"bytes=(\d+) got=(\d+) us=(\d+) mib_s=([\d.]+)")
MIB = 1024 * 1024


def helper_binary(build: Path, tmp: Path) -> Path:
    """keel-bench-net, as meson builds it (./dev bench net runs ninja first)."""
    built = build / HELPER
    if not built.is_file():
        raise SystemExit(f"bench: no {built} (ninja -C {build})")
    return built


def build_image(tmp: Path, out: Path, build: Path, kernel: str) -> None:
    if not (build / "keel-init").exists() and not (build / "initctl").exists():
        raise SystemExit(f"bench: no keel binaries in {build} (ninja -C {build})")
    units = tmp / "units"
    units.mkdir()
    for name, text in UNITS.items():
        (units / f"{name}.container").write_text(text)
    files = {}
    for name, text in (("spawn.sh", SPAWN_SH), ("bulk.sh", BULK_SH)):
        p = tmp / name
        p.write_text(text)
        p.chmod(0o755)
        files[str(p)] = f"{BENCH_DIR.lstrip('/')}/{name}"
    stripped = tmp / f"{HELPER}.stripped"
    subprocess.run(["strip", "-o", str(stripped), str(helper_binary(build, tmp))], check=True)
    files[str(stripped)] = f"{BENCH_DIR.lstrip('/')}/{HELPER}"
    r = mkimage(out, build, units, kernel, "keel.shell=1 keel.debug", files)
    if r.returncode != 0:
        raise SystemExit(f"bench: mkimage.sh failed:\n{r.stdout}{r.stderr}")


def p90(vals: list[float]) -> float:
    s = sorted(vals)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def cycles(lines: list[str]) -> list[dict]:
    """Per unit, each stopping → stopped → spawned → running sequence, as ms differences."""
    state: dict[str, dict] = {}
    out = []
    for line in lines:
        m = KMSG_RE.match(line)
        if not m:
            continue
        t, unit, what = float(m.group(1)), m.group(2), m.group(3)
        if what == "stopping":
            state[unit] = {"stopping": t}
        elif unit in state and what not in state[unit]:
            state[unit][what] = t
            c = state[unit]
            if what == "running" and all(k in c for k in ("stopping", "stopped", "spawned as")):
                out.append({"mode": unit[3:], "at": c["stopping"],
                            "stop_ms": (c["stopped"] - c["stopping"]) * 1000,
                            "setup_ms": (c["spawned as"] - c["stopped"]) * 1000,
                            "spawn_ms": (c["running"] - c["stopped"]) * 1000})
                del state[unit]
    return out


def stats(vals: list[float]) -> dict:
    if not vals:
        return {"n": 0}
    return {"n": len(vals), "median": statistics.median(vals), "p90": p90(vals), "min": min(vals), "max": max(vals)}


def bulk_tcp(vm: KeelVM, rounds: int, mib: int) -> tuple[list[dict], list[str]]:
    """Starts the bulk unit with a request and collects its transfers, one console line each."""
    failures, tcp = [], []
    start = vm.mark()
    vm.check(f"mkdir -p {OUT_DIR}; rm -f {OUT_DIR}/results; echo '{rounds} {mib}' > {OUT_DIR}/go; "
             "initctl start bulk")
    # Generous: under TCG with a busy host a transfer may run at well under 1 MiB/s.
    per = 120 + 4 * mib
    try:
        total = 2 * (rounds + 1)  # round 0 is the warm-up
        for i in range(1, total + 1):
            m = vm.wait_console(r"^bulk\| (net (bridge|lo) \d+ rc=[^\n]*|ERROR[^\n]*)\n", timeout=per,
                                since=start, count=i)
            if m.group(1).startswith("ERROR"):
                break
            print(f"  tcp {i}/{total}: {m.group(1)}", flush=True)
        vm.wait_console(r"^bulk\| done\n", timeout=per, since=start)
        res = vm.check(f"cat {OUT_DIR}/results")
    except KeelVMError as e:  # keep the spawn figures; the console log has the rest
        failures.append(f"tcp: {str(e).splitlines()[0]}")
        res = ""
    for m in NET_RE.finditer(res):
        mode, rnd, rc, rest = m.groups()
        s = SEND_RE.search(rest)
        if rc != "0" or not s or s.group(1) != s.group(2):
            failures.append(f"tcp {mode} round {rnd}: rc={rc} {rest}")
            continue
        nbytes, us = int(s.group(1)), int(s.group(3))
        if rnd == "0":
            continue  # the warm-up
        tcp.append({"mode": mode, "round": int(rnd), "bytes": nbytes, "seconds": us / 1e6,
                    "mib_s": nbytes / MIB / (us / 1e6)})
    failures += [f"tcp: {ln}" for ln in res.splitlines() if ln.startswith("ERROR")]
    return tcp, failures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=40, help="spawn rounds, each restarting every mode once (default 40)")
    ap.add_argument("--pause", default="0.5", help="seconds the console waits after each restart (default 0.5)")
    ap.add_argument("--tcp-runs", type=int, default=9,
                    help="TCP rounds, each one bridge and one lo transfer, after a warm-up round (default 9)")
    ap.add_argument("--mib", type=int, default=128, help="MiB per TCP transfer (default 128)")
    ap.add_argument("--smp", type=int, default=2, help="guest vCPUs (default 2, as the e2e network test)")
    ap.add_argument("--memory", type=int, default=1024, help="guest memory in MiB (default 1024)")
    ap.add_argument("--accel", default="tcg", help="QEMU accelerator (default tcg)")
    ap.add_argument("--image", type=Path, default=None, help="where to build the image (default KEEL_BUILD/bench/net-image)")
    ap.add_argument("--json", type=Path, default=None, help="results file (default KEEL_BUILD/bench/net.json)")
    ap.add_argument("--timeout-scale", type=float, default=None, help="multiply timeouts (default KEEL_TIMEOUT_SCALE)")
    args = ap.parse_args()
    if args.runs < 1 or args.tcp_runs < 0 or args.mib < 1:
        ap.error("--runs and --mib must be at least 1, --tcp-runs at least 0")
    build = build_dir()
    out_json = args.json or build / "bench" / "net.json"
    image = args.image or build / "bench" / "net-image"

    kernel = cached_kernel()
    print(f"keel network benchmark: {args.runs} spawn round(s) of {len(MODES)} modes, {args.tcp_runs} TCP "
          f"round(s) of {args.mib} MiB, QEMU {args.accel}, -smp {args.smp}, {args.memory} MiB", flush=True)
    with tempfile.TemporaryDirectory(prefix="keel-bench-net.") as tmp:
        build_image(Path(tmp), image, build, kernel)
    print(f"  image: {image}/keel.iso", flush=True)

    netdev = ["-netdev", "user,id=n0,restrict=on", "-device", "virtio-net-pci,netdev=n0"]
    vm = KeelVM(image / "keel.iso", name="bench-net", timeout_scale=args.timeout_scale, memory=args.memory,
                smp=args.smp, accel=args.accel, extra_qemu_args=netdev)
    spawn_cycles, tcp, failures = [], [], []
    try:
        vm.boot(timeout=240)
        # Measure on a settled machine: the uplink's lease and every unit up.
        vm.wait_console(r"keel: uplink eth0: ", timeout=240)
        for u in ("sp-none", "sp-bridge", "sp-host", "sink"):
            vm.wait_console(rf"keel: {u}: running", timeout=120)
        vm.wait_console(rf"sink\| listening on {SINK_PORT}\n", timeout=120)
        print("  guest: " + vm.check("uname -r; cat /proc/cmdline").replace("\n", "; "), flush=True)
        vm.check("dmesg -c >/dev/null")
        started = time.monotonic()
        chunk = 5  # rounds per console command: the kernel log is read and cleared between them
        for first in range(0, args.runs + 1, chunk):  # round 0 warms up and is not counted
            last = min(first + chunk - 1, args.runs)
            status, out = vm.run(f"sh {SPAWN_SCRIPT} {first} {last} {args.pause}; "
                                 "dmesg -c | sed 's/^/DMESG:/'", timeout=600, strip=False)
            failures += [f"rounds {first}-{last}: {ln}" for ln in out.splitlines() if ln.startswith("FAIL")]
            lines = [ln[len("DMESG:"):] for ln in out.splitlines() if ln.startswith("DMESG:")]
            got = cycles(lines)
            if first == 0:
                got = got[len(MODES):]  # round 0: the warm-up
            spawn_cycles += got
            print(f"  spawn rounds {first}-{last}: {len(got)} start(s) measured "
                  f"({time.monotonic() - started:.0f}s)", flush=True)
        expected = args.runs * len(MODES)
        if len(spawn_cycles) != expected:
            failures.append(f"spawn: {len(spawn_cycles)} of {expected} starts measured (kmsg lines missing)")

        if args.tcp_runs:
            tcp, tcp_failures = bulk_tcp(vm, args.tcp_runs, args.mib)
            failures += tcp_failures
        if not vm.broken:
            vm.poweroff()
    except KeelVMError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    finally:
        vm.kill()

    st = {}
    for mode in MODES:
        rows = [c for c in spawn_cycles if c["mode"] == mode]
        st[mode] = {k: stats([c[k] for c in rows]) for k in ("spawn_ms", "setup_ms", "stop_ms")}
    for mode in ("bridge", "lo"):
        st[f"tcp-{mode}"] = stats([t["mib_s"] for t in tcp if t["mode"] == mode])

    def med(mode, key="spawn_ms"):
        return st[mode][key].get("median")

    # (metric, value, unit, n, notes)
    rows = []
    for mode, what in (("none", "own netns, lo only"), ("bridge", "netns + veth on keel0, address, route"),
                       ("host", "the machine's netns")):
        s = st[mode]["spawn_ms"]
        rows.append((f"spawn Network={mode}: median", s.get("median"), "ms", s["n"], f"stopped -> running; {what}"))
        rows.append((f"spawn Network={mode}: p90", s.get("p90"), "ms", s["n"], ""))
    d = med("bridge") - med("none") if med("bridge") is not None and med("none") is not None else None
    rows.append(("bridge - none (spawn medians)", d, "ms", None, "veth pair, address, route, hosts/resolv.conf"))
    d2 = med("none") - med("host") if med("none") is not None and med("host") is not None else None
    rows.append(("none - host (spawn medians)", d2, "ms", None, "a network namespace with lo up"))
    for mode in MODES:
        s = st[mode]["setup_ms"]
        rows.append((f"PID 1 sync part, {mode}: median", s.get("median"), "ms", s["n"],
                     "stopped -> spawned (runtime_spawn + unit_net_attach)"))
    for mode in MODES:
        s = st[mode]["stop_ms"]
        rows.append((f"stop {mode}: median", s.get("median"), "ms", s["n"],
                     "stopping -> stopped" + (" (incl. veth delete)" if mode == "bridge" else "")))
    for mode, what in (("bridge", "container -> container over keel0"), ("lo", "inside one container, 127.0.0.1")):
        s = st[f"tcp-{mode}"]
        rows.append((f"TCP {mode}: median", s.get("median"), "MiB/s", s["n"], f"{what}; {args.mib} MiB, keel-bench-net"))
        if s["n"]:
            rows.append((f"TCP {mode}: min-max", None, "MiB/s", s["n"], f"{s['min']:.1f}-{s['max']:.1f}"))
    ratio = (st["tcp-bridge"]["median"] / st["tcp-lo"]["median"]
             if st["tcp-bridge"].get("median") and st["tcp-lo"].get("median") else None)
    rows.append(("TCP bridge / lo", ratio, "", None, "ratio of the medians"))

    print()
    print(f"{'metric':<36}{'value':>10} {'':<5}{'n':>4}  notes")
    for metric, value, unit, n, notes in rows:
        v = "" if value is None else (f"{value:.2f}" if unit == "" else f"{value:.1f}")
        if value is None and notes and unit:
            v = "-" if "min-max" not in metric else ""
        print(f"{metric:<36}{v:>10} {unit:<5}{'' if n is None else n:>4}  {notes}".rstrip())
    print("(spawn/stop: ms between PID 1's kmsg lines; TCP: MiB = 2^20 bytes, first write to the receiver's count,\n"
          " CLOCK_MONOTONIC in the sending container; medians over the rounds)")
    if failures:
        print(f"\nfailures ({len(failures)}):\n  " + "\n  ".join(failures[:20]))

    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps({
        "accel": args.accel, "smp": args.smp, "memory_mib": args.memory, "spawn_rounds": args.runs,
        "pause_s": float(args.pause), "tcp_rounds": args.tcp_runs, "tcp_mib": args.mib,
        "table": [{"metric": m, "value": v, "unit": u, "n": n, "notes": t} for m, v, u, n, t in rows],
        "stats": st, "spawn": spawn_cycles, "tcp": tcp, "failures": failures, "log": str(vm.log_path)}, indent=1))
    print(f"\nresults: {out_json}; console log: {vm.log_path}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
