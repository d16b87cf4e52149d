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
#include "spec.h"
#include "unit-spec.h"
#include "util.h"

#define CONTROL_TIMEOUT (5 * USEC_PER_SEC)

typedef struct Client {
        LoopSource src;
        LoopTimer timeout;
        char in[CONTROL_REQUEST_MAX + 1];
        size_t in_len;
        Buf out;
        size_t out_pos;
        bool replying;
        bool draining; /* reply sent; reading until EOF so the close sends no RST */
} Client;

static Manager *manager;
static ControlHooks hooks;
static LoopSource listener = { .fd = -1 };
static unsigned n_clients;

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

static void describe_uptime(Unit *u, char *buf, size_t len) {
        if (u->state == UNIT_RUNNING)
                format_timespan(buf, len, now_usec() - u->exec_at);
        else
                snprintf(buf, len, "-");
}

static void describe_memory(Unit *u, char *buf, size_t len) {
        uint64_t v;
        if (u->pid > 0 && u->cgroup_path &&
            runtime_cgroup_read_u64(u->cgroup_path, "memory.current", &v) >= 0)
                format_bytes(buf, len, v);
        else
                snprintf(buf, len, "-");
}

static int status_table(Manager *m, Buf *out) {
        /* fits an 80-column serial console */
        buf_printf(out, "%-20s %-10s %7s %8s %-12s %8s\n", "UNIT", "STATE", "PID", "RESTARTS", "UPTIME",
                   "MEMORY");
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                char up[32], mem[32], pid[16];
                describe_uptime(u, up, sizeof up);
                describe_memory(u, mem, sizeof mem);
                if (u->pid > 0)
                        snprintf(pid, sizeof pid, "%d", u->pid);
                else
                        snprintf(pid, sizeof pid, "-");
                buf_printf(out, "%-20.20s %-10s %7s %8u %-12s %8s\n", u->name,
                           unit_state_to_string(u->state), pid, u->restarts, up, mem);
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
        if (runtime_cgroup_read_u64(cg, "memory.current", &cur) >= 0) {
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
                if (rc->sec == UINT64_MAX)
                        buf_printf(out, "immediate, then backoff to %s",
                                   format_timespan(t, sizeof t,
                                                   rc->max_delay != UINT64_MAX ? rc->max_delay
                                                                               : RESTART_MAX_USEC));
                else
                        buf_printf(out, "RestartSec=%s%s", format_timespan(t, sizeof t, rc->sec),
                                   rc->steps ? ", with backoff" : "");
                buf_printf(out, "), restarted %u times, %u in a row\n", u->restarts, u->consecutive);
        }
        if (u->waiting_for[0] && (u->state == UNIT_WAITING || u->state == UNIT_FAILED))
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
        if (u->dropped)
                buf_printf(out, "  Output:   %llu bytes dropped (console too slow)\n",
                           (unsigned long long) u->dropped);
        for (char **e = u->errors; e && *e; e++)
                buf_printf(out, "  Error:    %s\n", *e);
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
                Unit *u = manager_find(m, *a);
                if (!u) {
                        buf_printf(out, "unknown unit '%s'\n", *a);
                        ret = 1;
                        continue;
                }
                int r = verb(m, u);
                if (r == -ENOEXEC) {
                        buf_printf(out, "%s: invalid, fix its file first (initctl status %s)\n", u->name,
                                   u->name);
                        ret = 1;
                } else if (r == -EALREADY)
                        buf_printf(out, "%s: already %s\n", u->name, unit_state_to_string(u->state));
                else if (r < 0) {
                        buf_printf(out, "%s: %s\n", u->name, strerror(-r));
                        ret = 1;
                } else
                        buf_printf(out, "%s: %s (now %s)\n", u->name, done, unit_state_to_string(u->state));
        }
        return ret;
}

int control_handle_request(Manager *m, const ControlHooks *h, char *line, Buf *out) {
        char *args[16] = { 0 };
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
        const char *verb = args[1];
        if (streq(verb, "status")) {
                if (!args[2])
                        return status_table(m, out);
                Unit *u = manager_find(m, args[2]);
                if (!u) {
                        buf_printf(out, "unknown unit '%s'\n", args[2]);
                        return 1;
                }
                return status_unit(u, out);
        }
        if (streq(verb, "start"))
                return each_unit(m, args + 2, manager_start_unit, "starting", out);
        if (streq(verb, "stop"))
                return each_unit(m, args + 2, manager_stop_unit, "stopping", out);
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

static void client_free(Client *c) {
        loop_close(&c->src);
        loop_timer_disarm(&c->timeout);
        buf_free(&c->out);
        free(c);
        n_clients--;
}

static void client_flush(Client *c) {
        while (c->out_pos < c->out.len) {
                ssize_t k = send(c->src.fd, c->out.data + c->out_pos, c->out.len - c->out_pos,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EAGAIN && loop_modify(&c->src, EPOLLOUT) >= 0)
                                return; /* EPOLLOUT brings us back */
                        break;
                }
                c->out_pos += (size_t) k;
        }
        /* Closing with unread input would reset the connection and could destroy the reply
         * in flight (an oversized request, say): shut down our side and drain until EOF or
         * the client's timeout. */
        if (c->out_pos < c->out.len || shutdown(c->src.fd, SHUT_WR) < 0 ||
            loop_modify(&c->src, EPOLLIN) < 0) {
                client_free(c);
                return;
        }
        c->draining = true;
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
        if (c->replying) {
                client_flush(c);
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
        c->in_len += (size_t) k;
        c->in[c->in_len] = 0;
        char *nl = memchr(c->in, '\n', c->in_len);
        int code;
        Buf body = { 0 };
        if (nl) {
                *nl = 0;
                code = control_handle_request(manager, &hooks, c->in, &body);
        } else if (c->in_len >= sizeof c->in - 1) {
                buf_printf(&body, "request too long (limit %d bytes)\n", CONTROL_REQUEST_MAX);
                code = 2;
        } else
                return; /* wait for the rest of the line */
        buf_printf(&c->out, "%s %d\n", CONTROL_PROTOCOL, code);
        buf_printf(&c->out, "%.*s", (int) body.len, body.data ? body.data : "");
        buf_free(&body);
        if (c->out.oom) {
                client_free(c);
                return;
        }
        c->replying = true;
        client_flush(c);
}

static void client_timeout(LoopTimer *t) {
        client_free(t->userdata);
}

static void listener_event(LoopSource *s, uint32_t events) {
        (void) events;
        for (;;) {
                int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                        return;
                struct ucred cred;
                socklen_t l = sizeof cred;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) < 0 || cred.uid != 0) {
                        static const char deny[] = CONTROL_PROTOCOL " 1\npermission denied: root only\n";
                        (void) !send(fd, deny, sizeof deny - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                        close(fd);
                        continue;
                }
                if (n_clients >= CONTROL_CLIENTS_MAX) {
                        static const char busy[] = CONTROL_PROTOCOL " 1\nbusy: too many clients\n";
                        (void) !send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                        close(fd);
                        continue;
                }
                Client *c = calloc(1, sizeof *c);
                if (!c) {
                        close(fd);
                        continue;
                }
                c->src = (LoopSource){ .fd = fd, .handler = client_event, .userdata = c };
                c->timeout = (LoopTimer){ .handler = client_timeout, .userdata = c };
                n_clients++;
                if (loop_add(&c->src, EPOLLIN) < 0) {
                        client_free(c);
                        continue;
                }
                loop_timer_arm(&c->timeout, now_usec() + CONTROL_TIMEOUT);
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
        mode_t old = umask(0077); /* root only, also by file mode */
        int r = bind(fd, (struct sockaddr *) &sa, sizeof sa);
        umask(old);
        if (r < 0 || listen(fd, 64) < 0) {
                r = log_error_errno(errno, "control socket %s: %m", path);
                close(fd);
                return r;
        }
        listener = (LoopSource){ .fd = fd, .handler = listener_event };
        return loop_add(&listener, EPOLLIN);
}
