# SPDX-License-Identifier: MIT
"""Network=bridge with keel's real PID 1 on the host (see test_pid1_namespace.py). PID 1 runs in
a network namespace of its own, so keel0, the veths and the `ip keel` nft table are private to
it: nothing here touches the host's network."""
import re
import shutil
import subprocess
import time

import pytest

from test_pid1_namespace import module_pid1

BB = "Rootfs=/usr/share/keel/rootfs/busybox"
LOOP = "trap \"exit 0\" TERM; while :; do sleep 1 & wait $!; done"

UNITS = {
    # A web server, and a client that finds it by unit name through /etc/hosts.
    "web": f"""[Container]
{BB}
Exec=/bin/sh -c 'echo "<h1>from web</h1>" > /www/index.html; echo ip=$(ip -4 -o addr show eth0 | awk "{{print \\$4}}"); httpd -f -p 80 -h /www'
PublishPort=8080:80
""",
    "client": f"""[Container]
{BB}
AddHost=extra.example:192.0.2.7
DNS=192.0.2.53
Exec=/bin/sh -c 'cat /etc/hosts /etc/resolv.conf; ls /sys/class/net | tr "\\n" " "; echo; for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web/ && break; sleep 1; done; ping -c1 -W2 web >/dev/null && echo ping=ok; echo done=1; {LOOP}'
""",
    "fixed": f"""[Container]
{BB}
IP=10.88.200.1
Exec=/bin/sh -c 'ip -4 -o addr show eth0; {LOOP}'
""",
    "isolated": f"""[Container]
{BB}
Network=none
Exec=/bin/sh -c 'echo links=$(ls /sys/class/net | tr "\\n" " "); {LOOP}'
""",
    # zz* sort after the units they collide with: the second unit is the one in error.
    "zzsameip": f"[Container]\n{BB}\nIP=10.88.200.1\nExec=/bin/true\n",
    "zzsameport": f"[Container]\n{BB}\nPublishPort=8080:8080\nExec=/bin/true\n",
    "zzoutside": f"[Container]\n{BB}\nIP=10.99.0.1\nExec=/bin/true\n",
    "flapper": f"""[Container]
{BB}
PublishPort=9090:90
Exec=/bin/sh -c 'exit 1'
[Service]
Restart=always
RestartSec=10ms
RestartMaxDelaySec=10ms
""",
}


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    yield from module_pid1(tmp_path_factory, "net", UNITS)


def unit_lines(p, unit):
    return [l.split("| ", 1)[1] for l in p.lines if l.startswith(f"{unit}| ")]


def test_bridge_is_up(net):
    net.wait_for(r"bridge keel0: 10\.88\.0\.1/16")
    rc, out = net.enter("/bin/busybox", "ip", "-4", "-o", "addr", "show", "keel0")
    assert "10.88.0.1/16" in out, out


def test_containers_reach_each_other_by_name(net):
    net.wait_for(r"^client\| done=1", timeout=60)
    lines = unit_lines(net, "client")
    assert "<h1>from web</h1>" in lines, lines
    assert "ping=ok" in lines, lines
    web_ip = re.search(r"ip=(10\.88\.\d+\.\d+)/16", "\n".join(unit_lines(net, "web"))).group(1)
    assert f"{web_ip}\tweb" in lines, "/etc/hosts names every bridged unit"
    assert "192.0.2.7\textra.example" in lines, "AddHost="
    assert "nameserver 192.0.2.53" in lines, "DNS="
    assert "eth0 lo " in lines, "a bridged container has eth0 and lo"


def test_static_ip_and_conflicts(net):
    net.wait_for(r"^fixed\| .*10\.88\.200\.1/16")
    rc, out = net.enter("/bin/initctl", "status", "zzsameip")
    assert "invalid" in out and "IP=: 10.88.200.1 is already used by fixed" in out, out
    assert re.search(r"zzsameip\.container:3: IP=", out), out
    rc, out = net.enter("/bin/initctl", "status", "zzsameport")
    assert "invalid" in out and "tcp port 8080 is already published by web" in out, out
    rc, out = net.enter("/bin/initctl", "status", "zzoutside")
    assert "outside the bridge subnet" in out, out
    rc, out = net.enter("/bin/initctl", "status", "fixed")
    assert "running" in out, "the first unit is unaffected"


def test_network_none_sees_only_lo(net):
    net.wait_for(r"^isolated\| links=")
    assert "links=lo" in unit_lines(net, "isolated"), unit_lines(net, "isolated")


def published(net):
    """The `ip keel` table's rules, from the host's nft inside PID 1's network namespace."""
    if not shutil.which("nft"):
        return None
    r = subprocess.run(["nsenter", "-t", str(net.init_pid()), "-n", "nft", "list", "table", "ip", "keel"],
                       capture_output=True, text=True, timeout=30)
    return r.stdout


def test_restarts_leak_nothing(net):
    """A unit with a published port that fails 200 times: links, addresses and nft rules
    with it stopped before and after are the same."""
    def snapshot():
        _, links = net.enter("/bin/ls", "/sys/class/net")
        _, addrs = net.enter("/bin/busybox", "ip", "-o", "addr")
        _, fds = net.enter("/bin/ls", "/proc/1/fd")
        return sorted(links.split()), len(addrs.splitlines()), len(fds.split()), published(net)

    def exits():
        return len([l for l in net.lines if re.search(r"flapper: exited with code 1", l)])

    net.wait_for(r"flapper: exited with code 1", count=3)
    net.enter("/bin/initctl", "stop", "flapper")
    net.wait_for(r"flapper: restart cancelled|flapper: stopped")
    before = snapshot()
    assert len([l for l in before[0] if l.startswith("keel-")]) == 3, before  # web, client, fixed
    n = exits()
    net.enter("/bin/initctl", "start", "flapper")
    net.wait_for(r"flapper: exited with code 1", count=n + 200, timeout=300)
    net.enter("/bin/initctl", "stop", "flapper")
    net.wait_for(r"flapper: restart cancelled|flapper: stopped", count=2)
    time.sleep(0.2)
    after = snapshot()
    assert after[:3] == before[:3], (before, after)
    if before[3] is not None:
        assert after[3] == before[3]
        assert "9090" not in after[3] and "8080" in after[3], after[3]
