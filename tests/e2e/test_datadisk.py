# SPDX-License-Identifier: MIT
"""The data disk (DESIGN.md boot flow, step 3): an ext4 filesystem labelled KEELDATA is mounted
on /var/lib/keel at boot; units in its units/ join the baked ones and a same-named file
replaces the baked unit; at poweroff PID 1 syncs and unmounts it, so it needs no recovery."""
import subprocess
import tempfile
from pathlib import Path

import pytest

from keelvm import booted, build_dir

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
