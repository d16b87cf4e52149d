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


# ---- initctl reload: bridge, nft table and every /etc/hosts follow the new unit set ------------
# Names of their own: a unit's cgroup is /sys/fs/cgroup/keel/NAME on the host's hierarchy, which
# the `net` PID 1 above shares.

def reload_unit(ip=None, port=None):
    return (f"[Container]\n{BB}\n" + (f"IP={ip}\n" if ip else "") + (f"PublishPort={port}\n" if port else "") +
            f"""Exec=/bin/sh -c 'echo ip=$(ip -4 -o addr show eth0 | awk "{{print \\$4}}"); {LOOP}'\n""")


RELOAD_UNITS = {
    "nr-keep": reload_unit(port="7101:80"),                      # unchanged
    "nr-gone": reload_unit(port="7102:80"),                      # removed
    "nr-moved": reload_unit(ip="10.88.60.1", port="7106:80"),    # IP= changes
    "nr-port": reload_unit(port="7103:80"),                      # PublishPort= changes
}


@pytest.fixture
def rnet(tmp_path_factory):
    yield from module_pid1(tmp_path_factory, "netreload", RELOAD_UNITS)


def veth_of(addr):
    """The host end's name: keel-<address in hex> (net_veth_name)."""
    a, b, c, d = (int(x) for x in addr.split("."))
    return f"keel-{a:02x}{b:02x}{c:02x}{d:02x}"


def hosts_units(text):
    """Unit entries of an /etc/hosts keel wrote: {name: address}, localhost lines left out."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 2 and not line.startswith("#") and "localhost" not in f[1:]:
            out[f[1]] = f[0]
    return out


def net_state(p):
    """What the reload must keep consistent, read from PID 1's namespaces (and each container's
    mount namespace for the /etc/hosts it really sees)."""
    _, status = p.enter("/bin/initctl", "status")
    running = {f[0]: f[2] for f in (l.split() for l in status.splitlines()[1:]) if len(f) > 2 and f[1] == "running"}
    _, links = p.enter("/bin/ls", "/sys/class/net")
    _, ports = p.enter("/bin/ls", "/sys/class/net/keel0/brif")
    _, addrs = p.enter("/bin/busybox", "ip", "-o", "addr")  # IPv6 link-locals of the veths too
    _, dirs = p.enter("/bin/ls", "/run/keel-net")
    hosts = {}
    for unit, pid in running.items():
        rc, seen = p.enter("/bin/busybox", "nsenter", "-t", pid, "-m", "/bin/cat", "/etc/hosts")
        assert rc == 0, f"{unit}: {seen}"
        rc, written = p.enter("/bin/cat", f"/run/keel-net/{unit}/hosts")
        assert seen == written, f"{unit} sees another /etc/hosts than PID 1 wrote:\n{seen}\n---\n{written}"
        hosts[unit] = hosts_units(seen)
    rules = published(p)
    return {"running": running, "veths": sorted(l for l in links.split() if l.startswith("keel-")),
            "bridge_ports": sorted(ports.split()), "bridge_addr": re.findall(r"keel0\s+inet (\S+)", addrs),
            "addrs": len(addrs.splitlines()), "dirs": sorted(dirs.split()), "hosts": hosts,
            "rules": None if rules is None else [l.strip() for l in rules.splitlines() if "comment" in l]}


def publish_rules(state):
    """{host port: set of DNAT targets} from the rules' comments ("publish tcp 7101 -> A:80 (unit) ...")."""
    out = {}
    for r in state["rules"]:
        m = re.search(r'publish tcp (\d+) -> ([\d.]+):80 \(([\w-]+)\)', r)
        if m:
            out.setdefault(int(m.group(1)), set()).add((m.group(2), m.group(3)))
    return out


def check_consistent(state, units):
    """Every running container's /etc/hosts names exactly these units; one veth per unit, by its
    address; a files directory per unit."""
    addrs = next(iter(state["hosts"].values()))
    assert sorted(state["running"]) == sorted(units), state["running"]
    for unit, hosts in state["hosts"].items():
        assert hosts == addrs, f"{unit}'s /etc/hosts differs: {hosts} vs {addrs}"
    assert sorted(addrs) == sorted(units), addrs
    assert state["veths"] == sorted(veth_of(addrs[u]) for u in units), (state["veths"], addrs)
    assert state["bridge_ports"] == state["veths"], "every veth is a port of keel0, and only those"
    assert state["bridge_addr"] == ["10.88.0.1/16"], state["bridge_addr"]
    assert state["dirs"] == sorted(units), state["dirs"]
    return addrs


def test_reload_keeps_bridge_rules_and_hosts_consistent(rnet):
    units = rnet.root / "etc/keel/units"
    for u in RELOAD_UNITS:
        rnet.wait_for(rf"^{u}\| ip=10\.88\.")
    before = net_state(rnet)
    old = check_consistent(before, RELOAD_UNITS)
    assert old["nr-moved"] == "10.88.60.1", old
    if before["rules"] is not None:
        assert sorted(publish_rules(before)) == [7101, 7102, 7103, 7106], before["rules"]

    (units / "nr-added.container").write_text(reload_unit(port="7105:80"))
    (units / "nr-gone.container").unlink()
    (units / "nr-moved.container").write_text(reload_unit(ip="10.88.60.2", port="7106:80"))
    (units / "nr-port.container").write_text(reload_unit(port="7104:80"))
    rc, out = rnet.enter("/bin/initctl", "reload")
    assert rc == 0, out
    assert "reload: 1 new, 1 removed, 2 changed, 1 unchanged" in out, out
    rnet.wait_for(r"nr-gone: removed")
    rnet.wait_for(r"^nr-added\| ip=10\.88\.")
    rnet.wait_for(r"^nr-moved\| ip=10\.88\.60\.2/16")
    rnet.wait_for(r"^nr-port\| ip=10\.88\.", count=2)

    after = net_state(rnet)
    now = check_consistent(after, ["nr-keep", "nr-moved", "nr-port", "nr-added"])
    assert now["nr-moved"] == "10.88.60.2", now
    assert now["nr-keep"] == old["nr-keep"] and now["nr-port"] == old["nr-port"], "addresses are stable"
    assert veth_of(old["nr-gone"]) not in after["veths"] and veth_of("10.88.60.1") not in after["veths"]
    assert after["addrs"] == before["addrs"], "no address left behind or missing in PID 1's namespace"
    if before["rules"] is None:
        pytest.fail("no nft(8) on this machine (tools/deps.sh installs nftables): the nft table was not read")
    ports = publish_rules(after)
    assert sorted(ports) == [7101, 7104, 7105, 7106], after["rules"]
    assert ports[7106] == {("10.88.60.2", "nr-moved")}, ports[7106]
    assert ports[7101] == {(now["nr-keep"], "nr-keep")} and ports[7104] == {(now["nr-port"], "nr-port")}
    assert ports[7105] == {(now["nr-added"], "nr-added")}, ports[7105]
    assert len(after["rules"]) == len(before["rules"]), "as many published ports, as many rules"
