/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "logs.h"
#include "loop.h"
#include "outq.h"
#include "seccomp-program.h"
#include "unit-file.h"

/* A unit's life. Every change goes through the transition table in manager.c. */
typedef enum UnitState {
        UNIT_INVALID,    /* the file has errors: never started, shown with its errors */
        UNIT_INACTIVE,   /* not running and nothing pending: never started, stopped, or exited cleanly */
        UNIT_WAITING,    /* asked to start; waits for the units it is ordered after (After=, Before=) */
        UNIT_STARTING,   /* spawned; the child is setting up, no exec yet */
        UNIT_RUNNING,    /* the container's command has been exec'd */
        UNIT_STOPPING,   /* KillSignal sent; waiting for the exit, or TimeoutStopSec, then SIGKILL */
        UNIT_RESTARTING, /* exited; the policy restarts it when RestartSec has passed */
        UNIT_FAILED,     /* exited or could not spawn, and the policy does not restart it */
        _UNIT_STATE_MAX,
} UnitState;

typedef enum UnitEvent {
        EV_START, /* boot, or `initctl start` */
        EV_STOP,  /* `initctl stop`, or shutdown */
        EV_EXEC,  /* the status socket closed with no error: the command runs */
        EV_EXIT,  /* the main process was reaped */
        EV_TIMER, /* RestartSec or TimeoutStopSec elapsed */
        EV_DEPS,  /* a unit changed state: check what a waiting unit waits for */
        _UNIT_EVENT_MAX,
} UnitEvent;

typedef enum ExitKind {
        EXIT_CLEAN,  /* code 0 */
        EXIT_CODE,   /* non-zero code */
        EXIT_SIGNAL, /* killed by a signal */
        EXIT_SPAWN,  /* never reached exec: a setup stage failed */
        _EXIT_KIND_MAX,
} ExitKind;

typedef struct ExitInfo {
        uint64_t when; /* now_usec(); 0 = none yet */
        ExitKind kind;
        int code;          /* exit code, or signal number for EXIT_SIGNAL */
        bool oom;      /* the OOM killer fired in the unit's cgroup (memory.events oom_kill) */
        char *message; /* the failing stage's report for EXIT_SPAWN; the unit owns it */
} ExitInfo;

/* One past exit, kept compact: the message only for spawn failures. */
typedef struct ExitRecord {
        uint64_t when;   /* CLOCK_REALTIME, for people; 0 = empty slot */
        uint64_t uptime; /* how long that run lasted; 0 for a failed spawn */
        ExitKind kind;
        int code;
        bool oom;
        char *message;
} ExitRecord;
#define UNIT_EXIT_HISTORY    16u
#define UNIT_START_LIMIT_MAX 64u

typedef struct Manager Manager;

typedef struct Unit Unit;
struct Unit {
        Manager *manager;
        char *name;
        char *path;
        UnitConfig *config;    /* NULL when the file could not be read */
        char **errors;         /* non-empty: invalid */
        char **reload_errors;  /* the edited file's errors; the unit runs its previous version */
        uint64_t content_hash; /* of the file it was loaded from, to see edits at reload */
        bool removed;          /* its file is gone: stopped, then freed */
        bool reload_restart;   /* reload: (re)start it once dependencies are resolved */

        UnitState state;
        uint64_t state_since;
        pid_t pid;
        int pidfd;
        LoopSource status; /* the spawn status socket while STARTING */
        LoopSource output; /* read end of the stdout/stderr pipe */
        int output_wfd;       /* the containers' end, kept while the unit may run again */
        char *line;           /* a partial output line (LOG_LINE_MAX bytes), only while there is one */
        size_t line_len;
        uint64_t dropped; /* output bytes the console could not take */
        LoopTimer timer;
        unsigned restarts;
        uint64_t exec_at; /* when the command was exec'd */
        char *spawn_error; /* the failing stage's report for this start; NULL: none */
        bool restart_after_stop;
        ExitInfo last_exit;
        char *cgroup_path;
        int memory_fd; /* its cgroup's memory.current while it runs: status reads it per row */
        char *state_dir;
        SeccompProgram seccomp; /* compiled once at load; empty: unconfined */
        bool seccomp_shared;    /* seccomp points into the manager's cache: not ours to free */
        LogRing *logs;          /* its recent output; allocated as lines come */
        LogFile *logfile;       /* /var/lib/keel/log/NAME when the data disk is there */
        bool logfile_failed;    /* could not be opened: said once, not tried again */
        /* Dependencies, resolved at load: NULL entries name units that do not exist. */
        struct Unit **after; /* started only once these are up (After=, and their Before=) */
        size_t n_after;
        char **requires_missing; /* Requires= names with no unit */
        struct Unit **requires;  /* must not be invalid or failed; started along */
        size_t n_requires;
        struct Unit **wants; /* started along */
        size_t n_wants;
        char *waiting_for; /* why it is WAITING, or why it could not start; NULL: neither */
        bool stop_pending;     /* shutdown: stops once the units ordered after it are down */
        /* Restart bookkeeping (restart.c) and what happened before. */
        unsigned consecutive;  /* restarts since the last run that lasted */
        uint64_t next_restart; /* when RESTARTING */
        uint64_t *starts;      /* ring of UNIT_START_LIMIT_MAX start times, only with StartLimitBurst= */
        unsigned n_starts;
        ExitRecord *history; /* ring of UNIT_EXIT_HISTORY, newest at history_head - 1; from the first exit */
        unsigned history_head, n_history;
        unsigned userns_slot; /* UserNS=auto: which host id range is this unit's */
        /* Network=bridge (unit-net.c): the address is assigned at load and kept across restarts
         * and reloads; 0 until then, or when the unit's IP= or PublishPort= conflicts. */
        uint32_t net_addr;
        char veth[NET_IFNAME_MAX]; /* the host end while the container runs; "" otherwise */
        bool net_ports_live;       /* its PublishPort= rules are in the nft table */
        char *net_dir;             /* its hosts and resolv.conf, once made */
};

/* The default seccomp filter for one capability set, compiled once and shared by every unit
 * with that set: at ~12 KiB a copy per unit would be most of PID 1's memory. */
typedef struct SeccompCache {
        uint64_t caps;
        SeccompProgram prog;
} SeccompCache;

typedef struct ManagerConfig {
        const char *cgroup_root;    /* e.g. /sys/fs/cgroup/keel; NULL: no cgroups (host tests) */
        const char *state_root;     /* e.g. /run/keel */
        int output_fd;              /* where container output lines go (non-blocking console) */
        uint64_t boot_timeout_usec; /* boot declares itself settled after this even if a unit hangs in setup
                                     */
        void (*on_settled)(Manager *m);     /* boot: no unit is STARTING any more */
        void (*on_all_stopped)(Manager *m); /* shutdown: every unit is down */
        const char *log_dir;                /* persistent logs; NULL: in memory only */
        bool logs_clean;                    /* log_dir was left by a clean shutdown: nothing to repair */
        void (*on_log)(Unit *u);            /* a line was added to u->logs */
        void (*on_forget)(Unit *u);         /* u is about to be freed (reload removed it) */
        void (*on_state)(Unit *u);          /* u changed state */
} ManagerConfig;

/* Network=bridge, as PID 1 set it up at boot (init/network.c). */
typedef struct ManagerNet {
        bool enabled;                     /* the bridge is up: bridged units may start */
        char why[256];                    /* why not, for their spawn error */
        NetCidr bridge;                   /* its address (the containers' gateway) and prefix */
        char bridge_name[NET_IFNAME_MAX]; /* keel0 */
        char uplink[NET_IFNAME_MAX];      /* egress interface; "": none known */
        uint32_t uplink_addr;             /* its address, for hairpin rules; 0: none yet */
        unsigned mtu;                     /* the uplink's, for the veths; 0: the kernel's default */
        const char *files_root;           /* per-unit hosts and resolv.conf: /run/keel-net/UNIT */
        const char *machine_resolv;       /* the machine's resolv.conf, for units without DNS= */
        struct nl_sock *sk;               /* NETLINK_ROUTE in PID 1's namespace, opened on first use */
} ManagerNet;

struct Manager {
        ManagerConfig cfg;
        OutQueue output; /* container output on its way to cfg.output_fd */
        bool output_queued;
        Unit **units;
        size_t n_units;
        bool booting;
        LoopTimer boot_timer; /* a unit stuck in setup must not hold back the shell for ever */
        bool shutting_down;
        char **unit_dirs;            /* where manager_load() found the units, for reload */
        bool kick;                   /* something changed: run the dependency pass */
        bool kicking;                /* re-entrancy guard of the dependency pass */
        int devices_program;         /* the BPF device program, loaded at the first start; -1: not yet */
        SeccompCache *seccomp_cache; /* never freed: one entry per distinct capability set */
        size_t n_seccomp_cache;
        ManagerNet net;
        /* Starts are paced (manager.c, "turns"): a few per turn of the loop, the rest stay
         * WAITING until start_timer, due at once, lets the loop serve its fds first. */
        unsigned turn_starts; /* units spawned in this turn */
        uint64_t turn_start;  /* when the first of them was */
        LoopTimer start_timer;
};

Manager *manager_new(const ManagerConfig *cfg);
/* Loads every *.container in dirs (later dirs replace same-named units of earlier ones),
 * reports invalid units with their file:line errors, and returns how many are valid. */
int manager_load(Manager *m, const char *const *dirs);
void manager_start_all(Manager *m);
void manager_stop_all(Manager *m);
/* Closes the units' log files on the data disk, so that it can be unmounted. */
void manager_close_logs(Manager *m);
Unit *manager_find(Manager *m, const char *name);
int manager_start_unit(Manager *m, Unit *u);
int manager_stop_unit(Manager *m, Unit *u);
int manager_restart_unit(Manager *m, Unit *u);
/* The loop begins a turn: units may be spawned again (a few, see manager.c). */
void manager_turn_begin(Manager *m);
/* Called for every reaped child; returns true when it was a unit's main process. */
bool manager_child_exited(Manager *m, const siginfo_t *si);

const char *unit_state_to_string(UnitState s);
/* "exited with code 1", "killed by SIGKILL", "spawn failed: …" */
char *exit_info_describe(const ExitInfo *e, char *buf, size_t len);
/* memory.current of the unit's cgroup; -ENODATA when it is not running. */
int unit_memory_current(Unit *u, uint64_t *ret);
/* The i-th most recent exit (0 = newest), or NULL. */
const ExitRecord *unit_exit_history(const Unit *u, unsigned i);
char *exit_record_describe(const ExitRecord *e, char *buf, size_t len);
