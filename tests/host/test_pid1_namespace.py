# SPDX-License-Identifier: MIT
"""keel-init as PID 1 of fresh namespaces on the host, chrooted into the image's own root.

The whole supervisor runs for real — units load, containers spawn in their own
namespaces, exits are reaped and restarted, initctl talks over the socket — with no QEMU.
With `container=` in its environment PID 1 logs to stderr and leaves the console alone;
reboot(2) in a PID namespace only ends that namespace.
"""
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

UNITS = {
    "sleeper": """[Container]
Rootfs=/usr/share/keel/rootfs/busybox
Exec=/bin/sh -c 'trap "exit 0" TERM; echo sleeper up in $(hostname); while :; do sleep 1 & wait $!; done'
""",
    "capper": """[Container]
Rootfs=/usr/share/keel/rootfs/busybox
Exec=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 1 & wait $!; done'
DropCapability=ALL
AddCapability=NET_BIND_SERVICE
NoNewPrivileges=no
""",
    "ro": """[Container]
Rootfs=/usr/share/keel/rootfs/busybox
ReadOnly=yes
WorkingDir=/tmp
Exec=/bin/sh -c 'trap "exit 0" TERM; echo cwd=$(pwd); touch /x; touch /tmp/t && echo tmp-writable; while :; do sleep 1 & wait $!; done'
""",
    "badcwd": """[Container]
Rootfs=/usr/share/keel/rootfs/busybox
WorkingDir=/bin/sh
Exec=/bin/true
""",
    "crash": """[Container]
Rootfs=/usr/share/keel/rootfs/busybox
Exec=/bin/sh -c 'echo crashing; exit 3'
[Service]
Restart=on-failure
RestartSec=200ms
""",
    "broken": """[Container]
Rootfs=/usr/share/keel/rootfs/busybox
Exce=/bin/true
""",
    "nope": """[Container]
Rootfs=/usr/share/keel/rootfs/busybox
Exec=/bin/nope
""",
}


class Pid1:
    def __init__(self, root, units=None, cmdline=""):
        for name, text in (UNITS if units is None else units).items():
            (root / f"etc/keel/units/{name}.container").write_text(text)
        env = {"container": "keel-test", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "KEEL_CMDLINE": cmdline}
        self.proc = subprocess.Popen(
            # The root must be a mount point stacked on "/", as on the real machine, where PID 1
            # leaves the initramfs that way: pivot_root(2) and mount propagation changes refuse
            # a chroot into a plain directory, and a container's user namespace is refused to
            # a process whose root is not the top of its namespace's "/" (current_chrooted()).
            ["unshare", "--mount", "--pid", "--uts", "--ipc", "--net", "--fork", "--kill-child",
             "/bin/sh", "-c", 'mount --bind "$0" "$0" && cd "$0" && mount --move . / && exec chroot . /sbin/init',
             str(root)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True, bufsize=1)
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, pattern, timeout=60, count=1):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        hits, seen = [], 0
        with self.cond:
            while True:
                # Only the lines that came since the last look: rescanning them all under the
                # lock at every line made the reader thread wait, PID 1's stdout pipe fill and
                # PID 1 block writing to it (hundreds of thousands of lines in the load tests).
                hits += [l for l in self.lines[seen:] if rx.search(l)]
                seen = len(self.lines)
                if len(hits) >= count:
                    return hits
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self.proc.stdout.readable()):
                    raise AssertionError(f"no {count}x /{pattern}/ within {timeout}s; output:\n" +
                                         "\n".join(self.lines))
                self.cond.wait(min(left, 1))

    def init_pid(self):
        """Host pid of the namespace's PID 1: unshare's only child."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                kids = open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read().split()
                if kids:
                    return int(kids[0])
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        raise AssertionError("PID 1 of the namespace did not appear")

    def enter(self, *cmd, timeout=30):
        """Runs cmd inside PID 1's namespaces and root."""
        p = subprocess.run(["nsenter", "-t", str(self.init_pid()), "-m", "-p", "-u", "-n", "-i", "-r", *cmd],
                           capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout + p.stderr


def unit_pid(pid1, unit):
    """The unit's main pid (as PID 1's namespace sees it), from `initctl status`."""
    rc, out = pid1.enter("/bin/initctl", "status")
    return next(l.split()[2] for l in out.splitlines() if l.split() and l.split()[0] == unit)


def proc_status(pid1, unit):
    """/proc/PID/status of the unit's main process as a dict, and the raw text."""
    rc, status = pid1.enter("/bin/cat", f"/proc/{unit_pid(pid1, unit)}/status")
    return {k: v.strip() for k, v in (l.split(":\t", 1) for l in status.splitlines() if ":\t" in l)}, status


# The host's cgroup v2 hierarchy, which PID 1 mounts again inside its namespace.
HOST_CGROUP = "/sys/fs/cgroup/unified" if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs") else "/sys/fs/cgroup"


def remove_unit_cgroups():
    """Units killed with their namespace leave their cgroups: remove them (best effort)."""
    keel = os.path.join(HOST_CGROUP, "keel")
    if os.path.isdir(keel):
        for d in os.listdir(keel):
            p = os.path.join(keel, d)
            if os.path.isdir(p):
                try:
                    with open(os.path.join(p, "cgroup.freeze"), "w") as f:
                        f.write("0")
                    with open(os.path.join(p, "cgroup.kill"), "w") as f:
                        f.write("1")
                except OSError:
                    pass
                for _ in range(50):
                    try:
                        os.rmdir(p)
                        break
                    except OSError:
                        time.sleep(0.1)


def run_pid1(root, timeout=60, **kwargs):
    """Runs PID 1 in root until the generator is closed; yields it once boot is ready."""
    p = Pid1(root, **kwargs)
    p.root = root
    try:
        p.wait_for(r"ready: \d+ units", timeout=timeout)
        yield p
    finally:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait(timeout=10)
        remove_unit_cgroups()


def module_pid1(tmp_path_factory, name, units, prepare=None, timeout=120):
    """For a module fixture: the default image unpacked in a fresh root (prepare(root) may add
    to it), and PID 1 running there with these units until the module is done."""
    from hostenv import unpack_image
    root = tmp_path_factory.mktemp(name) / "root"
    root.mkdir()
    unpack_image(root)
    if prepare:
        prepare(root)
    try:
        yield from run_pid1(root, units=units, timeout=timeout)
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)


@pytest.fixture
def pid1(image_root):
    yield from run_pid1(image_root)


def test_units_run_restart_and_report(pid1):
    pid1.wait_for(r"sleeper\| sleeper up in sleeper")  # own UTS namespace: hostname = unit name
    pid1.wait_for(r"crash: exited with code 3; restarting in 200ms", count=2)
    rc, out = pid1.enter("/bin/initctl", "status")
    assert rc == 0, out
    rows = {l.split()[0]: l.split() for l in out.splitlines()[1:]}
    assert rows["sleeper"][1] == "running"
    assert rows["broken"][1] == "invalid"
    assert rows["nope"][1] == "failed"
    assert int(rows["crash"][3]) >= 1, out

    rc, out = pid1.enter("/bin/initctl", "status", "broken")
    assert rc == 3
    assert re.search(r"broken.container:3: unknown key 'Exce' in \[Container\]; did you mean 'Exec'\?", out), out

    rc, out = pid1.enter("/bin/initctl", "status", "nope")
    assert "spawn failed: /bin/nope: not found in rootfs /usr/share/keel/rootfs/busybox" in out, out


def test_container_is_pid1_of_its_namespace(pid1):
    fields, status = proc_status(pid1, "sleeper")
    assert fields["NSpid"].split()[-1] == "1", status


def test_orphans_are_reaped(pid1):
    # The sleeps outlive their shells and are re-parented to keel's PID 1, which must reap them.
    rc, out = pid1.enter("/bin/sh", "-c", "for i in 1 2 3 4 5; do (sleep 0.3 &) ; done; echo spawned")
    assert "spawned" in out
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rc, ps = pid1.enter("/bin/sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null")
        zombies = [l for l in ps.splitlines() if re.match(r"\d+ \(sleep\) Z", l)]
        sleeping = [l for l in ps.splitlines() if re.match(r"\d+ \(sleep\) [SR]", l) and " 1 " in l[:40]]
        if not zombies and not sleeping:
            break
        time.sleep(0.2)
    assert not zombies, zombies


def control(pid1, payload, close_write=True):
    """Sends raw bytes to PID 1's control socket (reached through /proc/PID/root)."""
    path = f"/proc/{pid1.init_pid()}/root/run/keel/initctl.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(20)
        c.connect(path)
        c.sendall(payload)
        if close_write:
            c.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := c.recv(65536):
            data += chunk
        return data.decode(errors="replace")


def test_control_socket_survives_bad_clients(pid1):
    assert control(pid1, b"GET / HTTP/1.0\n").startswith("keel1 2\nbad request")
    assert "request too long" in control(pid1, b"x" * 5000)
    assert control(pid1, b"\x00\xff\xfe garbage\n").startswith("keel1 2")
    # A client that connects and says nothing must not block anyone else.
    path = f"/proc/{pid1.init_pid()}/root/run/keel/initctl.sock"
    idle = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(5)]
    for s in idle:
        s.connect(path)
    try:
        start = time.monotonic()
        out = control(pid1, b"keel1 status\n")
        assert out.startswith("keel1 0\nUNIT"), out
        assert time.monotonic() - start < 4  # not stuck behind the idle clients' 5 s timeout
    finally:
        for s in idle:
            s.close()
    rc, out = pid1.enter("/bin/initctl", "frobnicate")
    assert rc == 2 and "unknown command 'frobnicate'" in out
    rc, out = pid1.enter("/bin/initctl", "status", "ghost")
    assert rc == 1 and "unknown unit 'ghost'" in out
    rc, out = pid1.enter("/bin/initctl")
    assert rc == 2 and "Usage: initctl" in out


def test_stop_start_and_clean_shutdown(pid1):
    rc, out = pid1.enter("/bin/initctl", "stop", "sleeper")
    assert rc == 0, out
    pid1.wait_for(r"sleeper: stopped \(exited with code 0\)")
    rc, out = pid1.enter("/bin/initctl", "start", "sleeper")
    assert rc == 0, out
    pid1.wait_for(r"sleeper\| sleeper up", count=2)

    os.kill(pid1.init_pid(), signal.SIGTERM)
    line = pid1.wait_for(r"system down for poweroff")[0]
    assert "(clean:" in line, line
    assert pid1.proc.wait(timeout=30) is not None


DOCKER_CAPS = "00000000a80425fb"  # CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID
#                                   SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE


def test_container_privileges(pid1):
    fields, status = proc_status(pid1, "sleeper")
    for cap in ("CapBnd", "CapPrm", "CapEff"):
        assert fields[cap] == DOCKER_CAPS, (cap, status)
    assert fields["CapInh"] == "0" * 16, status  # CVE-2022-24769
    assert fields["CapAmb"] == "0" * 16, status
    assert fields["NoNewPrivs"] == "1", status
    # Only stdin, stdout and stderr reach the container.
    rc, fds = pid1.enter("/bin/ls", f"/proc/{unit_pid(pid1, 'sleeper')}/fd")
    assert sorted(fds.split()) == ["0", "1", "2"], fds


def in_container(pid1, unit, script):
    """Runs a shell script inside unit's container: its mount namespace and root."""
    pid = unit_pid(pid1, unit)
    return pid1.enter("/usr/bin/nsenter", "-t", pid, "-m", "-r", "/bin/sh", "-c", script)


def test_masked_and_readonly_paths(pid1):
    # Each masked path is absent on this kernel, or empty inside the container.
    script = ("for p in /proc/kcore /proc/keys /proc/timer_list /proc/interrupts /proc/sched_debug; do "
              "if [ -e $p ]; then echo $p $(cat $p | wc -c); fi; done; echo firmware $(ls /sys/firmware | wc -l)")
    rc, out = in_container(pid1, "sleeper", script)
    seen = dict(l.split() for l in out.splitlines())
    assert len(seen) >= 3, out  # /proc/keys, /proc/interrupts, /proc/timer_list at least
    assert set(seen.values()) == {"0"}, out
    rc, out = in_container(pid1, "sleeper", "echo 1 > /proc/sys/kernel/printk_ratelimit")
    assert "Read-only file system" in out, out
    # /proc itself is still a real, writable-where-allowed procfs of the container's pid namespace
    rc, out = in_container(pid1, "sleeper", "cat /proc/1/cmdline | tr '\\0' ' '")
    assert out.startswith("/bin/sh -c"), out


def test_capability_keys(pid1):
    fields, status = proc_status(pid1, "capper")
    for cap in ("CapBnd", "CapPrm", "CapEff"):
        assert fields[cap] == "0000000000000400", (cap, status)  # NET_BIND_SERVICE only
    assert fields["NoNewPrivs"] == "0", status


def test_cgroup_namespace(pid1):
    rc, out = in_container(pid1, "sleeper", "mkdir /sys/fs/cgroup/escape")
    assert "Read-only file system" in out, out
    rc, out = pid1.enter("/bin/cat", f"/proc/{unit_pid(pid1, 'sleeper')}/cgroup")
    assert out.strip().endswith("/keel/sleeper"), out  # as seen from outside: born in its cgroup


def test_read_only_root_and_working_dir(pid1):
    pid1.wait_for(r"ro\| cwd=/tmp$")
    pid1.wait_for(r"ro\| touch: /x: Read-only file system")
    pid1.wait_for(r"ro\| tmp-writable")
    pid1.wait_for(r"badcwd: spawn failed: working directory /bin/sh: Not a directory")


def test_unit_stuck_in_setup_does_not_hold_back_boot(image_root):
    # The unit's cgroup exists already and is frozen: its container is born frozen
    # (CLONE_INTO_CGROUP) and never reaches exec.
    stuck = os.path.join(HOST_CGROUP, "keel", "stuck")
    os.makedirs(stuck, exist_ok=True)
    with open(os.path.join(stuck, "cgroup.freeze"), "w") as f:
        f.write("1")
    units = {"stuck": UNITS["sleeper"], "fine": UNITS["sleeper"]}
    gen = run_pid1(image_root, units=units, cmdline="keel.ready_timeout=2s")
    p = next(gen)
    try:
        p.wait_for(r"stuck: still setting up after 2\.000s; not waiting for it any longer")
        line = p.wait_for(r"ready: \d+ units")[0]
        assert "1 units running" in line and "1 other" in line, line
        rc, out = p.enter("/bin/initctl", "status")  # PID 1 answers; the stuck unit shows as such
        assert re.search(r"^stuck +starting", out, re.M), out
    finally:
        gen.close()
