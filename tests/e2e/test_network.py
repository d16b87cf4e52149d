# SPDX-License-Identifier: MIT
"""Network=bridge in the booted image, on QEMU user networking that never reaches beyond this
machine: `restrict=on`, plus one hostfwd (host 127.0.0.1:PORT → the guest's published 8080)
and one guestfwd (the guest's 10.0.2.100:80 → an HTTP server this test runs on the host's
127.0.0.1). The guest's uplink is a virtio-net NIC, configured by keel's udhcpc from QEMU's
built-in DHCP server.

One boot serves every test: the published port, NAT to the host, 50 bridged containers, two
that ping and fetch each other by name, Network=none, an IP= and a PublishPort= conflict, and
200 restarts of a unit with a published port, after which PID 1's links, addresses, routes,
fds and `ip keel` rules (read with the build host's nft, copied into the image) are as before."""
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request

import pytest

from keelvm import booted, free_port

BB = "Rootfs=/usr/share/keel/rootfs/busybox"
N = 50

UNITS = {
    "web": f"""[Container]
{BB}
Exec=/bin/sh -c 'echo "<h1>published</h1>" > /www/index.html; exec httpd -f -p 80 -h /www'
PublishPort=8080:80
""",
    # Out through the uplink: masquerade from 10.88.0.0/16, then QEMU's guestfwd.
    "natclient": f"""[Container]
{BB}
Exec=/bin/sh -c 'for i in $(seq 1 120); do out=$(wget -qO- http://10.0.2.100/) && {{ echo "got=$out"; break; }}; sleep 2; done; exec sleep 100000'
""",
    # Every one of the N bridged httpd units, by name, from another container.
    "checker": f"""[Container]
{BB}
Exec=/bin/sh -c 'for t in $(seq 1 200); do ok=0; for i in $(seq -w 0 {N - 1}); do wget -qO- http://n$i/ 2>/dev/null | grep -q "^n$i$" && ok=$((ok+1)); done; echo reached=$ok; [ $ok = {N} ] && break; sleep 2; done; exec sleep 100000'
""",
}
for i in range(N):
    UNITS[f"n{i:02d}"] = f"""[Container]
{BB}
Exec=/bin/sh -c 'echo n{i:02d} > /www/index.html; exec httpd -f -p 80 -h /www'
"""

# Sleeps until stopped; SIGTERM ends it at once (a container's PID 1 ignores it otherwise).
LOOP = "trap \"exit 0\" TERM; while :; do sleep 1 & wait $!; done"


def peer(me, other):
    """Serves its name over HTTP, then pings and fetches the other peer by its unit name and
    reports the address /etc/hosts gave for it."""
    return f"""[Container]
{BB}
Exec=/bin/sh -c 'echo {me} > /www/index.html; httpd -p 80 -h /www; echo ip=$(ip -4 -o addr show eth0 | awk "{{print \\$4}}"); for i in $(seq 1 120); do p=$(ping -c1 -W2 {other} 2>&1) && f=$(wget -qO- http://{other}/) && {{ echo "ping={other} $(echo "$p" | head -n1) fetch=$f"; break; }}; sleep 1; done; {LOOP}'
"""


UNITS.update({
    # Ping and HTTP in both directions, by unit name.
    "alpha": peer("alpha", "beta"),
    "beta": peer("beta", "alpha"),
    # Network=none: its own namespace with only lo.
    "isolated": f"""[Container]
{BB}
Network=none
Exec=/bin/sh -c 'echo links=$(ls /sys/class/net | tr "\\n" " "); ip -o addr | while read n dev fam addr rest; do echo "addr=$dev $fam $addr"; done; echo routes=$(ip -4 route | wc -l); echo "bridge=$(wget -qO- http://10.88.0.1:8080/ 2>&1 | head -n1)"; echo done=1; {LOOP}'
""",
    # A static address, and two units that collide with it or with web's port. zz* sort after
    # fixed and web: the second claimant is the one in error, by name at boot.
    "fixed": f"""[Container]
{BB}
IP=10.88.200.1
Exec=/bin/sh -c 'echo ip=$(ip -4 -o addr show eth0 | awk "{{print \\$4}}"); {LOOP}'
""",
    "zzsameip": f"[Container]\n{BB}\nIP=10.88.200.1\nExec=/bin/sh -c '{LOOP}'\n",
    "zzsameport": f"[Container]\n{BB}\nPublishPort=8080:8080\nExec=/bin/sh -c '{LOOP}'\n",
    # A networked unit with a published port that can be made to fail at once, forever: while
    # /var/lib/keel/volumes/flapctl/flap exists it exits 1 right after its network is set up,
    # and Restart=always brings it back after 10 ms every time (RestartSec= alone is a fixed
    # delay, and there is no start limit unless StartLimitBurst= asks for one). Without the
    # file it just runs, so it does not flap through the boot and the other tests.
    "flapper": f"""[Container]
{BB}
PublishPort=9090:90
Volume=flapctl:/ctl
Exec=/bin/sh -c '[ -e /ctl/flap ] && exit 1; {LOOP}'
[Service]
Restart=always
RestartSec=10ms
""",
})
INVALID = {"zzsameip", "zzsameport"}


# The image has no nft(8) (keel builds its table over raw netlink). To count the table's rules
# inside the guest, the build host's nft goes into the image with the shared libraries and the
# loader it needs, none of which the rest of the image uses: run as NFT below.
NFT_DIR = "/usr/lib/keel-e2e-nft"
NFT = f"{NFT_DIR}/ld-linux-x86-64.so.2 --library-path {NFT_DIR} {NFT_DIR}/nft"


def nft_files():
    nft = shutil.which("nft")
    if not nft:
        return {}
    out = subprocess.run(["ldd", nft], capture_output=True, text=True, timeout=60).stdout
    libs = re.findall(r"=> (/\S+)", out) + re.findall(r"^\s*(/\S*ld-linux[^\s]*)", out, re.M)
    names = [os.path.basename(x) for x in libs]
    if "ld-linux-x86-64.so.2" not in names or len(set(names)) != len(names):
        return {}
    files = {os.path.realpath(nft): f"{NFT_DIR}/nft"}
    files.update({os.path.realpath(x): f"{NFT_DIR}/{os.path.basename(x)}" for x in libs})
    return files


@pytest.fixture(scope="module")
def nvm(make_image, host_server):
    fwd = free_port()
    netdev = (f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{fwd}-:8080,"
              f"guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:{host_server}")
    args = ["-netdev", netdev, "-device", "virtio-net-pci,netdev=n0"]
    with booted(make_image(UNITS, files=nft_files()), "test_network", extra_qemu_args=args, memory=1024) as v:
        v.fwd = fwd
        yield v


def test_uplink_gets_a_lease(nvm):
    nvm.wait_console(r"keel: uplink eth0: 10\.0\.2\.15/24", timeout=180)
    assert "10.0.2.15" in nvm.check("ip -4 -o addr show eth0")


def test_published_port_from_the_host(nvm):
    nvm.wait_console(r"keel: uplink eth0: 10\.0\.2\.15", timeout=180)
    nvm.wait_console(r"keel: web: running", timeout=180)
    body = None
    for _ in range(30):
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{nvm.fwd}/", timeout=10).read().decode()
            break
        except OSError:
            time.sleep(2)
    assert body is not None and "<h1>published</h1>" in body, body


def test_container_reaches_the_host_through_nat(nvm):
    nvm.wait_console(r"natclient\| got=hello-from-host", timeout=300)


def test_fifty_bridged_containers_are_reachable(nvm):
    nvm.wait_console(rf"checker\| reached={N}\b", timeout=900)


def test_network_host_sees_the_machines_interfaces(nvm):
    out = nvm.check("ls /sys/class/net")
    assert "eth0" in out and "keel0" in out, out


# ---- by name, Network=none, conflicts, and 200 restarts that leak nothing ----------------------

def poll(vm, what, fn, timeout):
    """fn() until it returns something true (returned); each try is a command in the guest, so
    the pace is the console's round trip plus a short pause. Fails after timeout (scaled)."""
    deadline = time.monotonic() + timeout * vm.scale
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            vm._fail(f"timed out after {timeout * vm.scale:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(0.2)


def units_json(vm):
    """`initctl status --json` as {unit: row}, or None if a log line broke it on the console."""
    status, out = vm.run("initctl status --json")
    try:
        return {u["name"]: u for u in json.loads(out[out.index("{"):out.rindex("}") + 1])["units"]}
    except ValueError:
        return None


def unit_row(vm, name):
    """The unit's row of `initctl status --json`, cut out in the guest so that little crosses the
    serial line while polling; None if it did not come through whole."""
    status, out = vm.run(f"initctl status --json | grep -o '{{\"name\":\"{name}\"[^}}]*}}'")
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def all_running(vm, names):
    """The status table if every one of names is running, else None."""
    table = units_json(vm)
    return table if table and all(table.get(u, {}).get("state") == "running" for u in names) else None


def unit_lines(vm, unit):
    return [ln.split("| ", 1)[1] for ln in vm.console_lines(rf"^{re.escape(unit)}\| ")]


def test_two_containers_ping_and_fetch_each_other_by_name(nvm):
    got = {}
    for me, other in (("alpha", "beta"), ("beta", "alpha")):
        m = nvm.wait_console(rf"^{me}\| ping={other} PING {other} \((10\.88\.\d+\.\d+)\)[^\n]* fetch=(\S+)\n",
                             timeout=300)
        got[me] = (m.group(1), m.group(2))
    for me, other in (("alpha", "beta"), ("beta", "alpha")):
        own = nvm.wait_console(rf"^{other}\| ip=(10\.88\.\d+\.\d+)/16\n", timeout=60).group(1)
        addr, body = got[me]
        assert addr == own, f"{me} resolved {other} to {addr}, but {other}'s eth0 has {own}"
        assert body == other, f"{me} fetched {body!r} from http://{other}/"
    assert got["alpha"][0] != got["beta"][0]


def test_network_none_sees_only_lo(nvm):
    nvm.wait_console(r"^isolated\| done=1\n", timeout=300)
    lines = unit_lines(nvm, "isolated")
    assert "links=lo" in lines, lines
    addrs = [ln for ln in lines if ln.startswith("addr=")]
    assert addrs and all(ln.startswith("addr=lo ") for ln in addrs), addrs
    assert "addr=lo inet 127.0.0.1/8" in addrs, addrs
    assert "routes=0" in lines, lines
    bridge = [ln for ln in lines if ln.startswith("bridge=")]
    assert bridge and "Network is unreachable" in bridge[0], bridge


def test_address_and_port_conflicts_name_the_field(nvm):
    ready = nvm.wait_console(r"keel: ready: [^\n]*\n", timeout=180).group(0)
    assert re.search(r"\b2 invalid\b", ready), ready
    nvm.wait_console(r"^fixed\| ip=10\.88\.200\.1/16\n", timeout=300)

    status, out = nvm.run("initctl status zzsameip")
    assert "invalid" in out, out
    assert "/etc/keel/units/zzsameip.container:3: IP=: 10.88.200.1 is already used by fixed" in out, out
    status, out = nvm.run("initctl status zzsameport")
    assert "invalid" in out, out
    assert ("/etc/keel/units/zzsameport.container:3: PublishPort=: tcp port 8080 is already published by web"
            in out), out
    for name, field in (("zzsameip", "IP=: "), ("zzsameport", "PublishPort=: ")):
        status, out = nvm.run(f"initctl status {name} --json")
        detail = json.loads(out[out.index("{"):out.rindex("}") + 1])
        assert detail["state"] == "invalid" and detail["pid"] == 0, detail
        assert any(field in e for e in detail["errors"]), detail["errors"]
    nvm.wait_console(r"keel: zzsameip: invalid, not starting it", timeout=30)
    nvm.wait_console(r"keel: zzsameport: invalid, not starting it", timeout=30)

    # The first claimants are unaffected: running, at their address, serving their port.
    table = poll(nvm, "fixed and web running", lambda: all_running(nvm, ["fixed", "web"]), timeout=120)
    assert table["zzsameip"]["state"] == "invalid" and table["zzsameport"]["state"] == "invalid", table
    assert "1 packets received" in nvm.check("ping -c1 -W5 10.88.200.1"), "fixed answers at its IP="
    # (BusyBox 1.35's wget -T segfaults: timeout(1) bounds it instead.)
    assert "<h1>published</h1>" in nvm.check("timeout 60 wget -qO- http://10.88.0.1:8080/"), "web's port 8080"
    # Neither invalid unit got a veth or an /etc/hosts entry.
    hosts = nvm.check("cat /run/keel-net/fixed/hosts")
    assert re.search(r"^10\.88\.200\.1\s+fixed$", hosts, re.M), hosts
    assert "zzsame" not in hosts, hosts


SNAP_KEYS = ("links", "bridge_ports", "addrs", "ipv4", "routes", "pid1_fds", "net_dirs", "rules")


def snapshot(vm):
    """PID 1's network namespace as the restarts could leave it: links, bridge ports, addresses,
    routes, PID 1's fds, the per-unit files and the `ip keel` table (None without nft)."""
    links = sorted(vm.check("ls /sys/class/net").split())
    ports = sorted(vm.check("ls /sys/class/net/keel0/brif").split())
    addrs = vm.check("ip -o addr").splitlines()
    status, rules = vm.run(f"{NFT} list table ip keel")
    if status != 0:
        if nft_files():
            vm._fail(f"nft in the guest failed ({status}):\n{rules}")
        rules = None
    return {
        "links": links, "bridge_ports": ports,
        "addrs": len(addrs), "ipv4": sorted(ln.split()[1] + " " + ln.split()[3] for ln in addrs if " inet " in ln),
        "routes": sorted(vm.check("ip route").splitlines()),
        "pid1_fds": len(vm.check("ls /proc/1/fd").split()),
        "net_dirs": sorted(vm.check("ls /run/keel-net").split()),
        "rules": rules,
        # Veths whose IPv6 link-local address has not come yet (the kernel adds it from deferred
        # link-state work, a moment after the link is up): not a settled state to compare.
        "ll_pending": sorted(set(ln for ln in links if ln.startswith("keel-")) -
                             set(ln.split()[1] for ln in addrs if " inet6 " in ln))
        if any(" inet6 " in ln for ln in addrs) else [],
    }


def settled(vm):
    """A snapshot once no veth waits for its link-local address."""
    deadline = time.monotonic() + 60 * vm.scale
    while True:
        got = snapshot(vm)
        if not got["ll_pending"] or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def settles_to(vm, want, keys, timeout=60):
    """Snapshots until the keys match want (see ll_pending: the kernel finishes some of a new
    link's setup a moment after the unit runs). Returns the last one; a difference that lasts is
    the caller's failure to report."""
    deadline = time.monotonic() + timeout * vm.scale
    while True:
        got = snapshot(vm)
        if all(got[k] == want[k] for k in keys) or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def veth_of(addr):
    a, b, c, d = (int(x) for x in addr.split("."))
    return f"keel-{a:02x}{b:02x}{c:02x}{d:02x}"


def test_two_hundred_restarts_leak_nothing(nvm):
    """flapper (PublishPort=9090:90) fails 200 times in a row, each time after its network was set
    up: with it stopped, links, addresses, routes, PID 1's fds and the nft table are the same
    before and after; started again it has the same address, veth and DNAT rule."""
    nvm.wait_console(r"keel: ready: [^\n]*\n", timeout=180)
    poll(nvm, "every valid unit running", lambda: all_running(nvm, [u for u in UNITS if u not in INVALID]),
         timeout=600)

    def flapper():
        return poll(nvm, "flapper's row of initctl status --json", lambda: unit_row(nvm, "flapper"), timeout=60)

    def state(want):
        return poll(nvm, f"flapper {want}", lambda: flapper()["state"] == want, timeout=120)

    running = settled(nvm)
    assert not running["ll_pending"], running
    hosts = nvm.check("cat /run/keel-net/flapper/hosts")
    addr = re.search(r"^(10\.88\.\d+\.\d+)\s+flapper$", hosts, re.M).group(1)
    assert veth_of(addr) in running["links"] and veth_of(addr) in running["bridge_ports"], running
    if running["rules"] is not None:
        assert f"{addr}:90" in running["rules"] and "9090" in running["rules"], running["rules"]

    nvm.check("initctl stop flapper")
    state("inactive")
    before = snapshot(nvm)
    assert veth_of(addr) not in before["links"], before
    assert before["addrs"] < running["addrs"], (before, running)
    if before["rules"] is not None:
        assert "9090" not in before["rules"] and "8080" in before["rules"], before["rules"]

    r0 = flapper()["restarts"]
    mark = nvm.mark()
    started = time.monotonic()
    nvm.check("touch /var/lib/keel/volumes/flapctl/flap && initctl start flapper")
    row = poll(nvm, "200 restarts of flapper", lambda: (lambda r: r["restarts"] >= r0 + 200 and r)(flapper()),
               timeout=240)
    took = time.monotonic() - started
    nvm.check("rm /var/lib/keel/volumes/flapctl/flap && initctl stop flapper")
    state("inactive")
    after = settles_to(nvm, before, SNAP_KEYS)
    print(f"\n{row['restarts'] - r0} restarts in {took:.1f}s")

    # Each of them was a real start: the spawn got through the network setup, the shell ran.
    status, detail_out = nvm.run("initctl status flapper --json")
    detail = json.loads(detail_out[detail_out.index("{"):detail_out.rindex("}") + 1])
    exits = detail["exits"]
    assert exits and all(e["kind"] in ("exited", "killed") for e in exits), exits
    assert sum(e["kind"] == "exited" and e["code"] == 1 for e in exits) >= len(exits) - 1, exits
    assert not nvm.console_lines(r"flapper: .*spawn failed", since=mark), "a restart failed to spawn"
    assert len(nvm.console_lines(r"keel: flapper: exited with code 1", since=mark)) >= 200

    for key in SNAP_KEYS:
        assert after[key] == before[key], f"{key}: {before[key]} -> {after[key]}"

    # And it comes back as it was: same address, veth and rules.
    nvm.check("initctl start flapper")
    state("running")
    again = settles_to(nvm, running, SNAP_KEYS)
    for key in SNAP_KEYS:
        assert again[key] == running[key], f"{key}: {running[key]} -> {again[key]}"
    if before["rules"] is None:
        pytest.fail("no nft(8) on the build host to put in the image (tools/deps.sh installs nftables): "
                    "the nft table was not compared")
