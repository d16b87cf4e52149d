/* SPDX-License-Identifier: MIT */
#pragma once

/* Checks that the kernel has what keel needs, by trying each thing for real (a namespace of
 * every kind, an overlay mount, a seccomp filter, pidfds, the cgroup controllers). Each
 * missing feature is logged with the kernel option that provides it. Returns how many are
 * missing. scratch is an empty directory on a tmpfs for the overlay probe. */
int probe_kernel(const char *scratch);
