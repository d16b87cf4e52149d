/* SPDX-License-Identifier: MIT */
/*
 * Mounts whose destination lies inside the container's root, resolved so that the image can
 * never aim them elsewhere.
 *
 * An image is untrusted data: `/data -> /etc` or `/proc -> ../../../host` are just symlinks in
 * a tar file. Every destination is opened with openat2(RESOLVE_IN_ROOT) against the new root,
 * so "/", ".." and absolute symlinks all resolve inside it, and the mount is then made through
 * the resulting fd (/proc/self/fd/N), never through a path the kernel would walk again. API
 * filesystems (/proc, /sys, /dev) additionally refuse any symlink: a procfs that is not really
 * mounted on /proc would break masking (CVE-2019-16884, CVE-2019-19921 class).
 */
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "child.h"

static int openat2_path(int rootfd, const char *path, uint64_t resolve) {
        struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = resolve };
        while (*path == '/')
                path++;
        return (int) syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof how);
}

/*
 * Opens path below rootfd as an O_PATH fd, creating what is missing: directories, and the last
 * component as an empty file when file is true (a bind of a file needs a file to cover).
 * Each missing component is created under its parent, itself resolved in the root, and
 * mkdirat()/O_CREAT|O_EXCL never follow a symlink, so nothing is created outside.
 */
static int open_in_root(int rootfd, const char *path, bool file, uint64_t resolve, unsigned links) {
        int fd = openat2_path(rootfd, path, resolve);
        if (fd >= 0 || errno != ENOENT)
                return fd >= 0 ? fd : negative_errno();

        char prefix[4096];
        if (snprintf(prefix, sizeof prefix, "%s", path) >= (int) sizeof prefix)
                return -ENAMETOOLONG;
        /* Walk the components: "/a/b/c" is tried as "/a", "/a/b", "/a/b/c". */
        for (char *end = prefix + strspn(prefix, "/"); *end;) {
                char *next = end + strcspn(end, "/");
                char saved = *next;
                *next = 0;
                fd = openat2_path(rootfd, prefix, resolve);
                if (fd < 0 && errno != ENOENT)
                        return negative_errno();
                if (fd < 0) {
                        /* The parent exists (we just walked it): create this component in it. */
                        char *slash = strrchr(prefix, '/');
                        *slash = 0;
                        int parent = openat2_path(rootfd, prefix[0] ? prefix : "/", resolve);
                        *slash = '/';
                        if (parent < 0)
                                return negative_errno();
                        char self[64];
                        snprintf(self, sizeof self, "/proc/self/fd/%d", parent);
                        int dir = open(self, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* O_PATH can't mkdirat */
                        close(parent);
                        if (dir < 0)
                                return negative_errno();
                        bool last = saved == 0 || next[1 + strspn(next + 1, "/")] == 0;
                        int r;
                        if (last && file) {
                                r = openat(dir, slash + 1,
                                           O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                                if (r >= 0)
                                        close(r);
                        } else
                                r = mkdirat(dir, slash + 1, 0755);
                        int e = errno;
                        if (r < 0 && e == EEXIST) {
                                /* A dangling symlink: create what it points at, in the root. */
                                char target[4096], next_path[8192];
                                ssize_t n = readlinkat(dir, slash + 1, target, sizeof target - 1);
                                if (n >= 0) {
                                        target[n] = 0;
                                        *slash = 0;
                                        int len = snprintf(next_path, sizeof next_path, "%s/%s%s%s",
                                                           target[0] == '/' ? "" : prefix, target,
                                                           saved ? "/" : "", saved ? next + 1 : "");
                                        close(dir);
                                        if (len < 0 || (size_t) len >= sizeof next_path)
                                                return -ENAMETOOLONG;
                                        if (links >= 40)
                                                return -ELOOP;
                                        return open_in_root(rootfd, next_path, file, resolve, links + 1);
                                }
                        }
                        close(dir);
                        if (r < 0 && e != EEXIST)
                                return -e;
                } else
                        close(fd);
                *next = saved;
                end = next + strspn(next, "/");
        }
        fd = openat2_path(rootfd, path, resolve);
        return fd >= 0 ? fd : negative_errno();
}

int mount_open_in_root(int rootfd, const char *path, bool file, uint64_t resolve) {
        return open_in_root(rootfd, path, file, resolve | RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, 0);
}

static void fd_path(char *buf, size_t len, int fd) {
        snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* mount(2) onto an fd: the kernel follows the magic link to exactly that inode. */
int mount_on_fd(int fd, const char *src, const char *type, unsigned long flags, const char *data) {
        char p[64];
        fd_path(p, sizeof p, fd);
        return mount(src, p, type, flags, data) < 0 ? negative_errno() : 0;
}

/* /proc, /sys, /dev…: a directory of the image, never through a symlink, and what ends up
 * there is checked to be the filesystem we mounted. */
void mount_api_fs(int status_fd, int rootfd, SpawnStage stage, const char *dst, const char *type,
                  unsigned long flags, const char *data, long magic) {
        int fd = mount_open_in_root(rootfd, dst, false, RESOLVE_NO_SYMLINKS);
        if (fd == -ELOOP)
                child_fail(status_fd, stage, 0, "%s in the image is a symlink: refusing to mount %s there",
                           dst, type);
        if (fd < 0)
                child_fail(status_fd, stage, -fd, "open %s in the container", dst);
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
                child_fail(status_fd, stage, ENOTDIR, "%s in the image", dst);
        int r = mount_on_fd(fd, type, type, flags, data);
        close(fd);
        if (r < 0)
                child_fail(status_fd, stage, -r, "mount %s on %s", type, dst);
        fd = mount_open_in_root(rootfd, dst, false, RESOLVE_NO_SYMLINKS);
        struct statfs sf;
        if (magic && (fd < 0 || fstatfs(fd, &sf) < 0 || sf.f_type != magic))
                child_fail(status_fd, stage, 0, "%s is not the %s just mounted there", dst, type);
        if (fd >= 0)
                close(fd);
}

/* Read-only, nosuid, nodev for the whole tree at fd (a bind brings its submounts along). */
static int mount_make_readonly(int fd, bool recursive) {
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV };
        if (mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) == 0)
                return 0;
        if (errno != ENOSYS)
                return negative_errno();
        /* Before 5.12: a plain remount, the top mount only. */
        char p[64];
        fd_path(p, sizeof p, fd);
        return mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0
                       ? negative_errno()
                       : 0;
}

static void bind_one(const ContainerSpec *spec, int status_fd, int rootfd, const MountSpec *m) {
        char why[400];
        _cleanup_close_ int src = bind_source_open(m->source, spec->untrusted_dirs, why, sizeof why);
        if (src < 0)
                child_fail(status_fd, STAGE_MOUNTS, 0, "bind %s on %s: %s", m->source, m->destination, why);
        struct stat st;
        if (fstat(src, &st) < 0)
                child_fail(status_fd, STAGE_MOUNTS, errno, "bind %s on %s", m->source, m->destination);
        int fd = mount_open_in_root(rootfd, m->destination, !S_ISDIR(st.st_mode), 0);
        if (fd < 0)
                child_fail(status_fd, STAGE_MOUNTS, -fd, "bind %s on %s: destination", m->source,
                           m->destination);
        struct stat dst;
        if (fstat(fd, &dst) < 0 || S_ISDIR(dst.st_mode) != S_ISDIR(st.st_mode))
                child_fail(status_fd, STAGE_MOUNTS, S_ISDIR(st.st_mode) ? ENOTDIR : EISDIR, "bind %s on %s",
                           m->source, m->destination);
        /* From the fd, not the path: exactly the inode the walk checked, whatever has been
         * renamed since. */
        char from[64];
        fd_path(from, sizeof from, src);
        int r = mount_on_fd(fd, from, NULL, MS_BIND | MS_REC, NULL);
        close(fd);
        if (r < 0)
                child_fail(status_fd, STAGE_MOUNTS, -r, "bind %s on %s", m->source, m->destination);
        if (!m->readonly && !(m->flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC)))
                return;
        /* The fd above names the covered inode; the mount's root is reached by a new lookup. */
        fd = mount_open_in_root(rootfd, m->destination, false, 0);
        if (fd < 0)
                child_fail(status_fd, STAGE_MOUNTS, -fd, "reopen %s", m->destination);
        if (m->readonly)
                r = mount_make_readonly(fd, true);
        else {
                char p[64];
                fd_path(p, sizeof p, fd);
                r = mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | m->flags, NULL) < 0 ? negative_errno() : 0;
        }
        close(fd);
        if (r < 0)
                child_fail(status_fd, STAGE_MOUNTS, -r, "make %s read-only", m->destination);
}

static void tmpfs_one(int status_fd, int rootfd, const MountSpec *m) {
        int fd = mount_open_in_root(rootfd, m->destination, false, 0);
        if (fd < 0)
                child_fail(status_fd, STAGE_MOUNTS, -fd, "tmpfs on %s: destination", m->destination);
        unsigned long flags = m->flags | (m->readonly ? MS_RDONLY : 0);
        int r = mount_on_fd(fd, "tmpfs", "tmpfs", flags, m->options ? m->options : "mode=1777");
        close(fd);
        if (r < 0)
                child_fail(status_fd, STAGE_MOUNTS, -r, "tmpfs on %s (%s)", m->destination,
                           m->options ? m->options : "mode=1777");
}

void mounts_apply(const ContainerSpec *spec, int status_fd, int rootfd) {
        for (size_t i = 0; i < spec->n_mounts; i++) {
                const MountSpec *m = &spec->mounts[i];
                if (m->source)
                        bind_one(spec, status_fd, rootfd, m);
                else
                        tmpfs_one(status_fd, rootfd, m);
        }
}

/*
 * /etc/hosts and /etc/resolv.conf of a bridged container. The supervisor rewrites them with
 * rename(2) as units come and go, so the container must see their DIRECTORY (a bind of a
 * file would pin the first inode): it is bound read-only at RUNTIME_NET_DIR and the two
 * files of the image become symlinks there, in the overlay's upper layer (the image itself
 * is never touched). /etc is resolved in the root and created if the image has none.
 */
void mounts_net_files(const ContainerSpec *spec, int status_fd, int rootfd) {
        static const char *const files[] = { "hosts", "resolv.conf" };
        const char *src = spec->network.files_dir;
        int fd = mount_open_in_root(rootfd, RUNTIME_NET_DIR, false, RESOLVE_NO_SYMLINKS);
        if (fd < 0)
                child_fail(status_fd, STAGE_MOUNTS, -fd, "create %s", RUNTIME_NET_DIR);
        int r = mount_on_fd(fd, src, NULL, MS_BIND, NULL);
        close(fd);
        if (r < 0)
                child_fail(status_fd, STAGE_MOUNTS, -r, "bind %s on %s", src, RUNTIME_NET_DIR);
        fd = mount_open_in_root(rootfd, RUNTIME_NET_DIR, false, RESOLVE_NO_SYMLINKS);
        r = fd < 0 ? fd : mount_make_readonly(fd, false);
        if (fd >= 0)
                close(fd);
        if (r < 0)
                child_fail(status_fd, STAGE_MOUNTS, -r, "make %s read-only", RUNTIME_NET_DIR);

        _cleanup_close_ int etc = mount_open_in_root(rootfd, "/etc", false, 0);
        if (etc < 0)
                child_fail(status_fd, STAGE_MOUNTS, -etc, "open /etc in the container");
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                char target[64];
                snprintf(target, sizeof target, RUNTIME_NET_DIR "/%s", files[i]);
                if (unlinkat(etc, files[i], 0) < 0 && errno != ENOENT)
                        child_fail(status_fd, STAGE_MOUNTS, errno, "replace /etc/%s", files[i]);
                if (symlinkat(target, etc, files[i]) < 0)
                        child_fail(status_fd, STAGE_MOUNTS, errno, "symlink /etc/%s", files[i]);
        }
}

/* The cwd the process starts in must be a directory of the container, not a path that
 * leads out of it (CVE-2024-21626 started a process in a leaked host directory). */
void mounts_chdir(const ContainerSpec *spec, int status_fd) {
        const char *cwd = spec->process.cwd ? spec->process.cwd : "/";
        int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                child_fail(status_fd, STAGE_CWD, errno, "open /");
        int fd = mount_open_in_root(root, cwd, false, 0);
        close(root);
        if (fd < 0)
                child_fail(status_fd, STAGE_CWD, -fd, "working directory %s", cwd);
        if (fchdir(fd) < 0)
                child_fail(status_fd, STAGE_CWD, errno, "working directory %s", cwd);
        close(fd);
}
