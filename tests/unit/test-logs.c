/* SPDX-License-Identifier: MIT */
/*
 * The log store: the ring's order, sequence numbers, eviction and memory; the files' format,
 * rotation and behaviour on a full disk (a 16 KiB tmpfs in a private mount namespace, so it
 * needs root; without it that part is skipped, never passed); the repair of the ends a power
 * cut tears (NUL bytes, a partial line, a file of NULs, the rotated files) and the bounded
 * writeback, whose cost it prints beside fdatasync()'s.
 */
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "logs.h"
#include "loop.h"
#include "macros.h"
#include "tap.h"
#include "util.h"

#define T0 UINT64_C(1795441466123456) /* 2026-11-23T13:44:26.123456Z */

/* Line seq's text: its number, then a letter of its own, to len bytes. */
static size_t make_text(char *buf, uint64_t seq, size_t len) {
        int n = snprintf(buf, len + 1, "%" PRIu64 ":", seq);
        for (size_t i = (size_t) MAX(n, 0); i < len; i++)
                buf[i] = (char) ('a' + seq % 26);
        return len;
}

typedef struct Seen {
        size_t n;
        uint64_t seq[16];
        LogStream stream[16];
        uint64_t usec[16];
        bool truncated[16];
        size_t len[16];
        char text[16][32];
        int stop_at; /* return -42 for this call (1-based), if set */
} Seen;

static int seen_line(const LogLine *l, void *userdata) {
        Seen *s = userdata;
        if (s->stop_at > 0 && (int) s->n + 1 == s->stop_at)
                return -42;
        if (s->n < ELEMENTSOF(s->seq)) {
                s->seq[s->n] = l->seq;
                s->stream[s->n] = l->stream;
                s->usec[s->n] = l->realtime_usec;
                s->truncated[s->n] = l->truncated;
                s->len[s->n] = l->len;
                snprintf(s->text[s->n], sizeof s->text[0], "%.*s", (int) MIN(l->len, 31u), l->text);
        }
        s->n++;
        return 0;
}

/* Checks every line against make_text() with the length lengths[seq] (or fixed_len). */
typedef struct Verify {
        const size_t *lengths;
        size_t fixed_len;
        uint64_t next_seq, bad;
} Verify;

static int verify_line(const LogLine *l, void *userdata) {
        Verify *v = userdata;
        char want[LOG_LINE_MAX];
        size_t len = v->lengths ? v->lengths[l->seq] : v->fixed_len;
        make_text(want, l->seq, len);
        if (l->seq != v->next_seq || l->len != len || memcmp(l->text, want, len) != 0 ||
            l->realtime_usec != T0 + l->seq ||
            l->stream != (l->seq % 3 ? LOG_STREAM_STDOUT : LOG_STREAM_STDERR))
                v->bad++;
        v->next_seq = l->seq + 1;
        return 0;
}

static int append_seq(LogRing *r, uint64_t seq, size_t len) {
        char buf[LOG_LINE_MAX];
        make_text(buf, seq, len);
        return log_ring_append(r, T0 + seq, seq % 3 ? LOG_STREAM_STDOUT : LOG_STREAM_STDERR, buf, len);
}

static void test_format_time(void) {
        char buf[LOG_TIME_MAX];
        CHECK(log_format_time(buf, sizeof buf, T0) == 27);
        CHECK_STR(buf, "2026-11-23T13:44:26.123456Z");
        CHECK(log_format_time(buf, sizeof buf, 0) == 27);
        CHECK_STR(buf, "1970-01-01T00:00:00.000000Z");
        CHECK(log_format_time(buf, sizeof buf, UINT64_MAX) == 27);
        CHECK_STR(buf, "9999-12-31T23:59:59.999999Z");
        CHECK(log_format_time(buf, sizeof buf - 1, T0) == 0);
        CHECK_STR(log_stream_to_string(LOG_STREAM_STDERR), "stderr");
        CHECK(log_stream_to_string(0) == NULL);
        CHECK(log_realtime_usec() > T0 - UINT64_C(2) * 365 * 86400 * USEC_PER_SEC); /* after 2024 */
}

static void test_ring_basic(void) {
        LogRing *r = log_ring_new(0);
        CHECK(r);
        printf("# empty ring: %zu bytes\n", log_ring_memory(r));
        CHECK(log_ring_memory(r) <= 128);
        CHECK(log_ring_last_seq(r) == 0 && log_ring_first_seq(r) == 1 && log_ring_evicted(r) == 0);
        Seen s = { 0 };
        CHECK(log_ring_read(r, 0, 0, seen_line, &s) == 0 && s.n == 0);
        CHECK(log_ring_tail_seq(r, 10) == 0);

        CHECK(log_ring_append(r, 100, LOG_STREAM_STDOUT, "hello", 5) == 0);
        CHECK(log_ring_append(r, 200, LOG_STREAM_STDERR, "world", 5) == 0);
        CHECK(log_ring_append(r, 300, LOG_STREAM_STDOUT, NULL, 0) == 0);
        CHECK(log_ring_append(r, 400, 7, "bad", 3) == -EINVAL);
        CHECK(log_ring_read(r, 0, 0, seen_line, &s) == 3 && s.n == 3);
        CHECK(s.seq[0] == 1 && s.seq[1] == 2 && s.seq[2] == 3);
        CHECK_STR(s.text[0], "hello");
        CHECK_STR(s.text[1], "world");
        CHECK(s.len[2] == 0);
        CHECK(s.stream[0] == LOG_STREAM_STDOUT && s.stream[1] == LOG_STREAM_STDERR);
        CHECK(s.usec[0] == 100 && s.usec[1] == 200 && s.usec[2] == 300);
        CHECK(!s.truncated[0] && !s.truncated[1]);
        CHECK(log_ring_last_seq(r) == 3 && log_ring_first_seq(r) == 1 && log_ring_evicted(r) == 0);
        CHECK(log_ring_free(r) == NULL);
        CHECK(log_ring_free(NULL) == NULL);
}

/* 128-byte records (12 of header) in an 8 KiB ring: exactly 64 fit, with no waste at the end. */
static void test_ring_eviction(void) {
        LogRing *r = log_ring_new(8192);
        int failed = 0;
        for (uint64_t seq = 1; seq <= 64; seq++)
                failed += append_seq(r, seq, 116) < 0;
        CHECK(failed == 0);
        CHECK(log_ring_evicted(r) == 0 && log_ring_first_seq(r) == 1 && log_ring_last_seq(r) == 64);
        CHECK(log_ring_memory(r) <= 8192 + 128);
        CHECK(append_seq(r, 65, 116) == 0);
        CHECK(log_ring_evicted(r) == 1 && log_ring_first_seq(r) == 2 && log_ring_last_seq(r) == 65);
        for (uint64_t seq = 66; seq <= 1065; seq++)
                append_seq(r, seq, 116);
        CHECK(log_ring_evicted(r) == 1001 && log_ring_first_seq(r) == 1002 && log_ring_last_seq(r) == 1065);
        Verify v = { .fixed_len = 116, .next_seq = 1002 };
        CHECK(log_ring_read(r, 0, 0, verify_line, &v) == 64);
        CHECK(v.bad == 0 && v.next_seq == 1066);

        /* A long line makes room by evicting exactly the records it overlaps: 4108 bytes is
         * 32.1 records of 128, so 33 go. */
        CHECK(append_seq(r, 1066, 4096) == 0);
        CHECK(log_ring_evicted(r) == 1001 + 33 && log_ring_first_seq(r) == 1035);
        log_ring_free(r);
}

/* Lines of random length, some over the limit: after each append the counts add up and the
 * memory stays under the cap; now and then every line held is read back and compared. */
static void test_ring_random(void) {
        enum { N = 20000 };
        static size_t lengths[N + 1];
        LogRing *r = log_ring_new(64 * 1024);
        uint32_t rnd = 12345;
        uint64_t bad_counts = 0, bad_memory = 0, bad_text = 0, underfull = 0, reads = 0;
        for (uint64_t seq = 1; seq <= N; seq++) {
                rnd = rnd * 1103515245 + 12345;
                size_t len = (rnd >> 16) % 200;
                if (seq % 97 == 0)
                        len = 4000 + (rnd >> 8) % 200; /* around LOG_LINE_MAX */
                lengths[seq] = MIN(len, (size_t) LOG_LINE_MAX);
                append_seq(r, seq, lengths[seq]);

                uint64_t held = log_ring_last_seq(r) - log_ring_first_seq(r) + 1;
                if (held + log_ring_evicted(r) != seq || log_ring_last_seq(r) != seq)
                        bad_counts++;
                if (log_ring_memory(r) > 64 * 1024 + 128)
                        bad_memory++;
                uint64_t bytes = 0;
                for (uint64_t s = log_ring_first_seq(r); s <= seq; s++)
                        bytes += 12 + lengths[s];
                /* Eviction stops as soon as the record fits: less than the last record evicted
                 * is left free. */
                if (log_ring_evicted(r) > 0 && bytes <= 64 * 1024 - (12 + LOG_LINE_MAX))
                        underfull++;
                if (seq % 37 == 0 || seq == N) {
                        Verify v = { .lengths = lengths, .next_seq = log_ring_first_seq(r) };
                        if (log_ring_read(r, 0, 0, verify_line, &v) != (int) held || v.bad > 0 ||
                            v.next_seq != seq + 1)
                                bad_text++;
                        v = (Verify){ .lengths = lengths, .next_seq = seq };
                        if (log_ring_read(r, seq - 1, 0, verify_line, &v) != 1 || v.bad > 0)
                                bad_text++;
                        reads++;
                }
        }
        CHECK(bad_counts == 0);
        CHECK(bad_memory == 0);
        CHECK(bad_text == 0);
        CHECK(underfull == 0);
        CHECK(reads > 500 && log_ring_evicted(r) > N / 2);
        log_ring_free(r);
}

static void test_ring_truncate(void) {
        static char big[5000];
        LogRing *r = log_ring_new(0);
        memset(big, 'x', sizeof big);
        CHECK(log_ring_append(r, 1, LOG_STREAM_STDOUT, big, sizeof big) == 0);
        CHECK(log_ring_append(r, 2, LOG_STREAM_STDOUT, big, LOG_LINE_MAX) == 0);
        /* "é" (2 bytes) would be split at 4096: the cut moves before it. */
        memset(big, 'a', sizeof big);
        memcpy(big + 4095, "\xc3\xa9zz", 4);
        CHECK(log_ring_append(r, 3, LOG_STREAM_STDOUT, big, 4099) == 0);
        /* A 4-byte character starting at 4094. */
        memset(big, 'a', sizeof big);
        memcpy(big + 4094, "\xf0\x9f\x98\x80z", 5);
        CHECK(log_ring_append(r, 4, LOG_STREAM_STDERR, big, 4099) == 0);
        Seen s = { 0 };
        CHECK(log_ring_read(r, 0, 0, seen_line, &s) == 4);
        CHECK(s.len[0] == LOG_LINE_MAX && s.truncated[0]);
        CHECK(s.len[1] == LOG_LINE_MAX && !s.truncated[1]);
        CHECK(s.len[2] == 4095 && s.truncated[2]);
        CHECK(s.len[3] == 4094 && s.truncated[3] && s.stream[3] == LOG_STREAM_STDERR);
        log_ring_free(r);
}

/* What `initctl logs` does: "-n N" reads from tail_seq(N); "-f" reads after the last seq seen. */
static void test_ring_read(void) {
        LogRing *r = log_ring_new(8192);
        for (uint64_t seq = 1; seq <= 10; seq++)
                append_seq(r, seq, 116);
        Seen s = { 0 };
        CHECK(log_ring_read(r, 10, 0, seen_line, &s) == 0);
        CHECK(log_ring_read(r, 9, 0, seen_line, &s) == 1 && s.seq[0] == 10);
        s = (Seen){ 0 };
        CHECK(log_ring_read(r, 0, 3, seen_line, &s) == 3 && s.seq[0] == 1 && s.seq[2] == 3);
        s = (Seen){ 0 };
        CHECK(log_ring_read(r, 3, 0, seen_line, &s) == 7 && s.seq[0] == 4 && s.seq[6] == 10);
        CHECK(log_ring_tail_seq(r, 5) == 5);
        s = (Seen){ 0 };
        CHECK(log_ring_read(r, log_ring_tail_seq(r, 5), 0, seen_line, &s) == 5 && s.seq[0] == 6);
        CHECK(log_ring_tail_seq(r, 100) == 0);
        CHECK(log_ring_tail_seq(r, 0) == 10);
        s = (Seen){ .stop_at = 2 };
        CHECK(log_ring_read(r, 0, 0, seen_line, &s) == -42 && s.n == 1);

        /* After eviction: an after_seq from before the oldest line starts at the oldest. */
        for (uint64_t seq = 11; seq <= 100; seq++)
                append_seq(r, seq, 116);
        CHECK(log_ring_first_seq(r) == 37);
        s = (Seen){ 0 };
        CHECK(log_ring_read(r, 5, 2, seen_line, &s) == 2 && s.seq[0] == 37 && s.seq[1] == 38);
        CHECK(log_ring_tail_seq(r, 200) == 36);
        CHECK(log_ring_tail_seq(r, 3) == 97);
        Verify v = { .fixed_len = 116, .next_seq = 100 };
        CHECK(log_ring_read(r, 99, 0, verify_line, &v) == 1 && v.bad == 0);
        log_ring_free(r);
}

static void test_ring_memory(void) {
        LogRing *r = log_ring_new(0);
        size_t empty = log_ring_memory(r);
        CHECK(log_ring_append(r, T0, LOG_STREAM_STDOUT, "started", 7) == 0);
        printf("# ring with 1 short line: %zu bytes\n", log_ring_memory(r));
        CHECK(log_ring_memory(r) <= empty + 512);
        size_t used = 12 + 7, worst = 0;
        for (unsigned i = 1; i < 1000; i++) {
                char line[32];
                int n = snprintf(line, sizeof line, "line %u", i);
                log_ring_append(r, T0 + i, LOG_STREAM_STDOUT, line, (size_t) n);
                used += 12 + (size_t) n;
                /* Grows by half at a time: past the first allocation, never more than 1.5
                 * times what the lines take. */
                if (used > 512)
                        worst = MAX(worst, (log_ring_memory(r) - empty) * 100 / used);
        }
        printf("# ring with 1000 short lines (%zu bytes of records): %zu bytes\n", used, log_ring_memory(r));
        CHECK(worst <= 150 + 5);
        for (unsigned i = 0; i < 10000; i++)
                log_ring_append(r, T0 + i, LOG_STREAM_STDOUT, "a line that fills the ring up", 29);
        printf("# full default ring: %zu bytes\n", log_ring_memory(r));
        CHECK(log_ring_memory(r) == empty + LOG_RING_MAX_BYTES_DEFAULT);
        log_ring_free(r);

        r = log_ring_new(100); /* raised to the minimum, which still takes the longest line */
        static char big[LOG_LINE_MAX];
        memset(big, 'b', sizeof big);
        for (int i = 0; i < 10; i++)
                CHECK(log_ring_append(r, T0, LOG_STREAM_STDOUT, big, sizeof big) == 0);
        CHECK(log_ring_memory(r) <= empty + LOG_RING_MIN_BYTES);
        CHECK(log_ring_evicted(r) == 9);
        log_ring_free(r);
}

/* ---- files ---------------------------------------------------------------------------------- */

static char base[] = "/tmp/test-logs.XXXXXX";

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(path);
}

static uint64_t file_size(const char *dir, const char *name) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        return stat(path, &st) < 0 ? UINT64_MAX : (uint64_t) st.st_size;
}

static char *file_text(const char *dir, const char *name) {
        char path[512];
        char *buf = NULL;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        return read_file(path, 1 << 20, &buf, NULL) < 0 ? NULL : buf;
}

/* 27 + " stdout " + 64 + "\n": 100 bytes a record. */
static int file_append_seq(LogFile *f, uint64_t usec, uint64_t seq) {
        char buf[64];
        make_text(buf, seq, sizeof buf);
        return log_file_append(f, usec, LOG_STREAM_STDOUT, buf, sizeof buf);
}

static void test_file_format(const char *dir) {
        LogFile *f = NULL;
        CHECK(log_file_open(dir, "web", 0, LOG_FILE_KEEP_DEFAULT, true, &f) == 0 && f);
        struct stat st;
        CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
        CHECK(log_file_append(f, T0, LOG_STREAM_STDOUT, "hello", 5) == 0);
        CHECK(log_file_append(f, T0 + 1, LOG_STREAM_STDERR, "two\nlines", 9) == 0);
        CHECK(log_file_append(f, T0 + 2, LOG_STREAM_STDOUT, "", 0) == 0);
        CHECK(log_file_append(f, T0 + 3, 0, "x", 1) == -EINVAL);
        static char big[5000];
        memset(big, 'x', sizeof big);
        CHECK(log_file_append(f, T0 + 4, LOG_STREAM_STDOUT, big, sizeof big) == 0);
        CHECK(log_file_errors(f) == 0 && log_file_dropped(f) == 0);
        CHECK(log_file_close(f) == NULL);

        char *text = file_text(dir, "web");
        const char *want = "2026-11-23T13:44:26.123456Z stdout hello\n"
                           "2026-11-23T13:44:26.123457Z stderr two lines\n"
                           "2026-11-23T13:44:26.123458Z stdout \n";
        CHECK(text && strncmp(text, want, strlen(want)) == 0);
        CHECK(text && strlen(text) == strlen(want) + 27 + 8 + LOG_LINE_MAX + 1);
        CHECK(text && text[strlen(text) - 1] == '\n');
        free(text);

        /* Names, sizes and counts out of range, and files that are not regular files. */
        CHECK(log_file_open(dir, "a/b", 0, 3, true, &f) == -EINVAL);
        CHECK(log_file_open(dir, ".hidden", 0, 3, true, &f) == -EINVAL);
        CHECK(log_file_open(dir, "", 0, 3, true, &f) == -EINVAL);
        CHECK(log_file_open(dir, "web", 4096, 3, true, &f) == -EINVAL);
        CHECK(log_file_open(dir, "web", 0, LOG_FILE_KEEP_MAX + 1, true, &f) == -EINVAL);
        char path[512];
        snprintf(path, sizeof path, "%s/lnk", dir);
        CHECK(symlink("/dev/null", path) == 0);
        CHECK(log_file_open(dir, "lnk", 0, 3, true, &f) == -ELOOP);
        snprintf(path, sizeof path, "%s/fifo", dir);
        CHECK(mkfifo(path, 0600) == 0);
        CHECK(log_file_open(dir, "fifo", 0, 3, true, &f) == -ENXIO); /* and does not block */
}

static void test_file_rotation(const char *dir) {
        LogFile *f = NULL;
        CHECK(log_file_open(dir, "rot", 8192, 2, true, &f) == 0);
        int failed = 0;
        for (uint64_t seq = 1; seq <= 4 * 81; seq++) /* 81 records a file */
                failed += file_append_seq(f, T0 + seq, seq) < 0;
        CHECK(failed == 0);
        log_file_close(f);
        CHECK(file_size(dir, "rot") == 8100);
        CHECK(file_size(dir, "rot.1") == 8100);
        CHECK(file_size(dir, "rot.2") == 8100);
        CHECK(file_size(dir, "rot.3") == UINT64_MAX);
        char *text = file_text(dir, "rot.2");
        char want[65];
        make_text(want, 82, 64);
        want[64] = 0;
        CHECK(text && strncmp(text + 35, want, 64) == 0); /* lines 1–81 are gone */
        free(text);
        text = file_text(dir, "rot");
        make_text(want, 244, 64);
        CHECK(text && strncmp(text + 35, want, 64) == 0);
        free(text);

        /* keep 0: the file starts over. */
        CHECK(log_file_open(dir, "solo", 8192, 0, true, &f) == 0);
        for (uint64_t seq = 1; seq <= 200; seq++)
                file_append_seq(f, T0 + seq, seq);
        log_file_close(f);
        CHECK(file_size(dir, "solo") == 3800 && file_size(dir, "solo.1") == UINT64_MAX);
}

/* The size of what is there counts: after a reboot, rotation comes when it would have. */
static void test_file_reopen(const char *dir) {
        LogFile *f = NULL;
        CHECK(log_file_open(dir, "re", 8192, 1, true, &f) == 0);
        for (uint64_t seq = 1; seq <= 50; seq++)
                file_append_seq(f, T0 + seq, seq);
        log_file_close(f);
        CHECK(log_file_open(dir, "re", 8192, 1, true, &f) == 0);
        for (uint64_t seq = 51; seq <= 90; seq++)
                file_append_seq(f, T0 + seq, seq);
        log_file_close(f);
        CHECK(file_size(dir, "re.1") == 8100);
        CHECK(file_size(dir, "re") == 900);
}

/* Lines are full 100-byte records, except at most one cut short by a full disk. */
static bool records_well_formed(const char *text, unsigned *ret_lines, unsigned *ret_short) {
        unsigned lines = 0, short_lines = 0;
        for (const char *p = text; *p;) {
                const char *nl = strchr(p, '\n');
                if (!nl || strncmp(p, "2026-11-23T", 11) != 0)
                        return false;
                if (nl - p != 99)
                        short_lines++;
                lines++;
                p = nl + 1;
        }
        *ret_lines = lines;
        *ret_short = short_lines;
        return short_lines <= 1;
}

/* Runs in a child, in its own mount namespace, on a 16 KiB tmpfs. */
static void full_disk_child(const char *mnt) {
        char path[512];
        LogFile *f = NULL;

        CHECK(mount("tmpfs", mnt, "tmpfs", 0, "size=16k,mode=0755") == 0);
        snprintf(path, sizeof path, "%s/filler", mnt);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        static char filler[8192];
        CHECK(fd >= 0 && write(fd, filler, sizeof filler) == (ssize_t) sizeof filler);
        safe_close(fd);

        CHECK(log_file_open(mnt, "svc", 0, 3, true, &f) == 0);
        if (!f)
                return;
        uint64_t seq = 1, t = T0;
        int r = 0;
        for (; seq < 1000 && r == 0; seq++)
                r = file_append_seq(f, t++, seq);
        CHECK(r == -ENOSPC && seq < 1000);
        CHECK(log_file_errors(f) == 1 && log_file_dropped(f) == 1);
        /* Within the retry interval, lines are dropped without a syscall or another error. */
        int dropped = 0;
        for (int i = 0; i < 50; i++)
                dropped += file_append_seq(f, t++, seq++) == -ENOSPC;
        CHECK(dropped == 50);
        CHECK(log_file_errors(f) == 1 && log_file_dropped(f) == 51);
        /* After it, one retry, which fails again. */
        t += LOG_FILE_RETRY_USEC;
        CHECK(file_append_seq(f, t, seq++) == -ENOSPC);
        CHECK(log_file_errors(f) == 2);
        /* A clock set backwards retries too, rather than waiting for the old time to come. */
        CHECK(file_append_seq(f, t - USEC_PER_SEC, seq++) == -ENOSPC);
        CHECK(log_file_errors(f) == 3);

        CHECK(unlink(path) == 0);
        CHECK(file_append_seq(f, t + 1, seq++) == -ENOSPC); /* still waiting */
        CHECK(log_file_reopen(f) == 0);
        CHECK(file_append_seq(f, t + 2, seq++) == 0);
        CHECK(file_append_seq(f, t + 3, seq++) == 0);
        CHECK(log_file_errors(f) == 3 && log_file_dropped(f) == 54);
        log_file_close(f);

        char *text = file_text(mnt, "svc");
        unsigned lines = 0, cut = 0;
        CHECK(text && records_well_formed(text, &lines, &cut));
        printf("# %u lines on the full tmpfs, %u of them cut short by it\n", lines, cut);
        free(text);
}

static void test_file_full_disk(void) {
        char mnt[256];
        snprintf(mnt, sizeof mnt, "%s/full", base);
        CHECK(mkdir(mnt, 0755) == 0);

        int p[2];
        CHECK(pipe2(p, O_CLOEXEC) == 0);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
                int res[3] = { 1, 0, 0 }; /* skipped, tap_n, tap_failed */
                if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0) {
                        full_disk_child(mnt);
                        res[0] = 0;
                }
                res[1] = tap_n;
                res[2] = tap_failed;
                fflush(stdout);
                _exit(write(p[1], res, sizeof res) == sizeof res ? 0 : 1);
        }
        safe_close(p[1]);
        int res[3] = { 0 }, status = 0;
        bool got = pid > 0 && read(p[0], res, sizeof res) == sizeof res;
        safe_close(p[0]);
        bool exited =
                pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (got && res[0])
                printf("ok %d # SKIP full disk: no private mount namespace (not root?)\n", ++tap_n);
        else if (got) { /* the child's checks continued our numbering */
                tap_n = res[1];
                tap_failed = res[2];
        }
        CHECK(got && exited);
}

/* ---- power cuts --------------------------------------------------------------------------- */

/* Not a CHECK itself: it is called inside them. */
static bool put_bytes(const char *dir, const char *name, const char *data, size_t len) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        bool ok = fd >= 0 && write(fd, data, len) == (ssize_t) len;
        safe_close(fd);
        return ok;
}

/* The file's bytes equal data[0..len). */
static bool has_bytes(const char *dir, const char *name, const char *data, size_t len) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        char *buf = NULL;
        size_t n = 0;
        bool same = read_file(path, 4 << 20, &buf, &n) >= 0 && n == len && memcmp(buf, data, len) == 0;
        free(buf);
        return same;
}

/* data then nuls NUL bytes into dir/name; repairs it; the result must be want. */
static bool repaired_to(int dfd, const char *dir, const char *name, const char *data, size_t nuls,
                        const char *want, int want_r) {
        size_t dl = strlen(data);
        char *buf = calloc(1, dl + nuls + 1);
        if (!buf)
                return false;
        memcpy(buf, data, dl);
        bool put = put_bytes(dir, name, buf, dl + nuls);
        free(buf);
        uint64_t cut = UINT64_MAX;
        int r = log_file_repair(dfd, name, &cut);
        bool ok = put && r == want_r && has_bytes(dir, name, want, strlen(want));
        if (want_r == 1)
                ok = ok && cut == dl + nuls - strlen(want);
        if (!ok)
                printf("# %s: repair returned %d, cut %" PRIu64 "\n", name, r, cut);
        return ok;
}

static void test_file_repair(const char *dir) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(dfd >= 0);
        const char *good =
                "2026-11-23T13:44:26.123456Z stdout one\n2026-11-23T13:44:26.123457Z stdout two\n";

        /* Whole files are left alone: not cut, not rewritten. */
        CHECK(repaired_to(dfd, dir, "good", good, 0, good, 0));
        CHECK(repaired_to(dfd, dir, "empty", "", 0, "", 0));
        CHECK(log_file_repair(dfd, "missing", NULL) == 0);
        /* What a power cut leaves. */
        CHECK(repaired_to(dfd, dir, "nuls", good, 3000, good, 1));
        CHECK(repaired_to(dfd, dir, "nul1", good, 1, good, 1));
        CHECK(repaired_to(dfd, dir, "allnul", "", 8192, "", 1));
        CHECK(repaired_to(dfd, dir, "partial", "2026-11-23T13:44:26.123456Z stdout one\n2026-11-23T13:4", 0,
                          "2026-11-23T13:44:26.123456Z stdout one\n", 1));
        CHECK(repaired_to(dfd, dir, "partialnul", "2026-11-23T13:44:26.123456Z stdout one\n2026-11-23T13:4",
                          100, "2026-11-23T13:44:26.123456Z stdout one\n", 1));
        CHECK(repaired_to(dfd, dir, "onlypartial", "2026-11-23T13:4", 0, "", 1));
        /* NULs in the middle, whole lines after them: the torn stretch, from its line's start to
         * the next newline, becomes a marker line of the same length; the lines around it stay. */
        const char *hole = "2026-11-23T13:44:26.123456Z stdout one\n2026-11-23T13:44:26.1234"
                           "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
                           "tdout three\n2026-11-23T13:44:26.123459Z stdout four\n";
        size_t hl = 39 + 24 + 30 + 12 + 40;
        const char *healed = "2026-11-23T13:44:26.123456Z stdout one\n"
                             "[keel: 66 bytes torn by a power cut]-----------------------------\n"
                             "2026-11-23T13:44:26.123459Z stdout four\n";
        uint64_t lost = 0;
        CHECK(put_bytes(dir, "hole", hole, hl));
        CHECK(log_file_repair(dfd, "hole", &lost) == 1 && lost == 66 && has_bytes(dir, "hole", healed, hl));
        CHECK(log_file_repair(dfd, "hole", &lost) == 0 &&
              has_bytes(dir, "hole", healed, hl)); /* idempotent */
        /* Two stretches, a short one (only dashes fit) and one at the end, with a partial line. */
        CHECK(put_bytes(dir, "holes", "a\nb\0c\nd\n\0\0e\nf\0", 14));
        CHECK(log_file_repair(dfd, "holes", &lost) == 1 && lost == 4 + 4 + 2 &&
              has_bytes(dir, "holes", "a\n---\nd\n---\n", 12));

        /* Lines longer than the chunk read at a time: the stretch starts at the last newline
         * before the NUL even when that is chunks back, and ends at the next one, chunks on. */
        size_t line = 200000, lines = 6, len = lines * line;
        char *big = malloc(len + 200000);
        CHECK(big != NULL);
        if (big) {
                for (size_t i = 0; i < lines; i++) {
                        memset(big + i * line, 'a' + (char) i, line - 1);
                        big[i * line + line - 1] = '\n';
                }
                memset(big + len, 0, 200000);
                CHECK(put_bytes(dir, "big", big, len + 200000)); /* NULs from a line boundary on */
                CHECK(log_file_repair(dfd, "big", NULL) == 1 && has_bytes(dir, "big", big, len));
                memset(big + 2 * line + 150000, 0, 1024); /* in the middle of the third line */
                CHECK(put_bytes(dir, "big", big, len));
                CHECK(log_file_repair(dfd, "big", &lost) == 1 && lost == line);
                char *want = malloc(len);
                if (want) {
                        memcpy(want, big, len);
                        memset(want + 2 * line, '-', line - 1);
                        snprintf(want + 2 * line, 60, LOG_FILE_LOST_MARK, line);
                        want[2 * line + strlen(want + 2 * line)] = '-';
                }
                CHECK(want && has_bytes(dir, "big", want, len));
                free(want);
                free(big);
        }

        /* What a whole file costs to check, read from the disk rather than the page cache. */
        static char rec[100];
        memset(rec, 'r', sizeof rec);
        rec[sizeof rec - 1] = '\n';
        char cpath[512];
        snprintf(cpath, sizeof cpath, "%s/cold", dir);
        int cfd = open(cpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int wrong = cfd < 0;
        for (int i = 0; cfd >= 0 && i < (1 << 20) / 100; i++)
                wrong += write(cfd, rec, sizeof rec) != (ssize_t) sizeof rec;
        wrong += cfd < 0 || fdatasync(cfd) < 0 || posix_fadvise(cfd, 0, 0, POSIX_FADV_DONTNEED) != 0;
        safe_close(cfd);
        uint64_t t0 = now_usec();
        CHECK(wrong == 0 && log_file_repair(dfd, "cold", NULL) == 0);
        printf("# checking a whole 1 MiB log file: %.2f ms (%s)\n", (double) (now_usec() - t0) / 1000.0,
               dir);

        /* Not regular files, and symlinks, are refused. */
        char path[512];
        snprintf(path, sizeof path, "%s/rlnk", dir);
        CHECK(symlink("good", path) == 0);
        CHECK(log_file_repair(dfd, "rlnk", NULL) == -ELOOP);
        CHECK(has_bytes(dir, "good", good, strlen(good)));
        snprintf(path, sizeof path, "%s/rfifo", dir);
        CHECK(mkfifo(path, 0600) == 0);
        CHECK(log_file_repair(dfd, "rfifo", NULL) == -EINVAL);
        safe_close(dfd);
}

/* log_file_open() repairs the current file and the rotated ones it keeps, and appends after the
 * last whole line; a NUL the container wrote lands as a space, so it is never taken for damage. */
static void test_file_open_repairs(const char *dir) {
        const char *l1 = "2026-11-23T13:44:26.123456Z stdout one\n";
        const char *l2 = "2026-11-23T13:44:26.123456Z stdout two\n";
        char buf[200] = { 0 };
        size_t n = (size_t) snprintf(buf, sizeof buf, "%s%s", l1, "2026-11-23T1");
        CHECK(put_bytes(dir, "torn", buf, n + 10));          /* a torn line, then NULs */
        CHECK(put_bytes(dir, "torn.1", l1, strlen(l1) + 1)); /* NUL */
        memset(buf, 0, sizeof buf);
        CHECK(put_bytes(dir, "torn.2", buf, sizeof buf)); /* all NULs */
        CHECK(put_bytes(dir, "torn.3", buf, 10));         /* beyond keep: not ours */

        LogFile *f = NULL;
        CHECK(log_file_open(dir, "torn", 8192, 2, true, &f) == 0 && f);
        CHECK(f && log_file_append(f, T0 + 1, LOG_STREAM_STDOUT, "t\0o", 3) == 0);
        log_file_close(f);
        const char *want =
                "2026-11-23T13:44:26.123456Z stdout one\n2026-11-23T13:44:26.123457Z stdout t o\n";
        CHECK(has_bytes(dir, "torn", want, strlen(want)));
        CHECK(has_bytes(dir, "torn.1", l1, strlen(l1)));
        CHECK(file_size(dir, "torn.2") == 0);
        CHECK(file_size(dir, "torn.3") == 10);

        f = NULL;
        CHECK(log_file_open(dir, "torn", 8192, 2, true, &f) == 0 && f); /* nothing to cut now */
        CHECK(f && log_file_append(f, T0, LOG_STREAM_STDOUT, "two", 3) == 0);
        log_file_close(f);
        char both[200];
        snprintf(both, sizeof both, "%s%s", want, l2);
        CHECK(has_bytes(dir, "torn", both, strlen(both)));
}

/* The clean-shutdown mark: taken once, and a file opened without the check is left as it is. */
static void test_clean_mark(const char *dir) {
        CHECK(log_dir_take_clean_mark(dir) == 0);
        CHECK(log_dir_put_clean_mark(dir) == 0);
        CHECK(file_size(dir, LOG_DIR_CLEAN_MARK) == 0);
        CHECK(log_dir_take_clean_mark(dir) == 1);
        CHECK(file_size(dir, LOG_DIR_CLEAN_MARK) == UINT64_MAX); /* gone */
        CHECK(log_dir_take_clean_mark(dir) == 0);
        CHECK(log_dir_take_clean_mark("/nonexistent/keel-log") == 0);
        CHECK(log_dir_put_clean_mark("/nonexistent/keel-log") == 0);

        const char torn[] = "2026-11-23T13:44:26.123456Z stdout one\n2026-11";
        CHECK(put_bytes(dir, "unchecked", torn, sizeof torn - 1));
        LogFile *f = NULL;
        CHECK(log_file_open(dir, "unchecked", 8192, 1, false, &f) == 0 && f);
        log_file_close(f);
        CHECK(has_bytes(dir, "unchecked", torn, sizeof torn - 1));
}

/* For loops: counts only a failure, so the TAP numbering does not depend on the loop's length. */
#define CHECK_SILENT(cond)                                                                                  \
        do {                                                                                                \
                if (!(cond))                                                                                \
                        CHECK(!#cond);                                                                      \
        } while (0)

static double elapsed_ms(uint64_t since) {
        return (double) (now_usec() - since) / 1000.0;
}

/* Writeback starts every LOG_FILE_SYNC_BYTES, or from the loop's timer after LOG_FILE_SYNC_USEC,
 * and at rotation; never later. */
static void test_file_sync(const char *dir) {
        CHECK(loop_init() == 0);
        LogFile *f = NULL;
        CHECK(log_file_open(dir, "sync", 1 << 20, 1, true, &f) == 0 && f);
        if (!f)
                return;
        CHECK(file_append_seq(f, T0, 1) == 0);
        CHECK(log_file_synced(f) == 0); /* not yet: the timer is armed */
        uint64_t start = now_usec();
        for (int i = 0; i < 20 && log_file_synced(f) == 0; i++)
                loop_run_once();
        CHECK(log_file_synced(f) == 100);
        CHECK(now_usec() - start >= LOG_FILE_SYNC_USEC / 2);

        /* By size, without the timer, in whole pages: 100-byte records, so the 697th fills the
         * 17th page, the first whole-page end 64 KiB past the last start. */
        uint64_t seq = 2;
        for (; seq < 1000 && log_file_synced(f) == 100; seq++)
                CHECK_SILENT(file_append_seq(f, T0 + seq, seq) == 0);
        CHECK(seq - 1 == 697 && log_file_synced(f) == 17 * 4096);
        CHECK(file_append_seq(f, T0 + seq, seq) == 0); /* the timer is armed for the rest */
        log_file_close(f); /* starts the rest, and disarms the timer: no call into freed memory */
        CHECK(file_size(dir, "sync") == 69800);

        /* What a start of writeback costs against waiting for it, each after 64 KiB appended. */
        char path[512];
        snprintf(path, sizeof path, "%s/cost", dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        static char chunk[64 * 1024];
        memset(chunk, 'c', sizeof chunk);
        double t_range = 0, t_sync = 0;
        int rounds = 20, failed = fd < 0;
        for (int i = 0; fd >= 0 && i < rounds; i++) {
                failed += write(fd, chunk, sizeof chunk) != (ssize_t) sizeof chunk;
                uint64_t t = now_usec();
                failed += sync_file_range(fd, (off_t) i * 2 * (off_t) sizeof chunk, sizeof chunk,
                                          SYNC_FILE_RANGE_WRITE) < 0;
                t_range += elapsed_ms(t);
                failed += write(fd, chunk, sizeof chunk) != (ssize_t) sizeof chunk;
                t = now_usec();
                failed += fdatasync(fd) < 0;
                t_sync += elapsed_ms(t);
        }
        safe_close(fd);
        CHECK(failed == 0);
        printf("# 64 KiB appended, then: sync_file_range(SYNC_FILE_RANGE_WRITE) %.3f ms, fdatasync %.3f ms"
               " (mean of %d, %s)\n",
               t_range / rounds, t_sync / rounds, rounds, dir);
}

int main(void) {
        test_format_time();
        test_ring_basic();
        test_ring_eviction();
        test_ring_random();
        test_ring_truncate();
        test_ring_read();
        test_ring_memory();

        if (!mkdtemp(base)) {
                CHECK(!"mkdtemp");
                TAP_DONE();
        }
        char dir[256];
        snprintf(dir, sizeof dir, "%s/var/log", base); /* created by log_file_open() */
        test_file_format(dir);
        test_file_rotation(dir);
        test_file_reopen(dir);
        test_file_repair(dir);
        test_file_open_repairs(dir);
        test_clean_mark(dir);
        test_file_sync(dir);
        test_file_full_disk();
        CHECK(nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0);
        TAP_DONE();
}
