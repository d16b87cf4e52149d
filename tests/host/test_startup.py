# SPDX-License-Identifier: MIT
"""PID 1 stays responsive while it starts many units (issue 11, item 4): it spawns a few per
turn of its loop and serves initctl in between, instead of spawning every unit in one pass.

The proof needs no clock: a reload that adds 300 units is answered at once, and a status
request sent the moment that answer arrives is answered while most of the 300 still wait
their turn. Before the pacing, reload answered only after the last spawn, and the status
after it showed none waiting."""
import socket
import time

import pytest

from test_pid1_namespace import module_pid1

UNIT = """[Container]
Rootfs=/usr/share/keel/rootfs/busybox
Exec=/bin/sleep 100000
Network=none
[Service]
KillSignal=SIGKILL
"""
ADDED = 300


@pytest.fixture(scope="module")
def pid1(tmp_path_factory):
    yield from module_pid1(tmp_path_factory, "startup", {"first": UNIT}, timeout=120)


def connect(pid1):
    """A connection to PID 1's control socket, from the host, through its root."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)
    s.connect(f"/proc/{pid1.init_pid()}/root/run/keel/initctl.sock")
    return s


def request(s, line):
    s.sendall(f"keel1 {line}\n".encode())
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    s.close()
    return out.decode()


def states(reply):
    lines = reply.splitlines()
    assert lines[0] == "keel1 0", reply
    return {l.split()[0]: l.split()[1] for l in lines[2:] if l.split()}


def test_status_is_answered_while_a_reload_starts_many_units(pid1):
    for i in range(ADDED):
        (pid1.root / f"etc/keel/units/many{i:03d}.container").write_text(UNIT)
    later = connect(pid1)  # connected now, so that nothing but PID 1 stands between the two
    reply = request(connect(pid1), "reload")
    assert f"reload: {ADDED} new" in reply, reply
    during = states(request(later, "status"))
    added = {k: v for k, v in during.items() if k.startswith("many")}
    assert len(added) == ADDED, during
    waiting = sum(v == "waiting" for v in added.values())
    assert waiting > 0, f"every unit was spawned before PID 1 answered: {sorted(set(added.values()))}"

    # The queue drains: every unit runs, and none failed on the way.
    deadline = time.monotonic() + 300
    while True:
        now = states(request(connect(pid1), "status"))
        if all(v == "running" for k, v in now.items()):
            break
        assert not any(v == "failed" for v in now.values()), now
        assert time.monotonic() < deadline, {v: list(now.values()).count(v) for v in set(now.values())}
        time.sleep(0.5)
    assert len(now) == ADDED + 1


def test_poweroff_stops_every_unit(pid1):
    # 301 units go down in turns of bounded reaping, and PID 1 still ends the namespace.
    reply = request(connect(pid1), "poweroff")
    assert reply.startswith("keel1 0"), reply
    pid1.wait_for(r"system down for poweroff \(clean: 301 units stopped", timeout=300)
    pid1.proc.wait(timeout=60)
