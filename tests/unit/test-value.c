/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdint.h>

#include "tap.h"
#include "util.h"
#include "value.h"

static void test_boolean(void) {
        bool b = false;
        CHECK(parse_boolean("yes", &b) == 0 && b);
        CHECK(parse_boolean("On", &b) == 0 && b);
        CHECK(parse_boolean("1", &b) == 0 && b);
        CHECK(parse_boolean("off", &b) == 0 && !b);
        CHECK(parse_boolean("false", &b) == 0 && !b);
        b = true;
        CHECK(parse_boolean("maybe", &b) == -EINVAL && b); /* untouched on failure */
}

static void test_timespan(void) {
        uint64_t u = 0;
        CHECK(parse_timespan("500ms", &u) == 0 && u == 500000);
        CHECK(parse_timespan("5s", &u) == 0 && u == 5000000);
        CHECK(parse_timespan("5", &u) == 0 && u == 5000000); /* bare number = seconds */
        CHECK(parse_timespan("1min 30s", &u) == 0 && u == 90000000);
        CHECK(parse_timespan("1min30s", &u) == 0 && u == 90000000);
        CHECK(parse_timespan("1.5s", &u) == 0 && u == 1500000);
        CHECK(parse_timespan("2h", &u) == 0 && u == 7200 * USEC_PER_SEC);
        CHECK(parse_timespan("100us", &u) == 0 && u == 100);
        CHECK(parse_timespan("infinity", &u) == 0 && u == USEC_INFINITY);
        u = 42;
        CHECK(parse_timespan("", &u) == -EINVAL && u == 42);
        CHECK(parse_timespan("5 parsecs", &u) == -EINVAL);
        CHECK(parse_timespan("-1s", &u) == -EINVAL);
        CHECK(parse_timespan("s", &u) == -EINVAL);
}

static void test_signal(void) {
        int s = 0;
        CHECK(parse_signal("SIGTERM", &s) == 0 && s == SIGTERM);
        CHECK(parse_signal("KILL", &s) == 0 && s == SIGKILL);
        CHECK(parse_signal("15", &s) == 0 && s == 15);
        CHECK(parse_signal("SIGNOPE", &s) < 0);
        CHECK(parse_signal("0", &s) < 0);
        CHECK_STR(signal_name(SIGKILL), "SIGKILL");
}

static void test_sizes(void) {
        uint64_t b = 0;
        CHECK(parse_size("64M", &b) == 0 && b == 64ull << 20);
        CHECK(parse_size("1G", &b) == 0 && b == 1ull << 30);
        CHECK(parse_size("512K", &b) == 0 && b == 512ull << 10);
        CHECK(parse_size("1.5M", &b) == 0 && b == 3ull << 19);
        CHECK(parse_size("4096", &b) == 0 && b == 4096);
        CHECK(parse_size("infinity", &b) == 0 && b == UINT64_MAX);
        b = 7;
        CHECK(parse_size("64X", &b) == -EINVAL && b == 7);
        CHECK(parse_size("-1M", &b) == -EINVAL);
        CHECK(parse_size("M", &b) == -EINVAL);
        CHECK(parse_size("64MB", &b) == -EINVAL);

        uint64_t p = 0;
        CHECK(parse_percent_basis("50%", &p) == 0 && p == 5000);
        CHECK(parse_percent_basis("250%", &p) == 0 && p == 25000);
        CHECK(parse_percent_basis("0.5%", &p) == 0 && p == 50);
        CHECK(parse_percent_basis("50", &p) == -EINVAL);
        CHECK(parse_percent_basis("%", &p) == -EINVAL);
        CHECK(parse_percent_basis("5x%", &p) == -EINVAL);
}

static void test_words(void) {
        char **w = NULL, err[128] = "";
        CHECK(parse_words("/bin/sh -c 'echo a ; echo b'", &w, err, sizeof err) == 0);
        CHECK(strv_length(w) == 3);
        CHECK_STR(w[2], "echo a ; echo b");
        strv_free(w);
        w = NULL;

        CHECK(parse_words("  a  \"b c\"   d\\ e 'f\"g' \"h\\\"i\" x\\ty ", &w, err, sizeof err) == 0);
        CHECK(strv_length(w) == 6);
        CHECK_STR(w[0], "a");
        CHECK_STR(w[1], "b c");
        CHECK_STR(w[2], "d e");
        CHECK_STR(w[3], "f\"g");
        CHECK_STR(w[4], "h\"i");
        CHECK_STR(w[5], "x\ty");
        strv_free(w);
        w = NULL;

        CHECK(parse_words("ab\"cd ef\"gh", &w, err, sizeof err) == 0 && strv_length(w) == 1);
        CHECK_STR(w ? w[0] : NULL, "abcd efgh");
        strv_free(w);
        w = NULL;

        CHECK(parse_words("echo 'unbalanced", &w, err, sizeof err) == -EINVAL && !w);
        CHECK(strstr(err, "unbalanced single quote") != NULL);
        CHECK(parse_words("   ", &w, err, sizeof err) == -EINVAL);
        CHECK(strstr(err, "empty") != NULL);
        CHECK(parse_words("a \\q", &w, err, sizeof err) == -EINVAL);
        CHECK(strstr(err, "invalid escape") != NULL);
        CHECK(parse_words("a \\", &w, err, sizeof err) == -EINVAL);
}

static void test_environment(void) {
        char **e = NULL, err[160] = "";
        CHECK(parse_environment("A=1 \"B=two words\" C=", &e, err, sizeof err) == 0);
        CHECK(strv_length(e) == 3);
        CHECK_STR(e[1], "B=two words");
        CHECK_STR(e[2], "C=");
        strv_free(e);
        e = NULL;
        CHECK(parse_environment("1A=x", &e, err, sizeof err) == -EINVAL);
        CHECK(strstr(err, "invalid environment assignment '1A=x'") != NULL);
        CHECK(parse_environment("NOEQUALS", &e, err, sizeof err) == -EINVAL);
}

static void test_format(void) {
        char b[32];
        CHECK_STR(format_timespan(b, sizeof b, 1500 * USEC_PER_MSEC), "1.500s");
        CHECK_STR(format_timespan(b, sizeof b, 90 * USEC_PER_SEC), "1min 30s");
        CHECK_STR(format_timespan(b, sizeof b, 12 * USEC_PER_MSEC), "12ms");
        CHECK_STR(format_bytes(b, sizeof b, 1536), "1.5K");
        CHECK_STR(format_bytes(b, sizeof b, 100), "100B");
        CHECK_STR(format_bytes(b, sizeof b, 0), "0B");
        CHECK_STR(format_bytes(b, sizeof b, 1023), "1023B");
        CHECK_STR(format_bytes(b, sizeof b, 1024), "1.0K");
        CHECK_STR(format_bytes(b, sizeof b, 1126), "1.1K");    /* 1.0996 rounds up */
        CHECK_STR(format_bytes(b, sizeof b, 1048575), "1.0M"); /* not "1024.0K" */
        CHECK_STR(format_bytes(b, sizeof b, 48 * 1048576 + 1), "48.0M");
        CHECK_STR(format_bytes(b, sizeof b, 3ull << 30), "3.0G");
        CHECK_STR(format_bytes(b, sizeof b, UINT64_MAX), "16777216.0T"); /* T is the largest */
        /* Built without printf (status formats two per row): the same text as printf's. */
        CHECK_STR(format_timespan(b, sizeof b, USEC_INFINITY), "infinity");
        CHECK_STR(format_timespan(b, sizeof b, 0), "0ms");
        CHECK_STR(format_timespan(b, sizeof b, 1 * USEC_PER_SEC + 5 * USEC_PER_MSEC), "1.005s");
        CHECK_STR(format_timespan(b, sizeof b, 7322 * USEC_PER_SEC), "2h 2min");
        CHECK_STR(format_timespan(b, sizeof b, 3 * 86400 * USEC_PER_SEC + 7322 * USEC_PER_SEC), "3d 2h");
        CHECK_STR(format_timespan(b, 4, 90 * USEC_PER_SEC), "1mi"); /* cut to fit, terminated */
        CHECK_STR(format_bytes(b, 3, 1536), "1.");
        for (uint64_t v = 1; v < (uint64_t) 1 << 62; v = v * 3 + 7) {
                char want[64];
                uint64_t s = v / USEC_PER_SEC;
                if (s >= 86400)
                        snprintf(want, sizeof want, "%llud %lluh", (unsigned long long) (s / 86400),
                                 (unsigned long long) (s % 86400 / 3600));
                else if (s >= 3600)
                        snprintf(want, sizeof want, "%lluh %llumin", (unsigned long long) (s / 3600),
                                 (unsigned long long) (s % 3600 / 60));
                else if (s >= 60)
                        snprintf(want, sizeof want, "%llumin %llus", (unsigned long long) (s / 60),
                                 (unsigned long long) (s % 60));
                else if (s >= 1)
                        snprintf(want, sizeof want, "%llu.%03llus", (unsigned long long) s,
                                 (unsigned long long) (v % USEC_PER_SEC / 1000));
                else
                        snprintf(want, sizeof want, "%llums", (unsigned long long) (v / 1000));
                CHECK_STR(format_timespan(b, sizeof b, v), want);
        }
}

int main(void) {
        test_boolean();
        test_timespan();
        test_signal();
        test_sizes();
        test_words();
        test_environment();
        test_format();
        TAP_DONE();
}
