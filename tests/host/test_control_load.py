# SPDX-License-Identifier: MIT
"""The control socket always answers (issue 11, item 3): hundreds of idle connections and
stalled `logs -f` followers do not keep `initctl status`, `stop` or `poweroff` out, stalled
followers are dropped rather than held, and past the connection cap the least recently active
client makes way. keel's PID 1 runs in fresh namespaces (see test_pid1_namespace.py); the test
connects to its socket through /proc/PID/root, as root."""
import contextlib
import os
import re
import resource
import socket
import subprocess
import threading
import time

import pytest

from test_pid1_namespace import module_pid1

BB = "Rootfs=/usr/share/keel/rootfs/busybox"
SLEEP = "while :; do sleep 1 & wait $!; done"
UNITS = {
    # Prints a burst of ~1.3 MB at each start: more than a follower's socket buffer and the
    # backlog PID 1 keeps for it.
    "burst": f"[Container]\n{BB}\nExec=/bin/sh -c 'trap \"exit 0\" TERM; yes "
             f"burst-line-padded-to-sixty-four-bytes-with-text-xxxxxxxxxxxxxxxx | head -n 20000; {SLEEP}'\n",
    "quiet": f"[Container]\n{BB}\nExec=/bin/sh -c 'trap \"exit 0\" TERM; echo quiet-up; {SLEEP}'\n",
    "other": f"[Container]\n{BB}\nExec=/bin/sh -c 'trap \"exit 0\" TERM; echo other-up; {SLEEP}'\n",
}
CAP = 1024  # CONTROL_CLIENTS_MAX
FOLLOWERS_MAX = 256  # CONTROL_FOLLOWERS_MAX


@pytest.fixture(scope="module")
def load(tmp_path_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    for pid1 in module_pid1(tmp_path_factory, "ctlload", UNITS):
        for up in (r"quiet\| quiet-up", r"other\| other-up", r"burst\| burst-line"):
            pid1.wait_for(up)
        # The listener and PID 1's own, once no spawn holds a status socket any more.
        counts = [pid1_sockets(pid1)]
        while len(counts) < 10 or len(set(counts[-10:])) > 1:
            time.sleep(0.1)
            counts.append(pid1_sockets(pid1))
        pid1.base_sockets = counts[-1]
        yield pid1


def quiet_base(pid1):
    """PID 1's socket count once the clients of earlier tests are gone."""
    wait_until(lambda: pid1_sockets(pid1) <= pid1.base_sockets, "earlier clients gone")
    return pid1.base_sockets


def sock_path(pid1):
    return f"/proc/{pid1.init_pid()}/root/run/keel/initctl.sock"


def connect(pid1, request=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path(pid1))
    if request:
        s.sendall(request.encode())
    return s


def pid1_sockets(pid1):
    fd_dir = f"/proc/{pid1.init_pid()}/fd"
    n = 0
    for fd in os.listdir(fd_dir):
        try:
            n += os.readlink(f"{fd_dir}/{fd}").startswith("socket:")
        except FileNotFoundError:
            pass
    return n


def wait_until(cond, what, timeout=60, pid1=None):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            more = ""
            if pid1:
                fd_dir = f"/proc/{pid1.init_pid()}/fd"
                fds = sorted(os.readlink(f"{fd_dir}/{fd}") for fd in os.listdir(fd_dir))
                lines = [l for l in pid1.lines if "burst-line" not in l][-20:]
                more = "\nPID 1's fds: " + " ".join(fds) + "\nits last lines:\n" + "\n".join(lines)
            raise AssertionError(f"not within {timeout}s: {what}{more}")
        time.sleep(0.1)


def followers(pid1, n, unit):
    """n `logs -f` followers that never read, each once its header is queued."""
    fs = [connect(pid1, f"keel1 logs -f -n 0 {unit}\n") for _ in range(n)]
    return fs


def close_all(socks):
    for s in socks:
        s.close()


@contextlib.contextmanager
def crowd(pid1, n_idle=200, n_stalled=40):
    """n_idle connections that never send, and n_stalled followers of burst that never read,
    all accepted by PID 1, for the duration of the with block."""
    base = quiet_base(pid1)
    idle = [connect(pid1) for _ in range(n_idle)]
    stalled = followers(pid1, n_stalled, "burst")
    try:
        wait_until(lambda: pid1_sockets(pid1) >= base + n_idle + n_stalled,
                   f"PID 1 accepted the {n_idle + n_stalled} connections")
        yield
    finally:
        close_all(idle)
        close_all(stalled)


def test_idle_connections_and_stalled_followers_leave_room(load):
    load.wait_for(r"burst: running|burst\| burst-line", timeout=60)
    load.wait_for(r"quiet\| quiet-up")
    with crowd(load):
        rc, out = load.enter("/bin/initctl", "status")
        assert rc == 0 and re.search(r"^quiet +running", out, re.M), out
        rc, out = load.enter("/bin/initctl", "stop", "quiet")
        assert rc == 0 and "quiet: stopped" in out, out
        rc, out = load.enter("/bin/initctl", "start", "quiet")
        assert rc == 0 and "quiet: running" in out, out


def read_all(sock, into):
    """A follower that keeps reading (in a thread): what it got goes into `into`."""
    def run():
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except OSError:
                return
            if not chunk:
                return
            into.append(chunk)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_stalled_followers_are_dropped(load):
    base = quiet_base(load)
    stalled = followers(load, 40, "burst")
    reader = connect(load, "keel1 logs -f -n 0 burst\n")
    got = []
    read_all(reader, got)
    try:
        wait_until(lambda: pid1_sockets(load) >= base + 41, "PID 1 accepted the followers")
        rc, out = load.enter("/bin/initctl", "restart", "burst")  # 1.3 MB for each follower
        assert rc == 0, out
        # None of the 40 reads: each has lines waiting and makes no progress, so each is
        # dropped (CONTROL_TIMEOUT after it stalled). PID 1 holds their sockets no longer.
        wait_until(lambda: pid1_sockets(load) <= base + 1, "the 40 stalled followers dropped", timeout=90,
                   pid1=load)
        # The follower that reads stays, with the burst (lines it could not keep up with are
        # skipped and counted, not queued without bound).
        wait_until(lambda: b"".join(got).count(b"burst-line") >= 1000, "the reader got the burst")
        assert pid1_sockets(load) == base + 1
        # A stalled one, reading at last, finds what was queued for it and no more.
        stalled[0].settimeout(5)
        tail = b""
        try:
            while chunk := stalled[0].recv(1 << 16):
                tail += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        assert tail.startswith(b"keel1 0\n") and 0 < tail.count(b"burst-line") < 20000, len(tail)
        rc, out = load.enter("/bin/initctl", "status")
        assert rc == 0, out
    finally:
        close_all(stalled)
        reader.shutdown(socket.SHUT_RDWR)  # wakes its thread's recv(), which holds the socket
        reader.close()


def test_past_the_cap_the_least_recently_active_make_way(load):
    base = quiet_base(load)
    idle = [connect(load) for _ in range(CAP + 100)]
    try:
        rc, out = load.enter("/bin/initctl", "status")
        assert rc == 0 and re.search(r"^quiet +running", out, re.M), out
        # The oldest made way, and were told so; the newest are still connected.
        idle[0].settimeout(10)
        assert idle[0].recv(200) == b"keel1 1\nbusy: dropped to make room for newer clients\n"
        assert pid1_sockets(load) <= base + CAP
        idle[-1].setblocking(False)
        with pytest.raises(BlockingIOError):
            idle[-1].recv(1)
    finally:
        close_all(idle)


def test_followers_are_bounded_in_number(load):
    base = quiet_base(load)
    fs = followers(load, FOLLOWERS_MAX + 20, "quiet")
    try:
        # The newest followers got in; the least recently served made way for them.
        wait_until(lambda: pid1_sockets(load) == base + FOLLOWERS_MAX, "followers capped")
        fs[-1].settimeout(10)
        assert fs[-1].recv(100).startswith(b"keel1 0\n")
        fs[0].settimeout(10)
        assert fs[0].recv(100) == b"keel1 0\n" and fs[0].recv(100) == b"", "the oldest was closed"
        rc, out = load.enter("/bin/initctl", "status")
        assert rc == 0, out
    finally:
        close_all(fs)


def pid1_cpu_ticks(pid1):
    fields = open(f"/proc/{pid1.init_pid()}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_out_of_fds_pid1_drops_the_oldest_and_does_not_spin(load):
    base = quiet_base(load)
    pid = load.init_pid()
    nfds = len(os.listdir(f"/proc/{pid}/fd"))
    old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (nfds + 40, old[1]))
    idle = []
    try:
        idle = [connect(load) for _ in range(100)]  # 60 more than PID 1 has fds for
        ticks = pid1_cpu_ticks(load)
        time.sleep(2)
        # A listener that cannot accept stays readable: PID 1 must not poll it in a loop.
        assert pid1_cpu_ticks(load) - ticks < 50, "PID 1 spins on its listener"
        rc, out = load.enter("/bin/initctl", "status")
        assert rc == 0 and re.search(r"^quiet +running", out, re.M), out
        idle[0].settimeout(10)
        assert idle[0].recv(200) == b"keel1 1\nbusy: dropped to make room for newer clients\n"
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
        close_all(idle)


def test_initctl_follower_that_stalls_is_dropped_and_says_so(load):
    base = quiet_base(load)
    # Its stdout is a pipe nobody reads yet: initctl blocks writing, stops reading its socket.
    p = subprocess.Popen(["nsenter", "-t", str(load.init_pid()), "-m", "-p", "-u", "-n", "-i", "-r",
                          "/bin/initctl", "logs", "-f", "-n", "0", "burst"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: pid1_sockets(load) >= base + 1, "PID 1 accepted the follower")
        rc, out = load.enter("/bin/initctl", "restart", "burst")
        assert rc == 0, out
        wait_until(lambda: pid1_sockets(load) <= base, "the stalled follower dropped", timeout=90, pid1=load)
        out, err = p.communicate(timeout=60)  # reads the pipe at last: initctl drains and ends
        assert p.returncode == 1, err
        assert b"burst-line" in out and b"initctl: PID 1 ended the stream" in err, err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_poweroff_gets_through_the_crowd(load):
    with crowd(load):
        rc, out = load.enter("/bin/initctl", "poweroff")
        assert rc == 0 and "poweroff: stopping units" in out, out
        load.wait_for(r"poweroff", timeout=60)
        load.proc.wait(timeout=60)
