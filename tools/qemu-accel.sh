#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Prints the QEMU accelerator to use: "kvm" only when a short probe proves a kernel boots
# under it (nested KVM can hang on these machines), else "tcg". KEEL_ACCEL overrides.
# The verdict is cached in /tmp for the rest of the machine's uptime.
set -euo pipefail
if [ -n "${KEEL_ACCEL:-}" ]; then echo "$KEEL_ACCEL"; exit 0; fi
cache=/tmp/keel-accel.$(cut -d' ' -f1 /proc/sys/kernel/random/boot_id 2>/dev/null || echo x)
if [ -s "$cache" ]; then cat "$cache"; exit 0; fi
kernel=${1:?usage: qemu-accel.sh BZIMAGE}
verdict=tcg
if [ -w /dev/kvm ]; then
        # No root filesystem: a kernel that boots panics at once and, with panic=-1 and
        # -no-reboot, QEMU exits. A hang means KVM is not usable here.
        out=$(timeout 15 qemu-system-x86_64 -accel kvm -m 256 -kernel "$kernel" -append "console=ttyS0 panic=-1" \
                -display none -serial stdio -monitor none -no-reboot 2>&1 || true)
        case "$out" in *"Kernel panic"*) verdict=kvm ;; esac
fi
echo "$verdict" > "$cache"
echo "$verdict"
