/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Restart policy as data (restart.c): which exits restart, after how long, and when to give up. */

typedef enum RestartPolicy {
        RESTART_NO,
        RESTART_ON_SUCCESS,  /* clean exits only */
        RESTART_ON_FAILURE,  /* non-zero code, unclean signal, failed spawn */
        RESTART_ON_ABNORMAL, /* unclean signal (no timeouts or watchdog in keel) */
        RESTART_ON_ABORT,    /* unclean signal */
        RESTART_ALWAYS,
        _RESTART_MAX,
} RestartPolicy;

/* How an exit counts, after SuccessExitStatus= is applied. */
typedef enum ExitClass {
        EXIT_CLASS_CLEAN,  /* code 0, SIGHUP/SIGINT/SIGTERM/SIGPIPE, or listed as success */
        EXIT_CLASS_CODE,   /* any other exit code */
        EXIT_CLASS_SIGNAL, /* any other signal, an OOM kill included */
        EXIT_CLASS_SPAWN,  /* a setup stage failed: never exec'd */
        _EXIT_CLASS_MAX,
} ExitClass;

/* SuccessExitStatus=, RestartPreventExitStatus=: exit codes 0–255 and signals 1–64. */
typedef struct ExitStatusSet {
        uint64_t codes[4];
        uint64_t signals;
} ExitStatusSet;

bool exit_status_set_has(const ExitStatusSet *s, bool is_signal, int value);
/* "1 2 SIGUSR1 TERM": adds to the set; -EINVAL with a reason in err. */
int exit_status_set_parse(const char *v, ExitStatusSet *s, char *err, size_t errlen);

typedef struct RestartConfig {
        RestartPolicy policy;
        uint64_t sec;          /* RestartSec=; UINT64_MAX: not set (keel's default backoff) */
        unsigned steps;        /* RestartSteps=; 0: not set */
        uint64_t max_delay;    /* RestartMaxDelaySec=; UINT64_MAX: not set */
        unsigned burst;        /* StartLimitBurst=; 0: no start limit */
        uint64_t interval;     /* StartLimitIntervalSec= */
        ExitStatusSet success; /* SuccessExitStatus= */
        ExitStatusSet prevent; /* RestartPreventExitStatus= */
} RestartConfig;

/* keel's defaults when RestartSec= is not set: the first restart is immediate, then the delay
 * grows from RESTART_BASE_USEC to RESTART_MAX_USEC over RESTART_STEPS restarts; a run that
 * lasted RESTART_RESET_USEC (or the longest delay, if longer) starts the count again. */
#define RESTART_BASE_USEC  (100 * 1000ull)
#define RESTART_MAX_USEC   (30 * 1000000ull)
#define RESTART_STEPS      8u
#define RESTART_RESET_USEC (10 * 1000000ull)

ExitClass exit_classify(const RestartConfig *c, bool spawn_failed, bool is_signal, int value);
/* Does the policy restart after this exit (RestartPreventExitStatus= applied)? */
bool restart_wanted(const RestartConfig *c, ExitClass cls, bool is_signal, int value);
/* The delay before restart number n + 1 of a run of consecutive restarts (n = 0: the first). */
uint64_t restart_delay(const RestartConfig *c, unsigned n);
/* After a run of `uptime`: does the consecutive count start again? */
bool restart_resets(const RestartConfig *c, uint64_t uptime);

const char *restart_policy_to_string(RestartPolicy p);
int restart_policy_from_string(const char *s);
