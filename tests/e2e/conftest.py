# SPDX-License-Identifier: MIT
"""Fixtures for keel's end-to-end tests: each test module boots one VM.

Environment (set by ./dev test; defaults relative to the repo): KEEL_BUILD (meson build dir,
default build/), KEEL_IMAGE (dir with keel.iso, default KEEL_BUILD/image), KEEL_KERNEL
(default KEEL_IMAGE/vmlinuz), KEEL_TIMEOUT_SCALE (multiplies every timeout, default 1).
"""
from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from keelvm import KeelVM, booted, build_dir, image_dir, kernel_path, mkimage  # noqa: E402


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello-from-host"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def host_server():
    """An HTTP server on the host's 127.0.0.1 answering "hello-from-host": what containers
    reach through NAT and a QEMU guestfwd rule. Yields its port."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()


def default_iso() -> Path:
    iso = image_dir() / "keel.iso"
    if not iso.is_file():
        # A missing image is a failure, never a skip: the suite must not pass without booting.
        pytest.fail(f"{iso} not found: build it first (./dev image)", pytrace=False)
    return iso


def _module_name(request) -> str:
    return request.module.__name__.rsplit(".", 1)[-1]


@pytest.fixture(scope="module")
def vm(request):
    """The default image (build/image/keel.iso), booted once per test module."""
    with booted(default_iso(), _module_name(request)) as v:
        yield v


def _mkimage(units: dict[str, str], cmdline: str | None, files: dict[str, str] | None, out: Path) -> Path:
    unit_dir = out / "units"
    unit_dir.mkdir(parents=True, exist_ok=True)
    for name, text in units.items():
        fname = name if name.endswith(".container") else name + ".container"
        (unit_dir / fname).write_text(text)
    kernel = kernel_path()
    if not kernel.is_file():
        pytest.fail(f"{kernel} not found: build the default image first (./dev image)", pytrace=False)
    r = mkimage(out / "image", build_dir(), unit_dir, kernel, cmdline, files, timeout=300)
    if r.returncode != 0:
        pytest.fail(f"mkimage.sh failed ({r.returncode}):\n{r.stdout}\n{r.stderr}", pytrace=False)
    return out / "image" / "keel.iso"


@pytest.fixture(scope="session")
def make_image():
    """make_image(units={"name": "unit text"}, cmdline=None, files={SRC: DST}) -> path of a
    keel.iso with exactly those units baked in. Built with initramfs/mkimage.sh from KEEL_BUILD's
    binaries and the default image's kernel; cached per session by content.

    The images live under KEEL_BUILD/e2e-images/ (not pytest's tmp_path, which a concurrent
    pytest run may prune) and are removed at the end of the session."""
    cache: dict[str, Path] = {}
    root = Path(tempfile.mkdtemp(prefix=f"session-{os.getpid()}-", dir=_mkdir(build_dir() / "e2e-images")))

    def make(units: dict[str, str], cmdline: str | None = None, files: dict[str, str] | None = None) -> Path:
        file_sums = {src: hashlib.sha256(Path(src).read_bytes()).hexdigest() for src in (files or {})}
        key = hashlib.sha256(json.dumps([units, cmdline, files, file_sums], sort_keys=True).encode()).hexdigest()[:16]
        if key not in cache:
            cache[key] = _mkimage(units, cmdline, files, root / key)
        return cache[key]

    yield make
    shutil.rmtree(root, ignore_errors=True)


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, name the console log of every VM the test used."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        vms = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, KeelVM)]
        for v in vms:
            report.sections.append(("keel console", f"full console log of {v.name}: {v.log_path}"))
            print(f"\nkeel console log: {v.log_path}", file=sys.stderr)
