#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Boot-time benchmark: boots the default keel.iso N times in QEMU and reports, per run and as
the median, how long the machine takes to come up, against keel's targets.

    ./dev bench [--runs N] [--compare OLD.iso]
                                      (or: KEEL_BUILD=build KEEL_IMAGE=build/image bench/boot.py)

With --compare, every run boots both images, alternating which goes first, so that the load of
this shared machine drifts over both alike; the figures of each and their differences follow.

Per run:
  wall PID1   host wall time from starting QEMU to the console's "keel: PID 1 started"
  wall ready  host wall time from starting QEMU to the console's "keel: ready:" line
  PID 1       guest uptime (dmesg) of the first "keel: PID 1 started"
  1st exec    guest uptime of the first "keel: UNIT: running" (first container exec)
  ready       guest uptime of "keel: ready:"
  PID1>exec   1st exec minus PID 1: PID 1's own part, from its first line to the first exec
  poweroff    host wall time from typing poweroff to QEMU's exit
The wall times include firmware and isolinux (not with --direct); the uptimes start when the
kernel does.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from keelvm import KeelVM, KeelVMError, image_dir, qemu_accel  # noqa: E402

MIB = 1024 * 1024
TARGETS = [
    # (label, metric key, limit, unit)
    ("PID 1 started (guest uptime)", "pid1", 1.0, "s"),
    ("first container exec (guest uptime)", "first_exec", 1.2, "s"),
    ("PID 1 start to first exec (guest uptime)", "pid1_to_exec", 0.06, "s"),
    ("ready (wall, QEMU start to ready line)", "wall_ready", 3.0, "s"),
    ("keel.iso size", "iso_mib", 8.0, "MiB"),
]

GUEST_EVENTS = {
    "pid1": r"keel: PID 1 started",
    "first_exec": r"keel: [A-Za-z0-9_.@-]+: running \(pid \d+\)",
    "ready": r"keel: ready:",
}


def first_stamp(lines: list[str], pattern: str) -> float | None:
    rx = re.compile(r"^\[\s*(\d+\.\d+)\] " + pattern)
    for line in lines:
        m = rx.search(line)
        if m:
            return float(m.group(1))
    return None


def direct_args(iso: Path) -> list[str]:
    """QEMU loads the ISO's kernel and initramfs itself (-kernel/-initrd): no firmware boot
    from the CD, no isolinux. The command line is the ISO's (initramfs/mkimage.sh)."""
    initrd = next((iso.parent / n for n in ("initrd.lz4", "initrd.gz") if (iso.parent / n).exists()), None)
    if initrd is None:
        raise FileNotFoundError(f"no initrd beside {iso}")
    return ["-kernel", str(iso.parent / "vmlinuz"), "-initrd", str(initrd), "-append", "console=ttyS0 quiet"]


def one_run(iso: Path, n: int, scale: float | None, direct: bool = False) -> dict:
    vm = KeelVM(iso, name=f"bench-{n}", timeout_scale=scale, extra_qemu_args=direct_args(iso) if direct else ())
    try:
        vm.start()
        vm.wait_console(r"keel: PID 1 started", timeout=120)
        wall_pid1 = time.monotonic() - vm.spawned_at
        vm.boot()
        r = {"run": n, "wall_pid1": wall_pid1, "wall_ready": vm.ready_at, "log": str(vm.log_path)}
        # The kernel log from inside the guest, each line tagged so that nothing else on the
        # console (container output, PID 1's console copy of its log) can be taken for it.
        status, out = vm.run("dmesg | sed 's/^/DMESG:/'", strip=False)
        dmesg = [ln[len("DMESG:"):] for ln in out.splitlines() if ln.startswith("DMESG:")]
        console = vm.console.splitlines()
        r["source"] = "dmesg"
        for key, pattern in GUEST_EVENTS.items():
            v = first_stamp(dmesg, pattern)
            if v is None:  # not in the kernel log: fall back to PID 1's console copy
                v = first_stamp(console, pattern)
                r["source"] = "console"
            r[key] = v
        t = time.monotonic()
        line = vm.poweroff()
        r["poweroff"] = time.monotonic() - t
        r["clean"] = "(clean:" in line and vm.exit_status == 0
        return r
    finally:
        vm.kill()


def fmt(v, unit="s") -> str:
    if v is None:
        return "-"
    return f"{v:.2f}{unit}" if unit == "s" else f"{v:.1f} {unit}"


def median(rows: list[dict], key: str):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


COLS = [("wall PID1", "wall_pid1"), ("wall ready", "wall_ready"), ("PID 1", "pid1"),
        ("1st exec", "first_exec"), ("PID1>exec", "pid1_to_exec"), ("ready", "ready"),
        ("poweroff", "poweroff")]


def image_sizes(iso: Path) -> dict:
    """The ISO and the kernel and initramfs beside it (named as initramfs/mkimage.sh writes them)."""
    sizes = {"keel.iso": iso.stat().st_size}
    for name in ("initrd.gz", "initrd.lz4", "vmlinuz"):
        if (iso.parent / name).exists():
            sizes[name] = (iso.parent / name).stat().st_size
    return sizes


def table(title: str, rows: list[dict]) -> dict:
    print()
    print(title)
    print(f"{'run':<8}" + "".join(f"{c:>12}" for c, _ in COLS) + "  clean")
    for r in rows:
        print(f"{r['run']:<8}" + "".join(f"{fmt(r.get(k)):>12}" for _, k in COLS) + f"  {'yes' if r['clean'] else 'NO'}")
    med = {k: median(rows, k) for _, k in COLS}
    print(f"{'median':<8}" + "".join(f"{fmt(med[k]):>12}" for _, k in COLS))
    lo_hi = {k: (min(r[k] for r in rows if r.get(k) is not None), max(r[k] for r in rows if r.get(k) is not None))
             for _, k in COLS if any(r.get(k) is not None for r in rows)}
    print(f"{'range':<8}" + "".join(f"{f'{lo_hi[k][0]:.2f}-{lo_hi[k][1]:.2f}' if k in lo_hi else '-':>12}"
                                    for _, k in COLS))
    if all(r["source"] == "dmesg" for r in rows):
        src = "the guest's dmesg"
    else:
        src = "PID 1's console lines (keel's lines were missing from the guest's dmesg)"
    print(f"(wall: host time from QEMU start; PID 1 / 1st exec / ready: guest uptime from {src})")
    return med


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="number of boots (default 3)")
    ap.add_argument("--iso", type=Path, default=None, help="image to boot (default KEEL_IMAGE/keel.iso)")
    ap.add_argument("--compare", type=Path, default=None, metavar="OLD_ISO",
                    help="also boot this image in every run, alternating with --iso, and compare")
    ap.add_argument("--direct", action="store_true",
                    help="boot the kernel and initramfs beside each ISO with QEMU's -kernel/-initrd "
                         "(no firmware CD boot, no isolinux) instead of the ISO")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    ap.add_argument("--timeout-scale", type=float, default=None, help="multiply timeouts (default KEEL_TIMEOUT_SCALE)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")

    iso = (args.iso or image_dir() / "keel.iso").resolve()
    isos = [iso] + ([args.compare.resolve()] if args.compare else [])
    for i in isos:
        if not i.is_file():
            print(f"bench: {i} not found (./dev image)", file=sys.stderr)
            return 1
    accel = qemu_accel(iso.parent / "vmlinuz")
    print(f"keel boot benchmark: {iso}{f' against {isos[1]}' if len(isos) > 1 else ''}, {args.runs} run(s), "
          f"{'direct kernel boot (-kernel/-initrd), ' if args.direct else ''}"
          f"QEMU accelerator: {accel}"
          f"{' (software emulation: expect slower figures than on hardware or KVM)' if accel == 'tcg' else ''}")

    rows: list[list[dict]] = [[] for _ in isos]
    for n in range(1, args.runs + 1):
        # Alternate which image boots first: neither always gets the quieter half of a run.
        order = list(range(len(isos)))
        if n % 2 == 0:
            order.reverse()
        for k in order:
            try:
                r = one_run(isos[k], n, args.timeout_scale, args.direct)
            except KeelVMError as e:
                print(f"bench: run {n} of {isos[k]} failed:\n{e}", file=sys.stderr)
                return 1
            if r.get("pid1") is not None and r.get("first_exec") is not None:
                r["pid1_to_exec"] = r["first_exec"] - r["pid1"]
            rows[k].append(r)
            print(f"  run {n}{' (old)' if k else ''}: ready after {r['wall_ready']:.2f}s wall (log {r['log']})",
                  flush=True)

    meds = [table(f"{'new: ' if len(isos) > 1 else ''}{iso}", rows[0])]
    if len(isos) > 1:
        meds.append(table(f"old: {isos[1]}", rows[1]))
        print()
        print("difference of the medians, new - old:")
        print(f"{'':<8}" + "".join(f"{c:>12}" for c, _ in COLS))
        print(f"{'':<8}" + "".join(f"{fmt(meds[0][k] - meds[1][k]) if meds[0][k] is not None and meds[1][k] is not None else '-':>12}"
                                   for _, k in COLS))

    sizes = [image_sizes(i) for i in isos]
    print()
    for i, sz in zip(isos, sizes):
        print(f"sizes ({i}): " + ", ".join(f"{name} {fmt(v / MIB, 'MiB')}" for name, v in sz.items()))
    med = meds[0]
    med["iso_mib"] = sizes[0]["keel.iso"] / MIB

    print()
    print(f"targets (median of {len(rows[0])} run(s) of {iso}, accelerator {accel}):")
    verdicts = []
    for label, key, limit, unit in TARGETS:
        v = med.get(key)
        ok = v is not None and v <= limit
        verdicts.append(ok)
        print(f"  {'PASS' if ok else 'MISS'}  {label:<42} {fmt(v, unit):>10}  (target <= {fmt(limit, unit)})")
    if not all(r["clean"] for rs in rows for r in rs):
        print("  note: a poweroff was not clean (see the run's log)")

    if args.json:
        args.json.write_text(json.dumps({"accel": accel, "iso": str(iso), "runs": rows[0], "median": med,
                                         "sizes": sizes[0], "targets": {k: lim for _, k, lim, _ in TARGETS},
                                         "pass": verdicts,
                                         **({"compare": {"iso": str(isos[1]), "runs": rows[1], "median": meds[1],
                                                         "sizes": sizes[1]}} if len(isos) > 1 else {})},
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
