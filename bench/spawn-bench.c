/* SPDX-License-Identifier: MIT */
/*
 * keel-bench-spawn: times one kind of process start N times, inside a keel guest, so that keel's
 * runtime, crun, runc and a bare fork+exec are all measured with the same clock code.
 * bench/spawn.py drives it from the guest's console shell.
 *
 *   keel-bench-spawn [-n RUNS] [-w WARMUP] [-l LABEL] [-q] MODE [ARGS...]
 *
 *   bare [PATH]             fork + execv(PATH, default /bin/true) + wait: the floor
 *   keel [PRESET] [+F|-F]…  runtime_spawn() of /bin/true in a rootfs, set up as the supervisor
 *        [--rootfs=DIR]     sets up a unit (supervisor/unit-spec.c). PRESET "default" is what a
 *        [--cgroup-root=D]  default unit gets; "min" keeps only what the runtime always does:
 *                           pid + mount namespaces, the overlay root with /proc, /sys and /dev,
 *                           the 14 capabilities, no_new_privs, RLIMIT_NOFILE. F, a feature:
 *                             netns utsns ipcns cgroupns userns  namespaces
 *                             seccomp  the default filter, compiled once before the runs
 *                             cgroup   a cgroup per run (created in the spawn, as the
 *                                      supervisor does), born into with CLONE_INTO_CGROUP,
 *                                      with the BPF device program (loaded once) attached
 *                           default = netns utsns ipcns cgroupns seccomp cgroup
 *   mount overlay|bind      the root filesystem alone, in a forked child that unshares its
 *        [--rootfs=DIR]     mount namespace: keel's overlay (a tmpfs, upper/work, overlayfs) or
 *                           runc's read-only root (a recursive bind, remounted read-only). The
 *                           runtime always builds the overlay, so its cost is measured here.
 *   exec CMD [ARG…]         fork + execvp + wait of any command (crun run …, runc run …)
 *   seccomp-profile         prints keel's default filter as an OCI seccomp profile (JSON),
 *                           derived by running the compiled filter, not by reading its tables
 *   seccomp-check FILE      compiles FILE as keel does and compares its verdicts with the
 *                           default filter's on every syscall number of the three x86 ABIs
 *
 * One line per run on stdout, times in microseconds of CLOCK_MONOTONIC:
 *
 *   bench LABEL RUN exec=US exit=US rm=US rc=STATUS
 *
 * exec: start of the spawn → execve() succeeded (EOF on a CLOEXEC fd); exit: start → the
 * process has exited (pidfd readable, or waitid() returned); rm: removing the run's cgroup
 * afterwards, not part of exit ("-" when there is none); rc: the exit status, 128+N for
 * signal N. -w runs WARMUP more first, unprinted: the first spawn of a process pays for page
 * faults a long-running supervisor paid long ago. -q prints nothing (a keel run timed from
 * outside, as a command). A failed run prints why on stderr and ends the program with
 * status 1.
 */
#include <fcntl.h>
#include <getopt.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "devices.h"
#include "macros.h"
#include "seccomp-program.h"
#include "spec.h"
#include "unit-spec.h"
#include "util.h"

#define DEFAULT_ROOTFS      "/usr/share/keel/rootfs/busybox"
#define DEFAULT_CGROUP_ROOT "/sys/fs/cgroup/keel"
#define STATE_ROOT          "/run/keel-bench"

#ifndef P_PIDFD /* glibc < 2.36 */
#define P_PIDFD 3
#endif

typedef struct Timing {
        uint64_t exec_ns, exit_ns, rm_ns;
        bool has_exec, has_rm;
        int status;
} Timing;

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Blocks until fd is readable or hung up. */
static int wait_fd(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        for (;;) {
                int r = poll(&p, 1, -1);
                if (r > 0)
                        return 0;
                if (r < 0 && errno != EINTR)
                        return negative_errno();
        }
}

static int reap(idtype_t type, id_t id, int *ret_status) {
        siginfo_t si = { 0 };
        while (waitid(type, id, &si, WEXITED) < 0)
                if (errno != EINTR)
                        return negative_errno();
        *ret_status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
        return 0;
}

static bool quiet;
static unsigned warmup;

static void print_timing(const char *label, unsigned run, const Timing *t) {
        char exec[24] = "-", rm[24] = "-";
        if (quiet || run <= warmup)
                return;
        run -= warmup;
        if (t->has_exec)
                snprintf(exec, sizeof exec, "%llu", (unsigned long long) (t->exec_ns / 1000));
        if (t->has_rm)
                snprintf(rm, sizeof rm, "%llu", (unsigned long long) (t->rm_ns / 1000));
        printf("bench %s %u exec=%s exit=%llu rm=%s rc=%d\n", label, run, exec,
               (unsigned long long) (t->exit_ns / 1000), rm, t->status);
        fflush(stdout); /* a run that fails later must not lose the lines before it */
}

/* ---- bare and exec: fork + exec + wait ------------------------------------------------------- */

/* The child writes its errno on a CLOEXEC pipe if execve() fails; EOF means it succeeded. */
static int command_once(char *const *argv, bool search, Timing *t) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        uint64_t t0 = now_ns();
        pid_t pid = fork();
        if (pid == 0) {
                close(p[0]);
                if (search)
                        execvp(argv[0], argv);
                else
                        execv(argv[0], argv);
                int e = errno;
                (void) !write(p[1], &e, sizeof e);
                _exit(127);
        }
        int e = errno;
        close(p[1]);
        if (pid < 0) {
                close(p[0]);
                return -e;
        }
        int child_errno = 0;
        ssize_t n;
        while ((n = read(p[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR)
                ;
        t->exec_ns = now_ns() - t0;
        t->has_exec = true;
        close(p[0]);
        int r = reap(P_PID, (id_t) pid, &t->status);
        t->exit_ns = now_ns() - t0;
        if (r < 0)
                return r;
        if (n == sizeof child_errno) {
                fprintf(stderr, "keel-bench-spawn: exec %s: %s\n", argv[0], strerror(child_errno));
                return -child_errno;
        }
        return 0;
}

/* ---- keel: runtime_spawn() -------------------------------------------------------------------- */

typedef enum Feature {
        F_NETNS,
        F_UTSNS,
        F_IPCNS,
        F_CGROUPNS,
        F_USERNS,
        F_SECCOMP,
        F_CGROUP,
        _F_MAX,
} Feature;

static const char *const feature_names[_F_MAX] = {
        [F_NETNS] = "netns",   [F_UTSNS] = "utsns",     [F_IPCNS] = "ipcns",   [F_CGROUPNS] = "cgroupns",
        [F_USERNS] = "userns", [F_SECCOMP] = "seccomp", [F_CGROUP] = "cgroup",
};

#define FEATURE(f) (1u << (f))
#define FEATURES_DEFAULT                                                                                    \
        (FEATURE(F_NETNS) | FEATURE(F_UTSNS) | FEATURE(F_IPCNS) | FEATURE(F_CGROUPNS) |                     \
         FEATURE(F_SECCOMP) | FEATURE(F_CGROUP))

typedef struct KeelBench {
        ContainerSpec spec;
        unsigned features;
        const char *cgroup_root;
        SeccompProgram seccomp;
        int devices_program;
        char state_dir[64];
} KeelBench;

static int keel_parse(int argc, char **argv, KeelBench *b) {
        b->features = FEATURES_DEFAULT;
        b->cgroup_root = DEFAULT_CGROUP_ROOT;
        b->spec.root.path = DEFAULT_ROOTFS;
        for (int i = 0; i < argc; i++) {
                const char *a = argv[i];
                if (streq(a, "default"))
                        b->features = FEATURES_DEFAULT;
                else if (streq(a, "min"))
                        b->features = 0;
                else if (strncmp(a, "--rootfs=", 9) == 0)
                        b->spec.root.path = a + 9;
                else if (strncmp(a, "--cgroup-root=", 14) == 0)
                        b->cgroup_root = a + 14;
                else if (a[0] == '+' || a[0] == '-') {
                        size_t f = 0;
                        while (f < _F_MAX && !streq(a + 1, feature_names[f]))
                                f++;
                        if (f == _F_MAX) {
                                fprintf(stderr, "keel-bench-spawn: unknown feature '%s'\n", a + 1);
                                return -EINVAL;
                        }
                        if (a[0] == '+')
                                b->features |= FEATURE(f);
                        else
                                b->features &= ~FEATURE(f);
                } else {
                        fprintf(stderr, "keel-bench-spawn: keel: unknown argument '%s'\n", a);
                        return -EINVAL;
                }
        }
        return 0;
}

/* What supervisor/unit-spec.c gives a default unit, trimmed to the features asked for. The
 * expensive, once-per-unit work (compiling seccomp, loading the device program) happens here,
 * before any run, as it does in the supervisor. */
static int keel_setup(KeelBench *b) {
        static char *const args[] = { "/bin/true", NULL };
        static char *const env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                     "HOME=/root",
                                     "TERM=vt100",
                                     "container=keel",
                                     "HOSTNAME=bench",
                                     NULL };
        static const RlimitSpec nofile = { .resource = RLIMIT_NOFILE, .soft = 1024, .hard = 1024 };
        ContainerSpec *s = &b->spec;
        const char *rootfs = s->root.path;
        unsigned f = b->features;

        runtime_spec_init(s);
        s->name = "bench";
        s->process.args = args;
        s->process.env = env;
        s->process.cwd = "/";
        s->process.rlimits = &nofile;
        s->process.n_rlimits = 1;
        s->root.path = rootfs;
        s->hostname = "bench";
        s->capabilities = CAPS_DEFAULT;
        s->no_new_privileges = true;
        s->namespaces = CLONE_NEWPID | CLONE_NEWNS;
        s->namespaces |=
                (f & FEATURE(F_NETNS) ? CLONE_NEWNET : 0) | (f & FEATURE(F_UTSNS) ? CLONE_NEWUTS : 0) |
                (f & FEATURE(F_IPCNS) ? CLONE_NEWIPC : 0) | (f & FEATURE(F_CGROUPNS) ? CLONE_NEWCGROUP : 0);
        if (f & FEATURE(F_USERNS)) { /* UserNS=auto's first slot */
                s->namespaces |= CLONE_NEWUSER;
                s->userns.host_uid = s->userns.host_gid = UNIT_USERNS_BASE;
                s->userns.count = UNIT_USERNS_SIZE;
        }
        snprintf(b->state_dir, sizeof b->state_dir, STATE_ROOT "/%d", (int) getpid());
        s->state_dir = b->state_dir;

        char err[512];
        if (f & FEATURE(F_SECCOMP)) {
                int r = seccomp_program_default(CAPS_DEFAULT, &b->seccomp, err, sizeof err);
                if (r < 0) {
                        fprintf(stderr, "keel-bench-spawn: %s\n", err);
                        return r;
                }
                s->seccomp = &b->seccomp;
        }
        b->devices_program = -1;
        if (f & FEATURE(F_CGROUP)) {
                b->devices_program = devices_program_load(err, sizeof err);
                if (b->devices_program < 0) {
                        fprintf(stderr, "keel-bench-spawn: device program: %s\n", err);
                        return b->devices_program;
                }
                s->devices_program = b->devices_program;
        }
        return 0;
}

/* A cgroup that just lost its last process can still be busy for a moment: retry briefly. */
static int cgroup_remove_retry(const char *path) {
        int r = 0;
        for (int i = 0; i < 200; i++) {
                if ((r = runtime_cgroup_remove(path)) != -EBUSY)
                        return r;
                nanosleep(&(struct timespec){ .tv_nsec = 500 * 1000 }, NULL);
        }
        return r;
}

static int keel_once(KeelBench *b, unsigned run, Timing *t) {
        ContainerSpec spec = b->spec;
        char cgroup[256];
        if (b->features & FEATURE(F_CGROUP)) {
                snprintf(cgroup, sizeof cgroup, "%s/bench-%d-%u", b->cgroup_root, (int) getpid(), run);
                spec.cgroup_path = cgroup;
        }

        ContainerProcess proc;
        SpawnError err = { 0 };
        uint64_t t0 = now_ns();
        int r = runtime_spawn(&spec, &proc, &err);
        if (r < 0) {
                fprintf(stderr, "keel-bench-spawn: spawn failed (%s): %s\n",
                        spawn_stage_to_string(err.stage), err.message);
                return r;
        }
        _cleanup_close_ int status_fd = proc.status_fd, pidfd = proc.pidfd;
        do
                r = wait_fd(status_fd) < 0 ? 0 : runtime_read_status(status_fd, &err);
        while (r == -EAGAIN);
        t->exec_ns = now_ns() - t0;
        t->has_exec = true;
        if (pidfd >= 0)
                (void) wait_fd(pidfd);
        int rr = pidfd >= 0 ? reap(P_PIDFD, (id_t) pidfd, &t->status)
                            : reap(P_PID, (id_t) proc.pid, &t->status);
        t->exit_ns = now_ns() - t0;
        if (r == 1)
                fprintf(stderr, "keel-bench-spawn: container failed at %s: %s\n",
                        spawn_stage_to_string(err.stage), err.message);

        if (spec.cgroup_path) {
                uint64_t t1 = now_ns();
                int e = cgroup_remove_retry(spec.cgroup_path);
                t->rm_ns = now_ns() - t1;
                t->has_rm = true;
                if (e < 0) {
                        fprintf(stderr, "keel-bench-spawn: rmdir %s: %s\n", spec.cgroup_path, strerror(-e));
                        return e;
                }
        }
        if (rr < 0)
                return rr;
        return r == 1 ? -(err.error ?: EIO) : 0;
}

/* ---- mount: the root filesystem alone ------------------------------------------------------- */

static int mount_child(bool overlay, const char *rootfs, const char *state) {
        char p[512], opts[1200];
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return errno;
        if (!overlay) /* runc's readonly root: bind, then a read-only remount */
                return mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0 ||
                                       mount(NULL, rootfs, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0
                               ? errno
                               : 0;
        /* As runtime/rootfs.c: a private tmpfs holds the upper layer, the work dir and the mount point. */
        if (mount("tmpfs", state, "tmpfs", MS_NOSUID | MS_NODEV, "mode=700") < 0)
                return errno;
        static const struct {
                const char *name;
                mode_t mode;
        } dirs[] = { { "upper", 0755 }, { "work", 0700 }, { "root", 0755 } };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                snprintf(p, sizeof p, "%s/%s", state, dirs[i].name);
                if (mkdir(p, dirs[i].mode) < 0)
                        return errno;
        }
        snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", rootfs, state, state);
        return mount("overlay", p, "overlay", 0, opts) < 0 ? errno : 0;
}

static int mount_once(bool overlay, const char *rootfs, const char *state, Timing *t) {
        uint64_t t0 = now_ns();
        pid_t pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                _exit(mount_child(overlay, rootfs, state));
        int r = reap(P_PID, (id_t) pid, &t->status);
        t->exit_ns = now_ns() - t0;
        if (r < 0)
                return r;
        if (t->status != 0) {
                fprintf(stderr, "keel-bench-spawn: %s mount: %s\n", overlay ? "overlay" : "bind",
                        t->status < 128 ? strerror(t->status) : "killed");
                return -EIO;
        }
        return 0;
}

/* ---- seccomp: keel's default filter as an OCI profile ---------------------------------------- */

/* The x86 ABIs a process on an x86-64 host can use, as the kernel labels them in seccomp_data:
 * x32 calls come with the x86-64 audit arch and bit 30 set in the number. */
static const struct {
        uint32_t scmp, audit, nr_bias;
        const char *name;
} abis[] = {
        { SCMP_ARCH_X86_64, AUDIT_ARCH_X86_64, 0, "SCMP_ARCH_X86_64" },
        { SCMP_ARCH_X86, AUDIT_ARCH_I386, 0, "SCMP_ARCH_X86" },
        { SCMP_ARCH_X32, AUDIT_ARCH_X86_64, 0x40000000, "SCMP_ARCH_X32" },
};

/* First arguments that cross every bound the default profile tests (socket families around
 * AF_ALG/AF_VSOCK, personality values, clone's namespace flags), then junk in every argument. */
static const uint64_t arg0_values[] = {
        0,           1,          2,          8,          10,         37,         38,
        39,          40,         41,         0x20000,    0x20008,    0x11,       0xffffffff,
        0x100000026, 0x10000000, 0x20000000, 0x40000000, 0x02000000, 0x04000000, 0x08000000,
        0x7E020000,  0x00020000, 0x01200011, UINT64_MAX,
};
#define N_VECTORS (ELEMENTSOF(arg0_values) + 2)

static void vector_fill(size_t v, struct seccomp_data *d) {
        for (int i = 0; i < 6; i++)
                d->args[i] = v < ELEMENTSOF(arg0_values)    ? (i == 0 ? arg0_values[v] : 0)
                             : v == ELEMENTSOF(arg0_values) ? UINT32_MAX
                                                            : UINT64_C(0x100000001);
}

/* A program the kernel would refuse kills, as it would never have been loaded. */
static uint32_t bpf_run(const SeccompProgram *p, const struct seccomp_data *d) {
        uint32_t v;
        return seccomp_program_eval(p, d, &v) == 0 ? v : SECCOMP_RET_KILL_PROCESS;
}

static uint32_t verdict(const SeccompProgram *p, size_t abi, int nr, size_t vector) {
        struct seccomp_data d = { .nr = nr, .arch = abis[abi].audit };
        vector_fill(vector, &d);
        return bpf_run(p, &d);
}

/* The syscall number an ABI gives a name, as seccomp sees it; -1 if the ABI lacks it. */
static int abi_nr(size_t abi, const char *name) {
        int nr = seccomp_syscall_resolve_name_arch(abis[abi].scmp, name);
        if (nr < 0)
                return -1;
        return (int) ((uint32_t) nr | abis[abi].nr_bias);
}

/* Syscalls whose verdict depends on their arguments, with the rules of runtime/seccomp.c's
 * add_argument_rules() for a container without CAP_SYS_ADMIN, spelt as moby spells them.
 * seccomp-check proves the translation; a rule added there fails it until added here. */
static const char *const arg_rule_names[] = { "socket", "personality", "clone" };
static const char arg_rules_json[] =
        "    {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1, \"args\": "
        "[{\"index\": 0, \"value\": 38, \"op\": \"SCMP_CMP_EQ\"}]},\n"
        "    {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1, \"args\": "
        "[{\"index\": 0, \"value\": 40, \"op\": \"SCMP_CMP_EQ\"}]},\n"
        "    {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1, \"args\": "
        "[{\"index\": 0, \"value\": 4294967295, \"op\": \"SCMP_CMP_GT\"}]},\n"
        "    {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": "
        "[{\"index\": 0, \"value\": 38, \"op\": \"SCMP_CMP_LT\"}]},\n"
        "    {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": "
        "[{\"index\": 0, \"value\": 39, \"op\": \"SCMP_CMP_EQ\"}]},\n"
        "    {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": "
        "[{\"index\": 0, \"value\": 40, \"op\": \"SCMP_CMP_GT\"}]},\n"
        "    {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": "
        "[{\"index\": 0, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"}]},\n"
        "    {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": "
        "[{\"index\": 0, \"value\": 8, \"op\": \"SCMP_CMP_EQ\"}]},\n"
        "    {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": "
        "[{\"index\": 0, \"value\": 131072, \"op\": \"SCMP_CMP_EQ\"}]},\n"
        "    {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": "
        "[{\"index\": 0, \"value\": 131080, \"op\": \"SCMP_CMP_EQ\"}]},\n"
        "    {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": "
        "[{\"index\": 0, \"value\": 4294967295, \"op\": \"SCMP_CMP_EQ\"}]},\n"
        "    {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1, \"args\": "
        "[{\"index\": 0, \"value\": 0, \"op\": \"SCMP_CMP_GE\"}]},\n"
        "    {\"names\": [\"clone\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": "
        "[{\"index\": 0, \"value\": 2114060288, \"valueTwo\": 0, \"op\": \"SCMP_CMP_MASKED_EQ\"}]}";

/* clone: EPERM for each namespace flag (CLONE_NEWNS … CLONE_NEWNET), one rule per bit. */
static const uint32_t clone_ns_bits[] = { 0x00020000, 0x02000000, 0x04000000, 0x08000000,
                                          0x10000000, 0x20000000, 0x40000000 };

static bool is_arg_rule(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(arg_rule_names); i++)
                if (streq(name, arg_rule_names[i]))
                        return true;
        return false;
}

typedef struct NameVerdict {
        char *name;
        uint32_t verdict;
} NameVerdict;

/* Every name some ABI's table knows, with the default filter's one verdict for it. */
static int classify(const SeccompProgram *p, NameVerdict **ret, size_t *ret_n) {
        size_t n = 0, cap = 2048;
        _cleanup_free_ NameVerdict *v = calloc(cap, sizeof *v);
        if (!v)
                return -ENOMEM;
        int r = 0;
        for (size_t abi = 0; abi < ELEMENTSOF(abis) && r == 0; abi++)
                for (int i = 0; i < 1024 && r == 0; i++) {
                        char *name = seccomp_syscall_resolve_num_arch(abis[abi].scmp,
                                                                      (int) (i | abis[abi].nr_bias));
                        bool seen = !name;
                        for (size_t j = 0; j < n && !seen; j++)
                                seen = streq(v[j].name, name);
                        if (seen || n == cap) {
                                r = seen ? 0 : -E2BIG;
                                free(name);
                                continue;
                        }
                        v[n].name = name;
                        bool first = true, arg = is_arg_rule(name);
                        for (size_t a = 0; a < ELEMENTSOF(abis); a++) {
                                int nr = abi_nr(a, name);
                                for (size_t vec = 0; nr >= 0 && vec < N_VECTORS; vec++) {
                                        uint32_t x = verdict(p, a, nr, vec);
                                        if (!first && x != v[n].verdict && !arg) {
                                                fprintf(stderr,
                                                        "keel-bench-spawn: %s: verdict depends on "
                                                        "its arguments or ABI; add its rules here\n",
                                                        name);
                                                r = -EINVAL;
                                        }
                                        v[n].verdict = x;
                                        first = false;
                                }
                        }
                        n++;
                }
        if (r < 0) {
                for (size_t j = 0; j < n; j++)
                        free(v[j].name);
                return r;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

/* One OCI action for a filter's return value. */
static int action_json(uint32_t v, char *buf, size_t len) {
        switch (v & SECCOMP_RET_ACTION_FULL) {
        case SECCOMP_RET_ALLOW:
                snprintf(buf, len, "\"action\": \"SCMP_ACT_ALLOW\"");
                return 0;
        case SECCOMP_RET_ERRNO:
                snprintf(buf, len, "\"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": %u", v & SECCOMP_RET_DATA);
                return 0;
        }
        return -EOPNOTSUPP;
}

static int seccomp_profile(void) {
        char err[512];
        SeccompProgram p = { 0 };
        int r = seccomp_program_default(CAPS_DEFAULT, &p, err, sizeof err);
        if (r < 0) {
                fprintf(stderr, "keel-bench-spawn: %s\n", err);
                return r;
        }
        NameVerdict *v = NULL;
        size_t n = 0;
        r = classify(&p, &v, &n);
        /* The default action: what a number no table knows gets. */
        uint32_t def = verdict(&p, 0, 1023, 0);
        seccomp_program_free(&p);
        if (r < 0)
                return r;

        char act[80];
        if ((def & SECCOMP_RET_ACTION_FULL) != SECCOMP_RET_ERRNO) {
                fprintf(stderr, "keel-bench-spawn: default action %#x is not an errno\n", def);
                return -EOPNOTSUPP;
        }
        printf("{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"defaultErrnoRet\": %u,\n",
               def & SECCOMP_RET_DATA);
        printf("  \"architectures\": [\"%s\", \"%s\", \"%s\"],\n  \"syscalls\": [\n", abis[0].name,
               abis[1].name, abis[2].name);
        /* One rule per distinct verdict, in order of first appearance; the default needs none. */
        for (size_t i = 0; i < n; i++) {
                uint32_t x = v[i].verdict;
                bool done = x == def || is_arg_rule(v[i].name);
                for (size_t j = 0; j < i && !done; j++)
                        done = v[j].verdict == x && !is_arg_rule(v[j].name);
                if (done)
                        continue;
                if (action_json(x, act, sizeof act) < 0) {
                        fprintf(stderr, "keel-bench-spawn: %s: unexpected verdict %#x\n", v[i].name, x);
                        r = -EOPNOTSUPP;
                        break;
                }
                printf("    {\"names\": [");
                const char *sep = "";
                for (size_t j = i; j < n; j++)
                        if (v[j].verdict == x && !is_arg_rule(v[j].name)) {
                                printf("%s\"%s\"", sep, v[j].name);
                                sep = ", ";
                        }
                printf("], %s},\n", act);
        }
        printf("%s", arg_rules_json);
        for (size_t i = 0; i < ELEMENTSOF(clone_ns_bits); i++)
                printf(",\n    {\"names\": [\"clone\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1, "
                       "\"args\": "
                       "[{\"index\": 0, \"value\": %u, \"valueTwo\": %u, \"op\": \"SCMP_CMP_MASKED_EQ\"}]}",
                       clone_ns_bits[i], clone_ns_bits[i]);
        printf("\n  ]\n}\n");
        for (size_t i = 0; i < n; i++)
                free(v[i].name);
        free(v);
        return r;
}

static int seccomp_check(const char *path) {
        char err[512];
        SeccompProgram want = { 0 }, got = { 0 };
        int r = seccomp_program_default(CAPS_DEFAULT, &want, err, sizeof err);
        if (r >= 0)
                r = seccomp_program_from_json(path, CAPS_DEFAULT, &got, err, sizeof err);
        if (r < 0) {
                fprintf(stderr, "keel-bench-spawn: %s\n", err);
                seccomp_program_free(&want);
                return r;
        }
        unsigned long checked = 0, differ = 0;
        for (size_t abi = 0; abi < ELEMENTSOF(abis); abi++)
                for (int i = 0; i < 1024; i++)
                        for (size_t vec = 0; vec < N_VECTORS; vec++) {
                                int nr = (int) (i | abis[abi].nr_bias);
                                uint32_t a = verdict(&want, abi, nr, vec), b = verdict(&got, abi, nr, vec);
                                checked++;
                                if (a != b && ++differ <= 10) {
                                        char *name = seccomp_syscall_resolve_num_arch(abis[abi].scmp, nr);
                                        fprintf(stderr, "  %s %s (%d) vector %zu: keel %#x, profile %#x\n",
                                                abis[abi].name, name ?: "?", nr, vec, a, b);
                                        free(name);
                                }
                        }
        printf("seccomp-check: %s: %lu of %lu verdicts differ from keel's default filter "
               "(1024 syscall numbers x %zu argument vectors x %zu ABIs; %u vs %u BPF instructions)\n",
               path, differ, checked, N_VECTORS, ELEMENTSOF(abis), want.len, got.len);
        seccomp_program_free(&want);
        seccomp_program_free(&got);
        return differ ? -EINVAL : 0;
}

/* ---- main --------------------------------------------------------------------------------------- */

static void usage(FILE *f) {
        fprintf(f, "usage: keel-bench-spawn [-n RUNS] [-w WARMUP] [-l LABEL] [-q] MODE\n"
                   "  bare [PATH]\n"
                   "  keel [default|min] [+F|-F]... [--rootfs=DIR] [--cgroup-root=DIR]\n"
                   "  mount overlay|bind [--rootfs=DIR]\n"
                   "  exec CMD [ARG...]\n"
                   "  seccomp-profile\n"
                   "  seccomp-check FILE\n"
                   "features F: netns utsns ipcns cgroupns userns seccomp cgroup\n");
}

int main(int argc, char **argv) {
        unsigned runs = 1;
        const char *label = NULL;
        int c;
        while ((c = getopt(argc, argv, "+n:w:l:qh")) >= 0) {
                switch (c) {
                case 'n':
                        runs = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'w':
                        warmup = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'l':
                        label = optarg;
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind >= argc || runs == 0) {
                usage(stderr);
                return 2;
        }
        const char *mode = argv[optind];
        char **rest = argv + optind + 1;
        int nrest = argc - optind - 1, r = 0;
        label = label ?: mode;

        if (streq(mode, "seccomp-profile"))
                return seccomp_profile() < 0;
        if (streq(mode, "seccomp-check")) {
                if (nrest != 1) {
                        usage(stderr);
                        return 2;
                }
                return seccomp_check(rest[0]) < 0;
        }

        if (streq(mode, "bare") || streq(mode, "exec")) {
                bool bare = streq(mode, "bare");
                char *bare_argv[] = { nrest > 0 ? rest[0] : "/bin/true", NULL };
                if (!bare && nrest == 0) {
                        usage(stderr);
                        return 2;
                }
                for (unsigned i = 1; i <= warmup + runs && r >= 0; i++) {
                        Timing t = { 0 };
                        if ((r = command_once(bare ? bare_argv : rest, !bare, &t)) >= 0)
                                print_timing(label, i, &t);
                }
                return r < 0;
        }

        if (streq(mode, "keel")) {
                KeelBench b = { .devices_program = -1 };
                if (keel_parse(nrest, rest, &b) < 0)
                        return 2;
                if (keel_setup(&b) < 0)
                        return 1;
                for (unsigned i = 1; i <= warmup + runs && r >= 0; i++) {
                        Timing t = { 0 };
                        if ((r = keel_once(&b, i, &t)) >= 0)
                                print_timing(label, i, &t);
                }
                seccomp_program_free(&b.seccomp);
                safe_close(b.devices_program);
                (void) rmdir(b.state_dir);
                (void) rmdir(STATE_ROOT); /* fails while another bench runs: fine */
                return r < 0;
        }

        if (streq(mode, "mount")) {
                const char *rootfs = DEFAULT_ROOTFS;
                bool overlay = nrest > 0 && streq(rest[0], "overlay");
                if (nrest < 1 || (!overlay && !streq(rest[0], "bind"))) {
                        usage(stderr);
                        return 2;
                }
                for (int i = 1; i < nrest; i++)
                        if (strncmp(rest[i], "--rootfs=", 9) == 0)
                                rootfs = rest[i] + 9;
                char state[64];
                snprintf(state, sizeof state, STATE_ROOT "/%d", (int) getpid());
                if ((r = mkdir_p(state, 0700)) < 0) {
                        fprintf(stderr, "keel-bench-spawn: mkdir %s: %s\n", state, strerror(-r));
                        return 1;
                }
                for (unsigned i = 1; i <= warmup + runs && r >= 0; i++) {
                        Timing t = { 0 };
                        if ((r = mount_once(overlay, rootfs, state, &t)) >= 0)
                                print_timing(label, i, &t);
                }
                (void) rmdir(state);
                (void) rmdir(STATE_ROOT);
                return r < 0;
        }

        fprintf(stderr, "keel-bench-spawn: unknown mode '%s'\n", mode);
        usage(stderr);
        return 2;
}
