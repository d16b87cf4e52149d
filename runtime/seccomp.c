/* SPDX-License-Identifier: MIT */
/*
 * Seccomp for containers: moby's default profile (or an OCI JSON profile), compiled with
 * libseccomp, exported as classic BPF and installed in the child with the raw seccomp()
 * syscall. The default profile's usual capability sets are compiled at build time by
 * seccomp-gen.c with this very code and embedded (seccomp-default.c); PID 1 compiles at run
 * time only other capability sets and JSON profiles.
 *
 * The default profile denies with EPERM what moby's default.json denies, but the filter's
 * default action is ENOSYS: every syscall number libseccomp knows gets an explicit rule
 * (allow, or EPERM), so only syscalls newer than our tables reach the default. A libc that
 * tries clone3() or a new *at2() call then sees "not implemented" and falls back, where
 * EPERM would make it give up.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "macros.h"
#include "seccomp-internal.h"

#define CAP(c) (UINT64_C(1) << (c))

/* libseccomp numbers every ABI below this; x32 tables also answer for 0..1023 unbiased. */
#define SYSCALL_NR_MAX 1024

/* moby's unconditional allowlist (profiles/seccomp/default.json, 2024), minus io_uring_*
 * (removed upstream in 2023: a steady source of kernel exploits) and minus the syscalls
 * filtered on their arguments below. Names libseccomp does not know are simply absent from
 * its tables, and so fall to the default action, ENOSYS. */
/* clang-format off */
static const char *const allow_always[] = {
        "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset",
        "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
        "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
        "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat", "dup",
        "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
        "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit",
        "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark",
        "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64",
        "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
        "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
        "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu",
        "getcwd", "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid",
        "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid",
        "getppid", "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32",
        "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt",
        "get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch",
        "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy",
        "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup",
        "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
        "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen",
        "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
        "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir",
        "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect",
        "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64",
        "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv",
        "msgsnd", "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep",
        "newfstatat", "_newselect", "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal",
        "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64",
        "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
        "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat",
        "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
        "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir", "rseq",
        "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
        "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
        "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
        "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
        "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
        "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
        "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid",
        "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32",
        "setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
        "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid",
        "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr", "shmat",
        "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
        "sigreturn", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink",
        "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time",
        "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64",
        "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
        "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit",
        "umask", "uname", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vfork",
        "vmsplice", "wait4", "waitid", "waitpid", "write", "writev",
        /* moby: "minKernel 4.8", which fixed the ptrace bypass of seccomp; keel's kernel is newer. */
        "ptrace", "process_vm_readv", "process_vm_writev",
        /* moby: only on x86 ("amd64", "x32", "x86"), and on an x86-64 host moby applies them to
         * all three ABIs. seccomp_context_new() refuses other hosts. */
        "arch_prctl", "modify_ldt",
};
/* clang-format on */

/* moby's capability-gated rules: allowed when the container holds the capability. With
 * CAP_SYS_ADMIN (mounts, namespaces, the new mount API, quotas, host names) clone and clone3
 * lose their argument filters too. */
typedef struct CapSyscall {
        int cap;
        const char *name;
} CapSyscall;

/* clang-format off */
static const CapSyscall allow_with_cap[] = {
        { CAP_DAC_READ_SEARCH, "open_by_handle_at" },
        { CAP_SYS_ADMIN, "bpf" }, { CAP_SYS_ADMIN, "clone" }, { CAP_SYS_ADMIN, "clone3" },
        { CAP_SYS_ADMIN, "fanotify_init" }, { CAP_SYS_ADMIN, "fsconfig" }, { CAP_SYS_ADMIN, "fsmount" },
        { CAP_SYS_ADMIN, "fsopen" }, { CAP_SYS_ADMIN, "fspick" }, { CAP_SYS_ADMIN, "lookup_dcookie" },
        { CAP_SYS_ADMIN, "mount" }, { CAP_SYS_ADMIN, "mount_setattr" }, { CAP_SYS_ADMIN, "move_mount" },
        { CAP_SYS_ADMIN, "open_tree" }, { CAP_SYS_ADMIN, "perf_event_open" }, { CAP_SYS_ADMIN, "quotactl" },
        { CAP_SYS_ADMIN, "quotactl_fd" }, { CAP_SYS_ADMIN, "setdomainname" },
        { CAP_SYS_ADMIN, "sethostname" }, { CAP_SYS_ADMIN, "setns" }, { CAP_SYS_ADMIN, "syslog" },
        { CAP_SYS_ADMIN, "umount" }, { CAP_SYS_ADMIN, "umount2" }, { CAP_SYS_ADMIN, "unshare" },
        { CAP_SYS_BOOT, "reboot" },
        { CAP_SYS_CHROOT, "chroot" },
        { CAP_SYS_MODULE, "delete_module" }, { CAP_SYS_MODULE, "init_module" },
        { CAP_SYS_MODULE, "finit_module" },
        { CAP_SYS_PACCT, "acct" },
        { CAP_SYS_PTRACE, "kcmp" }, { CAP_SYS_PTRACE, "pidfd_getfd" }, { CAP_SYS_PTRACE, "process_madvise" },
        { CAP_SYS_RAWIO, "iopl" }, { CAP_SYS_RAWIO, "ioperm" },
        { CAP_SYS_TIME, "settimeofday" }, { CAP_SYS_TIME, "stime" }, { CAP_SYS_TIME, "clock_settime" },
        { CAP_SYS_TIME, "clock_settime64" },
        { CAP_SYS_TTY_CONFIG, "vhangup" },
        { CAP_SYS_NICE, "get_mempolicy" }, { CAP_SYS_NICE, "mbind" }, { CAP_SYS_NICE, "set_mempolicy" },
        { CAP_SYS_NICE, "set_mempolicy_home_node" },
        { CAP_SYSLOG, "syslog" },
        { CAP_BPF, "bpf" },
        { CAP_PERFMON, "perf_event_open" },
};
/* clang-format on */

/*
 * Never allowed, whatever the capabilities. moby lists none of them, so they would get EPERM
 * anyway; default_allows() checks this table first so that no later edit of the tables above
 * lets one through. The kernel keyring is not namespaced, kexec and swap act on the host,
 * pivot_root is the runtime's own business, userfaultfd and io_uring are the usual raw
 * material of kernel exploits.
 */
/* clang-format off */
static const char *const never_allowed[] = {
        "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load", "pivot_root", "userfaultfd",
        "io_uring_setup", "io_uring_enter", "io_uring_register", "swapon", "swapoff",
};
/* clang-format on */

/* CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
 * CLONE_NEWNET: moby's 2114060288. */
#define CLONE_NS_FLAGS UINT64_C(0x7E020000)
#define AF_ALG_NR      38
#define AF_VSOCK_NR    40

/* personality() values moby allows: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32,
 * and 0xffffffff, which only queries. */
static const uint64_t personality_allowed[] = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff };

void seccomp_releasep(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

int seccomp_fail(char *err, size_t errlen, int r, const char *fmt, ...) {
        if (err && errlen > 0) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err, errlen, fmt, ap);
                va_end(ap);
        }
        return r;
}

bool seccomp_name_in(const char *name, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (streq(name, list[i]))
                        return true;
        return false;
}

/* What the default profile does with a syscall it has no argument rules for. */
static bool default_allows(const char *name, uint64_t caps) {
        if (seccomp_name_in(name, never_allowed, ELEMENTSOF(never_allowed)))
                return false;
        if (seccomp_name_in(name, allow_always, ELEMENTSOF(allow_always)))
                return true;
        for (size_t i = 0; i < ELEMENTSOF(allow_with_cap); i++)
                if ((caps & CAP(allow_with_cap[i].cap)) && streq(name, allow_with_cap[i].name))
                        return true;
        return false;
}

/* Syscalls whose rules look at arguments (or that return ENOSYS on purpose), added by
 * add_argument_rules() rather than by the sweep over the syscall tables. */
static bool default_is_special(const char *name, uint64_t caps) {
        static const char *const special[] = { "socket", "socketcall", "personality" };
        if (seccomp_name_in(name, special, ELEMENTSOF(special)))
                return true;
        /* Without CAP_SYS_ADMIN: clone is filtered on its flags, clone3 gets ENOSYS. */
        return !(caps & CAP(CAP_SYS_ADMIN)) && (streq(name, "clone") || streq(name, "clone3"));
}

static int rule_add(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
                    const struct scmp_arg_cmp *args, char *err, size_t errlen) {
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR)
                return seccomp_fail(err, errlen, -ENOENT, "seccomp: syscall %s unknown to libseccomp %u.%u",
                                    name, seccomp_version()->major, seccomp_version()->minor);
        int r = seccomp_rule_add_array(ctx, action, nr, n, args);
        if (r < 0)
                return seccomp_fail(err, errlen, r, "seccomp: add rule for %s: %s", name, strerror(-r));
        return 0;
}

static int add_argument_rules(scmp_filter_ctx ctx, uint64_t caps, char *err, size_t errlen) {
        const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
        int r;

        /*
         * socket(): everything but AF_ALG (the kernel crypto API, CVE-2026-31431) and AF_VSOCK
         * (host-guest sockets). The kernel reads the family as an int, so a family with bits
         * above 31 set would be AF_ALG to it but "> 40" to moby's 64-bit comparison: such calls
         * get EPERM too. That rule overlaps the "> 40" one; libseccomp tests the larger bound
         * first, which the unit test checks, since it is not a documented promise.
         *
         * On i386, libseccomp also emits a socketcall(SYS_SOCKET) twin of every socket rule,
         * and the twin cannot see the family (it is behind a pointer). So socketcall as a
         * whole is denied, first, so that its unconditional rule absorbs the twins. moby
         * denies it too, with ENOSYS; ours is EPERM because ENOSYS is the default action,
         * which libseccomp refuses as a rule. musl and Linux >= 4.3 use the direct socket
         * syscalls on i386; a 32-bit glibc built for older kernels gets no sockets.
         */
        if ((r = rule_add(ctx, eperm, "socketcall", 0, NULL, err, errlen)) < 0)
                return r;
        const struct scmp_arg_cmp sock_deny[] = {
                SCMP_A0(SCMP_CMP_EQ, AF_ALG_NR),
                SCMP_A0(SCMP_CMP_EQ, AF_VSOCK_NR),
                SCMP_A0(SCMP_CMP_GT, UINT32_MAX),
        };
        const struct scmp_arg_cmp sock_allow[] = {
                SCMP_A0(SCMP_CMP_LT, AF_ALG_NR),
                SCMP_A0(SCMP_CMP_EQ, AF_ALG_NR + 1),
                SCMP_A0(SCMP_CMP_GT, AF_VSOCK_NR),
        };
        for (size_t i = 0; i < ELEMENTSOF(sock_deny); i++)
                if ((r = rule_add(ctx, eperm, "socket", 1, &sock_deny[i], err, errlen)) < 0)
                        return r;
        for (size_t i = 0; i < ELEMENTSOF(sock_allow); i++)
                if ((r = rule_add(ctx, SCMP_ACT_ALLOW, "socket", 1, &sock_allow[i], err, errlen)) < 0)
                        return r;

        /*
         * personality(): the listed values, EPERM for the rest. The catch-all overlaps the
         * allowed values; libseccomp tests equalities before ranges on the same argument (the
         * unit test checks this too).
         */
        for (size_t i = 0; i < ELEMENTSOF(personality_allowed); i++) {
                const struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_EQ, personality_allowed[i]);
                if ((r = rule_add(ctx, SCMP_ACT_ALLOW, "personality", 1, &a, err, errlen)) < 0)
                        return r;
        }
        const struct scmp_arg_cmp any = SCMP_A0(SCMP_CMP_GE, 0);
        if ((r = rule_add(ctx, eperm, "personality", 1, &any, err, errlen)) < 0)
                return r;

        if (caps & CAP(CAP_SYS_ADMIN))
                return 0; /* clone and clone3 come unrestricted from allow_with_cap */

        /*
         * clone(): no new namespaces (the flags are the first argument on x86; s390 swaps
         * them, which is why moby has two rules). One EPERM rule per namespace bit keeps the
         * rules disjoint, so their order does not matter. clone3() passes its flags behind a
         * pointer seccomp cannot read: it gets ENOSYS (the default, hence no rule) and libc
         * falls back to clone().
         */
        const struct scmp_arg_cmp no_ns = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NS_FLAGS, 0);
        if ((r = rule_add(ctx, SCMP_ACT_ALLOW, "clone", 1, &no_ns, err, errlen)) < 0)
                return r;
        for (int bit = 0; bit < 32; bit++) {
                uint64_t flag = UINT64_C(1) << bit;
                if (!(CLONE_NS_FLAGS & flag))
                        continue;
                const struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag);
                if ((r = rule_add(ctx, eperm, "clone", 1, &a, err, errlen)) < 0)
                        return r;
        }
        return 0;
}

/* The ABIs a process on this host can enter the kernel with. */
const uint32_t seccomp_x86_64_arches[3] = { SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32 };

/* A filter context with the default action, every ABI of an x86-64 host, and libseccomp's
 * binary-tree syscall lookup (a few hundred rules per ABI make a linear list slow). */
int seccomp_context_new(uint32_t def_action, scmp_filter_ctx *ret, char *err, size_t errlen) {
        if (seccomp_arch_native() != SCMP_ARCH_X86_64)
                return seccomp_fail(err, errlen, -EOPNOTSUPP, "seccomp: only x86-64 hosts are supported");
        _cleanup_seccomp_ scmp_filter_ctx ctx = seccomp_init(def_action);
        if (!ctx)
                return seccomp_fail(err, errlen, -ENOMEM, "seccomp: cannot create a filter context");
        for (size_t i = 1; i < ELEMENTSOF(seccomp_x86_64_arches); i++) {
                int r = seccomp_arch_add(ctx, seccomp_x86_64_arches[i]);
                if (r < 0 && r != -EEXIST)
                        return seccomp_fail(err, errlen, r, "seccomp: add architecture %s: %s",
                                            i == 1 ? "x86" : "x32", strerror(-r));
        }
        /* Older libseccomp lacks the attribute: a linear filter is slower, not wrong. */
        (void) seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        *ret = TAKE_PTR(ctx);
        return 0;
}

/* True if `name` is in the table of an ABI listed before arches[k] (its rule is added already:
 * a rule added by name covers every ABI that has the syscall). */
static bool seen_before(const char *name, size_t k) {
        for (size_t i = 0; i < k; i++)
                if (seccomp_syscall_resolve_name_arch(seccomp_x86_64_arches[i], name) >= 0)
                        return true;
        return false;
}

/* libseccomp writes BPF to an fd only (seccomp_export_bpf_mem() came in 2.6): a memfd,
 * read back into one allocation the child can hand to the kernel as it is. */
int seccomp_program_export(scmp_filter_ctx ctx, SeccompProgram *ret, char *err, size_t errlen) {
        _cleanup_close_ int fd = memfd_create("keel-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return seccomp_fail(err, errlen, negative_errno(), "seccomp: memfd_create: %m");
        int r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return seccomp_fail(err, errlen, r, "seccomp: export the filter: %s", strerror(-r));
        struct stat st;
        if (fstat(fd, &st) < 0)
                return seccomp_fail(err, errlen, negative_errno(), "seccomp: stat the exported filter: %m");
        size_t size = (size_t) st.st_size, n = size / sizeof(struct sock_filter);
        if (n == 0 || size % sizeof(struct sock_filter) != 0)
                return seccomp_fail(err, errlen, -EIO,
                                    "seccomp: libseccomp exported %zu bytes, not a BPF program", size);
        if (n > BPF_MAXINSNS)
                return seccomp_fail(err, errlen, -E2BIG,
                                    "seccomp: the filter has %zu instructions, the kernel takes %d", n,
                                    BPF_MAXINSNS);
        _cleanup_free_ struct sock_filter *insns = malloc(size);
        if (!insns)
                return seccomp_fail(err, errlen, -ENOMEM, "seccomp: out of memory");
        for (size_t done = 0; done < size;) {
                ssize_t k = pread(fd, (char *) insns + done, size - done, (off_t) done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return seccomp_fail(err, errlen, k < 0 ? negative_errno() : -EIO,
                                            "seccomp: read back the exported filter: %s",
                                            k < 0 ? strerror(errno) : "short read");
                done += (size_t) k;
        }
        ret->insns = TAKE_PTR(insns);
        ret->len = (unsigned short) n;
        return 0;
}

/* The capabilities the default profile looks at: a filter compiled for caps & mask is the
 * filter for caps, so the build-time table (seccomp-default.c) serves every unit whose other
 * capabilities differ. */
uint64_t seccomp_default_caps_mask(void) {
        uint64_t mask = CAP(CAP_SYS_ADMIN); /* clone's and clone3's rules */
        for (size_t i = 0; i < ELEMENTSOF(allow_with_cap); i++)
                mask |= CAP(allow_with_cap[i].cap);
        return mask;
}

int seccomp_program_compile_default(uint64_t caps, SeccompProgram *ret, char *err, size_t errlen) {
        _cleanup_seccomp_ scmp_filter_ctx ctx = NULL;
        int r = seccomp_context_new(SCMP_ACT_ERRNO(ENOSYS), &ctx, err, errlen);
        if (r < 0)
                return r;
        /* First: the socketcall rule must exist before any socket-family allow rule. */
        r = add_argument_rules(ctx, caps, err, errlen);
        if (r < 0)
                return r;

        /* Every syscall some ABI's table knows: allowed, or EPERM. Only what no table has
         * (newer than this libseccomp) is left to the default, ENOSYS. */
        for (size_t k = 0; k < ELEMENTSOF(seccomp_x86_64_arches); k++)
                for (int nr = 0; nr < SYSCALL_NR_MAX; nr++) {
                        _cleanup_free_ char *name =
                                seccomp_syscall_resolve_num_arch(seccomp_x86_64_arches[k], nr);
                        if (!name || seen_before(name, k) || default_is_special(name, caps))
                                continue;
                        uint32_t action =
                                default_allows(name, caps) ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(EPERM);
                        r = rule_add(ctx, action, name, 0, NULL, err, errlen);
                        if (r < 0)
                                return r;
                }

        return seccomp_program_export(ctx, ret, err, errlen);
}

void seccomp_program_free(SeccompProgram *p) {
        if (!p)
                return;
        free(p->insns);
        p->insns = NULL;
        p->len = 0;
}

int seccomp_program_install(const SeccompProgram *p) {
        if (!p || !p->insns || p->len == 0)
                return -EINVAL;
        struct sock_fprog prog = { .len = p->len, .filter = p->insns };
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
                return negative_errno();
        return 0;
}
