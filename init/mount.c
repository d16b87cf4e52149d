/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "mount.h"
#include "util.h"

#define NOSUID_NODEV_NOEXEC (MS_NOSUID | MS_NODEV | MS_NOEXEC)

static const struct {
        const char *source, *target, *type;
        unsigned long flags;
        const char *data;
} api_mounts[] = {
        { "proc", "/proc", "proc", NOSUID_NODEV_NOEXEC, NULL },
        { "sysfs", "/sys", "sysfs", NOSUID_NODEV_NOEXEC, NULL },
        { "devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755" },
        { "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666" },
        /* Sized so that together they cannot take the machine's memory (a tmpfs defaults to
         * half of RAM each: /run and /tmp filled together left nothing, and the console shell
         * hung). systemd gives /run 20% and /tmp 50%, on machines with a disk; here everything is
         * RAM: 60% at most in all, the rest stays for the kernel, PID 1 and the containers, whose
         * own tmpfs pages their memory cgroups account for. keel's own state (the control
         * socket, the containers' state directories, their hosts and resolv.conf) has tmpfs of
         * its own, so that someone filling /run cannot stop containers from starting. */
        { "tmpfs", "/dev/shm", "tmpfs", NOSUID_NODEV_NOEXEC, "mode=1777,size=10%,nr_inodes=64k" },
        { "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=10%,nr_inodes=400k" },
        { "tmpfs", "/run/keel", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=5%,nr_inodes=400k" },
        { "tmpfs", "/run/keel-net", "tmpfs", NOSUID_NODEV_NOEXEC, "mode=0755,size=10%,nr_inodes=400k" },
        { "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=25%,nr_inodes=1m" },
};

static bool is_mounted(const char *target, const char *type) {
        /* devtmpfs may have been mounted by the kernel (CONFIG_DEVTMPFS_MOUNT), and /proc by
         * our first run before the move off the initramfs. */
        _cleanup_free_ char *mi = NULL;
        if (read_file("/proc/self/mounts", 1 << 20, &mi, NULL) < 0)
                return false;
        char needle[256];
        snprintf(needle, sizeof needle, " %s %s ", target, type);
        return strstr(mi, needle) != NULL;
}

int mount_api_filesystems(bool devtmpfs) {
        int failed = 0;
        for (size_t i = 0; i < ELEMENTSOF(api_mounts); i++) {
                const char *t = api_mounts[i].target;
                /* In a container /dev is the host's business; keel only adds pts and shm. */
                if (!devtmpfs && streq(api_mounts[i].type, "devtmpfs"))
                        continue;
                (void) mkdir(t, 0755);
                if (is_mounted(t, api_mounts[i].type))
                        continue;
                if (mount(api_mounts[i].source, t, api_mounts[i].type, api_mounts[i].flags,
                          api_mounts[i].data) < 0) {
                        log_error_errno(errno, "mount %s on %s: %m", api_mounts[i].type, t);
                        failed++;
                }
        }
        (void) !symlink("/proc/self/fd", "/dev/fd");
        (void) !symlink("/proc/self/fd/0", "/dev/stdin");
        (void) !symlink("/proc/self/fd/1", "/dev/stdout");
        (void) !symlink("/proc/self/fd/2", "/dev/stderr");
        return failed;
}

/* Is w one of the whitespace-separated words of list? */
static bool word_in_list(const char *list, const char *w) {
        size_t l = strlen(w);
        for (const char *p = list; (p = strstr(p, w)); p += l)
                if ((p == list || p[-1] == ' ') && (p[l] == 0 || p[l] == ' ' || p[l] == '\n'))
                        return true;
        return false;
}

int mount_cgroup(void) {
        const char *root = "/sys/fs/cgroup";
        (void) mkdir(root, 0755);
        /* favordynmods: cgroup placement without the 15-25 ms RCU stall per migration (6.0+);
         * nsdelegate: a container's cgroup namespace is a delegation boundary. */
        static const char *const opts[] = { "nsdelegate,favordynmods", "nsdelegate", NULL };
        int r = -1;
        for (size_t i = 0; opts[i] && r < 0; i++) {
                r = mount("cgroup2", root, "cgroup2", NOSUID_NODEV_NOEXEC, opts[i]);
                if (r < 0 && errno == EBUSY) /* already there */
                        r = 0;
                if (r >= 0 && i > 0)
                        log_warning("cgroup2 mounted without favordynmods: every container start pays an "
                                    "RCU stall");
        }
        if (r < 0)
                return log_error_errno(errno, "mount cgroup2 on %s: %m (is CONFIG_CGROUPS set?)", root);

        _cleanup_free_ char *avail = NULL;
        if (read_file("/sys/fs/cgroup/cgroup.controllers", 4096, &avail, NULL) < 0)
                return log_error_errno(errno, "read cgroup.controllers: %m");
        char enable[128] = "";
        static const char *const wanted[] = { "cpu", "cpuset", "memory", "pids", "io" };
        for (size_t i = 0; i < ELEMENTSOF(wanted); i++) {
                const char *w = wanted[i];
                bool present = word_in_list(avail, w);
                if (!present) {
                        log_warning("cgroup controller '%s' is not available (kernel config?)", w);
                        continue;
                }
                strcat(enable, "+");
                strcat(enable, w);
                strcat(enable, " ");
        }
        if ((r = write_file("/sys/fs/cgroup/cgroup.subtree_control", enable)) < 0)
                return log_error_errno(r, "enable cgroup controllers '%s': %m", enable);
        if (mkdir("/sys/fs/cgroup/keel", 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "mkdir /sys/fs/cgroup/keel: %m");
        if ((r = write_file("/sys/fs/cgroup/keel/cgroup.subtree_control", enable)) < 0)
                return log_error_errno(r, "enable controllers '%s' for keel/: %m", enable);
        log_info("cgroup2 mounted, controllers %sfor keel/", enable);
        return 0;
}

bool root_is_initramfs(void) {
        /* The kernel's check in pivot_root(2) is mnt_has_parent(): the initial rootfs is the one
         * mount that is its own parent. mountinfo shows it as "1 1 … / / …". */
        _cleanup_free_ char *mi = NULL;
        if (read_file("/proc/self/mountinfo", 1 << 20, &mi, NULL) < 0)
                return false;
        for (char *l = mi; l && *l;) {
                char *nl = strchr(l, '\n');
                int id, parent;
                char root[256], target[256];
                if (sscanf(l, "%d %d %*s %255s %255s", &id, &parent, root, target) == 4 &&
                    streq(target, "/"))
                        return id == parent;
                l = nl ? nl + 1 : NULL;
        }
        return false;
}

int root_leave_initramfs(void) {
        /* LinuxKit copies the whole root onto a tmpfs. A bind mount of the same tree does the
         * job with no copy: moved onto "/" and chrooted into, it is a mount with a parent (the
         * rootfs below it), so pivot_root(2) in every container accepts it. Same files, same
         * memory, zero bytes copied. The API filesystems are mounted afterwards, on the new
         * root, so nothing stays hidden underneath. */
        uint64_t start = now_usec();
        const char *new_root = "/.keel-root";
        static const char *const early[] = { "/dev", "/proc" };
        for (size_t i = 0; i < ELEMENTSOF(early); i++)
                (void) umount2(early[i], MNT_DETACH);
        if (mkdir(new_root, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "mkdir %s: %m", new_root);
        if (mount("/", new_root, NULL, MS_BIND, NULL) < 0)
                return log_error_errno(errno, "bind / on %s: %m", new_root);
        if (chdir(new_root) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
            chdir("/") < 0)
                return log_error_errno(errno, "move the bound root onto /: %m");
        (void) rmdir(new_root); /* the directory of the rootfs below, now out of sight: best effort */
        log_info("left the initramfs root (a bind mount of it is now /, pivot_root works) in %llu us",
                 (unsigned long long) (now_usec() - start));
        return 0;
}
