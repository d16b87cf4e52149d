/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The log store of PID 1. Each unit's stdout/stderr lines go to a bounded in-memory ring (what
 * `initctl logs [-f] [-n N]` reads) and, once a data disk is mounted, to size-rotated files
 * under /var/lib/keel/log. Nothing here blocks or allocates without bound: both are fed from
 * the event loop.
 */

#define LOG_LINE_MAX               4096u /* longer lines are cut (at a UTF-8 boundary) and flagged */
#define LOG_RING_MAX_BYTES_DEFAULT (64u * 1024u)
#define LOG_RING_MIN_BYTES         (8u * 1024u) /* the longest line fits, with room to spare */
#define LOG_FILE_MAX_BYTES_DEFAULT (UINT64_C(1) << 20)
#define LOG_FILE_MIN_BYTES         UINT64_C(8192) /* so (keep+1)·max bounds the disk use */
#define LOG_FILE_KEEP_DEFAULT      3u
#define LOG_FILE_KEEP_MAX          99u
#define LOG_FILE_RETRY_USEC        (UINT64_C(10) * 1000000) /* after a failed write */
#define LOG_FILE_SYNC_BYTES        (64u * 1024u)            /* writeback is started after this much… */
#define LOG_FILE_SYNC_USEC         (UINT64_C(1) * 1000000)  /* …or this long after a line */
/* The line that takes the place of a stretch torn by a power cut in the middle of a file
 * (padded with '-' to the stretch's length; only dashes when the stretch is shorter). */
#define LOG_FILE_LOST_MARK "[keel: %zu bytes torn by a power cut]"
#define LOG_TIME_MAX       sizeof("2026-11-23T13:44:26.123456Z")

typedef enum LogStream {
        LOG_STREAM_STDOUT = 1, /* the fd numbers, so a caller may pass either */
        LOG_STREAM_STDERR = 2,
} LogStream;

/* "stdout", "stderr", or NULL. */
const char *log_stream_to_string(LogStream s);

/* CLOCK_REALTIME in usec: the timestamp to pass to log_ring_append() and log_file_append(). */
uint64_t log_realtime_usec(void);

/* "2026-11-23T13:44:26.123456Z" (UTC, no locale). Returns the length written, or 0 when buf is
 * shorter than LOG_TIME_MAX. Times past year 9999 print as its last microsecond. */
size_t log_format_time(char *buf, size_t len, uint64_t realtime_usec);

/* ---- in-memory ring ------------------------------------------------------------------------- */

typedef struct LogRing LogRing;

typedef struct LogLine {
        uint64_t seq; /* per ring, from 1, never reused */
        uint64_t realtime_usec;
        LogStream stream;
        bool truncated;   /* the line was longer than LOG_LINE_MAX */
        const char *text; /* not NUL-terminated; valid until the callback returns */
        size_t len;
} LogLine;

/* max_bytes bounds the buffer, which holds the text plus 12 bytes per line. 0 means
 * LOG_RING_MAX_BYTES_DEFAULT; less than LOG_RING_MIN_BYTES is raised to it. The buffer is
 * allocated as lines arrive, so an idle unit costs only the struct. NULL on ENOMEM. */
LogRing *log_ring_new(size_t max_bytes);
LogRing *log_ring_free(LogRing *r);

/* Evicts the oldest lines as needed. -EINVAL on a bad stream; -ENOMEM leaves the ring intact. */
int log_ring_append(LogRing *r, uint64_t realtime_usec, LogStream stream, const char *line, size_t len);

/* Calls fn for the lines with seq > after_seq, oldest first, at most max of them (0: all).
 * Returns how many were passed, or the first negative value fn returned (which stops it). */
typedef int (*LogLineFn)(const LogLine *l, void *userdata);
int log_ring_read(const LogRing *r, uint64_t after_seq, size_t max, LogLineFn fn, void *userdata);

uint64_t log_ring_last_seq(const LogRing *r);  /* 0 before the first line */
uint64_t log_ring_first_seq(const LogRing *r); /* the oldest held; last_seq + 1 when empty */
/* The after_seq that makes log_ring_read() return the last n lines ("-n N"). */
uint64_t log_ring_tail_seq(const LogRing *r, uint64_t n);
uint64_t log_ring_evicted(const LogRing *r); /* lines dropped to make room */
size_t log_ring_memory(const LogRing *r);    /* bytes allocated, struct included */

/* ---- persistent files ----------------------------------------------------------------------- */

typedef struct LogFile LogFile;

/* Opens (creating) DIR/UNIT for appending, creating DIR (0755) if missing. max_bytes 0 means
 * LOG_FILE_MAX_BYTES_DEFAULT. When a line would take UNIT past max_bytes, it is rotated:
 * UNIT.(keep-1) → UNIT.keep … UNIT → UNIT.1, so the unit never uses more than (keep+1)·max_bytes.
 * An existing file's size counts, so rotation continues across reboots. The end that a power
 * cut tore off UNIT and the rotated files is cut first (log_file_repair()). -EINVAL on a unit name
 * with '/' or a leading '.', max_bytes < LOG_FILE_MIN_BYTES or keep > LOG_FILE_KEEP_MAX. */
int log_file_open(const char *dir, const char *unit, uint64_t max_bytes, unsigned keep, bool check,
                  LogFile **ret);

/* DIR/.clean says every log file in DIR was closed and synced by a clean shutdown: the next
 * boot can open them without reading them for damage (check=false above). Put once the files
 * are closed and synced; taken (removed, and the removal made durable before any new line is
 * written) at boot. take returns 1 when it was there, 0 when not, else negative. */
#define LOG_DIR_CLEAN_MARK ".clean"
int log_dir_put_clean_mark(const char *dir);
int log_dir_take_clean_mark(const char *dir);

/* One write(2) per line, no fsync; NUL bytes and newlines in the line are written as spaces.
 * Writeback is started (sync_file_range, never waited for) every LOG_FILE_SYNC_BYTES, and by a
 * loop timer LOG_FILE_SYNC_USEC after a line, so a power cut loses only the last seconds.
 * After a failed write, rotation or open (ENOSPC, EIO), lines are dropped without touching the
 * disk until LOG_FILE_RETRY_USEC of realtime_usec has passed, then the file is reopened and
 * tried again. Returns 0 when the line was written, else negative. */
int log_file_append(LogFile *f, uint64_t realtime_usec, LogStream stream, const char *line, size_t len);

/* Repairs what a power cut left in DIR_FD/NAME: every line with a NUL byte (records never hold
 * one) up to the next newline is overwritten in place by a LOG_FILE_LOST_MARK line of the same
 * length, or cut off when no newline follows, and a partial last line is cut off, so the file
 * reads as whole lines. log_file_open() does it to UNIT and UNIT.1 … UNIT.keep. Returns 1 and
 * *ret_lost (the bytes cut off or marked) when it changed the file, 0 when the file was whole
 * or is missing, else negative. */
int log_file_repair(int dir_fd, const char *name, uint64_t *ret_lost);

/* Retries now (after the disk was remounted or cleaned up). */
int log_file_reopen(LogFile *f);

LogFile *log_file_close(LogFile *f);
uint64_t log_file_errors(const LogFile *f);  /* failed write/rename/open calls */
uint64_t log_file_dropped(const LogFile *f); /* lines not written because of them */
uint64_t log_file_synced(const LogFile *f);  /* the offset up to which writeback was started */
