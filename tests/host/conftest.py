# SPDX-License-Identifier: MIT
"""Host integration tests: keel's real binaries on this machine, no QEMU."""
import os
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("KEEL_BUILD", REPO / "build")).resolve()
IMAGE = pathlib.Path(os.environ.get("KEEL_IMAGE", BUILD / "image")).resolve()


@pytest.fixture(scope="session")
def build_dir():
    if not (BUILD / "keel-init").exists():
        pytest.fail(f"{BUILD}/keel-init missing: run ./dev build first")
    return BUILD


@pytest.fixture
def image_root(tmp_path):
    """The default image's root filesystem, unpacked from its initrd, to chroot into."""
    initrd = IMAGE / "initrd.gz"
    if not initrd.exists():
        pytest.fail(f"{initrd} missing: run ./dev image first")
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run(f"zcat {initrd} | cpio -id --quiet", shell=True, cwd=root, check=True)
    shutil.rmtree(root / "etc/keel/units")
    (root / "etc/keel/units").mkdir()
    yield root
    # Mounts made by the test's PID 1 died with its mount namespace; only files remain.
    subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)
