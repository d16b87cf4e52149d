/* SPDX-License-Identifier: MIT */
/*
 * The source side of a bind: a host path, opened so that no container can redirect it.
 *
 * Named volumes and read-write bind sources are directories that containers write. A
 * container can turn a directory in there into a symlink — to "/", or "../../.." — and the
 * next spawn of any unit whose bind source lies below it would bind the machine's root into
 * that container (the source-side twin of runc's CVE-2021-30465, the class of Kubernetes'
 * subPath CVE-2017-1002101). So a source is never handed to the kernel as a string to walk:
 * it is walked here one component at a time with O_PATH|O_NOFOLLOW, symlinks are read and
 * followed by hand while the walk is on ground that only the administrator writes, and
 * refused once it has entered one of the spec's untrusted trees (recognised by inode, so a
 * tree reached through any alias is still recognised). The result is an O_PATH fd, and the
 * bind is made from that fd: nothing the container does after the walk changes what is
 * mounted. Magic links (/proc/self/fd/N) are never followed: only their text is, which names
 * an ordinary path.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "child.h"
#include "util.h"

#define SOURCE_LINKS_MAX 40 /* as the kernel's MAXSYMLINKS */
#define SOURCE_TREES_MAX 256

typedef struct Tree {
        dev_t dev;
        ino_t ino;
        const char *path;
} Tree;

typedef struct Walk {
        const Tree *trees;
        size_t n_trees;
        char *why;
        size_t whylen;
} Walk;

static const Tree *tree_of(const Walk *w, const struct stat *st) {
        for (size_t i = 0; i < w->n_trees; i++)
                if (w->trees[i].dev == st->st_dev && w->trees[i].ino == st->st_ino)
                        return &w->trees[i];
        return NULL;
}

_printf_(3, 4) static int walk_fail(const Walk *w, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->why, w->whylen, fmt, ap);
        va_end(ap);
        return r;
}

/* Replaces rest with target + "/" + rest. */
static int splice_link(char *rest, size_t size, const char *target) {
        char buf[PATH_MAX * 2];
        int n = snprintf(buf, sizeof buf, "%s/%s", target, rest);
        if (n < 0 || (size_t) n >= size)
                return -ENAMETOOLONG;
        memcpy(rest, buf, (size_t) n + 1);
        return 0;
}

/*
 * Walks path from "/", returns an O_PATH fd of what it names. walked is the path as far as it
 * got (symlinks expanded), for messages.
 */
static int walk(const Walk *w, const char *path, char *walked, size_t walkedlen) {
        char rest[PATH_MAX * 2];
        if (path[0] != '/')
                return walk_fail(w, -EINVAL, "%s: not an absolute path", path);
        if (snprintf(rest, sizeof rest, "%s", path) >= (int) sizeof rest)
                return walk_fail(w, -ENAMETOOLONG, "%s: path too long", path);
        _cleanup_close_ int cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cur < 0)
                return walk_fail(w, negative_errno(), "open /: %s", strerror(errno));
        struct stat st;
        if (fstat(cur, &st) < 0)
                return walk_fail(w, negative_errno(), "fstat /: %s", strerror(errno));
        const Tree *tainted = tree_of(w, &st);
        unsigned links = 0;
        snprintf(walked, walkedlen, "/");

        for (char *p = rest;;) {
                p += strspn(p, "/");
                if (!*p)
                        break;
                size_t len = strcspn(p, "/");
                char comp[NAME_MAX + 1];
                if (len > NAME_MAX)
                        return walk_fail(w, -ENAMETOOLONG, "%s: a component of %s is too long", walked,
                                         path);
                memcpy(comp, p, len);
                comp[len] = 0;
                p += len;
                if (streq(comp, "."))
                        continue;
                if (streq(comp, "..") && tainted)
                        /* A container may move directories inside its tree: their ".." is its. */
                        return walk_fail(w, -EXDEV, "'..' below %s, which containers can write",
                                         tainted->path);
                int next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                size_t wl = strlen(walked);
                snprintf(walked + wl, walkedlen - wl, "%s%s", wl > 1 ? "/" : "", comp);
                if (next < 0 && links == 0 && !p[strspn(p, "/")]) /* the source itself: said once */
                        return walk_fail(w, negative_errno(), "%s", strerror(errno));
                if (next < 0)
                        return walk_fail(w, negative_errno(), "%s: %s", walked, strerror(errno));
                if (fstat(next, &st) < 0) {
                        int e = walk_fail(w, negative_errno(), "fstat %s: %s", walked, strerror(errno));
                        close(next);
                        return e;
                }
                if (!S_ISLNK(st.st_mode)) {
                        close(cur);
                        cur = next;
                        if (!tainted)
                                tainted = tree_of(w, &st);
                        continue;
                }
                if (tainted) {
                        close(next);
                        return walk_fail(w, -ELOOP,
                                         "%s is a symlink inside %s, which containers can write: "
                                         "refusing to follow it",
                                         walked, tainted->path);
                }
                char target[PATH_MAX];
                ssize_t n = readlinkat(next, "", target, sizeof target - 1);
                close(next);
                if (n < 0)
                        return walk_fail(w, negative_errno(), "readlink %s: %s", walked, strerror(errno));
                target[n] = 0;
                if (++links > SOURCE_LINKS_MAX)
                        return walk_fail(w, -ELOOP, "%s: too many levels of symbolic links", path);
                /* The rest of the walk is the link's text, then what was left of the path. */
                if (splice_link(p, sizeof rest - (size_t) (p - rest), target) < 0)
                        return walk_fail(w, -ENAMETOOLONG, "%s: path too long after %s", path, walked);
                if (target[0] == '/') {
                        close(cur);
                        cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                        if (cur < 0 || fstat(cur, &st) < 0)
                                return walk_fail(w, negative_errno(), "open / after %s: %s", walked,
                                                 strerror(errno));
                        tainted = tree_of(w, &st);
                        snprintf(walked, walkedlen, "/");
                } else {
                        char *slash = strrchr(walked, '/');
                        slash[slash == walked ? 1 : 0] = 0;
                }
        }
        return TAKE_FD(cur);
}

int bind_source_open(const char *path, const char *const *untrusted, char *why, size_t whylen) {
        Tree trees[SOURCE_TREES_MAX];
        Walk w = { .trees = trees, .why = why, .whylen = whylen };
        why[0] = 0; /* every failure below says what it was; this is the belt */
        char walked[PATH_MAX], ignored[256];

        /* The trees themselves are walked like any source, each against those before it (the
         * caller lists parents first), so a tree cannot be redirected either. One that cannot be
         * opened is left out: no bind can come from below it. */
        for (size_t i = 0; untrusted && untrusted[i] && w.n_trees < SOURCE_TREES_MAX; i++) {
                Walk tw = { .trees = trees, .n_trees = w.n_trees, .why = ignored, .whylen = sizeof ignored };
                _cleanup_close_ int fd = walk(&tw, untrusted[i], walked, sizeof walked);
                struct stat st;
                if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
                        trees[w.n_trees++] =
                                (Tree){ .dev = st.st_dev, .ino = st.st_ino, .path = untrusted[i] };
        }
        return walk(&w, path, walked, sizeof walked);
}
