# SPDX-License-Identifier: MIT
"""The runtime in the booted image, where cgroup v2 is pure and has every controller: the
[Service] resource keys, the device program, seccomp and capabilities, UserNS=auto with a
named volume, and limits enforced on keel-test payloads (tests/helper/keel-test.c)."""
import re
import time

import pytest

from keelvm import booted, build_dir

BUSYBOX = "/usr/share/keel/rootfs/busybox"


def unit(exec_line, service="", container=""):
    return f"[Container]\nRootfs={BUSYBOX}\nExec={exec_line}\n{container}\n[Service]\n{service}\n"


def probe(cmds):
    return "/bin/sh -c '" + "; ".join(f"keel-test {c}" for c in cmds) + "; echo done=1; exec keel-test sleep'"


UNITS = {
    "probe": unit(probe(["caps", "syscall mount", "syscall unshare-user", "syscall bpf", "syscall clone3",
                         "mknod-open /tmp/sda b 8 0", "write /sys/fs/cgroup/cgroup.procs"])),
    "bomb": unit("/bin/keel-test forkbomb 1000", "TasksMax=32"),
    "spin": unit("/bin/keel-test busy", "CPUQuota=20%"),
    "tuned": unit("/bin/keel-test sleep", "MemoryHigh=24M\nMemorySwapMax=0\nCPUWeight=50\nIOWeight=200\nAllowedCPUs=0"),
    "hog": unit("/bin/keel-test memhog 256M", "MemoryMax=32M"),
    "mapped": unit(probe(["ids", "write /data/f"]), container="UserNS=auto\nVolume=shared:/data"),
    # Waits for the test to create /ctl/go, then holds 48 MiB.
    "grow": unit("/bin/sh -c 'echo waiting=1; while [ ! -e /ctl/go ]; do sleep 0.2; done; "
                 "exec keel-test memhog 48M'", container="Volume=grow:/ctl"),
}


def unit_output(vm, unit):
    """The unit's output lines from PID 1's log ring: whole lines, where the console may have
    interleaved them with kernel messages."""
    status, out = vm.run(f"initctl logs -n 200 {unit}")
    return "\n".join(l.split("| ", 1)[1] for l in out.splitlines() if f" {unit}| " in l)


@pytest.fixture(scope="module")
def rvm(make_image):
    files = {str(build_dir() / "tests/keel-test"): f"{BUSYBOX}/bin/keel-test"}
    with booted(make_image(UNITS, files=files), "test_runtime") as v:
        yield v


def test_service_resource_keys_are_written(rvm):
    cg = "/sys/fs/cgroup/keel/tuned"
    assert rvm.check(f"cat {cg}/memory.high").strip() == str(24 << 20)
    assert rvm.check(f"cat {cg}/memory.swap.max").strip() == "0"
    assert rvm.check(f"cat {cg}/cpu.weight").strip() == "50"
    assert rvm.check(f"cat {cg}/io.weight").strip() == "default 200"
    assert rvm.check(f"cat {cg}/cpuset.cpus").strip() == "0"


def test_seccomp_caps_and_devices_in_the_guest(rvm):
    rvm.wait_console(r"probe\| done=1", timeout=120)
    out = unit_output(rvm, "probe")
    assert re.search(r"CapBnd:\s+00000000a80425fb", out) and re.search(r"Seccomp:\s+2", out), out
    for s in ("mount", "unshare-user", "bpf"):
        assert f"{s}=EPERM" in out
    assert "clone3=ENOSYS" in out
    assert "mknod=OK\nopen=EPERM" in out, "the BPF device program refuses the disk"
    assert "write=EROFS" in out


def test_fork_bomb_is_contained(rvm):
    rvm.wait_console(r"bomb\| error=EAGAIN", timeout=120)
    m = re.search(r"bomb\| forked=(\d+)", rvm.console)
    assert m and int(m.group(1)) < 32, rvm.console[-2000:]
    # PID 1 and the other containers keep answering.
    out = rvm.check("initctl status bomb")
    assert re.search(r"Tasks:\s+3\d \(max 32\)", out), out
    assert rvm.status_table()["tuned"]["state"] == "running"


def test_cpu_quota_throttles_a_busy_loop(rvm):
    def throttled():
        out = rvm.check("cat /sys/fs/cgroup/keel/spin/cpu.stat")
        return int(re.search(r"nr_throttled (\d+)", out).group(1))

    first = throttled()
    deadline = time.monotonic() + 60
    while throttled() <= first:
        assert time.monotonic() < deadline, "nr_throttled did not grow under CPUQuota=20%"
    assert "throttled" in rvm.check("initctl status spin")


def test_memory_max_oom_kill_is_the_exit_reason(rvm):
    rvm.wait_console(r"keel: hog: killed by SIGKILL \(out of memory", timeout=120)
    out = rvm.run("initctl status hog")[1]  # exit status 3: not running
    assert "out of memory" in out, out


def test_userns_auto_owns_its_named_volume(rvm):
    rvm.wait_console(r"mapped\| done=1", timeout=120)
    out = unit_output(rvm, "mapped")
    assert "uid_map=0 268435456 65536" in out and "write=OK" in out, out
    out = rvm.check("stat -c '%u %g' /var/lib/keel/volumes/shared/f")
    assert out.strip() == "268435456 268435456", out


def table_bytes(text):
    """A MEMORY cell of `initctl status` ("512B", "3.4M", "1.0G") in bytes."""
    m = re.fullmatch(r"([\d.]+)([BKMGT])", text)
    assert m, text
    return float(m[1]) * 1024 ** "BKMGT".index(m[2])


def test_status_table_memory_follows_the_cgroup(rvm):
    # PID 1 keeps each running unit's memory.current open and reads it again per request
    # (pread at offset 0): the figure must be the cgroup's current one, not the first read's.
    rvm.wait_console(r"grow\| waiting=1", timeout=120)
    before = table_bytes(rvm.status_table()["grow"]["memory"])
    assert before < 16 * 2**20, before
    rvm.check("touch /var/lib/keel/volumes/grow/go")
    rvm.wait_console(r"grow\| done", timeout=120)
    after = table_bytes(rvm.status_table()["grow"]["memory"])
    cur = int(rvm.check("cat /sys/fs/cgroup/keel/grow/memory.current"))
    assert after >= 48 * 2**20 and abs(after - cur) < 4 * 2**20, (before, after, cur)
