# SPDX-License-Identifier: MIT
"""PID 1 under faults, on the host: 100 crash-looping units, kill -9 storms on running units,
and a thousand orphans at once. PID 1 must keep answering and keep its memory bounded."""
import re
import shutil
import time

import pytest

from hostenv import BUILD
from test_pid1_namespace import module_pid1

BB = "Rootfs=/usr/share/keel/rootfs/busybox"
SLEEP = "/bin/sh -c 'trap \"exit 0\" TERM; while :; do sleep 1 & wait $!; done'"

UNITS = {f"crash{i:03d}": f"[Container]\n{BB}\nExec=/bin/sh -c 'exit 1'\n[Service]\nRestart=always\n"
         for i in range(100)}
UNITS.update({f"victim{i:02d}": f"[Container]\n{BB}\nExec={SLEEP}\n[Service]\nRestart=always\nRestartSec=50ms\n"
              for i in range(20)})


@pytest.fixture(scope="module")
def storm(tmp_path_factory):
    def prepare(root):
        shutil.copy(BUILD / "tests/keel-test", root / "bin/keel-test")

    yield from module_pid1(tmp_path_factory, "storm", UNITS, prepare, timeout=180)


def rows(p):
    rc, out = p.enter("/bin/initctl", "status", timeout=30)
    assert rc == 0, out
    return {l.split()[0]: l.split() for l in out.splitlines()[1:]}


def pid1_rss_kib(p):
    rc, out = p.enter("/bin/cat", "/proc/1/status")
    return int(re.search(r"VmRSS:\s+(\d+) kB", out).group(1))


def test_hundred_crash_loops_back_off_and_pid1_answers(storm):
    # Each unit restarts immediately once, then backs off: after a few seconds every unit has
    # restarted several times, and PID 1 answers status at once.
    deadline = time.monotonic() + 120
    while True:
        r = rows(storm)
        restarts = [int(r[f"crash{i:03d}"][3]) for i in range(100)]
        if min(restarts) >= 3:
            break
        assert time.monotonic() < deadline, f"restarts so far: {sorted(restarts)[:10]}"
        time.sleep(0.5)
    t = time.monotonic()
    rows(storm)
    assert time.monotonic() - t < 5
    assert pid1_rss_kib(storm) < 32 * 1024


def test_kill9_storm(storm):
    for _ in range(5):
        r = rows(storm)
        pids = [r[f"victim{i:02d}"][2] for i in range(20) if r[f"victim{i:02d}"][2] != "-"]
        storm.enter("/bin/kill", "-9", *pids)
    deadline = time.monotonic() + 120
    while True:
        r = rows(storm)
        if all(r[f"victim{i:02d}"][1] == "running" for i in range(20)):
            break
        assert time.monotonic() < deadline, r
        time.sleep(0.5)
    assert sum(int(r[f"victim{i:02d}"][3]) for i in range(20)) >= 20
    assert storm.proc.poll() is None


def test_thousand_orphans_are_reaped(storm):
    # keel-test's grandchildren are re-parented to keel's PID 1, which must reap all of them.
    rc, out = storm.enter("/bin/keel-test", "orphans", "1000", timeout=120)
    assert rc == 0, out
    deadline = time.monotonic() + 60
    while True:
        rc, z = storm.enter("/bin/keel-test", "count-zombies")
        if z.strip() == "zombies=0":
            break
        assert time.monotonic() < deadline, z
        time.sleep(0.2)
    rows(storm)


def test_pid1_open_file_limit_is_raised(storm):
    # A few fds per container: the kernel's default of 1024 would stop PID 1 near 250 of them.
    rc, out = storm.enter("/bin/cat", "/proc/1/limits")
    soft = int(re.search(r"Max open files\s+(\d+)", out).group(1))
    assert soft > 4096, out
