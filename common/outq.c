/* SPDX-License-Identifier: MIT */
#include <sys/epoll.h>

#include "macros.h"
#include "outq.h"
#include "util.h"

static void outq_flush(OutQueue *q) {
        while (q->len > 0) {
                ssize_t k = write(q->src.fd, q->buf, q->len);
                if (k <= 0)
                        break; /* EAGAIN: EPOLLOUT brings us back; an error: keep it for later */
                memmove(q->buf, q->buf + k, q->len - (size_t) k);
                q->len -= (size_t) k;
        }
        bool want = q->len > 0;
        if (want != q->watching && loop_modify(&q->src, want ? EPOLLOUT : 0) >= 0)
                q->watching = want;
}

static void outq_event(LoopSource *s, uint32_t events) {
        (void) events;
        outq_flush(s->userdata);
}

int outq_init(OutQueue *q, int fd, size_t cap) {
        *q = (OutQueue) { .src = { .fd = fd, .handler = outq_event, .userdata = q }, .cap = cap };
        q->buf = malloc(cap);
        if (!q->buf)
                return -ENOMEM;
        return loop_add(&q->src, 0);
}

bool outq_write(OutQueue *q, const char *data, size_t n) {
        if (q->len + n > q->cap)
                return false;
        memcpy(q->buf + q->len, data, n);
        q->len += n;
        outq_flush(q);
        return true;
}
