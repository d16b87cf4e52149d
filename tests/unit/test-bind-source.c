/* SPDX-License-Identifier: MIT */
/*
 * bind_source_open() against a real directory tree: what a container can plant in a volume
 * (symlinks to "/", "../../..", to a sibling, a loop) is refused, with a message naming it;
 * what the administrator made outside the volumes (a symlink to a host directory, or to the
 * volumes themselves) is followed; and the fd returned is exactly the inode asked for.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "child.h"
#include "macros.h"
#include "tap.h"

static char top[64];

static const char *at(const char *rel) {
        static char buf[4][PATH_MAX + 64];
        static int i;
        i = (i + 1) % 4;
        snprintf(buf[i], sizeof buf[i], "%s/%s", top, rel);
        return buf[i];
}

static void mk(const char *rel) {
        if (mkdir(at(rel), 0755) < 0)
                perror(rel);
}

static void ln(const char *target, const char *rel) {
        if (symlink(target, at(rel)) < 0)
                perror(rel);
}

/* Opens path; 1 when the fd names the same inode as expect (followed normally), else the
 * negative errno, and the message in why. */
static int same(const char *path, const char *const *trees, const char *expect, char *why, size_t len) {
        why[0] = 0;
        _cleanup_close_ int fd = bind_source_open(path, trees, why, len);
        if (fd < 0)
                return fd;
        struct stat a, b;
        if (fstat(fd, &a) < 0 || stat(expect, &b) < 0)
                return -EIO;
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int main(void) {
        snprintf(top, sizeof top, "/tmp/keel-bind-source-XXXXXX");
        if (!mkdtemp(top)) {
                perror("mkdtemp");
                return 1;
        }
        mk("vols");
        mk("vols/shared");
        mk("vols/shared/sub");
        ln("/", "vols/shared/evil");
        ln("../../..", "vols/shared/rel");
        ln("sub", "vols/shared/inner");
        ln("loop2", "vols/shared/loop1");
        ln("loop1", "vols/shared/loop2");
        mk("host");
        mk("host/real");
        ln("real", "host/link");
        ln(at("vols"), "alias");
        ln(at("vols/shared/sub"), "host/to-sub");
        mk("rw");
        ln("/", "rw/x");
        ln(at("host/link"), "host/chain");

        const char *trees[] = { strdup(at("vols")), NULL }; /* at() reuses its buffers */
        char why[512];

        /* Ordinary sources. */
        CHECK(same(at("vols/shared/sub"), trees, at("vols/shared/sub"), why, sizeof why) == 1);
        CHECK(same(at("vols/shared/sub/"), trees, at("vols/shared/sub"), why, sizeof why) == 1);
        CHECK(same(at("vols/./shared//sub"), trees, at("vols/shared/sub"), why, sizeof why) == 1);
        CHECK(same(at("host/real"), trees, at("host/real"), why, sizeof why) == 1);

        /* The administrator's symlinks outside the trees are followed, relative or absolute,
         * chained, and into a tree. */
        CHECK(same(at("host/link"), trees, at("host/real"), why, sizeof why) == 1);
        CHECK(same(at("host/chain"), trees, at("host/real"), why, sizeof why) == 1);
        CHECK(same(at("host/to-sub"), trees, at("vols/shared/sub"), why, sizeof why) == 1);
        CHECK(same(at("alias/shared/sub"), trees, at("vols/shared/sub"), why, sizeof why) == 1);

        /* What a container plants in a volume is never followed. */
        CHECK(same(at("vols/shared/evil"), trees, "/", why, sizeof why) == -ELOOP);
        CHECK(strstr(why, "vols/shared/evil is a symlink inside ") != NULL);
        CHECK(strstr(why, "which containers can write") != NULL);
        CHECK(same(at("vols/shared/evil/etc"), trees, "/etc", why, sizeof why) == -ELOOP);
        CHECK(same(at("vols/shared/rel"), trees, "/", why, sizeof why) == -ELOOP);
        CHECK(same(at("vols/shared/inner"), trees, at("vols/shared/sub"), why, sizeof why) == -ELOOP);
        CHECK(same(at("vols/shared/loop1"), trees, "/", why, sizeof why) == -ELOOP);
        /* …also when the tree is reached through an alias: it is known by its inode. */
        CHECK(same(at("alias/shared/evil"), trees, "/", why, sizeof why) == -ELOOP);
        /* ".." below a tree: a container can move the directory it is taken from. */
        CHECK(same(at("vols/shared/sub/.."), trees, at("vols/shared"), why, sizeof why) == -EXDEV);
        CHECK(strstr(why, "'..' below ") != NULL);
        /* Without the tree listed, the same symlink would be followed: the check is the list. */
        const char *none[] = { NULL };
        CHECK(same(at("vols/shared/evil"), none, "/", why, sizeof why) == 1);

        /* A tree below another, reached through a symlink planted in the outer one: the inner
         * tree is left out and a source below it is refused at the planted link. */
        const char *nested[] = { strdup(at("rw")), strdup(at("rw/x/tmp")), NULL };
        CHECK(same(at("rw/x/tmp"), nested, "/tmp", why, sizeof why) == -ELOOP);
        CHECK(strstr(why, "rw/x is a symlink inside ") != NULL);

        /* Missing components and relative paths are errors that say so. */
        CHECK(same(at("vols/shared/nope"), trees, "/", why, sizeof why) == -ENOENT);
        CHECK_STR(why, "No such file or directory"); /* the caller names the source */
        CHECK(same(at("vols/nope/deeper"), trees, "/", why, sizeof why) == -ENOENT);
        CHECK(strstr(why, "vols/nope: No such file or directory") != NULL);
        CHECK(same("relative/path", trees, "/", why, sizeof why) == -EINVAL);

        free((char *) trees[0]);
        free((char *) nested[0]);
        free((char *) nested[1]);
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", top);
        TAP_DONE();
}
