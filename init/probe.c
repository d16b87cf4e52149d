/* SPDX-License-Identifier: MIT */
/*
 * A kernel built without an option keel needs would otherwise fail much later and obscurely
 * (a container that cannot start, "Invalid argument" from clone3). Each probe does the real
 * thing once, in a throwaway child where it changes state, and names the CONFIG_ option.
 */
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "log.h"
#include "probe.h"
#include "util.h"

typedef int (*ProbeFn)(const char *scratch);

/* Runs fn in a forked child so a namespace or filter it creates dies with it; returns the
 * child's -errno. */
static int in_child(int (*fn)(unsigned long), unsigned long arg) {
        pid_t pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                int r = fn(arg);
                _exit(r < 0 ? -r : 0);
        }
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        if (WIFEXITED(status))
                return -WEXITSTATUS(status);
        return -EINTR;
}

static int do_unshare(unsigned long flags) {
        return unshare((int) flags) < 0 ? negative_errno() : 0;
}

static int do_seccomp(unsigned long unused) {
        (void) unused;
        struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        struct sock_fprog prog = { .len = 1, .filter = &allow };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return negative_errno();
        return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0 ? negative_errno() : 0;
}

#define NS_PROBE(fn_name, flag)                                                                             \
        static int fn_name(const char *scratch) {                                                           \
                (void) scratch;                                                                             \
                return in_child(do_unshare, (flag));                                                        \
        }
NS_PROBE(probe_mntns, CLONE_NEWNS)
NS_PROBE(probe_utsns, CLONE_NEWUTS)
NS_PROBE(probe_ipcns, CLONE_NEWIPC)
NS_PROBE(probe_pidns, CLONE_NEWPID)
NS_PROBE(probe_netns, CLONE_NEWNET)
/* PID 1 runs chrooted (it left the initramfs that way), and the kernel refuses a new user
 * namespace to a chrooted caller with EPERM. Containers ask after pivot_root, where it
 * works; here the namespace's /proc entry tells whether the kernel has them at all. */
static int do_userns(unsigned long unused) {
        (void) unused;
        if (unshare(CLONE_NEWUSER) == 0)
                return 0;
        if (errno == EPERM && access("/proc/self/ns/user", F_OK) == 0)
                return 0;
        return negative_errno();
}

static int probe_userns(const char *scratch) {
        (void) scratch;
        return in_child(do_userns, 0);
}
NS_PROBE(probe_cgroupns, CLONE_NEWCGROUP)

static int probe_seccomp(const char *scratch) {
        (void) scratch;
        return in_child(do_seccomp, 0);
}

static int probe_pidfd(const char *scratch) {
        (void) scratch;
        int fd = (int) syscall(SYS_pidfd_open, getpid(), 0);
        if (fd < 0)
                return negative_errno();
        close(fd);
        return 0;
}

static int probe_overlay(const char *scratch) {
        char lower[256], upper[256], work[256], merged[256], opts[1100];
        snprintf(lower, sizeof lower, "%s/l", scratch);
        snprintf(upper, sizeof upper, "%s/u", scratch);
        snprintf(work, sizeof work, "%s/w", scratch);
        snprintf(merged, sizeof merged, "%s/m", scratch);
        const char *dirs[] = { scratch, lower, upper, work, merged };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (mkdir(dirs[i], 0700) < 0 && errno != EEXIST)
                        return negative_errno();
        snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
        int r = mount("overlay", merged, "overlay", 0, opts) < 0 ? negative_errno() : 0;
        if (r == 0)
                umount2(merged, MNT_DETACH);
        return r;
}

static int probe_controllers(const char *scratch) {
        (void) scratch;
        _cleanup_free_ char *c = NULL;
        int r = read_file("/sys/fs/cgroup/cgroup.controllers", 4096, &c, NULL);
        if (r < 0)
                return r;
        return strstr(c, "memory") && strstr(c, "pids") && strstr(c, "cpu") ? 0 : -ENOENT;
}

static const struct {
        const char *what;
        const char *option;
        ProbeFn fn;
} probes[] = {
        { "mount namespaces", "CONFIG_NAMESPACES", probe_mntns },
        { "UTS namespaces", "CONFIG_UTS_NS", probe_utsns },
        { "IPC namespaces", "CONFIG_IPC_NS", probe_ipcns },
        { "PID namespaces", "CONFIG_PID_NS", probe_pidns },
        { "network namespaces", "CONFIG_NET_NS", probe_netns },
        { "user namespaces", "CONFIG_USER_NS", probe_userns },
        { "cgroup namespaces", "CONFIG_CGROUPS", probe_cgroupns },
        { "seccomp filters", "CONFIG_SECCOMP_FILTER", probe_seccomp },
        { "pidfds", "CONFIG_PROC_FS (pidfd_open)", probe_pidfd },
        { "overlayfs", "CONFIG_OVERLAY_FS (and CONFIG_TMPFS_XATTR)", probe_overlay },
        { "cgroup v2 memory, pids and cpu controllers",
          "CONFIG_MEMCG, CONFIG_CGROUP_PIDS, CONFIG_CGROUP_SCHED", probe_controllers },
};

/* Every namespace and a filter in one child: the common case costs one fork. */
static int do_all(unsigned long unused) {
        (void) unused;
        int r = do_unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET |
                           CLONE_NEWUSER | CLONE_NEWCGROUP);
        return r < 0 ? r : do_seccomp(0);
}

int probe_kernel(const char *scratch) {
        int missing = 0;
        uint64_t start = now_usec();
        /* Only when the combined probe fails is each feature tried alone, to name it. */
        size_t first = 0;
        if (in_child(do_all, 0) == 0)
                while (first < ELEMENTSOF(probes) && probes[first].fn != probe_pidfd)
                        first++;
        for (size_t i = first; i < ELEMENTSOF(probes); i++) {
                int r = probes[i].fn(scratch);
                if (r < 0) {
                        log_error_errno(r, "kernel lacks %s: %m — rebuild it with %s", probes[i].what,
                                        probes[i].option);
                        missing++;
                }
        }
        if (missing)
                log_error(
                        "kernel check: %d feature(s) missing; containers that need them will fail to start",
                        missing);
        else
                log_info("kernel check: all %zu features present (%llu ms)", ELEMENTSOF(probes),
                         (unsigned long long) ((now_usec() - start) / 1000));
        return missing;
}
