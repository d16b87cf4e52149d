/* SPDX-License-Identifier: MIT */
#include <sys/epoll.h>

#include "log.h"
#include "loop.h"
#include "util.h"

static int epoll_fd = -1;
static LoopTimer *timers; /* sorted by deadline */

int loop_init(void) {
        epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        return epoll_fd < 0 ? negative_errno() : 0;
}

int loop_add(LoopSource *s, uint32_t events) {
        struct epoll_event ev = { .events = events, .data.ptr = s };
        if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, s->fd, &ev) < 0)
                return negative_errno();
        return 0;
}

int loop_modify(LoopSource *s, uint32_t events) {
        struct epoll_event ev = { .events = events, .data.ptr = s };
        if (epoll_ctl(epoll_fd, EPOLL_CTL_MOD, s->fd, &ev) < 0)
                return negative_errno();
        return 0;
}

void loop_close(LoopSource *s) {
        if (s->fd < 0)
                return;
        (void) epoll_ctl(epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
        s->fd = safe_close(s->fd);
}

void loop_timer_disarm(LoopTimer *t) {
        if (!t->armed)
                return;
        for (LoopTimer **i = &timers; *i; i = &(*i)->next)
                if (*i == t) {
                        *i = t->next;
                        break;
                }
        t->armed = false;
        t->next = NULL;
}

void loop_timer_arm(LoopTimer *t, uint64_t deadline) {
        loop_timer_disarm(t);
        t->deadline = deadline;
        LoopTimer **i = &timers;
        while (*i && (*i)->deadline <= deadline)
                i = &(*i)->next;
        t->next = *i;
        *i = t;
        t->armed = true;
}

int loop_run_once(void) {
        int timeout = -1;
        if (timers) {
                uint64_t now = now_usec();
                uint64_t d = timers->deadline > now ? timers->deadline - now : 0;
                timeout = (int) MIN((d + 999) / 1000, (uint64_t) 60 * 60 * 1000); /* round up: never early */
        }
        struct epoll_event events[32];
        int n = epoll_wait(epoll_fd, events, (int) ELEMENTSOF(events), timeout);
        if (n < 0 && errno != EINTR)
                return log_error_errno(errno, "epoll_wait: %m");
        for (int i = 0; i < n; i++) {
                LoopSource *s = events[i].data.ptr;
                if (s->fd >= 0)
                        s->handler(s, events[i].events);
        }
        uint64_t now = now_usec();
        while (timers && timers->deadline <= now) {
                LoopTimer *t = timers;
                loop_timer_disarm(t);
                t->handler(t);
        }
        return 0;
}
