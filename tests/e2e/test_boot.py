# SPDX-License-Identifier: MIT
"""The default image (units/*.container baked in) boots, sets the machine up as DESIGN.md's
"Boot flow" says, runs its three example containers and powers off cleanly.

One VM for the whole module; test_poweroff_is_clean must stay the last test."""
import re


# The mount table PID 1 sets up (DESIGN.md, boot flow step 3): mount point -> fs type.
EXPECTED_MOUNTS = {
    "/proc": "proc",
    "/sys": "sysfs",
    "/dev": "devtmpfs",
    "/dev/pts": "devpts",
    "/dev/shm": "tmpfs",
    "/run": "tmpfs",
    "/tmp": "tmpfs",
    "/sys/fs/cgroup": "cgroup2",
}


def test_boots_to_ready(vm):
    assert "keel: PID 1 started" in vm.console
    # "other" may count the crasher if it already exited on a slow machine.
    assert re.search(r"keel: ready: [23] units running, 0 invalid, [01] other, [\d.]+s since boot", vm.ready_line), \
        vm.ready_line
    table = vm.status_table()
    assert set(table) == {"crasher", "httpd", "worker"}, table
    assert table["worker"]["state"] == table["httpd"]["state"] == "running", table
    assert table["crasher"]["state"] in ("starting", "running", "restarting"), table


def test_mounts(vm):
    out = vm.check("cat /proc/mounts")
    mounts = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 3:
            mounts[f[1]] = f[2]  # the last mount on a point is the visible one
    for point, fstype in EXPECTED_MOUNTS.items():
        assert mounts.get(point) == fstype, f"{point}: expected {fstype}, got {mounts.get(point)}\n{out}"
    # The root left the initramfs: pivot_root(2) refuses a root mount that is its own parent
    # (the kernel's rootfs); keel's "/" is a bind mount of it, whose parent is rootfs.
    info = vm.check("cat /proc/self/mountinfo")
    root = [l.split() for l in info.splitlines() if len(l.split()) > 4 and l.split()[4] == "/"]
    assert root, info
    mount_id, parent_id = root[-1][0], root[-1][1]
    assert mount_id != parent_id, f"/ is still the initramfs rootfs itself: {root[-1]}"
    ctrl = vm.check("cat /sys/fs/cgroup/keel/cgroup.subtree_control").split()
    for c in ("cpu", "memory", "pids", "io"):
        assert c in ctrl, f"controller {c} not enabled for /sys/fs/cgroup/keel: {ctrl}"


def test_hostname(vm):
    assert vm.check("hostname").strip() == "keel"
    assert vm.check("cat /proc/sys/kernel/hostname").strip() == "keel"


def test_loopback_is_up(vm):
    flags = int(vm.check("cat /sys/class/net/lo/flags").strip(), 16)
    assert flags & 0x1, f"lo is not IFF_UP (flags {flags:#x})"
    assert "127.0.0.1" in vm.check("ip -4 addr show dev lo")


def test_pid1_reaps_orphans(vm):
    # The inner sh exits at once, so the sleep is re-parented to PID 1, which must reap it
    # when it ends. We poll (no fixed wait) until the sleep is gone or a zombie stays.
    script = r"""
P=$(sh -c 'sleep 2 </dev/null >/dev/null 2>&1 & echo $!')
echo "pid=$P"
field() { cut -d' ' -f"$1" /proc/$P/stat 2>/dev/null; }
n=0; while [ -e /proc/$P ] && [ "$(field 4)" != 1 ] && [ $n -lt 250 ]; do n=$((n+1)); usleep 20000; done
echo "ppid=$(field 4)"
n=0; while [ -e /proc/$P ] && [ "$(field 3)" != Z ] && [ $n -lt 3000 ]; do n=$((n+1)); usleep 20000; done
n=0; while [ -e /proc/$P ] && [ $n -lt 500 ]; do n=$((n+1)); usleep 20000; done
echo "final=$(cat /proc/$P/stat 2>/dev/null || echo gone)"
"""
    out = vm.check(script, timeout=120)
    assert re.search(r"^pid=\d+\n", out, re.M), out
    assert "ppid=1\n" in out, f"the orphan was not re-parented to PID 1:\n{out}"
    assert "final=gone" in out, f"PID 1 left the orphan unreaped (zombie):\n{out}"


def test_containers_in_own_pid_namespace(vm):
    pid = vm.status_table()["worker"]["pid"]
    assert pid, "worker has no main pid"
    nspid = vm.check(f"grep '^NSpid:' /proc/{pid}/status").split()
    assert len(nspid) >= 3 and nspid[-1] == "1", f"worker (pid {pid}) is not PID 1 of a nested namespace: {nspid}"
    ns_worker = vm.check(f"readlink /proc/{pid}/ns/pid").strip()
    ns_init = vm.check("readlink /proc/1/ns/pid").strip()
    assert ns_worker.startswith("pid:[") and ns_init.startswith("pid:["), (ns_worker, ns_init)
    assert ns_worker != ns_init
    cmdline = vm.check(f"tr '\\0' ' ' </proc/{pid}/cmdline; echo").strip()
    assert cmdline.startswith("/bin/sh -c trap"), cmdline
    # Its "/" is the container's root, not the host's.
    devs = vm.check(f"stat -L -c %d:%i /proc/{pid}/root/ /proc/1/root/").split()
    assert len(devs) == 2 and devs[0] != devs[1], devs
    procs = vm.check("cat /sys/fs/cgroup/keel/worker/cgroup.procs").split()
    assert str(pid) in procs, f"pid {pid} not in the worker cgroup: {procs}"


def test_httpd_serves_page(vm):
    # httpd may still be binding its port right after boot: retry for a while.
    out = vm.check("n=0; until wget -qO- http://127.0.0.1/; do n=$((n+1)); [ $n -lt 100 ] || exit 1; "
                   "usleep 100000; done", timeout=60)
    assert "Hello from keel" in out


def test_container_output_reaches_console(vm):
    vm.wait_console(r"worker\| tick \d+ from worker\n", timeout=60)


def test_crasher_is_restarted(vm):
    vm.wait_console(r"keel: crasher: exited with code 3; restarting in 5\.000s", count=2, timeout=120)
    row = vm.status_table()["crasher"]
    assert row["restarts"] is not None and row["restarts"] >= 1, row
    status, out = vm.run("initctl status crasher")
    assert status in (0, 3), out
    assert re.search(r"Last exit: exited with code 3\b", out), out


def test_initctl_exit_codes(vm):
    assert vm.run("initctl")[0] == 2
    assert vm.run("initctl --bogus")[0] == 2
    assert vm.run("initctl frobnicate")[0] == 2
    assert vm.run("initctl start")[0] == 2
    status, out = vm.run("initctl status nosuchunit")
    assert status == 1 and "unknown unit 'nosuchunit'" in out, (status, out)
    assert vm.run("initctl stop nosuchunit")[0] == 1
    assert vm.run("initctl status worker")[0] == 0


def test_pid1_logs_to_kmsg(vm):
    # The kernel check runs once the units are up, so it may still be running after "ready".
    vm.wait_console(r"keel: kernel check: [^\n]*\n", timeout=60)
    # Tagged so that run() does not take them for interleaved console lines.
    out = vm.check(r"dmesg | sed -n 's/^\[ *[0-9.]*\] keel: /KMSG:/p'")
    assert "KMSG:PID 1 started (keel" in out, out
    assert "KMSG:ready:" in out, out
    # Every boot line, not the first ten: /dev/kmsg's default rate limit would drop the rest.
    for line in ("left the initramfs root", "cgroup2 mounted", "loaded 3 units", "kernel check:",
                 "httpd: running", "worker: running", "crasher: running"):
        assert f"KMSG:{line}" in out, f"{line!r} missing from dmesg:\n{out}"
    assert "suppressed due to ratelimiting" not in vm.check("dmesg"), "kmsg rate limit still on"


def test_container_privileges(vm):
    """Docker's 14 capabilities in bounding/permitted/effective, none inheritable or ambient,
    no_new_privs, and only fds 0-2, as seen from the host side of the worker container."""
    pid = vm.status_table()["worker"]["pid"]
    status = vm.check(f"cat /proc/{pid}/status")
    fields = dict(l.split(":", 1) for l in status.splitlines() if ":" in l)
    for cap in ("CapBnd", "CapPrm", "CapEff"):
        assert fields[cap].strip() == "00000000a80425fb", (cap, status)
    assert fields["CapInh"].strip() == fields["CapAmb"].strip() == "0000000000000000", status
    assert fields["NoNewPrivs"].strip() == "1", status
    assert sorted(vm.check(f"ls /proc/{pid}/fd").split()) == ["0", "1", "2"]


def test_masked_and_readonly_paths(vm):
    """Inside the worker container: /proc/keys and friends are empty, /sys/firmware is empty,
    /proc/sys is read-only; /proc is the container's own."""
    pid = vm.status_table()["worker"]["pid"]
    enter = f"nsenter -t {pid} -m -r sh -c"
    out = vm.check(enter + " 'for p in /proc/keys /proc/timer_list /proc/interrupts /proc/kcore; do "
                           "if [ -e $p ]; then echo $p $(cat $p | wc -c); fi; done; echo fw $(ls /sys/firmware | wc -l)'")
    seen = dict(l.split() for l in out.splitlines())
    assert "/proc/keys" in seen and set(seen.values()) == {"0"}, out
    status, out = vm.run(enter + " 'echo 1 > /proc/sys/kernel/printk_ratelimit'")
    assert "Read-only file system" in out, out
    assert vm.check(enter + " 'cat /proc/1/comm'").strip() == "sh"


def test_cgroup_namespace(vm):
    """The container has its own cgroup namespace, and its /sys/fs/cgroup is its own cgroup,
    read-only."""
    pid = vm.status_table()["worker"]["pid"]
    assert vm.check(f"readlink /proc/{pid}/ns/cgroup") != vm.check("readlink /proc/1/ns/cgroup")
    enter = f"nsenter -t {pid} -m -r sh -c"
    # The mount's root is the unit's cgroup: its procs are the worker's (host pids here).
    assert str(pid) in vm.check(enter + " 'cat /sys/fs/cgroup/cgroup.procs'").split()
    assert "keel" not in vm.check(enter + " 'ls /sys/fs/cgroup'").split()  # nothing above it
    status, out = vm.run(enter + " 'mkdir /sys/fs/cgroup/escape'")
    assert status != 0 and "Read-only file system" in out, out


def test_poweroff_is_clean(vm):
    line = vm.poweroff()
    assert re.search(r"system down for poweroff \(clean: \d+ units stopped, \d+ leftover processes\)", line), line
    assert vm.exit_status == 0, f"QEMU exited with {vm.exit_status}"
