/* SPDX-License-Identifier: MIT */
#pragma once

#include "macros.h"
#include "spec.h"

/* Child side of a spawn: reports a failed stage to the parent and exits. Never returns. */
_noreturn_ _printf_(4, 5) void child_fail(int status_fd, SpawnStage stage, int err, const char *fmt, ...);

/* Overlay root, /proc, /sys, /dev and pivot_root, inside the child's new mount namespace. */
void rootfs_setup(const ContainerSpec *spec, int status_fd);

/* Bounding, permitted, effective = spec->capabilities; inheritable, ambient empty; no_new_privs. */
void caps_apply(const ContainerSpec *spec, int status_fd);
