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

int runtime_cgroup_read_u64(const char *path, const char *attr, uint64_t *ret) {
        char p[512];
        _cleanup_free_ char *buf = NULL;
        snprintf(p, sizeof p, "%s/%s", path, attr);
        int r = read_file(p, 4096, &buf, NULL);
        if (r < 0)
                return r;
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
