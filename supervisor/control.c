/* SPDX-License-Identifier: MIT */
/*
 * initctl's server, inside PID 1's loop. Nothing here may block: the socket and every client
 * are non-blocking, a request is one line of at most CONTROL_REQUEST_MAX bytes, and a client
 * that does not finish within CONTROL_TIMEOUT is dropped. Only root may talk to it (SO_PEERCRED).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "control.h"
#include "log.h"
#include "logs.h"
#include "reload.h"
#include "value.h"
#include "spec.h"
#include "unit-spec.h"
#include "util.h"

#define CONTROL_TIMEOUT (5 * USEC_PER_SEC)
/* `start` answers once its units run or fail; a spawn that takes longer is reported as such. */
#define START_TIMEOUT (20 * USEC_PER_SEC)
/* Connections accepted per wakeup: the listener is level-triggered, so more come next time,
 * after the other sources of the same batch had their turn. */
#define ACCEPT_BATCH 64

/* What a connection's reply waits for. */
typedef enum WaitKind {
        WAIT_STOP,  /* the units are down */
        WAIT_START, /* the units run, wait for what they need, or failed to start */
} WaitKind;

typedef struct Client {
        LoopSource src;
        LoopTimer timeout;
        char in[CONTROL_REQUEST_MAX + 1];
        size_t in_len;
        Buf out;
        size_t out_pos;
        uint64_t active; /* activity_tick at its last progress: the least recent makes room */
        bool replying;
        bool draining; /* reply sent; reading until EOF so the close sends no RST */
        bool holds;    /* a state-changing request (stop, poweroff...): never dropped for room */
        /* `logs -f`: the connection stays open and new lines of this unit are pushed. */
        Unit *follow;
        uint64_t follow_seq; /* the last line sent */
        bool follow_json;
        uint64_t follow_dropped; /* lines a slow reader missed */
        /* `stop`, `start`: the reply waits for these units (bounded by a timer). */
        Unit *wait[CONTROL_WORDS_MAX];
        size_t n_wait;
        WaitKind wait_kind;
        int wait_code;
        Buf wait_body;
        struct Client *next;
} Client;

static Manager *manager;
static ControlHooks hooks;
static LoopSource listener = { .fd = -1 };
static bool listener_paused; /* out of fds with nothing to drop: resumed when a client goes */
static unsigned n_clients, n_followers;
static uint64_t activity_tick;
static Client *clients;
/* Dropped clients wait here until the current batch of events is over: an event for one of
 * them may still be pending in it. */
static Client *graveyard;
static LoopTimer reaper;

/* What control_handle_request() asks of the connection after its reply. */
static Unit *request_wait[CONTROL_WORDS_MAX];
static size_t request_n_wait;
static WaitKind request_wait_kind;
static Unit *request_follow;
static uint64_t request_follow_seq;
static bool request_follow_json;

/* A follower with this much unsent (beyond what its socket buffer holds) is too slow: new
 * lines are counted, not queued, so no reader can make PID 1 hold more than this per client;
 * one that reads nothing for CONTROL_TIMEOUT while lines wait for it is dropped. */
#define FOLLOW_BACKLOG_MAX (64u * 1024u)

void buf_printf(Buf *b, const char *fmt, ...) {
        if (b->oom)
                return;
        for (;;) {
                va_list ap;
                va_start(ap, fmt);
                size_t room = b->cap - b->len;
                int n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
                va_end(ap);
                if (n < 0)
                        return;
                if ((size_t) n < room) {
                        b->len += (size_t) n;
                        return;
                }
                size_t cap = MAX(b->cap * 2, b->len + (size_t) n + 256);
                char *d = realloc(b->data, cap);
                if (!d) {
                        b->oom = true;
                        return;
                }
                b->data = d;
                b->cap = cap;
        }
}

void buf_free(Buf *b) {
        free(b->data);
        *b = (Buf){ 0 };
}

/* The clock is read once per table, not per row: under emulation the guest's clocksource
 * (HPET) makes each clock_gettime() a system call and a device read. */
static void describe_uptime(Unit *u, uint64_t now, char *buf, size_t len) {
        if (u->state == UNIT_RUNNING)
                format_timespan(buf, len, now - u->exec_at);
        else
                snprintf(buf, len, "-");
}

static void describe_memory(Unit *u, char *buf, size_t len) {
        uint64_t v;
        if (unit_memory_current(u, &v) >= 0)
                format_bytes(buf, len, v);
        else
                snprintf(buf, len, "-");
}

/* Room for n more bytes at the end of b; NULL when out of memory. */
static char *buf_reserve(Buf *b, size_t n) {
        if (b->oom)
                return NULL;
        if (b->cap - b->len < n) {
                size_t cap = MAX(b->cap * 2, b->len + n + 256);
                char *d = realloc(b->data, cap);
                if (!d) {
                        b->oom = true;
                        return NULL;
                }
                b->data = d;
                b->cap = cap;
        }
        return b->data + b->len;
}

/* One table cell: s cut to max bytes (0: whole), padded with spaces to width, on the left
 * when right-aligned; then the separator. */
static char *put_cell(char *p, const char *s, size_t width, bool right, size_t max, char sep) {
        size_t n = strlen(s);
        if (max && n > max)
                n = max;
        for (size_t i = n; right && i < width; i++)
                *p++ = ' ';
        memcpy(p, s, n);
        p += n;
        for (size_t i = n; !right && i < width; i++)
                *p++ = ' ';
        *p++ = sep;
        return p;
}

static const char *u64_to_str(char buf[static 21], uint64_t v) {
        char *p = buf + 20;
        *p = 0;
        do
                *--p = (char) ('0' + v % 10);
        while (v /= 10);
        return p;
}

/* Fits an 80-column serial console. The rows are put together by hand, not with printf:
 * formatting was most of a row's cost, and the table is what people ask for most (at 1000
 * units under emulation, ~33 µs a row with vsnprintf). What is left per row is the pread()
 * of the unit's memory.current. */
static int status_table(Manager *m, Buf *out) {
        uint64_t now = now_usec();
        if (!buf_reserve(out, 72 * (m->n_units + 1))) /* one allocation for the whole table */
                return 1;
        buf_printf(out, "%-20s %-10s %7s %8s %-12s %8s\n", "UNIT", "STATE", "PID", "RESTARTS", "UPTIME",
                   "MEMORY");
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                char up[32], mem[32], pid[21], restarts[21];
                describe_uptime(u, now, up, sizeof up);
                describe_memory(u, mem, sizeof mem);
                /* every cell is at most 31 bytes, the widths add up to 70 */
                char *p = buf_reserve(out, 6 * 32 + 8);
                if (!p)
                        return 1;
                char *start = p;
                p = put_cell(p, u->name, 20, false, 20, ' ');
                p = put_cell(p, unit_state_to_string(u->state), 10, false, 0, ' ');
                p = put_cell(p, u->pid > 0 ? u64_to_str(pid, (uint64_t) u->pid) : "-", 7, true, 0, ' ');
                p = put_cell(p, u64_to_str(restarts, u->restarts), 8, true, 0, ' ');
                p = put_cell(p, up, 12, false, 0, ' ');
                p = put_cell(p, mem, 8, true, 0, '\n');
                out->len += (size_t) (p - start);
        }
        return 0;
}

/* What the unit's cgroup says now: memory, tasks, CPU time, throttling and OOM kills. */
static void status_resources(Unit *u, Buf *out) {
        const char *cg = u->cgroup_path;
        uint64_t cur, max, v;
        char a[32], b[32];
        if (!cg || u->pid <= 0)
                return;
        if (unit_memory_current(u, &cur) >= 0) {
                buf_printf(out, "  Memory:   %s", format_bytes(a, sizeof a, cur));
                if (runtime_cgroup_read_u64(cg, "memory.max", &max) >= 0 && max != UINT64_MAX)
                        buf_printf(out, " (max %s)", format_bytes(b, sizeof b, max));
                if (runtime_cgroup_read_key(cg, "memory.events", "oom_kill", &v) >= 0 && v > 0)
                        buf_printf(out, ", %llu OOM kills", (unsigned long long) v);
                buf_printf(out, "\n");
        }
        if (runtime_cgroup_read_u64(cg, "pids.current", &cur) >= 0) {
                buf_printf(out, "  Tasks:    %llu", (unsigned long long) cur);
                if (runtime_cgroup_read_u64(cg, "pids.max", &max) >= 0 && max != UINT64_MAX)
                        buf_printf(out, " (max %llu)", (unsigned long long) max);
                buf_printf(out, "\n");
        }
        if (runtime_cgroup_read_key(cg, "cpu.stat", "usage_usec", &v) >= 0) {
                buf_printf(out, "  CPU:      %s", format_timespan(a, sizeof a, v));
                if (runtime_cgroup_read_key(cg, "cpu.stat", "nr_throttled", &v) >= 0 && v > 0)
                        buf_printf(out, " (throttled %llu times)", (unsigned long long) v);
                buf_printf(out, "\n");
        }
}

/* The limits the unit sets, in its own words. */
static void status_limits(Unit *u, Buf *out) {
        const UnitConfig *c = u->config;
        if (!c)
                return;
        Buf l = { 0 };
        char v[32];
        if (c->memory_max != UINT64_MAX)
                buf_printf(&l, " MemoryMax=%s", format_bytes(v, sizeof v, c->memory_max));
        if (c->memory_high != UINT64_MAX)
                buf_printf(&l, " MemoryHigh=%s", format_bytes(v, sizeof v, c->memory_high));
        if (c->memory_swap_max != UINT64_MAX)
                buf_printf(&l, " MemorySwapMax=%s", format_bytes(v, sizeof v, c->memory_swap_max));
        if (c->tasks_max != UINT64_MAX)
                buf_printf(&l, " TasksMax=%llu", (unsigned long long) c->tasks_max);
        if (c->cpu_quota)
                buf_printf(&l, " CPUQuota=%llu%%", (unsigned long long) (c->cpu_quota / 100));
        if (c->cpu_weight)
                buf_printf(&l, " CPUWeight=%llu", (unsigned long long) c->cpu_weight);
        if (c->io_weight)
                buf_printf(&l, " IOWeight=%llu", (unsigned long long) c->io_weight);
        if (c->allowed_cpus)
                buf_printf(&l, " AllowedCPUs=%s", c->allowed_cpus);
        if (l.len)
                buf_printf(out, "  Limits:  %.*s\n", (int) l.len, l.data);
        buf_free(&l);
}

static int status_log_line(const LogLine *l, void *userdata) {
        Buf *out = userdata;
        char t[LOG_TIME_MAX];
        log_format_time(t, sizeof t, l->realtime_usec);
        /* hh:mm:ss of the ISO time: the status page is read on an 80-column console */
        buf_printf(out, "    %.8s %.*s\n", t + 11, (int) MIN(l->len, (size_t) 66), l->text);
        return 0;
}

static int status_unit(Unit *u, Buf *out) {
        char t[32], since[32];
        format_timespan(since, sizeof since, now_usec() - u->state_since);
        buf_printf(out, "%s - %s\n", u->name,
                   u->config && u->config->description ? u->config->description : "");
        buf_printf(out, "  File:     %s\n", u->path);
        buf_printf(out, "  State:    %s for %s\n", unit_state_to_string(u->state), since);
        if (u->pid > 0)
                buf_printf(out, "  Main PID: %d\n", u->pid);
        if (u->config) {
                buf_printf(out, "  Exec:    ");
                for (char **a = u->config->exec; a && *a; a++)
                        buf_printf(out, " %s", *a);
                buf_printf(out, "\n  Rootfs:   %s\n", u->config->rootfs ? u->config->rootfs : "-");
                const UnitConfig *c = u->config;
                buf_printf(out, "  Isolation: user %s, network %s, seccomp %s%s", c->user ? c->user : "root",
                           network_mode_to_string(c->network),
                           c->seccomp_profile ? c->seccomp_profile : "default",
                           c->run_init ? ", RunInit" : "");
                if (c->userns == USERNS_AUTO)
                        buf_printf(out, ", userns host ids %u-%u",
                                   UNIT_USERNS_BASE + u->userns_slot * UNIT_USERNS_SIZE,
                                   UNIT_USERNS_BASE + (u->userns_slot + 1) * UNIT_USERNS_SIZE - 1);
                buf_printf(out, "\n");
                const RestartConfig *rc = &u->config->restart;
                buf_printf(out, "  Restart:  %s (", restart_policy_to_string(rc->policy));
                if (rc->policy == RESTART_NO)
                        buf_printf(out, "never");
                else if (rc->sec == UINT64_MAX)
                        buf_printf(out, "immediate, then backoff to %s",
                                   format_timespan(t, sizeof t,
                                                   rc->max_delay != UINT64_MAX ? rc->max_delay
                                                                               : RESTART_MAX_USEC));
                else
                        buf_printf(out, "RestartSec=%s%s", format_timespan(t, sizeof t, rc->sec),
                                   rc->steps ? ", with backoff" : "");
                buf_printf(out, "), restarted %u times, %u in a row\n", u->restarts, u->consecutive);
        }
        if (u->waiting_for && (u->state == UNIT_WAITING || u->state == UNIT_FAILED))
                buf_printf(out, "  %s %s\n",
                           u->state == UNIT_WAITING ? "Waiting: " : "Blocked: ", u->waiting_for);
        if (u->state == UNIT_RESTARTING && u->timer.armed) {
                uint64_t now = now_usec();
                buf_printf(out, "  Next:     restart in %s\n",
                           format_timespan(t, sizeof t, u->next_restart > now ? u->next_restart - now : 0));
        }
        for (unsigned i = 0; i < 10; i++) {
                const ExitRecord *r = unit_exit_history(u, i);
                if (!r)
                        break;
                char why[600], when[40], up[32];
                time_t sec = (time_t) (r->when / 1000000);
                struct tm tm;
                strftime(when, sizeof when, "%H:%M:%S", gmtime_r(&sec, &tm));
                if (r->kind == EXIT_SPAWN)
                        snprintf(up, sizeof up, "-");
                else
                        format_timespan(up, sizeof up, r->uptime);
                buf_printf(out, "%s %s (at %s UTC, after %s)\n",
                           i == 0   ? "  Last exit:"
                           : i == 1 ? "  Earlier:  "
                                    : "            ",
                           exit_record_describe(r, why, sizeof why), when, up);
        }
        status_resources(u, out);
        status_limits(u, out);
        if (u->dropped)
                buf_printf(out, "  Output:   %llu bytes dropped (console too slow)\n",
                           (unsigned long long) u->dropped);
        if (u->logs && log_ring_last_seq(u->logs) > 0) {
                buf_printf(out, "  Log (last 10 lines; initctl logs %s for more):\n", u->name);
                log_ring_read(u->logs, log_ring_tail_seq(u->logs, 10), 0, status_log_line, out);
        }
        for (char **e = u->errors; e && *e; e++)
                buf_printf(out, "  Error:    %s\n", *e);
        for (char **e = u->reload_errors; e && *e; e++)
                buf_printf(out, "  Reload:   %s (still running the previous version)\n", *e);
        return u->state == UNIT_RUNNING ? 0 : 3;
}

/* A JSON string: quotes, backslashes and control characters escaped; other bytes as they are
 * (container output is not always UTF-8; readers get the bytes, escaped enough to parse). */
static void buf_json_string(Buf *b, const char *s, size_t len) {
        buf_printf(b, "\"");
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c == '"' || c == '\\')
                        buf_printf(b, "\\%c", c);
                else if (c == '\n')
                        buf_printf(b, "\\n");
                else if (c == '\t')
                        buf_printf(b, "\\t");
                else if (c < 0x20 || c == 0x7f)
                        buf_printf(b, "\\u%04x", c);
                else
                        buf_printf(b, "%c", c);
        }
        buf_printf(b, "\"");
}

static void buf_json_str(Buf *b, const char *s) {
        if (s)
                buf_json_string(b, s, strlen(s));
        else
                buf_printf(b, "null");
}

typedef struct LogsOut {
        Buf *out;
        const char *unit;
        bool json;
} LogsOut;

static int format_log_line(const LogLine *l, void *userdata) {
        LogsOut *o = userdata;
        char t[LOG_TIME_MAX];
        log_format_time(t, sizeof t, l->realtime_usec);
        if (o->json) {
                buf_printf(o->out, "{\"unit\":");
                buf_json_str(o->out, o->unit);
                buf_printf(o->out,
                           ",\"seq\":%llu,\"time\":\"%s\",\"stream\":\"%s\",\"truncated\":%s,\"text\":",
                           (unsigned long long) l->seq, t, log_stream_to_string(l->stream),
                           l->truncated ? "true" : "false");
                buf_json_string(o->out, l->text, l->len);
                buf_printf(o->out, "}\n");
        } else
                buf_printf(o->out, "%s %s| %.*s\n", t, o->unit, (int) l->len, l->text);
        return 0;
}

/* logs [-f] [-n N] [--json] UNIT */
static int verb_logs(Manager *m, char **args, bool json, Buf *out) {
        bool follow = false;
        uint64_t n = 20;
        const char *name = NULL;
        for (char **a = args; *a; a++) {
                if (streq(*a, "-f") || streq(*a, "--follow"))
                        follow = true;
                else if (streq(*a, "-n") && a[1]) {
                        char *end;
                        unsigned long long v = strtoull(*++a, &end, 10);
                        if (*end || !**a) {
                                buf_printf(out, "-n wants a number of lines, got '%s'\n", *a);
                                return 2;
                        }
                        n = v;
                } else if (**a == '-' || name) {
                        buf_printf(out, "usage: logs [-f] [-n N] UNIT\n");
                        return 2;
                } else
                        name = *a;
        }
        if (!name) {
                buf_printf(out, "which unit? (initctl --help)\n");
                return 2;
        }
        Unit *u = manager_find(m, name);
        if (!u) {
                buf_printf(out, "unknown unit '%s'\n", name);
                return 1;
        }
        LogsOut o = { .out = out, .unit = u->name, .json = json };
        uint64_t after = u->logs ? log_ring_tail_seq(u->logs, n) : 0;
        if (u->logs)
                log_ring_read(u->logs, after, 0, format_log_line, &o);
        if (u->logs && log_ring_evicted(u->logs) && !json &&
            n > log_ring_last_seq(u->logs) - log_ring_first_seq(u->logs) + 1)
                buf_printf(out, "(%llu older lines were dropped from memory%s)\n",
                           (unsigned long long) log_ring_evicted(u->logs),
                           m->cfg.log_dir ? "; see /var/lib/keel/log" : "");
        if (follow) {
                request_follow = u;
                request_follow_seq = u->logs ? log_ring_last_seq(u->logs) : 0;
                request_follow_json = json;
        }
        return 0;
}

static bool unit_down(const Unit *u) {
        return u->state != UNIT_STARTING && u->state != UNIT_RUNNING && u->state != UNIT_STOPPING;
}

/* How a stopped unit ended, for the reply of `stop`. */
static void describe_stopped(Unit *u, Buf *out) {
        char why[600];
        const ExitRecord *r = unit_exit_history(u, 0);
        if (r && u->state != UNIT_WAITING && u->state != UNIT_INVALID)
                buf_printf(out, "%s: stopped (%s)\n", u->name, exit_record_describe(r, why, sizeof why));
        else
                buf_printf(out, "%s: %s\n", u->name, unit_state_to_string(u->state));
}

/* A unit named on the command line; an unknown name is reported and fails the request. */
static Unit *find_unit(Manager *m, const char *name, Buf *out, int *ret) {
        Unit *u = manager_find(m, name);
        if (!u) {
                buf_printf(out, "unknown unit '%s'\n", name);
                *ret = 1;
        }
        return u;
}

/* stop UNIT...: answers once every unit is down, saying how each ended. */
static int verb_stop(Manager *m, char **args, Buf *out) {
        if (!args[0]) {
                buf_printf(out, "which unit? (initctl --help)\n");
                return 2;
        }
        int ret = 0;
        request_wait_kind = WAIT_STOP;
        for (char **a = args; *a; a++) {
                Unit *u = find_unit(m, *a, out, &ret);
                if (!u)
                        continue;
                bool was_up = !unit_down(u) || u->state == UNIT_RESTARTING || u->state == UNIT_WAITING;
                int r = manager_stop_unit(m, u);
                if (r < 0 && r != -EALREADY) {
                        buf_printf(out, "%s: %s\n", u->name, strerror(-r));
                        ret = 1;
                } else if (!was_up)
                        buf_printf(out, "%s: already %s\n", u->name, unit_state_to_string(u->state));
                else if (!unit_down(u) && request_n_wait < ELEMENTSOF(request_wait))
                        request_wait[request_n_wait++] = u;
                else
                        describe_stopped(u, out);
        }
        return ret;
}

/* A unit a `start` waits for is settled once it left STARTING (and a stop in progress). */
static bool unit_settled(const Unit *u) {
        return u->state != UNIT_STARTING && u->state != UNIT_STOPPING;
}

/* How a start ended, for the reply of `start`; -1 when it failed. */
static int describe_started(Unit *u, Buf *out) {
        char why[600];
        const ExitRecord *r = unit_exit_history(u, 0);
        switch (u->state) {
        case UNIT_RUNNING:
                buf_printf(out, "%s: running (pid %d)\n", u->name, u->pid);
                return 0;
        case UNIT_WAITING:
                buf_printf(out, "%s: waiting for %s\n", u->name,
                           u->waiting_for ? u->waiting_for : "its requirements");
                return 0;
        case UNIT_FAILED:
                if (u->waiting_for) {
                        buf_printf(out, "%s: failed: %s\n", u->name, u->waiting_for);
                        return -1;
                }
                break;
        default:
                break;
        }
        buf_printf(out, "%s: failed to start (now %s)%s%s\n", u->name, unit_state_to_string(u->state),
                   r ? ": " : "", r ? exit_record_describe(r, why, sizeof why) : "");
        return -1;
}

/* What a unit verb's refusal means to the operator. Returns true when r was one (the line is
 * written, and *ret is 1 for the ones that fail the request). */
static bool verb_refused(Unit *u, int r, Buf *out, int *ret) {
        if (r == -ENOEXEC) {
                buf_printf(out, "%s: invalid, fix its file first (initctl status %s)\n", u->name, u->name);
                *ret = 1;
        } else if (r == -EALREADY)
                buf_printf(out, "%s: already %s\n", u->name, unit_state_to_string(u->state));
        else if (r < 0) {
                buf_printf(out, "%s: %s\n", u->name, strerror(-r));
                *ret = 1;
        }
        return r < 0;
}

/* start UNIT...: answers once each unit runs, waits for what it needs, or failed to start; a
 * start that failed makes the request fail (code 1), as `systemctl start` does. */
static int verb_start(Manager *m, char **args, Buf *out) {
        if (!args[0]) {
                buf_printf(out, "which unit? (initctl --help)\n");
                return 2;
        }
        int ret = 0;
        request_wait_kind = WAIT_START;
        for (char **a = args; *a; a++) {
                Unit *u = find_unit(m, *a, out, &ret);
                if (!u)
                        continue;
                int r = manager_start_unit(m, u);
                if (verb_refused(u, r, out, &ret))
                        continue;
                if (!unit_settled(u) && request_n_wait < ELEMENTSOF(request_wait))
                        request_wait[request_n_wait++] = u;
                else if (describe_started(u, out) < 0)
                        ret = 1;
        }
        return ret;
}

static int status_table_json(Manager *m, Buf *out) {
        uint64_t now = now_usec();
        buf_printf(out, "{\"units\":[");
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                uint64_t mem = 0;
                bool has_mem = unit_memory_current(u, &mem) >= 0;
                buf_printf(out, "%s{\"name\":", i ? "," : "");
                buf_json_str(out, u->name);
                buf_printf(out, ",\"state\":\"%s\",\"pid\":%d,\"restarts\":%u,\"uptime_usec\":%llu,",
                           unit_state_to_string(u->state), u->pid > 0 ? u->pid : 0, u->restarts,
                           (unsigned long long) (u->state == UNIT_RUNNING ? now - u->exec_at : 0));
                if (has_mem)
                        buf_printf(out, "\"memory_bytes\":%llu}", (unsigned long long) mem);
                else
                        buf_printf(out, "\"memory_bytes\":null}");
        }
        buf_printf(out, "]}\n");
        return 0;
}

static const char *const exit_kind_names[_EXIT_KIND_MAX] = {
        [EXIT_CLEAN] = "exited",
        [EXIT_CODE] = "exited",
        [EXIT_SIGNAL] = "killed",
        [EXIT_SPAWN] = "spawn-failed",
};

static void json_cgroup_u64(Buf *out, const char *key, Unit *u, const char *file, const char *flat_key) {
        uint64_t v;
        int r = -ENOENT;
        if (u->pid > 0 && u->cgroup_path)
                r = flat_key ? runtime_cgroup_read_key(u->cgroup_path, file, flat_key, &v)
                             : runtime_cgroup_read_u64(u->cgroup_path, file, &v);
        if (r >= 0 && v != UINT64_MAX)
                buf_printf(out, ",\"%s\":%llu", key, (unsigned long long) v);
        else
                buf_printf(out, ",\"%s\":null", key);
}

static int status_unit_json(Unit *u, Buf *out) {
        uint64_t now = now_usec();
        buf_printf(out, "{\"name\":");
        buf_json_str(out, u->name);
        buf_printf(out, ",\"description\":");
        buf_json_str(out, u->config ? u->config->description : NULL);
        buf_printf(out, ",\"file\":");
        buf_json_str(out, u->path);
        buf_printf(out,
                   ",\"state\":\"%s\",\"state_for_usec\":%llu,\"pid\":%d,\"restarts\":%u,\"restarts_in_a_"
                   "row\":%u",
                   unit_state_to_string(u->state), (unsigned long long) (now - u->state_since),
                   u->pid > 0 ? u->pid : 0, u->restarts, u->consecutive);
        if (u->state == UNIT_RESTARTING && u->timer.armed)
                buf_printf(out, ",\"next_restart_in_usec\":%llu",
                           (unsigned long long) (u->next_restart > now ? u->next_restart - now : 0));
        else
                buf_printf(out, ",\"next_restart_in_usec\":null");
        buf_printf(out, ",\"waiting_for\":");
        buf_json_str(out, u->waiting_for);
        json_cgroup_u64(out, "memory_current", u, "memory.current", NULL);
        json_cgroup_u64(out, "memory_max", u, "memory.max", NULL);
        json_cgroup_u64(out, "oom_kills", u, "memory.events", "oom_kill");
        json_cgroup_u64(out, "pids_current", u, "pids.current", NULL);
        json_cgroup_u64(out, "pids_max", u, "pids.max", NULL);
        json_cgroup_u64(out, "cpu_usage_usec", u, "cpu.stat", "usage_usec");
        json_cgroup_u64(out, "cpu_throttled", u, "cpu.stat", "nr_throttled");
        buf_printf(out, ",\"exits\":[");
        for (unsigned i = 0; i < UNIT_EXIT_HISTORY; i++) {
                const ExitRecord *r = unit_exit_history(u, i);
                if (!r)
                        break;
                char t[LOG_TIME_MAX];
                log_format_time(t, sizeof t, r->when);
                buf_printf(out, "%s{\"time\":\"%s\",\"uptime_usec\":%llu,\"kind\":\"%s\",", i ? "," : "", t,
                           (unsigned long long) r->uptime, exit_kind_names[r->kind]);
                if (r->kind == EXIT_SIGNAL)
                        buf_printf(out, "\"code\":null,\"signal\":\"%s\"", signal_name(r->code));
                else if (r->kind == EXIT_SPAWN)
                        buf_printf(out, "\"code\":null,\"signal\":null");
                else
                        buf_printf(out, "\"code\":%d,\"signal\":null", r->code);
                buf_printf(out, ",\"oom\":%s,\"message\":", r->oom ? "true" : "false");
                buf_json_str(out, r->message);
                buf_printf(out, "}");
        }
        buf_printf(out, "],\"errors\":[");
        for (char **e = u->errors; e && *e; e++) {
                buf_printf(out, "%s", e == u->errors ? "" : ",");
                buf_json_str(out, *e);
        }
        buf_printf(out, "]}\n");
        return u->state == UNIT_RUNNING ? 0 : 3;
}

typedef int (*UnitVerb)(Manager *m, Unit *u);

static int each_unit(Manager *m, char **args, UnitVerb verb, const char *done, Buf *out) {
        if (!args[0]) {
                buf_printf(out, "which unit? (initctl --help)\n");
                return 2;
        }
        int ret = 0;
        for (char **a = args; *a; a++) {
                Unit *u = find_unit(m, *a, out, &ret);
                if (!u)
                        continue;
                int r = verb(m, u);
                if (verb_refused(u, r, out, &ret))
                        continue;
                buf_printf(out, "%s: %s (now %s)\n", u->name, done, unit_state_to_string(u->state));
                if (u->state == UNIT_FAILED)
                        ret = 1;
        }
        return ret;
}

int control_handle_request(Manager *m, const ControlHooks *h, char *line, Buf *out) {
        char *args[CONTROL_WORDS_MAX + 1] = { 0 };
        size_t n = 0;
        for (char *save = NULL, *w = strtok_r(line, " \t\r\n", &save); w;
             w = strtok_r(NULL, " \t\r\n", &save)) {
                if (n == ELEMENTSOF(args) - 1) {
                        buf_printf(out, "too many arguments\n");
                        return 2;
                }
                args[n++] = w;
        }
        if (n < 2 || !streq(args[0], CONTROL_PROTOCOL)) {
                buf_printf(out, "bad request: expected '%s VERB [ARGS]'\n", CONTROL_PROTOCOL);
                return 2;
        }
        /* --json, anywhere after the verb, asks for the documented JSON form. */
        bool json = false;
        size_t k = 2;
        for (size_t i = 2; i < n; i++) {
                if (streq(args[i], "--json"))
                        json = true;
                else
                        args[k++] = args[i];
        }
        args[k] = NULL;
        const char *verb = args[1];
        if (streq(verb, "status")) {
                if (!args[2])
                        return json ? status_table_json(m, out) : status_table(m, out);
                Unit *u = manager_find(m, args[2]);
                if (!u) {
                        buf_printf(out, "unknown unit '%s'\n", args[2]);
                        return 1;
                }
                return json ? status_unit_json(u, out) : status_unit(u, out);
        }
        if (streq(verb, "logs"))
                return verb_logs(m, args + 2, json, out);
        if (streq(verb, "reload")) {
                ReloadReport rep;
                if (!m->unit_dirs || manager_reload(m, (const char *const *) m->unit_dirs, &rep) < 0) {
                        buf_printf(out, "reload failed: out of memory\n");
                        return 1;
                }
                buf_printf(out, "reload: %u new, %u removed, %u changed, %u unchanged\n", rep.added,
                           rep.removed, rep.changed, rep.unchanged);
                for (size_t i = 0; i < m->n_units; i++)
                        for (char **e = m->units[i]->reload_errors; e && *e; e++)
                                buf_printf(out, "%s: kept running its previous version: %s\n",
                                           m->units[i]->name, *e);
                for (size_t i = 0; i < m->n_units; i++)
                        if (m->units[i]->state == UNIT_INVALID)
                                buf_printf(out, "%s: invalid (initctl status %s)\n", m->units[i]->name,
                                           m->units[i]->name);
                return rep.kept ? 1 : 0;
        }
        if (streq(verb, "start"))
                return verb_start(m, args + 2, out);
        if (streq(verb, "stop"))
                return verb_stop(m, args + 2, out);
        if (streq(verb, "restart"))
                return each_unit(m, args + 2, manager_restart_unit, "restarting", out);
        static const struct {
                const char *verb;
                ShutdownMode mode;
        } shutdowns[] = { { "poweroff", SHUTDOWN_POWEROFF },
                          { "reboot", SHUTDOWN_REBOOT },
                          { "halt", SHUTDOWN_HALT } };
        for (size_t i = 0; i < ELEMENTSOF(shutdowns); i++)
                if (streq(verb, shutdowns[i].verb)) {
                        if (!h || !h->shutdown) {
                                buf_printf(out, "%s is not available here\n", verb);
                                return 1;
                        }
                        buf_printf(out, "%s: stopping units\n", verb);
                        h->shutdown(shutdowns[i].mode, "initctl");
                        return 0;
                }
        buf_printf(out, "unknown command '%s' (initctl --help)\n", verb);
        return 2;
}

static void reap_clients(LoopTimer *t) {
        (void) t;
        while (graveyard) {
                Client *c = graveyard;
                graveyard = c->next;
                free(c);
        }
}

/* Closes the connection now; the memory goes once the current batch of events is over. */
static void client_free(Client *c) {
        for (Client **p = &clients; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        loop_close(&c->src);
        loop_timer_disarm(&c->timeout);
        buf_free(&c->out);
        buf_free(&c->wait_body);
        if (c->follow)
                n_followers--;
        c->follow = NULL;
        c->n_wait = 0;
        c->next = graveyard;
        graveyard = c;
        if (!reaper.armed)
                loop_timer_arm(&reaper, 0);
        n_clients--;
        if (listener_paused && loop_modify(&listener, EPOLLIN) >= 0)
                listener_paused = false;
}

static void client_touch(Client *c) {
        c->active = ++activity_tick;
}

/* Makes room for a new connection: drops the least recently active client (of the followers
 * only, with followers_only) that holds no state-changing request, so that idle, slow and
 * stalled clients make way and `stop` or `poweroff` always get through. False when every
 * client holds one. */
static bool client_evict(bool followers_only, const Client *keep) {
        Client *victim = NULL;
        for (Client *c = clients; c; c = c->next)
                if (c != keep && !c->holds && (!followers_only || c->follow) &&
                    (!victim || c->active < victim->active))
                        victim = c;
        if (!victim)
                return false;
        if (!victim->replying && !victim->follow && !victim->draining && victim->n_wait == 0) {
                static const char msg[] =
                        CONTROL_PROTOCOL " 1\nbusy: dropped to make room for newer clients\n";
                (void) !send(victim->src.fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        client_free(victim);
        return true;
}

/* A follower with lines waiting must read within CONTROL_TIMEOUT of its last progress. */
static void follower_stalled(Client *c, bool progress) {
        if (c->follow && (progress || !c->timeout.armed))
                loop_timer_arm(&c->timeout, now_usec() + CONTROL_TIMEOUT);
}

static void client_flush(Client *c) {
        bool progress = false;
        while (c->out_pos < c->out.len) {
                ssize_t k = send(c->src.fd, c->out.data + c->out_pos, c->out.len - c->out_pos,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EAGAIN && loop_modify(&c->src, EPOLLOUT) >= 0) {
                                follower_stalled(c, progress);
                                return; /* EPOLLOUT brings us back */
                        }
                        break;
                }
                c->out_pos += (size_t) k;
                progress = true;
                client_touch(c);
        }
        if (c->follow) { /* all sent: wait for more lines, or for the reader to go */
                loop_timer_disarm(&c->timeout);
                if (loop_modify(&c->src, EPOLLIN) < 0)
                        client_free(c);
                else if (c->out.cap > FOLLOW_BACKLOG_MAX) /* a burst is over: give it back */
                        buf_free(&c->out);
                else
                        c->out.len = c->out_pos = 0;
                return;
        }
        /* Closing with unread input would reset the connection and could destroy the reply
         * in flight (an oversized request, say): shut down our side and drain until EOF or
         * the client's timeout. */
        if (c->out_pos < c->out.len || shutdown(c->src.fd, SHUT_WR) < 0 ||
            loop_modify(&c->src, EPOLLIN) < 0) {
                client_free(c);
                return;
        }
        buf_free(&c->out);
        c->out_pos = 0;
        c->draining = true;
}

/* A state-changing request holds its connection: nothing drops it to make room. */
static bool request_changes_state(const char *line) {
        static const char *const verbs[] = { "start",    "stop",   "restart", "reload",
                                             "poweroff", "reboot", "halt" };
        char verb[16];
        if (sscanf(line, "%*s %15s", verb) != 1)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verb, verbs[i]))
                        return true;
        return false;
}

static void client_reply(Client *c, int code, Buf *body) {
        buf_printf(&c->out, "%s %d\n", CONTROL_PROTOCOL, code);
        buf_printf(&c->out, "%.*s", (int) body->len, body->data ? body->data : "");
        buf_free(body);
        if (c->out.oom) {
                client_free(c);
                return;
        }
        c->replying = true;
        if (!c->follow) /* it has CONTROL_TIMEOUT to read it */
                loop_timer_arm(&c->timeout, now_usec() + CONTROL_TIMEOUT);
        client_flush(c);
}

/* The reply waits for units: a stop at most their longest TimeoutStopSec= (then SIGKILL of
 * the cgroup) and a little more, a start at most START_TIMEOUT. */
static void client_wait(Client *c, int code, Buf *body) {
        uint64_t longest = 0;
        for (size_t i = 0; i < request_n_wait; i++) {
                c->wait[i] = request_wait[i];
                if (c->wait[i]->config && c->wait[i]->config->timeout_stop_usec != USEC_INFINITY)
                        longest = MAX(longest, c->wait[i]->config->timeout_stop_usec);
        }
        c->n_wait = request_n_wait;
        c->wait_kind = request_wait_kind;
        c->wait_code = code;
        c->wait_body = *body;
        *body = (Buf){ 0 };
        loop_timer_arm(&c->timeout, now_usec() + (c->wait_kind == WAIT_START ? START_TIMEOUT
                                                                             : longest + 5 * USEC_PER_SEC));
}

/* `logs -f`: the connection stays open, without a timeout; at most CONTROL_FOLLOWERS_MAX
 * at once (the least recently served one makes way), each bounded by FOLLOW_BACKLOG_MAX. */
static void client_follow(Client *c) {
        if (n_followers >= CONTROL_FOLLOWERS_MAX)
                (void) client_evict(true, c);
        c->follow = request_follow;
        c->follow_seq = request_follow_seq;
        c->follow_json = request_follow_json;
        n_followers++;
        loop_timer_disarm(&c->timeout); /* it may follow for days */
}

static void client_request(Client *c) {
        int code;
        Buf body = { 0 };
        char *nl = memchr(c->in, '\n', c->in_len);
        if (nl) {
                *nl = 0;
                c->holds = request_changes_state(c->in);
                request_follow = NULL;
                request_n_wait = 0;
                code = control_handle_request(manager, &hooks, c->in, &body);
                if (request_n_wait > 0) {
                        client_wait(c, code, &body);
                        return;
                }
                if (request_follow && code == 0)
                        client_follow(c);
        } else if (c->in_len >= sizeof c->in - 1) {
                buf_printf(&body, "request too long (limit %d bytes)\n", CONTROL_REQUEST_MAX);
                code = 2;
        } else
                return; /* wait for the rest of the line */
        client_reply(c, code, &body);
}

static void client_event(LoopSource *s, uint32_t events) {
        Client *c = s->userdata;
        if (c->draining) {
                char scratch[4096];
                ssize_t k;
                while ((k = recv(s->fd, scratch, sizeof scratch, MSG_DONTWAIT)) > 0)
                        ;
                if (k == 0 || errno != EAGAIN)
                        client_free(c);
                return;
        }
        if (c->follow) { /* a follower only ever says goodbye */
                char scratch[256];
                ssize_t k = recv(s->fd, scratch, sizeof scratch, MSG_DONTWAIT);
                if (k == 0 || (k < 0 && errno != EAGAIN) || (events & (EPOLLERR | EPOLLHUP)))
                        client_free(c);
                else if (events & EPOLLOUT)
                        client_flush(c);
                return;
        }
        if (c->replying) {
                client_flush(c);
                return;
        }
        if (c->n_wait > 0) { /* its reply is not ready: more input waits, a hangup ends it */
                if ((events & (EPOLLERR | EPOLLHUP)) || loop_modify(&c->src, 0) < 0)
                        client_free(c);
                return;
        }
        if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
                client_free(c);
                return;
        }
        ssize_t k = recv(s->fd, c->in + c->in_len, sizeof c->in - 1 - c->in_len, MSG_DONTWAIT);
        if (k < 0 && errno == EAGAIN)
                return;
        if (k <= 0) {
                client_free(c);
                return;
        }
        client_touch(c);
        c->in_len += (size_t) k;
        c->in[c->in_len] = 0;
        client_request(c);
}

/* A wait that outlived its bound is answered as it stands. */
static void wait_expired(Client *c) {
        for (size_t i = 0; i < c->n_wait; i++)
                if (c->wait[i])
                        buf_printf(&c->wait_body, "%s: still %s\n", c->wait[i]->name,
                                   unit_state_to_string(c->wait[i]->state));
        c->n_wait = 0;
        client_reply(c, 1, &c->wait_body);
}

static void client_timeout(LoopTimer *t) {
        Client *c = t->userdata;
        if (c->n_wait > 0) {
                wait_expired(c);
                return;
        }
        client_free(c);
}

/* Whether a waiting request is done with u; says how u ended up. */
static bool wait_answered(Client *c, Unit *u) {
        if (c->wait_kind == WAIT_STOP) {
                if (!unit_down(u))
                        return false;
                describe_stopped(u, &c->wait_body);
                return true;
        }
        if (!unit_settled(u))
                return false;
        if (describe_started(u, &c->wait_body) < 0)
                c->wait_code = 1;
        return true;
}

void control_state_notify(Unit *u) {
        for (Client *c = clients, *next; c; c = next) {
                next = c->next;
                if (c->n_wait == 0)
                        continue;
                bool pending = false;
                for (size_t i = 0; i < c->n_wait; i++) {
                        if (c->wait[i] == u && wait_answered(c, u))
                                c->wait[i] = NULL;
                        pending = pending || c->wait[i];
                }
                if (!pending) {
                        c->n_wait = 0;
                        loop_timer_disarm(&c->timeout);
                        client_reply(c, c->wait_code, &c->wait_body);
                }
        }
}

static void client_add(int fd) {
        /* At the cap, a new client still gets in: the least recently active one makes way. */
        if (n_clients >= CONTROL_CLIENTS_MAX && !client_evict(false, NULL)) {
                static const char busy[] =
                        CONTROL_PROTOCOL " 1\nbusy: every client holds a request that changes state\n";
                (void) !send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                close(fd);
                return;
        }
        Client *c = calloc(1, sizeof *c);
        if (!c) {
                close(fd);
                return;
        }
        c->src = (LoopSource){ .fd = fd, .handler = client_event, .userdata = c };
        c->next = clients;
        clients = c;
        c->timeout = (LoopTimer){ .handler = client_timeout, .userdata = c };
        n_clients++;
        client_touch(c);
        if (loop_add(&c->src, EPOLLIN) < 0) {
                client_free(c);
                return;
        }
        loop_timer_arm(&c->timeout, now_usec() + CONTROL_TIMEOUT);
}

static void listener_event(LoopSource *s, uint32_t events) {
        (void) events;
        for (unsigned i = 0; i < ACCEPT_BATCH; i++) {
                int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == ECONNABORTED || errno == EINTR)
                                continue;
                        if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM)
                                return; /* EAGAIN: all taken */
                        /* Out of fds or memory: an older client gives its own back. With none
                         * to drop, the listener rests until one goes, rather than spin. */
                        if (client_evict(false, NULL))
                                continue;
                        if (loop_modify(s, 0) >= 0)
                                listener_paused = true;
                        return;
                }
                struct ucred cred;
                socklen_t l = sizeof cred;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) < 0 || cred.uid != 0) {
                        static const char deny[] = CONTROL_PROTOCOL " 1\npermission denied: root only\n";
                        (void) !send(fd, deny, sizeof deny - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                        close(fd);
                        continue;
                }
                client_add(fd);
        }
}

int control_listen(Manager *m, const char *path, const ControlHooks *h) {
        manager = m;
        hooks = *h;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(errno, "control socket: %m");
        (void) unlink(path);
        /* root only, also by file mode: 0600, as PROTOCOL.md says (a socket needs no x bit) */
        mode_t old = umask(0177);
        int r = bind(fd, (struct sockaddr *) &sa, sizeof sa);
        umask(old);
        if (r < 0 || listen(fd, SOMAXCONN) < 0) {
                r = log_error_errno(errno, "control socket %s: %m", path);
                close(fd);
                return r;
        }
        listener = (LoopSource){ .fd = fd, .handler = listener_event };
        reaper = (LoopTimer){ .handler = reap_clients };
        return loop_add(&listener, EPOLLIN);
}

void control_logs_notify(Unit *u) {
        for (Client *c = clients, *next; c; c = next) {
                next = c->next;
                if (c->follow != u || !u->logs)
                        continue;
                uint64_t last = log_ring_last_seq(u->logs);
                if (c->out.len - c->out_pos > FOLLOW_BACKLOG_MAX) {
                        c->follow_dropped += last - c->follow_seq;
                        c->follow_seq = last;
                        continue;
                }
                if (c->follow_dropped && !c->follow_json) {
                        buf_printf(&c->out, "(%llu lines dropped: this reader was too slow)\n",
                                   (unsigned long long) c->follow_dropped);
                        c->follow_dropped = 0;
                }
                LogsOut o = { .out = &c->out, .unit = u->name, .json = c->follow_json };
                if (c->follow_seq < log_ring_first_seq(u->logs) - 1)
                        c->follow_seq = log_ring_first_seq(u->logs) - 1;
                log_ring_read(u->logs, c->follow_seq, 0, format_log_line, &o);
                c->follow_seq = last;
                if (c->out.oom)
                        client_free(c);
                else
                        client_flush(c);
        }
}

void control_forget_unit(Unit *u) {
        for (Client *c = clients, *next; c; c = next) {
                next = c->next;
                for (size_t i = 0; i < c->n_wait; i++)
                        if (c->wait[i] == u) {
                                buf_printf(&c->wait_body, "%s: %s and removed\n", u->name,
                                           c->wait_kind == WAIT_STOP ? "stopped" : "not started");
                                c->wait[i] = NULL;
                        }
                if (c->follow == u)
                        client_free(c);
        }
}
