/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* What the unit file says; the runtime state lives in Unit (manager.h). */

typedef enum RestartPolicy {
        RESTART_NO,
        RESTART_ON_FAILURE,
        RESTART_ALWAYS,
        _RESTART_MAX,
} RestartPolicy;

typedef struct UnitConfig {
        char *description;
        char *rootfs;               /* [Container] Rootfs=: absolute path of the read-only lower layer */
        char **exec;                /* [Container] Exec=: argv, already split with systemd's quoting */
        char **environment;         /* [Container] Environment=: NAME=value, accumulated */
        char *hostname;             /* [Container] HostName=: defaults to the unit name */
        RestartPolicy restart;      /* [Service] Restart= */
        uint64_t restart_usec;      /* [Service] RestartSec= */
        int kill_signal;            /* [Service] KillSignal= */
        uint64_t timeout_stop_usec; /* [Service] TimeoutStopSec= */
        uint64_t memory_max;        /* [Service] MemoryMax=, bytes; UINT64_MAX: no limit */
        uint64_t tasks_max;         /* [Service] TasksMax=; UINT64_MAX: no limit */
        uint64_t cpu_quota;         /* [Service] CPUQuota=, hundredths of a percent; 0: none */
        uint64_t caps_add;          /* [Container] AddCapability=, a mask */
        uint64_t caps_drop;         /* [Container] DropCapability=, a mask (ALL: every bit) */
        bool no_new_privileges;     /* [Container] NoNewPrivileges= (default yes) */
        bool read_only;             /* [Container] ReadOnly= */
        char *working_dir;          /* [Container] WorkingDir= (default /) */
} UnitConfig;

/* Caps so that no file can exhaust PID 1. */
#define UNIT_FILE_MAX (64u * 1024u)
#define UNIT_LINE_MAX 4096u
#define UNIT_KEYS_MAX 512u
#define UNIT_LIST_MAX 256u /* values of one repeatable key */

#define UNIT_DEFAULT_RESTART_USEC      (1 * 1000000ull)
#define UNIT_DEFAULT_TIMEOUT_STOP_USEC (10 * 1000000ull)

/* Parses path into a new config. Always returns the config it could build (or NULL on ENOMEM
 * or an unreadable file) and every problem as "path:line: message" in ret_errors: a unit with
 * any error is invalid and must not start — never half-applied. */
int unit_file_load(const char *path, const char *name, UnitConfig **ret, char ***ret_errors);
UnitConfig *unit_config_free(UnitConfig *c);
const char *restart_policy_to_string(RestartPolicy p);
