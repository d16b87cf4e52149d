# SPDX-License-Identifier: MIT
"""Network=bridge in the booted image, on QEMU user networking that never reaches beyond this
machine: `restrict=on`, plus one hostfwd (host 127.0.0.1:PORT → the guest's published 8080)
and one guestfwd (the guest's 10.0.2.100:80 → an HTTP server this test runs on the host's
127.0.0.1). The guest's uplink is a virtio-net NIC, configured by keel's udhcpc from QEMU's
built-in DHCP server."""
import http.server
import socket
import threading
import urllib.request

import pytest

from keelvm import booted

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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello-from-host"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def host_server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()


@pytest.fixture(scope="module")
def nvm(make_image, host_server):
    fwd = free_port()
    netdev = (f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{fwd}-:8080,"
              f"guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:{host_server}")
    args = ["-netdev", netdev, "-device", "virtio-net-pci,netdev=n0"]
    with booted(make_image(UNITS), "test_network", extra_qemu_args=args, memory=1024) as v:
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
            import time
            time.sleep(2)
    assert body is not None and "<h1>published</h1>" in body, body


def test_container_reaches_the_host_through_nat(nvm):
    nvm.wait_console(r"natclient\| got=hello-from-host", timeout=300)


def test_fifty_bridged_containers_are_reachable(nvm):
    nvm.wait_console(rf"checker\| reached={N}\b", timeout=900)


def test_network_host_sees_the_machines_interfaces(nvm):
    out = nvm.check("ls /sys/class/net")
    assert "eth0" in out and "keel0" in out, out
