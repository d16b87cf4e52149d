# SPDX-License-Identifier: MIT
"""The runtime's isolation, seen from inside containers that keel's real PID 1 starts on the host.

Each unit runs keel-test (tests/helper/keel-test.c, static) in a rootfs made for it and prints
what it finds as `key=value` lines, which reach PID 1's output as `UNIT| key=value`. One PID 1
runs every unit of this module; each test reads the lines of its unit. What needs cgroup
controllers (memory, pids, cpu limits) is tested in the booted image (tests/e2e).
"""
import os
import re
import shutil
import subprocess

import pytest

from test_pid1_namespace import module_pid1
from hostenv import BUILD

TEST = "/usr/share/keel/rootfs/test"
SYSCALLS_DENIED = ["mount", "umount2", "unshare-user", "keyctl", "add_key", "bpf", "kexec_load",
                   "open_by_handle_at", "reboot", "socket-alg", "clone-newns", "pivot_root", "userfaultfd"]


def probe(cmds):
    """A shell line running keel-test commands, then a marker, then sleeping for ever."""
    return "/bin/sh -c '" + "; ".join(f"keel-test {c}" for c in cmds) + "; echo done=1; exec keel-test sleep'"


UNITS = {
    "probe": f"""[Container]
Rootfs={TEST}
Exec={probe(["caps", "ids", "rlimit", "sigmask", "hostname", "exe-write",
             *[f"syscall {s}" for s in SYSCALLS_DENIED], "syscall clone3", "syscall unknown",
             "syscall getpid", "syscall socket-inet",
             "write /proc/sys/kernel/domainname", "write /sys/kernel/uevent_helper",
             "write /sys/fs/cgroup/cgroup.procs",
             "cat /proc/kcore", "ls /proc/acpi", "ls /sys/firmware", "mknod-open /tmp/sda b 8 0",
             "mknod-open /tmp/null c 1 3", "readlink /proc/self/ns/net", "ls /sys/class/net", "ls /dev",
             "mounts"])}
Network=none
""",
    "fds": f"""[Container]
Rootfs={TEST}
Exec=/bin/keel-test fds
""",
    "user": f"""[Container]
Rootfs={TEST}
User=app
GroupAdd=wheel 3000
Exec={probe(["ids", "caps"])}
""",
    "userns": f"""[Container]
Rootfs={TEST}
UserNS=auto
Volume=vol1:/data
Exec={probe(["ids", "caps", "write /data/made-inside", "write /etc/x", "write /tmp/x"])}
""",
    "volumes": f"""[Container]
Rootfs={TEST}
Volume=/srv/hostdir:/data:ro
Volume=/srv/hostdir:/rw
Mount=type=tmpfs,destination=/scratch,tmpfs-size=1m
Tmpfs=/run/app:size=512k,mode=0700
Exec={probe(["cat /data/marker", "write /data/x", "write /rw/from-rw", "write /scratch/x", "mounts"])}
""",
    "escape": """[Container]
Rootfs=/usr/share/keel/rootfs/symvol
Volume=/srv/hostdir:/data
Exec=/bin/sh -c 'ls /tmp/keel-escape; echo done=1; exec keel-test sleep'
""",
    "symproc": """[Container]
Rootfs=/usr/share/keel/rootfs/symproc
Exec=/bin/true
""",
    "missingvol": f"""[Container]
Rootfs={TEST}
Volume=/var/lib/keel/volumes/x:/data
Exec=/bin/true
[Service]
Restart=always
RestartSec=100ms
""",
    "envfile": f"""[Container]
Rootfs={TEST}
EnvironmentFile=/etc/keel/test.env
EnvironmentFile=-/etc/keel/missing.env
Environment=OVERRIDE=unit
Ulimit=nofile=2048:4096
Ulimit=core=0
Exec={probe(["env", "rlimit"])}
""",
    "reaper": f"""[Container]
Rootfs={TEST}
RunInit=yes
Exec={probe(["orphans 5", "cat /proc/1/cmdline", "exe-write"])}
""",
    "noreaper": f"""[Container]
Rootfs={TEST}
Exec=/bin/keel-test orphans 5 sleep
""",
    "unconfined": f"""[Container]
Rootfs={TEST}
SeccompProfile=unconfined
Network=host
Exec={probe(["caps", "readlink /proc/self/ns/net"])}
""",
}


def make_rootfs(root, name, busybox):
    dst = root / f"usr/share/keel/rootfs/{name}"
    subprocess.run(["cp", "-a", str(busybox), str(dst)], check=True)
    return dst


@pytest.fixture(scope="module")
def iso(tmp_path_factory):
    def prepare(root):
        busybox = root / "usr/share/keel/rootfs/busybox"
        test = make_rootfs(root, "test", busybox)
        shutil.copy(BUILD / "tests/keel-test", test / "bin/keel-test")
        with open(test / "etc/passwd", "a") as f:
            f.write("app:x:1000:1000:app:/home/app:/bin/sh\n")
        with open(test / "etc/group", "a") as f:
            f.write("app:x:1000:\nwheel:x:10:app\nstaff:x:50:root,app\n")
        symvol = make_rootfs(root, "symvol", test)
        os.symlink("/tmp/keel-escape", symvol / "data")  # absolute, dangling: made inside, not on the host
        symproc = make_rootfs(root, "symproc", test)
        os.rmdir(symproc / "proc") if (symproc / "proc").is_dir() else None
        os.symlink("/tmp", symproc / "proc")
        (root / "srv/hostdir").mkdir(parents=True)
        (root / "srv/hostdir/marker").write_text("from the host\n")
        (root / "etc/keel/test.env").write_text("# comment\nA=1\nexport B='two words'\nOVERRIDE=file\n")

    yield from module_pid1(tmp_path_factory, "iso", UNITS, prepare)


def facts(pid1, unit, marker="done=1", timeout=60):
    """The unit's output lines once it has printed marker: (list of lines, dict of key=value)."""
    pid1.wait_for(rf"^{unit}\| {re.escape(marker)}", timeout=timeout)
    lines = [l.split("| ", 1)[1] for l in pid1.lines if l.startswith(f"{unit}| ")]
    kv = {}
    for l in lines:
        m = re.match(r"^([\w./-]+)[=:]\s*(.*)$", l)
        if m:
            kv.setdefault(m.group(1), m.group(2))
    return lines, kv


def test_default_capabilities_and_no_new_privs(iso):
    _, kv = facts(iso, "probe")
    assert kv["CapBnd"] == kv["CapPrm"] == kv["CapEff"] == "00000000a80425fb", kv
    assert kv["CapInh"] == kv["CapAmb"] == "0000000000000000", kv
    assert kv["NoNewPrivs"] == "1"
    assert kv["Seccomp"] == "2", "the default seccomp filter is installed"


def test_seccomp_default_profile(iso):
    _, kv = facts(iso, "probe")
    for s in SYSCALLS_DENIED:
        assert kv[s] == "EPERM", (s, kv.get(s))
    assert kv["clone3"] == "ENOSYS", "clone3 → ENOSYS so that libc falls back to clone"
    assert kv["unknown"] == "ENOSYS", "syscalls newer than the profile → ENOSYS"
    assert kv["getpid"] == "OK" and kv["socket-inet"] == "OK"


def test_process_defaults(iso):
    lines, kv = facts(iso, "probe")
    assert kv["uid"] == "0" and kv["gid"] == "0" and kv["umask"] == "0022", kv
    assert kv["cwd"] == "/"
    assert kv["nofile"] == "1024:1024", "RLIMIT_NOFILE 1024:1024 by default, as runc"
    assert kv["SigBlk"] == "0000000000000000" and kv["SigIgn"] == "0000000000000000"
    assert kv["hostname"] == "probe"
    # CVE-2019-5736 class: the binary being run cannot be opened for writing.
    assert kv["exe-write"] != "OK"


def test_read_only_and_masked_paths(iso):
    lines, kv = facts(iso, "probe")
    writes = [l for l in lines if l.startswith("write=")]
    assert writes == ["write=EROFS"] * 3, lines
    i = lines.index("mknod=OK")  # mknod b 8:0 is allowed (as Docker) …
    assert lines[i + 1] == "open=EPERM", "… opening it is not: the BPF device program"
    assert lines[i + 2:i + 4] == ["mknod=OK", "open=OK"], "/dev/null's numbers stay usable"
    k = lines.index("done=1")
    mounts = lines[lines.index("/", 0, k):k]
    for m in mounts:
        assert not m.startswith(("/run/keel", "/etc/keel", "/usr/share/keel", "/srv")), mounts
    assert {"/proc", "/sys", "/sys/fs/cgroup", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"} <= set(mounts)
    # Masked: /proc/kcore reads as /dev/null, /proc/acpi and /sys/firmware are empty.
    net = next(l for l in lines if l.startswith("net:["))
    ls_net = lines[lines.index(net) + 1]
    assert ls_net == "lo", "Network=none: a namespace of its own with only lo"
    dev = lines[lines.index(ls_net) + 1:lines.index("/")]
    assert set(dev) == {"console", "core", "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm",
                        "stderr", "stdin", "stdout", "tty", "urandom", "zero"} - {"console"}, dev


def test_own_network_namespace(iso):
    lines, _ = facts(iso, "probe")
    theirs = next(l for l in lines if l.startswith("net:["))
    rc, mine = iso.enter("/bin/readlink", "/proc/1/ns/net")
    assert theirs != mine.strip()
    lines, _ = facts(iso, "unconfined")
    host = next(l for l in lines if l.startswith("net:["))
    assert host == mine.strip(), "Network=host shares the machine's namespace"


def test_only_stdio_reaches_the_container(iso):
    lines, kv = facts(iso, "fds", marker="count=3")
    assert kv["count"] == "3", lines


def test_user_and_groups(iso):
    _, kv = facts(iso, "user")
    assert kv["uid"] == "1000" and kv["gid"] == "1000", kv
    assert set(kv["groups"].split(",")) == {"1000", "10", "50", "3000"}, kv
    assert kv["CapEff"] == kv["CapPrm"] == "0000000000000000", "a non-root user holds no capabilities"
    assert kv["CapBnd"] == "00000000a80425fb"


def test_userns_auto(iso):
    lines, kv = facts(iso, "userns")
    assert re.fullmatch(r"0 268435456 65536", kv["uid_map"]), kv
    assert re.fullmatch(r"0 268435456 65536", kv["gid_map"]), kv
    assert kv["setgroups"] == "deny"
    writes = [l for l in lines if l.startswith("write=")]
    assert writes[0] == "write=OK", lines
    assert writes[1] != "write=OK", "the image's files belong to the host's root, not the container's"
    assert writes[2] == "write=OK"
    st = os.stat(iso.root / "var/lib/keel/volumes/vol1/made-inside")
    assert (st.st_uid, st.st_gid) == (268435456, 268435456), "files on a volume show the mapped host ids"


def test_volumes_and_tmpfs(iso):
    lines, kv = facts(iso, "volumes")
    assert "from the host" in lines
    writes = [l for l in lines if l.startswith("write=")]
    assert writes == ["write=EROFS", "write=OK", "write=OK"], lines
    assert (iso.root / "srv/hostdir/from-rw").exists()
    assert {"/data", "/rw", "/scratch", "/run/app"} <= set(lines)


def test_symlink_in_image_cannot_aim_a_volume_outside(iso):
    lines, _ = facts(iso, "escape")
    assert "marker" in lines, "the bind landed inside the container, where the symlink points there"
    assert not os.path.lexists(iso.root / "tmp/keel-escape"), "nothing was created outside the rootfs"


def test_proc_symlink_is_refused(iso):
    iso.wait_for(r"symproc: .*spawn failed")
    rc, out = iso.enter("/bin/initctl", "status", "symproc")
    assert "/proc in the image is a symlink" in out, out


def test_missing_volume_is_named_and_leaves_nothing_behind(iso):
    iso.wait_for(r"missingvol: .*spawn failed", count=3)
    rc, out = iso.enter("/bin/initctl", "status", "missingvol")
    assert "bind /var/lib/keel/volumes/x on /data: No such file or directory" in out, out
    counts = []
    for _ in range(2):
        n = len([l for l in iso.lines if re.search(r"missingvol: .*spawn failed", l)])
        iso.wait_for(r"missingvol: .*spawn failed", count=n + 5)
        _, fds = iso.enter("/bin/ls", "/proc/1/fd")
        _, mi = iso.enter("/bin/cat", "/proc/1/mountinfo")
        _, cg = iso.enter("/bin/ls", "/sys/fs/cgroup/keel")
        counts.append((len(fds.split()), len(mi.splitlines()), cg.split().count("missingvol") <= 1))
    assert counts[0] == counts[1], f"fds or mounts grew across failed spawns: {counts}"


def test_environment_file_and_ulimits(iso):
    lines, kv = facts(iso, "envfile")
    assert "A=1" in lines and "B=two words" in lines, lines
    assert "OVERRIDE=unit" in lines and "OVERRIDE=file" not in lines
    assert kv["nofile"] == "2048:4096" and kv["core"] == "0:0", kv


def test_run_init_reaps_zombies(iso):
    lines, kv = facts(iso, "reaper")
    assert "keel-init" in lines, "PID 1 is the reaper (its cmdline, cut at the first NUL)"
    assert kv["zombies"] == "0", lines
    assert kv["pid1-exe-write"] != "OK", "the reaper's binary is read-only"
    # Without RunInit= the command is PID 1 and never reaps the orphans it inherits.
    lines, kv = facts(iso, "noreaper", marker="zombies=5")


def test_seccomp_unconfined(iso):
    _, kv = facts(iso, "unconfined")
    assert kv["Seccomp"] == "0"
