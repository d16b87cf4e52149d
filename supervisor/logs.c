/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "logs.h"
#include "loop.h"
#include "macros.h"
#include "util.h"

const char *log_stream_to_string(LogStream s) {
        switch (s) {
        case LOG_STREAM_STDOUT:
                return "stdout";
        case LOG_STREAM_STDERR:
                return "stderr";
        }
        return NULL;
}

uint64_t log_realtime_usec(void) {
        struct timespec ts;
        if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || ts.tv_sec < 0)
                return 0;
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* 9999-12-31T23:59:59.999999Z: past it the year needs a fifth digit and the format breaks. */
#define LOG_TIME_LAST_USEC (UINT64_C(253402300799) * USEC_PER_SEC + 999999)

size_t log_format_time(char *buf, size_t len, uint64_t realtime_usec) {
        if (len < LOG_TIME_MAX)
                return 0;
        uint64_t usec = MIN(realtime_usec, LOG_TIME_LAST_USEC);
        time_t sec = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        if (!gmtime_r(&sec, &tm))
                return 0;
        /* snprintf, not strftime: digits only, so no locale is ever consulted. */
        int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned) (usec % USEC_PER_SEC));
        return n > 0 && (size_t) n < len ? (size_t) n : 0;
}

/* Cuts a line to LOG_LINE_MAX bytes. It backs off to a UTF-8 character boundary, so a cut line
 * never ends in half a character: at most 3 bytes, as a character has at most 4. */
static size_t line_cut(const char *line, size_t len, bool *ret_truncated) {
        *ret_truncated = len > LOG_LINE_MAX;
        if (len <= LOG_LINE_MAX)
                return len;
        size_t n = LOG_LINE_MAX;
        for (int i = 0; i < 3 && n > 0 && ((unsigned char) line[n] & 0xC0) == 0x80; i++)
                n--;
        return n;
}

/* ---- in-memory ring ------------------------------------------------------------------------- */

/*
 * One byte buffer used as a ring of variable-size records, rather than a list of chunks: there
 * is no per-chunk header or tail waste, and room is made by evicting exactly the oldest lines
 * that overlap the new one. A record may wrap around the end of the buffer; the reader then
 * copies its text out (rare: once per trip around the ring).
 *
 * The buffer is allocated as lines arrive, growing by half (realloc) until it reaches max. Until
 * then nothing has been evicted, so the records lie contiguously from offset 0 and realloc keeps
 * them valid as they are: the ring never has to be unwrapped to grow. Once at max it stays there
 * and evicts. Growing by half rather than doubling bounds the slack at a third of the buffer.
 *
 * A record is a 12-byte header (realtime usec, then len | flags) and the text. The header is
 * copied in and out with memcpy, so records need no alignment padding; the seq is not stored,
 * as it is first_seq plus the record's position.
 */
#define REC_HEADER    12u
#define REC_LEN_MASK  0xffffu
#define REC_STDERR    (1u << 16)
#define REC_TRUNCATED (1u << 17)
#define RING_FIRST    512u /* the first allocation: a few lines of a unit that says little */

struct LogRing {
        char *buf;
        size_t size; /* allocated */
        size_t max;
        size_t head; /* the oldest record */
        size_t used; /* bytes of records from head on, wrapping at size */
        size_t last; /* the newest record, so "-f" reads it without walking the ring */
        uint64_t first_seq, n, evicted;
};

LogRing *log_ring_new(size_t max_bytes) {
        LogRing *r = calloc(1, sizeof *r);
        if (!r)
                return NULL;
        r->max = max_bytes == 0 ? LOG_RING_MAX_BYTES_DEFAULT : MAX(max_bytes, (size_t) LOG_RING_MIN_BYTES);
        r->first_seq = 1;
        return r;
}

LogRing *log_ring_free(LogRing *r) {
        if (r) {
                free(r->buf);
                free(r);
        }
        return NULL;
}

/* Offsets stay below size, and a record is shorter than the buffer, so one subtraction wraps. */
static size_t ring_wrap(const LogRing *r, size_t off) {
        return off >= r->size ? off - r->size : off;
}

static void ring_copy_out(const LogRing *r, size_t off, void *dst, size_t n) {
        size_t a = MIN(n, r->size - off);
        if (n == 0)
                return;
        memcpy(dst, r->buf + off, a);
        memcpy((char *) dst + a, r->buf, n - a);
}

static void ring_copy_in(LogRing *r, size_t off, const void *src, size_t n) {
        size_t a = MIN(n, r->size - off);
        if (n == 0)
                return;
        memcpy(r->buf + off, src, a);
        memcpy(r->buf, (const char *) src + a, n - a);
}

/* Reads the header at off; returns the record's size. */
static size_t rec_header(const LogRing *r, size_t off, uint64_t *ret_usec, uint32_t *ret_meta) {
        char h[REC_HEADER];
        ring_copy_out(r, off, h, sizeof h);
        memcpy(ret_usec, h, sizeof *ret_usec);
        memcpy(ret_meta, h + sizeof *ret_usec, sizeof *ret_meta);
        return REC_HEADER + (*ret_meta & REC_LEN_MASK);
}

static void ring_evict_one(LogRing *r) {
        uint64_t usec;
        uint32_t meta;
        size_t rec = rec_header(r, r->head, &usec, &meta);
        r->head = ring_wrap(r, r->head + rec);
        r->used -= rec;
        r->first_seq++;
        r->n--;
        r->evicted++;
}

static int ring_grow(LogRing *r, size_t need) {
        size_t want = MAX(MAX(r->size + r->size / 2, r->used + need), (size_t) RING_FIRST);
        want = MIN(want, r->max);
        char *b = realloc(r->buf, want);
        if (!b)
                return -ENOMEM;
        r->buf = b;
        r->size = want;
        return 0;
}

int log_ring_append(LogRing *r, uint64_t realtime_usec, LogStream stream, const char *line, size_t len) {
        if (!log_stream_to_string(stream))
                return -EINVAL;
        bool truncated;
        len = line_cut(line, len, &truncated);
        size_t need = REC_HEADER + len; /* ≤ LOG_RING_MIN_BYTES ≤ max, so the loops end */

        /* Grow first, evict only at max: a failed realloc leaves every line in place. */
        while (r->size - r->used < need && r->size < r->max) {
                int k = ring_grow(r, need);
                if (k < 0)
                        return k;
        }
        while (r->size - r->used < need)
                ring_evict_one(r);

        uint32_t meta = (uint32_t) len | (stream == LOG_STREAM_STDERR ? REC_STDERR : 0) |
                        (truncated ? REC_TRUNCATED : 0);
        char h[REC_HEADER];
        memcpy(h, &realtime_usec, sizeof realtime_usec);
        memcpy(h + sizeof realtime_usec, &meta, sizeof meta);
        size_t tail = ring_wrap(r, r->head + r->used);
        ring_copy_in(r, tail, h, sizeof h);
        ring_copy_in(r, ring_wrap(r, tail + REC_HEADER), line, len);
        r->last = tail;
        r->used += need;
        r->n++;
        return 0;
}

int log_ring_read(const LogRing *r, uint64_t after_seq, size_t max, LogLineFn fn, void *userdata) {
        uint64_t skip = after_seq >= r->first_seq ? after_seq - r->first_seq + 1 : 0;
        if (skip >= r->n)
                return 0;
        size_t off = r->head;
        uint64_t i = 0;
        if (skip == r->n - 1) { /* a follower that is up to date wants just the newest line */
                off = r->last;
                i = skip;
        }
        char scratch[LOG_LINE_MAX];
        int count = 0;
        for (; i < r->n; i++) {
                uint64_t usec;
                uint32_t meta;
                size_t rec = rec_header(r, off, &usec, &meta);
                if (i >= skip) {
                        LogLine l = {
                                .seq = r->first_seq + i,
                                .realtime_usec = usec,
                                .stream = meta & REC_STDERR ? LOG_STREAM_STDERR : LOG_STREAM_STDOUT,
                                .truncated = meta & REC_TRUNCATED,
                                .len = meta & REC_LEN_MASK,
                        };
                        size_t text = ring_wrap(r, off + REC_HEADER);
                        if (text + l.len <= r->size)
                                l.text = r->buf + text;
                        else {
                                ring_copy_out(r, text, scratch, l.len);
                                l.text = scratch;
                        }
                        int k = fn(&l, userdata);
                        if (k < 0)
                                return k;
                        if (++count == INT_MAX || (max > 0 && (size_t) count >= max))
                                break;
                }
                off = ring_wrap(r, off + rec);
        }
        return count;
}

uint64_t log_ring_last_seq(const LogRing *r) {
        return r->first_seq + r->n - 1;
}

uint64_t log_ring_first_seq(const LogRing *r) {
        return r->first_seq;
}

uint64_t log_ring_tail_seq(const LogRing *r, uint64_t n) {
        return n >= r->n ? r->first_seq - 1 : log_ring_last_seq(r) - n;
}

uint64_t log_ring_evicted(const LogRing *r) {
        return r->evicted;
}

size_t log_ring_memory(const LogRing *r) {
        return sizeof *r + r->size;
}

/* ---- persistent files ----------------------------------------------------------------------- */

/*
 * The directory is opened only to open or rotate the file, not held: it would be a second fd per
 * unit in PID 1 for something done once per max_bytes. Reopening never creates the directory,
 * so when the data disk is gone, its empty mount point does not start filling the rootfs.
 */
struct LogFile {
        char *dir, *unit;
        int fd; /* -1 after a failure, until the retry */
        uint64_t size, max_bytes;
        unsigned keep;
        uint64_t errors, dropped;
        int error;          /* the last failure, returned for lines dropped after it */
        uint64_t failed_at; /* its realtime_usec */
        bool partial;       /* a short write left a record without its newline */
        uint64_t synced;    /* writeback was started up to this offset */
        LoopTimer sync_timer;
};

static bool unit_name_ok(const char *unit) {
        size_t l = strlen(unit);
        return l > 0 && l + 3 <= NAME_MAX && unit[0] != '.' && !strchr(unit, '/');
}

/*
 * Power cuts. ext4 journals a file's new size every few seconds (commit=5), but writes the data
 * of an append that lands in an already allocated block only when the page cache is written
 * back, up to 30 s later (dirty_expire_centisecs): a cut in between leaves a file whose size
 * covers blocks never written, which read back as NUL bytes. Two things keep that out of the
 * logs:
 *
 * - Bounded loss. Writeback of what was appended is started when LOG_FILE_SYNC_BYTES have
 *   accumulated, LOG_FILE_SYNC_USEC after the first unstarted line otherwise (a loop timer, so
 *   an idle unit's last lines go too), before each rotation and at close. It is started with
 *   sync_file_range(SYNC_FILE_RANGE_WRITE), which queues the dirty pages for the disk and
 *   returns without waiting for them: 0.04 ms for 64 KiB, against 3.3–4.1 ms for fdatasync()
 *   of the same 64 KiB (ext4 on a virtio disk; tests/unit/test-logs.c prints both for the
 *   machine it runs on). It can still wait a little, for a free request slot or a journal
 *   handle to allocate blocks, never for the data to reach the disk. fdatasync() waits for
 *   the disk and a journal commit, which on a busy or failing disk has no bound, and PID 1
 *   must not wait on one: it runs nowhere in the loop, not even at rotation, since a flood
 *   rotates many times a second; the shutdown's sync() covers a clean poweroff. The new size
 *   still reaches the disk only with ext4's next journal commit (every 5 s), so a cut loses
 *   the lines since the last commit that followed a start: 0.7–3.9 s of a flood under TCG
 *   (tests/e2e/test_log_powercut.py prints it), where the kernel alone would have left up to
 *   30 s unwritten.
 * - No garbage. A cut can still come between the size's commit and the data's write, so each
 *   file is checked when it is opened (at a unit's first line after boot, the current file and
 *   the rotated ones), unless the last shutdown was clean (log_dir_take_clean_mark()).
 *   Records never contain a NUL byte (log_file_append() writes them as
 *   spaces), so a NUL is damage. At the end of a file, the damaged line and what follows are cut
 *   off. In the middle — seen under TCG in 3 cuts of 8 while writeback was started up to the
 *   last byte: a page skipped by writeback while later ones reached the disk leaves 1–21 KiB
 *   of NULs with whole lines after them, and file_written() now avoids that case — the torn
 *   stretch, from its line's start to the next newline, is overwritten in place by a line of
 *   the same length saying how many bytes were lost (LOG_FILE_LOST_MARK), so the good lines on
 *   both sides stay. A partial last line is cut too: appends end on a newline, so it is a
 *   record torn by the cut (ext4 may commit a size that ends on a block boundary) or by a full
 *   disk, and the next boot's first line would be glued to it. The whole file is read, since
 *   damage may lie anywhere in it: up to (keep+1)·1 MiB per unit, once per boot, which took
 *   40 ms for 3.1 MiB from the disk under TCG (1.5 ms for 1 MiB on the host).
 */

/* Reads exactly len bytes at off, or fewer only at the end of the file. */
static ssize_t pread_full(int fd, char *buf, size_t len, uint64_t off) {
        size_t done = 0;
        while (done < len) {
                ssize_t k = pread(fd, buf + done, len - done, (off_t) (off + done));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        break;
                done += (size_t) k;
        }
        return (ssize_t) done;
}

#define REPAIR_CHUNK (64u * 1024u)

/* The offset just past the last newline before end (0 when there is none). */
static int64_t last_line_end(int fd, char *buf, uint64_t end) {
        while (end > 0) {
                uint64_t off = end > REPAIR_CHUNK ? end - REPAIR_CHUNK : 0;
                ssize_t n = pread_full(fd, buf, (size_t) (end - off), off);
                if (n < 0)
                        return n;
                const char *nl = memrchr(buf, '\n', (size_t) n);
                if (nl)
                        return (int64_t) (off + (uint64_t) (nl - buf) + 1);
                end = off;
        }
        return 0;
}

/* The first byte c at or after from, or size when there is none. */
static int64_t find_byte(int fd, char *buf, uint64_t from, uint64_t size, char c) {
        while (from < size) {
                ssize_t n = pread_full(fd, buf, (size_t) MIN(size - from, (uint64_t) REPAIR_CHUNK), from);
                if (n < 0)
                        return n;
                if (n == 0) /* shrunk under us: what is there ends here */
                        break;
                const char *hit = memchr(buf, c, (size_t) n);
                if (hit)
                        return (int64_t) (from + (uint64_t) (hit - buf));
                from += (uint64_t) n;
        }
        return (int64_t) size;
}

/* Overwrites the torn stretch [start, end] (end is its newline) with a line of the same length
 * that says so: the lines around it stay where they are, nothing is copied, and a cut during
 * this write leaves NULs or a torn marker that the next repair finds the same way. */
static int mark_lost(int fd, uint64_t start, uint64_t end) {
        size_t len = (size_t) (end - start + 1);
        _cleanup_free_ char *line = malloc(len);
        if (!line)
                return -ENOMEM;
        char text[80];
        int t = snprintf(text, sizeof text, LOG_FILE_LOST_MARK, len);
        memset(line, '-', len - 1);
        if (t > 0 && (size_t) t <= len - 1)
                memcpy(line, text, (size_t) t);
        line[len - 1] = '\n';
        for (size_t done = 0; done < len;) {
                ssize_t k = pwrite(fd, line + done, len - done, (off_t) (start + done));
                if (k < 0 && errno != EINTR)
                        return negative_errno();
                if (k == 0)
                        return -EIO;
                if (k > 0)
                        done += (size_t) k;
        }
        return 0;
}

/* Every NUL byte belongs to a torn stretch, from the start of its line to the next newline;
 * without a newline after it, the stretch is the file's end and is cut off. Returns the new
 * size. */
static int64_t repair_stretches(int fd, char *buf, uint64_t size, uint64_t *lost) {
        for (uint64_t off = 0;;) {
                int64_t nul = find_byte(fd, buf, off, size, '\0');
                if (nul < 0 || (uint64_t) nul >= size)
                        return nul < 0 ? nul : (int64_t) size;
                int64_t start = last_line_end(fd, buf, (uint64_t) nul);
                int64_t end = start < 0 ? start : find_byte(fd, buf, (uint64_t) nul, size, '\n');
                if (end < 0)
                        return end;
                if ((uint64_t) end >= size) { /* the torn end */
                        *lost += size - (uint64_t) start;
                        return start;
                }
                int r = mark_lost(fd, (uint64_t) start, (uint64_t) end);
                if (r < 0)
                        return r;
                *lost += (uint64_t) (end - start + 1);
                off = (uint64_t) end + 1;
        }
}

int log_file_repair(int dir_fd, const char *name, uint64_t *ret_lost) {
        /* O_NOFOLLOW and O_NONBLOCK as in file_open_at(), and never created. */
        _cleanup_close_ int fd =
                openat(dir_fd, name, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        _cleanup_free_ char *buf = malloc(REPAIR_CHUNK);
        if (!buf)
                return -ENOMEM;
        uint64_t lost = 0;
        int64_t size = repair_stretches(fd, buf, (uint64_t) st.st_size, &lost);
        if (size < 0)
                return (int) size;
        /* A partial last line: the last newline ends the file. */
        ssize_t n = size > 0 ? pread_full(fd, buf, 1, (uint64_t) size - 1) : 0;
        if (n < 0)
                return (int) n;
        if (n == 1 && buf[0] != '\n') {
                int64_t keep = last_line_end(fd, buf, (uint64_t) size);
                if (keep < 0)
                        return (int) keep;
                lost += (uint64_t) (size - keep);
                size = keep;
        }
        if (size < st.st_size && ftruncate(fd, (off_t) size) < 0)
                return negative_errno();
        if (ret_lost)
                *ret_lost = lost;
        return lost > 0;
}

/* The current file and the rotated ones: any of them may have been written when power went. */
static void file_repair_all(LogFile *f, int dfd) {
        for (unsigned k = 0; k <= f->keep; k++) {
                char name[NAME_MAX + 1];
                if (k == 0)
                        snprintf(name, sizeof name, "%s", f->unit);
                else
                        snprintf(name, sizeof name, "%s.%u", f->unit, k);
                uint64_t lost = 0;
                int r = log_file_repair(dfd, name, &lost);
                if (r < 0)
                        log_warning_errno(r, "%s/%s: cannot check it for damage: %m", f->dir, name);
                else if (r > 0)
                        log_warning("%s/%s: %" PRIu64 " bytes torn by a power cut (NUL bytes, a partial "
                                    "line) cut off or marked",
                                    f->dir, name, lost);
        }
}

/* Starts writeback of what was appended since the last call, up to end; never waits for it. */
static void file_kick_to(LogFile *f, uint64_t end) {
        loop_timer_disarm(&f->sync_timer);
        if (f->fd >= 0 && end > f->synced)
                (void) sync_file_range(f->fd, (off_t) f->synced, (off_t) (end - f->synced),
                                       SYNC_FILE_RANGE_WRITE);
        f->synced = MAX(f->synced, end);
}

static void file_kick(LogFile *f) {
        file_kick_to(f, f->size);
}

static void file_sync_due(LoopTimer *t) {
        file_kick(t->userdata);
}

/* While lines keep coming, only whole pages are started: the page at the end would be written
 * again by the next line, and a page still under writeback is skipped by the next start while
 * the pages after it go, which is how a cut leaves a stretch of NULs in the middle. The timer
 * starts the rest, the last page too, at most LOG_FILE_SYNC_USEC after a line. */
static void file_written(LogFile *f) {
        uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE);
        uint64_t whole = f->size / page * page;
        if (whole > f->synced && whole - f->synced >= LOG_FILE_SYNC_BYTES)
                file_kick_to(f, whole);
        if (f->size > f->synced && !f->sync_timer.armed)
                loop_timer_arm(&f->sync_timer, now_usec() + LOG_FILE_SYNC_USEC);
}

/* O_NONBLOCK so a FIFO planted under the name fails (ENXIO) instead of blocking PID 1;
 * O_NOFOLLOW so a symlink cannot point root's writes elsewhere. */
static int file_open_at(LogFile *f, int dfd) {
        _cleanup_close_ int fd =
                openat(dfd, f->unit,
                       O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK, 0640);
        if (fd < 0)
                return negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        safe_close(f->fd);
        f->fd = TAKE_FD(fd);
        f->size = (uint64_t) st.st_size;
        f->synced = f->size;
        if (f->size == 0)
                f->partial = false;
        return 0;
}

static int file_reopen(LogFile *f, bool repair) {
        _cleanup_close_ int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        if (repair)
                file_repair_all(f, dfd);
        return file_open_at(f, dfd);
}

/* UNIT.(keep-1) → UNIT.keep … UNIT → UNIT.1. Each rename replaces its target, which is how the
 * oldest file goes; the chain runs from the old end so nothing is overwritten before it moved.
 * Writeback of the file's last lines is started first, not waited for (see above): a cut right
 * after the rename leaves UNIT.1 with a torn end, which the next open cuts like any other. */
static int file_rotate(LogFile *f) {
        _cleanup_close_ int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        file_kick(f);
        f->fd = safe_close(f->fd);
        if (f->keep == 0 && unlinkat(dfd, f->unit, 0) < 0 && errno != ENOENT)
                return negative_errno();
        for (unsigned k = f->keep; k >= 1; k--) {
                char from[NAME_MAX + 1], to[NAME_MAX + 1];
                if (k == 1)
                        snprintf(from, sizeof from, "%s", f->unit);
                else
                        snprintf(from, sizeof from, "%s.%u", f->unit, k - 1);
                snprintf(to, sizeof to, "%s.%u", f->unit, k);
                if (renameat(dfd, from, dfd, to) < 0 && errno != ENOENT)
                        return negative_errno();
        }
        return file_open_at(f, dfd);
}

/* Stops writing to the file until the retry: closed, so a dead disk's fd is not kept either. */
static int file_broken(LogFile *f, uint64_t realtime_usec, int error) {
        file_kick(f);
        f->fd = safe_close(f->fd);
        f->errors++;
        f->error = error;
        f->failed_at = realtime_usec;
        return error;
}

static int file_failed(LogFile *f, uint64_t realtime_usec, int error) {
        f->dropped++; /* the line at hand */
        return file_broken(f, realtime_usec, error);
}

static void logfilep(LogFile **f) {
        log_file_close(*f);
}

int log_file_open(const char *dir, const char *unit, uint64_t max_bytes, unsigned keep, bool check,
                  LogFile **ret) {
        if (max_bytes == 0)
                max_bytes = LOG_FILE_MAX_BYTES_DEFAULT;
        if (!unit_name_ok(unit) || max_bytes < LOG_FILE_MIN_BYTES || keep > LOG_FILE_KEEP_MAX)
                return -EINVAL;
        int k = mkdir_p(dir, 0755);
        if (k < 0)
                return k;

        _cleanup_(logfilep) LogFile *f = calloc(1, sizeof *f);
        if (!f)
                return -ENOMEM;
        *f = (LogFile){ .fd = -1, .max_bytes = max_bytes, .keep = keep };
        f->sync_timer = (LoopTimer){ .handler = file_sync_due, .userdata = f };
        f->dir = strdup(dir);
        f->unit = strdup(unit);
        if (!f->dir || !f->unit)
                return -ENOMEM;
        k = file_reopen(f, check);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(f);
        return 0;
}

int log_dir_put_clean_mark(const char *dir) {
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) /* no directory, no file to vouch for */
                return errno == ENOENT ? 0 : negative_errno();
        _cleanup_close_ int fd =
                openat(dfd, LOG_DIR_CLEAN_MARK, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 || fsync(dfd) < 0)
                return negative_errno();
        return 0;
}

int log_dir_take_clean_mark(const char *dir) {
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (unlinkat(dfd, LOG_DIR_CLEAN_MARK, 0) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        /* Before any line of this boot: a cut later must not find the mark still on the disk. */
        return fsync(dfd) < 0 ? negative_errno() : 1;
}

int log_file_append(LogFile *f, uint64_t realtime_usec, LogStream stream, const char *line, size_t len) {
        const char *s = log_stream_to_string(stream);
        if (!s)
                return -EINVAL;
        if (f->fd < 0) {
                /* Retrying every line against a full or dead disk would cost syscalls per line and
                 * fill the error count; wait instead. A clock set backwards retries at once. */
                if (realtime_usec >= f->failed_at && realtime_usec - f->failed_at < LOG_FILE_RETRY_USEC) {
                        f->dropped++;
                        return f->error;
                }
                int k = file_reopen(f, false);
                if (k < 0)
                        return file_failed(f, realtime_usec, k);
        }

        /* The whole record in one buffer for one write(2): with O_APPEND it lands in one piece.
         * rec[0] is kept for the newline that ends a record cut short by an earlier failure. */
        char rec[1 + LOG_TIME_MAX + sizeof("stdout ") + LOG_LINE_MAX + 1];
        size_t n = 1;
        n += log_format_time(rec + n, sizeof rec - n, realtime_usec);
        rec[n++] = ' ';
        memcpy(rec + n, s, strlen(s));
        n += strlen(s);
        rec[n++] = ' ';
        bool truncated;
        size_t l = line_cut(line, len, &truncated);
        if (l > 0)
                memcpy(rec + n, line, l);
        /* One record per line of the file, whatever we got, and no NUL byte in the file but
         * the garbage of a power cut, which is how the repair at open tells the two apart. */
        for (size_t i = n; i < n + l; i++)
                if (rec[i] == '\n' || rec[i] == '\0')
                        rec[i] = ' ';
        n += l;
        rec[n++] = '\n';

        size_t start = 1;
        if (f->size > 0 && f->size + n - 1 + f->partial > f->max_bytes) {
                int k = file_rotate(f);
                if (k < 0)
                        return file_failed(f, realtime_usec, k);
        }
        if (f->partial && f->size > 0) {
                rec[0] = '\n';
                start = 0;
        }

        /* No fsync: it would block the event loop for as long as the disk takes. Writeback is
         * started in bounded steps instead (file_written(), and "Power cuts" above). */
        ssize_t k;
        do
                k = write(f->fd, rec + start, n - start);
        while (k < 0 && errno == EINTR);
        if (k > 0)
                f->size += (uint64_t) k;
        if (k == (ssize_t) (n - start)) {
                f->partial = false;
                file_written(f);
                return 0;
        }
        if (k > 0)
                f->partial = true;
        /* A short write to a regular file means it ran out of space; the next write would
         * say ENOSPC (or EFBIG past RLIMIT_FSIZE, whose SIGXFSZ PID 1 blocks). */
        return file_failed(f, realtime_usec, k < 0 ? negative_errno() : -ENOSPC);
}

int log_file_reopen(LogFile *f) {
        int k = file_reopen(f, false);
        return k < 0 ? file_broken(f, log_realtime_usec(), k) : 0;
}

LogFile *log_file_close(LogFile *f) {
        if (f) {
                file_kick(f); /* and the timer is disarmed */
                safe_close(f->fd);
                free(f->dir);
                free(f->unit);
                free(f);
        }
        return NULL;
}

uint64_t log_file_errors(const LogFile *f) {
        return f->errors;
}

uint64_t log_file_dropped(const LogFile *f) {
        return f->dropped;
}

uint64_t log_file_synced(const LogFile *f) {
        return f->synced;
}
