/* SPDX-License-Identifier: MIT */
/*
 * The device policy of every container, enforced by a BPF_PROG_TYPE_CGROUP_DEVICE program: the
 * cgroup v2 replacement for v1's devices.allow. The kernel runs it on mknod(2) and on open(2) of
 * a device node by any process in the cgroup, with a struct bpf_cgroup_dev_ctx; returning 0
 * fails the call with EPERM, 1 lets it through.
 *
 * The program is written as raw instructions (no libbpf, no clang) generated from the rule table
 * below, so the policy reads as data.
 */
#include <ctype.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "devices.h"
#include "macros.h"

#define ANY (-1)

typedef struct DeviceRule {
        char type;            /* 'c' char, 'b' block */
        int32_t major, minor; /* ANY: every number */
        const char *access;   /* what it grants: 'r' read, 'w' write, 'm' mknod */
} DeviceRule;

/*
 * Docker's and runc's default: a container may create any node (images carry their own, and
 * mknod alone reaches no hardware), but may open only the devices its /dev holds. A node made
 * for the host's disk (b 8:0) exists, and opening it fails with EPERM. A device matching no
 * rule is denied; /dev/net/tun (c 10:200) is deliberately absent.
 */
static const DeviceRule device_rules[] = {
        { 'c', ANY, ANY, "m" },   { 'b', ANY, ANY, "m" }, { 'c', 1, 3, "rwm" }, /* /dev/null */
        { 'c', 1, 5, "rwm" },                                                   /* /dev/zero */
        { 'c', 1, 7, "rwm" },                                                   /* /dev/full */
        { 'c', 1, 8, "rwm" },                                                   /* /dev/random */
        { 'c', 1, 9, "rwm" },                                                   /* /dev/urandom */
        { 'c', 5, 0, "rwm" },                                                   /* /dev/tty */
        { 'c', 5, 1, "rwm" },                                                   /* /dev/console */
        { 'c', 5, 2, "rwm" },                                                   /* /dev/ptmx */
        { 'c', 136, ANY, "rwm" },                                               /* /dev/pts/N */
};

/* The registers the prologue fills from the context; R1 holds the context pointer. */
enum {
        R_ACCESS = BPF_REG_2, /* BPF_DEVCG_ACC_* bits the call asks for */
        R_TYPE = BPF_REG_3,   /* BPF_DEVCG_DEV_CHAR or _BLOCK */
        R_MAJOR = BPF_REG_4,
        R_MINOR = BPF_REG_5,
};

/* Per rule at most: type, access, major, minor tests, then "return 1". */
#define PROLOGUE_LEN 6
#define RULE_MAX_LEN 6
#define PROGRAM_MAX  (PROLOGUE_LEN + RULE_MAX_LEN * ELEMENTSOF(device_rules) + 2)

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
        return (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}

static struct bpf_insn ld_ctx_u32(uint8_t dst, size_t offset) {
        return insn(BPF_LDX | BPF_MEM | BPF_W, dst, BPF_REG_1, (int16_t) offset, 0);
}

/* Filled past max only in count: the caller learns the size it needs. */
typedef struct Builder {
        struct bpf_insn *insns;
        size_t n, max;
} Builder;

static void emit(Builder *b, struct bpf_insn i) {
        if (b->n < b->max)
                b->insns[b->n] = i;
        b->n++;
}

static int access_mask(const char *access) {
        int mask = 0;
        for (const char *c = access; *c; c++)
                switch (*c) {
                case 'r':
                        mask |= BPF_DEVCG_ACC_READ;
                        break;
                case 'w':
                        mask |= BPF_DEVCG_ACC_WRITE;
                        break;
                case 'm':
                        mask |= BPF_DEVCG_ACC_MKNOD;
                        break;
                default:
                        return -EINVAL;
                }
        return mask;
}

/* One rule: each test that fails jumps past the rule's "return 1" to the next rule. */
static int emit_rule(Builder *b, const DeviceRule *r) {
        int mask = access_mask(r->access);
        if (mask < 0)
                return mask;
        int type = r->type == 'c' ? BPF_DEVCG_DEV_CHAR : r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : -1;
        if (type < 0)
                return -EINVAL;

        size_t skips[4], n_skips = 0;
        skips[n_skips++] = b->n;
        emit(b, insn(BPF_JMP | BPF_JNE | BPF_K, R_TYPE, 0, 0, type));
        /* open(O_RDWR) asks for read and write at once: the rule must grant every bit asked,
         * so skip it if any asked bit lies outside its mask. */
        skips[n_skips++] = b->n;
        emit(b, insn(BPF_JMP | BPF_JSET | BPF_K, R_ACCESS, 0, 0, ~mask));
        if (r->major != ANY) {
                skips[n_skips++] = b->n;
                emit(b, insn(BPF_JMP | BPF_JNE | BPF_K, R_MAJOR, 0, 0, r->major));
        }
        if (r->minor != ANY) {
                skips[n_skips++] = b->n;
                emit(b, insn(BPF_JMP | BPF_JNE | BPF_K, R_MINOR, 0, 0, r->minor));
        }
        emit(b, insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1));
        emit(b, insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));

        /* Jump offsets count from the instruction after the jump. */
        for (size_t i = 0; i < n_skips; i++)
                if (skips[i] < b->max)
                        b->insns[skips[i]].off = (int16_t) (b->n - skips[i] - 1);
        return 0;
}

int devices_program_build(struct bpf_insn *insns, size_t max) {
        Builder b = { .insns = insns, .max = max };

        /* access_type packs the device type in its low 16 bits and the access in its high 16. */
        emit(&b, ld_ctx_u32(R_ACCESS, offsetof(struct bpf_cgroup_dev_ctx, access_type)));
        emit(&b, insn(BPF_ALU64 | BPF_MOV | BPF_X, R_TYPE, R_ACCESS, 0, 0));
        emit(&b, insn(BPF_ALU64 | BPF_AND | BPF_K, R_TYPE, 0, 0, 0xffff));
        emit(&b, insn(BPF_ALU64 | BPF_RSH | BPF_K, R_ACCESS, 0, 0, 16));
        emit(&b, ld_ctx_u32(R_MAJOR, offsetof(struct bpf_cgroup_dev_ctx, major)));
        emit(&b, ld_ctx_u32(R_MINOR, offsetof(struct bpf_cgroup_dev_ctx, minor)));

        for (size_t i = 0; i < ELEMENTSOF(device_rules); i++) {
                int r = emit_rule(&b, &device_rules[i]);
                if (r < 0)
                        return r;
        }

        /* No rule matched: deny. */
        emit(&b, insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0));
        emit(&b, insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));

        return b.n > max ? -ENOBUFS : (int) b.n;
}

static int sys_bpf(int cmd, union bpf_attr *attr) {
        return (int) syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

/* Appends the last lines of the verifier log that fit in err, newlines as "; ". The log starts
 * with a trace of every instruction it walked; the reason it gave up is at the end, before a
 * "processed N insns" summary that we drop. */
static void append_log_tail(char *err, size_t errlen, const char *log) {
        size_t len = strlen(log);
        for (int pass = 0; pass < 2; pass++) {
                while (len > 0 && isspace((unsigned char) log[len - 1]))
                        len--;
                const char *nl = memrchr(log, '\n', len);
                if (pass == 0 && nl && strncmp(nl + 1, "processed ", 10) == 0)
                        len = (size_t) (nl - log);
        }
        size_t used = strlen(err);
        if (len == 0 || used + 1 >= errlen)
                return;
        size_t room = errlen - used - 1;

        /* Whole lines, back from the end, while they fit; if not even the last one does, its
         * beginning. */
        size_t start = len, need = 0, end = len;
        for (;;) {
                const char *nl = memrchr(log, '\n', end);
                size_t ls = nl ? (size_t) (nl - log) + 1 : 0;
                size_t cost = end - ls + (end < len ? 2 : 0);
                if (need + cost > room) {
                        if (start == len)
                                start = ls;
                        break;
                }
                need += cost;
                start = ls;
                if (ls == 0)
                        break;
                end = ls - 1;
        }

        size_t o = used;
        for (size_t i = start; i < len && o + 1 < errlen; i++)
                if (log[i] != '\n')
                        err[o++] = log[i];
                else if (o + 3 < errlen) {
                        err[o++] = ';';
                        err[o++] = ' ';
                } else
                        break;
        err[o] = '\0';
}

int devices_program_load_insns(const struct bpf_insn *insns, size_t n, char *err, size_t errlen) {
        static const char license[] = "MIT"; /* no GPL-only helpers are called */
        union bpf_attr attr = {
                .prog_type = BPF_PROG_TYPE_CGROUP_DEVICE,
                .insns = (uint64_t) (uintptr_t) insns,
                .insn_cnt = (uint32_t) n,
                .license = (uint64_t) (uintptr_t) license,
        };
        /* The name bpftool and /proc/PID/fdinfo show. */
        memcpy(attr.prog_name, "keel_devices", sizeof "keel_devices");

        int fd = sys_bpf(BPF_PROG_LOAD, &attr);
        if (fd >= 0)
                return fd;
        int r = negative_errno();

        /* Load again with a log only on failure, as libbpf does: a log on success costs the
         * verifier time and us a buffer. The second attempt's errno may be ENOSPC (log
         * truncated), so the first one is what we report. */
        enum { LOG_SIZE = 64 * 1024 };
        _cleanup_free_ char *log = NULL;
        if (r == -EINVAL || r == -EACCES) {
                log = calloc(1, LOG_SIZE);
                if (log) {
                        attr.log_level = 1;
                        attr.log_size = LOG_SIZE;
                        attr.log_buf = (uint64_t) (uintptr_t) log;
                        fd = sys_bpf(BPF_PROG_LOAD, &attr);
                        if (fd >= 0)
                                return fd;
                }
        }

        /* EINVAL with nothing in the log is the kernel not knowing the program type. */
        bool logged = log && log[0];
        const char *hint = r == -ENOSYS              ? " (is CONFIG_BPF_SYSCALL set?)"
                           : r == -EINVAL && !logged ? " (is CONFIG_CGROUP_BPF set?)"
                           : r == -EPERM             ? " (needs CAP_BPF or CAP_SYS_ADMIN)"
                                                     : "";
        snprintf(err, errlen, "load BPF_PROG_TYPE_CGROUP_DEVICE program: %s%s%s", strerror(-r), hint,
                 logged ? ": verifier: " : "");
        if (logged)
                append_log_tail(err, errlen, log);
        return r;
}

int devices_program_load(char *err, size_t errlen) {
        struct bpf_insn insns[PROGRAM_MAX];
        int n = devices_program_build(insns, ELEMENTSOF(insns));
        if (n < 0) {
                snprintf(err, errlen, "build device program: %s", strerror(-n));
                return n;
        }
        return devices_program_load_insns(insns, (size_t) n, err, errlen);
}

/* Whether prog_fd is among the programs attached to cgroup_fd itself (not its ancestors). */
static bool program_attached(int prog_fd, int cgroup_fd) {
        struct bpf_prog_info info = { 0 };
        union bpf_attr attr = {
                .info.bpf_fd = (uint32_t) prog_fd,
                .info.info_len = sizeof info,
                .info.info = (uint64_t) (uintptr_t) &info,
        };
        if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0)
                return false;

        /* 64 ids: a cgroup holds ours and what the container's own manager adds. ENOSPC
         * means more were attached than fit; the ids that fit are still filled in. */
        uint32_t ids[64];
        attr = (union bpf_attr){
                .query.target_fd = (uint32_t) cgroup_fd,
                .query.attach_type = BPF_CGROUP_DEVICE,
                .query.prog_ids = (uint64_t) (uintptr_t) ids,
                .query.prog_cnt = ELEMENTSOF(ids),
        };
        if (sys_bpf(BPF_PROG_QUERY, &attr) < 0 && errno != ENOSPC)
                return false;
        for (uint32_t i = 0; i < MIN(attr.query.prog_cnt, (uint32_t) ELEMENTSOF(ids)); i++)
                if (ids[i] == info.id)
                        return true;
        return false;
}

/*
 * BPF_F_ALLOW_MULTI, not 0 or BPF_F_ALLOW_OVERRIDE. With flags 0 no sub-cgroup of the container
 * could attach a program at all, which breaks a container manager or systemd running inside
 * (they attach their own device programs to cgroups they are delegated). With OVERRIDE a
 * sub-cgroup's program would replace ours and the container could grant itself any device.
 * With MULTI the kernel runs every program from the sub-cgroup up to ours and denies if any
 * says no, so nested programs may only narrow the policy.
 */
int devices_program_attach(int prog_fd, int cgroup_fd) {
        union bpf_attr attr = {
                .target_fd = (uint32_t) cgroup_fd,
                .attach_bpf_fd = (uint32_t) prog_fd,
                .attach_type = BPF_CGROUP_DEVICE,
                .attach_flags = BPF_F_ALLOW_MULTI,
        };
        if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0) {
                int r = negative_errno();
                /* MULTI refuses one program twice on one cgroup, with EINVAL. A container
                 * restarted in a cgroup that could not be removed already has exactly the
                 * policy it needs. */
                if (r == -EINVAL && program_attached(prog_fd, cgroup_fd))
                        return 0;
                return r;
        }
        return 0;
}
