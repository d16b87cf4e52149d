# SPDX-License-Identifier: MIT
"""A container that prints without pause: PID 1 must stay responsive (the console is slow, the
output queue bounded, dropped bytes counted), initctl must answer, and the other units run."""
import re
import time

import pytest

from keelvm import booted

BUSYBOX = "/usr/share/keel/rootfs/busybox"
UNITS = {
    "flood": f"[Container]\nRootfs={BUSYBOX}\nExec=/bin/sh -c 'while :; do echo flood-0123456789-0123456789-0123456789; done'\n",
    "quiet": f"[Container]\nRootfs={BUSYBOX}\nExec=/bin/sh -c 'trap \"exit 0\" TERM; echo quiet-up; while :; do sleep 1 & wait $!; done'\n",
}


@pytest.fixture(scope="module")
def fvm(make_image):
    with booted(make_image(UNITS), "test_flood") as v:
        yield v


def test_pid1_stays_responsive_under_a_flood(fvm):
    fvm.wait_console(r"flood\| flood-", timeout=60)
    # initctl answers, again and again, while the flood goes on; the console cannot keep up,
    # so lines are dropped — and counted — rather than stalling PID 1.
    deadline = time.monotonic() + 120
    while True:
        status, out = fvm.run("initctl status flood", timeout=60)
        assert status == 0, out
        m = re.search(r"Output:\s+(\d+) bytes dropped", out)
        if m and int(m.group(1)) > 0:
            break
        assert time.monotonic() < deadline, out
    status, out = fvm.run("initctl status quiet", timeout=60)
    assert status == 0 and re.search(r"State:\s+running", out), out
    status, out = fvm.run("initctl logs -n 3 flood", timeout=60)
    assert status == 0 and "flood| flood-0123456789" in out, out
    status, out = fvm.run("initctl stop flood", timeout=60)
    assert status == 0, out  # its words may drown in the flood's last lines on the console
    status, out = fvm.run("initctl status flood", timeout=60)
    assert re.search(r"State:\s+inactive", out) and "Last exit: killed by SIGKILL" in out, out
    # with the flood over, the console is readable again: the other unit ran all along
    assert fvm.status_table()["quiet"]["state"] == "running"
