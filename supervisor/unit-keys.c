/* SPDX-License-Identifier: MIT */
/*
 * Parsers for the [Container] and [Service] keys that carry structure — mounts, limits,
 * users, namespaces — in Podman Quadlet's and systemd's syntax. Each takes the value exactly
 * as written and fills one field of UnitConfig, or fails with a reason that names what is
 * wrong; unit-file.c adds the file:line.
 */
#include <ctype.h>
#include <stdio.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "macros.h"
#include "unit-keys.h"
#include "util.h"
#include "value.h"

int unit_field_set_string(void *field, const char *v) {
        char *s = strdup(v);
        if (!s)
                return -ENOMEM;
        free(*(char **) field);
        *(char **) field = s;
        return 0;
}

void unit_mounts_free(UnitMounts *m) {
        for (size_t i = 0; i < m->n; i++) {
                free(m->v[i].source);
                free(m->v[i].destination);
                free(m->v[i].options);
        }
        free(m->v);
        *m = (UnitMounts){ 0 };
}

/* A destination inside the container: absolute, not "/", and with no component that could
 * only be a mistake ("..", which resolves in the root anyway, but never means what was meant). */
/* A ".." component of an absolute path. */
static bool has_dotdot(const char *p) {
        for (const char *c = p; (c = strstr(c, "..")); c += 2)
                if (c > p && c[-1] == '/' && (c[2] == '/' || c[2] == 0))
                        return true;
        return false;
}

static int check_destination(const char *d, char *err, size_t errlen) {
        if (d[0] != '/' || streq(d, "/") || strlen(d) >= 1024) {
                snprintf(err, errlen, "destination '%s' must be an absolute path other than /", d);
                return -EINVAL;
        }
        if (has_dotdot(d)) {
                snprintf(err, errlen, "destination '%s' contains '..'", d);
                return -EINVAL;
        }
        if (strchr(d, '\n')) {
                snprintf(err, errlen, "destination contains a newline");
                return -EINVAL;
        }
        return 0;
}

/* A named volume: Podman's rule for names. */
static bool volume_name_is_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 64 || !isalnum((unsigned char) s[0]))
                return false;
        for (const char *c = s; *c; c++)
                if (!isalnum((unsigned char) *c) && *c != '_' && *c != '.' && *c != '-')
                        return false;
        return true;
}

static int mounts_push(UnitMounts *list, UnitMount *m, char *err, size_t errlen) {
        if (list->n >= UNIT_MOUNTS_MAX) {
                snprintf(err, errlen, "too many mounts (limit %u)", UNIT_MOUNTS_MAX);
                return -EINVAL;
        }
        for (size_t i = 0; i < list->n; i++)
                if (streq(list->v[i].destination, m->destination)) {
                        snprintf(err, errlen, "%s is already a mount destination", m->destination);
                        return -EINVAL;
                }
        UnitMount *v = realloc(list->v, (list->n + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        list->v = v;
        list->v[list->n++] = *m;
        *m = (UnitMount){ 0 };
        return 0;
}

static void unit_mount_clear(UnitMount *m) {
        free(m->source);
        free(m->destination);
        free(m->options);
        *m = (UnitMount){ 0 };
}

/* The source of a bind: a host path, or a named volume under /var/lib/keel/volumes. */
static int set_source(UnitMount *m, const char *src, char *err, size_t errlen) {
        if (src[0] == '/') {
                if (strlen(src) >= 1024 || strchr(src, '\n')) {
                        snprintf(err, errlen, "source path too long");
                        return -EINVAL;
                }
                /* Lexically "/v/x/../../etc" names a place inside /v; the kernel would walk to
                 * wherever x points. Neither reading is what a user means: refuse it. */
                if (has_dotdot(src)) {
                        snprintf(err, errlen, "source '%s' contains '..'", src);
                        return -EINVAL;
                }
                m->source = strdup(src);
        } else if (volume_name_is_valid(src)) {
                m->named = true;
                if (asprintf(&m->source, VOLUMES_DIR "/%s", src) < 0)
                        m->source = NULL;
        } else {
                snprintf(err, errlen, "source '%s' is neither an absolute path nor a volume name", src);
                return -EINVAL;
        }
        return m->source ? 0 : -ENOMEM;
}

/* Flags that both binds and tmpfs take. Returns 1 when opt was one of them. */
static int mount_flag(UnitMount *m, const char *opt) {
        static const struct {
                const char *name;
                unsigned long set, clear;
                int ro; /* 1: ro, 0: rw, -1: neither */
        } flags[] = {
                { "ro", 0, 0, 1 },
                { "rw", 0, 0, 0 },
                { "nosuid", MS_NOSUID, 0, -1 },
                { "suid", 0, MS_NOSUID, -1 },
                { "nodev", MS_NODEV, 0, -1 },
                { "dev", 0, MS_NODEV, -1 },
                { "noexec", MS_NOEXEC, 0, -1 },
                { "exec", 0, MS_NOEXEC, -1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(flags); i++)
                if (streq(opt, flags[i].name)) {
                        m->flags = (m->flags | flags[i].set) & ~flags[i].clear;
                        if (flags[i].ro >= 0)
                                m->readonly = flags[i].ro;
                        return 1;
                }
        return 0;
}

/* tmpfs data options we pass to the kernel, each checked for its form. */
static int tmpfs_option(UnitMount *m, const char *opt, char *err, size_t errlen) {
        static const char *const keys[] = { "size=", "mode=", "uid=", "gid=", "nr_inodes=" };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                size_t kl = strlen(keys[i]);
                if (strncmp(opt, keys[i], kl) != 0)
                        continue;
                const char *v = opt + kl;
                bool ok = *v && strlen(v) < 24;
                for (const char *c = v; ok && *c; c++)
                        ok = isalnum((unsigned char) *c) || *c == '%';
                if (!ok) {
                        snprintf(err, errlen, "bad tmpfs option '%s'", opt);
                        return -EINVAL;
                }
                char *o;
                if (asprintf(&o, "%s%s%s", m->options ? m->options : "", m->options ? "," : "", opt) < 0)
                        return -ENOMEM;
                free(m->options);
                m->options = o;
                return 1;
        }
        return 0;
}

static int split_commas(const char *v, char ***ret, char *err, size_t errlen) {
        _cleanup_strv_free_ char **l = NULL;
        for (const char *p = v; *p;) {
                size_t n = strcspn(p, ",");
                if (n == 0 || strv_length(l) >= 32) {
                        snprintf(err, errlen, n == 0 ? "empty option in '%s'" : "too many options in '%s'",
                                 v);
                        return -EINVAL;
                }
                char *w = strndup(p, n);
                if (!w || strv_push(&l, w) < 0)
                        return -ENOMEM;
                p += n + (p[n] == ',');
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* Volume=SOURCE:DEST[:OPTIONS] — SOURCE a host path or a named volume; OPTIONS ro, rw,
 * nosuid, nodev, noexec (and their opposites). */
int unit_key_volume(const char *v, void *field, char *err, size_t errlen) {
        _cleanup_strv_free_ char **parts = NULL;
        _cleanup_strv_free_ char **opts = NULL;
        _cleanup_(unit_mount_clear) UnitMount m = { 0 };
        const char *c1 = strchr(v, ':');
        if (!c1) {
                snprintf(err, errlen, "expected SOURCE:DEST[:OPTIONS], got '%s'", v);
                return -EINVAL;
        }
        const char *c2 = strchr(c1 + 1, ':');
        _cleanup_free_ char *src = strndup(v, (size_t) (c1 - v));
        m.destination = c2 ? strndup(c1 + 1, (size_t) (c2 - c1 - 1)) : strdup(c1 + 1);
        if (!src || !m.destination)
                return -ENOMEM;
        int r = set_source(&m, src, err, errlen);
        if (r < 0)
                return r;
        if ((r = check_destination(m.destination, err, errlen)) < 0)
                return r;
        if (c2 && (r = split_commas(c2 + 1, &opts, err, errlen)) < 0)
                return r;
        for (char **o = opts; o && *o; o++)
                if (!mount_flag(&m, *o) && !streq(*o, "z") && !streq(*o, "Z")) {
                        snprintf(err, errlen, "unknown volume option '%s' (ro, rw, nosuid, nodev, noexec)",
                                 *o);
                        return -EINVAL;
                }
        return mounts_push(field, &m, err, errlen);
}

/* Tmpfs=DEST[:OPTIONS] — as Podman: nosuid, nodev, noexec unless said otherwise. */
int unit_key_tmpfs(const char *v, void *field, char *err, size_t errlen) {
        _cleanup_(unit_mount_clear) UnitMount m = { .flags = MS_NOSUID | MS_NODEV | MS_NOEXEC };
        _cleanup_strv_free_ char **opts = NULL;
        const char *colon = strchr(v, ':');
        m.destination = colon ? strndup(v, (size_t) (colon - v)) : strdup(v);
        if (!m.destination)
                return -ENOMEM;
        int r = check_destination(m.destination, err, errlen);
        if (r < 0)
                return r;
        if (colon && (r = split_commas(colon + 1, &opts, err, errlen)) < 0)
                return r;
        for (char **o = opts; o && *o; o++) {
                if (mount_flag(&m, *o))
                        continue;
                if ((r = tmpfs_option(&m, *o, err, errlen)) < 0)
                        return r;
                if (r == 0) {
                        snprintf(err, errlen,
                                 "unknown tmpfs option '%s' (ro, rw, [no]exec, [no]suid, [no]dev, size=, "
                                 "mode=, "
                                 "uid=, gid=, nr_inodes=)",
                                 *o);
                        return -EINVAL;
                }
        }
        return mounts_push(field, &m, err, errlen);
}

/* Mount=type=bind,source=/x,destination=/y[,ro] | type=volume,source=NAME,… |
 * type=tmpfs,destination=/y[,tmpfs-size=64M][,tmpfs-mode=1777] — Podman's --mount. */
int unit_key_mount(const char *v, void *field, char *err, size_t errlen) {
        _cleanup_strv_free_ char **opts = NULL;
        _cleanup_(unit_mount_clear) UnitMount m = { 0 };
        int r = split_commas(v, &opts, err, errlen);
        if (r < 0)
                return r;
        const char *type = NULL, *src = NULL, *dst = NULL;
        for (char **o = opts; o && *o; o++) { /* "Mount=" leaves opts NULL */
                char *eq = strchr(*o, '=');
                const char *val = eq ? eq + 1 : "";
                size_t kl = eq ? (size_t) (eq - *o) : strlen(*o);
#define KEY(k) (kl == strlen(k) && strncmp(*o, k, kl) == 0)
                if (KEY("type"))
                        type = val;
                else if (KEY("source") || KEY("src"))
                        src = val;
                else if (KEY("destination") || KEY("dst") || KEY("target"))
                        dst = val;
                else if ((KEY("ro") || KEY("readonly")) && eq) {
                        bool b;
                        if (parse_boolean(val, &b) < 0) {
                                snprintf(err, errlen, "bad boolean in '%s'", *o);
                                return -EINVAL;
                        }
                        m.readonly = b;
                } else if (KEY("tmpfs-size") || KEY("tmpfs-mode")) {
                        char opt[64];
                        snprintf(opt, sizeof opt, "%s=%s", KEY("tmpfs-size") ? "size" : "mode", val);
                        if ((r = tmpfs_option(&m, opt, err, errlen)) < 0)
                                return r;
                } else if (eq || !mount_flag(&m, *o)) {
                        snprintf(err, errlen,
                                 "unknown option '%s' (type=, source=, destination=, ro, tmpfs-size=, "
                                 "tmpfs-mode=)",
                                 *o);
                        return -EINVAL;
                }
#undef KEY
        }
        if (!type || !dst) {
                snprintf(err, errlen, "needs type= and destination=");
                return -EINVAL;
        }
        m.destination = strdup(dst);
        if (!m.destination)
                return -ENOMEM;
        if ((r = check_destination(m.destination, err, errlen)) < 0)
                return r;
        if (streq(type, "tmpfs")) {
                if (src) {
                        snprintf(err, errlen, "a tmpfs takes no source=");
                        return -EINVAL;
                }
                m.flags |= MS_NOSUID | MS_NODEV;
        } else if (streq(type, "bind") || streq(type, "volume")) {
                if (!src) {
                        snprintf(err, errlen, "type=%s needs source=", type);
                        return -EINVAL;
                }
                if ((streq(type, "bind") && src[0] != '/') || (streq(type, "volume") && src[0] == '/')) {
                        snprintf(err, errlen, "type=%s needs %s as source=, got '%s'", type,
                                 streq(type, "bind") ? "an absolute path" : "a volume name", src);
                        return -EINVAL;
                }
                if ((r = set_source(&m, src, err, errlen)) < 0)
                        return r;
                if (m.options) {
                        snprintf(err, errlen, "tmpfs options on a %s mount", type);
                        return -EINVAL;
                }
        } else {
                snprintf(err, errlen, "unknown type '%s' (bind, volume, tmpfs)", type);
                return -EINVAL;
        }
        return mounts_push(field, &m, err, errlen);
}

/* clang-format off */
static const struct {
        const char *name;
        int resource;
} rlimit_names[] = {
        { "core", RLIMIT_CORE },       { "cpu", RLIMIT_CPU },           { "data", RLIMIT_DATA },
        { "fsize", RLIMIT_FSIZE },     { "locks", RLIMIT_LOCKS },       { "memlock", RLIMIT_MEMLOCK },
        { "msgqueue", RLIMIT_MSGQUEUE }, { "nice", RLIMIT_NICE },       { "nofile", RLIMIT_NOFILE },
        { "nproc", RLIMIT_NPROC },     { "rss", RLIMIT_RSS },           { "rtprio", RLIMIT_RTPRIO },
        { "rttime", RLIMIT_RTTIME },   { "sigpending", RLIMIT_SIGPENDING }, { "stack", RLIMIT_STACK },
        { "as", RLIMIT_AS },
};
/* clang-format on */

static int parse_rlimit_value(const char *s, size_t n, uint64_t *ret) {
        if ((n == 2 && strncmp(s, "-1", 2) == 0) || (n == 9 && strncmp(s, "unlimited", 9) == 0) ||
            (n == 8 && strncmp(s, "infinity", 8) == 0)) {
                *ret = UINT64_MAX;
                return 0;
        }
        uint64_t v = 0;
        if (n == 0 || n > 19)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (!isdigit((unsigned char) s[i]))
                        return -EINVAL;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        *ret = v;
        return 0;
}

/* Ulimit=NAME=SOFT[:HARD] — Podman's form: `nofile=1024:4096`, `core=0`, -1 for unlimited. */
int unit_key_ulimit(const char *v, void *field, char *err, size_t errlen) {
        UnitRlimits *l = field;
        const char *eq = strchr(v, '=');
        size_t nl = eq ? (size_t) (eq - v) : 0;
        int resource = -1;
        for (size_t i = 0; eq && i < ELEMENTSOF(rlimit_names); i++)
                if (strlen(rlimit_names[i].name) == nl && strncasecmp(v, rlimit_names[i].name, nl) == 0)
                        resource = rlimit_names[i].resource;
        if (resource < 0) {
                snprintf(err, errlen,
                         "expected NAME=SOFT[:HARD] with NAME one of core, cpu, data, fsize, locks, "
                         "memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, "
                         "stack, as; got '%s'",
                         v);
                return -EINVAL;
        }
        const char *colon = strchr(eq + 1, ':');
        uint64_t soft, hard;
        size_t sl = colon ? (size_t) (colon - eq - 1) : strlen(eq + 1);
        if (parse_rlimit_value(eq + 1, sl, &soft) < 0 ||
            parse_rlimit_value(colon ? colon + 1 : eq + 1, colon ? strlen(colon + 1) : sl, &hard) < 0) {
                snprintf(err, errlen, "bad limit in '%s' (numbers, or -1/unlimited)", v);
                return -EINVAL;
        }
        if (soft > hard) {
                snprintf(err, errlen, "soft limit above the hard limit in '%s'", v);
                return -EINVAL;
        }
        size_t i = 0;
        while (i < l->n && l->v[i].resource != resource)
                i++;
        if (i == UNIT_RLIMITS_MAX) {
                snprintf(err, errlen, "too many Ulimit= entries (limit %u)", UNIT_RLIMITS_MAX);
                return -EINVAL;
        }
        if (i == l->n) {
                RlimitSpec *grown = realloc(l->v, (l->n + 1) * sizeof *grown);
                if (!grown)
                        return -ENOMEM;
                l->v = grown;
        }
        l->v[i] = (RlimitSpec){ .resource = resource, .soft = soft, .hard = hard };
        if (i == l->n)
                l->n++;
        return 0;
}

/* User= / Group=: a name as the image's /etc/passwd would have it, or a number. */
int unit_key_user(const char *v, void *field, char *err, size_t errlen) {
        size_t n = strlen(v);
        bool ok = n > 0 && n <= 32 && v[0] != '-';
        for (const char *c = v; ok && *c; c++)
                ok = isalnum((unsigned char) *c) || *c == '_' || *c == '-' || *c == '.';
        if (!ok) {
                snprintf(err, errlen, "invalid user or group '%s' (a name or a number)", v);
                return -EINVAL;
        }
        return unit_field_set_string(field, v);
}

/* GroupAdd=: names or numbers, accumulated. */
int unit_key_groups(const char *v, void *field, char *err, size_t errlen) {
        _cleanup_strv_free_ char **words = NULL;
        int r = parse_words(v, &words, err, errlen);
        if (r < 0)
                return r;
        if (strv_length(*(char ***) field) + strv_length(words) > 32) {
                snprintf(err, errlen, "too many groups (limit 32)");
                return -EINVAL;
        }
        for (char **w = words; *w; w++) {
                char *dummy = NULL;
                if ((r = unit_key_user(*w, &dummy, err, errlen)) < 0)
                        return r;
                free(dummy);
        }
        return strv_extend_strv(field, words);
}

/* AllowedCPUs=0-1,3 — cpuset.cpus's list syntax, checked here so the kernel's EINVAL never
 * has to be guessed at. */
int unit_key_cpus(const char *v, void *field, char *err, size_t errlen) {
        const char *p = v;
        bool ok = *v && strlen(v) < 256;
        while (ok && *p) {
                char *end;
                unsigned long a = strtoul(p, &end, 10), b = a;
                ok = end != p && isdigit((unsigned char) *p);
                p = end;
                if (ok && *p == '-') {
                        b = strtoul(p + 1, &end, 10);
                        ok = end != p + 1 && isdigit((unsigned char) p[1]) && b >= a;
                        p = end;
                }
                ok = ok && b < 8192 && (*p == 0 || (*p == ',' && p[1]));
                if (*p == ',')
                        p++;
        }
        if (!ok) {
                snprintf(err, errlen, "invalid CPU list '%s' (e.g. 0, 0-1, 0,2-3)", v);
                return -EINVAL;
        }
        return unit_field_set_string(field, v);
}

/* CPUWeight=, IOWeight=: 1..10000 as in cgroup v2 and systemd. */
int unit_key_weight(const char *v, void *field, char *err, size_t errlen) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || end == v || *end || !isdigit((unsigned char) *v) || n < 1 || n > 10000) {
                snprintf(err, errlen, "invalid weight '%s' (1 to 10000, default 100)", v);
                return -EINVAL;
        }
        *(uint64_t *) field = n;
        return 0;
}

/* MemorySwapMax= and others where 0 is meaningful: a size, 0, or infinity. */
int unit_key_size0(const char *v, void *field, char *err, size_t errlen) {
        uint64_t b;
        if (parse_size(v, &b) < 0) {
                snprintf(err, errlen, "invalid size '%s' (e.g. 0, 64M, 1G, infinity)", v);
                return -EINVAL;
        }
        *(uint64_t *) field = b;
        return 0;
}

static int key_choice(const char *v, int *field, const char *const *names, size_t n, const char *key,
                      char *err, size_t errlen) {
        for (size_t i = 0; i < n; i++)
                if (names[i] && streq(v, names[i])) {
                        *field = (int) i;
                        return 0;
                }
        char list[128] = "";
        for (size_t i = 0; i < n; i++)
                if (names[i])
                        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                                 list[0] ? ", " : "", names[i]);
        snprintf(err, errlen, "invalid %s= value '%s' (%s)", key, v, list);
        return -EINVAL;
}

static const char *const userns_names[_USERNS_MAX] = { [USERNS_HOST] = "host", [USERNS_AUTO] = "auto" };
static const char *const network_names[_NETWORK_MAX] = {
        [NETWORK_BRIDGE] = "bridge", [NETWORK_NONE] = "none", [NETWORK_HOST] = "host"
};

int unit_key_userns(const char *v, void *field, char *err, size_t errlen) {
        return key_choice(v, field, userns_names, ELEMENTSOF(userns_names), "UserNS", err, errlen);
}

int unit_key_network(const char *v, void *field, char *err, size_t errlen) {
        return key_choice(v, field, network_names, ELEMENTSOF(network_names), "Network", err, errlen);
}

const char *network_mode_to_string(NetworkMode m) {
        return m < _NETWORK_MAX ? network_names[m] : "?";
}

/* IP=ADDR: checked against the bridge's subnet and the other units once all are loaded
 * (supervisor/unit-net.c), since the subnet comes from the kernel command line. */
int unit_key_ip(const char *v, void *field, char *err, size_t errlen) {
        UnitNet *n = field;
        if (!*v) {
                n->ip = 0;
                return 0;
        }
        return net_parse_addr(v, &n->ip, err, errlen);
}

/* PublishPort=[HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp], repeatable; an empty assignment
 * clears the list. The same host port twice in one unit is an error here; between units, at
 * load (the second unit is the one in error). */
int unit_key_publish(const char *v, void *field, char *err, size_t errlen) {
        UnitNet *n = field;
        if (!*v) {
                free(n->ports);
                n->ports = NULL;
                n->n_ports = 0;
                return 0;
        }
        if (n->n_ports >= UNIT_PORTS_MAX) {
                snprintf(err, errlen, "too many published ports (limit %u)", UNIT_PORTS_MAX);
                return -EINVAL;
        }
        NetPort p;
        int r = net_parse_publish(v, &p, err, errlen);
        if (r < 0)
                return r;
        if ((r = ipam_check_port(&p, n->ports, n->n_ports, err, errlen)) < 0)
                return r;
        NetPort *l = realloc(n->ports, (n->n_ports + 1) * sizeof *l);
        if (!l)
                return -ENOMEM;
        n->ports = l;
        n->ports[n->n_ports++] = p;
        return 0;
}

/* AddHost=NAME:ADDR, repeatable: extra /etc/hosts lines. */
int unit_key_add_host(const char *v, void *field, char *err, size_t errlen) {
        UnitNet *n = field;
        if (!*v) {
                free(n->add_hosts);
                n->add_hosts = NULL;
                n->n_add_hosts = 0;
                return 0;
        }
        if (n->n_add_hosts >= UNIT_ADD_HOSTS_MAX) {
                snprintf(err, errlen, "too many AddHost= entries (limit %u)", UNIT_ADD_HOSTS_MAX);
                return -EINVAL;
        }
        NetHost h;
        int r = net_parse_add_host(v, &h, err, errlen);
        if (r < 0)
                return r;
        NetHost *l = realloc(n->add_hosts, (n->n_add_hosts + 1) * sizeof *l);
        if (!l)
                return -ENOMEM;
        n->add_hosts = l;
        n->add_hosts[n->n_add_hosts++] = h;
        return 0;
}

/* DNS=ADDR…, repeatable: the container's name servers instead of the machine's. */
int unit_key_dns(const char *v, void *field, char *err, size_t errlen) {
        UnitNet *n = field;
        if (!*v) {
                n->n_dns = 0;
                return 0;
        }
        _cleanup_strv_free_ char **words = NULL;
        int r = parse_words(v, &words, err, errlen);
        if (r < 0)
                return r;
        for (char **w = words; *w; w++) {
                if (n->n_dns >= UNIT_DNS_MAX) {
                        snprintf(err, errlen, "too many name servers (limit %u)", UNIT_DNS_MAX);
                        return -EINVAL;
                }
                if ((r = net_parse_addr(*w, &n->dns[n->n_dns], err, errlen)) < 0)
                        return r;
                n->n_dns++;
        }
        return 0;
}

/* SeccompProfile=: "default" (built in), "unconfined", or an OCI/Docker JSON file. */
int unit_key_seccomp(const char *v, void *field, char *err, size_t errlen) {
        if (!streq(v, "default") && !streq(v, "unconfined") && v[0] != '/') {
                snprintf(err, errlen,
                         "invalid SeccompProfile= '%s' (default, unconfined, or an absolute path)", v);
                return -EINVAL;
        }
        return unit_field_set_string(field, v);
}

/* EnvironmentFile=[-]PATH, accumulated; '-' means a missing file is fine (systemd). */
int unit_key_environment_file(const char *v, void *field, char *err, size_t errlen) {
        const char *path = v[0] == '-' ? v + 1 : v;
        if (path[0] != '/' || strlen(path) >= 1024) {
                snprintf(err, errlen, "'%s' is not an absolute path", path);
                return -EINVAL;
        }
        if (strv_length(*(char ***) field) >= 16) {
                snprintf(err, errlen, "too many environment files (limit 16)");
                return -EINVAL;
        }
        char *s = strdup(v);
        return s ? strv_push(field, s) : -ENOMEM;
}
