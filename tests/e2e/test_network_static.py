# SPDX-License-Identifier: MIT
"""keel.ip=ADDR/LEN,GATEWAY: the uplink configured from the kernel command line, with no DHCP.

Two boots on QEMU user networking that never reaches beyond this machine (`restrict=on`, as
test_network.py). The first has keel.ip=10.0.2.42/24,10.0.2.2: an address in slirp's
10.0.2.0/24 that its DHCP server would never hand out first (it gives 10.0.2.15), so seeing it
proves the static path. A container still reaches an HTTP server on the host's 127.0.0.1
through the masquerade and a guestfwd rule, and a published port answers a hostfwd rule aimed
at that address. The second boot has a keel.ip= that does not parse: PID 1 says so on the
console, falls back to DHCP, and every unit runs."""
import re
import urllib.request

import pytest

from keelvm import booted, free_port

BB = "Rootfs=/usr/share/keel/rootfs/busybox"
STATIC = "10.0.2.42"
GATEWAY = "10.0.2.2"
GUESTFWD = "10.0.2.100"

UNITS = {
    # Out through the uplink: masquerade from 10.88.0.0/16 to 10.0.2.42, then QEMU's guestfwd.
    "natclient": f"""[Container]
{BB}
Exec=/bin/sh -c 'for i in $(seq 1 120); do out=$(wget -qO- http://{GUESTFWD}/) && {{ echo "got=$out"; break; }}; sleep 2; done; exec sleep 100000'
""",
    "web": f"""[Container]
{BB}
Exec=/bin/sh -c 'echo "<h1>static uplink</h1>" > /www/index.html; exec httpd -f -p 80 -h /www'
PublishPort=8080:80
""",
}


def netdev_args(host_port, fwd=None, guest=STATIC):
    netdev = f"user,id=n0,restrict=on,guestfwd=tcp:{GUESTFWD}:80-tcp:127.0.0.1:{host_port}"
    if fwd:
        # slirp aims a hostfwd rule without a guest address at the first DHCP address: name ours.
        netdev += f",hostfwd=tcp:127.0.0.1:{fwd}-{guest}:8080"
    return ["-netdev", netdev, "-device", "virtio-net-pci,netdev=n0"]


@pytest.fixture(scope="module")
def svm(make_image, host_server):
    fwd = free_port()
    iso = make_image(UNITS, cmdline=f"keel.ip={STATIC}/24,{GATEWAY}")
    with booted(iso, "test_network_static", extra_qemu_args=netdev_args(host_server, fwd), memory=1024) as v:
        v.fwd = fwd
        yield v


def test_uplink_has_the_static_address_and_route(svm):
    svm.wait_console(rf"keel: uplink eth0: {re.escape(STATIC)}/24 \(keel\.ip=\)\n", timeout=60)
    out = svm.check("ip -4 -o addr show eth0")
    assert f"inet {STATIC}/24" in out, out
    assert len(re.findall(r"\binet ", out)) == 1, f"one address, no DHCP lease beside it:\n{out}"
    out = svm.check("ip -4 route show default")
    assert re.search(rf"^default via {re.escape(GATEWAY)} dev eth0\b", out, re.M), out


def test_no_dhcp_client_ran(svm):
    assert not svm.console_lines(r"keel: uplink eth0: DHCP|udhcpc"), "PID 1 started udhcpc"
    out = svm.check("ps -o pid,args")
    assert "udhcpc" not in out, out


def test_container_reaches_the_host_through_nat(svm):
    svm.wait_console(r"natclient\| got=hello-from-host\n", timeout=300)


def test_published_port_on_the_static_address(svm):
    svm.wait_console(r"keel: web: running", timeout=120)
    # From the machine first, keyed to httpd answering (DNAT of the machine's own output to
    # its uplink address): then the host's single fetch through hostfwd has a server there.
    out = svm.check(f"for i in $(seq 1 60); do wget -qO- http://{STATIC}:8080/ && break; sleep 1; done",
                    timeout=120)
    assert "<h1>static uplink</h1>" in out, out
    body = urllib.request.urlopen(f"http://127.0.0.1:{svm.fwd}/", timeout=60).read().decode()
    assert "<h1>static uplink</h1>" in body, body


# ---- a keel.ip= that does not parse ------------------------------------------------------------

BAD = "10.0.2.300/24,10.0.2.2"


@pytest.fixture(scope="module")
def badvm(make_image, host_server):
    iso = make_image(UNITS, cmdline=f"keel.ip={BAD}")
    with booted(iso, "test_network_static-bad", extra_qemu_args=netdev_args(host_server), memory=1024) as v:
        yield v


def test_bad_keel_ip_is_reported_and_dhcp_takes_over(badvm):
    m = badvm.wait_console(r"keel: keel\.ip=[^\n]*\n", timeout=30)
    line = m.group(0)
    assert f"keel.ip={BAD}: '10.0.2.300' is not an IPv4 address" in line and "using DHCP" in line, line
    badvm.wait_console(r"keel: uplink eth0: DHCP \(udhcpc", timeout=60)
    badvm.wait_console(r"keel: uplink eth0: 10\.0\.2\.15/24\n", timeout=180)


def test_bad_keel_ip_leaves_the_units_running(badvm):
    ready = badvm.ready_line
    assert re.search(r"ready: 2 units running, 0 invalid", ready), ready
    badvm.wait_console(r"natclient\| got=hello-from-host\n", timeout=300)
    table = badvm.status_table()
    assert table["web"]["state"] == "running" and table["natclient"]["state"] == "running", table
