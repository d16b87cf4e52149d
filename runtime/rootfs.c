/* SPDX-License-Identifier: MIT */
/*
 * The container's filesystem, built in the child inside its own mount namespace, so every
 * mount here disappears with the namespace: a failed or finished container leaves no mount
 * behind in PID 1's namespace, and there is nothing to clean up.
 *
 *   STATE (tmpfs, private to this namespace)
 *   ├── upper, work    overlay's writable layer: the container's changes, gone at exit
 *   └── root           overlay of the read-only rootfs → becomes "/" after pivot_root
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <linux/magic.h>

#include "child.h"

static void mkdir_in(int fd, const char *root, const char *dir, mode_t mode, SpawnStage stage) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", root, dir);
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                child_fail(fd, stage, errno, "mkdir %s", p);
}

static void mount_or_fail(int fd, SpawnStage stage, const char *src, const char *dst, const char *type,
                          unsigned long flags, const char *data, const char *hint) {
        if (mount(src, dst, type, flags, data) < 0)
                child_fail(fd, stage, errno, "mount %s on %s%s", type ? type : src, dst, hint ? hint : "");
}

/* The minimal /dev every container gets: no host device is reachable through it. */
static void setup_dev(int fd, int rootfd, const char *root) {
        static const struct {
                const char *name;
                unsigned major, minor;
        } nodes[] = {
                { "null", 1, 3 },   { "zero", 1, 5 },    { "full", 1, 7 },
                { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
        };
        static const struct {
                const char *target, *name;
        } links[] = {
                { "/proc/self/fd", "fd" },       { "/proc/self/fd/0", "stdin" },
                { "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
                { "pts/ptmx", "ptmx" },          { "/proc/kcore", "core" },
        };
        char dev[600], p[700];
        snprintf(dev, sizeof dev, "%s/dev", root);
        mount_api_fs(fd, rootfd, STAGE_DEV, "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k",
                     TMPFS_MAGIC);
        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                snprintf(p, sizeof p, "%s/%s", dev, nodes[i].name);
                if (mknod(p, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) < 0)
                        child_fail(fd, STAGE_DEV, errno, "mknod %s", p);
                chmod(p, 0666); /* mknod honours the umask */
        }
        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                snprintf(p, sizeof p, "%s/%s", dev, links[i].name);
                if (symlink(links[i].target, p) < 0)
                        child_fail(fd, STAGE_DEV, errno, "symlink %s", p);
        }
        mkdir_in(fd, dev, "pts", 0755, STAGE_DEV);
        mkdir_in(fd, dev, "shm", 01777, STAGE_DEV);
        snprintf(p, sizeof p, "%s/pts", dev);
        mount_or_fail(fd, STAGE_DEV, "devpts", p, "devpts", MS_NOSUID | MS_NOEXEC,
                      "newinstance,ptmxmode=0666,mode=0620,gid=5", NULL);
        snprintf(p, sizeof p, "%s/shm", dev);
        mount_or_fail(fd, STAGE_DEV, "shm", p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                      "mode=1777,size=64m", NULL);
        /* POSIX message queues of the container's own IPC namespace. */
        mkdir_in(fd, dev, "mqueue", 01777, STAGE_DEV);
        snprintf(p, sizeof p, "%s/mqueue", dev);
        mount_or_fail(fd, STAGE_DEV, "mqueue", p, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
                      " (is CONFIG_POSIX_MQUEUE set?)");
}

/* What runc, containerd and moby hide or freeze in every container: kernel memory, timers
 * and interrupts that leak host activity, keyrings, firmware; and the knobs of the host
 * kernel under /proc/sys and /proc/sysrq-trigger. */
static const char *const masked_paths[] = {
        "proc/acpi",          "proc/asound",     "proc/kcore",       "proc/keys",
        "proc/latency_stats", "proc/timer_list", "proc/timer_stats", "proc/sched_debug",
        "proc/scsi",          "proc/interrupts", "sys/firmware",     "sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
        "proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger",
};

static void mask_paths(int fd, const char *root) {
        char p[700], null[700];
        snprintf(null, sizeof null, "%s/dev/null", root);
        for (size_t i = 0; i < ELEMENTSOF(masked_paths); i++) {
                struct stat st;
                snprintf(p, sizeof p, "%s/%s", root, masked_paths[i]);
                if (lstat(p, &st) < 0)
                        continue; /* not on this kernel: nothing to hide */
                int r = S_ISDIR(st.st_mode)
                                ? mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                        "size=0,mode=0555")
                                : mount(null, p, NULL, MS_BIND, NULL);
                if (r < 0)
                        child_fail(fd, STAGE_PROC, errno, "mask %s", p);
        }
        for (size_t i = 0; i < ELEMENTSOF(readonly_paths); i++) {
                snprintf(p, sizeof p, "%s/%s", root, readonly_paths[i]);
                if (access(p, F_OK) < 0)
                        continue;
                if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0 ||
                    mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                          NULL) < 0)
                        child_fail(fd, STAGE_PROC, errno, "make %s read-only", p);
        }
}

/* ReadOnly=: the root's mount becomes read-only (its submounts, /dev, /proc…, keep their own
 * flags). Like Podman's --read-only-tmpfs default, the places programs expect to write get
 * a fresh tmpfs. */
static void make_root_readonly(int fd, int rootfd, const char *root) {
        static const char *const writable[] = { "/tmp", "/var/tmp", "/run" };
        for (size_t i = 0; i < ELEMENTSOF(writable); i++) {
                int dfd = mount_open_in_root(rootfd, writable[i], false, 0);
                if (dfd == -ENOENT)
                        continue;
                if (dfd < 0)
                        child_fail(fd, STAGE_ROOTFS, -dfd, "open %s in the container", writable[i]);
                int r = mount_on_fd(dfd, "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV,
                                    i == 2 ? "mode=0755" : "mode=1777");
                close(dfd);
                if (r < 0)
                        child_fail(fd, STAGE_ROOTFS, -r, "mount tmpfs on %s", writable[i]);
        }
        if (mount(NULL, root, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
                child_fail(fd, STAGE_ROOTFS, errno, "make %s read-only", root);
}

void rootfs_setup(const ContainerSpec *spec, int fd) {
        const char *state = spec->state_dir;
        char root[512], opts[1200];

        mount_or_fail(fd, STAGE_ROOTFS, "tmpfs", state, "tmpfs", MS_NOSUID | MS_NODEV, "mode=700", NULL);
        mkdir_in(fd, state, "upper", 0755, STAGE_ROOTFS);
        mkdir_in(fd, state, "work", 0700, STAGE_ROOTFS);
        mkdir_in(fd, state, "root", 0755, STAGE_ROOTFS);
        snprintf(root, sizeof root, "%s/root", state);
        snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", spec->root.path, state,
                 state);
        mount_or_fail(fd, STAGE_OVERLAY, "overlay", root, "overlay", 0, opts,
                      " (is CONFIG_OVERLAY_FS set?)");

        _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                child_fail(fd, STAGE_ROOTFS, errno, "open %s", root);
        mount_api_fs(fd, rootfd, STAGE_PROC, "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
                     PROC_SUPER_MAGIC);
        mount_api_fs(fd, rootfd, STAGE_SYS, "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                     NULL, SYSFS_MAGIC);
        /* Its own cgroup, read-only: in a new cgroup namespace born inside the unit's cgroup,
         * cgroup2 shows that cgroup as the root, and nothing above it. */
        if (spec->namespaces & CLONE_NEWCGROUP)
                mount_api_fs(fd, rootfd, STAGE_SYS, "/sys/fs/cgroup", "cgroup2",
                             MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, CGROUP2_SUPER_MAGIC);

        setup_dev(fd, rootfd, root);
        mask_paths(fd, root); /* after /dev: files are masked with its null */
        mounts_apply(spec, fd, rootfd);
        if (spec->network.files_dir) /* before ReadOnly=: it writes two symlinks into /etc */
                mounts_net_files(spec, fd, rootfd);

        if (spec->root.readonly)
                make_root_readonly(fd, rootfd, root);

        /* pivot_root(".", ".") stacks the old root under the new one; detaching it leaves
         * only the container's tree. This is why PID 1 moved off the initramfs: rootfs
         * cannot be pivoted away from (EINVAL). */
        if (chdir(root) < 0)
                child_fail(fd, STAGE_PIVOT_ROOT, errno, "chdir %s", root);
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                child_fail(fd, STAGE_PIVOT_ROOT, errno, "pivot_root to %s", root);
        if (umount2(".", MNT_DETACH) < 0)
                child_fail(fd, STAGE_PIVOT_ROOT, errno, "detach the old root");
        if (chdir("/") < 0)
                child_fail(fd, STAGE_PIVOT_ROOT, errno, "chdir /");
}
