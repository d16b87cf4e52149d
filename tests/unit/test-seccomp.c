/* SPDX-License-Identifier: MIT */
/*
 * The seccomp module: compiles the default profile, installs it in a forked child and has the
 * child try syscalls with syscall(2) directly (so libc wrappers cannot hide what the kernel
 * said), the x86-64 ones and, through int $0x80, the i386 ones. The child reports each
 * errno over a pipe; the parent checks them. Needs root (CAP_SYS_ADMIN to install a filter
 * without no_new_privs, as the runtime's child does).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <seccomp.h>

#include "macros.h"
#include "seccomp-program.h"
#include "spec.h"
#include "tap.h"

#define CAP(c) (UINT64_C(1) << (c))

#define WANT_OK    0 /* the call succeeds */
#define MAX_PROBES 64

/* One syscall for the child to make, and the errno the parent expects (0: success). */
typedef struct Probe {
        const char *what;
        bool i386; /* through int $0x80, with i386 numbers */
        long nr;
        long a[6];
        int want;
        bool close_fd; /* the call returns an fd on success */
} Probe;

static void check_errno(const char *what, int got, int want) {
        tap_n++;
        if (got == want)
                printf("ok %d - %s: %s\n", tap_n, what, want ? strerrorname_np(want) : "succeeds");
        else {
                tap_failed++;
                printf("not ok %d - %s: got %s, want %s\n", tap_n, what,
                       got ? strerrorname_np(got) : "success", want ? strerrorname_np(want) : "success");
        }
}

/* A 32-bit syscall from this 64-bit process: the kernel (and seccomp, which sees
 * AUDIT_ARCH_I386) treats int $0x80 as the i386 ABI. It zeroes r8-r11 on the way out. */
static long int80(long nr, long a, long b, long c, long d) {
        long ret;
        __asm__ volatile("int $0x80"
                         : "=a"(ret)
                         : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d)
                         : "memory", "r8", "r9", "r10", "r11");
        return ret;
}

static bool have_ia32(void) {
        return int80(20 /* i386 getpid */, 0, 0, 0, 0) == getpid();
}

/* Child side: install, run each probe, send the errnos (0 for success), _exit. */
static _noreturn_ void child_run(const SeccompProgram *prog, const Probe *probes, size_t n, int fd) {
        int res[MAX_PROBES + 1];
        int r = seccomp_program_install(prog);
        res[0] = r < 0 ? -r : 0;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const Probe *p = &probes[i];
                long ret;
                if (p->i386) {
                        ret = int80(p->nr, p->a[0], p->a[1], p->a[2], p->a[3]);
                        res[i + 1] = ret < 0 && ret > -4096 ? (int) -ret : 0;
                } else {
                        ret = syscall(p->nr, p->a[0], p->a[1], p->a[2], p->a[3], p->a[4], p->a[5]);
                        res[i + 1] = ret < 0 ? errno : 0;
                }
                if (p->close_fd && res[i + 1] == 0)
                        close((int) ret);
        }
        (void) !write(fd, res, sizeof(int) * (n + 1));
        _exit(0);
}

/* Forks a child that installs prog and makes the probes; checks what it reports. */
static void run_probes(const char *label, const SeccompProgram *prog, const Probe *probes, size_t n) {
        int p[2];
        if (n > MAX_PROBES || pipe2(p, O_CLOEXEC) < 0) {
                CHECK(!"pipe or too many probes");
                return;
        }
        pid_t pid = fork();
        if (pid == 0) {
                close(p[0]);
                child_run(prog, probes, n, p[1]);
        }
        close(p[1]);
        int res[MAX_PROBES + 1] = { 0 };
        ssize_t k = read(p[0], res, sizeof(int) * (n + 1));
        close(p[0]);
        int status = -1;
        waitpid(pid, &status, 0);

        char what[160];
        snprintf(what, sizeof what, "%s: child installs the filter", label);
        check_errno(what, k >= (ssize_t) sizeof(int) ? res[0] : EIO, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (k != (ssize_t) (sizeof(int) * (n + 1)))
                return;
        for (size_t i = 0; i < n; i++) {
                snprintf(what, sizeof what, "%s: %s", label, probes[i].what);
                check_errno(what, res[i + 1], probes[i].want);
        }
}

static int compile_default(uint64_t caps, SeccompProgram *prog, double *ms) {
        char err[256] = "";
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int r = seccomp_program_default(caps, prog, err, sizeof err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (ms)
                *ms = (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6;
        if (r < 0)
                printf("# seccomp_program_default: %s\n", err);
        return r;
}

static void test_compile(void) {
        SeccompProgram prog = { 0 };
        double ms = 0;
        CHECK(compile_default(CAPS_DEFAULT, &prog, &ms) == 0);
        printf("# default program: %u instructions, compiled in %.1f ms\n", prog.len, ms);
        CHECK(prog.insns && prog.len > 0 && prog.len <= BPF_MAXINSNS);
        CHECK(ms < 2000); /* bounded: once per unit start, in PID 1 */

        /* Every ABI of the host is covered: the program compares the arch to each token. */
        bool x86_64 = false, i386 = false, x32 = false;
        for (unsigned i = 0; i < prog.len; i++) {
                const struct sock_filter *f = &prog.insns[i];
                if (f->code != (BPF_JMP | BPF_JEQ | BPF_K) && f->code != (BPF_JMP | BPF_JGE | BPF_K))
                        continue;
                x86_64 |= f->k == AUDIT_ARCH_X86_64;
                i386 |= f->k == AUDIT_ARCH_I386;
                x32 |= f->k == 0x40000000; /* __X32_SYSCALL_BIT: x32 shares x86-64's arch token */
        }
        CHECK(x86_64);
        CHECK(i386);
        CHECK(x32);

        /* More capabilities, more rules: CAP_SYS_ADMIN lifts the argument filters of clone. */
        SeccompProgram admin = { 0 };
        CHECK(compile_default(CAPS_DEFAULT | CAP(CAP_SYS_ADMIN), &admin, NULL) == 0);
        CHECK(admin.len > 0 && admin.len != prog.len);
        seccomp_program_free(&admin);

        seccomp_program_free(&prog);
        CHECK(prog.insns == NULL && prog.len == 0);
        seccomp_program_free(&prog); /* twice is fine */
        seccomp_program_free(NULL);
        CHECK(seccomp_program_install(NULL) == -EINVAL);
        CHECK(seccomp_program_install(&prog) == -EINVAL);
}

static void test_default_caps(void) {
        SeccompProgram prog = { 0 };
        if (compile_default(CAPS_DEFAULT, &prog, NULL) < 0) {
                CHECK(!"compile the default program");
                return;
        }
        static char buf[1];
        int p[2];
        if (pipe(p) < 0 || write(p[1], "x", 1) != 1) {
                CHECK(!"pipe");
                return;
        }
        const long nf = (long) CLONE_NEWNS | CLONE_FS; /* EINVAL unfiltered: never a real clone */
        Probe probes[MAX_PROBES] = {
                /* Allowed. */
                { "getpid", false, SYS_getpid, { 0 }, WANT_OK, false },
                { "read", false, SYS_read, { p[0], (long) buf, 1 }, WANT_OK, false },
                { "write", false, SYS_write, { p[1], (long) "y", 1 }, WANT_OK, false },
                { "socket(AF_INET)", false, SYS_socket, { AF_INET, SOCK_STREAM, 0 }, WANT_OK, true },
                { "socket(AF_UNIX)", false, SYS_socket, { AF_UNIX, SOCK_DGRAM, 0 }, WANT_OK, true },
                { "personality(query)", false, SYS_personality, { 0xffffffff }, WANT_OK, false },
                { "chroot (CAP_SYS_CHROOT): the kernel's answer",
                  false,
                  SYS_chroot,
                  { (long) "/nonexistent-keel" },
                  ENOENT,
                  false },
                /* Not allowed without capabilities the container does not have. */
                { "mount", false, SYS_mount, { 0 }, EPERM, false },
                { "umount2", false, SYS_umount2, { (long) "/nonexistent-keel", 0 }, EPERM, false },
                { "unshare(CLONE_NEWUSER)", false, SYS_unshare, { CLONE_NEWUSER }, EPERM, false },
                { "setns", false, SYS_setns, { -1, 0 }, EPERM, false },
                { "sethostname", false, SYS_sethostname, { (long) "x", 1 }, EPERM, false },
                { "bpf", false, SYS_bpf, { -1, 0, 0 }, EPERM, false },
                { "open_by_handle_at", false, SYS_open_by_handle_at, { -1, 0, 0 }, EPERM, false },
                { "reboot (bad magic)", false, SYS_reboot, { 0, 0, 0, 0 }, EPERM, false },
                { "init_module", false, SYS_init_module, { 0, 0, 0 }, EPERM, false },
                { "clock_settime", false, SYS_clock_settime, { CLOCK_REALTIME, 0 }, EPERM, false },
                { "clone(CLONE_NEWNS)", false, SYS_clone, { nf, 0, 0, 0, 0 }, EPERM, false },
                { "clone(CLONE_NEWUSER)",
                  false,
                  SYS_clone,
                  { CLONE_NEWUSER | CLONE_FS, 0, 0, 0, 0 },
                  EPERM,
                  false },
                /* Never allowed. */
                { "keyctl", false, SYS_keyctl, { 0, -3, 0 }, EPERM, false },
                { "add_key", false, SYS_add_key, { 0, 0, 0, 0, 0 }, EPERM, false },
                { "request_key", false, SYS_request_key, { 0, 0, 0, 0 }, EPERM, false },
                { "kexec_load (bad flags)", false, SYS_kexec_load, { 0, 0, 0, 0x7fff0000 }, EPERM, false },
                { "pivot_root", false, SYS_pivot_root, { 0, 0 }, EPERM, false },
                { "userfaultfd", false, SYS_userfaultfd, { 0 }, EPERM, false },
                { "io_uring_setup", false, SYS_io_uring_setup, { 0, 0 }, EPERM, false },
                { "swapon", false, SYS_swapon, { 0, 0 }, EPERM, false },
                /* Filtered on their arguments. */
                { "socket(AF_ALG)", false, SYS_socket, { 38, SOCK_SEQPACKET, 0 }, EPERM, false },
                { "socket(AF_VSOCK)", false, SYS_socket, { 40, SOCK_STREAM, 0 }, EPERM, false },
                { "socket(AF_ALG with high bits set)",
                  false,
                  SYS_socket,
                  { 0x100000026, SOCK_SEQPACKET, 0 },
                  EPERM,
                  false },
                { "personality(0x12345)", false, SYS_personality, { 0x12345 }, EPERM, false },
                { "clone3: ENOSYS, so libc falls back to clone",
                  false,
                  SYS_clone3,
                  { 0, 0 },
                  ENOSYS,
                  false },
                /* Beyond every table. */
                { "syscall 1000", false, 1000, { 0 }, ENOSYS, false },
        };
        size_t n = 0;
        while (n < MAX_PROBES && probes[n].what)
                n++;

        /* A syscall the kernel has and libseccomp does not (listmount, Linux 6.8): ENOSYS. */
        if (seccomp_syscall_resolve_name("listmount") < 0 && n < MAX_PROBES)
                probes[n++] =
                        (Probe){ "listmount, unknown to libseccomp", false, 458, { 0 }, ENOSYS, false };

        if (have_ia32()) {
                const Probe i386[] = {
                        { "i386 getpid", true, 20, { 0 }, WANT_OK, false },
                        { "i386 mount", true, 21, { 0 }, EPERM, false },
                        { "i386 keyctl", true, 288, { 0, -3, 0 }, EPERM, false },
                        { "i386 unshare(CLONE_NEWUSER)", true, 310, { CLONE_NEWUSER }, EPERM, false },
                        { "i386 socket(AF_INET)", true, 359, { AF_INET, SOCK_STREAM, 0 }, WANT_OK, true },
                        { "i386 socket(AF_ALG)", true, 359, { 38, SOCK_SEQPACKET, 0 }, EPERM, false },
                        { "i386 socketcall, which hides the family", true, 102, { 1, 0 }, EPERM, false },
                        { "i386 clone3", true, 435, { 0, 0 }, ENOSYS, false },
                        { "i386 syscall 1000", true, 1000, { 0 }, ENOSYS, false },
                };
                for (size_t i = 0; i < ELEMENTSOF(i386) && n < MAX_PROBES; i++)
                        probes[n++] = i386[i];
        } else
                printf("# no IA32 emulation in this kernel: i386 probes skipped\n");

        run_probes("default caps", &prog, probes, n);
        close(p[0]);
        close(p[1]);
        seccomp_program_free(&prog);
}

/* fork() is clone() without namespace flags: allowed. */
static void test_fork(void) {
        SeccompProgram prog = { 0 };
        if (compile_default(CAPS_DEFAULT, &prog, NULL) < 0) {
                CHECK(!"compile the default program");
                return;
        }
        pid_t pid = fork();
        if (pid == 0) {
                if (seccomp_program_install(&prog) < 0)
                        _exit(2);
                pid_t c = fork();
                if (c < 0)
                        _exit(3);
                if (c == 0)
                        _exit(0);
                int st;
                _exit(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 4);
        }
        int status = -1;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        seccomp_program_free(&prog);
}

static void test_sys_admin(void) {
        SeccompProgram prog = { 0 };
        if (compile_default(CAPS_DEFAULT | CAP(CAP_SYS_ADMIN), &prog, NULL) < 0) {
                CHECK(!"compile the CAP_SYS_ADMIN program");
                return;
        }
        const Probe probes[] = {
                { "unshare(CLONE_NEWUTS)", false, SYS_unshare, { CLONE_NEWUTS }, WANT_OK, false },
                { "sethostname, in the new UTS namespace",
                  false,
                  SYS_sethostname,
                  { (long) "keel-test", 9 },
                  WANT_OK,
                  false },
                { "umount2: the kernel's answer",
                  false,
                  SYS_umount2,
                  { (long) "/nonexistent-keel", 0 },
                  ENOENT,
                  false },
                { "clone3: the kernel's answer", false, SYS_clone3, { 0, 0 }, EINVAL, false },
                { "keyctl, still", false, SYS_keyctl, { 0, -3, 0 }, EPERM, false },
                { "kexec_load, still", false, SYS_kexec_load, { 0, 0, 0, 0x7fff0000 }, EPERM, false },
                { "socket(AF_ALG), still", false, SYS_socket, { 38, SOCK_SEQPACKET, 0 }, EPERM, false },
        };
        run_probes("CAP_SYS_ADMIN", &prog, probes, ELEMENTSOF(probes));
        seccomp_program_free(&prog);
}

/* ---- the build-time table (seccomp-gen.c) against libseccomp now -------------------------------- */

/* The kernel's semantics (seccomp_program_eval()); a program it cannot evaluate fails the test. */
static bool bpf_eval(const struct sock_filter *insns, unsigned len, const struct seccomp_data *d,
                     uint32_t *ret) {
        SeccompProgram p = { .insns = (struct sock_filter *) insns, .len = (unsigned short) len };
        return seccomp_program_eval(&p, d, ret) == 0;
}

/* First arguments across every bound the default profile tests (socket families around
 * AF_ALG and AF_VSOCK, personality values, clone's namespace flags), then junk everywhere. */
static const uint64_t arg_values[] = {
        0,          1,           2,          8,          10,         37,         38,
        39,         40,          41,         0x11,       0x20000,    0x20008,    0x12345,
        0xffffffff, 0x100000026, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000,
        0x40000000, 0x7E020000,  0x00020000, 0x01200011, UINT64_MAX,
};

/* Every syscall number below 1100 of the three ABIs x every argument vector: how many
 * verdicts differ between two programs (or cannot be evaluated). */
static unsigned long verdicts_differ(const struct sock_filter *a, unsigned alen, const struct sock_filter *b,
                                     unsigned blen, unsigned long *checked) {
        static const struct {
                uint32_t arch, bias;
        } abis[] = { { AUDIT_ARCH_X86_64, 0 }, { AUDIT_ARCH_I386, 0 }, { AUDIT_ARCH_X86_64, 0x40000000 } };
        unsigned long differ = 0;
        *checked = 0;
        for (size_t abi = 0; abi < ELEMENTSOF(abis); abi++)
                for (int nr = 0; nr < 1100; nr++)
                        for (size_t v = 0; v < ELEMENTSOF(arg_values) + 1; v++) {
                                struct seccomp_data d = { .nr = (int) ((uint32_t) nr | abis[abi].bias),
                                                          .arch = abis[abi].arch };
                                for (int i = 0; i < 6; i++)
                                        d.args[i] = v < ELEMENTSOF(arg_values) ? (i == 0 ? arg_values[v] : 0)
                                                                               : UINT64_C(0x100000001);
                                uint32_t va = 0, vb = 0;
                                bool oka = bpf_eval(a, alen, &d, &va), okb = bpf_eval(b, blen, &d, &vb);
                                (*checked)++;
                                if (!oka || !okb || va != vb) {
                                        if (++differ <= 5)
                                                printf("# abi %zu nr %d vector %zu: %#x vs %#x\n", abi, nr,
                                                       v, va, vb);
                                }
                        }
        return differ;
}

/* Every program of the build-time table is what libseccomp compiles now for its capabilities:
 * the same instructions, and the same verdict for every syscall, ABI and argument vector. */
static void test_precompiled(void) {
        CHECK(seccomp_n_precompiled >= 2);
        for (size_t i = 0; i < seccomp_n_precompiled; i++) {
                const SeccompPrecompiled *pc = &seccomp_precompiled[i];
                SeccompProgram now = { 0 };
                char err[256] = "";
                if (seccomp_program_compile_default(pc->caps, &now, err, sizeof err) < 0) {
                        printf("# %s\n", err);
                        CHECK(!"compile the precompiled set at run time");
                        continue;
                }
                printf("# precompiled set %zu: capabilities %#llx, %u instructions (now: %u)\n", i,
                       (unsigned long long) pc->caps, pc->len, now.len);
                CHECK(pc->caps == (pc->caps & seccomp_default_caps_mask()));
                CHECK(pc->len == now.len);
                CHECK(pc->len == now.len && memcmp(pc->insns, now.insns, now.len * sizeof *now.insns) == 0);
                unsigned long checked = 0;
                unsigned long differ = verdicts_differ(pc->insns, pc->len, now.insns, now.len, &checked);
                printf("# %lu verdicts compared\n", checked);
                CHECK(checked > 3 * 1024 && differ == 0);
                seccomp_program_free(&now);
        }

        /* Docker's set is in the table, and so is every set differing from it only in
         * capabilities the profile does not look at. */
        const SeccompPrecompiled *def = seccomp_precompiled_find(CAPS_DEFAULT);
        CHECK(def != NULL);
        CHECK(seccomp_precompiled_find(CAPS_DEFAULT | CAP(CAP_NET_ADMIN) | CAP(CAP_SYS_RESOURCE)) == def);
        CHECK(seccomp_precompiled_find(CAPS_DEFAULT | CAP(CAP_SYS_ADMIN)) != NULL);
        CHECK(seccomp_precompiled_find(CAPS_DEFAULT | CAP(CAP_SYS_ADMIN)) != def);
        CHECK(seccomp_precompiled_find(CAPS_DEFAULT | CAP(CAP_SYS_PTRACE)) == NULL);

        /* seccomp_program_default() hands out a copy of the table's program. */
        SeccompProgram got = { 0 };
        char err[256] = "";
        CHECK(seccomp_program_default(CAPS_DEFAULT | CAP(CAP_NET_ADMIN), &got, err, sizeof err) == 0);
        CHECK(def && got.insns && got.insns != def->insns && got.len == def->len &&
              memcmp(got.insns, def->insns, def->len * sizeof *def->insns) == 0);
        seccomp_program_free(&got);

        /* The mask is right: a capability outside it changes nothing libseccomp compiles. */
        SeccompProgram base = { 0 };
        CHECK(seccomp_program_compile_default(CAPS_DEFAULT, &base, err, sizeof err) == 0);
        unsigned same = 0, outside = 0;
        for (int c = 0; c <= CAP_LAST_CAP; c++) {
                if (seccomp_default_caps_mask() & CAP(c) || CAPS_DEFAULT & CAP(c))
                        continue;
                outside++;
                SeccompProgram p = { 0 };
                if (seccomp_program_compile_default(CAPS_DEFAULT | CAP(c), &p, err, sizeof err) == 0 &&
                    p.len == base.len && memcmp(p.insns, base.insns, p.len * sizeof *p.insns) == 0)
                        same++;
                else
                        printf("# capability %d changes the compiled program but is outside the mask\n", c);
                seccomp_program_free(&p);
        }
        CHECK(outside > 0 && same == outside);
        /* And one inside it does change it (so the comparison above can fail). */
        SeccompProgram ptrace = { 0 };
        CHECK(seccomp_program_compile_default(CAPS_DEFAULT | CAP(CAP_SYS_PTRACE), &ptrace, err,
                                              sizeof err) == 0);
        CHECK(ptrace.len != base.len ||
              memcmp(ptrace.insns, base.insns, base.len * sizeof *base.insns) != 0);
        unsigned long checked = 0;
        CHECK(verdicts_differ(ptrace.insns, ptrace.len, base.insns, base.len, &checked) > 0);
        seccomp_program_free(&ptrace);
        seccomp_program_free(&base);
}

/* The profile text in a memfd, reachable by path as /proc/self/fd/N. */
static int profile_fd(const char *text, char *path, size_t pathlen) {
        int fd = memfd_create("profile.json", MFD_CLOEXEC);
        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text))
                return -1;
        snprintf(path, pathlen, "/proc/self/fd/%d", fd);
        return fd;
}

static const char good_profile[] =
        "{\n"
        "  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n"
        "  \"archMap\": [ { \"architecture\": \"SCMP_ARCH_AARCH64\", \"subArchitectures\": [ "
        "\"SCMP_ARCH_ARM\" ] },\n"
        "               { \"architecture\": \"SCMP_ARCH_X86_64\",\n"
        "                 \"subArchitectures\": [ \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\" ] } ],\n"
        "  \"syscalls\": [\n"
        "    { \"names\": [ \"getppid\" ], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13 },\n"
        "    { \"names\": [ \"mkdirat\", \"a_syscall_from_the_future\" ], \"action\": \"SCMP_ACT_ERRNO\",\n"
        "      \"comment\": \"errno defaults to EPERM; unknown names are skipped\" },\n"
        "    { \"names\": [ \"personality\" ], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 22,\n"
        "      \"args\": [ { \"index\": 0, \"value\": 8, \"op\": \"SCMP_CMP_EQ\" } ] },\n"
        "    { \"names\": [ \"getpgid\" ], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 33,\n"
        "      \"args\": [ { \"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQ\" },\n"
        "                { \"index\": 0, \"value\": 2, \"op\": \"SCMP_CMP_EQ\" } ] },\n"
        "    { \"names\": [ \"getsid\" ], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 5,\n"
        "      \"includes\": { \"caps\": [ \"CAP_SYS_ADMIN\" ] } },\n"
        "    { \"names\": [ \"getpgrp\" ], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 6,\n"
        "      \"excludes\": { \"caps\": [ \"CAP_SYS_ADMIN\" ] } },\n"
        "    { \"names\": [ \"gettid\" ], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 7,\n"
        "      \"includes\": { \"arches\": [ \"s390x\" ] } },\n"
        "    { \"names\": [ \"getuid\" ], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 9,\n"
        "      \"includes\": { \"minKernel\": \"4.8\", \"arches\": [ \"amd64\" ] } },\n"
        "    { \"names\": [ \"getgid\" ], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 10,\n"
        "      \"excludes\": { \"minKernel\": \"4.8\" } },\n"
        "    { \"names\": [ \"getcwd\" ], \"action\": \"SCMP_ACT_ALLOW\" },\n"
        "    { \"name\": \"geteuid\", \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 11 }\n"
        "  ]\n"
        "}\n";

static void test_json_good(void) {
        char path[64], err[256] = "";
        int fd = profile_fd(good_profile, path, sizeof path);
        SeccompProgram prog = { 0 };
        int r = seccomp_program_from_json(path, CAPS_DEFAULT, &prog, err, sizeof err);
        if (r < 0)
                printf("# %s\n", err);
        CHECK(r == 0 && prog.len > 0);
        close(fd);
        if (r < 0)
                return;
        const Probe probes[] = {
                { "json: getppid, errnoRet 13", false, SYS_getppid, { 0 }, EACCES, false },
                { "json: mkdirat, EPERM by default",
                  false,
                  SYS_mkdirat,
                  { -1, (long) "", 0 },
                  EPERM,
                  false },
                { "json: personality(8)", false, SYS_personality, { 8 }, EINVAL, false },
                { "json: personality(query)", false, SYS_personality, { 0xffffffff }, WANT_OK, false },
                { "json: getpgid(1), first of two conditions on one arg",
                  false,
                  SYS_getpgid,
                  { 1 },
                  EDOM,
                  false },
                { "json: getpgid(2), second", false, SYS_getpgid, { 2 }, EDOM, false },
                { "json: getpgid(0), neither", false, SYS_getpgid, { 0 }, WANT_OK, false },
                { "json: getsid, includes a cap not held", false, SYS_getsid, { 0 }, WANT_OK, false },
                { "json: getpgrp, excludes a cap not held", false, SYS_getpgrp, { 0 }, ENXIO, false },
                { "json: gettid, includes another arch", false, SYS_gettid, { 0 }, WANT_OK, false },
                { "json: getuid, includes minKernel 4.8 and amd64", false, SYS_getuid, { 0 }, EBADF, false },
                { "json: getgid, excludes minKernel 4.8", false, SYS_getgid, { 0 }, WANT_OK, false },
                { "json: geteuid, by legacy \"name\"", false, SYS_geteuid, { 0 }, EAGAIN, false },
                { "json: i386 getppid, through archMap", true, 64, { 0 }, EACCES, false },
        };
        run_probes("json", &prog, probes, have_ia32() ? ELEMENTSOF(probes) : ELEMENTSOF(probes) - 1);
        seccomp_program_free(&prog);

        /* With CAP_SYS_ADMIN the includes applies and the excludes drops its rule. */
        fd = profile_fd(good_profile, path, sizeof path);
        r = seccomp_program_from_json(path, CAPS_DEFAULT | CAP(CAP_SYS_ADMIN), &prog, err, sizeof err);
        CHECK(r == 0);
        close(fd);
        const Probe admin[] = {
                { "json+CAP_SYS_ADMIN: getsid", false, SYS_getsid, { 0 }, EIO, false },
                { "json+CAP_SYS_ADMIN: getpgrp", false, SYS_getpgrp, { 0 }, WANT_OK, false },
        };
        if (r == 0)
                run_probes("json", &prog, admin, ELEMENTSOF(admin));
        seccomp_program_free(&prog);
}

/* A broken profile fails with -EINVAL (unless want_r says otherwise) and a message that names
 * the file and the field. */
static void check_json_error(const char *text, int want_r, const char *want) {
        char path[64], err[256] = "", expect[320];
        int fd = profile_fd(text, path, sizeof path);
        SeccompProgram prog = { 0 };
        int r = seccomp_program_from_json(path, CAPS_DEFAULT, &prog, err, sizeof err);
        close(fd);
        snprintf(expect, sizeof expect, "%s%s", path, want);
        CHECK(r == want_r && prog.insns == NULL);
        CHECK_STR(err, expect);
}

static void test_json_errors(void) {
        check_json_error("{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [ }\n}\n", -EINVAL,
                         ":3: invalid JSON: unexpected character");
        check_json_error("{ \"defaultAction\": \"SCMP_ACT_ERRNO\"", -EINVAL,
                         ":1: invalid JSON: unexpected end of file");
        check_json_error("{ \"defaultAction\": \"SCMP_ACT_ERRNO\" } {}", -EINVAL,
                         ":1: invalid JSON: unexpected character");
        check_json_error("[]", -EINVAL, ": a seccomp profile is a JSON object");
        check_json_error("{ \"syscalls\": [] }", -EINVAL, ": profile: \"defaultAction\" is missing");
        check_json_error("{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"sycalls\": [] }", -EINVAL,
                         ": profile: unknown key \"sycalls\"");
        check_json_error("{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 5000 }", -EINVAL,
                         ": profile: \"defaultErrnoRet\" is 5000, more than 4095");
        check_json_error("{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [ \"SCMP_ARCH_X86\", "
                         "\"SCMP_ARCH_Z80\" ] }",
                         -EINVAL, ": architectures[1]: unknown architecture \"SCMP_ARCH_Z80\"");
        check_json_error("{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [\n"
                         "  { \"names\": [ \"read\" ], \"action\": \"SCMP_ACT_ALLOW\" },\n"
                         "  { \"names\": [ \"write\" ], \"action\": \"SCMP_ACT_ALOW\" } ] }",
                         -EINVAL, ": syscalls[1].action: unknown action \"SCMP_ACT_ALOW\"");
        check_json_error("{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [\n"
                         "  { \"names\": [ \"read\" ], \"action\": \"SCMP_ACT_ALLOW\",\n"
                         "    \"args\": [ { \"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\" } ] } ] }",
                         -EINVAL, ": syscalls[0].args[0]: \"index\" is 6, more than 5");
        check_json_error(
                "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [\n"
                "  { \"names\": [ \"read\" ], \"action\": \"SCMP_ACT_ALLOW\",\n"
                "    \"args\": [ { \"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQUALS\" } ] } ] }",
                -EINVAL, ": syscalls[0].args[0]: unknown op \"SCMP_CMP_EQUALS\"");
        check_json_error(
                "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [\n"
                "  { \"names\": [ \"read\" ], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [ { \"index\": 0,"
                " \"value\": -1, \"op\": \"SCMP_CMP_EQ\" } ] } ] }",
                -EINVAL, ": syscalls[0].args[0]: \"value\" must not be negative");
        check_json_error("{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [\n"
                         "  { \"names\": [ \"read\" ], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": { "
                         "\"minKernel\": "
                         "\"new\" } } ] }",
                         -EINVAL, ": syscalls[0].includes: minKernel \"new\" is not MAJOR.MINOR");
        check_json_error("{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [ { \"action\": "
                         "\"SCMP_ACT_ALLOW\" } ] }",
                         -EINVAL, ": syscalls[0]: no syscall \"names\"");
        check_json_error("{ \"defaultAction\": \"SCMP_ACT_NOTIFY\" }", -EINVAL,
                         ": defaultAction: SCMP_ACT_NOTIFY needs a seccomp agent, which keel does not have");
        /* Conflicting rules: libseccomp's refusal, with the rule that caused it. On i386 both
         * rules also make a socketcall(SYS_SOCKET) rule, with no family to tell them apart. */
        check_json_error(
                "{ \"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [ \"SCMP_ARCH_X86\" ],\n"
                "  \"syscalls\": [\n"
                "  { \"names\": [ \"socket\" ], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1,\n"
                "    \"args\": [ { \"index\": 0, \"value\": 38, \"op\": \"SCMP_CMP_EQ\" } ] },\n"
                "  { \"names\": [ \"socket\" ], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 2,\n"
                "    \"args\": [ { \"index\": 0, \"value\": 40, \"op\": \"SCMP_CMP_EQ\" } ] } ] }",
                -EEXIST, ": syscalls[1]: rule for socket: File exists");

        /* Too big to be a profile, and no file at all. */
        char path[64], err[256] = "";
        int fd = profile_fd("", path, sizeof path);
        SeccompProgram prog = { 0 };
        CHECK(fd >= 0 && ftruncate(fd, 2 * 1024 * 1024) == 0);
        CHECK(seccomp_program_from_json(path, CAPS_DEFAULT, &prog, err, sizeof err) == -EFBIG);
        CHECK(strstr(err, "more than the 1048576 a seccomp profile may have") != NULL);
        close(fd);
        CHECK(seccomp_program_from_json("/nonexistent/profile.json", CAPS_DEFAULT, &prog, err, sizeof err) ==
              -ENOENT);
        CHECK_STR(err, "/nonexistent/profile.json: No such file or directory");
}

int main(void) {
        if (geteuid() != 0) {
                printf("1..0 # SKIP needs root to install a seccomp filter without no_new_privs\n");
                return 0;
        }
        test_compile();
        test_precompiled();
        test_default_caps();
        test_fork();
        test_sys_admin();
        test_json_good();
        test_json_errors();
        TAP_DONE();
}
