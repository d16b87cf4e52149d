# SPDX-License-Identifier: MIT
"""keel-init's kernel check names the missing kernel option.

seccomp-deny makes the syscalls behind a feature fail the way a kernel without it answers
(unshare(CLONE_NEWNET) -> EINVAL without CONFIG_NET_NS, mount -> ENODEV without the
filesystem), so the check's real probes run against a kernel that "lacks" them.
"""
import subprocess


def check(build_dir, *deny):
    cmd = [str(build_dir / "keel-init"), "--check-kernel"]
    if deny:
        cmd = [str(build_dir / "tests/seccomp-deny"), *deny, "--", *cmd]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr


def test_missing_netns_is_named(build_dir):
    rc, err = check(build_dir, "netns")
    assert rc == 1
    assert "kernel lacks network namespaces: Invalid argument — rebuild it with CONFIG_NET_NS" in err, err


def test_missing_overlayfs_is_named(build_dir):
    rc, err = check(build_dir, "overlay")
    assert "kernel lacks overlayfs: No such device — rebuild it with CONFIG_OVERLAY_FS" in err, err
    assert "network namespaces" not in err  # only what is missing is reported


def test_missing_seccomp_is_named(build_dir):
    rc, err = check(build_dir, "seccomp")
    assert "kernel lacks seccomp filters: Invalid argument — rebuild it with CONFIG_SECCOMP_FILTER" in err, err


def test_features_present_are_not_reported(build_dir):
    rc, err = check(build_dir)
    for what in ("network namespaces", "overlayfs", "seccomp filters", "PID namespaces", "mount namespaces"):
        assert f"kernel lacks {what}" not in err, err
