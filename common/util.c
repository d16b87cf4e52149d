/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "macros.h"
#include "util.h"

uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

uint64_t realtime_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();

        size_t size = 0, cap = 256;
        _cleanup_free_ char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (size + 1 >= cap) {
                        if (cap > max)
                                return -EFBIG;
                        cap *= 2;
                        char *n = realloc(buf, cap);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                }
                ssize_t k = read(fd, buf + size, cap - size - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                size += (size_t) k;
                if (size > max)
                        return -EFBIG;
        }
        buf[size] = 0;
        if (ret_len)
                *ret_len = size;
        *ret = TAKE_PTR(buf);
        return 0;
}

int write_file_at(int dirfd, const char *path, const char *s) {
        _cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        size_t len = strlen(s);
        ssize_t k = write(fd, s, len);
        if (k < 0)
                return negative_errno();
        return (size_t) k == len ? 0 : -EIO;
}

int mkdir_p(const char *path, mode_t mode) {
        char buf[4096];
        size_t len = strlen(path);
        if (len == 0 || len >= sizeof buf)
                return -EINVAL;
        memcpy(buf, path, len + 1);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = 0;
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                *p = '/';
        }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

void strv_free(char **l) {
        if (!l)
                return;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        if (l)
                while (l[n])
                        n++;
        return n;
}

int strv_push(char ***l, char *value) {
        size_t n = strv_length(*l);
        char **c = realloc(*l, (n + 2) * sizeof(char *));
        if (!c) {
                free(value);
                return -ENOMEM;
        }
        c[n] = value;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

int strv_extend_strv(char ***l, char *const *other) {
        for (char *const *i = other; i && *i; i++) {
                char *d = strdup(*i);
                if (!d || strv_push(l, d) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* Appends to a string being built in buf (len bytes, always NUL-terminated, cut to fit). The
 * formatters below are used once or twice per row of `initctl status`: without printf they
 * cost a tenth as much under emulation, where the table of 1000 units is read. */
typedef struct Out {
        char *buf;
        size_t len, at;
} Out;

static void out_str(Out *o, const char *s) {
        for (; *s && o->at + 1 < o->len; s++)
                o->buf[o->at++] = *s;
        if (o->len)
                o->buf[o->at] = 0;
}

static void out_u64(Out *o, uint64_t v, unsigned min_digits) {
        char d[21], *p = d + sizeof d - 1;
        *p = 0;
        do {
                *--p = (char) ('0' + v % 10);
                v /= 10;
        } while (v || (unsigned) (d + sizeof d - 1 - p) < min_digits);
        out_str(o, p);
}

char *format_timespan(char *buf, size_t len, uint64_t usec) {
        Out o = { buf, len, 0 };
        out_str(&o, "");
        if (usec == USEC_INFINITY) {
                out_str(&o, "infinity");
                return buf;
        }
        uint64_t s = usec / USEC_PER_SEC;
        if (s >= 86400) {
                out_u64(&o, s / 86400, 1);
                out_str(&o, "d ");
                out_u64(&o, s % 86400 / 3600, 1);
                out_str(&o, "h");
        } else if (s >= 3600) {
                out_u64(&o, s / 3600, 1);
                out_str(&o, "h ");
                out_u64(&o, s % 3600 / 60, 1);
                out_str(&o, "min");
        } else if (s >= 60) {
                out_u64(&o, s / 60, 1);
                out_str(&o, "min ");
                out_u64(&o, s % 60, 1);
                out_str(&o, "s");
        } else if (s >= 1) {
                out_u64(&o, s, 1);
                out_str(&o, ".");
                out_u64(&o, usec % USEC_PER_SEC / 1000, 3);
                out_str(&o, "s");
        } else {
                out_u64(&o, usec / 1000, 1);
                out_str(&o, "ms");
        }
        return buf;
}

char *format_bytes(char *buf, size_t len, uint64_t bytes) {
        static const char suffix[] = "KMGT";
        Out o = { buf, len, 0 };
        out_str(&o, "");
        if (bytes < 1024) {
                out_u64(&o, bytes, 1);
                out_str(&o, "B");
                return buf;
        }
        /* Integers only: one decimal, rounded half up. */
        size_t i = 0;
        uint64_t d = 1024;
        while (bytes / d >= 1024 && i + 1 < sizeof suffix - 1) {
                d *= 1024;
                i++;
        }
        uint64_t q = bytes / d, tenths = (bytes % d * 10 + d / 2) / d;
        if (tenths == 10) {
                q++;
                tenths = 0;
        }
        if (q == 1024 && i + 1 < sizeof suffix - 1) { /* 1023.96K reads better as 1.0M */
                q = 1;
                i++;
        }
        char unit[2] = { suffix[i], 0 };
        out_u64(&o, q, 1);
        out_str(&o, ".");
        out_u64(&o, tenths, 1);
        out_str(&o, unit);
        return buf;
}

bool filename_is_valid_unit_name(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '-' || *p == '_' || *p == '.' || *p == '@'))
                        return false;
        return true;
}
