/* SPDX-License-Identifier: MIT */
/*
 * runtime_spawn(): spec → a process in its own namespaces and cgroup.
 *
 * The parent prepares everything it can (paths, the cgroup, the status socket), then clone3()
 * with CLONE_INTO_CGROUP so the child is born in its cgroup — no window in which it runs
 * unaccounted — and CLONE_PIDFD so it can be signalled without pid-reuse races. The child
 * sets itself up stage by stage; a failing stage sends a SpawnError over the CLOEXEC
 * SEQPACKET socket and exits, a successful execve() closes the socket. The parent never
 * waits here: it polls the socket from its event loop.
 */
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <net/if.h>
#include <sys/ioctl.h>

#include "child.h"
#include "devices.h"
#include "sealed-exe.h"
#include "seccomp-program.h"
#include "util.h"

/* clang-format off */
static const char *const stage_names[_STAGE_MAX] = {
        [STAGE_CLONE] = "clone",           [STAGE_CGROUP] = "cgroup",       [STAGE_SIGNALS] = "signals",
        [STAGE_MOUNT_PRIVATE] = "mount-private", [STAGE_ROOTFS] = "rootfs", [STAGE_OVERLAY] = "overlay",
        [STAGE_PROC] = "proc",             [STAGE_SYS] = "sys",             [STAGE_DEV] = "dev",
        [STAGE_MOUNTS] = "mounts",         [STAGE_INIT] = "init",           [STAGE_PIVOT_ROOT] = "pivot_root",
        [STAGE_HOSTNAME] = "hostname",     [STAGE_NETWORK] = "network",     [STAGE_USERNS] = "userns",
        [STAGE_STDIO] = "stdio",           [STAGE_USER] = "user",           [STAGE_RLIMITS] = "rlimits",
        [STAGE_CWD] = "cwd",               [STAGE_SECCOMP] = "seccomp",     [STAGE_CAPS] = "capabilities",
        [STAGE_EXEC] = "exec",
};
/* clang-format on */

const char *spawn_stage_to_string(SpawnStage s) {
        return s < _STAGE_MAX ? stage_names[s] : "unknown";
}

void child_fail(int status_fd, SpawnStage stage, int err, const char *fmt, ...) {
        SpawnError e = { .stage = stage, .error = err };
        char what[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        if (err > 0)
                snprintf(e.message, sizeof e.message, "%s: %s", what, strerror(err));
        else
                snprintf(e.message, sizeof e.message, "%s", what);
        (void) !send(status_fd, &e, sizeof e, MSG_NOSIGNAL);
        _exit(127);
}

static void fill_error(SpawnError *e, SpawnStage stage, int err, const char *what) {
        if (!e)
                return;
        e->stage = stage;
        e->error = err;
        snprintf(e->message, sizeof e->message, "%s: %s", what, strerror(err));
}

/* execvpe() without allocation, resolving in the container's root (we have pivoted). */
void child_exec(char *const *args, char *const *env, const char *where, int fd) {
        const char *cmd = args[0];
        if (strchr(cmd, '/')) {
                execve(cmd, args, env);
                if (errno == ENOENT)
                        child_fail(fd, STAGE_EXEC, 0, "%s: not found in %s", cmd, where);
                child_fail(fd, STAGE_EXEC, errno, "exec %s", cmd);
        }
        const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        for (char *const *e = env; e && *e; e++)
                if (strncmp(*e, "PATH=", 5) == 0)
                        path = *e + 5;
        int last = ENOENT;
        for (const char *p = path; *p;) {
                const char *colon = strchrnul(p, ':');
                char full[4096];
                int n = snprintf(full, sizeof full, "%.*s/%s", (int) (colon - p), p, cmd);
                if (n > 0 && (size_t) n < sizeof full) {
                        execve(full, args, env);
                        if (errno != ENOENT && errno != ENOTDIR)
                                last = errno;
                }
                p = *colon ? colon + 1 : colon;
        }
        if (last == ENOENT)
                child_fail(fd, STAGE_EXEC, 0, "%s: not found in %s (PATH=%s)", cmd, where, path);
        child_fail(fd, STAGE_EXEC, last, "exec %s", cmd);
}

/* lo comes up in a new network namespace; nothing else exists there until networking
 * attaches an interface. */
static void child_loopback_up(int fd) {
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = { .ifr_name = "lo" };
        if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                child_fail(fd, STAGE_NETWORK, errno, "lo: get flags");
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
                child_fail(fd, STAGE_NETWORK, errno, "lo: bring up");
        close(s);
}

/* wait_for_parent: the parent sets up our network namespace from outside and says when it is
 * done with one byte. EOF means it gave up (it kills us too; this is the belt to those braces). */
static void child_wait_for_parent(int fd) {
        char b;
        ssize_t n;
        do
                n = recv(fd, &b, 1, 0);
        while (n < 0 && errno == EINTR);
        if (n != 1)
                child_fail(fd, STAGE_NETWORK, n < 0 ? errno : 0,
                           "the supervisor did not finish the network setup");
}

static void child_stdio(const ContainerSpec *spec, int fd) {
        for (int i = 0; i < 3; i++) {
                int src = spec->stdio[i];
                if (src < 0) {
                        src = open("/dev/null", O_RDWR | O_CLOEXEC);
                        if (src < 0)
                                child_fail(fd, STAGE_STDIO, errno, "open /dev/null");
                }
                if (src == i ? fcntl(i, F_SETFD, 0) < 0 : dup2(src, i) < 0)
                        child_fail(fd, STAGE_STDIO, errno, "set up fd %d", i);
        }
}

static void child_seccomp(const ContainerSpec *spec, int fd) {
        int r = spec->seccomp ? seccomp_program_install(spec->seccomp) : 0;
        if (r < 0)
                child_fail(fd, STAGE_SECCOMP, -r, "install the seccomp filter");
}

/*
 * The order matters: mounts need every privilege; the user lookup reads the container's
 * /etc after pivot_root; rlimits may raise hard limits, which needs CAP_SYS_RESOURCE in the
 * host's user namespace, so they come before UserNS=; the seccomp filter goes on while we
 * still hold CAP_SYS_ADMIN, or last of all when no_new_privs allows it (then only execve
 * must pass it); the uid switch comes after the bounding set is cut and before the final
 * capset.
 */
static _noreturn_ void child_main(const ContainerSpec *spec, char *const *argv, int fd, int cgroup_fd,
                                  int init_fd) {
        /* Until execve() this process holds PID 1's fds and memory: nothing in the container
         * (a sibling with RunInit=, a process that joins later) may ptrace it or open its
         * /proc files. execve() makes the command dumpable again. */
        prctl(PR_SET_DUMPABLE, 0);
        prctl(PR_SET_NAME, "keel:setup");
        /* PID 1 keeps every signal blocked; a container starts with none blocked and all default. */
        sigset_t none;
        sigemptyset(&none);
        for (int s = 1; s < NSIG; s++)
                if (s != SIGKILL && s != SIGSTOP)
                        signal(s, SIG_DFL);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                child_fail(fd, STAGE_SIGNALS, errno, "sigprocmask");
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setsid();

        /* Fallback for kernels without CLONE_INTO_CGROUP: join before anything else runs. */
        if (cgroup_fd >= 0) {
                int pfd = openat(cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
                if (pfd < 0 || write(pfd, "0", 1) != 1)
                        child_fail(fd, STAGE_CLONE, errno, "join cgroup %s", spec->cgroup_path);
                close(pfd);
        }

        if (spec->namespaces & CLONE_NEWNS) {
                if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                        child_fail(fd, STAGE_MOUNT_PRIVATE, errno, "make / private");
                rootfs_setup(spec, fd);
        }
        if ((spec->namespaces & CLONE_NEWUTS) && spec->hostname &&
            sethostname(spec->hostname, strlen(spec->hostname)) < 0)
                child_fail(fd, STAGE_HOSTNAME, errno, "sethostname %s", spec->hostname);
        if (spec->namespaces & CLONE_NEWNET)
                child_loopback_up(fd);
        if (spec->network.wait_for_parent)
                child_wait_for_parent(fd);
        child_stdio(spec, fd);

        ChildUser user;
        user_resolve(spec, fd, &user);
        /* What the child inherited from PID 1 may sit on fd numbers above the container's
         * RLIMIT_NOFILE, leaving no number for its next open(): only the status socket is
         * still needed (stdio is on 0–2 already), so the rest goes before the limit applies. */
        if (init_fd >= 0) { /* the reaper's sealed binary stays, next to the socket */
                if (init_fd != fd + 1 && dup3(init_fd, fd + 1, O_CLOEXEC) < 0)
                        child_fail(fd, STAGE_INIT, errno, "keep the reaper's binary");
                init_fd = fd + 1;
        }
        if (fd > 3)
                (void) syscall(SYS_close_range, 3, fd - 1, 0);
        (void) syscall(SYS_close_range, fd + (init_fd >= 0 ? 2 : 1), ~0U, 0);
        user_apply_rlimits(spec, fd);
        if (spec->namespaces & CLONE_NEWUSER)
                user_enter_userns(spec, fd);
        mounts_chdir(spec, fd);
        umask(022);

        if (!spec->no_new_privileges)
                child_seccomp(spec, fd);
        caps_drop_bounding(spec, fd);
        user_switch(spec, fd, &user);
        caps_apply(spec, fd, user.uid);
        if (spec->no_new_privileges)
                child_seccomp(spec, fd);

        /* Only 0, 1 and 2 may reach the container (CVE-2024-21626 leaked a host directory fd).
         * CLOEXEC rather than close: the status socket must live until execve() succeeds —
         * or, with RunInit=, until the reaper has exec'd the command (it gets the socket). */
        if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                child_fail(fd, STAGE_EXEC, errno, "close_range");
        if (spec->process.init && fcntl(fd, F_SETFD, 0) < 0)
                child_fail(fd, STAGE_INIT, errno, "hand the status socket to the reaper");
        if (init_fd >= 0) {
                syscall(SYS_execveat, init_fd, "", argv, spec->process.env, AT_EMPTY_PATH);
                child_fail(fd, STAGE_INIT, errno, "exec keel's reaper");
        }
        char where[300];
        snprintf(where, sizeof where, "rootfs %s", spec->root.path);
        child_exec(argv, spec->process.env, where, fd);
}

void runtime_spec_init(ContainerSpec *spec) {
        *spec = (ContainerSpec){
                .devices_program = -1,
                .resources = { .memory_max = UINT64_MAX,
                               .memory_high = UINT64_MAX,
                               .memory_swap_max = UINT64_MAX,
                               .pids_max = UINT64_MAX },
                .stdio = { -1, -1, -1 },
        };
}

int runtime_spawn(const ContainerSpec *spec, ContainerProcess *ret, SpawnError *err) {
        struct stat st;
        if (stat(spec->root.path, &st) < 0) {
                int e = errno;
                char what[300];
                snprintf(what, sizeof what, "rootfs %s", spec->root.path);
                fill_error(err, STAGE_ROOTFS, e, what);
                return -e;
        }
        if (!S_ISDIR(st.st_mode)) {
                char what[300];
                snprintf(what, sizeof what, "rootfs %s", spec->root.path);
                fill_error(err, STAGE_ROOTFS, ENOTDIR, what);
                return -ENOTDIR;
        }
        if (!spec->process.args || !spec->process.args[0]) {
                fill_error(err, STAGE_EXEC, EINVAL, "empty command");
                return -EINVAL;
        }
        /* RunInit=: the reaper runs the command; it reports exec failures on the status
         * socket itself, which it finds as fd 3. */
        _cleanup_free_ char **init_argv = NULL;
        char *const *argv = spec->process.args;
        int init_fd = -1;
        if (spec->process.init) {
                init_fd = sealed_exe_reaper();
                if (init_fd < 0) {
                        fill_error(err, STAGE_INIT, -init_fd,
                                   "a sealed copy of keel's binary for the reaper");
                        return init_fd;
                }
                size_t n = 0;
                while (spec->process.args[n])
                        n++;
                init_argv = calloc(n + 5, sizeof(char *));
                if (!init_argv) {
                        fill_error(err, STAGE_INIT, ENOMEM, "reaper arguments");
                        return -ENOMEM;
                }
                init_argv[0] = (char *) RUNTIME_INIT_NAME;
                init_argv[1] = (char *) "--init";
                init_argv[2] = NULL; /* the status fd number, filled in below */
                init_argv[3] = (char *) "--";
                memcpy(init_argv + 4, spec->process.args, n * sizeof(char *));
                argv = init_argv;
        }
        int r;
        if (spec->state_dir && (r = mkdir_p(spec->state_dir, 0700)) < 0) {
                char what[300];
                snprintf(what, sizeof what, "mkdir %s", spec->state_dir);
                fill_error(err, STAGE_ROOTFS, -r, what);
                return r;
        }

        _cleanup_close_ int cgroup_fd = -1;
        if (spec->cgroup_path) {
                r = runtime_cgroup_create(spec->cgroup_path);
                if (r >= 0)
                        cgroup_fd = open(spec->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (r < 0 || cgroup_fd < 0) {
                        char what[300];
                        snprintf(what, sizeof what, "create cgroup %s", spec->cgroup_path);
                        fill_error(err, STAGE_CGROUP, r < 0 ? -r : errno, what);
                        return r < 0 ? r : negative_errno();
                }
                /* The device program and limits before the child exists: it is born
                 * confined (CLONE_INTO_CGROUP). */
                if (spec->devices_program >= 0 &&
                    (r = devices_program_attach(spec->devices_program, cgroup_fd)) < 0) {
                        char what[300];
                        snprintf(what, sizeof what, "attach the device program to %s", spec->cgroup_path);
                        fill_error(err, STAGE_CGROUP, -r, what);
                        return r;
                }
                char why[400];
                r = runtime_cgroup_apply(spec, why, sizeof why);
                if (r < 0) {
                        if (err) {
                                *err = (SpawnError){ .stage = STAGE_CGROUP, .error = -r };
                                snprintf(err->message, sizeof err->message, "%s", why);
                        }
                        return r;
                }
        }

        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                fill_error(err, STAGE_CLONE, errno, "socketpair");
                return negative_errno();
        }

        int pidfd = -1;
        struct clone_args args = {
                /* The user namespace comes last, from the child itself (user.c). */
                .flags = (spec->namespaces & ~(unsigned long) CLONE_NEWUSER) | CLONE_PIDFD |
                         (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
                .pidfd = (uint64_t) (uintptr_t) &pidfd,
                .exit_signal = SIGCHLD,
                .cgroup = (uint64_t) (cgroup_fd >= 0 ? cgroup_fd : 0),
        };
        bool fallback = false;
        long pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0 && (errno == ENOSYS || errno == E2BIG || (errno == EINVAL && cgroup_fd >= 0))) {
                /* Older kernel: plain clone; the child joins its cgroup as its first act. */
                fallback = true;
                pid = syscall(SYS_clone, (spec->namespaces & ~(unsigned long) CLONE_NEWUSER) | SIGCHLD, 0, 0,
                              0, 0);
        }
        if (pid < 0) {
                int e = errno;
                close(sv[0]);
                close(sv[1]);
                fill_error(err, STAGE_CLONE, e, "clone3");
                return -e;
        }
        if (pid == 0) {
                close(sv[0]);
                char fdnum[16];
                if (init_argv) {
                        snprintf(fdnum, sizeof fdnum, "%d", sv[1]);
                        init_argv[2] = fdnum;
                }
                child_main(spec, argv, sv[1], fallback ? cgroup_fd : -1, init_fd);
        }
        close(sv[1]);
        (void) fcntl(sv[0], F_SETFL, O_NONBLOCK);
        *ret = (ContainerProcess){ .pid = (pid_t) pid, .pidfd = fallback ? -1 : pidfd, .status_fd = sv[0] };
        return 0;
}

int runtime_release(const ContainerProcess *p) {
        char go = 1;
        return send(p->status_fd, &go, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1 ? 0 : negative_errno();
}

void runtime_abort(const ContainerProcess *p) {
        if (p->pidfd < 0 || syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0) < 0)
                kill(p->pid, SIGKILL);
}

int runtime_read_status(int status_fd, SpawnError *err) {
        SpawnError e;
        ssize_t n = recv(status_fd, &e, sizeof e, MSG_DONTWAIT);
        /* A child that dies with our "go" byte unread makes the kernel report ECONNRESET to us
         * (unix_release_sock) before the report it queued: that error is consumed by this
         * recv, and the report is still there to read. */
        if (n < 0 && errno == ECONNRESET)
                n = recv(status_fd, &e, sizeof e, MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : 0;
        if (n == 0)
                return 0;
        if ((size_t) n != sizeof e) { /* a short message is garbage, not a report */
                e = (SpawnError){ .stage = STAGE_CLONE, .error = EPROTO };
                snprintf(e.message, sizeof e.message, "short status message (%zd bytes)", n);
        }
        e.message[sizeof e.message - 1] = 0;
        *err = e;
        return 1;
}
