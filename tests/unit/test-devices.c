/* SPDX-License-Identifier: MIT */
/*
 * The device program against the real kernel: load it, attach it to a scratch cgroup, and have
 * a child in that cgroup mknod and open nodes. Needs root and a cgroup2 mount; without them (or
 * without bpf(2)) the whole file is skipped, never passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/bpf.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

#include "devices.h"
#include "macros.h"
#include "tap.h"
#include "util.h"

/* Finds the cgroup2 mount in mountinfo: /sys/fs/cgroup on a unified host, ..../unified on a
 * hybrid one. Mount points escape blanks as \040. */
static int find_cgroup2(char *ret, size_t len) {
        _cleanup_free_ char *buf = NULL;
        int r = read_file("/proc/self/mountinfo", 1 << 20, &buf, NULL);
        if (r < 0)
                return r;
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
                const char *sep = strstr(line, " - ");
                if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
                        continue;
                /* Fields: id parent major:minor root mountpoint ... */
                char *p = line;
                for (int i = 0; i < 4 && p; i++)
                        p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
                if (!p)
                        continue;
                size_t o = 0;
                for (; *p && *p != ' ' && o + 1 < len; p++) {
                        unsigned c;
                        if (p[0] == '\\' && sscanf(p + 1, "%3o", &c) == 1) {
                                ret[o++] = (char) c;
                                p += 3;
                        } else
                                ret[o++] = *p;
                }
                ret[o] = '\0';
                return 0;
        }
        return -ENOENT;
}

static void test_build(void) {
        struct bpf_insn insns[512];
        int n = devices_program_build(insns, ELEMENTSOF(insns));
        CHECK(n > 0);
        if (n <= 0)
                return;
        printf("# the program is %d instructions\n", n);
        CHECK(insns[n - 1].code == (BPF_JMP | BPF_EXIT));
        bool in_range = true;
        for (int i = 0; i < n; i++) {
                uint8_t cls = BPF_CLASS(insns[i].code);
                if ((cls == BPF_JMP || cls == BPF_JMP32) && BPF_OP(insns[i].code) != BPF_EXIT) {
                        int target = i + 1 + insns[i].off;
                        in_range = in_range && target > i && target < n;
                }
        }
        CHECK(in_range); /* forward only, no loop, no jump off the end */
        CHECK(devices_program_build(insns, 3) == -ENOBUFS);
        CHECK(devices_program_build(insns, (size_t) n) == n);
}

/* A program the verifier must refuse: it reads R5, which nothing has written. */
static void test_verifier_error(void) {
        const struct bpf_insn bad[] = {
                { .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_0, .src_reg = BPF_REG_5 },
                { .code = BPF_JMP | BPF_EXIT },
        };
        char err[512] = "";
        int r = devices_program_load_insns(bad, ELEMENTSOF(bad), err, sizeof err);
        printf("# %s\n", err);
        CHECK(r == -EACCES);
        CHECK(strstr(err, "verifier: ") != NULL);
        CHECK(strstr(err, "R5 !read_ok") != NULL);
        CHECK(strchr(err, '\n') == NULL);
        CHECK(strstr(err, "processed ") == NULL); /* the summary line says nothing of why */

        /* A small buffer keeps the last lines, whole, and stays terminated. */
        char small[80];
        memset(small, 'x', sizeof small);
        r = devices_program_load_insns(bad, ELEMENTSOF(bad), small, sizeof small);
        printf("# %s\n", small);
        CHECK(r == -EACCES && strlen(small) < sizeof small);
}

/* What the child does, node by node; "allowed" is the policy under test. */
static const struct {
        const char *name;
        mode_t type;
        unsigned major, minor;
        int flags;
        bool allowed;
} nodes[] = {
        { "null", S_IFCHR, 1, 3, O_RDWR, true },      { "zero", S_IFCHR, 1, 5, O_RDONLY, true },
        { "urandom", S_IFCHR, 1, 9, O_RDONLY, true }, { "tty", S_IFCHR, 5, 0, O_RDWR, true },
        { "pts", S_IFCHR, 136, 77, O_RDWR, true },    { "mem", S_IFCHR, 1, 1, O_RDONLY, false },
        { "kmsg", S_IFCHR, 1, 11, O_RDONLY, false },  { "tun", S_IFCHR, 10, 200, O_RDWR, false },
        { "sda", S_IFBLK, 8, 0, O_RDONLY, false },
};

/* Positive errno, 0 on success, per node: outside the cgroup (to tell our EPERM from the
 * driver's), then mknod and open inside it. */
typedef struct Report {
        char failed[64]; /* a setup step that failed, "" if none */
        int error;
        int before[ELEMENTSOF(nodes)], mknod[ELEMENTSOF(nodes)], open[ELEMENTSOF(nodes)];
} Report;

static int try_open(const char *path, int flags) {
        /* O_NONBLOCK: a tty or pty open must not wait for carrier. */
        int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return errno;
        close(fd);
        return 0;
}

static int child_run(const char *dir, const char *cgroup, Report *rep) {
        char p[PATH_MAX];

        /* A tmpfs of our own in a private mount namespace: the host's /tmp may be nodev, and
         * the nodes vanish with the namespace. */
        snprintf(rep->failed, sizeof rep->failed, "unshare/mount tmpfs");
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", dir, "tmpfs", 0, "mode=0700") < 0)
                return errno;

        snprintf(rep->failed, sizeof rep->failed, "mknod outside the cgroup");
        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                snprintf(p, sizeof p, "%s/before-%s", dir, nodes[i].name);
                if (mknod(p, nodes[i].type | 0600, makedev(nodes[i].major, nodes[i].minor)) < 0)
                        return errno;
                rep->before[i] = try_open(p, nodes[i].flags);
        }

        snprintf(rep->failed, sizeof rep->failed, "join the cgroup");
        snprintf(p, sizeof p, "%s/cgroup.procs", cgroup);
        int r = write_file(p, "0");
        if (r < 0)
                return -r;

        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                snprintf(p, sizeof p, "%s/%s", dir, nodes[i].name);
                rep->mknod[i] = mknod(p, nodes[i].type | 0600, makedev(nodes[i].major, nodes[i].minor)) < 0
                                        ? errno
                                        : 0;
                rep->open[i] = rep->mknod[i] ? -1 : try_open(p, nodes[i].flags);
        }
        rep->failed[0] = '\0';
        return 0;
}

static void rmdir_tempp(char **path) {
        if (*path && rmdir(*path) < 0)
                printf("# rmdir %s: %m\n", *path);
        free(*path);
}

/* A cgroup can read as busy for a moment after its last process is reaped. */
static void rmdir_cgroupp(char **path) {
        if (!*path)
                return;
        for (int i = 0; i < 100; i++) {
                if (rmdir(*path) == 0 || errno != EBUSY)
                        break;
                nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        if (access(*path, F_OK) == 0)
                printf("# rmdir %s: %m\n", *path);
        free(*path);
}

/* Kills and reaps a child the test gave up on, so the cgroup can go. */
static void reap_childp(pid_t *pid) {
        if (*pid > 0) {
                kill(*pid, SIGKILL);
                waitpid(*pid, NULL, 0);
        }
}

static void test_policy(int prog, const char *cgroup2) {
        /* Declared first, so removed last: after the child is reaped. */
        _cleanup_(rmdir_cgroupp) char *cgroup = NULL;
        _cleanup_(rmdir_tempp) char *dir = strdup("/tmp/keel-test-devices-XXXXXX");

        bool made = dir && mkdtemp(dir);
        CHECK(made);
        if (!made) {
                free(TAKE_PTR(dir));
                return;
        }
        if (asprintf(&cgroup, "%s/keel-test-devices-%d", cgroup2, (int) getpid()) < 0) {
                cgroup = NULL;
                CHECK(!"asprintf");
                return;
        }
        if (mkdir(cgroup, 0755) < 0) {
                printf("# mkdir %s: %m\n", cgroup);
                free(TAKE_PTR(cgroup));
                CHECK(!"mkdir cgroup");
                return;
        }

        _cleanup_close_ int cgfd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(cgfd >= 0);
        if (cgfd < 0)
                return;
        int r = devices_program_attach(prog, cgfd);
        if (r < 0)
                printf("# attach: %s\n", strerror(-r));
        CHECK(r == 0);
        CHECK(devices_program_attach(prog, cgfd) == 0); /* again: same program, no error */
        CHECK(devices_program_attach(prog, -1) == -EBADF);
        if (r < 0)
                return;

        int pipefd[2];
        CHECK(pipe2(pipefd, O_CLOEXEC) == 0);
        _cleanup_close_ int rd = pipefd[0];
        _cleanup_close_ int wr = pipefd[1];
        fflush(stdout);
        _cleanup_(reap_childp) pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid < 0)
                return;
        if (pid == 0) {
                alarm(30); /* never outlive a hung test */
                Report rep = { 0 };
                rep.error = child_run(dir, cgroup, &rep);
                _exit(write(wr, &rep, sizeof rep) == (ssize_t) sizeof rep ? 0 : 1);
        }
        wr = safe_close(wr);

        Report rep;
        ssize_t n = read(rd, &rep, sizeof rep);
        CHECK(n == (ssize_t) sizeof rep);
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        pid = 0;
        if (n != (ssize_t) sizeof rep)
                return;
        if (rep.failed[0])
                printf("# child: %s: %s\n", rep.failed, strerror(rep.error));
        CHECK(rep.error == 0);
        if (rep.error)
                return;

        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                printf("# %c %3u:%-3u %-8s outside: %s; inside: mknod %s, open %s\n",
                       nodes[i].type == S_IFBLK ? 'b' : 'c', nodes[i].major, nodes[i].minor, nodes[i].name,
                       strerror(rep.before[i]), strerror(rep.mknod[i]),
                       rep.open[i] < 0 ? "-" : strerror(rep.open[i]));
                tap_n++;
                bool ok = rep.mknod[i] == 0 &&
                          (nodes[i].allowed ? rep.open[i] == rep.before[i] : rep.open[i] == EPERM);
                if (!ok)
                        tap_failed++;
                printf("%s %d - %s %c %u:%u\n", ok ? "ok" : "not ok", tap_n,
                       nodes[i].allowed ? "mknod and open as outside" : "mknod, open EPERM",
                       nodes[i].type == S_IFBLK ? 'b' : 'c', nodes[i].major, nodes[i].minor);
        }
        /* An EPERM is the program's only if the same open got further outside the cgroup;
         * /dev/mem may be EPERM everywhere under lockdown, so ask for one such node, not all. */
        size_t ours = 0;
        for (size_t i = 0; i < ELEMENTSOF(nodes); i++)
                if (!nodes[i].allowed && rep.before[i] != EPERM)
                        ours++;
        CHECK(ours > 0);
}

int main(void) {
        char cgroup2[PATH_MAX];
        if (find_cgroup2(cgroup2, sizeof cgroup2) < 0) {
                printf("1..0 # SKIP no cgroup2 mount\n");
                return 0;
        }

        char err[1024] = "";
        _cleanup_close_ int prog = devices_program_load(err, sizeof err);
        if (prog == -ENOSYS || prog == -EPERM) {
                printf("1..0 # SKIP %s\n", err);
                return 0;
        }
        printf("# cgroup2 at %s\n", cgroup2);
        if (prog < 0)
                printf("# %s\n", err);
        CHECK(prog >= 0);
        CHECK(prog < 0 || fcntl(prog, F_GETFD) == FD_CLOEXEC);

        test_build();
        test_verifier_error();
        if (prog >= 0)
                test_policy(prog, cgroup2);
        TAP_DONE();
}
