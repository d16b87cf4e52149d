/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * A container spec, shaped after the OCI runtime-spec (process, root, hostname, mounts,
 * linux.namespaces, linux.cgroupsPath) so that a config.json front end can fill it later.
 * The runtime knows nothing of units: the supervisor fills this in.
 */
/* OCI mounts[]: a bind of a host path, or a tmpfs, at a destination resolved inside the
 * container's root (a symlink in the image can never move it outside). */
typedef struct MountSpec {
        const char *source;      /* host path; NULL for a tmpfs */
        const char *destination; /* absolute, inside the container */
        bool readonly;
        unsigned long flags; /* MS_NOSUID, MS_NODEV, MS_NOEXEC */
        const char *options; /* tmpfs data, e.g. "size=64m,mode=1777"; NULL: defaults */
} MountSpec;

/* OCI process.rlimits[]. */
typedef struct RlimitSpec {
        int resource; /* RLIMIT_* */
        uint64_t soft, hard;
} RlimitSpec;

typedef struct SeccompProgram SeccompProgram;

/*
 * A container spec, shaped after the OCI runtime-spec (process, root, hostname, mounts,
 * linux.namespaces, linux.uidMappings, linux.resources, linux.seccomp, linux.cgroupsPath) so
 * that a config.json front end can fill it later. The runtime knows nothing of units: the
 * supervisor fills this in.
 */
typedef struct ContainerSpec {
        const char *name; /* for messages and process names */

        struct {
                char *const *args; /* argv; args[0] is resolved in the container's PATH */
                char *const *env;
                const char *cwd;   /* default "/"; must resolve inside the rootfs */
                const char *user;  /* name or number, looked up in the container's /etc/passwd; NULL: 0 */
                const char *group; /* name or number; NULL: the user's primary group */
                char *const *extra_groups; /* names or numbers added to the user's groups */
                const RlimitSpec *rlimits;
                size_t n_rlimits;
                /* A reaper (keel-init --init) runs as the container's PID 1 and runs args as
                 * its child. It is the caller's own binary (/proc/self/exe), executed from a
                 * sealed memfd copy: nothing in the container can reach the host's file. */
                bool init;
        } process;

        struct {
                const char *path; /* read-only lower layer; an overlay with a tmpfs upper goes on top */
                bool readonly; /* the overlay root is remounted read-only; /tmp, /var/tmp, /run get a tmpfs
                                */
        } root;

        const MountSpec *mounts;
        size_t n_mounts;
        /* Host directories that containers can write (named volumes, read-write bind sources),
         * NULL-terminated, parents before children: no bind source is resolved through a
         * symlink at or below one of them. NULL: none. */
        const char *const *untrusted_dirs;

        const char *hostname;
        uint64_t capabilities; /* bounding = permitted = effective; inheritable, ambient empty */
        bool no_new_privileges;
        const SeccompProgram *seccomp; /* compiled by the caller once; NULL: unconfined */
        unsigned long namespaces;      /* CLONE_NEW*; CLONE_NEWUSER means the mapping below */
        struct {
                uint32_t host_uid, host_gid, count; /* container 0..count-1 → host base.. */
        } userns;
        const char *cgroup_path; /* absolute, under /sys/fs/cgroup; NULL: stay in the caller's */
        int devices_program;     /* a loaded BPF device program attached to the cgroup; -1: none */
        struct {
                uint64_t memory_max;                  /* memory.max in bytes; UINT64_MAX: not set */
                uint64_t memory_high;                 /* memory.high */
                uint64_t memory_swap_max;             /* memory.swap.max */
                uint64_t pids_max;                    /* pids.max; UINT64_MAX: not set */
                uint64_t cpu_quota_us, cpu_period_us; /* cpu.max; quota 0: not set */
                uint64_t cpu_weight;                  /* cpu.weight 1..10000; 0: not set */
                uint64_t io_weight;                   /* io.weight 1..10000; 0: not set */
                const char *cpuset_cpus;              /* cpuset.cpus; NULL: not set */
        } resources;           /* OCI linux.resources, written before the child is born */
        const char *state_dir; /* an empty directory the runtime may mount on (e.g. /run/keel/NAME) */
        struct {
                /* The caller configures the container's network namespace from outside (a veth
                 * pair, addresses, routes) after runtime_spawn() returns: the child waits at its
                 * network stage until runtime_release(), so the command never runs before eth0
                 * is ready. */
                bool wait_for_parent;
                /* A host directory holding "hosts" and "resolv.conf", which the caller replaces
                 * atomically (rename) while the container runs: bound read-only at
                 * RUNTIME_NET_DIR, with /etc/hosts and /etc/resolv.conf made symlinks into it
                 * in the overlay's upper layer. NULL: the image's own files. */
                const char *files_dir;
        } network;
        int stdio[3]; /* fds for 0, 1, 2; -1 is /dev/null */
} ContainerSpec;

/* Setup stages the child reports on failure, in the order it runs them. */
typedef enum SpawnStage {
        STAGE_CLONE,
        STAGE_CGROUP,
        STAGE_SIGNALS,
        STAGE_MOUNT_PRIVATE,
        STAGE_ROOTFS,
        STAGE_OVERLAY,
        STAGE_PROC,
        STAGE_SYS,
        STAGE_DEV,
        STAGE_MOUNTS,
        STAGE_INIT,
        STAGE_PIVOT_ROOT,
        STAGE_HOSTNAME,
        STAGE_NETWORK,
        STAGE_USERNS,
        STAGE_STDIO,
        STAGE_USER,
        STAGE_RLIMITS,
        STAGE_CWD,
        STAGE_SECCOMP,
        STAGE_CAPS,
        STAGE_EXEC,
        _STAGE_MAX,
} SpawnStage;

const char *spawn_stage_to_string(SpawnStage s);

/* Docker's 14 default capabilities (runtime/caps.c). */
extern const uint64_t CAPS_DEFAULT;

/* What a failed child sends before it exits. */
typedef struct SpawnError {
        int32_t stage; /* SpawnStage */
        int32_t error; /* positive errno */
        char message[480];
} SpawnError;

typedef struct ContainerProcess {
        pid_t pid;
        int pidfd;
        /* SEQPACKET, CLOEXEC in the child: EOF with no message means execve() succeeded; a
         * SpawnError means the named stage failed. Non-blocking: poll it from an event loop. */
        int status_fd;
} ContainerProcess;

/* Every limit unset, no device program, stdio on /dev/null: fill in the rest. */
void runtime_spec_init(ContainerSpec *spec);

/* Starts the container; returns once the child exists (not once it has exec'd). On -errno
 * the message in err says which step failed and nothing is left behind. */
int runtime_spawn(const ContainerSpec *spec, ContainerProcess *ret, SpawnError *err);

/* wait_for_parent: lets the child go on past its network stage (one byte on the status
 * socket). Returns 0 or -errno (the child is gone). */
int runtime_release(const ContainerProcess *p);
/* Kills a spawned child that must not go on (SIGKILL through its pidfd); the caller reaps it
 * as any other child and may still read its report from the status socket. */
void runtime_abort(const ContainerProcess *p);

/* Reads the child's report. Returns 0 at EOF (exec'd, or died without a word), 1 with *err
 * filled, -EAGAIN when nothing has arrived yet. */
int runtime_read_status(int status_fd, SpawnError *err);

/* cgroup helpers for the supervisor. */
int runtime_cgroup_create(const char *path);
int runtime_cgroup_kill(const char *path);   /* cgroup.kill: every process, at once */
int runtime_cgroup_remove(const char *path); /* rmdir, after the last process is gone */
int runtime_cgroup_read_u64(const char *path, const char *attr, uint64_t *ret);
/* An attribute kept open and read again with pread() at offset 0, which makes cgroupfs render
 * it anew: one system call instead of a path walk, a read and a close (~7× less, measured). */
int runtime_cgroup_open_attr(const char *path, const char *attr); /* fd, or negative errno */
int runtime_cgroup_pread_u64(int fd, uint64_t *ret);
/* A "key value" line of a flat-keyed file such as memory.events ("oom_kill 1"). */
int runtime_cgroup_apply(const ContainerSpec *spec, char *err, size_t errlen);
int runtime_cgroup_read_key(const char *path, const char *attr, const char *key, uint64_t *ret);
