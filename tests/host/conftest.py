# SPDX-License-Identifier: MIT
"""Host integration tests: keel's real binaries on this machine, no QEMU."""
import subprocess

import pytest

from hostenv import BUILD, unpack_image


@pytest.fixture(scope="session")
def build_dir():
    if not (BUILD / "keel-init").exists():
        pytest.fail(f"{BUILD}/keel-init missing: run ./dev build first")
    return BUILD


@pytest.fixture
def image_root(tmp_path):
    """The default image's root filesystem, unpacked from its initrd, to chroot into."""
    root = tmp_path / "root"
    root.mkdir()
    unpack_image(root)
    yield root
    # Mounts made by the test's PID 1 died with its mount namespace; only files remain.
    subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)
