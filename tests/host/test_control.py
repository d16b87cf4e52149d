# SPDX-License-Identifier: MIT
"""initctl against keel's real PID 1 on the host: logs (-n, -f, --json), status --json, and
reload with last-known-good (see test_pid1_namespace.py for how PID 1 runs here)."""
import json
import os
import pathlib
import re
import stat
import subprocess
import time

import pytest

from test_pid1_namespace import module_pid1

BB = "Rootfs=/usr/share/keel/rootfs/busybox"


def sleeper(text):
    return (f"[Container]\n{BB}\nExec=/bin/sh -c 'trap \"exit 0\" TERM; echo {text}; "
            "while :; do sleep 1 & wait $!; done'\n")


UNITS = {
    "chatty": f"[Container]\n{BB}\nExec=/bin/sh -c 'trap \"exit 0\" TERM; i=1; while [ $i -le 50 ]; do "
              "echo \"line $i\"; i=$((i+1)); done; while :; do sleep 1 & wait $!; done'\n",
    "ticker": f"[Container]\n{BB}\nExec=/bin/sh -c 'trap \"exit 0\" TERM; i=0; while :; do echo \"tick $i\"; "
              "i=$((i+1)); sleep 0.2 & wait $!; done'\n",
    "keep": sleeper("keep-v1"),
    "edit": sleeper("edit-v1"),
    "gone": sleeper("gone-v1"),
    "breakme": sleeper("breakme-v1"),
    # One 3000-byte line, one of 5000 (past LOG_LINE_MAX, 4096), then an unfinished line at exit.
    "longline": f"[Container]\n{BB}\nExec=/bin/sh -c 'printf \"L%02999d\\\\n\" 0; printf \"M%04999d\\\\n\" 0; "
                "printf no-newline-at-exit'\n[Service]\nRestart=no\n",
    "pipes": sleeper("pipes-up"),
    "startnope": f"[Container]\n{BB}\nExec=/bin/nope\n[Service]\nRestart=no\n",
    "startbadcwd": f"[Container]\n{BB}\nWorkingDir=/bin/sh\nExec=/bin/true\n[Service]\nRestart=no\n",
}


@pytest.fixture(scope="module")
def ctl(tmp_path_factory):
    yield from module_pid1(tmp_path_factory, "ctl", UNITS)


def status_rows(ctl):
    rc, out = ctl.enter("/bin/initctl", "status")
    return {l.split()[0]: l.split() for l in out.splitlines()[1:]}


def test_logs_last_lines_with_times(ctl):
    ctl.wait_for(r"chatty\| line 50")
    rc, out = ctl.enter("/bin/initctl", "logs", "-n", "3", "chatty")
    assert rc == 0, out
    lines = out.strip().splitlines()
    assert len(lines) == 3, out
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z chatty\| line 50", lines[-1]), lines
    assert lines[0].endswith("chatty| line 48")


def test_status_shows_the_last_log_lines(ctl):
    ctl.wait_for(r"chatty\| line 50")
    rc, out = ctl.enter("/bin/initctl", "status", "chatty")
    assert "Log (last 10 lines; initctl logs chatty for more):" in out, out
    tail = out.split("Log (last 10 lines", 1)[1].splitlines()[1:11]
    assert [l.split(None, 1)[1] for l in tail] == [f"line {i}" for i in range(41, 51)], tail


def test_logs_json(ctl):
    ctl.wait_for(r"chatty\| line 50")
    rc, out = ctl.enter("/bin/initctl", "--json", "logs", "-n", "50", "chatty")
    recs = [json.loads(l) for l in out.strip().splitlines()]
    assert [r["text"] for r in recs] == [f"line {i}" for i in range(1, 51)]
    assert {"unit", "seq", "time", "stream", "truncated", "text"} <= set(recs[0])
    assert recs[-1]["seq"] - recs[0]["seq"] == 49


def test_status_json(ctl):
    rc, out = ctl.enter("/bin/initctl", "status", "--json")
    table = json.loads(out)
    names = {u["name"]: u for u in table["units"]}
    assert names["chatty"]["state"] == "running" and names["chatty"]["pid"] > 0
    rc, out = ctl.enter("/bin/initctl", "--json", "status", "chatty")
    one = json.loads(out)
    assert one["name"] == "chatty" and one["state"] == "running" and one["exits"] == [] and one["errors"] == []
    assert "memory_current" in one and "next_restart_in_usec" in one


def test_logs_follow_streams_new_lines(ctl):
    ctl.wait_for(r"ticker\| tick 3")
    p = subprocess.Popen(["nsenter", "-t", str(ctl.init_pid()), "-m", "-p", "-u", "-n", "-i", "-r",
                          "/bin/initctl", "logs", "-f", "-n", "1", "ticker"],
                         stdout=subprocess.PIPE, text=True, bufsize=1)
    try:
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 5 and time.monotonic() < deadline:
            line = p.stdout.readline()
            if line:
                got.append(line.strip())
        nums = [int(re.search(r"tick (\d+)$", l).group(1)) for l in got]
        assert len(nums) == 5 and nums == list(range(nums[0], nums[0] + 5)), got
    finally:
        p.kill()
        p.wait(timeout=10)
    rc, out = ctl.enter("/bin/initctl", "status", "ticker")  # PID 1 did not mind the reader going
    assert rc == 0, out


def test_reload_with_last_known_good(ctl):
    units = ctl.root / "etc/keel/units"
    ctl.wait_for(r"breakme\| breakme-v1")
    before = status_rows(ctl)
    (units / "added.container").write_text(sleeper("added-v1"))
    (units / "edit.container").write_text(sleeper("edit-v2"))
    (units / "gone.container").unlink()
    (units / "breakme.container").write_text(f"[Container]\n{BB}\nExce=/bin/true\n")
    rc, out = ctl.enter("/bin/initctl", "reload")
    assert rc == 1, out  # one unit kept its previous version
    assert "reload: 1 new, 1 removed, 1 changed, 7 unchanged" in out, out
    assert "breakme: kept running its previous version:" in out and "unknown key 'Exce'" in out, out
    ctl.wait_for(r"added\| added-v1")
    ctl.wait_for(r"edit\| edit-v2")
    ctl.wait_for(r"gone: removed")
    after = status_rows(ctl)
    assert "gone" not in after
    assert after["keep"][2] == before["keep"][2], "unchanged units are left alone"
    assert after["breakme"][1] == "running" and after["breakme"][2] == before["breakme"][2]
    rc, out = ctl.enter("/bin/initctl", "status", "breakme")
    assert "Reload:" in out and "still running the previous version" in out, out
    # Fixing it takes the new version.
    (units / "breakme.container").write_text(sleeper("breakme-v2"))
    rc, out = ctl.enter("/bin/initctl", "reload")
    assert rc == 0, out
    ctl.wait_for(r"breakme\| breakme-v2")
    rc, out = ctl.enter("/bin/initctl", "status", "breakme")
    assert "Reload:" not in out


def test_stop_waits_and_says_how_it_ended(ctl):
    rc, out = ctl.enter("/bin/initctl", "stop", "keep", "ticker")
    assert rc == 0, out
    assert "keep: stopped (exited with code 0)" in out, out
    assert "ticker: stopped (exited with code 0)" in out, out
    rc, out = ctl.enter("/bin/initctl", "stop", "keep")
    assert "keep: already inactive" in out, out


def test_long_lines_stay_whole_and_the_last_unfinished_line_is_kept(ctl):
    ctl.wait_for(r"longline: stopped|longline: .*exited")
    rc, out = ctl.enter("/bin/initctl", "--json", "logs", "-n", "10", "longline")
    recs = [json.loads(l) for l in out.strip().splitlines()]
    texts = [r["text"] for r in recs]
    # Lines up to LOG_LINE_MAX arrive as one line (the console's buffer once cut them at 256),
    # a longer one is cut there and goes on in the next, and what a container printed without
    # a final newline is not lost when it exits.
    assert texts[0] == "L" + "0" * 2999, [len(t) for t in texts]
    assert texts[1] == "M" + "0" * 4095 and texts[2] == "0" * 904, [len(t) for t in texts]
    assert texts[3] == "no-newline-at-exit", texts
    assert len(texts) == 4, texts


def pid1_pipes(ctl):
    """PID 1's open pipe fds (read and write ends), as the host's /proc shows them."""
    fd_dir = f"/proc/{ctl.init_pid()}/fd"
    return sorted(os.readlink(f"{fd_dir}/{fd}") for fd in os.listdir(fd_dir)
                  if os.readlink(f"{fd_dir}/{fd}").startswith("pipe:"))


def test_a_stopped_unit_gives_its_output_pipe_back(ctl):
    ctl.wait_for(r"pipes\| pipes-up")
    before = pid1_pipes(ctl)
    rc, out = ctl.enter("/bin/initctl", "stop", "pipes")
    assert rc == 0, out
    # Its read end closes at EOF, once the loop has read what was left: wait for that event.
    deadline = time.monotonic() + 30
    while len(pid1_pipes(ctl)) != len(before) - 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(pid1_pipes(ctl)) == len(before) - 2, (before, pid1_pipes(ctl))
    # Started again, it gets a new pipe and its output reaches the logs again.
    rc, out = ctl.enter("/bin/initctl", "start", "pipes")
    assert rc == 0, out
    ctl.wait_for(r"pipes\| pipes-up", count=2)
    assert len(pid1_pipes(ctl)) == len(before), (before, pid1_pipes(ctl))


def test_many_unit_names_go_out_in_several_requests(ctl):
    # One request holds at most 15 words (PROTOCOL.md); initctl splits a longer list.
    ctl.wait_for(r"edit\| edit-v2")
    names = ["edit"] * 30
    rc, out = ctl.enter("/bin/initctl", "start", *names)
    assert rc == 0, out
    assert out.count("edit: already running") == 30, out
    rc, out = ctl.enter("/bin/initctl", "start", *names, "no-such-unit")
    assert rc == 1 and "unknown unit 'no-such-unit'" in out, out


def test_a_start_that_fails_exits_1(ctl):
    # Refused before the spawn (the executable is not in the rootfs) and failing in the child
    # after the spawn (its working directory is a file): both are failures, as systemctl's.
    for name, why in (("startnope", r"/bin/nope: not found in rootfs"), ("startbadcwd", r"chdir|working dir|/bin/sh")):
        rc, out = ctl.enter("/bin/initctl", "start", name)
        assert rc == 1, out
        assert f"{name}: failed to start" in out and re.search(why, out), out
    rc, out = ctl.enter("/bin/initctl", "stop", "edit")
    assert rc == 0, out
    rc, out = ctl.enter("/bin/initctl", "start", "edit")
    assert rc == 0 and re.search(r"edit: running \(pid \d+\)", out), out


def test_socket_mode_is_0600_as_documented(ctl):
    st = os.stat(f"/proc/{ctl.init_pid()}/root/run/keel/initctl.sock")
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    doc = (pathlib.Path(__file__).resolve().parents[2] / "supervisor/PROTOCOL.md").read_text()
    assert "(mode 0600;" in doc
