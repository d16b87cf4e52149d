/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "macros.h"
#include "spec.h"
#include "util.h"

int runtime_cgroup_create(const char *path) {
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

int runtime_cgroup_kill(const char *path) {
        char p[512];
        snprintf(p, sizeof p, "%s/cgroup.kill", path);
        return write_file(p, "1");
}

int runtime_cgroup_remove(const char *path) {
        if (rmdir(path) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

/* Reads one attribute file of the cgroup at path; cgroupfs files are small. */
static int cgroup_read(const char *path, const char *attr, char **ret) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", path, attr);
        return read_file(p, 8192, ret, NULL);
}

/* A single-value attribute: a number, or "max" (UINT64_MAX). */
static int parse_u64_or_max(const char *buf, uint64_t *ret) {
        if (strncmp(buf, "max", 3) == 0) {
                *ret = UINT64_MAX;
                return 0;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(buf, &end, 10);
        if (errno != 0 || end == buf)
                return -EINVAL;
        *ret = v;
        return 0;
}

int runtime_cgroup_read_u64(const char *path, const char *attr, uint64_t *ret) {
        _cleanup_free_ char *buf = NULL;
        int r = cgroup_read(path, attr, &buf);
        if (r < 0)
                return r;
        return parse_u64_or_max(buf, ret);
}

int runtime_cgroup_open_attr(const char *path, const char *attr) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", path, attr);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

int runtime_cgroup_pread_u64(int fd, uint64_t *ret) {
        char buf[32];
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        if (n < 0)
                return negative_errno();
        buf[n] = 0;
        return parse_u64_or_max(buf, ret);
}

int runtime_cgroup_read_key(const char *path, const char *attr, const char *key, uint64_t *ret) {
        _cleanup_free_ char *buf = NULL;
        int r = cgroup_read(path, attr, &buf);
        if (r < 0)
                return r;
        size_t kl = strlen(key);
        for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, key, kl) == 0 && l[kl] == ' ') {
                        *ret = strtoull(l + kl + 1, NULL, 10);
                        return 0;
                }
        return -ENOENT;
}

/* Writes the limits the spec sets, and only those: a cgroup without a controller (or a
 * kernel without it) still runs containers that ask for no limit. On failure err names the
 * file, the value and the error. */
int runtime_cgroup_apply(const ContainerSpec *spec, char *err, size_t errlen) {
        char mem[32], high[32], swap[32], pids[32], cpu[48], weight[16], io[24];
        const typeof(spec->resources) *res = &spec->resources;
        snprintf(mem, sizeof mem, "%" PRIu64, res->memory_max);
        snprintf(high, sizeof high, "%" PRIu64, res->memory_high);
        snprintf(swap, sizeof swap, "%" PRIu64, res->memory_swap_max);
        snprintf(pids, sizeof pids, "%" PRIu64, res->pids_max);
        snprintf(cpu, sizeof cpu, "%" PRIu64 " %" PRIu64, res->cpu_quota_us, res->cpu_period_us ?: 100000);
        snprintf(weight, sizeof weight, "%" PRIu64, res->cpu_weight);
        snprintf(io, sizeof io, "default %" PRIu64, res->io_weight);
        /* clang-format off */
        const struct {
                bool set;
                const char *file, *value, *controller;
        } limits[] = {
                { res->memory_max != UINT64_MAX,      "memory.max",      mem,    "memory" },
                { res->memory_high != UINT64_MAX,     "memory.high",     high,   "memory" },
                { res->memory_swap_max != UINT64_MAX, "memory.swap.max", swap,   "memory (and CONFIG_SWAP)" },
                { res->pids_max != UINT64_MAX,        "pids.max",        pids,   "pids" },
                { res->cpu_quota_us != 0,             "cpu.max",         cpu,    "cpu" },
                { res->cpu_weight != 0,               "cpu.weight",      weight, "cpu" },
                { res->io_weight != 0,                "io.weight",       io,     "io" },
                { res->cpuset_cpus != NULL,           "cpuset.cpus",     res->cpuset_cpus, "cpuset" },
        };
        /* clang-format on */
        for (size_t i = 0; i < ELEMENTSOF(limits); i++) {
                if (!limits[i].set)
                        continue;
                char p[512];
                snprintf(p, sizeof p, "%s/%s", spec->cgroup_path, limits[i].file);
                int r = write_file(p, limits[i].value);
                if (r < 0) {
                        snprintf(err, errlen, "write '%s' to %s: %s%s%s%s", limits[i].value, p, strerror(-r),
                                 r == -ENOENT ? " (is the " : "", r == -ENOENT ? limits[i].controller : "",
                                 r == -ENOENT ? " controller enabled?)" : "");
                        return r;
                }
        }
        return 0;
}
