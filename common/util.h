/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define USEC_PER_SEC  UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_INFINITY UINT64_MAX

uint64_t now_usec(void);      /* CLOCK_MONOTONIC */
uint64_t realtime_usec(void); /* CLOCK_REALTIME: for people and log files */

/* Reads a whole small file (sysfs, procfs, unit files) into a NUL-terminated buffer.
 * Fails with -EFBIG past max bytes, so no file can make us allocate without bound. */
int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len);
static inline int read_file(const char *path, size_t max, char **ret, size_t *ret_len) {
        return read_file_at(-100 /* AT_FDCWD */, path, max, ret, ret_len);
}
/* Writes a string to an existing file (sysfs/cgroupfs attribute) in one write(2). */
int write_file_at(int dirfd, const char *path, const char *s);
static inline int write_file(const char *path, const char *s) {
        return write_file_at(-100, path, s);
}
int mkdir_p(const char *path, mode_t mode);

/* NULL-terminated string vectors. */
void strv_free(char **l);
static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ __attribute__((cleanup(strv_freep)))
size_t strv_length(char *const *l);
int strv_push(char ***l, char *value); /* takes value; frees it on failure */
int strv_extend_strv(char ***l, char *const *other);

/* "1h 2min", "3.250s", "12ms": what people read on a console. */
char *format_timespan(char *buf, size_t len, uint64_t usec);
/* "12.3M", "512K", "1.0G". */
char *format_bytes(char *buf, size_t len, uint64_t bytes);

bool filename_is_valid_unit_name(const char *s);
