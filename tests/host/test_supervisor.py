# SPDX-License-Identifier: MIT
"""The supervisor's dependency ordering, restart backoff, start limit and exit history, with
keel's real PID 1 in fresh namespaces on the host (see test_pid1_namespace.py)."""
import re

import pytest

from test_pid1_namespace import module_pid1

BB = "Rootfs=/usr/share/keel/rootfs/busybox"
SLEEP = "/bin/sh -c 'trap \"exit 0\" TERM; while :; do sleep 1 & wait $!; done'"

UNITS = {
    "db": f"[Container]\n{BB}\nExec={SLEEP}\n",
    "web": f"[Unit]\nAfter=db.container\nRequires=db\n[Container]\n{BB}\nExec={SLEEP}\n",
    "proxy": f"[Unit]\nWants=web\n[Container]\n{BB}\nExec={SLEEP}\n",
    "early": f"[Unit]\nBefore=db\n[Container]\n{BB}\nExec={SLEEP}\n",
    "cyc1": f"[Unit]\nAfter=cyc2\n[Container]\n{BB}\nExec=/bin/true\n",
    "cyc2": f"[Unit]\nAfter=cyc1\n[Container]\n{BB}\nExec=/bin/true\n",
    "broken": f"[Container]\n{BB}\nExce=/bin/true\n",
    "needbad": f"[Unit]\nRequires=broken\n[Container]\n{BB}\nExec={SLEEP}\n",
    "needghost": f"[Unit]\nRequires=ghost\n[Container]\n{BB}\nExec={SLEEP}\n",
    "loop": f"[Container]\n{BB}\nExec=/bin/sh -c 'exit 1'\n[Service]\nRestart=always\n",
    "limited": f"[Unit]\nStartLimitBurst=3\nStartLimitIntervalSec=1min\n[Container]\n{BB}\n"
               "Exec=/bin/sh -c 'exit 2'\n[Service]\nRestart=on-failure\nRestartSec=50ms\n",
    "prevented": f"[Container]\n{BB}\nExec=/bin/sh -c 'exit 42'\n[Service]\nRestart=always\n"
                 "RestartPreventExitStatus=42\n",
}


@pytest.fixture(scope="module")
def sup(tmp_path_factory):
    yield from module_pid1(tmp_path_factory, "sup", UNITS)


def index_of(lines, pattern):
    rx = re.compile(pattern)
    return next(i for i, l in enumerate(lines) if rx.search(l))


def test_after_orders_starts(sup):
    sup.wait_for(r"web: running")
    lines = list(sup.lines)
    assert index_of(lines, r"db: running") < index_of(lines, r"web: spawned|web: running")
    assert index_of(lines, r"early: running") < index_of(lines, r"db: running"), "Before= orders too"
    rc, out = sup.enter("/bin/initctl", "status")
    rows = {l.split()[0]: l.split()[1] for l in out.splitlines()[1:]}
    assert rows["web"] == rows["db"] == rows["proxy"] == "running", out


def test_cycle_is_reported_and_its_units_invalid(sup):
    sup.wait_for(r"ordering cycle: cyc\d → cyc\d → cyc\d")
    rc, out = sup.enter("/bin/initctl", "status", "cyc1")
    assert rc == 3 and "ordering cycle (After=/Before=): cyc" in out, out


def test_requires_invalid_or_missing_does_not_start(sup):
    sup.wait_for(r"needbad: not starting: requires broken, which is invalid")
    sup.wait_for(r"needghost: not starting: requires ghost, which does not exist")
    rc, out = sup.enter("/bin/initctl", "status", "needbad")
    assert "Blocked:  requires broken, which is invalid" in out, out


def test_default_backoff_is_immediate_then_grows(sup):
    hits = sup.wait_for(r"loop: exited with code 1; restarting in", count=5, timeout=60)
    delays = [h.rsplit("restarting in ", 1)[1] for h in hits[:5]]
    assert delays[0] == "0ms", delays
    assert delays[1] == "100ms", delays
    assert delays[2].startswith("20") and delays[3].startswith("41"), delays


def test_exit_history_is_kept(sup):
    sup.wait_for(r"loop: exited with code 1; restarting in", count=4, timeout=60)
    rc, out = sup.enter("/bin/initctl", "status", "loop")
    assert "Last exit: exited with code 1 (at" in out, out
    assert len(re.findall(r"exited with code 1 \(at \d\d:\d\d:\d\d UTC", out)) >= 4, out
    assert re.search(r"Restart:  always \(immediate, then backoff to 30(\.0+)?s\), restarted \d+ times", out), out


def test_start_limit_then_initctl_start_retries(sup):
    sup.wait_for(r"limited: .*started 3 times within 1min( 0s)?, not restarting it", timeout=60)
    rc, out = sup.enter("/bin/initctl", "status")
    assert re.search(r"^limited\s+failed", out, re.M), out
    n = len([l for l in sup.lines if "limited: exited with code 2" in l])
    sup.enter("/bin/initctl", "start", "limited")
    sup.wait_for(r"limited: exited with code 2", count=n + 1)


def test_restart_prevent_exit_status(sup):
    sup.wait_for(r"prevented: exited with code 42$")
    assert not [l for l in sup.lines if l.startswith("prevented: exited with code 42; restarting")]


def test_stop_propagates_to_what_requires_it_and_start_pulls_in(sup):
    sup.wait_for(r"web: running")
    sup.enter("/bin/initctl", "stop", "db")
    sup.wait_for(r"web: stopped")
    sup.wait_for(r"db: stopped")
    lines = list(sup.lines)
    assert index_of(lines, r"web: stopping") < index_of(lines, r"db: stopping")
    sup.enter("/bin/initctl", "start", "web")  # pulls db in, and waits for it
    n = len([l for l in sup.lines if "db: running" in l])
    sup.wait_for(r"db: running", count=n)
    sup.wait_for(r"web: running", count=2)


def test_shutdown_stops_in_reverse_order(sup):
    sup.wait_for(r"web: running", count=2)
    sup.enter("/bin/initctl", "poweroff")
    sup.wait_for(r"system down for poweroff", timeout=60)
    lines = list(sup.lines)
    k = max(i for i, l in enumerate(lines) if "web: running" in l)
    tail = lines[k:]
    assert index_of(tail, r"web: stopping") < index_of(tail, r"db: stopping") < index_of(tail, r"early: stopping")
