/* SPDX-License-Identifier: MIT */
#pragma once

int system_set_hostname(const char *name);
int system_loopback_up(void);
/* Mounts the ext4 filesystem labelled KEELDATA at /var/lib/keel if a disk has one.
 * Returns 1 when mounted, 0 when there is none. */
int system_mount_data_disk(void);
