/* SPDX-License-Identifier: MIT */
/*
 * keel-bench-supervisor: the guest side of bench/supervisor.py. It measures PID 1 as a
 * supervisor and reaper, with CLOCK_MONOTONIC, from the console shell or inside a container.
 *
 *   keel-bench-supervisor crash-once DIR DELAY_MS
 *   keel-bench-supervisor orphans -n N
 *   keel-bench-supervisor status [-n RUNS] [-w WARMUP] [-r REQUEST] [-i IDLE -f FOLLOWERS -u UNIT
 *                                [-p PAUSE_MS]] [SOCKET]
 *   keel-bench-supervisor exec [-n RUNS] [-w WARMUP] CMD [ARG...]
 *
 *   crash-once   a container payload (Exec=) for restart latency. The first run of the unit
 *                sleeps DELAY_MS, writes DIR/HOST.exit with the time it exits, and exits 1;
 *                the next run writes DIR/HOST.exec with the time its main() began (just after
 *                execve), then waits for SIGTERM. DIR is a volume shared by every start (the
 *                overlay root is fresh each time); HOST is $HOSTNAME, the unit's name.
 *   orphans      N orphans for the nearest reaper (PID 1, or a subreaper such as tini -s): a
 *                middle process makes N children that exit at once (clone sharing its
 *                memory and files, one after the other), then exits itself when told, so the
 *                N zombies are handed over in one burst.
 *                Each is watched with a pidfd opened while its parent was alive; a pidfd
 *                signal 0 fails with ESRCH once the zombie is reaped, whatever the pid's reuse.
 *                Prints: orphans N=N made_us=US handover_us=US reaped_us=US
 *                (made: creating them all; handover: from telling the middle to exit to its
 *                own reaping, when the kernel has re-parented every zombie; reaped: from
 *                telling it to exit to the last zombie reaped).
 *   status       the control socket's round trip for `initctl status`: connect, send
 *                "keel1 status" (or "keel1 REQUEST"), read the reply to EOF. One line per run:
 *                status RUN us=US bytes=N code=C
 *                With -i/-f, under a crowd: IDLE connections that send nothing and FOLLOWERS
 *                `logs -f UNIT` followers that never read stay open throughout (those PID 1
 *                drops are opened again before the next run, PAUSE_MS apart, default 0), and
 *                a last line says: crowd idle=N followers=N reopened=N
 *   exec         fork + execvp + wait of a command with its output to /dev/null, one line per
 *                run: exec RUN us=US rc=STATUS
 *   nofile PID N sets RLIMIT_NOFILE of PID to N:N (prlimit; BusyBox has no prlimit applet)
 */
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "macros.h"

#define CONTROL_SOCKET "/run/keel/initctl.sock"

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void sleep_ns(uint64_t ns) {
        struct timespec ts = { .tv_sec = (time_t) (ns / 1000000000u), .tv_nsec = (long) (ns % 1000000000u) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void usage(FILE *f) {
        fputs("usage: keel-bench-supervisor crash-once DIR DELAY_MS\n"
              "       keel-bench-supervisor orphans -n N\n"
              "       keel-bench-supervisor status [-n RUNS] [-w WARMUP] [-r REQUEST] [-i IDLE -f FOLLOWERS "
              "-u UNIT\n"
              "                                    [-p PAUSE_MS]] [SOCKET]\n"
              "       keel-bench-supervisor exec [-n RUNS] [-w WARMUP] CMD [ARG...]\n"
              "       keel-bench-supervisor nofile PID N\n",
              f);
}

/* ---- crash-once: a container that fails once, then stays up ---------------------------------- */

static int write_stamp(const char *dir, const char *name, const char *ext, uint64_t t) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || dprintf(fd, "%llu\n", (unsigned long long) t) < 0) {
                fprintf(stderr, "crash-once: %s: %m\n", path);
                return -1;
        }
        return 0;
}

static void on_term(int sig) {
        (void) sig;
        _exit(0);
}

static int crash_once(const char *dir, const char *delay_ms) {
        uint64_t start = now_ns(); /* first: as close to execve() as a program gets */
        const char *name = getenv("HOSTNAME");
        if (!name || !*name || strchr(name, '/')) {
                fprintf(stderr, "crash-once: no usable $HOSTNAME\n");
                return 2;
        }
        char path[512];
        snprintf(path, sizeof path, "%s/%s.exit", dir, name);
        if (access(path, F_OK) == 0) {
                if (write_stamp(dir, name, "exec", start) < 0)
                        return 1;
                /* A container's PID 1 has no default signal actions: stop cleanly on SIGTERM. */
                struct sigaction sa = { .sa_handler = on_term };
                sigaction(SIGTERM, &sa, NULL);
                for (;;)
                        pause();
        }
        sleep_ns(strtoull(delay_ms, NULL, 10) * 1000000u);
        if (write_stamp(dir, name, "exit", now_ns()) < 0)
                return 3;
        _exit(1);
}

/* ---- orphans: a burst of zombies for the reaper ---------------------------------------------- */

static int read_full(int fd, void *buf, size_t len) {
        size_t got = 0;
        while (got < len) {
                ssize_t n = read(fd, (char *) buf + got, len - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                got += (size_t) n;
        }
        return 0;
}

static int orphan_child(void *arg) {
        (void) arg;
        return 0; /* clone()'s trampoline then calls exit(2) */
}

/* The middle process: N children that exit at once, kept as zombies until we exit. */
static _noreturn_ void orphans_middle(pid_t *pids, unsigned n, int ready, int go) {
        static char stack[16384] __attribute__((aligned(16)));
        /* On this CPU only, children included: each child then starts without a wakeup of
         * another vCPU, which is slow under TCG. They all have exited before the burst. */
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(sched_getcpu(), &one);
        (void) sched_setaffinity(0, sizeof one, &one);
        unsigned made = 0;
        for (; made < n; made++) {
                /* A child that only exits needs nothing of its own: sharing memory, files,
                 * fs and signal handlers (vfork-style, one at a time on one stack) spares
                 * copying them, which takes milliseconds per fork under TCG. Still a process
                 * of its own with SIGCHLD: a zombie until reaped. CLONE_VFORK returns once
                 * the child is inside exit(2), past releasing the memory we share. */
                pid_t pid = clone(orphan_child, stack + sizeof stack,
                                  CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_FS | CLONE_SIGHAND | SIGCHLD,
                                  NULL);
                if (pid < 0) {
                        fprintf(stderr, "orphans: clone %u of %u: %m\n", made + 1, n);
                        break;
                }
                pids[made] = pid;
        }
        (void) !write(ready, &made, sizeof made);
        char c;
        while (read(go, &c, 1) < 0 && errno == EINTR) /* EOF: the parent says go */
                ;
        _exit(0);
}

static int orphans(unsigned n) {
        struct rlimit rl = { .rlim_cur = n + 64, .rlim_max = n + 64 };
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
                fprintf(stderr, "orphans: RLIMIT_NOFILE %u: %m\n", n + 64);
                return 1;
        }
        pid_t *pids =
                mmap(NULL, n * sizeof *pids, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        int *fds = calloc(n, sizeof *fds);
        int ready[2], go[2];
        if (pids == MAP_FAILED || !fds || pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) {
                fprintf(stderr, "orphans: %m\n");
                return 1;
        }
        uint64_t t0 = now_ns();
        pid_t middle = fork();
        if (middle < 0) {
                fprintf(stderr, "orphans: fork: %m\n");
                return 1;
        }
        if (middle == 0) {
                close(ready[0]);
                close(go[1]);
                orphans_middle(pids, n, ready[1], go[0]);
        }
        close(ready[1]);
        close(go[0]);
        unsigned made = 0;
        if (read_full(ready[0], &made, sizeof made) < 0 || made == 0) {
                fprintf(stderr, "orphans: the middle process made no children\n");
                return 1;
        }
        uint64_t t_made = now_ns();
        for (unsigned i = 0; i < made; i++) {
                fds[i] = (int) syscall(SYS_pidfd_open, pids[i], 0);
                if (fds[i] < 0) {
                        fprintf(stderr, "orphans: pidfd_open %d: %m\n", pids[i]);
                        return 1;
                }
        }

        uint64_t t_go = now_ns();
        close(go[1]);
        siginfo_t si;
        while (waitid(P_PID, (id_t) middle, &si, WEXITED) < 0 && errno == EINTR)
                ;
        uint64_t t_handed = now_ns();
        /* Poll gently: the reaper needs the CPU more than we do. */
        for (unsigned i = 0; i < made; i++)
                while (syscall(SYS_pidfd_send_signal, fds[i], 0, NULL, 0) == 0)
                        sleep_ns(200000);
        uint64_t t_reaped = now_ns();
        printf("orphans N=%u made_us=%llu handover_us=%llu reaped_us=%llu\n", made,
               (unsigned long long) ((t_made - t0) / 1000), (unsigned long long) ((t_handed - t_go) / 1000),
               (unsigned long long) ((t_reaped - t_go) / 1000));
        return made == n ? 0 : 1;
}

/* ---- status: the control socket's round trip ---------------------------------------------------- */

static int status_once(const char *socket_path, const char *verb, uint64_t *ret_ns, size_t *ret_bytes,
                       int *ret_code) {
        static char buf[1 << 20];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", socket_path);
        uint64_t t0 = now_ns();
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                fprintf(stderr, "status: connect %s: %m\n", socket_path);
                return -1;
        }
        char req[600];
        int len = snprintf(req, sizeof req, "keel1 %s\n", verb);
        if (len <= 0 || (size_t) len >= sizeof req || write(fd, req, (size_t) len) != len) {
                fprintf(stderr, "status: write: %m\n");
                return -1;
        }
        size_t got = 0;
        for (;;) {
                ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        fprintf(stderr, "status: read: %m\n");
                        return -1;
                }
                if (n == 0 || got + (size_t) n >= sizeof buf - 1) {
                        got += (size_t) n;
                        break;
                }
                got += (size_t) n;
        }
        *ret_ns = now_ns() - t0;
        buf[got] = 0;
        *ret_bytes = got;
        *ret_code = -1;
        (void) sscanf(buf, "keel1 %d", ret_code);
        return 0;
}

/* ---- crowd: idle clients and stalled followers around the status round trips ----------------- */

typedef struct Crowd {
        const char *path, *unit;
        unsigned idle, followers, reopened;
        int *fds; /* idle ones first */
} Crowd;

static int crowd_open(Crowd *c, unsigned i) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", c->path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                fprintf(stderr, "crowd: connect %s: %m\n", c->path);
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        if (i >= c->idle) {
                char req[300];
                int len = snprintf(req, sizeof req, "keel1 logs -f -n 0 %s\n", c->unit);
                if (write(fd, req, (size_t) len) != len) {
                        fprintf(stderr, "crowd: write: %m\n");
                        close(fd);
                        return -1;
                }
        }
        c->fds[i] = fd;
        return 0;
}

/* Opens again what PID 1 closed (idle ones time out; it may drop a follower). */
static int crowd_keep(Crowd *c) {
        for (unsigned i = 0; i < c->idle + c->followers; i++) {
                struct pollfd p = { .fd = c->fds[i], .events = POLLRDHUP };
                if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
                        close(c->fds[i]);
                        if (crowd_open(c, i) < 0)
                                return -1;
                        c->reopened++;
                }
        }
        return 0;
}

/* ---- exec: a command's full run, output discarded ---------------------------------------------- */

static int exec_once(char **argv, uint64_t *ret_ns, int *ret_status) {
        uint64_t t0 = now_ns();
        pid_t pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                if (null >= 0) {
                        dup2(null, STDOUT_FILENO);
                        dup2(null, STDERR_FILENO);
                }
                execvp(argv[0], argv);
                _exit(127);
        }
        siginfo_t si = { 0 };
        while (waitid(P_PID, (id_t) pid, &si, WEXITED) < 0)
                if (errno != EINTR)
                        return -1;
        *ret_ns = now_ns() - t0;
        *ret_status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
        return 0;
}

int main(int argc, char **argv) {
        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        const char *mode = argv[1];
        if (streq(mode, "-h") || streq(mode, "--help")) {
                usage(stdout);
                return 0;
        }
        if (streq(mode, "crash-once")) {
                if (argc != 4) {
                        usage(stderr);
                        return 2;
                }
                return crash_once(argv[2], argv[3]);
        }
        if (streq(mode, "nofile")) {
                if (argc != 4) {
                        usage(stderr);
                        return 2;
                }
                rlim_t n = strtoull(argv[3], NULL, 10);
                struct rlimit rl = { .rlim_cur = n, .rlim_max = n };
                if (prlimit((pid_t) atoi(argv[2]), RLIMIT_NOFILE, &rl, NULL) < 0) {
                        fprintf(stderr, "nofile: prlimit %s: %m\n", argv[2]);
                        return 1;
                }
                return 0;
        }

        unsigned runs = 1, warmup = 0;
        int c;
        optind = 2;
        const char *verb = "status";
        Crowd crowd = { .unit = NULL };
        unsigned pause_ms = 0;
        while ((c = getopt(argc, argv, "+n:w:r:i:f:u:p:")) >= 0) {
                switch (c) {
                case 'i':
                        crowd.idle = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'f':
                        crowd.followers = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'u':
                        crowd.unit = optarg;
                        break;
                case 'p':
                        pause_ms = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'n':
                        runs = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'r':
                        verb = optarg;
                        break;
                case 'w':
                        warmup = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (runs == 0) {
                usage(stderr);
                return 2;
        }
        char **rest = argv + optind;
        int nrest = argc - optind;

        if (streq(mode, "orphans"))
                return nrest == 0 ? orphans(runs) : (usage(stderr), 2);

        if (streq(mode, "status")) {
                const char *path = nrest > 0 ? rest[0] : CONTROL_SOCKET;
                unsigned crowded = crowd.idle + crowd.followers;
                if (crowd.followers && !crowd.unit) {
                        usage(stderr);
                        return 2;
                }
                crowd.path = path;
                crowd.fds = calloc(crowded + 1, sizeof *crowd.fds);
                for (unsigned i = 0; i < crowded; i++)
                        if (!crowd.fds || crowd_open(&crowd, i) < 0)
                                return 1;
                for (unsigned i = 1; i <= warmup + runs; i++) {
                        uint64_t ns;
                        size_t bytes;
                        int code;
                        if (crowded && (sleep_ns((uint64_t) pause_ms * 1000000), crowd_keep(&crowd) < 0))
                                return 1;
                        if (status_once(path, verb, &ns, &bytes, &code) < 0)
                                return 1;
                        if (i > warmup)
                                printf("status %u us=%llu bytes=%zu code=%d\n", i - warmup,
                                       (unsigned long long) (ns / 1000), bytes, code);
                }
                if (crowded)
                        printf("crowd idle=%u followers=%u reopened=%u\n", crowd.idle, crowd.followers,
                               crowd.reopened);
                return 0;
        }

        if (streq(mode, "exec")) {
                if (nrest == 0) {
                        usage(stderr);
                        return 2;
                }
                for (unsigned i = 1; i <= warmup + runs; i++) {
                        uint64_t ns;
                        int status;
                        if (exec_once(rest, &ns, &status) < 0) {
                                fprintf(stderr, "exec: %s: %m\n", rest[0]);
                                return 1;
                        }
                        if (i > warmup)
                                printf("exec %u us=%llu rc=%d\n", i - warmup,
                                       (unsigned long long) (ns / 1000), status);
                }
                return 0;
        }

        usage(stderr);
        return 2;
}
