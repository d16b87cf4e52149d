# SPDX-License-Identifier: MIT
"""cgroup v2 limits from [Service] (MemoryMax=, TasksMax=, CPUQuota=) in the guest's pure
cgroup v2 hierarchy: written before the container is born, enforced, and an OOM kill named
in the exit reason."""
import re

import pytest

from keelvm import booted

BUSYBOX = "/usr/share/keel/rootfs/busybox"

UNITS = {
    # A burst larger than the tty's 4 KiB buffer at boot: queued by PID 1, not dropped.
    "burst": f"""[Container]
Rootfs={BUSYBOX}
Exec=/bin/sh -c 'trap "exit 0" TERM; i=0; while [ $i -lt 400 ]; do echo "burst-line-$i"; i=$((i+1)); done; while :; do sleep 1 & wait $!; done'
""",
    # tail keeps the last "line" of /dev/zero, which never ends: memory grows until the OOM
    # killer takes the container's PID 1.
    "hog": f"""[Container]
Rootfs={BUSYBOX}
Exec=/bin/sh -c 'exec tail /dev/zero'
[Service]
MemoryMax=16M
""",
    "forker": f"""[Container]
Rootfs={BUSYBOX}
Exec=/bin/sh -c 'trap "exit 0" TERM; for i in 1 2 3 4 5 6 7 8; do sleep 300 & done; echo forks-done; wait'
[Service]
TasksMax=4
""",
    "limited": f"""[Container]
Rootfs={BUSYBOX}
Exec=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 1 & wait $!; done'
[Service]
MemoryMax=32M
TasksMax=16
CPUQuota=20%
""",
}


@pytest.fixture(scope="module")
def lvm(make_image):
    with booted(make_image(UNITS), "test_limits") as v:
        yield v


def test_limits_are_written(lvm):
    assert lvm.check("cat /sys/fs/cgroup/keel/limited/memory.max").strip() == str(32 << 20)
    assert lvm.check("cat /sys/fs/cgroup/keel/limited/pids.max").strip() == "16"
    assert lvm.check("cat /sys/fs/cgroup/keel/limited/cpu.max").strip() == "20000 100000"


def test_memory_hog_is_oom_killed_and_the_reason_kept(lvm):
    lvm.wait_console(r"keel: hog: killed by SIGKILL \(out of memory: the OOM killer fired in the unit's cgroup\)\n",
                     timeout=90)
    status, out = lvm.run("initctl status hog")
    assert "Last exit: killed by SIGKILL (out of memory" in out, out
    assert lvm.status_table()["hog"]["state"] == "failed"


def test_tasks_max_stops_a_fork_storm(lvm):
    # The fourth task is refused (EAGAIN); BusyBox sh then gives up with code 2.
    lvm.wait_console(r"forker\| /bin/sh: can't fork: Resource temporarily unavailable\n", timeout=90)
    lvm.wait_console(r"keel: forker: exited with code 2\n", timeout=90)
    assert "forker| forks-done" not in lvm.console
    table = lvm.status_table()  # PID 1 and the other units carry on
    assert table["forker"]["state"] == "failed" and table["limited"]["state"] == "running", table


def test_output_burst_is_not_lost(lvm):
    lvm.wait_console(r"burst\| burst-line-399\n", timeout=90)
    # The kernel prints PID 1's own lines (kmsg) straight to the UART, so one can land in the
    # middle of a container line the tty was sending ("burst| bu[ 1.41] keel: …\nrst-line-248"):
    # spliced, not lost. Take such lines out before counting.
    console = re.sub(r"\[\s*\d+\.\d+\] [^\n]*\n", "", lvm.console)
    got = [int(n) for n in re.findall(r"burst\| burst-line-(\d+)\n", console)]
    assert got == list(range(400)), f"missing lines: {sorted(set(range(400)) - set(got))[:20]}"
    assert "dropped" not in lvm.check("initctl status burst")


def test_units_without_limits_have_none(vm):
    assert vm.check("cat /sys/fs/cgroup/keel/worker/memory.max").strip() == "max"
    assert vm.check("cat /sys/fs/cgroup/keel/worker/pids.max").strip() == "max"


def test_full_run_and_tmp_leave_the_machine_working(lvm):
    """/run, /tmp and /dev/shm filled together (from the console, outside any cgroup) cannot take
    the machine's memory: PID 1 answers, a unit restarts, the shell runs commands."""
    sizes = {}
    for d in ("/run", "/tmp", "/dev/shm"):
        status, out = lvm.run(f"dd if=/dev/zero of={d}/fill bs=1M 2>&1; df -k {d} | tail -1", timeout=300)
        assert "No space left on device" in out, out
        sizes[d] = int(out.split()[-5])  # df: filesystem, size, used, available, use%, mount
    total = int(lvm.check("awk '/MemTotal/ {print $2}' /proc/meminfo"))
    assert sum(sizes.values()) <= 0.6 * total, (sizes, total)
    try:
        table = lvm.status_table()
        assert table["limited"]["state"] == "running", table
        mark = lvm.mark()
        lvm.check("initctl restart limited", timeout=120)
        lvm.wait_console(r"keel: limited: running \(pid \d+\)\n", timeout=120, since=mark)
        avail = int(lvm.check("awk '/MemAvailable/ {print $2}' /proc/meminfo"))
        assert avail > 0.2 * total, f"MemAvailable {avail} kB of {total} kB with /run, /tmp, /dev/shm full"
    finally:
        lvm.run("rm -f /run/fill /tmp/fill /dev/shm/fill")
