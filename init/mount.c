/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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
        { "tmpfs", "/dev/shm", "tmpfs", NOSUID_NODEV_NOEXEC, "mode=1777" },
        { "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755" },
        { "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777" },
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
                if (mount(api_mounts[i].source, t, api_mounts[i].type, api_mounts[i].flags, api_mounts[i].data) < 0) {
                        log_error_errno(errno, "mount %s on %s: %m", api_mounts[i].type, t);
                        failed++;
                }
        }
        (void) !symlink("/proc/self/fd", "/dev/fd");
        (void) !symlink("/proc/self/fd/0", "/dev/stdin");
        (void) !symlink("/proc/self/fd/1", "/dev/stdout");
        (void) !symlink("/proc/self/fd/2", "/dev/stderr");
        (void) mkdir("/run/keel", 0700);
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
                        log_warning("cgroup2 mounted without favordynmods: every container start pays an RCU stall");
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
        _cleanup_free_ char *mounts = NULL;
        if (read_file("/proc/self/mounts", 1 << 20, &mounts, NULL) < 0)
                return false;
        /* The initial root shows as "rootfs / rootfs" (older kernels) or "none / rootfs". */
        for (char *l = mounts; l && *l;) {
                char *nl = strchr(l, '\n');
                char src[64], target[64], type[64];
                if (sscanf(l, "%63s %63s %63s", src, target, type) == 3 && streq(target, "/") && streq(type, "rootfs"))
                        return true;
                l = nl ? nl + 1 : NULL;
        }
        return false;
}

/* Files with several links (BusyBox is shared by the host root and the container rootfs)
 * are copied once and linked again, which halves the copy. */
typedef struct LinkMap {
        ino_t ino[64];
        int dir[64];
        char name[64][256];
        size_t n;
} LinkMap;

static bool linked_again(LinkMap *m, const struct stat *st, int dst_dir, const char *name) {
        for (size_t i = 0; i < m->n; i++)
                if (m->ino[i] == st->st_ino && linkat(m->dir[i], m->name[i], dst_dir, name, 0) >= 0)
                        return true;
        return false;
}

static void remember_link(LinkMap *m, const struct stat *st, int dst_dir, const char *name) {
        if (st->st_nlink < 2 || m->n == ELEMENTSOF(m->ino) || strlen(name) >= sizeof m->name[0])
                return;
        int d = fcntl(dst_dir, F_DUPFD_CLOEXEC, 3); /* kept until the move is done */
        if (d < 0)
                return;
        m->ino[m->n] = st->st_ino;
        m->dir[m->n] = d;
        snprintf(m->name[m->n], sizeof m->name[0], "%s", name);
        m->n++;
}

/* Moves one tree from the rootfs to the tmpfs, entry by entry, unlinking each source once it
 * is copied so the memory moves rather than doubles. Mount points (other st_dev) are kept
 * as empty directories. */
static int move_tree(int src_dir, int dst_dir, dev_t dev, LinkMap *links, unsigned *files, uint64_t *bytes) {
        DIR *d = fdopendir(dup(src_dir));
        if (!d)
                return negative_errno();
        rewinddir(d);
        struct dirent *de;
        int ret = 0;
        while ((de = readdir(d))) {
                const char *n = de->d_name;
                if (streq(n, ".") || streq(n, ".."))
                        continue;
                struct stat st;
                if (fstatat(src_dir, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        if (mkdirat(dst_dir, n, st.st_mode & 07777) < 0 && errno != EEXIST) {
                                ret = negative_errno();
                                continue;
                        }
                        if (st.st_dev != dev)
                                continue; /* a mount point: keep it empty */
                        int s = openat(src_dir, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        int t = openat(dst_dir, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (s >= 0 && t >= 0) {
                                int r = move_tree(s, t, dev, links, files, bytes);
                                if (r < 0)
                                        ret = r;
                                fchmod(t, st.st_mode & 07777);
                        }
                        safe_close(s);
                        safe_close(t);
                        (void) unlinkat(src_dir, n, AT_REMOVEDIR);
                        continue;
                }
                if (S_ISLNK(st.st_mode)) {
                        char target[4096];
                        ssize_t l = readlinkat(src_dir, n, target, sizeof target - 1);
                        if (l < 0)
                                continue;
                        target[l] = 0;
                        if (symlinkat(target, dst_dir, n) < 0 && errno != EEXIST)
                                ret = negative_errno();
                } else if (S_ISREG(st.st_mode) && st.st_nlink > 1 && linked_again(links, &st, dst_dir, n)) {
                        /* copied before under another name */
                } else if (S_ISREG(st.st_mode)) {
                        remember_link(links, &st, dst_dir, n);
                        int s = openat(src_dir, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                        int t = openat(dst_dir, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777);
                        if (s < 0 || t < 0) {
                                ret = negative_errno();
                        } else {
                                off_t off = 0;
                                while (off < st.st_size) {
                                        ssize_t k = sendfile(t, s, &off, (size_t) (st.st_size - off));
                                        if (k <= 0) {
                                                ret = k < 0 ? negative_errno() : -EIO;
                                                break;
                                        }
                                }
                                fchmod(t, st.st_mode & 07777);
                                *bytes += (uint64_t) st.st_size;
                        }
                        safe_close(s);
                        safe_close(t);
                } else if (mknodat(dst_dir, n, st.st_mode, st.st_rdev) < 0 && errno != EEXIST)
                        ret = negative_errno();
                (void) !fchownat(dst_dir, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
                (void) unlinkat(src_dir, n, 0);
                (*files)++;
        }
        closedir(d);
        return ret;
}

int switch_root_to_tmpfs(char **argv) {
        uint64_t start = now_usec();
        const char *new_root = "/.keel-root";
        if (mkdir(new_root, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "mkdir %s: %m", new_root);
        if (mount("tmpfs", new_root, "tmpfs", 0, "mode=0755") < 0)
                return log_error_errno(errno, "mount tmpfs on %s: %m", new_root);

        struct stat root_st;
        if (stat("/", &root_st) < 0)
                return log_error_errno(errno, "stat /: %m");
        _cleanup_close_ int src = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int dst = open(new_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (src < 0 || dst < 0)
                return log_error_errno(errno, "open roots: %m");
        unsigned files = 0;
        uint64_t bytes = 0;
        /* new_root is a mount point (other st_dev), so move_tree() leaves it alone. */
        static LinkMap links;
        int r = move_tree(src, dst, root_st.st_dev, &links, &files, &bytes);
        for (size_t i = 0; i < links.n; i++)
                safe_close(links.dir[i]);
        if (r < 0)
                log_warning_errno(r, "copying the initramfs to tmpfs: %m (continuing)");

        /* The kernel's mounts on the old root (/proc, /dev…) go; we mount them again. */
        static const char *const old_mounts[] = { "/dev/pts", "/dev/shm", "/dev", "/proc", "/sys", "/run", "/tmp" };
        for (size_t i = 0; i < ELEMENTSOF(old_mounts); i++)
                (void) umount2(old_mounts[i], MNT_DETACH);

        if (chdir(new_root) < 0 || mount(new_root, "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
                return log_error_errno(errno, "switching root to tmpfs: %m");
        log_info("moved root off the initramfs to tmpfs: %u files, %llu KiB in %llu ms", files,
                 (unsigned long long) (bytes / 1024), (unsigned long long) ((now_usec() - start) / 1000));
        execv("/sbin/init", argv);
        return log_error_errno(errno, "re-exec /sbin/init after moving root: %m");
}
