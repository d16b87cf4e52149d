/* SPDX-License-Identifier: MIT */
/*
 * Restart policy as data. systemd's policies and names (Restart=, RestartSec=, RestartSteps=,
 * RestartMaxDelaySec=, StartLimit*, SuccessExitStatus=, RestartPreventExitStatus=), with
 * defaults chosen for containers rather than for system services:
 *
 *   - The first restart after a crash is immediate: most crashes are one-offs.
 *   - Then the delay grows exponentially, 100 ms → 30 s over 8 restarts, so a crash loop costs
 *     little and never hammers the machine — unlike systemd's flat 100 ms with a 5-in-10 s
 *     start limit that leaves a fast-crashing container stuck "failed" for ever, or Talos'
 *     and Bottlerocket's fixed 5 s / 45 s.
 *   - A run that lasts 10 s (or the longest delay) starts the count again.
 *   - No start limit by default: backoff already bounds the cost, and a container that can
 *     come back should. StartLimitBurst= turns one on; `initctl start` resets it.
 * A unit that sets RestartSec= without RestartSteps= gets exactly that delay every time, as in
 * systemd.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "macros.h"
#include "restart.h"
#include "util.h"
#include "value.h"

/* clang-format off */
static const bool restart_table[_RESTART_MAX][_EXIT_CLASS_MAX] = {
        /*                       clean  code   signal spawn */
        [RESTART_NO] =          { false, false, false, false },
        [RESTART_ON_SUCCESS] =  { true,  false, false, false },
        [RESTART_ON_FAILURE] =  { false, true,  true,  true  },
        [RESTART_ON_ABNORMAL] = { false, false, true,  false },
        [RESTART_ON_ABORT] =    { false, false, true,  false },
        [RESTART_ALWAYS] =      { true,  true,  true,  true  },
};
static const char *const policy_names[_RESTART_MAX] = {
        [RESTART_NO] = "no",                   [RESTART_ON_SUCCESS] = "on-success",
        [RESTART_ON_FAILURE] = "on-failure",   [RESTART_ON_ABNORMAL] = "on-abnormal",
        [RESTART_ON_ABORT] = "on-abort",       [RESTART_ALWAYS] = "always",
};
/* clang-format on */

const char *restart_policy_to_string(RestartPolicy p) {
        return p < _RESTART_MAX ? policy_names[p] : "?";
}

int restart_policy_from_string(const char *s) {
        for (size_t i = 0; i < _RESTART_MAX; i++)
                if (streq(s, policy_names[i]))
                        return (int) i;
        return -EINVAL;
}

bool exit_status_set_has(const ExitStatusSet *s, bool is_signal, int value) {
        if (is_signal)
                return value > 0 && value <= 64 && (s->signals & (UINT64_C(1) << (value - 1)));
        return value >= 0 && value <= 255 && (s->codes[value / 64] & (UINT64_C(1) << (value % 64)));
}

int exit_status_set_parse(const char *v, ExitStatusSet *s, char *err, size_t errlen) {
        _cleanup_strv_free_ char **words = NULL;
        int r = parse_words(v, &words, err, errlen);
        if (r < 0)
                return r;
        ExitStatusSet add = *s;
        for (char **w = words; *w; w++) {
                char *end;
                errno = 0;
                long code = strtol(*w, &end, 10);
                int sig;
                if (**w >= '0' && **w <= '9' && !*end && !errno && code >= 0 && code <= 255)
                        add.codes[code / 64] |= UINT64_C(1) << (code % 64);
                else if (parse_signal(*w, &sig) >= 0 && sig > 0 && sig <= 64 && !(**w >= '0' && **w <= '9'))
                        add.signals |= UINT64_C(1) << (sig - 1);
                else {
                        snprintf(err, errlen, "'%s' is neither an exit code (0-255) nor a signal name", *w);
                        return -EINVAL;
                }
        }
        *s = add;
        return 0;
}

ExitClass exit_classify(const RestartConfig *c, bool spawn_failed, bool is_signal, int value) {
        if (spawn_failed)
                return EXIT_CLASS_SPAWN;
        if (exit_status_set_has(&c->success, is_signal, value))
                return EXIT_CLASS_CLEAN;
        if (!is_signal)
                return value == 0 ? EXIT_CLASS_CLEAN : EXIT_CLASS_CODE;
        /* systemd's "clean" signals: what a service dies of when asked to stop. */
        if (value == SIGHUP || value == SIGINT || value == SIGTERM || value == SIGPIPE)
                return EXIT_CLASS_CLEAN;
        return EXIT_CLASS_SIGNAL;
}

bool restart_wanted(const RestartConfig *c, ExitClass cls, bool is_signal, int value) {
        if (c->policy >= _RESTART_MAX || cls >= _EXIT_CLASS_MAX)
                return false;
        if (cls != EXIT_CLASS_SPAWN && exit_status_set_has(&c->prevent, is_signal, value))
                return false;
        return restart_table[c->policy][cls];
}

uint64_t restart_delay(const RestartConfig *c, unsigned n) {
        bool defaults = c->sec == UINT64_MAX;
        unsigned steps = c->steps ? c->steps : defaults ? RESTART_STEPS : 0;
        uint64_t max = c->max_delay != UINT64_MAX ? c->max_delay : RESTART_MAX_USEC;
        uint64_t base = defaults || c->sec == 0 ? RESTART_BASE_USEC : c->sec;
        if (!defaults && steps == 0)
                return c->sec; /* systemd: the same delay every time */
        if (defaults || c->sec == 0) {
                if (n == 0)
                        return 0; /* immediate first restart */
                n--;
        }
        if (base >= max || n >= steps)
                return MAX(base, max);
        /* base · (max/base)^(n/steps): each step multiplies the delay by the same factor. */
        double d = (double) base * pow((double) max / (double) base, (double) n / (double) steps);
        return d >= (double) max ? max : (uint64_t) d;
}

bool restart_resets(const RestartConfig *c, uint64_t uptime) {
        uint64_t max = c->max_delay != UINT64_MAX ? c->max_delay : RESTART_MAX_USEC;
        bool backoff = c->sec == UINT64_MAX || c->steps > 0;
        return uptime >=
               (backoff ? MAX(RESTART_RESET_USEC, MIN(max, 5 * 60 * USEC_PER_SEC)) : RESTART_RESET_USEC);
}
