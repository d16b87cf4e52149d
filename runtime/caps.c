/* SPDX-License-Identifier: MIT */
/*
 * Capabilities of a container's process, set in the child just before execve().
 *
 * keel runs containers as uid 0, and for uid 0 execve() grants permitted = effective = the
 * bounding set: so the bounding set is what limits a container. It is cut to the mask, the
 * ambient set is cleared and the inheritable set emptied (filling it was CVE-2022-24769),
 * and no_new_privs stops setuid binaries and file capabilities from adding any back.
 */
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "child.h"

/* CAPS_DEFAULT, Docker's set, is in caps-default.c: the build-time seccomp generator needs it
 * without the rest of the runtime. */
#define CAP(c) (UINT64_C(1) << (c))

void caps_drop_bounding(const ContainerSpec *spec, int fd) {
        uint64_t keep = spec->capabilities;
        /* The kernel may know more capabilities than our headers: drop until it says EINVAL. */
        for (int c = 0; c < 64; c++) {
                if (keep & CAP(c))
                        continue;
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
                        if (errno == EINVAL)
                                break;
                        child_fail(fd, STAGE_CAPS, errno, "drop capability %d from the bounding set", c);
                }
        }
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                child_fail(fd, STAGE_CAPS, errno, "clear ambient capabilities");
}

void caps_apply(const ContainerSpec *spec, int fd, uid_t uid) {
        /* As for Docker: root gets the set; any other user starts with nothing permitted or
         * effective (setresuid() already cleared them) and only the bounding set says what a
         * setuid or file-capability binary could regain, which no_new_privs forbids too. */
        uint64_t keep = uid == 0 ? spec->capabilities : 0;
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2] = { 0 };
        data[0].permitted = data[0].effective = (uint32_t) keep;
        data[1].permitted = data[1].effective = (uint32_t) (keep >> 32);
        if (syscall(SYS_capset, &hdr, data) < 0)
                child_fail(fd, STAGE_CAPS, errno, "set capabilities");

        if (spec->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                child_fail(fd, STAGE_CAPS, errno, "set no_new_privs");
}
