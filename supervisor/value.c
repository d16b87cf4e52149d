/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macros.h"
#include "util.h"
#include "value.h"

int parse_boolean(const char *v, bool *ret) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(v, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(v, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

/* systemd's time units; longest names first, so "ms" is not read as "m" + "s". */
/* clang-format off */
static const struct {
        const char *suffix;
        uint64_t usec;
} time_units[] = {
        { "seconds", USEC_PER_SEC },  { "second", USEC_PER_SEC },     { "minutes", 60 * USEC_PER_SEC },
        { "minute", 60 * USEC_PER_SEC }, { "months", 2629800 * USEC_PER_SEC }, { "month", 2629800 * USEC_PER_SEC },
        { "hours", 3600 * USEC_PER_SEC }, { "hour", 3600 * USEC_PER_SEC }, { "days", 86400 * USEC_PER_SEC },
        { "day", 86400 * USEC_PER_SEC }, { "weeks", 604800 * USEC_PER_SEC }, { "week", 604800 * USEC_PER_SEC },
        { "years", 31557600 * USEC_PER_SEC }, { "year", 31557600 * USEC_PER_SEC }, { "msec", USEC_PER_MSEC },
        { "usec", 1 },                { "min", 60 * USEC_PER_SEC },    { "sec", USEC_PER_SEC },
        { "hr", 3600 * USEC_PER_SEC }, { "ms", USEC_PER_MSEC },         { "us", 1 },
        { "µs", 1 },                  { "s", USEC_PER_SEC },           { "m", 60 * USEC_PER_SEC },
        { "h", 3600 * USEC_PER_SEC }, { "d", 86400 * USEC_PER_SEC },   { "w", 604800 * USEC_PER_SEC },
        { "M", 2629800 * USEC_PER_SEC }, { "y", 31557600 * USEC_PER_SEC },
};
/* clang-format on */

int parse_timespan(const char *v, uint64_t *ret_usec) {
        const char *p = v;
        while (isspace((unsigned char) *p))
                p++;
        if (streq(p, "infinity")) {
                *ret_usec = USEC_INFINITY;
                return 0;
        }
        double total = 0;
        bool any = false;
        while (*p) {
                if (!isdigit((unsigned char) *p) && *p != '.')
                        return -EINVAL;
                char *end;
                errno = 0;
                double n = strtod(p, &end);
                if (errno != 0 || end == p || n < 0)
                        return -EINVAL;
                p = end;
                while (isspace((unsigned char) *p))
                        p++;
                uint64_t mult = USEC_PER_SEC; /* a bare number is seconds */
                size_t i;
                for (i = 0; i < ELEMENTSOF(time_units); i++) {
                        size_t l = strlen(time_units[i].suffix);
                        if (strncmp(p, time_units[i].suffix, l) == 0 &&
                            (p[l] == 0 || isspace((unsigned char) p[l]) || isdigit((unsigned char) p[l])))
                                break;
                }
                if (i < ELEMENTSOF(time_units)) {
                        mult = time_units[i].usec;
                        p += strlen(time_units[i].suffix);
                } else if (*p && !isdigit((unsigned char) *p))
                        return -EINVAL;
                total += n * (double) mult;
                if (total >= (double) UINT64_MAX / 2)
                        return -ERANGE;
                any = true;
                while (isspace((unsigned char) *p))
                        p++;
        }
        if (!any)
                return -EINVAL;
        *ret_usec = (uint64_t) (total + 0.5);
        return 0;
}

int parse_signal(const char *v, int *ret) {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (*v && *end == 0 && errno == 0) {
                if (n < 1 || n >= SIGRTMIN)
                        return -ERANGE;
                *ret = (int) n;
                return 0;
        }
        const char *name = strncmp(v, "SIG", 3) == 0 ? v + 3 : v;
        for (int s = 1; s < SIGRTMIN; s++) {
                const char *abbrev = sigabbrev_np(s);
                if (abbrev && streq(abbrev, name)) {
                        *ret = s;
                        return 0;
                }
        }
        return -EINVAL;
}

int parse_size(const char *v, uint64_t *ret) {
        if (streq(v, "infinity")) {
                *ret = UINT64_MAX;
                return 0;
        }
        if (!isdigit((unsigned char) *v))
                return -EINVAL;
        char *end;
        errno = 0;
        double n = strtod(v, &end);
        if (errno != 0 || n < 0)
                return -EINVAL;
        static const char suffixes[] = "KMGT";
        double mult = 1;
        if (*end) {
                const char *at = strchr(suffixes, *end);
                if (!at || end[1] != 0)
                        return -EINVAL;
                for (const char *c = suffixes; c <= at; c++)
                        mult *= 1024;
        }
        double bytes = n * mult;
        if (bytes >= 18446744073709549568.0)
                return -ERANGE;
        *ret = (uint64_t) bytes;
        return 0;
}

int parse_percent_basis(const char *v, uint64_t *ret) {
        size_t l = strlen(v);
        if (l < 2 || v[l - 1] != '%' || !isdigit((unsigned char) v[0]))
                return -EINVAL;
        char *end;
        errno = 0;
        double n = strtod(v, &end);
        if (errno != 0 || end != v + l - 1 || n < 0 || n > 1e6)
                return -EINVAL;
        *ret = (uint64_t) (n * 100 + 0.5);
        return 0;
}

const char *signal_name(int sig) {
        /* clang-format off */
        static const char *const names[] = {
                [SIGHUP] = "SIGHUP",   [SIGINT] = "SIGINT",   [SIGQUIT] = "SIGQUIT", [SIGILL] = "SIGILL",
                [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT", [SIGBUS] = "SIGBUS",   [SIGFPE] = "SIGFPE",
                [SIGKILL] = "SIGKILL", [SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
                [SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM", [SIGTERM] = "SIGTERM", [SIGCHLD] = "SIGCHLD",
                [SIGCONT] = "SIGCONT", [SIGSTOP] = "SIGSTOP", [SIGTSTP] = "SIGTSTP", [SIGTTIN] = "SIGTTIN",
                [SIGTTOU] = "SIGTTOU", [SIGURG] = "SIGURG",   [SIGXCPU] = "SIGXCPU", [SIGXFSZ] = "SIGXFSZ",
                [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF", [SIGWINCH] = "SIGWINCH", [SIGIO] = "SIGIO",
                [SIGPWR] = "SIGPWR",   [SIGSYS] = "SIGSYS",
        };
        /* clang-format on */
        if (sig > 0 && (size_t) sig < ELEMENTSOF(names) && names[sig])
                return names[sig];
        return "SIG?";
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Decodes one C escape at p (just after the backslash) into out; returns chars consumed or -1. */
static int decode_escape(const char *p, char *out) {
        switch (*p) {
        case 'a':
                *out = '\a';
                return 1;
        case 'b':
                *out = '\b';
                return 1;
        case 'f':
                *out = '\f';
                return 1;
        case 'n':
                *out = '\n';
                return 1;
        case 'r':
                *out = '\r';
                return 1;
        case 't':
                *out = '\t';
                return 1;
        case 'v':
                *out = '\v';
                return 1;
        case 's':
                *out = ' ';
                return 1;
        case '\\':
        case '"':
        case '\'':
        case ' ':
        case '$':
        case ';':
                *out = *p;
                return 1;
        case 'x': {
                int a = unhex(p[1]), b = a >= 0 ? unhex(p[2]) : -1;
                if (a < 0 || b < 0 || (a == 0 && b == 0))
                        return -1;
                *out = (char) (a * 16 + b);
                return 3;
        }
        default:
                return -1;
        }
}

int parse_words(const char *v, char ***ret, char *err, size_t errlen) {
        _cleanup_strv_free_ char **words = NULL;
        size_t vlen = strlen(v);
        _cleanup_free_ char *buf = malloc(vlen + 1);
        if (!buf)
                return -ENOMEM;

        const char *p = v;
        for (;;) {
                while (isspace((unsigned char) *p))
                        p++;
                if (!*p)
                        break;
                size_t n = 0;
                char quote = 0;
                for (; *p; p++) {
                        if (!quote && isspace((unsigned char) *p))
                                break;
                        if (!quote && (*p == '"' || *p == '\'')) {
                                quote = *p;
                                continue;
                        }
                        if (quote && *p == quote) {
                                quote = 0;
                                continue;
                        }
                        if (*p == '\\' && quote != '\'') {
                                if (!p[1]) {
                                        snprintf(err, errlen, "trailing backslash");
                                        return -EINVAL;
                                }
                                int k = decode_escape(p + 1, &buf[n]);
                                if (k < 0) {
                                        snprintf(err, errlen, "invalid escape '\\%c'", p[1]);
                                        return -EINVAL;
                                }
                                n++;
                                p += k;
                                continue;
                        }
                        buf[n++] = *p;
                }
                if (quote) {
                        snprintf(err, errlen, "unbalanced %s quote", quote == '"' ? "double" : "single");
                        return -EINVAL;
                }
                char *w = strndup(buf, n);
                if (!w || strv_push(&words, w) < 0)
                        return -ENOMEM;
        }
        if (!words) {
                snprintf(err, errlen, "empty command");
                return -EINVAL;
        }
        *ret = TAKE_PTR(words);
        return 0;
}

bool env_name_is_valid(const char *s, size_t len) {
        if (len == 0 || isdigit((unsigned char) s[0]))
                return false;
        for (size_t i = 0; i < len; i++)
                if (!(isalnum((unsigned char) s[i]) || s[i] == '_'))
                        return false;
        return true;
}

int parse_environment(const char *v, char ***ret, char *err, size_t errlen) {
        _cleanup_strv_free_ char **words = NULL;
        int r = parse_words(v, &words, err, errlen);
        if (r < 0) {
                if (r == -EINVAL && strv_length(words) == 0 && strstr(err, "empty"))
                        snprintf(err, errlen, "empty assignment");
                return r;
        }
        for (char **w = words; *w; w++) {
                const char *eq = strchr(*w, '=');
                if (!eq || !env_name_is_valid(*w, (size_t) (eq - *w))) {
                        snprintf(err, errlen, "invalid environment assignment '%s' (want NAME=value)", *w);
                        return -EINVAL;
                }
        }
        *ret = TAKE_PTR(words);
        return 0;
}
