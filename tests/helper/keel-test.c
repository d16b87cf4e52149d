/* SPDX-License-Identifier: MIT */
/*
 * keel-test: the process that keel's integration and end-to-end tests run inside containers.
 * One static binary (the test rootfs is BusyBox with no libc) with many small commands, each
 * reporting what the container looks like from the inside or trying one thing the container
 * may or may not be allowed to do.
 *
 *   keel-test COMMAND [ARGS...]      or, through a symlink named COMMAND:   COMMAND [ARGS...]
 *
 * Output is for grep: one "key=value" (or "/proc key:\tvalue") line per fact on stdout.
 * Probes (syscall, mknod-open, write, stat, exe-write) exit 0 once they have printed a result,
 * even when the result is a denial: the result line is the answer. Other commands exit 1 with
 * a message on stderr when they cannot do what was asked, and 2 on a usage error.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif

/* Address families by number: older libc headers lack them, and the tests name them so. */
#define KT_AF_ALG   38
#define KT_AF_VSOCK 40

#define MIB (1024UL * 1024UL)

extern char **environ;

static const char *command = "keel-test";

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "keel-test: %s: ", command);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return 1;
}

/*
 * Errno names rather than strerror() text, so tests match "EPERM" whatever the libc. Names not
 * listed are printed as the number.
 */
#define E(x)                                                                                                \
        { x, #x }
static const struct {
        int err;
        const char *name;
} errno_names[] = {
        E(EPERM),   E(EACCES),       E(ENOSYS),          E(EINVAL),          E(EROFS),   E(EAGAIN),
        E(ENOENT),  E(EBADF),        E(EFAULT),          E(ENOMEM),          E(ESRCH),   E(EEXIST),
        E(ENOTDIR), E(EOPNOTSUPP),   E(EAFNOSUPPORT),    E(ENODEV),          E(ETXTBSY), E(ESTALE),
        E(EBUSY),   E(EIO),          E(ENXIO),           E(EISDIR),          E(ELOOP),   E(ENOSPC),
        E(EDQUOT),  E(EMFILE),       E(ENFILE),          E(ECHILD),          E(EXDEV),   E(ENOTEMPTY),
        E(ENOTTY),  E(ENAMETOOLONG), E(EPROTONOSUPPORT), E(ESOCKTNOSUPPORT),
};
#undef E

static const char *errname(int err) {
        static char number[16];
        size_t i;

        for (i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
                if (errno_names[i].err == err)
                        return errno_names[i].name;
        snprintf(number, sizeof(number), "%d", err);
        return number;
}

static const char *result(long r) {
        return r < 0 ? errname(errno) : "OK";
}

static int parse_long(const char *s, long *ret) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 0);
        if (errno != 0 || end == s || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

/* "64M", "1G", "512K" or plain bytes. */
static int parse_size(const char *s, unsigned long long *ret) {
        static const char units[] = "KMG";
        unsigned long long v;
        unsigned shift = 0;
        const char *unit;
        char *end;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s)
                return -EINVAL;
        if (*end != '\0' && (unit = strchr(units, toupper((unsigned char) *end)))) {
                shift = 10 * (unsigned) (unit - units + 1);
                end++;
        }
        if (*end != '\0' || v > (ULLONG_MAX >> shift))
                return -EINVAL;
        *ret = v << shift;
        return 0;
}

static void sleep_ms(long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static __attribute__((noreturn)) void pause_forever(void) {
        for (;;)
                pause();
}

/* First line of a small file, without the newline. */
static int read_line(const char *path, char *buf, size_t size) {
        FILE *f = fopen(path, "re");
        int r = 0;

        if (!f)
                return -errno;
        if (!fgets(buf, (int) size, f))
                r = ferror(f) ? -EIO : -ENODATA;
        fclose(f);
        if (r == 0)
                buf[strcspn(buf, "\n")] = '\0';
        return r;
}

/* Prints the /proc/self/status lines for the given keys, verbatim and in the file's order. */
static int print_status(const char *const *keys) {
        FILE *f = fopen("/proc/self/status", "re");
        char line[512];
        size_t i;

        if (!f)
                return fail("open /proc/self/status: %m");
        while (fgets(line, sizeof(line), f))
                for (i = 0; keys[i]; i++) {
                        size_t n = strlen(keys[i]);
                        if (strncmp(line, keys[i], n) == 0 && line[n] == ':') {
                                fputs(line, stdout);
                                break;
                        }
                }
        fclose(f);
        return 0;
}

/*
 * Counts processes in state Z, all of them (parent 0) or the children of one parent, from
 * /proc/PID/stat: "pid (comm) S ppid ...". comm may hold spaces and parentheses, so the fields
 * are read after the last ')'.
 */
static int proc_count_zombies(pid_t parent) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        int count = 0;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char path[sizeof(de->d_name) + 16], buf[512], *p, state;
                int ppid;
                ssize_t n;
                int fd;

                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue; /* it went away while we looked */
                n = read(fd, buf, sizeof(buf) - 1);
                close(fd);
                if (n <= 0)
                        continue;
                buf[n] = '\0';
                p = strrchr(buf, ')');
                if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2)
                        continue;
                if (state == 'Z' && (parent == 0 || ppid == parent))
                        count++;
        }
        closedir(d);
        return count;
}

static int cmd_caps(int argc, char **argv) {
        static const char *const keys[] = { "CapInh", "CapPrm",     "CapEff",  "CapBnd",
                                            "CapAmb", "NoNewPrivs", "Seccomp", NULL };
        return print_status(keys);
}

static int cmd_sigmask(int argc, char **argv) {
        static const char *const keys[] = { "SigBlk", "SigIgn", NULL };
        return print_status(keys);
}

/* "         0     100000      65536" -> "0 100000 65536" */
static void print_map(const char *key, const char *path) {
        char buf[256], *tok, *save = NULL;
        const char *sep = "";

        printf("%s=", key);
        if (read_line(path, buf, sizeof(buf)) == 0)
                for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
                        printf("%s%s", sep, tok);
                        sep = " ";
                }
        putchar('\n');
}

static int cmd_ids(int argc, char **argv) {
        static gid_t groups[NGROUPS_MAX];
        char buf[PATH_MAX];
        mode_t mask;
        int n, i;

        printf("uid=%u\ngid=%u\neuid=%u\negid=%u\n", (unsigned) getuid(), (unsigned) getgid(),
               (unsigned) geteuid(), (unsigned) getegid());

        n = getgroups(NGROUPS_MAX, groups);
        if (n < 0)
                return fail("getgroups: %m");
        printf("groups=");
        for (i = 0; i < n; i++)
                printf("%s%u", i ? "," : "", (unsigned) groups[i]);
        putchar('\n');

        /* umask() can only be read by setting it; put it back at once. */
        mask = umask(0);
        umask(mask);
        printf("umask=%04o\n", (unsigned) mask);

        printf("cwd=%s\n", getcwd(buf, sizeof(buf)) ? buf : errname(errno));
        print_map("uid_map", "/proc/self/uid_map");
        print_map("gid_map", "/proc/self/gid_map");
        printf("setgroups=%s\n", read_line("/proc/self/setgroups", buf, sizeof(buf)) == 0 ? buf : "");
        return 0;
}

static int cmd_fds(int argc, char **argv) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        int count = 0;

        if (!d)
                return fail("open /proc/self/fd: %m");
        while ((de = readdir(d))) {
                char target[PATH_MAX];
                ssize_t n;

                if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
                        continue;
                n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
                if (n < 0)
                        continue; /* closed since readdir, or not ours to read */
                target[n] = '\0';
                printf("fd %s -> %s\n", de->d_name, target);
                count++;
        }
        closedir(d);
        printf("count=%d\n", count);
        return 0;
}

static void reap(long pid) {
        /* ECHILD if SIGCHLD is ignored and the kernel reaped it already; nothing to do then. */
        while (waitpid((pid_t) pid, NULL, 0) < 0 && errno == EINTR)
                ;
}

/*
 * One function per probe of the syscall command. Each makes the call directly with syscall(2),
 * so no libc wrapper or fallback hides what the kernel or the seccomp filter said, and returns
 * its result (-1 with errno set on failure). A probe that succeeds undoes what it cheaply can
 * (a mount, an fd, a child), but umount2, pivot_root and reboot are for containers: as root
 * on a host they do what they say.
 */
static long sc_mount(void) {
        long r = syscall(SYS_mount, "none", "/mnt", "tmpfs", 0UL, NULL);
        if (r == 0)
                umount2("/mnt", MNT_DETACH);
        return r;
}

static long sc_umount2(void) {
        return syscall(SYS_umount2, "/sys", MNT_DETACH);
}

static long sc_unshare_user(void) {
        return syscall(SYS_unshare, CLONE_NEWUSER);
}

static long sc_unshare_net(void) {
        return syscall(SYS_unshare, CLONE_NEWNET);
}

static long sc_keyctl(void) {
        return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
}

static long sc_add_key(void) {
        return syscall(SYS_add_key, "user", "k", "v", 1, KEY_SPEC_SESSION_KEYRING);
}

static long sc_bpf(void) {
        union bpf_attr attr;
        long r;

        memset(&attr, 0, sizeof(attr));
        attr.map_type = BPF_MAP_TYPE_ARRAY;
        attr.key_size = 4;
        attr.value_size = 4;
        attr.max_entries = 1;
        r = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
        if (r >= 0)
                close((int) r);
        return r;
}

static long sc_kexec_load(void) {
        return syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL);
}

static long sc_open_by_handle_at(void) {
        /*
         * A bogus 8-byte handle: allowed callers get ESTALE or EINVAL, denied ones EPERM. The
         * mount fd must not be O_PATH, or the kernel answers EBADF before it checks anything.
         */
        _Alignas(struct file_handle) unsigned char buf[sizeof(struct file_handle) + 8] = { 0 };
        struct file_handle *fh = (struct file_handle *) buf;
        int saved, dfd;
        long r;

        fh->handle_bytes = 8;
        dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -1;
        r = syscall(SYS_open_by_handle_at, dfd, fh, O_RDONLY | O_CLOEXEC);
        saved = errno;
        if (r >= 0)
                close((int) r);
        close(dfd);
        errno = saved;
        return r;
}

static long sc_reboot(void) {
        /* The least harmful command; in a child PID namespace the kernel answers EINVAL. */
        return syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_CAD_OFF, NULL);
}

static long socket_probe(int family, int type) {
        long r = syscall(SYS_socket, family, type | SOCK_CLOEXEC, 0);
        if (r >= 0)
                close((int) r);
        return r;
}

static long sc_socket_alg(void) {
        return socket_probe(KT_AF_ALG, SOCK_SEQPACKET);
}

static long sc_socket_vsock(void) {
        return socket_probe(KT_AF_VSOCK, SOCK_STREAM);
}

static long sc_socket_inet(void) {
        return socket_probe(AF_INET, SOCK_STREAM);
}

static long sc_clone3(void) {
        /*
         * struct clone_args as first published (CLONE_ARGS_SIZE_VER0, 64 bytes): flags, pidfd,
         * child_tid, parent_tid, exit_signal, stack, stack_size, tls. No stack means the child
         * runs on a copy of ours, like fork(), and leaves before touching anything.
         */
        uint64_t args[8] = { 0 };
        long r;

        args[4] = SIGCHLD;
        r = syscall(SYS_clone3, args, sizeof(args));
        if (r == 0)
                _exit(0);
        if (r > 0)
                reap(r);
        return r;
}

static long sc_clone_newns(void) {
        /* x86-64 argument order: flags, stack, parent_tid, child_tid, tls. */
        long r = syscall(SYS_clone, (unsigned long) (CLONE_NEWNS | SIGCHLD), NULL, NULL, NULL, 0UL);
        if (r == 0)
                _exit(0);
        if (r > 0)
                reap(r);
        return r;
}

static long sc_pivot_root(void) {
        /*
         * In a container whose cwd is its root, an allowed call fails with EBUSY (new root is
         * the current root) and a denied one with EPERM. If it does succeed, the old root is
         * stacked on top of "."; detach it, as runc does, so "/" shows the new root.
         */
        long r = syscall(SYS_pivot_root, ".", ".");
        if (r == 0)
                umount2(".", MNT_DETACH);
        return r;
}

static long sc_userfaultfd(void) {
        long r = syscall(SYS_userfaultfd, 0);
        if (r >= 0)
                close((int) r);
        return r;
}

static long sc_ptrace(void) {
        /* Not attached, so an allowed call gives ESRCH; a seccomp denial gives EPERM. */
        long word;
        return syscall(SYS_ptrace, PTRACE_PEEKDATA, 1, NULL, &word);
}

static long sc_perf_event_open(void) {
        /*
         * A software clock rather than a zeroed (hardware cycles) attr: QEMU guests often have no
         * PMU, and ENOENT from that would hide what the policy said. User-space only, so that
         * perf_event_paranoid=2 allows it.
         */
        struct perf_event_attr attr;
        long r;

        memset(&attr, 0, sizeof(attr));
        attr.size = sizeof(attr);
        attr.type = PERF_TYPE_SOFTWARE;
        attr.config = PERF_COUNT_SW_CPU_CLOCK;
        attr.disabled = 1;
        attr.exclude_kernel = 1;
        attr.exclude_hv = 1;
        r = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0UL);
        if (r >= 0)
                close((int) r);
        return r;
}

static long sc_unknown(void) {
        return syscall(1000); /* no such syscall on any architecture keel runs on */
}

static long sc_getpid(void) {
        return syscall(SYS_getpid);
}

static const struct {
        const char *name;
        long (*fn)(void);
} syscall_probes[] = {
        { "mount", sc_mount },
        { "umount2", sc_umount2 },
        { "unshare-user", sc_unshare_user },
        { "unshare-net", sc_unshare_net },
        { "keyctl", sc_keyctl },
        { "add_key", sc_add_key },
        { "bpf", sc_bpf },
        { "kexec_load", sc_kexec_load },
        { "open_by_handle_at", sc_open_by_handle_at },
        { "reboot", sc_reboot },
        { "socket-alg", sc_socket_alg },
        { "socket-vsock", sc_socket_vsock },
        { "socket-inet", sc_socket_inet },
        { "clone3", sc_clone3 },
        { "clone-newns", sc_clone_newns },
        { "pivot_root", sc_pivot_root },
        { "userfaultfd", sc_userfaultfd },
        { "ptrace", sc_ptrace },
        { "perf_event_open", sc_perf_event_open },
        { "unknown", sc_unknown },
        { "getpid", sc_getpid },
};

static int cmd_syscall(int argc, char **argv) {
        size_t i;

        for (i = 0; i < sizeof(syscall_probes) / sizeof(syscall_probes[0]); i++)
                if (strcmp(argv[1], syscall_probes[i].name) == 0) {
                        long r = syscall_probes[i].fn();
                        printf("%s=%s\n", argv[1], result(r));
                        return 0;
                }

        fail("unknown syscall probe '%s'; known:", argv[1]);
        for (i = 0; i < sizeof(syscall_probes) / sizeof(syscall_probes[0]); i++)
                fprintf(stderr, "  %s\n", syscall_probes[i].name);
        return 2;
}

static int cmd_memhog(int argc, char **argv) {
        unsigned long long size, done;

        if (parse_size(argv[1], &size) < 0 || size == 0)
                return fail("bad size '%s' (want e.g. 64M)", argv[1]);

        /*
         * mmap and write every page, 1 MiB at a time: untouched memory is not charged to the
         * cgroup, and small steps let the test see how far it got before the OOM kill.
         */
        for (done = 0; done < size; done += MIB) {
                char *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED) {
                        printf("allocated=%lluM\nerror=%s\n", done / MIB, errname(errno));
                        return fail("mmap after %lluM: %m", done / MIB);
                }
                memset(p, 0xa5, MIB);
                if ((done + MIB) % (8 * MIB) == 0)
                        printf("allocated=%lluM\n", (done + MIB) / MIB);
        }
        if (done % (8 * MIB) != 0)
                printf("allocated=%lluM\n", done / MIB);
        printf("done\n");
        pause_forever();
}

static int cmd_forkbomb(int argc, char **argv) {
        long n, forked;

        if (parse_long(argv[1], &n) < 0 || n < 0)
                return fail("bad count '%s'", argv[1]);

        /* Children stay alive so they keep counting against pids.max; the test kills the cgroup. */
        for (forked = 0; forked < n; forked++) {
                pid_t pid = fork();
                if (pid == 0)
                        pause_forever();
                if (pid < 0) {
                        printf("forked=%ld\nerror=%s\n", forked, errname(errno));
                        break;
                }
        }
        if (forked == n)
                printf("forked=%ld\n", forked);
        printf("done\n");
        pause_forever();
}

static __attribute__((noreturn)) void spin_forever(void) {
        volatile unsigned long spin = 0; /* volatile: the loop must not be optimised away */

        for (;;)
                spin++;
}

static int cmd_busy(int argc, char **argv) {
        spin_forever();
}

static int cmd_zombies(int argc, char **argv) {
        long n, i;
        int count = 0, waited;

        if (parse_long(argv[1], &n) < 0 || n < 0)
                return fail("bad count '%s'", argv[1]);

        /*
         * With SIGCHLD ignored (inheritable across exec) the kernel would reap the children for
         * us and there would be no zombies to show. We never call wait(), even as PID 1: the
         * point is that an init above us, or the runtime, reaps them.
         */
        signal(SIGCHLD, SIG_DFL);
        for (i = 0; i < n; i++) {
                pid_t pid = fork();
                if (pid == 0)
                        _exit(0);
                if (pid < 0)
                        return fail("fork %ld of %ld: %m", i + 1, n);
        }

        /* Exiting takes a moment; wait up to 5 s for all of them to show up as Z. */
        for (waited = 0; waited <= 5000; waited += 50) {
                count = proc_count_zombies(getpid());
                if (count < 0)
                        return fail("scan /proc: %s", errname(-count));
                if (count >= n)
                        break;
                sleep_ms(50);
        }
        printf("zombies=%d\n", count);
        pause_forever();
}

/*
 * `orphans N [sleep]`: N grandchildren that outlive their parents and exit 100 ms later, the
 * way daemons double-fork. They are re-parented to PID 1 of the namespace: RunInit='s reaper
 * reaps them, a command that is itself PID 1 and never waits leaves them as zombies. Prints
 * how many zombies the namespace holds after a second, then exits (or sleeps).
 */
static int cmd_orphans(int argc, char **argv) {
        long n;
        if (parse_long(argv[1], &n) < 0 || n < 0)
                return fail("bad count '%s'", argv[1]);
        signal(SIGCHLD, SIG_DFL);
        for (long i = 0; i < n; i++) {
                pid_t pid = fork();
                if (pid < 0)
                        return fail("fork: %m");
                if (pid == 0) {
                        if (fork() == 0) {
                                sleep_ms(100);
                                _exit(0);
                        }
                        _exit(0);
                }
                waitpid(pid, NULL, 0); /* our own child: reaped; the grandchild is the orphan */
        }
        int count = 0;
        for (int waited = 0; waited <= 1000; waited += 50) {
                sleep_ms(50);
                count = proc_count_zombies(0);
        }
        printf("zombies=%d\n", count);
        if (argc > 2 && strcmp(argv[2], "sleep") == 0)
                pause_forever();
        return 0;
}

static int cmd_count_zombies(int argc, char **argv) {
        int count = proc_count_zombies(0);

        if (count < 0)
                return fail("scan /proc: %s", errname(-count));
        printf("zombies=%d\n", count);
        return 0;
}

static int cmd_mknod_open(int argc, char **argv) {
        long major, minor;
        mode_t type;
        int fd;

        if (strcmp(argv[2], "c") == 0)
                type = S_IFCHR;
        else if (strcmp(argv[2], "b") == 0)
                type = S_IFBLK;
        else
                return fail("type must be b or c, not '%s'", argv[2]);
        if (parse_long(argv[3], &major) < 0 || parse_long(argv[4], &minor) < 0 || major < 0 || minor < 0)
                return fail("bad device number %s:%s", argv[3], argv[4]);

        printf("mknod=%s\n",
               result(mknod(argv[1], type | 0666, makedev((unsigned) major, (unsigned) minor))));

        /*
         * Open even if mknod failed: the node may already exist, and a device cgroup denies the
         * open, not the mknod. Read-only is enough to be refused, and O_NONBLOCK keeps a tty or
         * a tape from blocking us.
         */
        fd = open(argv[1], O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        printf("open=%s\n", result(fd));
        if (fd >= 0)
                close(fd);
        return 0;
}

static int write_all(int fd, const char *buf, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, buf, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

static int cmd_write(int argc, char **argv) {
        const char *text = argc > 2 ? argv[2] : "x\n";
        int fd, r;

        fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                printf("write=%s\n", errname(errno));
                return 0;
        }
        r = write_all(fd, text, strlen(text));
        /* fsync so that a read-only or full filesystem cannot hide behind the page cache. */
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        printf("write=%s\n", r < 0 ? errname(-r) : "OK");
        return 0;
}

static const char *file_type(mode_t mode) {
        switch (mode & S_IFMT) {
        case S_IFREG:
                return "file";
        case S_IFDIR:
                return "dir";
        case S_IFLNK:
                return "link";
        case S_IFCHR:
                return "chr";
        case S_IFBLK:
                return "blk";
        case S_IFIFO:
                return "fifo";
        case S_IFSOCK:
                return "sock";
        }
        return "unknown";
}

static int cmd_stat(int argc, char **argv) {
        struct stat st;

        if (lstat(argv[1], &st) < 0) {
                printf("stat=%s\n", errname(errno));
                return 0;
        }
        printf("uid=%u\ngid=%u\nmode=%04o\ntype=%s\n", (unsigned) st.st_uid, (unsigned) st.st_gid,
               (unsigned) (st.st_mode & 07777), file_type(st.st_mode));
        return 0;
}

static int cmd_readlink(int argc, char **argv) {
        char target[PATH_MAX];
        ssize_t n = readlink(argv[1], target, sizeof(target) - 1);

        if (n < 0)
                return fail("readlink %s: %m", argv[1]);
        target[n] = '\0';
        printf("%s\n", target);
        return 0;
}

static int cmd_cat(int argc, char **argv) {
        char buf[65536];
        ssize_t n;
        int fd, r = 0;

        fd = open(argv[1], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return fail("open %s: %m", argv[1]);
        fflush(stdout);
        while ((n = read(fd, buf, sizeof(buf))) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = fail("read %s: %m", argv[1]);
                        break;
                }
                if (write_all(STDOUT_FILENO, buf, (size_t) n) < 0) {
                        r = fail("write stdout: %m");
                        break;
                }
        }
        close(fd);
        return r;
}

static int skip_dots(const struct dirent *de) {
        return strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
}

/* Byte order, not the locale's, so the listing is the same in every container. */
static int name_cmp(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int cmd_ls(int argc, char **argv) {
        struct dirent **names;
        int n, i;

        n = scandir(argv[1], &names, skip_dots, name_cmp);
        if (n < 0)
                return fail("list %s: %m", argv[1]);
        for (i = 0; i < n; i++) {
                printf("%s\n", names[i]->d_name);
                free(names[i]);
        }
        free(names);
        return 0;
}

static int cmd_mounts(int argc, char **argv) {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        char *line = NULL;
        size_t size = 0;

        if (!f)
                return fail("open /proc/self/mountinfo: %m");
        /* "36 35 98:0 /mnt1 /mnt2 rw,noatime ...": the mount point is the fifth field. */
        while (getline(&line, &size, f) > 0) {
                char *save = NULL, *field = strtok_r(line, " ", &save);
                int i;

                for (i = 1; field && i < 5; i++)
                        field = strtok_r(NULL, " ", &save);
                if (field)
                        printf("%s\n", field);
        }
        free(line);
        fclose(f);
        return 0;
}

static void print_rlimit(const char *key, int resource) {
        struct rlimit rl;

        if (getrlimit(resource, &rl) < 0) {
                printf("%s=%s\n", key, errname(errno));
                return;
        }
        printf("%s=", key);
        if (rl.rlim_cur == RLIM_INFINITY)
                printf("unlimited:");
        else
                printf("%llu:", (unsigned long long) rl.rlim_cur);
        if (rl.rlim_max == RLIM_INFINITY)
                printf("unlimited\n");
        else
                printf("%llu\n", (unsigned long long) rl.rlim_max);
}

static int cmd_rlimit(int argc, char **argv) {
        print_rlimit("nofile", RLIMIT_NOFILE);
        print_rlimit("nproc", RLIMIT_NPROC);
        print_rlimit("core", RLIMIT_CORE);
        return 0;
}

static int cmd_exe_write(int argc, char **argv) {
        /* The runc CVE-2019-5736 check: a container must not be able to rewrite a host binary. */
        int fd = open("/proc/self/exe", O_WRONLY | O_CLOEXEC);

        printf("exe-write=%s\n", result(fd));
        if (fd >= 0)
                close(fd);
        fd = open("/proc/1/exe", O_WRONLY | O_CLOEXEC);
        printf("pid1-exe-write=%s\n", result(fd));
        if (fd >= 0)
                close(fd);
        return 0;
}

/*
 * The attacker of the bind-source race: DIR/A a directory holding a marker, DIR/B a symlink to
 * "/", and their names exchanged (renameat2 RENAME_EXCHANGE) as fast as possible, for ever. A
 * unit whose bind source is DIR/A is spawned while the name is the directory or the symlink.
 */
static int cmd_swap(int argc, char **argv) {
        char a[PATH_MAX], b[PATH_MAX], marker[PATH_MAX + 16];
        unsigned long n = 0;
        int fd;

        snprintf(a, sizeof a, "%s/%s", argv[1], argv[2]);
        snprintf(b, sizeof b, "%s/%s", argv[1], argv[3]);
        if (mkdir(a, 0755) < 0 && errno != EEXIST)
                return fail("mkdir %s: %m", a);
        snprintf(marker, sizeof marker, "%s/marker", a);
        fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, "inside\n", 7) != 7)
                return fail("write %s: %m", marker);
        close(fd);
        if (symlink("/", b) < 0 && errno != EEXIST)
                return fail("symlink %s: %m", b);
        printf("swapping=1\n");
        for (;;) {
                if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */) < 0)
                        return fail("renameat2 %s %s: %m", a, b);
                /* Bursts with pauses: under emulation a vCPU spinning for ever would slow the
                 * victim's spawns (and the test) far more than it adds to the race. */
                if (++n % 256 == 0)
                        usleep(1000);
        }
}

/*
 * The victim of the race: DIR must be the directory with the marker. Counts a good run in
 * DIR/runs; anything else is an escape, said on stdout and marked in what DIR then is (the
 * machine's /run, when DIR is its root).
 */
static int cmd_race_victim(int argc, char **argv) {
        char path[PATH_MAX + 16], buf[16] = { 0 };
        int fd;

        snprintf(path, sizeof path, "%s/marker", argv[1]);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && read(fd, buf, sizeof buf - 1) > 0 && strcmp(buf, "inside\n") == 0) {
                close(fd);
                snprintf(path, sizeof path, "%s/runs", argv[1]);
                fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (fd < 0 || write(fd, "ok\n", 3) != 3)
                        return fail("append to %s: %m", path);
                close(fd);
                return 0;
        }
        printf("ESCAPED: %s is not the volume's directory\n", argv[1]);
        snprintf(path, sizeof path, "%s/run/keel-escaped", argv[1]);
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0)
                close(fd);
        return 3;
}

/* What /proc/PID/exe is: device and inode of the file it names, and whether it can be
 * written or executed from here. */
static int cmd_exe_info(int argc, char **argv) {
        char path[64], target[PATH_MAX];
        struct stat st;
        ssize_t n;
        int fd;

        snprintf(path, sizeof path, "/proc/%s/exe", argv[1]);
        n = readlink(path, target, sizeof target - 1);
        target[n < 0 ? 0 : n] = 0;
        printf("exe-target=%s\n", n < 0 ? errname(errno) : target);
        if (stat(path, &st) == 0)
                printf("exe-dev-ino=%lu:%lu\n", (unsigned long) st.st_dev, (unsigned long) st.st_ino);
        else
                printf("exe-dev-ino=%s\n", errname(errno));
        fd = open(path, O_WRONLY | O_CLOEXEC);
        printf("exe-open-write=%s\n", result(fd));
        if (fd >= 0)
                close(fd);
        printf("exe-access-x=%s\n", result(access(path, X_OK)));
        return 0;
}

static int cmd_hostname(int argc, char **argv) {
        struct utsname u;

        if (uname(&u) < 0)
                return fail("uname: %m");
        printf("hostname=%s\n", u.nodename);
        return 0;
}

static int cmd_env(int argc, char **argv) {
        char **e;

        for (e = environ; *e; e++)
                printf("%s\n", *e);
        return 0;
}

static int cmd_sleep(int argc, char **argv) {
        pause_forever();
}

static int cmd_exit(int argc, char **argv) {
        long status;

        if (parse_long(argv[1], &status) < 0)
                return fail("bad status '%s'", argv[1]);
        fflush(stdout);
        _exit((int) (status & 0xff));
}

static int cmd_kill_self(int argc, char **argv) {
        sigset_t set;
        long sig;

        if (parse_long(argv[1], &sig) < 0 || sig <= 0 || sig >= NSIG)
                return fail("bad signal '%s'", argv[1]);
        fflush(stdout);
        /* Default action and unblocked, whatever we inherited, so the signal does what it says. */
        signal((int) sig, SIG_DFL);
        sigemptyset(&set);
        sigaddset(&set, (int) sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise((int) sig);
        return fail("still alive after signal %ld", sig);
}

static int cmd_init_sigs(int argc, char **argv) {
        printf("pid=%d\nppid=%d\n", (int) getpid(), (int) getppid());
        return 0;
}

static int usage(FILE *out);

static int cmd_help(int argc, char **argv) {
        return usage(stdout);
}

/*
 * The commands. min_args counts the arguments after the command name; usage names them, for
 * the help text and for the message when too few are given.
 */
static const struct {
        const char *name;
        int (*fn)(int argc, char **argv);
        int min_args;
        const char *usage; /* the arguments */
        const char *help;
} commands[] = {
        { "caps", cmd_caps, 0, "", "Cap*, NoNewPrivs, Seccomp from /proc/self/status" },
        { "ids", cmd_ids, 0, "", "uid gid euid egid groups umask cwd uid_map gid_map setgroups" },
        { "fds", cmd_fds, 0, "", "open fds as 'fd N -> target', then count=N" },
        { "syscall", cmd_syscall, 1, "NAME", "try one syscall: NAME=OK or NAME=ERRNO" },
        { "memhog", cmd_memhog, 1, "SIZE", "touch SIZE (64M) of memory, then sleep" },
        { "forkbomb", cmd_forkbomb, 1, "N", "fork N sleeping children, then sleep" },
        { "busy", cmd_busy, 0, "", "spin forever" },
        { "zombies", cmd_zombies, 1, "N", "leave N unreaped children, print zombies=N, sleep" },
        { "orphans", cmd_orphans, 1, "N [sleep]",
          "N double-forked orphans; zombies=N in the namespace after 1 s" },
        { "count-zombies", cmd_count_zombies, 0, "", "zombies=N in this PID namespace" },
        { "mknod-open", cmd_mknod_open, 4, "PATH b|c MAJ MIN", "mknod=... open=..." },
        { "write", cmd_write, 1, "PATH [TEXT]", "write=OK or write=ERRNO" },
        { "stat", cmd_stat, 1, "PATH", "uid gid mode type (lstat)" },
        { "readlink", cmd_readlink, 1, "PATH", "the link target" },
        { "cat", cmd_cat, 1, "PATH", "copy a file to stdout" },
        { "ls", cmd_ls, 1, "DIR", "sorted names, one a line" },
        { "mounts", cmd_mounts, 0, "", "mount points from /proc/self/mountinfo" },
        { "rlimit", cmd_rlimit, 0, "", "nofile nproc core as soft:hard" },
        { "sigmask", cmd_sigmask, 0, "", "SigBlk, SigIgn from /proc/self/status" },
        { "exe-write", cmd_exe_write, 0, "", "open /proc/self/exe and /proc/1/exe for writing" },
        { "swap", cmd_swap, 3, "DIR A B", "A a directory, B a symlink to /, names exchanged for ever" },
        { "race-victim", cmd_race_victim, 1, "DIR", "DIR must be swap's directory: else ESCAPED" },
        { "exe-info", cmd_exe_info, 1, "PID", "exe-target exe-dev-ino exe-open-write exe-access-x" },
        { "hostname", cmd_hostname, 0, "", "hostname=NAME" },
        { "env", cmd_env, 0, "", "the environment" },
        { "sleep", cmd_sleep, 0, "", "pause forever" },
        { "exit", cmd_exit, 1, "N", "exit with status N" },
        { "kill-self", cmd_kill_self, 1, "SIG", "raise signal number SIG" },
        { "init-sigs", cmd_init_sigs, 0, "", "pid=N ppid=N" },
        { "--help", cmd_help, 0, "", "this list" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static int usage(FILE *out) {
        size_t i;

        fprintf(out, "usage: keel-test COMMAND [ARGS...], or COMMAND [ARGS...] through a symlink\n\n");
        for (i = 0; i < N_COMMANDS; i++)
                fprintf(out, "  %-13s %-19s %s\n", commands[i].name, commands[i].usage, commands[i].help);
        return out == stdout ? 0 : 2;
}

int main(int argc, char **argv) {
        const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
        size_t i;

        /*
         * Line-buffered even into a pipe: tests read lines while we sleep, and fork() must not
         * copy half a buffer into the children.
         */
        setvbuf(stdout, NULL, _IOLBF, 0);

        base = base ? base + 1 : (argc > 0 ? argv[0] : "keel-test");
        /* Multi-call: a symlink named after a command runs it; otherwise argv[1] names it. */
        for (i = 0; i < N_COMMANDS; i++)
                if (strcmp(base, commands[i].name) == 0)
                        break;
        if (i == N_COMMANDS) {
                if (argc < 2)
                        return usage(stderr);
                argc--;
                argv++;
                for (i = 0; i < N_COMMANDS; i++)
                        if (strcmp(argv[0], commands[i].name) == 0)
                                break;
                if (i == N_COMMANDS) {
                        fprintf(stderr, "keel-test: unknown command '%s'\n", argv[0]);
                        return usage(stderr);
                }
        }

        command = commands[i].name;
        if (argc - 1 < commands[i].min_args) {
                fprintf(stderr, "usage: keel-test %s %s\n", command, commands[i].usage);
                return 2;
        }
        return commands[i].fn(argc, argv);
}
