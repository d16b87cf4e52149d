# SPDX-License-Identifier: MIT
"""The data disk (DESIGN.md boot flow, step 3): an ext4 filesystem labelled KEELDATA is mounted
on /var/lib/keel at boot; units in its units/ join the baked ones and a same-named file
replaces the baked unit; at poweroff PID 1 syncs and unmounts it, so it needs no recovery.
Across reboots: a unit written at the console runs at the next boot, a broken one is reported
there, and what a container wrote to a named volume before poweroff is still there."""
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from keelvm import KeelVM, booted, build_dir

BUSYBOX = "/usr/share/keel/rootfs/busybox"


def unit(text: str) -> str:
    return f"""[Container]
Rootfs={BUSYBOX}
Exec=/bin/sh -c 'trap "exit 0" TERM; echo "{text}"; while :; do sleep 1 & wait $!; done'
"""


BAKED = {"greeter": unit("greeting from the image"), "baked-only": unit("only in the image")}
ON_DISK = {"greeter": unit("greeting from the data disk"), "disk-only": unit("only on the data disk")}


@pytest.fixture(scope="module")
def disk_vm(make_image):
    iso = make_image(BAKED)
    work = Path(tempfile.mkdtemp(prefix="datadisk-", dir=build_dir() / "e2e-images"))
    (work / "root/units").mkdir(parents=True)
    for name, text in ON_DISK.items():
        (work / f"root/units/{name}.container").write_text(text)
    img = work / "data.img"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "KEELDATA", "-d", str(work / "root"), str(img), "32M"],
                   check=True, capture_output=True)
    with booted(iso, "test_datadisk", extra_qemu_args=["-drive", f"file={img},if=virtio,format=raw"]) as v:
        yield v, img
    subprocess.run(["rm", "-rf", str(work)], check=False)


def test_data_disk_is_mounted(disk_vm):
    vm, _ = disk_vm
    assert "keel: data disk /dev/vda mounted on /var/lib/keel" in vm.console
    mounts = vm.check("cat /proc/mounts")
    assert any(l.split()[:3] == ["/dev/vda", "/var/lib/keel", "ext4"] for l in mounts.splitlines()), mounts


def test_disk_unit_replaces_baked_one(disk_vm):
    vm, _ = disk_vm
    vm.wait_console(r"greeter\| greeting from the data disk\n", timeout=60)
    assert "greeting from the image" not in vm.console
    out = vm.check("initctl status greeter")
    assert "File:     /var/lib/keel/units/greeter.container" in out, out


def test_units_from_both_places_run(disk_vm):
    vm, _ = disk_vm
    vm.wait_console(r"disk-only\| only on the data disk\n", timeout=60)
    vm.wait_console(r"baked-only\| only in the image\n", timeout=60)
    table = vm.status_table()
    assert {table[n]["state"] for n in ("greeter", "baked-only", "disk-only")} == {"running"}, table


def test_poweroff_leaves_the_disk_clean(disk_vm):
    vm, img = disk_vm
    vm.check("echo persisted-data > /var/lib/keel/marker")
    line = vm.poweroff()
    assert "(clean:" in line, line
    # Unmounted cleanly: no journal to replay, and the write is on the disk.
    header = subprocess.run(["dumpe2fs", "-h", str(img)], capture_output=True, text=True).stdout
    assert "needs_recovery" not in header, header
    assert "Filesystem state:         clean" in header, header
    data = subprocess.run(["debugfs", "-R", "cat /marker", str(img)], capture_output=True, text=True).stdout
    assert "persisted-data" in data, data


# ---- the data disk across reboots: what a user does with ./dev run --------------------------------

UNITS_DIR = "/var/lib/keel/units"
HELLO = unit("hello from a unit written at the console")
EDITED_GREETER = unit("greeting edited at the console")
BROKEN = f"""[Unit]
Description=Broken at the console

[Container]
Rootfs={BUSYBOX}
Exce=/bin/sh -c 'echo never'
"""
BROKEN_LINE = 1 + BROKEN.splitlines().index("Exce=/bin/sh -c 'echo never'")
NOTE = "note-7f3a9c written before poweroff"
# Writes the note once (fsynced), and says so; on later boots it only reports what it finds.
WRITER = f"""[Unit]
Description=Writes into the named volume 'data'

[Container]
Rootfs={BUSYBOX}
Volume=data:/data
Exec=/bin/sh -c 'trap "exit 0" TERM; if [ -e /data/note ]; then echo "kept: $(cat /data/note)"; else echo "{NOTE}" | dd of=/data/note conv=fsync 2>/dev/null && echo "wrote: $(cat /data/note)"; fi; while :; do sleep 1 & wait $!; done'
"""


def make_data_disk(work: Path, units: dict[str, str] | None = None) -> Path:
    """An ext4 image labelled KEELDATA with units/ (holding units) and an empty volumes/, as
    ./dev run makes build/data.img."""
    root = work / "root"
    (root / "units").mkdir(parents=True)
    (root / "volumes").mkdir()
    for name, text in (units or {}).items():
        (root / f"units/{name}.container").write_text(text)
    img = work / "data.img"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "KEELDATA", "-d", str(root), str(img), "32M"],
                   check=True, capture_output=True)
    return img


class Machine:
    """One image and one data disk, booted again and again: the state a user keeps. Each boot
    is a new QEMU (it runs with -no-reboot, so a guest reboot ends it)."""

    def __init__(self, iso: Path, img: Path, name: str):
        self.iso, self.img, self.name = iso, img, name
        self.vm: KeelVM | None = None
        self.boots = 0
        self.state: dict = {}  # what one test leaves for the next

    def boot(self) -> KeelVM:
        assert self.vm is None or not self.vm.alive(), "the previous boot is still running"
        self.boots += 1
        vm = KeelVM(self.iso, name=f"{self.name}-boot{self.boots}",
                    extra_qemu_args=["-drive", f"file={self.img},if=virtio,format=raw"])
        self.vm = vm
        try:
            vm.boot()
        except BaseException:
            vm.kill()
            raise
        assert "keel: data disk /dev/vda mounted on /var/lib/keel" in vm.console, vm.tail()
        return vm

    def shutdown(self, command: str, mode: str) -> str:
        """Type command; wait for PID 1's last line and for QEMU to exit (status 0)."""
        line = self.vm.poweroff(command=command, mode=mode)
        assert "(clean:" in line, line
        assert self.vm.exit_status == 0, f"QEMU exited with {self.vm.exit_status}"
        self.vm.kill()
        return line

    def close(self):
        if self.vm is not None:
            self.vm.kill()


def write_file(vm: KeelVM, path: str, text: str):
    """Write text to path at the console shell with a quoted here-document (no expansion)."""
    assert "KEEL_EOF" not in text and text.endswith("\n")
    vm.check(f"cat > {path} <<'KEEL_EOF'\n{text}KEEL_EOF")
    assert vm.check(f"cat {path}") == text


@pytest.fixture(scope="module")
def machine(make_image):
    """The image of disk_vm and a data disk as ./dev run makes it: empty units/ and volumes/."""
    iso = make_image(BAKED)
    work = Path(tempfile.mkdtemp(prefix="datadisk-reboot-", dir=build_dir() / "e2e-images"))
    m = Machine(iso, make_data_disk(work), "test_datadisk-reboot")
    yield m
    m.close()
    subprocess.run(["rm", "-rf", str(work)], check=False)


def test_unit_written_at_the_console_runs_after_reboot(machine):
    vm = machine.boot()
    assert vm.check(f"ls -A {UNITS_DIR}") == ""
    assert "hello" not in vm.status_table()
    write_file(vm, f"{UNITS_DIR}/hello.container", HELLO)
    write_file(vm, f"{UNITS_DIR}/greeter.container", EDITED_GREETER)
    machine.shutdown("reboot", "reboot")

    vm = machine.boot()
    vm.wait_console(r"hello\| hello from a unit written at the console\n", timeout=60)
    vm.wait_console(r"greeter\| greeting edited at the console\n", timeout=60)
    vm.wait_console(r"baked-only\| only in the image\n", timeout=60)
    assert "greeting from the image" not in vm.console
    table = vm.status_table()
    assert {table[n]["state"] for n in ("hello", "greeter", "baked-only")} == {"running"}, table
    out = vm.check("initctl status hello")
    assert f"File:     {UNITS_DIR}/hello.container" in out, out
    assert re.search(r"State: +running\b", out), out
    machine.state["hello"] = True


def test_broken_unit_on_disk_is_reported_after_reboot(machine):
    if not machine.state.get("hello"):
        pytest.fail("needs the disk and the running VM that the previous test leaves (it failed)")
    vm = machine.vm
    write_file(vm, f"{UNITS_DIR}/broken.container", BROKEN)
    machine.shutdown("initctl reboot", "reboot")

    vm = machine.boot()
    path = f"{UNITS_DIR}/broken.container"
    msg = f"{path}:{BROKEN_LINE}: unknown key 'Exce' in [Container]; did you mean 'Exec'?"
    # At boot, on the console (PID 1's own line), before the system is ready.
    m = vm.wait_console(r"keel: " + re.escape(msg) + r"\n", timeout=30)
    assert m.start() < vm.console.index("keel: ready:"), "the error came after ready"
    vm.wait_console(r"keel: " + re.escape(f"{path}: missing Exec= in [Container]") + r"\n", timeout=30)
    assert re.search(r"keel: ready: \d+ units running, 1 invalid\b", vm.ready_line), vm.ready_line
    status, out = vm.run("initctl status broken")
    assert status != 0, out
    assert re.search(r"State: +invalid\b", out), out
    assert re.search(r"Error: +" + re.escape(msg), out), out
    assert f"File:     {path}" in out, out
    # Everything else runs: the baked units and the unit written in the previous test.
    vm.wait_console(r"hello\| hello from a unit written at the console\n", timeout=60)
    table = vm.status_table()
    assert table["broken"]["state"] == "invalid", table
    assert {table[n]["state"] for n in ("hello", "greeter", "baked-only")} == {"running"}, table


def test_clean_shutdown_loses_nothing(make_image):
    iso = make_image(BAKED)
    work = Path(tempfile.mkdtemp(prefix="datadisk-volume-", dir=build_dir() / "e2e-images"))
    m = Machine(iso, make_data_disk(work, {"writer": WRITER}), "test_datadisk-volume")
    try:
        vm = m.boot()
        vm.wait_console(r"writer\| wrote: " + re.escape(NOTE) + r"\n", timeout=60)
        m.shutdown("initctl poweroff", "poweroff")

        # Unmounted cleanly: nothing for fsck to fix, no journal to replay, the note on disk.
        fsck = subprocess.run(["e2fsck", "-fn", str(m.img)], capture_output=True, text=True)
        assert fsck.returncode == 0, f"e2fsck -fn exited {fsck.returncode}:\n{fsck.stdout}{fsck.stderr}"
        header = subprocess.run(["dumpe2fs", "-h", str(m.img)], capture_output=True, text=True,
                                check=True).stdout
        assert re.search(r"^Filesystem state: +clean$", header, re.M), header
        features = re.search(r"^Filesystem features: +(.*)$", header, re.M).group(1).split()
        assert "needs_recovery" not in features, header
        data = subprocess.run(["debugfs", "-R", "cat /volumes/data/note", str(m.img)],
                              capture_output=True, text=True).stdout
        assert data == NOTE + "\n", data

        vm = m.boot()
        vm.wait_console(r"writer\| kept: " + re.escape(NOTE) + r"\n", timeout=60)
        assert "writer| wrote:" not in vm.console
        assert vm.check("cat /var/lib/keel/volumes/data/note") == NOTE + "\n"
    finally:
        m.close()
        subprocess.run(["rm", "-rf", str(work)], check=False)
