/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>

#include "log.h"

static LogTarget target = LOG_TARGET_STDERR;
static int max_level = LOG_INFO;
static int kmsg_fd = -1;
static int console_fd = -1;
static int console_loglevel = 0; /* the kernel echoes kmsg records below this to the console */

void log_set_target(LogTarget t) {
        target = t;
}

void log_set_max_level(int level) {
        max_level = level;
}

void log_open_console(void) {
        if (kmsg_fd < 0)
                kmsg_fd = open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (console_fd < 0)
                console_fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        /* /dev/kmsg rate-limits writers to ~10 records per 5 s by default, which would drop
         * most of a boot's lines: PID 1 owns the machine, so it turns the limit off. */
        int rl = open("/proc/sys/kernel/printk_devkmsg", O_WRONLY | O_CLOEXEC);
        if (rl >= 0) {
                (void) !write(rl, "on\n", 3);
                close(rl);
        }
        /* Booted without `quiet`, the kernel itself prints our kmsg records on the console;
         * writing them there too would show every line twice. */
        char buf[64];
        int fd = open("/proc/sys/kernel/printk", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                ssize_t n = read(fd, buf, sizeof buf - 1);
                if (n > 0) {
                        buf[n] = 0;
                        console_loglevel = atoi(buf);
                }
                close(fd);
        }
}

int log_console_fd(void) {
        return console_fd >= 0 ? console_fd : STDOUT_FILENO;
}

void log_console_drain(unsigned max_ms) {
        /* Polled, not tcdrain(): a serial line held by flow control must not hang PID 1. At
         * 115200 baud the UART's 4 KiB queue empties in ~0.36 s. */
        const struct timespec tick = { .tv_nsec = 2 * 1000 * 1000 };
        int pending;
        for (unsigned waited = 0;
             waited < max_ms && ioctl(log_console_fd(), TIOCOUTQ, &pending) == 0 && pending > 0; waited += 2)
                nanosleep(&tick, NULL);
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
                if (n > 0 && write(kmsg_fd, line, MIN((size_t) n, sizeof line - 1)) > 0 &&
                    level < console_loglevel)
                        return -e; /* the kernel prints it on the console */
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        n = snprintf(line, sizeof line, "[%5ld.%06ld] keel: %s\n", (long) ts.tv_sec, ts.tv_nsec / 1000, msg);
        if (n > 0)
                (void) !write(log_console_fd(), line, MIN((size_t) n, sizeof line - 1));
        return -e;
}
