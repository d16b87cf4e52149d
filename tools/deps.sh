#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages keel's build, image and tests use, when any is missing.
# Quiet when everything is there; needs root (or sudo) otherwise.
set -euo pipefail

packages=(
        # build
        build-essential meson ninja-build pkg-config
        libinih-dev libcap-dev libseccomp-dev libjson-c-dev libnl-3-dev libnl-route-3-dev
        # kernel
        linux-source-6.1 bc flex bison libelf-dev libssl-dev xz-utils lz4
        # image
        busybox-static syslinux syslinux-common isolinux syslinux-utils xorriso cpio e2fsprogs
        # run and test
        qemu-system-x86 python3-pytest python3-pexpect clang libclang-rt-dev
        nftables # tests/host/test_bridge_host.py and tests/e2e/test_network.py read keel's nft table from the host side
)

missing=()
for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when they are missing or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
        $sudo apt-get update -qq
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
