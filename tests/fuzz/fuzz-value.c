/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the value parsers (value.h) and the structured unit keys (unit-keys.h).
 * The first byte picks the parser — a letter from the table below, so that seeds read as
 * "t1min 30s"; any other byte picks one by its value. The rest is split at newlines into
 * values (a unit file's values never hold one) fed in turn to the same parser and the same
 * field, as repeated keys are: that reaches the accumulating paths and their limits too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "unit-file.h"
#include "unit-keys.h"
#include "util.h"
#include "value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VALUES_MAX 128 /* past every list limit (64 mounts, 32 groups, 16 limits) */

/* Every field type a parser here can fill; each run starts from zero and frees what it has. */
typedef struct Fields {
        char **words;
        char *string;
        uint64_t u64;
        int signal;
        bool boolean;
        UnitMounts mounts;
        UnitRlimits rlimits;
        UserNSMode userns;
        NetworkMode network;
} Fields;

/* A value.h parser must leave its out-parameter alone on failure: the fields start at this
 * pattern and are checked against it after a failure. */
#define POISON_U64 UINT64_C(0x5a5a5a5a5a5a5a5a)
#define POISON_INT 0x5a5a5a5a

static void check_failed_reason(int r, const char *err) {
        /* unit-file.c prints "Key=: <err>": a failure must say why. */
        if (r == -EINVAL && !err[0])
                abort();
}

static int run_words(Fields *f, const char *v, char *err, size_t errlen) {
        char **words = NULL;
        int r = parse_words(v, &words, err, errlen);
        if (r == 0 && (!words || !words[0]))
                abort();
        if (r < 0 && words)
                abort();
        check_failed_reason(r, err);
        strv_free(f->words);
        f->words = words;
        return r;
}

static int run_environment(Fields *f, const char *v, char *err, size_t errlen) {
        char **env = NULL;
        int r = parse_environment(v, &env, err, errlen);
        if (r < 0 && env)
                abort();
        for (char **e = env; e && *e; e++) {
                const char *eq = strchr(*e, '=');
                if (!eq || !env_name_is_valid(*e, (size_t) (eq - *e)))
                        abort();
        }
        check_failed_reason(r, err);
        strv_free(f->words);
        f->words = env;
        return r;
}

static int run_u64(int (*parse)(const char *, uint64_t *), Fields *f, const char *v) {
        uint64_t x = POISON_U64;
        int r = parse(v, &x);
        if (r < 0 && x != POISON_U64)
                abort();
        f->u64 = x;
        return r;
}

static int run_timespan(Fields *f, const char *v, char *err, size_t errlen) {
        return run_u64(parse_timespan, f, v);
}

static int run_size(Fields *f, const char *v, char *err, size_t errlen) {
        return run_u64(parse_size, f, v);
}

static int run_percent(Fields *f, const char *v, char *err, size_t errlen) {
        return run_u64(parse_percent_basis, f, v);
}

static int run_boolean(Fields *f, const char *v, char *err, size_t errlen) {
        bool b = true;
        int r = parse_boolean(v, &b);
        if (r < 0 && !b)
                abort();
        f->boolean = b;
        return r;
}

static int run_signal(Fields *f, const char *v, char *err, size_t errlen) {
        int s = POISON_INT;
        int r = parse_signal(v, &s);
        if (r < 0 && s != POISON_INT)
                abort();
        if (r == 0 && s <= 0)
                abort();
        if (r == 0)
                (void) signal_name(s);
        f->signal = s;
        return r;
}

/* A unit-keys.h parser, and where in Fields its field is. */
#define KEY(fn, member)                                                                                     \
        static int run_##fn(Fields *f, const char *v, char *err, size_t errlen) {                           \
                int r = unit_key_##fn(v, &f->member, err, errlen);                                          \
                check_failed_reason(r, err);                                                                \
                return r;                                                                                   \
        }
KEY(volume, mounts)
KEY(mount, mounts)
KEY(tmpfs, mounts)
KEY(ulimit, rlimits)
KEY(cpus, string)
KEY(user, string)
KEY(groups, words)
KEY(weight, u64)
KEY(size0, u64)
KEY(userns, userns)
KEY(network, network)
KEY(seccomp, string)
KEY(environment_file, words)
#undef KEY

typedef int (*Runner)(Fields *f, const char *v, char *err, size_t errlen);

static const struct {
        char tag;
        Runner run;
} parsers[] = {
        { 'w', run_words },   { 'e', run_environment }, { 't', run_timespan }, { 's', run_size },
        { 'p', run_percent }, { 'b', run_boolean },     { 'k', run_signal },   { 'v', run_volume },
        { 'm', run_mount },   { 'f', run_tmpfs },       { 'u', run_ulimit },   { 'c', run_cpus },
        { 'U', run_user },    { 'g', run_groups },      { 'W', run_weight },   { 'z', run_size0 },
        { 'n', run_userns },  { 'N', run_network },     { 'S', run_seccomp },  { 'E', run_environment_file },
};

static Runner pick(uint8_t tag) {
        for (size_t i = 0; i < ELEMENTSOF(parsers); i++)
                if (parsers[i].tag == tag)
                        return parsers[i].run;
        return parsers[tag % ELEMENTSOF(parsers)].run;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        Runner run = pick(data[0]);
        /* One NUL-terminated copy; values are its lines, each its own string in place. */
        char *text = malloc(size);
        if (!text)
                return 0;
        memcpy(text, data + 1, size - 1);
        text[size - 1] = 0;

        Fields f = { 0 };
        char *v = text;
        for (unsigned n = 0; n < VALUES_MAX; n++) {
                char *nl = strchr(v, '\n');
                if (nl)
                        *nl = 0;
                char err[384] = "";
                (void) run(&f, v, err, sizeof err);
                if (strnlen(err, sizeof err) == sizeof err)
                        abort();
                if (f.mounts.n > UNIT_MOUNTS_MAX || f.rlimits.n > UNIT_RLIMITS_MAX)
                        abort();
                if (!nl)
                        break;
                v = nl + 1;
        }

        strv_free(f.words);
        free(f.string);
        unit_mounts_free(&f.mounts);
        free(f.rlimits.v);
        free(text);
        return 0;
}
