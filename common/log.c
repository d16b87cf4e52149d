/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <sys/uio.h>
#include <time.h>

#include "log.h"

static LogTarget target = LOG_TARGET_STDERR;
static int max_level = LOG_INFO;
static int kmsg_fd = -1;
static int console_fd = -1;

void log_set_target(LogTarget t) {
        target = t;
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_open_console(void) {
        if (kmsg_fd < 0)
                kmsg_fd = open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (console_fd < 0)
                console_fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
}

int log_console_fd(void) {
        return console_fd >= 0 ? console_fd : STDOUT_FILENO;
}

int log_internal(int level, int err, const char *fmt, ...) {
        int e = err < 0 ? -err : err;
        if (level > max_level)
                return -e;

        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        int saved = errno;
        errno = e;
        vsnprintf(msg, sizeof msg, fmt, ap);
        errno = saved;
        va_end(ap);

        if (target == LOG_TARGET_STDERR) {
                dprintf(STDERR_FILENO, "%s\n", msg);
                return -e;
        }

        /* One write(2) per record: /dev/kmsg takes a record per write, and glibc's dprintf()
         * would lseek() first, which kmsg refuses (EINVAL), losing the line. kmsg stamps the
         * record itself; the console line carries the same clock (CLOCK_MONOTONIC is close to
         * printk's) so the two read alike. */
        char line[1200];
        int n;
        if (kmsg_fd >= 0) {
                n = snprintf(line, sizeof line, "<%d>keel: %s\n", level, msg);
                if (n > 0)
                        (void) !write(kmsg_fd, line, MIN((size_t) n, sizeof line - 1));
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        n = snprintf(line, sizeof line, "[%5ld.%06ld] keel: %s\n", (long) ts.tv_sec, ts.tv_nsec / 1000, msg);
        if (n > 0)
                (void) !write(log_console_fd(), line, MIN((size_t) n, sizeof line - 1));
        return -e;
}
