/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * PID 1's one event loop: epoll over fds, plus deadlines. Timers cost no fd and no wakeup:
 * the earliest deadline becomes epoll_wait()'s timeout, so an idle machine with nothing
 * scheduled sleeps until an fd speaks.
 */

typedef struct LoopSource LoopSource;
typedef void (*LoopHandler)(LoopSource *s, uint32_t events);
struct LoopSource {
        int fd; /* -1 once closed: a pending event for it in the current batch is ignored */
        LoopHandler handler;
        void *userdata;
};

typedef struct LoopTimer LoopTimer;
typedef void (*LoopTimerHandler)(LoopTimer *t);
struct LoopTimer {
        uint64_t deadline; /* CLOCK_MONOTONIC µs */
        LoopTimerHandler handler;
        void *userdata;
        LoopTimer *next;
        bool armed;
};

int loop_init(void);
int loop_add(LoopSource *s, uint32_t events);
int loop_modify(LoopSource *s, uint32_t events);
/* Removes s from epoll, closes its fd and sets it to -1. */
void loop_close(LoopSource *s);
void loop_timer_arm(LoopTimer *t, uint64_t deadline);
void loop_timer_disarm(LoopTimer *t);
/* Waits for and dispatches one batch of events and due timers. */
int loop_run_once(void);
