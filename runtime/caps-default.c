/* SPDX-License-Identifier: MIT */
/* Alone in its file so that the build-time seccomp generator (seccomp-gen.c) links it and
 * precompiles the filter for exactly this set. */
#include <linux/capability.h>
#include <stdint.h>

#include "spec.h"

/* Docker's (and runc's, containerd's) default set. */
#define CAP(c) (UINT64_C(1) << (c))
const uint64_t CAPS_DEFAULT = CAP(CAP_CHOWN) | CAP(CAP_DAC_OVERRIDE) | CAP(CAP_FSETID) | CAP(CAP_FOWNER) |
                              CAP(CAP_MKNOD) | CAP(CAP_NET_RAW) | CAP(CAP_SETGID) | CAP(CAP_SETUID) |
                              CAP(CAP_SETFCAP) | CAP(CAP_SETPCAP) | CAP(CAP_NET_BIND_SERVICE) |
                              CAP(CAP_SYS_CHROOT) | CAP(CAP_KILL) | CAP(CAP_AUDIT_WRITE);
