/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "restart.h"
#include "spec.h"

/* What the unit file says; the runtime state lives in Unit (manager.h). */

typedef enum UserNSMode {
        USERNS_HOST, /* the host's user namespace: container root is root */
        USERNS_AUTO, /* a private range of host ids per unit; container root is unprivileged */
        _USERNS_MAX,
} UserNSMode;

typedef enum NetworkMode {
        NETWORK_BRIDGE, /* a namespace of its own, eth0 on the keel0 bridge (the default: 0) */
        NETWORK_NONE,   /* a network namespace of its own with only lo */
        NETWORK_HOST,   /* the machine's network namespace */
        _NETWORK_MAX,
} NetworkMode;

/* Named volumes: writable by the containers that mount them, so never trusted as a path. */
#define VOLUMES_DIR "/var/lib/keel/volumes"

/* Volume=, Mount=, Tmpfs=: source NULL means a tmpfs. */
typedef struct UnitMount {
        char *source;
        char *destination;
        bool readonly;
        bool named; /* a named volume under /var/lib/keel/volumes, created on first use */
        unsigned long flags;
        char *options;
} UnitMount;
#define UNIT_MOUNTS_MAX 64u

typedef struct UnitMounts {
        UnitMount *v;
        size_t n;
} UnitMounts;
void unit_mounts_free(UnitMounts *m);

/* Allocated as entries come: most units set none, and a fixed array cost every unit. */
#define UNIT_RLIMITS_MAX 16u
typedef struct UnitRlimits {
        RlimitSpec *v;
        size_t n;
} UnitRlimits;

/* The networking keys of Network=bridge. Name servers are few: a fixed array. */
#define UNIT_PORTS_MAX     32u
#define UNIT_DNS_MAX       8u
#define UNIT_ADD_HOSTS_MAX 64u
typedef struct UnitNet {
        uint32_t ip;                   /* IP=, host order; 0: derived from the unit name */
        NetPort *ports; /* PublishPort=, owner NULL and container_addr 0 here; allocated as they come */
        size_t n_ports;
        NetHost *add_hosts; /* AddHost= */
        size_t n_add_hosts;
        uint32_t dns[UNIT_DNS_MAX]; /* DNS=; none: the machine's resolv.conf */
        size_t n_dns;
        unsigned ip_line, ports_line; /* where IP= and the first PublishPort= were, for messages */
} UnitNet;

typedef struct UnitConfig {
        char *description;
        char *rootfs;               /* [Container] Rootfs=: absolute path of the read-only lower layer */
        char **exec;                /* [Container] Exec=: argv, already split with systemd's quoting */
        char **environment;         /* [Container] Environment=: NAME=value, accumulated */
        char *hostname;             /* [Container] HostName=: defaults to the unit name */
        RestartConfig restart;      /* [Service] Restart=, RestartSec=, RestartSteps=, …, StartLimit* */
        char **after, **before;     /* [Unit] After=, Before=: unit names, without ".container" */
        char **requires, **wants;   /* [Unit] Requires=, Wants= */
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
        UnitMounts mounts;          /* [Container] Volume=, Mount=, Tmpfs=, in file order */
        char *user, *group;         /* [Container] User=, Group= */
        char **groups_add;          /* [Container] GroupAdd= */
        char **environment_files;   /* [Container] EnvironmentFile=, "-" prefix: optional */
        UnitRlimits ulimits;        /* [Container] Ulimit= (nofile 1024:1024 unless set) */
        bool run_init;              /* [Container] RunInit= */
        UserNSMode userns;          /* [Container] UserNS= */
        NetworkMode network;        /* [Container] Network= (default bridge) */
        UnitNet net;                /* [Container] IP=, PublishPort=, AddHost=, DNS= */
        char *seccomp_profile;      /* [Container] SeccompProfile=: NULL/"default", "unconfined", a path */
        uint64_t memory_high;       /* [Service] MemoryHigh=; UINT64_MAX: none */
        uint64_t memory_swap_max;   /* [Service] MemorySwapMax=; UINT64_MAX: none */
        uint64_t cpu_weight;        /* [Service] CPUWeight=; 0: default */
        uint64_t io_weight;         /* [Service] IOWeight=; 0: default */
        char *allowed_cpus;         /* [Service] AllowedCPUs= */
} UnitConfig;

/* Caps so that no file can exhaust PID 1. */
#define UNIT_FILE_MAX (64u * 1024u)
#define UNIT_LINE_MAX 4096u
#define UNIT_KEYS_MAX 512u
#define UNIT_LIST_MAX 256u /* values of one repeatable key */

#define UNIT_DEFAULT_TIMEOUT_STOP_USEC (10 * 1000000ull)

/* Parses path into a new config. Always returns the config it could build (or NULL on ENOMEM
 * or an unreadable file) and every problem as "path:line: message" in ret_errors: a unit with
 * any error is invalid and must not start — never half-applied. */
int unit_file_load(const char *path, const char *name, UnitConfig **ret, char ***ret_errors);
UnitConfig *unit_config_free(UnitConfig *c);
const char *network_mode_to_string(NetworkMode m);
