/* SPDX-License-Identifier: MIT */
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"
#include "tap.h"
#include "util.h"

static int order[4], n_fired;
static void fired(LoopTimer *t) {
        order[n_fired++] = (int) (intptr_t) t->userdata;
}

static int reads;
static void readable(LoopSource *s, uint32_t ev) {
        char b[8];
        (void) ev;
        if (read(s->fd, b, sizeof b) > 0)
                reads++;
}

int main(void) {
        CHECK(loop_init() == 0);
        uint64_t now = now_usec();
        LoopTimer a = { .handler = fired, .userdata = (void *) 1 };
        LoopTimer b = { .handler = fired, .userdata = (void *) 2 };
        LoopTimer c = { .handler = fired, .userdata = (void *) 3 };
        loop_timer_arm(&a, now + 30000);
        loop_timer_arm(&b, now + 10000);
        loop_timer_arm(&c, now + 20000);
        loop_timer_disarm(&c); /* a disarmed timer never fires */
        while (n_fired < 2)
                loop_run_once();
        CHECK(order[0] == 2 && order[1] == 1);
        CHECK(now_usec() - now >= 30000); /* never early */
        CHECK(!a.armed && !b.armed && !c.armed);

        int p[2];
        CHECK(pipe(p) == 0);
        LoopSource s = { .fd = p[0], .handler = readable };
        CHECK(loop_add(&s, EPOLLIN) == 0);
        CHECK(write(p[1], "x", 1) == 1);
        loop_run_once();
        CHECK(reads == 1);
        loop_close(&s);
        CHECK(s.fd == -1);
        TAP_DONE();
}
