/* SPDX-License-Identifier: MIT */
/*
 * Who the container's process is: User=, Group=, supplementary groups, rlimits and the user
 * namespace. Names are looked up in the container's own /etc/passwd and /etc/group, read by
 * the child after pivot_root: never NSS (which would load the host's modules into PID 1),
 * never in PID 1's event loop, and the image's files can only describe the image.
 */
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "child.h"

/* The child is a copy of its parent: a static buffer is its own, and needs no malloc. */
static char db[64 * 1024];

static bool parse_id(const char *s, uint32_t *ret) {
        if (!s || !*s || strlen(s) > 10)
                return false;
        uint64_t v = 0;
        for (const char *c = s; *c; c++) {
                if (*c < '0' || *c > '9')
                        return false;
                v = v * 10 + (uint64_t) (*c - '0');
        }
        if (v >= UINT32_MAX) /* (uid_t) -1 means "unchanged" to the kernel */
                return false;
        *ret = (uint32_t) v;
        return true;
}

/* Reads a colon-separated database of the container into db; an absent file is empty. */
static void read_db(int status_fd, const char *path) {
        db[0] = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno == ENOENT)
                        return;
                child_fail(status_fd, STAGE_USER, errno, "open %s", path);
        }
        size_t n = 0;
        ssize_t k;
        while (n < sizeof db - 1 && (k = read(fd, db + n, sizeof db - 1 - n)) > 0)
                n += (size_t) k;
        close(fd);
        db[n] = 0;
}

/* Splits one line in place into at most max fields; returns how many. */
static size_t split_fields(char *line, char **fields, size_t max) {
        size_t n = 0;
        fields[n++] = line;
        for (char *c = line; *c && n < max; c++)
                if (*c == ':') {
                        *c = 0;
                        fields[n++] = c + 1;
                }
        return n;
}

/* Calls fn on every line's fields until it returns true. */
static bool db_each(bool (*fn)(char **f, size_t n, void *userdata), void *userdata) {
        for (char *line = db; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = 0;
                char *f[8];
                size_t n = line[0] == '#' ? 0 : split_fields(line, f, ELEMENTSOF(f));
                bool done = n > 0 && fn(f, n, userdata);
                /* Put the separators back: the next lookup reads the same buffer. */
                for (size_t i = 1; i < n; i++)
                        f[i][-1] = ':';
                if (nl)
                        *nl = '\n';
                if (done)
                        return true;
                line = nl ? nl + 1 : NULL;
        }
        return false;
}

typedef struct Lookup {
        const char *key; /* a name, or a number as text */
        uint32_t id, gid;
        char name[64];
        bool found;
} Lookup;

/* passwd: name:x:uid:gid:gecos:home:shell — group: name:x:gid:members */
static bool match_entry(char **f, size_t n, void *userdata) {
        Lookup *l = userdata;
        uint32_t id, gid = 0;
        if (n < 3 || !parse_id(f[2], &id) || (n >= 4 && f[3][0] && !parse_id(f[3], &gid) && l->gid != 0))
                return false;
        uint32_t want;
        if (!streq(f[0], l->key) && !(parse_id(l->key, &want) && want == id))
                return false;
        l->id = id;
        l->gid = n >= 4 && parse_id(f[3], &gid) ? gid : 0;
        snprintf(l->name, sizeof l->name, "%s", f[0]);
        l->found = true;
        return true;
}

typedef struct Members {
        const char *user;
        ChildUser *u;
} Members;

static bool collect_member(char **f, size_t n, void *userdata) {
        Members *m = userdata;
        uint32_t gid;
        if (n < 4 || !parse_id(f[2], &gid))
                return false;
        for (char *p = f[3]; *p;) {
                size_t len = strcspn(p, ",\n");
                if (len == strlen(m->user) && strncmp(p, m->user, len) == 0 &&
                    m->u->n_groups < ELEMENTSOF(m->u->groups))
                        m->u->groups[m->u->n_groups++] = gid;
                p += len;
                if (*p == ',')
                        p++;
                else
                        break;
        }
        return false;
}

static uint32_t lookup_group(int status_fd, const char *key, const char *what) {
        Lookup l = { .key = key };
        db_each(match_entry, &l);
        if (l.found)
                return l.id;
        uint32_t id;
        if (parse_id(key, &id))
                return id;
        child_fail(status_fd, STAGE_USER, 0, "%s '%s' not found in the container's /etc/group", what, key);
}

void user_resolve(const ContainerSpec *spec, int status_fd, ChildUser *ret) {
        *ret = (ChildUser){ 0 };
        const char *user = spec->process.user ? spec->process.user : "0";
        Lookup l = { .key = user };
        read_db(status_fd, "/etc/passwd");
        db_each(match_entry, &l);
        if (l.found) {
                ret->uid = l.id;
                ret->gid = l.gid;
        } else if (parse_id(user, &l.id)) {
                ret->uid = l.id; /* a uid the image does not list runs with group 0, as in Docker */
                ret->gid = 0;
        } else
                child_fail(status_fd, STAGE_USER, 0, "user '%s' not found in the container's /etc/passwd",
                           user);

        read_db(status_fd, "/etc/group");
        if (spec->process.group)
                ret->gid = lookup_group(status_fd, spec->process.group, "group");
        ret->groups[ret->n_groups++] = ret->gid;
        if (l.found) {
                Members m = { .user = l.name, .u = ret };
                db_each(collect_member, &m);
        }
        for (char *const *g = spec->process.extra_groups; g && *g; g++) {
                if (ret->n_groups >= ELEMENTSOF(ret->groups))
                        child_fail(status_fd, STAGE_USER, E2BIG, "too many groups");
                ret->groups[ret->n_groups++] = lookup_group(status_fd, *g, "supplementary group");
        }
}

void user_apply_rlimits(const ContainerSpec *spec, int status_fd) {
        for (size_t i = 0; i < spec->process.n_rlimits; i++) {
                const RlimitSpec *r = &spec->process.rlimits[i];
                struct rlimit rl = {
                        .rlim_cur = r->soft == UINT64_MAX ? RLIM_INFINITY : r->soft,
                        .rlim_max = r->hard == UINT64_MAX ? RLIM_INFINITY : r->hard,
                };
                if (setrlimit(r->resource, &rl) < 0)
                        child_fail(status_fd, STAGE_RLIMITS, errno, "setrlimit %d to %llu:%llu", r->resource,
                                   (unsigned long long) rl.rlim_cur, (unsigned long long) rl.rlim_max);
        }
}

static int write_map(pid_t pid, const char *file, const char *content) {
        char p[64];
        snprintf(p, sizeof p, "/proc/%d/%s", (int) pid, file);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return errno;
        ssize_t n = write(fd, content, strlen(content));
        int e = n < 0 ? errno : 0;
        close(fd);
        return e;
}

/*
 * UserNS=auto. The container is set up as real root (overlay, mknod, sysfs work as without a
 * user namespace), then enters a new user namespace just before it drops privileges. Its
 * mount, pid, net and uts namespaces stay owned by the host's user namespace, so even its
 * root cannot change them. A process cannot write its own map once inside, so a helper forked
 * first, still outside, writes it: setgroups "deny", then uid_map and gid_map.
 */
void user_enter_userns(const ContainerSpec *spec, int status_fd) {
        if (setgroups(0, NULL) < 0) /* no host group may leak in as an unmapped id */
                child_fail(status_fd, STAGE_USERNS, errno, "clear supplementary groups");
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                child_fail(status_fd, STAGE_USERNS, errno, "pipe");
        pid_t self = getpid();
        pid_t helper = fork();
        if (helper < 0)
                child_fail(status_fd, STAGE_USERNS, errno, "fork the id-map writer");
        if (helper == 0) {
                prctl(PR_SET_NAME, "keel:idmap");
                close(p[1]);
                char c;
                if (read(p[0], &c, 1) != 1)
                        _exit(ECANCELED);
                char uid_map[64], gid_map[64];
                snprintf(uid_map, sizeof uid_map, "0 %u %u\n", spec->userns.host_uid, spec->userns.count);
                snprintf(gid_map, sizeof gid_map, "0 %u %u\n", spec->userns.host_gid, spec->userns.count);
                int e = write_map(self, "setgroups", "deny");
                if (!e)
                        e = write_map(self, "uid_map", uid_map);
                if (!e)
                        e = write_map(self, "gid_map", gid_map);
                _exit(e);
        }
        close(p[0]);
        int e = unshare(CLONE_NEWUSER) < 0 ? errno : 0;
        if (!e && write(p[1], "x", 1) != 1)
                e = errno;
        close(p[1]);
        int st;
        while (waitpid(helper, &st, 0) < 0 && errno == EINTR)
                ;
        if (e)
                child_fail(status_fd, STAGE_USERNS, e, "unshare the user namespace");
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                child_fail(status_fd, STAGE_USERNS, WIFEXITED(st) ? WEXITSTATUS(st) : EINTR,
                           "map container root to host uid %u (%u ids)", spec->userns.host_uid,
                           spec->userns.count);
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                child_fail(status_fd, STAGE_USERNS, errno, "become root of the user namespace");
}

void user_switch(const ContainerSpec *spec, int status_fd, const ChildUser *u) {
        if (spec->namespaces & CLONE_NEWUSER) {
                /* setgroups is denied in the namespace: its groups stay the ones the map gives. */
                if (spec->process.extra_groups && spec->process.extra_groups[0])
                        child_fail(status_fd, STAGE_USER, EPERM,
                                   "supplementary groups with UserNS=auto (setgroups is denied there)");
        } else if (setgroups(u->n_groups, u->groups) < 0)
                child_fail(status_fd, STAGE_USER, errno, "setgroups");
        if (setresgid(u->gid, u->gid, u->gid) < 0)
                child_fail(status_fd, STAGE_USER, errno, "setgid %u", (unsigned) u->gid);
        if (setresuid(u->uid, u->uid, u->uid) < 0)
                child_fail(status_fd, STAGE_USER, errno, "setuid %u", (unsigned) u->uid);
}
