/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* The API filesystems of DESIGN.md's boot flow, step 3. Returns the number that failed. */
int mount_api_filesystems(bool devtmpfs);
/* cgroup2 at /sys/fs/cgroup, controllers enabled for /sys/fs/cgroup/keel. */
int mount_cgroup(void);
/* Is "/" still the kernel's initial rootfs (which pivot_root cannot leave)? Needs /proc. */
bool root_is_initramfs(void);
/* Makes "/" a mount with a parent, so pivot_root works in containers. Unmounts /proc and
 * /dev first: mount them again afterwards. */
int root_leave_initramfs(void);
