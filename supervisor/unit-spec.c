/* SPDX-License-Identifier: MIT */
/*
 * A unit's configuration → the runtime's ContainerSpec. The runtime knows nothing of units;
 * this is the one place that decides what a unit key means for a container: defaults
 * (environment, RLIMIT_NOFILE, namespaces, capabilities), named volumes, environment files
 * and the per-unit id range of UserNS=auto.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "log.h"
#include "manager.h"
#include "seccomp-program.h"
#include "unit-net.h"
#include "unit-spec.h"
#include "util.h"
#include "value.h"

void unit_spec_done(UnitSpec *s) {
        strv_free(s->env);
        free(s->mounts);
        free(s->untrusted);
        *s = (UnitSpec){ 0 };
}

/* One NAME=value per line; blank lines and lines starting with '#' or ';' are skipped; a
 * value may be quoted as in Environment=. Read at every start, as systemd does, so an
 * edited file applies at the next restart. */
static int read_environment_file(const char *spec_path, char ***env, char *err, size_t errlen) {
        bool optional = spec_path[0] == '-';
        const char *path = optional ? spec_path + 1 : spec_path;
        _cleanup_free_ char *buf = NULL;
        int r = read_file(path, 64 * 1024, &buf, NULL);
        if (r < 0) {
                if (optional && r == -ENOENT)
                        return 0;
                snprintf(err, errlen, "EnvironmentFile %s: %s", path,
                         r == -EFBIG ? "larger than 64K" : strerror(-r));
                return r;
        }
        unsigned line = 0;
        for (char *l = buf, *next; l && *l; l = next) {
                line++;
                next = strchr(l, '\n');
                if (next)
                        *next++ = 0;
                l += strspn(l, " \t");
                if (!*l || *l == '#' || *l == ';')
                        continue;
                if (strncmp(l, "export ", 7) == 0) /* shell-style files */
                        l += 7;
                _cleanup_strv_free_ char **words = NULL;
                char why[256];
                if (parse_environment(l, &words, why, sizeof why) < 0 || strv_length(words) != 1) {
                        snprintf(err, errlen, "EnvironmentFile %s:%u: %s", path, line,
                                 strv_length(words) > 1 ? "one NAME=value per line" : why);
                        return -EINVAL;
                }
                if (strv_length(*env) >= 1024) {
                        snprintf(err, errlen, "EnvironmentFile %s: too many variables", path);
                        return -E2BIG;
                }
                if ((r = strv_extend_strv(env, words)) < 0)
                        return r;
        }
        return 0;
}

/* Named volumes exist once used; with UserNS=auto they belong to the unit's root (lchown: a
 * container that can write the volumes directory must not aim the chown elsewhere), so the
 * container can write them and the files show the mapped host uid. */
static int prepare_volume(const UnitMount *m, const ContainerSpec *spec, char *err, size_t errlen) {
        if (!m->named)
                return 0;
        struct stat st;
        if (stat(m->source, &st) == 0)
                return 0;
        int r = mkdir_p(m->source, 0755);
        if (r >= 0 && (spec->namespaces & CLONE_NEWUSER) &&
            lchown(m->source, spec->userns.host_uid, spec->userns.host_gid) < 0)
                r = negative_errno();
        if (r < 0)
                snprintf(err, errlen, "create volume %s: %s", m->source, strerror(-r));
        return r;
}

static bool under(const char *path, const char *dir) {
        size_t n = strlen(dir);
        return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == 0);
}

static int by_length(const void *a, const void *b) {
        size_t la = strlen(*(const char *const *) a), lb = strlen(*(const char *const *) b);
        return la < lb ? -1 : la > lb;
}

/*
 * What any container can write on the host: the volumes, and every read-write bind source of
 * every unit (another unit's, or this one's in an earlier run). A bind source is resolved
 * without following symlinks at or below these (runtime/bind-source.c). Parents come first,
 * so that each tree is itself resolved against the ones above it.
 */
static int untrusted_dirs(Unit *u, UnitSpec *s) {
        const Manager *m = u->manager;
        size_t n = 1, cap = 16;
        const char **v = calloc(cap + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        v[0] = VOLUMES_DIR;
        for (size_t i = 0; i < m->n_units; i++) {
                const UnitConfig *c = m->units[i]->config;
                for (size_t j = 0; c && j < c->mounts.n; j++) {
                        const UnitMount *mt = &c->mounts.v[j];
                        if (!mt->source || mt->readonly || under(mt->source, VOLUMES_DIR))
                                continue;
                        bool seen = false;
                        for (size_t k = 0; k < n && !seen; k++)
                                seen = streq(v[k], mt->source);
                        if (seen)
                                continue;
                        if (n == cap) {
                                const char **nv = realloc(v, (cap * 2 + 1) * sizeof *v);
                                if (!nv) {
                                        free(v);
                                        return -ENOMEM;
                                }
                                v = nv;
                                cap *= 2;
                        }
                        v[n++] = mt->source;
                }
        }
        qsort(v, n, sizeof *v, by_length);
        v[n] = NULL;
        s->untrusted = v;
        s->spec.untrusted_dirs = v;
        return 0;
}

int unit_spec_build(Unit *u, UnitSpec *s, char *err, size_t errlen) {
        const UnitConfig *c = u->config;
        ContainerSpec *spec = &s->spec;
        runtime_spec_init(spec);

        char host[80];
        snprintf(host, sizeof host, "HOSTNAME=%s", c->hostname);
        char *defaults[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                             "HOME=/root",
                             "TERM=vt100",
                             "container=keel",
                             host,
                             NULL };
        int r = strv_extend_strv(&s->env, defaults);
        for (char **f = c->environment_files; r >= 0 && f && *f; f++)
                r = read_environment_file(*f, &s->env, err, errlen);
        if (r >= 0) /* Environment= wins over files, as in systemd */
                r = strv_extend_strv(&s->env, c->environment);
        if (r < 0) {
                if (r == -ENOMEM)
                        snprintf(err, errlen, "out of memory");
                return r;
        }

        spec->name = u->name;
        spec->process.args = c->exec;
        spec->process.env = s->env;
        spec->process.cwd = c->working_dir ?: "/";
        spec->process.user = c->user;
        spec->process.group = c->group;
        spec->process.extra_groups = c->groups_add;
        spec->process.init = c->run_init;

        /* RLIMIT_NOFILE 1024:1024 unless the unit says otherwise, as runc: PID 1's own limit
         * is the kernel's, far too generous to hand to every container. */
        s->n_rlimits = 0;
        bool nofile = false;
        for (size_t i = 0; i < c->ulimits.n; i++) {
                s->rlimits[s->n_rlimits++] = c->ulimits.v[i];
                nofile = nofile || c->ulimits.v[i].resource == RLIMIT_NOFILE;
        }
        if (!nofile)
                s->rlimits[s->n_rlimits++] =
                        (RlimitSpec){ .resource = RLIMIT_NOFILE, .soft = 1024, .hard = 1024 };
        spec->process.rlimits = s->rlimits;
        spec->process.n_rlimits = s->n_rlimits;

        spec->root.path = c->rootfs;
        spec->root.readonly = c->read_only;
        spec->hostname = c->hostname;
        /* Docker's order: drops first, then adds (DropCapability=ALL + AddCapability=X → X) */
        spec->capabilities = (CAPS_DEFAULT & ~c->caps_drop) | c->caps_add;
        spec->no_new_privileges = c->no_new_privileges;
        spec->seccomp = u->seccomp.len ? &u->seccomp : NULL;

        spec->namespaces = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
        if (c->network == NETWORK_NONE)
                spec->namespaces |= CLONE_NEWNET;
        if (c->userns == USERNS_AUTO) {
                spec->namespaces |= CLONE_NEWUSER;
                spec->userns.host_uid = spec->userns.host_gid =
                        UNIT_USERNS_BASE + u->userns_slot * UNIT_USERNS_SIZE;
                spec->userns.count = UNIT_USERNS_SIZE;
        }

        if (c->mounts.n) {
                s->mounts = calloc(c->mounts.n, sizeof(MountSpec));
                if (!s->mounts) {
                        snprintf(err, errlen, "out of memory");
                        return -ENOMEM;
                }
        }
        for (size_t i = 0; i < c->mounts.n; i++) {
                const UnitMount *m = &c->mounts.v[i];
                if ((r = prepare_volume(m, spec, err, errlen)) < 0)
                        return r;
                s->mounts[i] = (MountSpec){ .source = m->source,
                                            .destination = m->destination,
                                            .readonly = m->readonly,
                                            .flags = m->flags,
                                            .options = m->options };
        }
        spec->mounts = s->mounts;
        spec->n_mounts = c->mounts.n;
        bool binds = false;
        for (size_t i = 0; i < c->mounts.n; i++)
                binds = binds || c->mounts.v[i].source;
        if (binds && untrusted_dirs(u, s) < 0) {
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
        }

        spec->cgroup_path = u->cgroup_path;
        spec->devices_program = u->manager->devices_program;
        spec->resources.memory_max = c->memory_max;
        spec->resources.memory_high = c->memory_high;
        spec->resources.memory_swap_max = c->memory_swap_max;
        spec->resources.pids_max = c->tasks_max;
        /* CPUQuota= is in hundredths of a percent of one CPU per 100 ms period */
        spec->resources.cpu_quota_us = c->cpu_quota * 100000 / 10000;
        spec->resources.cpu_period_us = 100000;
        spec->resources.cpu_weight = c->cpu_weight;
        spec->resources.io_weight = c->io_weight;
        spec->resources.cpuset_cpus = c->allowed_cpus;
        spec->state_dir = u->state_dir;
        spec->stdio[0] = -1;
        spec->stdio[1] = spec->stdio[2] = u->output_wfd >= 0 ? u->output_wfd : STDOUT_FILENO;
        return unit_net_prepare(u, spec, err, errlen); /* Network=bridge: adds CLONE_NEWNET */
}

/* SeccompProfile=unconfined or a JSON file: compiled when the unit is loaded (the default
 * profile is compiled once per capability set by the manager's cache). */
int unit_spec_compile_seccomp(Unit *u, char *err, size_t errlen) {
        const UnitConfig *c = u->config;
        uint64_t caps = (CAPS_DEFAULT & ~c->caps_drop) | c->caps_add;
        if (c->seccomp_profile && streq(c->seccomp_profile, "unconfined"))
                return 0;
        if (c->seccomp_profile && c->seccomp_profile[0] == '/')
                return seccomp_program_from_json(c->seccomp_profile, caps, &u->seccomp, err, errlen);
        return seccomp_program_default(caps, &u->seccomp, err, errlen);
}
