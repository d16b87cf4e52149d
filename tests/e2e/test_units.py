# SPDX-License-Identifier: MIT
"""Unit files and the supervisor on a custom image: bad units do not stop good ones, long
Exec= values survive intact, spawn failures are precise, stop/start work, and a unit that
ignores SIGTERM is killed after TimeoutStopSec=."""
import re

import pytest

from keelvm import booted

BUSYBOX = "/usr/share/keel/rootfs/busybox"

# 250 characters that cannot be confused with anything else on the console.
LONG_MARKER = ("LONGMARK" + "".join(f"{i:03d}-" for i in range(100)))[:250]
assert len(LONG_MARKER) == 250

UNITS = {
    # "Exce" is a typo for "Exec" (and so Exec= is missing too).
    "broken": f"""[Unit]
Description=A unit with a misspelled key

[Container]
Rootfs={BUSYBOX}
Exce=/bin/sh -c 'echo never'
""",
    "ticker": f"""[Unit]
Description=Prints a tick every few seconds

[Container]
Rootfs={BUSYBOX}
Exec=/bin/sh -c 'trap "exit 0" TERM; i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 3 & wait $!; done'
""",
    # Longer than 200 bytes, and " ; " inside quotes must stay part of the command.
    "longexec": f"""[Unit]
Description=A long Exec= value

[Container]
Rootfs={BUSYBOX}
Exec=/bin/sh -c 'echo {LONG_MARKER} ; echo second'
""",
    "nope": f"""[Container]
Rootfs={BUSYBOX}
Exec=/bin/nope

[Service]
Restart=no
""",
    "norootfs": """[Container]
Rootfs=/nonexistent
Exec=/bin/true

[Service]
Restart=no
""",
    # As its namespace's PID 1 with SIGTERM ignored, only SIGKILL stops it.
    "stubborn": f"""[Unit]
Description=Ignores SIGTERM

[Container]
Rootfs={BUSYBOX}
Exec=/bin/sh -c 'trap "" TERM; echo "stubborn up"; while :; do sleep 3600; done'

[Service]
TimeoutStopSec=2s
""",
}

BROKEN_LINE = 1 + UNITS["broken"].splitlines().index("Exce=/bin/sh -c 'echo never'")


@pytest.fixture(scope="module")
def uvm(make_image):
    with booted(make_image(UNITS), "test_units") as v:
        yield v


def unit_status(vm, name):
    return vm.run(f"initctl status {name}")


def test_ready_counts(uvm):
    assert re.search(r"keel: ready: \d+ units running, 1 invalid, \d+ other", uvm.ready_line), uvm.ready_line


def test_syntax_error_reported_and_others_run(uvm):
    msg = f"broken.container:{BROKEN_LINE}: unknown key 'Exce' in [Container]; did you mean 'Exec'?"
    uvm.wait_console(re.escape(msg), timeout=30)
    table = uvm.status_table()
    assert table["broken"]["state"] == "invalid", table
    for good in ("ticker", "stubborn"):
        assert table[good]["state"] == "running", table
    status, out = unit_status(uvm, "broken")
    assert status != 0, out
    assert re.search(r"Error: +/etc/keel/units/" + re.escape(msg), out), out
    # The good units really run: their output reaches the console.
    uvm.wait_console(r"ticker\| tick \d+\n", timeout=60)
    uvm.wait_console(r"stubborn\| stubborn up\n", timeout=60)


def test_long_exec_with_quoted_semicolon(uvm):
    uvm.wait_console(rf"longexec\| {LONG_MARKER}\n", timeout=60)
    uvm.wait_console(r"longexec\| second\n", timeout=60)
    status, out = unit_status(uvm, "longexec")
    assert f"Exec:     /bin/sh -c echo {LONG_MARKER} ; echo second\n" in out, out


def test_exec_not_found(uvm):
    uvm.wait_console(r"keel: nope: spawn failed", timeout=60)
    status, out = unit_status(uvm, "nope")
    assert status != 0, out
    assert f"spawn failed: /bin/nope: not found in rootfs {BUSYBOX}" in out, out
    assert re.search(r"State: +failed\b", out), out
    assert uvm.status_table()["nope"]["state"] == "failed"


def test_missing_rootfs(uvm):
    uvm.wait_console(r"keel: norootfs: spawn failed", timeout=60)
    status, out = unit_status(uvm, "norootfs")
    assert status != 0, out
    assert "spawn failed: rootfs /nonexistent: No such file or directory" in out, out
    assert re.search(r"State: +failed\b", out), out


def test_stop_and_start(uvm):
    before = uvm.status_table()["ticker"]
    assert before["state"] == "running" and before["pid"], before
    mark = uvm.mark()
    status, out = uvm.run("initctl stop ticker")
    assert status == 0, out
    uvm.wait_console(r"keel: ticker: stopped\b", since=mark, timeout=60)
    assert uvm.status_table()["ticker"]["state"] == "inactive"
    assert unit_status(uvm, "ticker")[0] == 3  # not running
    assert uvm.run(f"test -e /proc/{before['pid']}")[0] != 0, "the stopped container's process still exists"

    mark = uvm.mark()
    status, out = uvm.run("initctl start ticker")
    assert status == 0, out
    m = uvm.wait_console(r"keel: ticker: running \(pid (\d+)\)", since=mark, timeout=60)
    uvm.wait_console(r"ticker\| tick 1\n", since=mark, timeout=60)
    after = uvm.status_table()["ticker"]
    assert after["state"] == "running" and after["pid"] == int(m.group(1)), after
    assert after["pid"] != before["pid"]


def test_stop_timeout_kills(uvm):
    assert uvm.status_table()["stubborn"]["state"] == "running"
    mark = uvm.mark()
    status, out = uvm.run("initctl stop stubborn")
    assert status == 0 and "stubborn: stopped (killed by SIGKILL)" in out, out  # it waited for the end
    m1 = uvm.wait_console(r"\[\s*(\d+\.\d+)\] keel: stubborn: stopping \(SIGTERM\)", since=mark, timeout=60)
    m2 = uvm.wait_console(r"\[\s*(\d+\.\d+)\] keel: stubborn: did not stop within 2\.000s", since=mark, timeout=60)
    waited = float(m2.group(1)) - float(m1.group(1))
    assert 1.9 <= waited < 10, f"SIGKILL came {waited:.2f}s after SIGTERM, expected ~2s"
    uvm.wait_console(r"keel: stubborn: stopped \(killed by SIGKILL\)", since=mark, timeout=60)
    assert uvm.status_table()["stubborn"]["state"] == "inactive"
    # the whole cgroup was killed and then removed: nothing of the container is left
    status, out = uvm.run("cat /sys/fs/cgroup/keel/stubborn/cgroup.procs")
    assert status != 0, f"the cgroup is still there: {out}"


def test_reboot_is_clean(uvm):
    # `reboot` at the console must reboot: BusyBox's own applet would send SIGTERM, which keel
    # reads as poweroff; the image routes the verb to initctl. QEMU runs with -no-reboot, so
    # a reboot ends it too.
    # The console is filled first: the shell's exit hangs up the tty, which throws away what
    # is still queued for the serial line, so PID 1 lets the queue drain before it hangs up the
    # shell. Without that, PID 1's own line was lost now and then. (initctl's reply is not
    # asserted: the hangup ends initctl with the rest of the shell's session.)
    line = uvm.poweroff(command="head -c 12000 /dev/zero | tr '\\0' x; echo; reboot", mode="reboot")
    assert "(clean:" in line, line
    assert "reboot requested by initctl" in uvm.console
    assert uvm.exit_status == 0
