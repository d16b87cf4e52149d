/* SPDX-License-Identifier: MIT */
/* SeccompProfile=/path.json: OCI and Docker seccomp profiles, compiled with libseccomp like
 * the built-in default (seccomp.c). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "seccomp-internal.h"

#define CAP(c) (UINT64_C(1) << (c))

/*
 * OCI / Docker JSON profiles, read the way runc and moby read them: a rule whose action is
 * the default action is dropped (libseccomp refuses it), names libseccomp does not know are
 * skipped, conditions on one argument index repeated become separate (OR'ed) rules, and
 * includes/excludes are judged against the container's capabilities and the host ("amd64").
 * Unlike them we reject unknown keys: a misspelt "syscalls" would otherwise deny everything
 * without a word.
 */
#define JSON_SIZE_MAX  (1024 * 1024)
#define JSON_DEPTH_MAX 16

typedef struct JsonProfile {
        const char *path;
        uint64_t caps;
        uint32_t def_action;
        char *err;
        size_t errlen;
} JsonProfile;

static void json_object_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

static void json_tokener_freep(json_tokener **t) {
        if (*t)
                json_tokener_free(*t);
}

_printf_(3, 4) static int json_fail(const JsonProfile *jp, const char *field, const char *fmt, ...) {
        char what[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        return seccomp_fail(jp->err, jp->errlen, -EINVAL, "%s: %s: %s", jp->path, field, what);
}

/* Every key of obj must be in keys (NULL-terminated). */
static int json_check_keys(const JsonProfile *jp, const char *field, json_object *obj,
                           const char *const *keys) {
        json_object_object_foreach(obj, key, val) {
                (void) val;
                bool known = false;
                for (const char *const *k = keys; *k && !known; k++)
                        known = streq(key, *k);
                if (!known)
                        return json_fail(jp, field, "unknown key \"%s\"", key);
        }
        return 0;
}

static int json_get(const JsonProfile *jp, const char *field, json_object *obj, const char *key,
                    json_type type, bool required, json_object **ret) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
                *ret = NULL;
                return required ? json_fail(jp, field, "\"%s\" is missing", key) : 0;
        }
        if (!json_object_is_type(v, type))
                return json_fail(jp, field, "\"%s\" must be %s", key,
                                 type == json_type_array    ? "an array"
                                 : type == json_type_object ? "an object"
                                 : type == json_type_string ? "a string"
                                                            : "an integer");
        *ret = v;
        return 0;
}

/* A non-negative integer; json-c keeps values above INT64_MAX as uint64. */
static int json_get_u64(const JsonProfile *jp, const char *field, json_object *obj, const char *key,
                        bool required, uint64_t max, uint64_t *ret) {
        json_object *v;
        int r = json_get(jp, field, obj, key, json_type_int, required, &v);
        if (r < 0 || !v)
                return r;
        if (json_object_get_int64(v) < 0) /* values above INT64_MAX read as INT64_MAX here */
                return json_fail(jp, field, "\"%s\" must not be negative", key);
        uint64_t u = json_object_get_uint64(v);
        if (u > max)
                return json_fail(jp, field, "\"%s\" is %" PRIu64 ", more than %" PRIu64, key, u, max);
        *ret = u;
        return 0;
}

static int json_action(const JsonProfile *jp, const char *field, json_object *obj, const char *key,
                       const char *errno_key, uint32_t *ret) {
        static const struct {
                const char *name;
                uint32_t action;
        } actions[] = {
                { "SCMP_ACT_KILL", SCMP_ACT_KILL },
                { "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL },
                { "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS },
                { "SCMP_ACT_TRAP", SCMP_ACT_TRAP },
                { "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW },
                { "SCMP_ACT_LOG", SCMP_ACT_LOG },
        };
        json_object *v;
        int r = json_get(jp, field, obj, key, json_type_string, true, &v);
        if (r < 0)
                return r;
        const char *name = json_object_get_string(v);
        uint64_t e = EPERM; /* runc's errno when the profile names none */
        if (streq(name, "SCMP_ACT_ERRNO") || streq(name, "SCMP_ACT_TRACE")) {
                if ((r = json_get_u64(jp, field, obj, errno_key, false, 4095, &e)) < 0)
                        return r;
                *ret = streq(name, "SCMP_ACT_ERRNO") ? SCMP_ACT_ERRNO(e) : SCMP_ACT_TRACE(e);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(actions); i++)
                if (streq(name, actions[i].name)) {
                        *ret = actions[i].action;
                        return 0;
                }
        /* "syscalls[3].action", or "defaultAction" at the top */
        bool top = streq(field, "profile");
        char f[96];
        snprintf(f, sizeof f, "%s%s%s", top ? "" : field, top ? "" : ".", key);
        if (streq(name, "SCMP_ACT_NOTIFY"))
                return json_fail(jp, f, "SCMP_ACT_NOTIFY needs a seccomp agent, which keel does not have");
        return json_fail(jp, f, "unknown action \"%s\"", name);
}

/* "SCMP_ARCH_X86_64" → libseccomp's token; 0 if libseccomp does not know it. */
static uint32_t json_arch_token(const char *name) {
        char lower[32];
        if (strncmp(name, "SCMP_ARCH_", 10) != 0 || strlen(name + 10) >= sizeof lower)
                return 0;
        size_t i = 0;
        for (const char *c = name + 10; *c; c++)
                lower[i++] = (char) (*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        lower[i] = 0;
        return seccomp_arch_resolve_name(lower);
}

/* Adds the ABIs in the array that can run here; others are valid but cannot occur. */
static int json_add_arches(const JsonProfile *jp, scmp_filter_ctx ctx, const char *field, json_object *arr) {
        for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
                char f[96];
                snprintf(f, sizeof f, "%s[%zu]", field, i);
                json_object *a = json_object_array_get_idx(arr, i);
                if (!json_object_is_type(a, json_type_string))
                        return json_fail(jp, f, "must be a string");
                const char *name = json_object_get_string(a);
                uint32_t token = json_arch_token(name);
                if (token == 0)
                        return json_fail(jp, f, "unknown architecture \"%s\"", name);
                for (size_t k = 1; k < ELEMENTSOF(seccomp_x86_64_arches); k++) {
                        if (token != seccomp_x86_64_arches[k])
                                continue;
                        int r = seccomp_arch_add(ctx, token);
                        if (r < 0 && r != -EEXIST)
                                return seccomp_fail(jp->err, jp->errlen, r, "%s: %s: add %s: %s", jp->path,
                                                    f, name, strerror(-r));
                }
        }
        return 0;
}

static int json_arches(const JsonProfile *jp, scmp_filter_ctx ctx, json_object *root) {
        static const char *const map_keys[] = { "architecture", "subArchitectures", NULL };
        json_object *arr, *map;
        int r;
        if ((r = json_get(jp, "profile", root, "architectures", json_type_array, false, &arr)) < 0 ||
            (r = json_add_arches(jp, ctx, "architectures", arr)) < 0 ||
            (r = json_get(jp, "profile", root, "archMap", json_type_array, false, &map)) < 0)
                return r;
        /* Docker's archMap: the entry of the host's architecture brings its sub-architectures. */
        for (size_t i = 0; map && i < json_object_array_length(map); i++) {
                char field[64];
                snprintf(field, sizeof field, "archMap[%zu]", i);
                json_object *e = json_object_array_get_idx(map, i), *arch, *subs;
                if (!json_object_is_type(e, json_type_object))
                        return json_fail(jp, field, "must be an object");
                if ((r = json_check_keys(jp, field, e, map_keys)) < 0 ||
                    (r = json_get(jp, field, e, "architecture", json_type_string, true, &arch)) < 0 ||
                    (r = json_get(jp, field, e, "subArchitectures", json_type_array, false, &subs)) < 0)
                        return r;
                uint32_t token = json_arch_token(json_object_get_string(arch));
                if (token == 0)
                        return json_fail(jp, field, "unknown architecture \"%s\"",
                                         json_object_get_string(arch));
                if (token != SCMP_ARCH_X86_64)
                        continue;
                snprintf(field, sizeof field, "archMap[%zu].subArchitectures", i);
                if ((r = json_add_arches(jp, ctx, field, subs)) < 0)
                        return r;
        }
        return 0;
}

/* "6.1.0-13-amd64" → 6001: major * 1000 + minor. */
static int parse_kernel_version(const char *s, unsigned *ret) {
        unsigned major, minor;
        int n = 0;
        if (sscanf(s, "%u.%u%n", &major, &minor, &n) != 2 || n == 0 || minor >= 1000 || major > 1000)
                return -EINVAL;
        *ret = major * 1000 + minor;
        return 0;
}

/* includes / excludes of a rule, as moby judges them: includes needs the host's arch (when
 * arches are listed), every listed capability and a new enough kernel; excludes drops the
 * rule on the host's arch, on any listed capability, or on a kernel at least minKernel. */
static int json_condition(const JsonProfile *jp, const char *field, json_object *obj, bool include,
                          bool *skip) {
        static const char *const keys[] = { "caps", "arches", "minKernel", NULL };
        json_object *caps, *arches, *min;
        int r;
        if (!json_object_is_type(obj, json_type_object))
                return json_fail(jp, field, "must be an object");
        if ((r = json_check_keys(jp, field, obj, keys)) < 0 ||
            (r = json_get(jp, field, obj, "caps", json_type_array, false, &caps)) < 0 ||
            (r = json_get(jp, field, obj, "arches", json_type_array, false, &arches)) < 0 ||
            (r = json_get(jp, field, obj, "minKernel", json_type_string, false, &min)) < 0)
                return r;
        size_t ncaps = caps ? json_object_array_length(caps) : 0, held = 0;
        for (size_t i = 0; i < ncaps; i++) {
                json_object *c = json_object_array_get_idx(caps, i);
                const char *name =
                        json_object_is_type(c, json_type_string) ? json_object_get_string(c) : NULL;
                /* cap_from_name() also takes "a,b" lists: only plain names here. */
                if (!name || !*name ||
                    name[strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")])
                        return json_fail(jp, field, "caps[%zu] must be a capability name", i);
                cap_value_t v;
                /* A capability this libcap does not know is one the container cannot hold. */
                if (cap_from_name(name, &v) == 0 && v >= 0 && v < 64 && (jp->caps & CAP(v)))
                        held++;
        }
        bool host_arch = false;
        size_t narches = arches ? json_object_array_length(arches) : 0;
        for (size_t i = 0; i < narches; i++) {
                json_object *a = json_object_array_get_idx(arches, i);
                if (!json_object_is_type(a, json_type_string))
                        return json_fail(jp, field, "arches[%zu] must be a string", i);
                host_arch |= streq(json_object_get_string(a), "amd64"); /* Go's name, as in moby */
        }
        bool new_enough = true;
        if (min) {
                unsigned want, have;
                struct utsname u;
                if (parse_kernel_version(json_object_get_string(min), &want) < 0)
                        return json_fail(jp, field, "minKernel \"%s\" is not MAJOR.MINOR",
                                         json_object_get_string(min));
                new_enough = uname(&u) == 0 && parse_kernel_version(u.release, &have) == 0 && have >= want;
        }
        if (include)
                *skip |= (narches > 0 && !host_arch) || held < ncaps || !new_enough;
        else
                *skip |= host_arch || held > 0 || (min && new_enough);
        return 0;
}

#define JSON_ARGS_MAX 16

static int json_args(const JsonProfile *jp, const char *field, json_object *arr, struct scmp_arg_cmp *ret,
                     unsigned *ret_n, bool *ret_repeated) {
        static const char *const keys[] = { "index", "value", "valueTwo", "op", NULL };
        static const char *const ops[] = {
                [SCMP_CMP_NE] = "SCMP_CMP_NE",
                [SCMP_CMP_LT] = "SCMP_CMP_LT",
                [SCMP_CMP_LE] = "SCMP_CMP_LE",
                [SCMP_CMP_EQ] = "SCMP_CMP_EQ",
                [SCMP_CMP_GE] = "SCMP_CMP_GE",
                [SCMP_CMP_GT] = "SCMP_CMP_GT",
                [SCMP_CMP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
        };
        size_t n = arr ? json_object_array_length(arr) : 0;
        unsigned seen = 0;
        if (n > JSON_ARGS_MAX)
                return json_fail(jp, field, "%zu args, more than %d", n, JSON_ARGS_MAX);
        *ret_repeated = false;
        for (size_t i = 0; i < n; i++) {
                char f[96];
                snprintf(f, sizeof f, "%s.args[%zu]", field, i);
                json_object *a = json_object_array_get_idx(arr, i), *op;
                uint64_t index = 0, value = 0, two = 0;
                int r;
                if (!json_object_is_type(a, json_type_object))
                        return json_fail(jp, f, "must be an object");
                if ((r = json_check_keys(jp, f, a, keys)) < 0 ||
                    (r = json_get_u64(jp, f, a, "index", true, 5, &index)) < 0 ||
                    (r = json_get_u64(jp, f, a, "value", true, UINT64_MAX, &value)) < 0 ||
                    (r = json_get_u64(jp, f, a, "valueTwo", false, UINT64_MAX, &two)) < 0 ||
                    (r = json_get(jp, f, a, "op", json_type_string, true, &op)) < 0)
                        return r;
                enum scmp_compare cmp = _SCMP_CMP_MIN;
                for (size_t k = 0; k < ELEMENTSOF(ops); k++)
                        if (ops[k] && streq(json_object_get_string(op), ops[k]))
                                cmp = (enum scmp_compare) k;
                if (cmp == _SCMP_CMP_MIN)
                        return json_fail(jp, f, "unknown op \"%s\"", json_object_get_string(op));
                /* For SCMP_CMP_MASKED_EQ, value is the mask and valueTwo the datum. */
                ret[i] = (struct scmp_arg_cmp){
                        .arg = (unsigned) index, .op = cmp, .datum_a = value, .datum_b = two
                };
                *ret_repeated |= (seen & (1u << index)) != 0;
                seen |= 1u << index;
        }
        *ret_n = (unsigned) n;
        return 0;
}

static int json_rule_add(const JsonProfile *jp, scmp_filter_ctx ctx, const char *field, uint32_t action,
                         const char *name, const struct scmp_arg_cmp *args, unsigned n, bool repeated) {
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR)
                return 0; /* newer than this libseccomp: left to the default action, as runc does */
        /* Two conditions on one argument mean "either" (runc), which libseccomp only takes
         * as separate rules. */
        for (unsigned i = 0; i < (repeated ? n : 1); i++) {
                int r = repeated ? seccomp_rule_add_array(ctx, action, nr, 1, &args[i])
                                 : seccomp_rule_add_array(ctx, action, nr, n, args);
                if (r < 0)
                        return seccomp_fail(jp->err, jp->errlen, r, "%s: %s: rule for %s: %s", jp->path,
                                            field, name, strerror(-r));
        }
        return 0;
}

static int json_syscall(const JsonProfile *jp, scmp_filter_ctx ctx, size_t i, json_object *e) {
        static const char *const keys[] = { "names",   "name",     "action",   "errnoRet", "args",
                                            "comment", "includes", "excludes", NULL };
        char field[48];
        snprintf(field, sizeof field, "syscalls[%zu]", i);
        if (!json_object_is_type(e, json_type_object))
                return json_fail(jp, field, "must be an object");
        json_object *names, *name, *args, *inc, *exc;
        uint32_t action;
        int r;
        if ((r = json_check_keys(jp, field, e, keys)) < 0 ||
            (r = json_get(jp, field, e, "names", json_type_array, false, &names)) < 0 ||
            (r = json_get(jp, field, e, "name", json_type_string, false, &name)) < 0 ||
            (r = json_action(jp, field, e, "action", "errnoRet", &action)) < 0 ||
            (r = json_get(jp, field, e, "args", json_type_array, false, &args)) < 0 ||
            (r = json_get(jp, field, e, "includes", json_type_object, false, &inc)) < 0 ||
            (r = json_get(jp, field, e, "excludes", json_type_object, false, &exc)) < 0)
                return r;
        size_t n = names ? json_object_array_length(names) : 0;
        if (n == 0 && !name)
                return json_fail(jp, field, "no syscall \"names\"");
        for (size_t k = 0; k < n; k++)
                if (!json_object_is_type(json_object_array_get_idx(names, k), json_type_string))
                        return json_fail(jp, field, "names[%zu] must be a string", k);

        struct scmp_arg_cmp conds[JSON_ARGS_MAX];
        unsigned nconds = 0;
        bool repeated = false, skip = false;
        char f[64];
        snprintf(f, sizeof f, "%s.includes", field);
        if (inc && (r = json_condition(jp, f, inc, true, &skip)) < 0)
                return r;
        snprintf(f, sizeof f, "%s.excludes", field);
        if (exc && (r = json_condition(jp, f, exc, false, &skip)) < 0)
                return r;
        if ((r = json_args(jp, field, args, conds, &nconds, &repeated)) < 0)
                return r;
        /* libseccomp refuses a rule that repeats the default action; it would change nothing. */
        if (skip || action == jp->def_action)
                return 0;

        if (name && (r = json_rule_add(jp, ctx, field, action, json_object_get_string(name), conds, nconds,
                                       repeated)) < 0)
                return r;
        for (size_t k = 0; k < n; k++)
                if ((r = json_rule_add(jp, ctx, field, action,
                                       json_object_get_string(json_object_array_get_idx(names, k)), conds,
                                       nconds, repeated)) < 0)
                        return r;
        return 0;
}

static int json_read(const JsonProfile *jp, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(jp->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return seccomp_fail(jp->err, jp->errlen, negative_errno(), "%s: %m", jp->path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return seccomp_fail(jp->err, jp->errlen, negative_errno(), "%s: %m", jp->path);
        if (!S_ISREG(st.st_mode))
                return seccomp_fail(jp->err, jp->errlen, -EINVAL, "%s: not a regular file", jp->path);
        if (st.st_size > JSON_SIZE_MAX)
                return seccomp_fail(jp->err, jp->errlen, -EFBIG,
                                    "%s: %jd bytes, more than the %d a seccomp profile may have", jp->path,
                                    (intmax_t) st.st_size, JSON_SIZE_MAX);
        _cleanup_free_ char *buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return seccomp_fail(jp->err, jp->errlen, -ENOMEM, "%s: out of memory", jp->path);
        size_t len = 0;
        while (len < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + len, (size_t) st.st_size - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return seccomp_fail(jp->err, jp->errlen, negative_errno(), "%s: %m", jp->path);
                if (k == 0)
                        break; /* shrank under us: parse what there is */
                len += (size_t) k;
        }
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static int json_parse(const JsonProfile *jp, const char *buf, size_t len, json_object **ret) {
        _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new_ex(JSON_DEPTH_MAX);
        if (!tok)
                return seccomp_fail(jp->err, jp->errlen, -ENOMEM, "%s: out of memory", jp->path);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        _cleanup_(json_object_putp) json_object *root = json_tokener_parse_ex(tok, buf, (int) len);
        enum json_tokener_error e = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        if (root && e == json_tokener_success)
                while (end < len && strchr(" \t\r\n", buf[end]))
                        end++;
        if (!root || e != json_tokener_success || end < len) {
                unsigned line = 1;
                for (size_t i = 0; i < end && i < len; i++)
                        line += buf[i] == '\n';
                const char *what = e == json_tokener_continue  ? "unexpected end of file"
                                   : e == json_tokener_success ? "data after the profile"
                                                               : json_tokener_error_desc(e);
                return seccomp_fail(jp->err, jp->errlen, -EINVAL, "%s:%u: invalid JSON: %s", jp->path, line,
                                    what);
        }
        if (!json_object_is_type(root, json_type_object))
                return seccomp_fail(jp->err, jp->errlen, -EINVAL, "%s: a seccomp profile is a JSON object",
                                    jp->path);
        *ret = TAKE_PTR(root);
        return 0;
}

/* flags are accepted and ignored: TSYNC has no use in a single-threaded child, and without
 * LOG or SPEC_ALLOW the filter only logs less and keeps the SSB mitigation. */
static int json_flags(const JsonProfile *jp, json_object *root) {
        static const char *const known[] = { "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                             "SECCOMP_FILTER_FLAG_SPEC_ALLOW" };
        json_object *flags, *listener;
        int r;
        if ((r = json_get(jp, "profile", root, "flags", json_type_array, false, &flags)) < 0 ||
            (r = json_get(jp, "profile", root, "listenerPath", json_type_string, false, &listener)) < 0)
                return r;
        if (listener && *json_object_get_string(listener))
                return json_fail(jp, "listenerPath", "seccomp agents are not supported");
        for (size_t i = 0; flags && i < json_object_array_length(flags); i++) {
                json_object *f = json_object_array_get_idx(flags, i);
                if (!json_object_is_type(f, json_type_string) ||
                    !seccomp_name_in(json_object_get_string(f), known, ELEMENTSOF(known)))
                        return json_fail(jp, "flags", "unknown flag at index %zu", i);
        }
        return 0;
}

int seccomp_program_from_json(const char *path, uint64_t caps, SeccompProgram *ret, char *err,
                              size_t errlen) {
        static const char *const keys[] = {
                "defaultAction", "defaultErrnoRet", "architectures",    "archMap", "syscalls",
                "flags",         "listenerPath",    "listenerMetadata", "comment", NULL
        };
        JsonProfile jp = { .path = path, .caps = caps, .err = err, .errlen = errlen };
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = json_read(&jp, &buf, &len);
        if (r < 0)
                return r;
        _cleanup_(json_object_putp) json_object *root = NULL;
        json_object *syscalls;
        if ((r = json_parse(&jp, buf, len, &root)) < 0 ||
            (r = json_check_keys(&jp, "profile", root, keys)) < 0 ||
            (r = json_action(&jp, "profile", root, "defaultAction", "defaultErrnoRet", &jp.def_action)) <
                    0 ||
            (r = json_flags(&jp, root)) < 0 ||
            (r = json_get(&jp, "profile", root, "syscalls", json_type_array, false, &syscalls)) < 0)
                return r;

        _cleanup_seccomp_ scmp_filter_ctx ctx = seccomp_init(jp.def_action);
        if (!ctx)
                return seccomp_fail(err, errlen, -ENOMEM, "%s: cannot create a seccomp filter context",
                                    path);
        (void) seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        if ((r = json_arches(&jp, ctx, root)) < 0)
                return r;
        for (size_t i = 0; syscalls && i < json_object_array_length(syscalls); i++)
                if ((r = json_syscall(&jp, ctx, i, json_object_array_get_idx(syscalls, i))) < 0)
                        return r;

        r = seccomp_program_export(ctx, ret, err, errlen);
        if (r < 0 && err && errlen > 0) {
                /* Name the file in messages from the shared exporter too. */
                char tmp[256];
                snprintf(tmp, sizeof tmp, "%s: %s", path, err);
                snprintf(err, errlen, "%s", tmp);
        }
        return r;
}
