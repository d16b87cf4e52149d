#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Container spawn benchmark: keel's runtime against `crun run` and `runc run` (Debian's), inside
one booted keel guest, with the same isolation and the same clock.

    ./dev bench spawn [--runs N] [--smp N]    (or: KEEL_BUILD=build bench/spawn.py)

It builds a bench image (no units; keel-bench-spawn, crun, runc and their libraries; two OCI
bundles over the image's BusyBox rootfs), boots it under QEMU and, at the console, runs N
rounds. Each round runs every mode once, in an order rotated by one each round, after one
warm-up round that is not counted. Every mode is timed by keel-bench-spawn in the guest
(CLOCK_MONOTONIC), from the start of the spawn. The first five modes spawn once per process
(a runtime CLI always does); the others spawn 4 times per round after an unprinted warm-up
spawn in the same process, as a long-running supervisor does, for more samples:

  bare           fork + execve(/bin/true) + wait: the floor
  keel           runtime_spawn() of /bin/true with a default unit's isolation: pid, mount, uts,
                 ipc, cgroup and network namespaces, an overlay root with /proc, /sys, /dev,
                 masked paths, seccomp (compiled once per process), Docker's 14 capabilities,
                 no_new_privs, RLIMIT_NOFILE, a cgroup per run with the BPF device program
  keel-cli       the same spawn timed from outside as a command (keel-bench-spawn -q … keel):
                 adds process start, compiling seccomp and loading the device program, which
                 crun and runc also pay on every `run`
  crun, runc     `crun|runc --root /run/… run --no-new-keyring --bundle B ID`, then an untimed
                 `delete -f`; the bundle asks for the same isolation (see oci_config())
  keel-warm      keel, not the first spawn of its process
  keel-min       only what the runtime always does: pid + mount namespaces, the overlay root
                 with /proc, /sys, /dev, capabilities, no_new_privs, RLIMIT_NOFILE
  +netns … +cgroup  keel-min plus one feature: its cost is the difference to keel-min
                 (+cgroup: a cgroup per run with the device program, and a cgroup namespace)
  mount-overlay  the root alone: unshare a mount namespace, tmpfs + overlay, exit
  mount-bind     the same with runc's read-only root (bind + read-only remount): the
                 overlay's cost is the difference (the runtime has no switch for it)

exec is when execve() succeeded (EOF on a CLOEXEC fd); exit is when the process had exited.
crun's and runc's exec is their own binary's, so they are compared on exit. Targets: keel's
exit median at most 1/5 of crun's and 1/20 of runc's (aim: 1/10 of crun's).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from keelvm import KeelVM, KeelVMError, build_dir, cached_kernel, mkimage  # noqa: E402

BENCH = "/usr/bin/keel-bench-spawn"
ROOTFS = "/usr/share/keel/rootfs/busybox"
BUNDLES = "/usr/share/keel/bench"
ROUND_SCRIPT = f"{BUNDLES}/round.sh"
PEERS = {"crun": "/usr/bin/crun", "runc": "/usr/sbin/runc"}

# Docker's 14 (runtime/caps.c CAPS_DEFAULT).
CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
# runtime/rootfs.c's masked_paths and readonly_paths.
MASKED = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
          "/proc/interrupts", "/sys/firmware", "/sys/devices/virtual/powercap"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
# supervisor/unit-spec.c's environment, with the host name the bench gives.
ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
       "TERM=vt100", "container=keel", "HOSTNAME=bench"]


def peer_command(name: str) -> str:
    # $i is the round number in round.sh: a fresh container id each time.
    return (f"{name} --root /run/{name} run --no-new-keyring --bundle {BUNDLES}/{name} bench-{name}-$i")


# One spawn per process and round: what a runtime CLI always is, and keel at its coldest.
ONCE = "-n 1"
# Spawns after one unprinted warm-up in the same process, as in a long-running supervisor:
# more samples for the small differences between features.
WARM = "-w 1 -n 4"
# (label, keel-bench-spawn options, mode and arguments, shell run afterwards, untimed)
MODES = [
    ("bare", ONCE, "bare /bin/true", ""),
    ("keel", ONCE, "keel default", ""),
    ("keel-cli", ONCE, f"exec {BENCH} -q keel default", ""),
    ("crun", ONCE, "exec " + peer_command("crun"), "crun --root /run/crun delete -f bench-crun-$i"),
    ("runc", ONCE, "exec " + peer_command("runc"), "runc --root /run/runc delete -f bench-runc-$i"),
    ("keel-warm", WARM, "keel default", ""),
    ("keel-min", WARM, "keel min", ""),
    ("+netns", WARM, "keel min +netns", ""),
    ("+utsns+ipcns", WARM, "keel min +utsns +ipcns", ""),
    ("+userns", WARM, "keel min +userns", ""),
    ("+seccomp", WARM, "keel min +seccomp", ""),
    ("+cgroup", WARM, "keel min +cgroup +cgroupns", ""),
    ("mount-overlay", WARM, "mount overlay", ""),
    ("mount-bind", WARM, "mount bind", ""),
]
WHAT = {
    "bare": "fork+exec+wait of /bin/true",
    "keel": "runtime_spawn, a default unit's isolation",
    "keel-cli": "the same, as a command (process start included)",
    "crun": "crun run, the same isolation",
    "runc": "runc run, the same isolation",
    "keel-warm": "keel, not the process's first spawn",
    "keel-min": "pid+mnt ns, overlay root, caps, nnp",
    "+netns": "keel-min + network namespace (lo up)",
    "+utsns+ipcns": "keel-min + uts and ipc namespaces",
    "+userns": "keel-min + user namespace (65536 ids)",
    "+seccomp": "keel-min + the default seccomp filter",
    "+cgroup": "keel-min + own cgroup, device BPF, cgroupns",
    "mount-overlay": "unshare mnt ns + tmpfs + overlay root",
    "mount-bind": "unshare mnt ns + read-only bind root",
}
TARGETS = [("crun", 5), ("runc", 20)]  # keel's exit median <= peer's / N
AIM = ("crun", 10)
LINE_RE = re.compile(r"^bench (\S+) (\d+) exec=(\S+) exit=(\d+) rm=(\S+) rc=(-?\d+)$", re.M)
FAIL_RE = re.compile(r"^FAIL (\S+) rc=(\d+)$", re.M)


def oci_config(seccomp: dict, name: str) -> dict:
    """An OCI config asking crun/runc for what keel gives a default unit."""
    nosuid = ["nosuid", "noexec", "nodev"]
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"], "env": ENV, "cwd": "/",
            "capabilities": {"bounding": CAPS, "effective": CAPS, "permitted": CAPS,
                             "inheritable": [], "ambient": []},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        # keel's root is a private overlay (writes vanish at exit); the closest an OCI runtime
        # does without an image store is a read-only bind of the same directory.
        "root": {"path": ROOTFS, "readonly": True},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": nosuid},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "noexec", "mode=755", "size=64k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": nosuid + ["mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": nosuid},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": nosuid + ["ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": nosuid + ["relatime", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "cgroupsPath": f"/keel/bench-{name}",
            # Deny all; both runtimes add their default devices (null, zero, full, random,
            # urandom, tty, console, ptmx, pts) as keel's device program allows them.
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "seccomp": seccomp,
            "maskedPaths": MASKED,
            "readonlyPaths": READONLY,
        },
    }


def ensure_peers():
    if all(shutil.which(Path(p).name) or Path(p).exists() for p in PEERS.values()):
        return
    print("bench: installing crun and runc (apt-get install -y crun runc)", flush=True)
    subprocess.run(["apt-get", "install", "-y", "crun", "runc"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdout=subprocess.DEVNULL)


def shared_libraries(binary: str) -> list[str]:
    """The paths ldd names for binary (the loader included), as the binary will look them up."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


def build_image(tmp: Path, out: Path, build: Path, kernel: str) -> None:
    bench_bin = build / "keel-bench-spawn"
    if not bench_bin.is_file():
        raise SystemExit(f"bench: {bench_bin} not found (ninja -C {build})")
    stripped = tmp / "keel-bench-spawn"
    subprocess.run(["strip", "-o", str(stripped), str(bench_bin)], check=True)

    # keel's default filter as an OCI profile, checked verdict by verdict against the original.
    profile = tmp / "seccomp.json"
    with open(profile, "w") as f:
        subprocess.run([str(bench_bin), "seccomp-profile"], stdout=f, check=True)
    check = subprocess.run([str(bench_bin), "seccomp-check", str(profile)], capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit(f"bench: the generated seccomp profile differs from keel's:\n{check.stdout}{check.stderr}")
    print(f"  {check.stdout.strip()}", flush=True)
    seccomp = json.loads(profile.read_text())

    files = {f"{stripped}": BENCH.lstrip("/")}
    for name, path in PEERS.items():
        files[path] = path.lstrip("/")
        for lib in shared_libraries(path):
            files[lib] = lib.lstrip("/")
        cfg = tmp / f"{name}.json"
        cfg.write_text(json.dumps(oci_config(seccomp, name), indent=1))
        files[str(cfg)] = f"{BUNDLES.lstrip('/')}/{name}/config.json"
    script = tmp / "round.sh"
    script.write_text(round_script())
    files[str(script)] = ROUND_SCRIPT.lstrip("/")

    units = tmp / "units"
    units.mkdir()
    r = mkimage(out, build, units, kernel, "keel.shell=1", files)
    if r.returncode != 0:
        raise SystemExit(f"bench: mkimage.sh failed:\n{r.stderr}")


def round_script() -> str:
    """round.sh ROUND: every mode once, starting at mode ROUND mod N; lines on stdout."""
    lines = ["#!/bin/sh", "# SPDX-License-Identifier: MIT", "# Generated by bench/spawn.py: one round of the spawn benchmark.",
             "i=$1", f"B={BENCH}", "mkdir -p /run/crun /run/runc"]
    for k, (label, opts, cmd, after) in enumerate(MODES):
        body = f'$B {opts} -l {label} {cmd} || echo "FAIL {label} rc=$?"'
        if after:
            body += f"; {after} >/dev/null 2>&1"
        lines.append(f"m{k}() {{ {body}; }}")
    n = len(MODES)
    lines += [f"j=0", f"while [ $j -lt {n} ]; do m$(( ($i + $j) % {n} )); j=$((j + 1)); done", ""]
    return "\n".join(lines)


def p90(vals: list[float]) -> float:
    s = sorted(vals)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def summarize(runs: list[dict]) -> dict:
    stats = {}
    for label, *_ in MODES:
        rows = [r for r in runs if r["label"] == label]
        exits = [r["exit_ms"] for r in rows]
        execs = [r["exec_ms"] for r in rows if r["exec_ms"] is not None]
        st = {"n": len(rows)}
        if exits:
            st.update(exit_median=statistics.median(exits), exit_p90=p90(exits))
        if execs:
            st.update(exec_median=statistics.median(execs), exec_p90=p90(execs))
        stats[label] = st
    return stats


# (row, baseline row, note): a feature's cost is its row's median minus the baseline's.
FEATURE_COSTS = [
    ("+netns", "keel-min", ""),
    ("+utsns+ipcns", "keel-min", ""),
    ("+userns", "keel-min", "(not in a default unit)"),
    ("+seccomp", "keel-min", ""),
    ("+cgroup", "keel-min", ""),
    ("mount-overlay", "mount-bind", "(keel's root vs runc's read-only bind)"),
]


def median_delta(runs: list[dict], label: str, base: str, resamples: int = 2000):
    """median(label) - median(base) in ms, with a 90% percentile-bootstrap interval: under TCG
    a single spawn varies by several ms, as much as some features cost."""
    a = [r["exit_ms"] for r in runs if r["label"] == label]
    b = [r["exit_ms"] for r in runs if r["label"] == base]
    if not a or not b:
        return None
    rng = random.Random(1)  # the same data gives the same interval
    ds = sorted(statistics.median(rng.choices(a, k=len(a))) - statistics.median(rng.choices(b, k=len(b)))
                for _ in range(resamples))
    return (statistics.median(a) - statistics.median(b), ds[int(0.05 * resamples)], ds[int(0.95 * resamples) - 1])


def fmt(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def ratio(keel: float | None, peer: float | None) -> str:
    return "-" if not keel or not peer else f"1/{peer / keel:.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30, help="rounds, each running every mode once (default 30)")
    ap.add_argument("--smp", type=int, default=1, help="guest vCPUs (default 1)")
    ap.add_argument("--memory", type=int, default=512, help="guest memory in MiB (default 512)")
    ap.add_argument("--accel", default="tcg", help="QEMU accelerator (default tcg, as the issue's figures)")
    ap.add_argument("--json", type=Path, default=None, help="results file (default KEEL_BUILD/bench/spawn.json)")
    ap.add_argument("--timeout-scale", type=float, default=None, help="multiply timeouts (default KEEL_TIMEOUT_SCALE)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    build = build_dir()
    out_json = args.json or build / "bench" / "spawn.json"
    image = build / "bench" / "spawn-image"

    ensure_peers()
    kernel = cached_kernel()
    print(f"keel spawn benchmark: {args.runs} round(s) of {len(MODES)} modes, QEMU {args.accel}, "
          f"-smp {args.smp}, {args.memory} MiB", flush=True)
    with tempfile.TemporaryDirectory(prefix="keel-bench-spawn.") as tmp:
        build_image(Path(tmp), image, build, kernel)
    print(f"  image: {image}/keel.iso", flush=True)

    vm = KeelVM(image / "keel.iso", name="bench-spawn", timeout_scale=args.timeout_scale, memory=args.memory,
                smp=args.smp, accel=args.accel)
    runs, failures = [], []
    try:
        vm.boot(timeout=180)
        versions = vm.check("crun --version | head -1; runc --version | head -1; uname -r")
        print("  guest: " + "; ".join(versions.split("\n")[:3]), flush=True)
        started = time.monotonic()
        for rnd in range(0, args.runs + 1):  # round 0 warms up and is not counted
            # Output goes to a file first: the serial line stays quiet while the round runs.
            status, out = vm.run(f"sh {ROUND_SCRIPT} {rnd} >/tmp/round.out 2>>/tmp/bench.err; cat /tmp/round.out",
                                 timeout=600)
            for m in FAIL_RE.finditer(out):
                failures.append(f"round {rnd}: {m.group(1)} exited {m.group(2)}")
            if rnd == 0:
                continue
            for m in LINE_RE.finditer(out):
                if m.group(6) != "0":  # a failed container is no sample (crun or runc say why)
                    failures.append(f"round {rnd}: {m.group(1)} run {m.group(2)} exited {m.group(6)}")
                    continue
                runs.append({"label": m.group(1), "round": rnd,
                             "exec_ms": None if m.group(3) == "-" else int(m.group(3)) / 1000,
                             "exit_ms": int(m.group(4)) / 1000,
                             "rm_ms": None if m.group(5) == "-" else int(m.group(5)) / 1000})
            if rnd % 5 == 0 or rnd == args.runs:
                print(f"  round {rnd}/{args.runs} ({time.monotonic() - started:.0f}s)", flush=True)
        _, errors = vm.run("cat /tmp/bench.err")
        leftovers = vm.check("ls /sys/fs/cgroup/keel/ | grep -c '^bench' || true").strip()
        vm.poweroff()
    except KeelVMError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    finally:
        vm.kill()

    stats = summarize(runs)
    print()
    print(f"{'mode':<15}{'exec med':>10}{'p90':>8}{'exit med':>10}{'p90':>8}{'n':>5}  what")
    for label, *_ in MODES:
        s = stats[label]
        print(f"{label:<15}{fmt(s.get('exec_median')):>10}{fmt(s.get('exec_p90')):>8}"
              f"{fmt(s.get('exit_median')):>10}{fmt(s.get('exit_p90')):>8}{s['n']:>5}  {WHAT[label]}")
    print("(ms from the start of the spawn; exec: execve() succeeded, exit: the process had exited; "
          "crun/runc exec is their own binary's)")

    print()
    print("cost of each feature alone (exit median minus the baseline's, 90% bootstrap interval):")
    deltas = {}
    for label, base, note in FEATURE_COSTS:
        d = median_delta(runs, label, base)
        deltas[label] = d
        text = f"{'-':>9}" if d is None else f"{d[0]:+6.1f} ms  [{d[1]:+.1f}, {d[2]:+.1f}]"
        print(f"  {label.lstrip('+').replace('mount-', ''):<12}{text:<28}{note}".rstrip())

    print()
    print("keel's exit median against its peers (same guest, interleaved rounds):")
    verdicts = {}
    keel, warm, cli = (stats[k].get("exit_median") for k in ("keel", "keel-warm", "keel-cli"))
    for peer, n in TARGETS:
        p = stats[peer].get("exit_median")
        ok = keel is not None and p is not None and keel <= p / n
        verdicts[peer] = ok
        print(f"  {'PASS' if ok else 'MISS'}  keel {fmt(keel)} ms vs {peer} {fmt(p)} ms: {ratio(keel, p):>7}"
              f" (target <= 1/{n}); keel-warm {ratio(warm, p)}, keel-cli {ratio(cli, p)}")
    peer, n = AIM
    p = stats[peer].get("exit_median")
    aim = keel is not None and p is not None and keel <= p / n
    print(f"  aim   keel <= 1/{n} of {peer}: {'met' if aim else 'not met'} ({ratio(keel, p)})")
    if failures:
        print(f"\nfailures ({len(failures)}):\n  " + "\n  ".join(failures[:20]))
    if errors.strip():
        print("\nguest stderr (/tmp/bench.err), last lines:\n  " + "\n  ".join(errors.strip().splitlines()[-15:]))
    if leftovers not in ("", "0"):
        print(f"\nnote: {leftovers} bench cgroup(s) left under /sys/fs/cgroup/keel")

    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps({
        "accel": args.accel, "smp": args.smp, "memory_mib": args.memory, "rounds": args.runs,
        "modes": {label: {"command": f"keel-bench-spawn {opts} {cmd}", "what": WHAT[label]}
                  for label, opts, cmd, _ in MODES},
        "stats": stats, "feature_cost_ms": deltas, "targets": {p: f"1/{n}" for p, n in TARGETS}, "pass": verdicts, "aim_met": aim,
        "failures": failures, "runs": runs, "log": str(vm.log_path)}, indent=1))
    print(f"\nresults: {out_json}; console log: {vm.log_path}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
