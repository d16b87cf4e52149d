/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdarg.h>
#include <syslog.h>

#include "macros.h"

/* Where messages go. PID 1 writes each line to /dev/kmsg (so `dmesg` keeps it with the
 * kernel's timestamp) and to the console with the same clock; everything else writes to stderr. */
typedef enum LogTarget {
        LOG_TARGET_STDERR,
        LOG_TARGET_KMSG_CONSOLE,
} LogTarget;

void log_set_target(LogTarget t);
void log_set_max_level(int level);
/* Opens /dev/kmsg and /dev/console; call once /dev is mounted. Idempotent. */
void log_open_console(void);
int log_console_fd(void);
/* Waits (at most max_ms) until what was written to the console has left for the serial line.
 * Before the console shell exits: its exit hangs up the tty, which discards the queue. */
void log_console_drain(unsigned max_ms);

/* Logs and returns -abs(err) (or 0 when err == 0), so callers can `return log_error_errno(r, …)`.
 * errno is set to err around the format, so "%m" names it. */
int log_internal(int level, int err, const char *fmt, ...) _printf_(3, 4);

#define log_debug(...)            log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)             log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)           log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...)          log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)            log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_internal(LOG_ERR, (e), __VA_ARGS__)
