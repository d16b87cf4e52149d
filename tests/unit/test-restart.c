/* SPDX-License-Identifier: MIT */
/* The restart policy as data: which exits restart, after how long, and when the count resets. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>

#include "restart.h"
#include "tap.h"
#include "util.h"

static RestartConfig config(RestartPolicy p) {
        return (RestartConfig){ .policy = p, .sec = UINT64_MAX, .max_delay = UINT64_MAX };
}

static void test_table(void) {
        /* clang-format off */
        static const struct { RestartPolicy p; bool clean, code, sig, spawn; } rows[] = {
                { RESTART_NO,          false, false, false, false },
                { RESTART_ON_SUCCESS,  true,  false, false, false },
                { RESTART_ON_FAILURE,  false, true,  true,  true  },
                { RESTART_ON_ABNORMAL, false, false, true,  false },
                { RESTART_ON_ABORT,    false, false, true,  false },
                { RESTART_ALWAYS,      true,  true,  true,  true  },
        };
        /* clang-format on */
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
                RestartConfig c = config(rows[i].p);
                CHECK(restart_wanted(&c, exit_classify(&c, false, false, 0), false, 0) == rows[i].clean);
                CHECK(restart_wanted(&c, exit_classify(&c, false, true, SIGTERM), true, SIGTERM) ==
                      rows[i].clean);
                CHECK(restart_wanted(&c, exit_classify(&c, false, false, 3), false, 3) == rows[i].code);
                CHECK(restart_wanted(&c, exit_classify(&c, false, true, SIGSEGV), true, SIGSEGV) ==
                      rows[i].sig);
                CHECK(restart_wanted(&c, exit_classify(&c, false, true, SIGKILL), true, SIGKILL) ==
                      rows[i].sig);
                CHECK(restart_wanted(&c, exit_classify(&c, true, false, 0), false, 0) == rows[i].spawn);
        }
}

static void test_status_sets(void) {
        RestartConfig c = config(RESTART_ON_FAILURE);
        char err[200];
        CHECK(exit_status_set_parse("3 SIGUSR1", &c.success, err, sizeof err) == 0);
        CHECK(exit_classify(&c, false, false, 3) == EXIT_CLASS_CLEAN);
        CHECK(exit_classify(&c, false, true, SIGUSR1) == EXIT_CLASS_CLEAN);
        CHECK(exit_classify(&c, false, false, 4) == EXIT_CLASS_CODE);
        CHECK(exit_status_set_parse("42 TERM", &c.prevent, err, sizeof err) == 0);
        CHECK(!restart_wanted(&c, EXIT_CLASS_CODE, false, 42));
        CHECK(restart_wanted(&c, EXIT_CLASS_CODE, false, 41));
        CHECK(exit_status_set_parse("256", &c.prevent, err, sizeof err) == -EINVAL);
        CHECK(exit_status_set_parse("SIGNOPE", &c.prevent, err, sizeof err) == -EINVAL);
}

static void test_backoff(void) {
        /* keel's default: immediate, then 100 ms growing to 30 s over 8 steps, then 30 s. */
        RestartConfig c = config(RESTART_ALWAYS);
        CHECK(restart_delay(&c, 0) == 0);
        CHECK(restart_delay(&c, 1) == RESTART_BASE_USEC);
        uint64_t prev = 0;
        bool growing = true;
        for (unsigned n = 1; n <= RESTART_STEPS + 1; n++) {
                uint64_t d = restart_delay(&c, n);
                growing = growing && d > prev;
                prev = d;
        }
        CHECK(growing);
        CHECK(restart_delay(&c, RESTART_STEPS + 1) == RESTART_MAX_USEC);
        CHECK(restart_delay(&c, 1000) == RESTART_MAX_USEC);
        /* each step multiplies by the same factor: (30 s / 100 ms)^(1/8) ≈ 2.04 */
        uint64_t d2 = restart_delay(&c, 2), d3 = restart_delay(&c, 3);
        CHECK(d2 > 200000 && d2 < 210000 && d3 > 410000 && d3 < 425000);

        /* RestartSec= alone: systemd's constant delay. */
        c.sec = 2 * USEC_PER_SEC;
        CHECK(restart_delay(&c, 0) == 2 * USEC_PER_SEC && restart_delay(&c, 50) == 2 * USEC_PER_SEC);
        /* With RestartSteps= and RestartMaxDelaySec=: 2 s → 32 s in 4 steps, doubling. */
        c.steps = 4;
        c.max_delay = 32 * USEC_PER_SEC;
        CHECK(restart_delay(&c, 0) == 2 * USEC_PER_SEC);
        CHECK(restart_delay(&c, 1) == 4 * USEC_PER_SEC);
        CHECK(restart_delay(&c, 4) == 32 * USEC_PER_SEC && restart_delay(&c, 9) == 32 * USEC_PER_SEC);
}

static void test_reset(void) {
        RestartConfig c = config(RESTART_ALWAYS);
        CHECK(!restart_resets(&c, 5 * USEC_PER_SEC));
        CHECK(restart_resets(&c, RESTART_MAX_USEC));
        c.sec = USEC_PER_SEC; /* constant delay: 10 s of uptime is enough */
        CHECK(restart_resets(&c, RESTART_RESET_USEC) && !restart_resets(&c, RESTART_RESET_USEC - 1));
}

int main(void) {
        test_table();
        test_status_sets();
        test_backoff();
        test_reset();
        TAP_DONE();
}
