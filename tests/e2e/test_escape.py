# SPDX-License-Identifier: MIT
"""Escapes tried as an attacker would, in the booted image.

Bind sources (issue 11, item 1): one unit plants symlinks in a named volume that others take
bind sources from — to "/", to "../../..", to a sibling — and another swaps a directory with a
symlink to "/" by RENAME_EXCHANGE for ever while a victim whose source is that directory
restarts thousands of times. No bind may ever land outside the volume.

keel's own binary (item 2): a script starting "#!/proc/self/exe" must not run keel's binary in
a container, and a container holding every capability, with keel's reaper as its PID 1, must
find neither the host's file behind /proc/1/exe nor a way to write it.
"""
import os
import re
import time

import pytest

from keelvm import booted, build_dir

BUSYBOX = "/usr/share/keel/rootfs/busybox"
VOLS = "/var/lib/keel/volumes"
# Restarts of the race's victim: each is one spawn that resolves its bind source while the name
# is the directory or the symlink (about half each).
RACE_RESTARTS = int(os.environ.get("KEEL_RACE_RESTARTS", "2000"))


def unit(exec_line, container="", service="", unit_section=""):
    return (f"[Unit]\n{unit_section}\n[Container]\nRootfs={BUSYBOX}\nExec={exec_line}\n{container}\n"
            f"[Service]\n{service}\n")


PLANT = ("/bin/sh -c 'mkdir -p /v/sub && echo inside > /v/sub/marker && ln -sfn / /v/evil && "
         "ln -sfn ../../../../.. /v/rel && ln -sfn sub /v/link && echo planted=1; exec keel-test sleep'")
# A victim tries again until the planter has planted; then its error is the answer.
RETRY = "Restart=on-failure\nRestartSec=300ms"

UNITS = {
    "planter": unit(PLANT, "Volume=plain:/v"),
    "v-evil": unit("/bin/keel-test ls /data", f"Volume={VOLS}/plain/evil:/data", RETRY, "After=planter"),
    "v-evil-below": unit("/bin/keel-test ls /data", f"Volume={VOLS}/plain/evil/etc:/data:ro", RETRY,
                         "After=planter"),
    "v-rel": unit("/bin/keel-test ls /data", f"Volume={VOLS}/plain/rel:/data", RETRY, "After=planter"),
    "v-link": unit("/bin/keel-test ls /data",
                   f"Mount=type=bind,source={VOLS}/plain/link,destination=/data", RETRY, "After=planter"),
    "v-dotdot": unit("/bin/keel-test ls /data", f"Volume={VOLS}/plain/sub/../../../../etc:/data"),
    "v-ok": unit("/bin/sh -c 'keel-test cat /data/marker; exec keel-test sleep'",
                 f"Volume={VOLS}/plain/sub:/data", RETRY, "After=planter"),
    # The administrator's own symlink outside the volumes is followed: /bin/sh → busybox.
    "v-hostlink": unit("/bin/sh -c 'keel-test stat /hostsh; exec keel-test sleep'", "Volume=/bin/sh:/hostsh:ro"),
    # The race.
    "racer": unit("/bin/keel-test swap /r sub evil", "Volume=race:/r"),
    "victim": unit("/bin/keel-test race-victim /data", f"Volume={VOLS}/race/sub:/data",
                   "Restart=always\nRestartSec=1ms", "After=racer"),
    # keel's binary.
    "selfexe": unit("/selfexe.sh"),
    "reaper": unit("/bin/sh -c 'keel-test exe-info 1; mount -o remount,rw /dev/keel-init 2>&1; "
                   "ls /dev; echo done=1; exec keel-test sleep'",
                   "RunInit=yes\nAddCapability=ALL\nSeccompProfile=unconfined"),
}


@pytest.fixture(scope="module")
def evm(make_image, tmp_path_factory):
    script = tmp_path_factory.mktemp("selfexe") / "selfexe.sh"
    script.write_text("#!/proc/self/exe\necho this line is never run by a shell\n")
    script.chmod(0o755)
    files = {str(build_dir() / "tests/keel-test"): f"{BUSYBOX}/bin/keel-test",
             str(script): f"{BUSYBOX}/selfexe.sh"}
    with booted(make_image(UNITS, files=files), "test_escape") as v:
        yield v


def wait_status(vm, name, pattern, timeout=120):
    """initctl status NAME until pattern is in it; returns the output."""
    deadline = time.monotonic() + timeout * vm.scale
    while True:
        _, out = vm.run(f"initctl status {name}")
        if re.search(pattern, out):
            return out
        if time.monotonic() > deadline:
            raise AssertionError(f"initctl status {name} never matched {pattern!r}:\n{out}")
        time.sleep(0.5)


def unit_output(vm, name):
    _, out = vm.run(f"initctl logs -n 200 {name}")
    return [l.split("| ", 1)[1] for l in out.splitlines() if f" {name}| " in l]


def test_symlinks_planted_in_a_volume_are_never_followed(evm):
    evm.wait_console(r"planter\| planted=1\n", timeout=60)
    refused = "is a symlink inside /var/lib/keel/volumes, which containers can write: refusing to follow it"
    for name, link in [("v-evil", "plain/evil"), ("v-evil-below", "plain/evil"), ("v-rel", "plain/rel"),
                       ("v-link", "plain/link")]:
        out = wait_status(evm, name, re.escape(refused))
        assert f"spawn failed: bind {VOLS}/" in out, out
        assert f"{VOLS}/{link} {refused}" in out, out
        # It never ran: nothing of the machine's root was listed.
        assert not any(l in ("proc", "sys", "etc", "sbin") for l in unit_output(evm, name)), name
    # The directory itself binds, and the administrator's symlink outside the volumes is followed.
    wait_status(evm, "v-ok", r"State: +running")
    assert "inside" in unit_output(evm, "v-ok")
    wait_status(evm, "v-hostlink", r"State: +running")
    assert any(re.search(r"type=(regular|file)", l) for l in unit_output(evm, "v-hostlink")), \
        unit_output(evm, "v-hostlink")


def test_dotdot_in_a_source_is_refused_at_load(evm):
    _, out = evm.run("initctl status v-dotdot")
    assert "invalid" in out, out
    assert "Volume=: source '/var/lib/keel/volumes/plain/sub/../../../../etc' contains '..'" in out, out


def test_rename_exchange_race_never_binds_outside_the_volume(evm):
    evm.wait_console(r"racer\| swapping=1\n", timeout=60)
    pid1_mounts = evm.check("cat /proc/1/mountinfo")
    started = time.monotonic()
    deadline = started + 1800 * evm.scale
    restarts = 0
    while restarts < RACE_RESTARTS:
        assert time.monotonic() < deadline, f"only {restarts} restarts of the victim"
        restarts = evm.status_table()["victim"]["restarts"] or 0
        # Sampled during the race: nothing mounted in the machine's own namespace.
        assert evm.check("cat /proc/1/mountinfo") == pid1_mounts
        time.sleep(2)
    elapsed = time.monotonic() - started
    # Stop the victim first so that the run counts are final.
    evm.check("initctl stop victim racer")
    assert not evm.console_lines(r"victim\| ESCAPED"), evm.console_lines(r"victim\| ESCAPED")[:3]
    assert evm.run("test -e /run/keel-escaped")[0] != 0, "the victim wrote into the machine's /run"
    # The victim's good runs were counted in the directory, whatever its name is now.
    runs = int(evm.check(f"cat {VOLS}/race/sub/runs {VOLS}/race/evil/runs 2>/dev/null | wc -l").split()[-1])
    refused = evm.console_lines(r"victim: spawn failed: .*race/sub is a symlink inside")
    print(f"race: {restarts} restarts in {elapsed:.0f}s, {runs} runs saw the volume's directory, "
          f"{len(refused)} spawns refused the symlink (console)")
    assert runs > 0, "the victim never ran: the race proves nothing"
    assert refused, "no spawn met the symlink: the race proves nothing"
    assert evm.check("cat /proc/1/mountinfo") == pid1_mounts


def test_shebang_proc_self_exe_does_not_run_keel(evm):
    out = wait_status(evm, "selfexe", r"spawn failed")
    assert "exec /selfexe.sh: Permission denied" in out, out
    # keel's binary never started in the container (it would say so, as a PID 1 does).
    assert not evm.console_lines(r"selfexe\| .*(PID 1 started|keel)"), evm.console_lines(r"selfexe\| ")
    # PID 1 runs from a sealed in-memory copy that nobody may execute.
    info = evm.check(f"{BUSYBOX}/bin/keel-test exe-info 1")
    assert "exe-target=/memfd:keel-init (deleted)" in info, info
    assert "exe-access-x=EACCES" in info, info


def test_reaper_with_every_capability_cannot_reach_keels_binary(evm):
    evm.wait_console(r"reaper\| done=1\n", timeout=60)
    lines = unit_output(evm, "reaper")
    kv = dict(l.split("=", 1) for l in lines if "=" in l and " " not in l.split("=", 1)[0])
    assert kv["exe-target"] == "/memfd:keel-init (deleted)", lines
    assert kv["exe-open-write"] != "OK", lines
    # Not the host's file: another device and inode than the machine's /sbin/init.
    host = evm.check("stat -L -c '%d:%i' /sbin/init").strip()
    assert kv["exe-dev-ino"] != host and re.fullmatch(r"\d+:\d+", kv["exe-dev-ino"]), (kv, host)
    # Nothing of keel's is mounted in the container to be remounted writable (ls /dev).
    assert "null" in lines and "keel-init" not in lines, lines
