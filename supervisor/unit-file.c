/* SPDX-License-Identifier: MIT */
/*
 * Unit files are INI with systemd's syntax, parsed by inih (Debian's libinih, v55) through a
 * reader of our own. Debian builds inih with its defaults, which silently diverge from systemd:
 * lines are cut at 200 bytes, ';' after whitespace starts an inline comment (so
 * `Exec=sh -c 'a ; b'` would arrive as `sh -c 'a`), an indented line continues the previous
 * value, and the handler never learns the line number. The reader therefore:
 *   - hands inih one logical line at a time, joining systemd's trailing-backslash
 *     continuations and counting physical lines, so every message has a file:line;
 *   - strips leading whitespace, so inih never sees a "continuation";
 *   - keeps each value for itself and gives inih only "Key=", so no value is ever truncated
 *     or cut at ';'. inih still does what it is good at: sections and key names.
 */
#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <ini.h>
#include <sys/capability.h>
#include <stdio.h>
#include <strings.h>

#include "macros.h"
#include "unit-file.h"
#include "unit-keys.h"
#include "util.h"
#include "value.h"

typedef int (*KeyParser)(const char *value, void *field, char *err, size_t errlen);

typedef struct UnitKey {
        const char *section;
        const char *key;
        KeyParser parse;
        size_t offset;
} UnitKey;

typedef struct Parser {
        const char *path;
        const char *buf;
        size_t len, pos;
        unsigned line;      /* first physical line of the logical line inih is looking at */
        unsigned next_line; /* physical line the next read starts on */
        char *value;        /* the current line's value, exactly as written */
        unsigned n_keys;
        UnitConfig *config;
        char **errors;
} Parser;

static const char *const known_sections[] = { "Unit", "Container", "Service" };

static _printf_(3, 4) void parser_error(Parser *p, unsigned line, const char *fmt, ...) {
        char msg[512], *full = NULL;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (strv_length(p->errors) >= 64) /* one broken file must not flood the console */
                return;
        int r = line > 0 ? asprintf(&full, "%s:%u: %s", p->path, line, msg)
                         : asprintf(&full, "%s: %s", p->path, msg);
        if (r >= 0)
                strv_push(&p->errors, full);
}

/* ---- key parsers: value → field ------------------------------------------------------------ */

static int key_string(const char *v, void *field, char *err, size_t errlen) {
        if (strlen(v) > 1024) {
                snprintf(err, errlen, "value too long (%zu bytes, limit 1024)", strlen(v));
                return -EINVAL;
        }
        return unit_field_set_string(field, v);
}

static int key_path(const char *v, void *field, char *err, size_t errlen) {
        if (v[0] != '/') {
                snprintf(err, errlen, "'%s' is not an absolute path", v);
                return -EINVAL;
        }
        /* The rootfs path goes into overlayfs' option string, where ',' and ':' are separators. */
        if (strpbrk(v, ",:\n") || strlen(v) >= 256) {
                snprintf(err, errlen, "path '%s' is too long or contains ',' or ':'", v);
                return -EINVAL;
        }
        return key_string(v, field, err, errlen);
}

static int key_exec(const char *v, void *field, char *err, size_t errlen) {
        char **words = NULL;
        int r = parse_words(v, &words, err, errlen);
        if (r < 0)
                return r;
        if (strv_length(words) > UNIT_LIST_MAX) {
                strv_free(words);
                snprintf(err, errlen, "too many arguments (limit %u)", UNIT_LIST_MAX);
                return -EINVAL;
        }
        strv_free(*(char ***) field);
        *(char ***) field = words;
        return 0;
}

static int key_environment(const char *v, void *field, char *err, size_t errlen) {
        char ***list = field;
        if (!*v) { /* as in systemd, an empty assignment resets the list */
                strv_free(*list);
                *list = NULL;
                return 0;
        }
        _cleanup_strv_free_ char **words = NULL;
        int r = parse_environment(v, &words, err, errlen);
        if (r < 0)
                return r;
        if (strv_length(*list) + strv_length(words) > UNIT_LIST_MAX) {
                snprintf(err, errlen, "too many environment variables (limit %u)", UNIT_LIST_MAX);
                return -EINVAL;
        }
        return strv_extend_strv(list, words);
}

static int key_hostname(const char *v, void *field, char *err, size_t errlen) {
        size_t n = strlen(v);
        bool ok = n > 0 && n <= 64 && v[0] != '-' && v[0] != '.';
        for (const char *c = v; ok && *c; c++)
                ok = isalnum((unsigned char) *c) || *c == '-' || *c == '.';
        if (!ok) {
                snprintf(err, errlen, "invalid host name '%s' (letters, digits, '-' and '.', at most 64)",
                         v);
                return -EINVAL;
        }
        return key_string(v, field, err, errlen);
}

static int key_restart(const char *v, void *field, char *err, size_t errlen) {
        int p = restart_policy_from_string(v);
        if (p < 0) {
                snprintf(err, errlen,
                         "invalid Restart= value '%s' (no, on-success, on-failure, on-abnormal, on-abort, "
                         "always)",
                         v);
                return -EINVAL;
        }
        ((RestartConfig *) field)->policy = (RestartPolicy) p;
        return 0;
}

static int key_exit_status(const char *v, void *field, char *err, size_t errlen) {
        if (!*v) { /* an empty assignment resets, as in systemd */
                *(ExitStatusSet *) field = (ExitStatusSet){ 0 };
                return 0;
        }
        return exit_status_set_parse(v, field, err, errlen);
}

static int key_uint(const char *v, void *field, char *err, size_t errlen) {
        char *end;
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (errno || end == v || *end || !isdigit((unsigned char) *v) || n > 10000) {
                snprintf(err, errlen, "invalid number '%s' (0 to 10000)", v);
                return -EINVAL;
        }
        *(unsigned *) field = (unsigned) n;
        return 0;
}

/* After=, Before=, Requires=, Wants=: unit names, with or without ".container", accumulated. */
static int key_units(const char *v, void *field, char *err, size_t errlen) {
        char ***list = field;
        if (!*v) {
                strv_free(*list);
                *list = NULL;
                return 0;
        }
        _cleanup_strv_free_ char **words = NULL;
        int r = parse_words(v, &words, err, errlen);
        if (r < 0)
                return r;
        for (char **w = words; *w; w++) {
                size_t l = strlen(*w);
                if (l > 10 && streq(*w + l - 10, ".container"))
                        (*w)[l - 10] = 0;
                if (!filename_is_valid_unit_name(*w)) {
                        snprintf(err, errlen, "invalid unit name '%s'", *w);
                        return -EINVAL;
                }
        }
        if (strv_length(*list) + strv_length(words) > 64) {
                snprintf(err, errlen, "too many units (limit 64)");
                return -EINVAL;
        }
        return strv_extend_strv(list, words);
}

static int key_timespan(const char *v, void *field, char *err, size_t errlen) {
        if (parse_timespan(v, field) < 0) {
                snprintf(err, errlen, "invalid time span '%s' (e.g. 500ms, 5s, 1min 30s)", v);
                return -EINVAL;
        }
        return 0;
}

static int key_signal(const char *v, void *field, char *err, size_t errlen) {
        if (parse_signal(v, field) < 0) {
                snprintf(err, errlen, "invalid signal '%s' (e.g. SIGTERM, TERM, 15)", v);
                return -EINVAL;
        }
        return 0;
}

static int key_size(const char *v, void *field, char *err, size_t errlen) {
        uint64_t b;
        if (parse_size(v, &b) < 0 || (b != UINT64_MAX && b < 4096)) {
                snprintf(err, errlen, "invalid size '%s' (e.g. 64M, 1G, infinity; at least 4K)", v);
                return -EINVAL;
        }
        *(uint64_t *) field = b;
        return 0;
}

static int key_count(const char *v, void *field, char *err, size_t errlen) {
        char *end;
        errno = 0;
        unsigned long long n = streq(v, "infinity") ? UINT64_MAX : strtoull(v, &end, 10);
        if (!streq(v, "infinity") && (errno != 0 || !isdigit((unsigned char) *v) || *end || n == 0)) {
                snprintf(err, errlen, "invalid count '%s' (a positive number or infinity)", v);
                return -EINVAL;
        }
        *(uint64_t *) field = n;
        return 0;
}

static int key_percent(const char *v, void *field, char *err, size_t errlen) {
        uint64_t p;
        /* cpu.max takes at least 1 ms of quota per 100 ms period: 1% */
        if (parse_percent_basis(v, &p) < 0 || p < 100) {
                snprintf(err, errlen,
                         "invalid percentage '%s' (e.g. 50%%, 200%% for two CPUs; at least 1%%)", v);
                return -EINVAL;
        }
        *(uint64_t *) field = p;
        return 0;
}

/* "NET_ADMIN cap_sys_time ALL": names as in capabilities(7), with or without CAP_, any case. */
static int key_capabilities(const char *v, void *field, char *err, size_t errlen) {
        _cleanup_strv_free_ char **words = NULL;
        int r = parse_words(v, &words, err, errlen);
        if (r < 0)
                return r;
        uint64_t mask = 0;
        for (char **w = words; *w; w++) {
                if (strcasecmp(*w, "ALL") == 0) {
                        mask = UINT64_MAX;
                        continue;
                }
                char name[64];
                snprintf(name, sizeof name, "%s%s", strncasecmp(*w, "CAP_", 4) == 0 ? "" : "cap_", *w);
                for (char *c = name; *c; c++)
                        *c = (char) tolower((unsigned char) *c);
                cap_value_t cap;
                if (strlen(*w) > 40 || cap_from_name(name, &cap) < 0 || cap < 0 || cap > 63) {
                        snprintf(err, errlen, "unknown capability '%s' (e.g. NET_ADMIN, SYS_TIME, ALL)", *w);
                        return -EINVAL;
                }
                mask |= UINT64_C(1) << cap;
        }
        *(uint64_t *) field |= mask;
        return 0;
}

static int key_boolean(const char *v, void *field, char *err, size_t errlen) {
        if (parse_boolean(v, field) < 0) {
                snprintf(err, errlen, "invalid boolean '%s' (yes/no, true/false, on/off, 1/0)", v);
                return -EINVAL;
        }
        return 0;
}

#define FIELD(f) offsetof(UnitConfig, f)
static const UnitKey unit_keys[] = {
        { "Unit", "Description", key_string, FIELD(description) },
        { "Container", "Rootfs", key_path, FIELD(rootfs) },
        { "Container", "Exec", key_exec, FIELD(exec) },
        { "Container", "Environment", key_environment, FIELD(environment) },
        { "Container", "HostName", key_hostname, FIELD(hostname) },
        { "Container", "AddCapability", key_capabilities, FIELD(caps_add) },
        { "Container", "DropCapability", key_capabilities, FIELD(caps_drop) },
        { "Container", "NoNewPrivileges", key_boolean, FIELD(no_new_privileges) },
        { "Container", "ReadOnly", key_boolean, FIELD(read_only) },
        { "Container", "WorkingDir", key_path, FIELD(working_dir) },
        { "Container", "Volume", unit_key_volume, FIELD(mounts) },
        { "Container", "Mount", unit_key_mount, FIELD(mounts) },
        { "Container", "Tmpfs", unit_key_tmpfs, FIELD(mounts) },
        { "Container", "User", unit_key_user, FIELD(user) },
        { "Container", "Group", unit_key_user, FIELD(group) },
        { "Container", "GroupAdd", unit_key_groups, FIELD(groups_add) },
        { "Container", "EnvironmentFile", unit_key_environment_file, FIELD(environment_files) },
        { "Container", "Ulimit", unit_key_ulimit, FIELD(ulimits) },
        { "Container", "RunInit", key_boolean, FIELD(run_init) },
        { "Container", "UserNS", unit_key_userns, FIELD(userns) },
        { "Container", "Network", unit_key_network, FIELD(network) },
        { "Container", "SeccompProfile", unit_key_seccomp, FIELD(seccomp_profile) },
        { "Container", "IP", unit_key_ip, FIELD(net) },
        { "Container", "PublishPort", unit_key_publish, FIELD(net) },
        { "Container", "AddHost", unit_key_add_host, FIELD(net) },
        { "Container", "DNS", unit_key_dns, FIELD(net) },
        { "Unit", "After", key_units, FIELD(after) },
        { "Unit", "Before", key_units, FIELD(before) },
        { "Unit", "Requires", key_units, FIELD(requires) },
        { "Unit", "Wants", key_units, FIELD(wants) },
        { "Unit", "StartLimitBurst", key_uint, FIELD(restart.burst) },
        { "Unit", "StartLimitIntervalSec", key_timespan, FIELD(restart.interval) },
        { "Service", "Restart", key_restart, FIELD(restart) },
        { "Service", "RestartSec", key_timespan, FIELD(restart.sec) },
        { "Service", "RestartSteps", key_uint, FIELD(restart.steps) },
        { "Service", "RestartMaxDelaySec", key_timespan, FIELD(restart.max_delay) },
        { "Service", "StartLimitBurst", key_uint, FIELD(restart.burst) },
        { "Service", "StartLimitIntervalSec", key_timespan, FIELD(restart.interval) },
        { "Service", "SuccessExitStatus", key_exit_status, FIELD(restart.success) },
        { "Service", "RestartPreventExitStatus", key_exit_status, FIELD(restart.prevent) },
        { "Service", "KillSignal", key_signal, FIELD(kill_signal) },
        { "Service", "TimeoutStopSec", key_timespan, FIELD(timeout_stop_usec) },
        { "Service", "MemoryMax", key_size, FIELD(memory_max) },
        { "Service", "TasksMax", key_count, FIELD(tasks_max) },
        { "Service", "CPUQuota", key_percent, FIELD(cpu_quota) },
        { "Service", "MemoryHigh", key_size, FIELD(memory_high) },
        { "Service", "MemorySwapMax", unit_key_size0, FIELD(memory_swap_max) },
        { "Service", "CPUWeight", unit_key_weight, FIELD(cpu_weight) },
        { "Service", "IOWeight", unit_key_weight, FIELD(io_weight) },
        { "Service", "AllowedCPUs", unit_key_cpus, FIELD(allowed_cpus) },
};

/* Levenshtein distance, capped: enough to catch "Exce" for "Exec". */
static size_t edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        if (la > 63 || lb > 63)
                return SIZE_MAX;
        size_t row[64];
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diag = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t up = row[j];
                        size_t cost = tolower((unsigned char) a[i - 1]) == tolower((unsigned char) b[j - 1])
                                              ? 0
                                              : 1;
                        row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + cost);
                        diag = up;
                }
        }
        return row[lb];
}

static void report_unknown_key(Parser *p, const char *section, const char *key) {
        const UnitKey *best = NULL;
        size_t best_d = 3; /* suggest only close matches */
        for (size_t i = 0; i < ELEMENTSOF(unit_keys); i++) {
                if (streq(unit_keys[i].key, key)) { /* right key, wrong section */
                        parser_error(p, p->line, "key '%s' belongs in [%s], not [%s]", key,
                                     unit_keys[i].section, section);
                        return;
                }
                /* The distance is at least the difference in length: skipping those keeps a file
                 * of long unknown keys cheap (it took seconds per input under the fuzzer). */
                size_t la = strlen(key), lb = strlen(unit_keys[i].key);
                if (!streq(unit_keys[i].section, section) || (la > lb ? la - lb : lb - la) >= best_d)
                        continue;
                size_t d = edit_distance(key, unit_keys[i].key);
                if (d < best_d) {
                        best_d = d;
                        best = &unit_keys[i];
                }
        }
        if (best)
                parser_error(p, p->line, "unknown key '%s' in [%s]; did you mean '%s'?", key, section,
                             best->key);
        else
                parser_error(p, p->line, "unknown key '%s' in [%s]", key, section);
}

static bool section_is_known(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(known_sections); i++)
                if (streq(known_sections[i], s))
                        return true;
        return false;
}

static int handler(void *user, const char *section, const char *key, const char *ignored) {
        (void) ignored; /* inih's copy of the value may be cut; ours is whole */
        Parser *p = user;
        if (!p->value)
                return 1;
        if (!*section) {
                parser_error(p, p->line, "key '%s' outside of a section", key);
                return 1;
        }
        if (!section_is_known(section))
                return 1; /* reported once, at the section header */
        if (++p->n_keys > UNIT_KEYS_MAX) {
                if (p->n_keys == UNIT_KEYS_MAX + 1)
                        parser_error(p, p->line, "too many keys (limit %u)", UNIT_KEYS_MAX);
                return 1;
        }
        for (size_t i = 0; i < ELEMENTSOF(unit_keys); i++) {
                const UnitKey *k = &unit_keys[i];
                if (!streq(k->section, section) || !streq(k->key, key))
                        continue;
                char err[384] = "";
                int r = k->parse(p->value, (char *) p->config + k->offset, err, sizeof err);
                /* Where IP= and PublishPort= are: their conflicts are found after loading. */
                if (r >= 0 && streq(key, "IP"))
                        p->config->net.ip_line = p->line;
                else if (r >= 0 && streq(key, "PublishPort") && !p->config->net.ports_line)
                        p->config->net.ports_line = p->line;
                if (r == -ENOMEM)
                        parser_error(p, p->line, "%s=: out of memory", key);
                else if (r < 0)
                        parser_error(p, p->line, "%s=: %s", key, err);
                return 1;
        }
        report_unknown_key(p, section, key);
        return 1;
}

/* Copies the next logical line into str (≤ num bytes) the way inih should see it. */
static char *reader(char *str, int num, void *stream) {
        Parser *p = stream;
        free(p->value);
        p->value = NULL;
        if (p->pos >= p->len)
                return NULL;

        char logical[UNIT_LINE_MAX + 1];
        size_t n = 0;
        bool too_long = false;
        p->line = p->next_line;
        for (;;) {
                const char *start = p->buf + p->pos;
                const char *nl = memchr(start, '\n', p->len - p->pos);
                size_t l = nl ? (size_t) (nl - start) : p->len - p->pos;
                p->pos += l + (nl ? 1 : 0);
                p->next_line++;
                while (l > 0 && isspace((unsigned char) start[l - 1]))
                        l--;
                bool more = l > 0 && start[l - 1] == '\\' && p->pos < p->len;
                /* A comment line never continues (systemd: a backslash in a comment is text). */
                size_t lead = 0;
                while (lead < l && isspace((unsigned char) start[lead]))
                        lead++;
                if (n == 0 && lead < l && (start[lead] == '#' || start[lead] == ';'))
                        more = false;
                if (more)
                        l--;
                if (n + l + 1 > UNIT_LINE_MAX)
                        too_long = true;
                else {
                        memcpy(logical + n, start, l);
                        n += l;
                        if (more)
                                logical[n++] = ' ';
                }
                if (!more)
                        break;
        }
        logical[n] = 0;

        str[0] = 0;
        if (too_long) {
                parser_error(p, p->line, "line too long (limit %u bytes)", UNIT_LINE_MAX);
                return str;
        }
        if (memchr(logical, 0, n)) {
                parser_error(p, p->line, "line contains a NUL byte");
                return str;
        }
        char *s = logical;
        while (isspace((unsigned char) *s))
                s++;
        if (!*s || *s == '#' || *s == ';')
                return str;

        if (*s == '[') {
                size_t l = strlen(s);
                if (s[l - 1] != ']' || l < 3) {
                        parser_error(p, p->line, "bad section header '%s'", s);
                        return str;
                }
                if ((int) l >= num) {
                        parser_error(p, p->line, "section name too long");
                        return str;
                }
                s[l - 1] = 0;
                if (!section_is_known(s + 1))
                        parser_error(p, p->line,
                                     "unknown section [%s] (known: [Unit], [Container], [Service])", s + 1);
                s[l - 1] = ']';
                memcpy(str, s, l + 1);
                return str;
        }

        char *eq = strchr(s, '=');
        if (!eq) {
                parser_error(p, p->line, "expected 'Key=value' or '[Section]', got '%.40s'", s);
                return str;
        }
        char *kend = eq;
        while (kend > s && isspace((unsigned char) kend[-1]))
                kend--;
        size_t klen = (size_t) (kend - s);
        bool key_ok = klen > 0 && klen <= 64;
        for (size_t i = 0; key_ok && i < klen; i++)
                key_ok = isalnum((unsigned char) s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.';
        if (!key_ok) {
                parser_error(p, p->line, "invalid key name '%.*s'", (int) MIN(klen, 64u), s);
                return str;
        }
        char *v = eq + 1;
        while (isspace((unsigned char) *v))
                v++;
        p->value = strdup(v);
        if (!p->value) {
                parser_error(p, p->line, "out of memory");
                return str;
        }
        /* "Key=" with the value held back: fits inih's 200 bytes, nothing for it to cut. */
        memcpy(str, s, klen);
        memcpy(str + klen, "=\n", 3);
        return str;
}

UnitConfig *unit_config_free(UnitConfig *c) {
        if (!c)
                return NULL;
        free(c->description);
        free(c->rootfs);
        strv_free(c->exec);
        strv_free(c->environment);
        free(c->hostname);
        free(c->working_dir);
        unit_mounts_free(&c->mounts);
        free(c->user);
        free(c->group);
        strv_free(c->groups_add);
        strv_free(c->environment_files);
        free(c->seccomp_profile);
        free(c->allowed_cpus);
        free(c->net.add_hosts);
        free(c->net.ports);
        free(c->ulimits.v);
        strv_free(c->after);
        strv_free(c->before);
        strv_free(c->requires);
        strv_free(c->wants);
        free(c);
        return NULL;
}

int unit_file_load(const char *path, const char *name, UnitConfig **ret, char ***ret_errors) {
        Parser p = { .path = path, .next_line = 1 };
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;

        int r = read_file(path, UNIT_FILE_MAX, &buf, &len);
        if (r < 0) {
                if (r == -EFBIG)
                        parser_error(&p, 0, "file too large (limit %u bytes)", UNIT_FILE_MAX);
                else
                        parser_error(&p, 0, "cannot read: %s", strerror(-r));
                *ret = NULL;
                *ret_errors = p.errors;
                return r;
        }
        p.config = calloc(1, sizeof(UnitConfig));
        if (!p.config)
                return -ENOMEM;
        p.config->restart = (RestartConfig){
                .policy = RESTART_NO, .sec = UINT64_MAX, .max_delay = UINT64_MAX, .interval = 10 * 1000000ull
        };
        p.config->kill_signal = SIGTERM;
        p.config->timeout_stop_usec = UNIT_DEFAULT_TIMEOUT_STOP_USEC;
        p.config->memory_max = UINT64_MAX;
        p.config->no_new_privileges = true;
        p.config->tasks_max = UINT64_MAX;
        p.config->memory_high = UINT64_MAX;
        p.config->memory_swap_max = UINT64_MAX;
        p.buf = buf;
        p.len = len;

        if (!filename_is_valid_unit_name(name))
                parser_error(&p, 0,
                             "invalid unit name '%s' (letters, digits, '-', '_', '.', '@'; at most 64)",
                             name);
        ini_parse_stream(reader, &p, handler, &p);
        free(p.value);

        if (!p.config->rootfs)
                parser_error(&p, 0, "missing Rootfs= in [Container]");
        if (!p.config->exec)
                parser_error(&p, 0, "missing Exec= in [Container]");
        const UnitNet *net = &p.config->net;
        if (p.config->network != NETWORK_BRIDGE && (net->ip || net->n_ports))
                parser_error(&p, net->ip ? net->ip_line : net->ports_line,
                             "%s= needs Network=bridge (the default), not Network=%s",
                             net->ip ? "IP" : "PublishPort", network_mode_to_string(p.config->network));
        if (!p.config->hostname && filename_is_valid_unit_name(name)) {
                char h[65];
                snprintf(h, sizeof h, "%s", name);
                for (char *c = h; *c; c++) /* '_' and '@' are fine in unit names, not in host names */
                        if (*c == '_' || *c == '@')
                                *c = '-';
                p.config->hostname = strdup(h);
        }
        *ret = p.config;
        *ret_errors = p.errors;
        return 0;
}
