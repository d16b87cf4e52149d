# SPDX-License-Identifier: MIT
"""Paths and the image root shared by the host tests (a module, not conftest: tests/e2e has a
conftest of its own, and `from conftest import` would find whichever was imported first)."""
import os
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("KEEL_BUILD", REPO / "build")).resolve()
IMAGE = pathlib.Path(os.environ.get("KEEL_IMAGE", BUILD / "image")).resolve()



def unpack_image(root):
    """Unpacks the default image's initrd into root, without its units."""
    initrd = IMAGE / "initrd.gz"
    if not initrd.exists():
        pytest.fail(f"{initrd} missing: run ./dev image first")
    subprocess.run(f"zcat {initrd} | cpio -id --quiet", shell=True, cwd=root, check=True)
    shutil.rmtree(root / "etc/keel/units")
    (root / "etc/keel/units").mkdir()


