/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "loop.h"

/*
 * A bounded output queue in front of a slow, non-blocking fd (the serial console): PID 1
 * never blocks on it, and nothing is lost until the queue itself is full. While data waits,
 * the fd is watched for EPOLLOUT; otherwise it costs no wakeup.
 */
typedef struct OutQueue {
        LoopSource src;
        char *buf;
        size_t cap, len;
        bool watching;
} OutQueue;

int outq_init(OutQueue *q, int fd, size_t cap);
/* Writes or queues all n bytes; returns false (and writes nothing) when they do not fit. */
bool outq_write(OutQueue *q, const char *data, size_t n);
