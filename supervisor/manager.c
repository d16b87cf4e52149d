/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "log.h"
#include "manager-internal.h"
#include "reload.h"
#include "manager.h"
#include "deps.h"
#include "devices.h"
#include "spec.h"
#include "unit-net.h"
#include "unit-spec.h"
#include "util.h"
#include "value.h"

static const char *const state_names[_UNIT_STATE_MAX] = {
        [UNIT_INVALID] = "invalid",       [UNIT_INACTIVE] = "inactive", [UNIT_WAITING] = "waiting",
        [UNIT_STARTING] = "starting",     [UNIT_RUNNING] = "running",   [UNIT_STOPPING] = "stopping",
        [UNIT_RESTARTING] = "restarting", [UNIT_FAILED] = "failed",
};

/* Messages are allocated only while there is one: most units never have any, and fixed
 * buffers for them were most of a unit's memory. Out of memory leaves a note rather than
 * NULL, which would read as "no error". */
static char text_no_memory[] = "(message lost: out of memory)";

static void text_free(char *s) {
        if (s != text_no_memory)
                free(s);
}

static void text_set(char **slot, const char *s) {
        char *old = *slot;
        *slot = s ? strdup(s) : NULL;
        if (s && !*slot)
                *slot = text_no_memory;
        text_free(old);
}

_printf_(2, 3) static void text_printf(char **slot, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *s = NULL;
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        text_free(*slot);
        *slot = r >= 0 ? s : text_no_memory;
}

const char *unit_state_to_string(UnitState s) {
        return s < _UNIT_STATE_MAX ? state_names[s] : "?";
}

char *exit_info_describe(const ExitInfo *e, char *buf, size_t len) {
        switch (e->kind) {
        case EXIT_CLEAN:
        case EXIT_CODE:
                snprintf(buf, len, "exited with code %d", e->code);
                break;
        case EXIT_SIGNAL:
                snprintf(buf, len, "killed by %s", signal_name(e->code));
                break;
        case EXIT_SPAWN:
                snprintf(buf, len, "spawn failed: %s", e->message ? e->message : "?");
                break;
        default:
                snprintf(buf, len, "?");
        }
        if (e->oom) {
                size_t n = strlen(buf);
                snprintf(buf + n, len - n, " (out of memory: the OOM killer fired in the unit's cgroup)");
        }
        return buf;
}

/* ---- actions: each runs on one (state, event) and returns the next state --------------- */

typedef UnitState (*Action)(Unit *u);

static void unit_output(LoopSource *s, uint32_t events);
static void unit_release_output(Unit *u);
static void unit_status(LoopSource *s, uint32_t events);

static UnitState after_exit(Unit *u);

static ssize_t output_pump(Unit *u, unsigned rounds);
static void flush_partial(Unit *u);

static int unit_open_output(Unit *u) {
        if (u->output.fd >= 0 && u->output_wfd >= 0)
                return 0;
        if (u->output.fd >= 0) { /* the last run's pipe, still draining: finish it first */
                /* 4 × 64 KiB is more than a pipe holds: only a live writer keeps it going. */
                for (int i = 0; i < 4 && output_pump(u, 16) > 0; i++)
                        ;
                if (u->output.fd >= 0) { /* a straggler still holds it open: let it go */
                        flush_partial(u);
                        loop_close(&u->output);
                }
        }
        int p[2];
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
                return negative_errno();
        /* Only our read end is non-blocking; the container's end behaves like a normal pipe. */
        (void) fcntl(p[1], F_SETFL, 0);
        u->output = (LoopSource){ .fd = p[0], .handler = unit_output, .userdata = u };
        u->output_wfd = p[1];
        int r = loop_add(&u->output, EPOLLIN);
        if (r < 0) {
                u->output.fd = safe_close(u->output.fd);
                u->output_wfd = safe_close(u->output_wfd);
        }
        return r;
}

/* The device program is loaded once, at the first start of a unit with a cgroup; without it
 * a container holding CAP_MKNOD could make and open any device, so no unit starts. */
static int manager_devices_program(Manager *m, char *err, size_t errlen) {
        if (m->devices_program >= 0 || !m->cfg.cgroup_root)
                return 0;
        int fd = devices_program_load(err, errlen);
        if (fd < 0)
                return fd;
        m->devices_program = fd;
        return 0;
}

/* The start failed before there was a process to reap. */
static void unit_spawn_failed(Unit *u, int r, const char *why) {
        text_set(&u->last_exit.message, why);
        u->last_exit = (ExitInfo){
                .when = now_usec(), .kind = EXIT_SPAWN, .code = -r, .message = u->last_exit.message
        };
}

static UnitState act_spawn(Unit *u) {
        if (u->config->restart.burst && !u->starts)
                u->starts = calloc(UNIT_START_LIMIT_MAX, sizeof *u->starts);
        if (u->starts)
                u->starts[u->n_starts++ % UNIT_START_LIMIT_MAX] = now_usec();
        text_set(&u->waiting_for, NULL);
        int r = unit_open_output(u);
        if (r < 0)
                log_warning_errno(r, "%s: cannot capture output, sending it to the console: %m", u->name);

        _cleanup_(unit_spec_done) UnitSpec us = { 0 };
        char why[400] = "";
        r = manager_devices_program(u->manager, why, sizeof why);
        if (r >= 0)
                r = unit_spec_build(u, &us, why, sizeof why);
        if (r < 0) {
                unit_spawn_failed(u, r, why);
                return after_exit(u);
        }
        ContainerProcess proc;
        SpawnError err = { 0 };
        text_set(&u->spawn_error, NULL);
        r = runtime_spawn(&us.spec, &proc, &err);
        if (r < 0) {
                unit_spawn_failed(u, r, err.message);
                return after_exit(u);
        }
        /* Network=bridge: PID 1 configures the child's namespace from outside while the child
         * sets up its root, then lets it go on. A failure kills it; its exit, reaped as usual,
         * reports the network error. */
        if (us.spec.network.wait_for_parent && (r = unit_net_attach(u, &proc, why, sizeof why)) < 0) {
                runtime_abort(&proc);
                text_set(&u->spawn_error, why);
        }
        u->pid = proc.pid;
        u->pidfd = proc.pidfd;
        if (u->cgroup_path) { /* optional: without it, status reads the file by path */
                int fd = runtime_cgroup_open_attr(u->cgroup_path, "memory.current");
                u->memory_fd = fd >= 0 ? fd : -1;
        }
        u->status = (LoopSource){ .fd = proc.status_fd, .handler = unit_status, .userdata = u };
        if ((r = loop_add(&u->status, EPOLLIN)) < 0) {
                /* Without the socket we cannot see exec happen: assume it does. */
                log_warning_errno(r, "%s: cannot watch spawn status: %m", u->name);
                u->status.fd = safe_close(u->status.fd);
                u->exec_at = now_usec();
                return UNIT_RUNNING;
        }
        log_debug("%s: spawned as pid %d", u->name, u->pid);
        return UNIT_STARTING;
}

static UnitState act_running(Unit *u) {
        loop_close(&u->status);
        u->exec_at = now_usec();
        log_info("%s: running (pid %d)", u->name, u->pid);
        return UNIT_RUNNING;
}

static void unit_signal(Unit *u, int sig) {
        if (u->pidfd >= 0 && syscall(SYS_pidfd_send_signal, u->pidfd, sig, NULL, 0) >= 0)
                return;
        if (u->pid > 0)
                kill(u->pid, sig);
}

static UnitState act_kill(Unit *u) {
        log_info("%s: stopping (%s)", u->name, signal_name(u->config->kill_signal));
        unit_signal(u, u->config->kill_signal);
        if (u->config->timeout_stop_usec != USEC_INFINITY)
                loop_timer_arm(&u->timer, now_usec() + u->config->timeout_stop_usec);
        return UNIT_STOPPING;
}

static UnitState act_kill_hard(Unit *u) {
        char t[32];
        log_warning("%s: did not stop within %s, sending SIGKILL to its cgroup", u->name,
                    format_timespan(t, sizeof t, u->config->timeout_stop_usec));
        if (!u->cgroup_path || runtime_cgroup_kill(u->cgroup_path) < 0)
                unit_signal(u, SIGKILL);
        return UNIT_STOPPING;
}

static UnitState act_cancel(Unit *u) {
        loop_timer_disarm(&u->timer);
        log_info("%s: restart cancelled", u->name);
        return UNIT_INACTIVE;
}

static void history_push(Unit *u) {
        const ExitInfo *e = &u->last_exit;
        if (!u->history && !(u->history = calloc(UNIT_EXIT_HISTORY, sizeof *u->history))) {
                log_error("%s: out of memory: this exit is not kept in its history", u->name);
                return;
        }
        ExitRecord *r = &u->history[u->history_head];
        char *message = r->message;
        *r = (ExitRecord){ .when = realtime_usec(),
                           .uptime = e->kind != EXIT_SPAWN && u->exec_at ? e->when - u->exec_at : 0,
                           .kind = e->kind,
                           .code = e->code,
                           .oom = e->oom,
                           .message = message };
        text_set(&r->message, e->kind == EXIT_SPAWN ? e->message : NULL);
        u->history_head = (u->history_head + 1) % UNIT_EXIT_HISTORY;
        if (u->n_history < UNIT_EXIT_HISTORY)
                u->n_history++;
}

int unit_memory_current(Unit *u, uint64_t *ret) {
        if (u->pid <= 0 || !u->cgroup_path)
                return -ENODATA;
        if (u->memory_fd >= 0)
                return runtime_cgroup_pread_u64(u->memory_fd, ret);
        return runtime_cgroup_read_u64(u->cgroup_path, "memory.current", ret);
}

const ExitRecord *unit_exit_history(const Unit *u, unsigned i) {
        if (i >= u->n_history || !u->history)
                return NULL;
        return &u->history[(u->history_head + UNIT_EXIT_HISTORY - 1 - i) % UNIT_EXIT_HISTORY];
}

char *exit_record_describe(const ExitRecord *r, char *buf, size_t len) {
        ExitInfo e = { .when = r->when, .kind = r->kind, .code = r->code, .oom = r->oom, .message = r->message };
        return exit_info_describe(&e, buf, len);
}

/* StartLimitBurst=: more than burst starts within the interval and the unit gives up. */
static bool start_limit_hit(Unit *u, uint64_t now) {
        const RestartConfig *rc = &u->config->restart;
        unsigned burst = MIN(rc->burst, UNIT_START_LIMIT_MAX);
        if (burst == 0 || !u->starts || u->n_starts < burst)
                return false;
        uint64_t oldest = u->starts[(u->n_starts - burst) % UNIT_START_LIMIT_MAX];
        return now - oldest <= rc->interval;
}

/* After every exit: restart (after the policy's delay), or rest in failed/inactive. */
static UnitState after_exit(Unit *u) {
        const RestartConfig *rc = &u->config->restart;
        const ExitInfo *e = &u->last_exit;
        char why[600], t[32];
        exit_info_describe(e, why, sizeof why);
        history_push(u);
        bool sig = e->kind == EXIT_SIGNAL;
        ExitClass cls = exit_classify(rc, e->kind == EXIT_SPAWN, sig, e->code);
        /* A run that lasted says the crash loop is over: the next restart is immediate again. */
        if (e->kind != EXIT_SPAWN && u->exec_at && restart_resets(rc, e->when - u->exec_at))
                u->consecutive = 0;
        if (!u->manager->shutting_down && restart_wanted(rc, cls, sig, e->code)) {
                uint64_t now = now_usec();
                if (start_limit_hit(u, now)) {
                        log_error(
                                "%s: %s; started %u times within %s, not restarting it (StartLimitBurst=); "
                                "`initctl start %s` tries again",
                                u->name, why, MIN(rc->burst, UNIT_START_LIMIT_MAX),
                                format_timespan(t, sizeof t, rc->interval), u->name);
                        return UNIT_FAILED;
                }
                uint64_t delay = restart_delay(rc, u->consecutive++);
                u->next_restart = now + delay;
                loop_timer_arm(&u->timer, u->next_restart);
                log_warning("%s: %s; restarting in %s", u->name, why, format_timespan(t, sizeof t, delay));
                return UNIT_RESTARTING;
        }
        if (cls == EXIT_CLASS_CLEAN) {
                log_info("%s: %s", u->name, why);
                return UNIT_INACTIVE;
        }
        log_error("%s: %s", u->name, why);
        return UNIT_FAILED;
}

static UnitState act_exited(Unit *u) {
        return after_exit(u);
}

static UnitState act_restart_timer(Unit *u) {
        u->restarts++;
        return act_spawn(u);
}

static UnitState act_stopped(Unit *u) {
        loop_timer_disarm(&u->timer);
        history_push(u);
        char why[600];
        log_info("%s: stopped (%s)", u->name, exit_info_describe(&u->last_exit, why, sizeof why));
        if (u->restart_after_stop && !u->manager->shutting_down) {
                u->restart_after_stop = false;
                return act_spawn(u);
        }
        return UNIT_INACTIVE;
}

/* Starting a unit starts what it Requires= and Wants= too. */
static void pull_in(Unit *u) {
        Unit **lists[] = { u->requires, u->wants };
        size_t ns[] = { u->n_requires, u->n_wants };
        for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                for (size_t i = 0; i < ns[l]; i++)
                        if (lists[l][i] &&
                            (lists[l][i]->state == UNIT_INACTIVE || lists[l][i]->state == UNIT_FAILED))
                                unit_dispatch(lists[l][i], EV_START);
}

static bool unit_requires(const Unit *u, const Unit *d) {
        for (size_t i = 0; i < u->n_requires; i++)
                if (u->requires[i] == d)
                        return true;
        return false;
}

/*
 * Can u start now? 1: yes; 0: not yet (waiting_for says on what); -1: never, because a unit
 * it Requires= is invalid, failed or missing (waiting_for says which). Units it is only
 * ordered after are waited for while they are on their way up, and not at all once they have
 * failed: ordering is not a requirement.
 */
static int deps_ready(Unit *u) {
        if (u->requires_missing && u->requires_missing[0]) {
                text_printf(&u->waiting_for, "requires %s, which does not exist", u->requires_missing[0]);
                return -1;
        }
        for (size_t i = 0; i < u->n_requires; i++) {
                Unit *d = u->requires[i];
                if (d->state == UNIT_INVALID || d->state == UNIT_FAILED) {
                        text_printf(&u->waiting_for, "requires %s, which is %s", d->name,
                                    unit_state_to_string(d->state));
                        return -1;
                }
        }
        for (size_t i = 0; i < u->n_after; i++) {
                Unit *d = u->after[i];
                if (d->state == UNIT_WAITING || d->state == UNIT_STARTING || d->state == UNIT_RESTARTING ||
                    d->state == UNIT_STOPPING) {
                        text_printf(&u->waiting_for, "for %s (%s)", d->name, unit_state_to_string(d->state));
                        return 0;
                }
        }
        return 1;
}

static UnitState act_request_start(Unit *u) {
        text_set(&u->waiting_for, NULL);
        u->manager->kick = true;
        return UNIT_WAITING;
}

/*
 * Turns. A spawn costs PID 1 milliseconds (tens under emulation, more with a bridge to set
 * up): spawning a hundred units in one pass of the loop would leave initctl, reaping and
 * container output unserved for seconds. So a turn of the loop spawns at most
 * START_TURN_MAX units, and none once START_TURN_USEC have passed since its first spawn;
 * the units left over stay WAITING, and start_timer, due at once, lets the loop poll its
 * fds before the next turn goes on with them. Time to all-started is the same: the loop
 * does the same spawns, with its other work in between.
 */
#define START_TURN_MAX  8u
#define START_TURN_USEC (10 * USEC_PER_MSEC)

static bool start_turn_open(Manager *m) {
        if (m->start_timer.armed) /* this turn is over: the waiting units go in the next */
                return false;
        if (m->turn_starts == 0)
                return true;
        return m->turn_starts < START_TURN_MAX && now_usec() - m->turn_start < START_TURN_USEC;
}

static void start_next_turn(Manager *m) {
        if (!m->start_timer.armed) /* after the fds of this loop pass: never in the same one */
                loop_timer_arm(&m->start_timer, now_usec() + 1);
}

static void check_milestones(Manager *m);

/* The budget is the loop's to renew (manager_turn_begin() before each pass): what the fds of
 * this pass started counts against it. */
static void start_turn(LoopTimer *t) {
        Manager *m = t->userdata;
        m->kick = true;
        manager_kick(m);
        check_milestones(m);
}

void manager_turn_begin(Manager *m) {
        m->turn_starts = 0;
}

static UnitState act_check_deps(Unit *u) {
        Manager *m = u->manager;
        int r = deps_ready(u);
        if (r == 0)
                return UNIT_WAITING;
        if (r < 0) {
                log_error("%s: not starting: %s", u->name, u->waiting_for);
                return UNIT_FAILED;
        }
        if (m->turn_starts++ == 0)
                m->turn_start = now_usec();
        return act_spawn(u);
}

static UnitState act_cancel_wait(Unit *u) {
        log_info("%s: start cancelled", u->name);
        return UNIT_INACTIVE;
}

/* The transition table: actions[state][event]; NULL means the event does not apply. */
/* clang-format off */
static const Action actions[_UNIT_STATE_MAX][_UNIT_EVENT_MAX] = {
        [UNIT_INVALID] = { 0 }, /* only a reload with a fixed file moves it */
        [UNIT_INACTIVE] = { [EV_START] = act_request_start },
        [UNIT_FAILED] = { [EV_START] = act_request_start },
        [UNIT_WAITING] = { [EV_DEPS] = act_check_deps, [EV_STOP] = act_cancel_wait },
        [UNIT_STARTING] = { [EV_EXEC] = act_running, [EV_EXIT] = act_exited, [EV_STOP] = act_kill },
        [UNIT_RUNNING] = { [EV_EXIT] = act_exited, [EV_STOP] = act_kill },
        [UNIT_STOPPING] = { [EV_EXIT] = act_stopped, [EV_TIMER] = act_kill_hard },
        [UNIT_RESTARTING] = { [EV_TIMER] = act_restart_timer, [EV_STOP] = act_cancel, [EV_START] = act_spawn },
};
/* clang-format on */

#define STATE_BIT(s) (1u << (s))

static bool any_unit_in(Manager *m, unsigned states) {
        for (size_t i = 0; i < m->n_units; i++)
                if (states & STATE_BIT(m->units[i]->state))
                        return true;
        return false;
}

static void settle(Manager *m);

/* After any change: has boot settled (nothing STARTING), has shutdown finished (nothing
 * alive)? Each milestone fires once. */
static void check_milestones(Manager *m) {
        if (m->booting && !any_unit_in(m, STATE_BIT(UNIT_STARTING) | STATE_BIT(UNIT_WAITING)))
                settle(m);
        if (m->shutting_down && m->cfg.on_all_stopped &&
            !any_unit_in(m, STATE_BIT(UNIT_STARTING) | STATE_BIT(UNIT_RUNNING) | STATE_BIT(UNIT_STOPPING))) {
                void (*cb)(Manager *) = m->cfg.on_all_stopped;
                m->cfg.on_all_stopped = NULL;
                cb(m);
        }
}

static bool unit_alive(const Unit *u) {
        return u->state == UNIT_STARTING || u->state == UNIT_RUNNING || u->state == UNIT_STOPPING;
}

/* Shutdown in reverse order: a unit stops once nothing ordered after it is still alive. */
static bool dependents_down(Manager *m, const Unit *u) {
        for (size_t i = 0; i < m->n_units; i++) {
                const Unit *o = m->units[i];
                for (size_t j = 0; j < o->n_after && unit_alive(o); j++)
                        if (o->after[j] == u)
                                return false;
        }
        return true;
}

/* The dependency pass, after every change: waiting units that can go, go; units due to stop,
 * stop. Repeats until nothing moves (each round changes at least one state, and there are
 * finitely many). */
void manager_kick(Manager *m) {
        if (m->kicking)
                return;
        m->kicking = true;
        while (m->kick) {
                m->kick = false;
                for (size_t i = 0; i < m->n_units; i++) {
                        Unit *u = m->units[i];
                        if (u->state == UNIT_WAITING && start_turn_open(m))
                                unit_dispatch(u, EV_DEPS);
                        else if (u->state == UNIT_WAITING)
                                start_next_turn(m);
                        if (u->stop_pending && dependents_down(m, u)) {
                                u->stop_pending = false;
                                unit_dispatch(u, EV_STOP);
                        }
                }
        }
        m->kicking = false;
}

int unit_dispatch(Unit *u, UnitEvent ev) {
        Action a = actions[u->state][ev];
        if (!a)
                return -EALREADY;
        UnitState old = u->state;
        UnitState next = a(u);
        if (next != old) {
                u->state = next;
                u->state_since = now_usec();
                u->manager->kick = true; /* someone may be waiting for this one */
                if (next == UNIT_INACTIVE || next == UNIT_FAILED)
                        unit_release_output(u);
                if (u->manager->cfg.on_state)
                        u->manager->cfg.on_state(u);
        }
        if (ev == EV_START)
                pull_in(u);
        manager_kick(u->manager);
        check_milestones(u->manager);
        return 0;
}

/* ---- event sources -------------------------------------------------------------------------- */

static void unit_timer(LoopTimer *t) {
        unit_dispatch(t->userdata, EV_TIMER);
}

static void unit_status(LoopSource *s, uint32_t events) {
        (void) events;
        Unit *u = s->userdata;
        SpawnError err;
        int r = runtime_read_status(s->fd, &err);
        if (r == -EAGAIN)
                return;
        if (r == 1) { /* the child failed a stage; its exit follows */
                text_set(&u->spawn_error, err.message);
                loop_close(s);
                return;
        }
        if (u->spawn_error) { /* we killed it (network setup failed): EOF is not an exec */
                loop_close(s);
                return;
        }
        unit_dispatch(u, EV_EXEC);
}

/* Every line is kept: in the unit's ring for `initctl logs`, and on the data disk. */
static void store_line(Unit *u, const char *line, size_t len) {
        Manager *m = u->manager;
        uint64_t now = log_realtime_usec();
        if (!u->logs)
                u->logs = log_ring_new(0);
        if (u->logs && log_ring_append(u->logs, now, LOG_STREAM_STDOUT, line, len) >= 0 && m->cfg.on_log)
                m->cfg.on_log(u);
        if (m->cfg.log_dir && !u->logfile && !u->logfile_failed) {
                int r = log_file_open(m->cfg.log_dir, u->name, 0, LOG_FILE_KEEP_DEFAULT, !m->cfg.logs_clean,
                                      &u->logfile);
                u->logfile_failed = r < 0;
                if (r < 0)
                        log_warning_errno(r, "%s: cannot open its log file in %s: %m", u->name,
                                          m->cfg.log_dir);
        }
        if (u->logfile)
                (void) log_file_append(u->logfile, now, LOG_STREAM_STDOUT, line, len);
}

static void emit_line(Unit *u, const char *line, size_t len) {
        store_line(u, line, len);
        char buf[LOG_LINE_MAX + 80];
        int n = snprintf(buf, sizeof buf, "%s| %.*s\n", u->name, (int) MIN(len, (size_t) LOG_LINE_MAX), line);
        if (n <= 0)
                return;
        size_t l = MIN((size_t) n, sizeof buf - 1);
        Manager *m = u->manager;
        /* The console is slow (115200 baud): lines wait in a bounded queue, so a container
         * that writes flat out loses lines — counted — and never stalls PID 1. */
        bool ok = m->output_queued ? outq_write(&m->output, buf, l)
                                   : write(m->cfg.output_fd, buf, l) == (ssize_t) l;
        if (!ok)
                u->dropped += (uint64_t) len + 1;
}

/* The partial line goes out as it is: at LOG_LINE_MAX bytes, or when the pipe closes. */
static void flush_partial(Unit *u) {
        if (u->line_len > 0)
                emit_line(u, u->line, u->line_len);
        u->line_len = 0;
        free(u->line);
        u->line = NULL;
}

/* Keeps the start of a line that has no '\n' yet. The buffer exists only while it holds
 * something: idle units cost nothing for it. */
static void keep_partial(Unit *u, const char *s, size_t len) {
        while (len > 0) {
                /* A full buffer goes out only when more comes: a line of exactly LOG_LINE_MAX
                 * bytes and its '\n' stay one line. */
                if (u->line_len == LOG_LINE_MAX)
                        flush_partial(u);
                if (!u->line && !(u->line = malloc(LOG_LINE_MAX))) {
                        emit_line(u, s, MIN(len, (size_t) LOG_LINE_MAX)); /* out of memory: split, not lost */
                        s += MIN(len, (size_t) LOG_LINE_MAX);
                        len -= MIN(len, (size_t) LOG_LINE_MAX);
                        continue;
                }
                size_t k = MIN(len, LOG_LINE_MAX - u->line_len);
                memcpy(u->line + u->line_len, s, k);
                u->line_len += k;
                s += k;
                len -= k;
        }
}

/* Reads up to rounds × 4 KiB. Returns the last read's result: 0 at EOF (the pipe is then
 * closed), -1 when it is empty for now, > 0 when there may be more. */
static ssize_t output_pump(Unit *u, unsigned rounds) {
        char buf[4096];
        ssize_t n = -1;
        for (unsigned round = 0; round < rounds; round++) {
                n = read(u->output.fd, buf, sizeof buf);
                if (n == 0) { /* every writer is gone: the unit is down and we let go of our end */
                        flush_partial(u);
                        loop_close(&u->output);
                        return 0;
                }
                if (n < 0)
                        return -1;
                /* Whole lines go out from the read buffer; only a line's unfinished start
                 * is copied aside. */
                const char *p = buf, *end = buf + n;
                while (p < end) {
                        const char *nl = memchr(p, '\n', (size_t) (end - p));
                        if (!nl) {
                                keep_partial(u, p, (size_t) (end - p));
                                break;
                        }
                        if (u->line_len > 0) {
                                keep_partial(u, p, (size_t) (nl - p));
                                flush_partial(u);
                        } else
                                emit_line(u, p, (size_t) (nl - p));
                        p = nl + 1;
                }
        }
        return n;
}

static void unit_output(LoopSource *s, uint32_t events) {
        (void) events;
        /* A bounded amount per wakeup keeps one chatty unit from starving the others. */
        (void) output_pump(s->userdata, 4);
}

/* A unit at rest gives up its pipe: PID 1 closes its copy of the containers' end, reads
 * what is left and closes the read end at EOF. A thousand stopped units then hold no pipes. */
static void unit_release_output(Unit *u) {
        u->output_wfd = safe_close(u->output_wfd);
}

/* ---- public ------------------------------------------------------------------------------------ */

Manager *manager_new(const ManagerConfig *cfg) {
        Manager *m = calloc(1, sizeof *m);
        if (!m)
                return NULL;
        m->cfg = *cfg;
        m->devices_program = -1;
        m->start_timer = (LoopTimer){ .handler = start_turn, .userdata = m };
        manager_net_init(m);
        /* Only a non-blocking fd needs the queue; a blocking one (tests' stdout) is written
         * directly. */
        int fl = fcntl(cfg->output_fd, F_GETFL);
        if (fl >= 0 && (fl & O_NONBLOCK) && outq_init(&m->output, cfg->output_fd, 64 * 1024) >= 0)
                m->output_queued = true;
        return m;
}

Unit *manager_find(Manager *m, const char *name) {
        size_t l = strlen(name);
        /* "web" and "web.container" both name the unit */
        if (l > 10 && streq(name + l - 10, ".container"))
                l -= 10;
        for (size_t i = 0; i < m->n_units; i++)
                if (strlen(m->units[i]->name) == l && strncmp(m->units[i]->name, name, l) == 0)
                        return m->units[i];
        return NULL;
}

Unit *unit_new(Manager *m, const char *path) {
        Unit *u = calloc(1, sizeof *u);
        if (!u)
                return NULL;
        u->manager = m;
        u->pidfd = u->output_wfd = u->memory_fd = -1;
        u->status.fd = u->output.fd = -1;
        u->timer = (LoopTimer){ .handler = unit_timer, .userdata = u };
        const char *file = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        u->name = strndup(file, strlen(file) - strlen(".container"));
        u->path = strdup(path);
        if (!u->name || !u->path) {
                free(u->name);
                free(u->path);
                free(u);
                return NULL;
        }
        return u;
}

Unit *unit_free(Unit *u) {
        if (!u)
                return NULL;
        loop_timer_disarm(&u->timer);
        loop_close(&u->status);
        loop_close(&u->output);
        unit_net_forget(u);
        safe_close(u->output_wfd);
        safe_close(u->pidfd);
        safe_close(u->memory_fd);
        deps_free(u);
        unit_config_free(u->config);
        strv_free(u->errors);
        strv_free(u->reload_errors);
        unit_seccomp_release(u);
        free(u->starts);
        log_ring_free(u->logs);
        log_file_close(u->logfile);
        for (unsigned i = 0; u->history && i < UNIT_EXIT_HISTORY; i++)
                text_free(u->history[i].message);
        free(u->history);
        text_free(u->last_exit.message);
        text_free(u->spawn_error);
        text_free(u->waiting_for);
        free(u->line);
        free(u->cgroup_path);
        free(u->state_dir);
        free(u->name);
        free(u->path);
        free(u);
        return NULL;
}

/* Units with the same capabilities share the default filter: compiling is the slow part. */
void unit_seccomp_release(Unit *u) {
        if (!u->seccomp_shared)
                seccomp_program_free(&u->seccomp);
        u->seccomp = (SeccompProgram){ 0 };
        u->seccomp_shared = false;
}

/* The default filter comes from the cache (compiling is the slow part, and it is the same
 * for the same capabilities); a JSON profile is the unit's own. */
int unit_seccomp(Manager *m, Unit *u) {
        const UnitConfig *c = u->config;
        char err[512] = "";
        int r = 0;
        unit_seccomp_release(u);
        if (!c->seccomp_profile || streq(c->seccomp_profile, "default")) {
                uint64_t caps = (CAPS_DEFAULT & ~c->caps_drop) | c->caps_add;
                SeccompCache *e = NULL;
                for (size_t i = 0; i < m->n_seccomp_cache && !e; i++)
                        if (m->seccomp_cache[i].caps == caps)
                                e = &m->seccomp_cache[i];
                if (!e) {
                        SeccompCache *n = realloc(m->seccomp_cache, (m->n_seccomp_cache + 1) * sizeof *n);
                        if (!n)
                                r = -ENOMEM;
                        else {
                                m->seccomp_cache = n;
                                e = &n[m->n_seccomp_cache];
                                *e = (SeccompCache){ .caps = caps };
                                r = seccomp_program_default(caps, &e->prog, err, sizeof err);
                                /* libseccomp's compiler state (over a MiB for ~1000 rules on
                                 * three ABIs) is freed by now; give it back to the kernel
                                 * rather than keep it in PID 1's heap for ever. */
                                malloc_trim(0);
                                if (r >= 0)
                                        m->n_seccomp_cache++;
                                else
                                        e = NULL;
                        }
                }
                if (e) {
                        u->seccomp = e->prog;
                        u->seccomp_shared = true;
                }
        } else
                r = unit_spec_compile_seccomp(u, err, sizeof err);
        if (r < 0) {
                char *e = NULL;
                if (asprintf(&e, "%s: SeccompProfile=: %s", u->path, err[0] ? err : strerror(-r)) >= 0)
                        strv_push(&u->errors, e);
        }
        return r;
}

void unit_load(Manager *m, Unit *u) {
        u->content_hash = unit_file_hash(u->path);
        unit_file_load(u->path, u->name, &u->config, &u->errors);
        if (u->config && strv_length(u->errors) == 0)
                (void) unit_seccomp(m, u);
        if (u->config && u->config->userns == USERNS_AUTO) {
                /* Slots in load order: stable for as long as the unit exists. */
                bool used[UNIT_USERNS_SLOTS] = { false };
                for (size_t i = 0; i < m->n_units; i++)
                        if (m->units[i] != u && m->units[i]->config &&
                            m->units[i]->config->userns == USERNS_AUTO &&
                            m->units[i]->userns_slot < UNIT_USERNS_SLOTS)
                                used[m->units[i]->userns_slot] = true;
                u->userns_slot = 0;
                while (u->userns_slot < UNIT_USERNS_SLOTS && used[u->userns_slot])
                        u->userns_slot++;
                if (u->userns_slot == UNIT_USERNS_SLOTS)
                        strv_push(&u->errors, strdup("UserNS=auto: no free id range left"));
        }
        if (u->config && m->cfg.cgroup_root)
                (void) !asprintf(&u->cgroup_path, "%s/%s", m->cfg.cgroup_root, u->name);
        if (u->config && m->cfg.state_root)
                (void) !asprintf(&u->state_dir, "%s/%s", m->cfg.state_root, u->name);
        u->state = (strv_length(u->errors) > 0 || !u->config) ? UNIT_INVALID : UNIT_INACTIVE;
        u->state_since = now_usec();
        for (char **e = u->errors; e && *e; e++)
                log_error("%s", *e);
        if (u->state == UNIT_INVALID)
                log_error("%s: invalid, not starting it (the other units are not affected)", u->name);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static const char *path_stem(const char *path, size_t *len) {
        const char *f = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        *len = strlen(f) - strlen(".container");
        return f;
}

int unit_dirs_scan(const char *const *dirs, char ***ret) {
        _cleanup_strv_free_ char **paths = NULL;
        for (const char *const *d = dirs; *d; d++) {
                DIR *dir = opendir(*d);
                if (!dir) {
                        if (errno != ENOENT)
                                log_warning_errno(errno, "cannot read unit directory %s: %m", *d);
                        continue;
                }
                _cleanup_strv_free_ char **files = NULL;
                struct dirent *de;
                while ((de = readdir(dir))) {
                        size_t l = strlen(de->d_name);
                        if (l <= 10 || !streq(de->d_name + l - 10, ".container") ||
                            strv_length(files) >= 4096)
                                continue;
                        char *f = NULL;
                        if (asprintf(&f, "%s/%s", *d, de->d_name) < 0 || strv_push(&files, f) < 0) {
                                closedir(dir);
                                return -ENOMEM;
                        }
                }
                closedir(dir);
                if (!files)
                        continue;
                qsort(files, strv_length(files), sizeof(char *), cmp_str);
                for (char **f = files; *f; f++) {
                        size_t l, ol;
                        const char *stem = path_stem(*f, &l);
                        bool replaced = false;
                        for (char **o = paths; o && *o && !replaced; o++) {
                                const char *ostem = path_stem(*o, &ol);
                                if (l == ol && strncmp(stem, ostem, l) == 0) {
                                        /* a later directory replaces a same-named unit */
                                        log_info("%.*s: %s replaces %s", (int) l, stem, *f, *o);
                                        free(*o);
                                        *o = TAKE_PTR(*f);
                                        replaced = true;
                                }
                        }
                        if (!replaced) {
                                int r = strv_push(&paths, TAKE_PTR(*f));
                                if (r < 0)
                                        return r;
                        }
                }
        }
        *ret = TAKE_PTR(paths);
        return 0;
}

int manager_add_unit(Manager *m, Unit *u) {
        Unit **n = realloc(m->units, (m->n_units + 1) * sizeof(Unit *));
        if (!n)
                return -ENOMEM;
        m->units = n;
        m->units[m->n_units++] = u;
        return 0;
}

int manager_load(Manager *m, const char *const *dirs) {
        _cleanup_strv_free_ char **paths = NULL;
        strv_free(m->unit_dirs);
        m->unit_dirs = NULL;
        if (strv_extend_strv(&m->unit_dirs, (char *const *) dirs) < 0)
                return log_error("out of memory");
        if (unit_dirs_scan(dirs, &paths) < 0)
                return log_error("out of memory listing units");
        for (char **p = paths; p && *p; p++) {
                Unit *u = unit_new(m, *p);
                if (!u || manager_add_unit(m, u) < 0) {
                        unit_free(u);
                        return log_error("out of memory loading units");
                }
        }
        for (size_t i = 0; i < m->n_units; i++)
                unit_load(m, m->units[i]);
        unit_net_assign(m);
        if (deps_resolve(m) < 0)
                return log_error("out of memory resolving dependencies");
        int valid = 0;
        for (size_t i = 0; i < m->n_units; i++)
                valid += m->units[i]->state != UNIT_INVALID;
        return valid;
}

static void settle(Manager *m) {
        if (!m->booting)
                return;
        m->booting = false;
        loop_timer_disarm(&m->boot_timer);
        if (m->cfg.on_settled)
                m->cfg.on_settled(m);
}

static void boot_timeout(LoopTimer *t) {
        Manager *m = t->userdata;
        char span[32];
        for (size_t i = 0; i < m->n_units; i++)
                if (m->units[i]->state == UNIT_STARTING || m->units[i]->state == UNIT_WAITING)
                        log_warning("%s: still setting up after %s; not waiting for it any longer",
                                    m->units[i]->name,
                                    format_timespan(span, sizeof span, m->cfg.boot_timeout_usec));
        settle(m);
}

void manager_start_all(Manager *m) {
        m->booting = true;
        m->boot_timer = (LoopTimer){ .handler = boot_timeout, .userdata = m };
        loop_timer_arm(&m->boot_timer, now_usec() + (m->cfg.boot_timeout_usec ?: 30 * USEC_PER_SEC));
        /* Every unit is asked first and the dependency pass runs once all are: a unit must
         * not go ahead of one it is ordered after only because that one is later in the list. */
        m->kicking = true;
        for (size_t i = 0; i < m->n_units; i++)
                unit_dispatch(m->units[i], EV_START);
        m->kicking = false;
        m->kick = true;
        manager_kick(m);
        check_milestones(m); /* no units at all */
}

void manager_stop_all(Manager *m) {
        m->shutting_down = true;
        for (size_t i = m->n_units; i > 0; i--)
                m->units[i - 1]->stop_pending = true;
        m->kick = true;
        manager_kick(m);
        check_milestones(m); /* nothing was running */
}

void manager_close_logs(Manager *m) {
        m->cfg.log_dir = NULL; /* and no new file is opened */
        for (size_t i = 0; i < m->n_units; i++)
                m->units[i]->logfile = log_file_close(m->units[i]->logfile);
}

int manager_start_unit(Manager *m, Unit *u) {
        (void) m;
        if (u->state == UNIT_INVALID)
                return -ENOEXEC;
        /* Asked by a person: the backoff and the start limit start over. */
        u->consecutive = 0;
        u->n_starts = 0;
        return unit_dispatch(u, EV_START);
}

int manager_stop_unit(Manager *m, Unit *u) {
        /* What Requires= this unit cannot run without it: it stops first (systemd's rule). */
        for (size_t i = 0; i < m->n_units; i++)
                if (m->units[i] != u && unit_requires(m->units[i], u))
                        (void) unit_dispatch(m->units[i], EV_STOP);
        return unit_dispatch(u, EV_STOP);
}

int manager_restart_unit(Manager *m, Unit *u) {
        if (u->state == UNIT_RUNNING || u->state == UNIT_STARTING) {
                u->restart_after_stop = true;
                return unit_dispatch(u, EV_STOP);
        }
        if (u->state == UNIT_RESTARTING)
                loop_timer_disarm(&u->timer);
        return manager_start_unit(m, u);
}

bool manager_child_exited(Manager *m, const siginfo_t *si) {
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                if (u->pid != si->si_pid)
                        continue;
                /* The child's report is queued before its exit: read it before deciding. */
                if (u->status.fd >= 0) {
                        SpawnError err;
                        if (runtime_read_status(u->status.fd, &err) == 1)
                                text_set(&u->spawn_error, err.message);
                        loop_close(&u->status);
                }
                ExitInfo *e = &u->last_exit;
                text_free(e->message);
                *e = (ExitInfo){ .when = now_usec() };
                if (u->spawn_error) {
                        e->kind = EXIT_SPAWN;
                        e->message = u->spawn_error; /* handed over: the next start begins without */
                        u->spawn_error = NULL;
                } else if (si->si_code == CLD_EXITED) {
                        e->kind = si->si_status == 0 ? EXIT_CLEAN : EXIT_CODE;
                        e->code = si->si_status;
                } else {
                        e->kind = EXIT_SIGNAL;
                        e->code = si->si_status;
                }
                /* Read before the cgroup goes: an OOM kill is the reason people most need. */
                uint64_t ooms = 0;
                if (u->cgroup_path &&
                    runtime_cgroup_read_key(u->cgroup_path, "memory.events", "oom_kill", &ooms) >= 0)
                        e->oom = ooms > 0;
                u->pid = 0;
                u->pidfd = safe_close(u->pidfd);
                u->memory_fd = safe_close(u->memory_fd);
                /* The pid namespace died with its init, so the cgroup is empty or about to be. */
                if (u->cgroup_path && runtime_cgroup_remove(u->cgroup_path) < 0) {
                        runtime_cgroup_kill(u->cgroup_path);
                        int r = runtime_cgroup_remove(u->cgroup_path);
                        if (r < 0) /* reused by the next start; say so, it may hold stragglers */
                                log_warning_errno(r, "%s: cannot remove cgroup %s: %m", u->name,
                                                  u->cgroup_path);
                }
                unit_net_detach(u);
                unit_dispatch(u, EV_EXIT);
                if (u->removed)
                        reload_sweep(m);
                return true;
        }
        return false;
}
