/* SPDX-License-Identifier: MIT */
/*
 * keel-bench-net: the guest side of bench/net.py's bulk TCP figures, a sender and a receiver
 * with no tuning of their own, so that what differs between two runs is the path.
 *
 *   keel-bench-net recv PORT
 *   keel-bench-net send [-w SECONDS] ADDR PORT MIB
 *
 *   recv   listens on 0.0.0.0:PORT (prints "listening on PORT" once it does), then serves one
 *          connection after the other for ever: reads to EOF, discarding, answers "got N\n"
 *          with the byte count, closes. SIGTERM ends it (it may be a container's PID 1, which
 *          has no default signal actions).
 *   send   connects to ADDR:PORT (a numeric IPv4 address: a static binary has no NSS),
 *          retrying for up to -w SECONDS (default 60) while nothing listens yet, writes MIB
 *          MiB, half-closes, and waits for the receiver's count. The clock (CLOCK_MONOTONIC)
 *          runs from the first write to that answer, which the receiver sends only after it
 *          has read every byte: the time of the whole transfer, one round trip included.
 *          Prints: bytes=N got=N us=US mib_s=X.XX; exits 1 if the receiver got less.
 *
 * Reads and writes are of BLOCK bytes, as iperf3's default for TCP. BusyBox nc, which an
 * earlier version used, moves 1 KiB per read and write through a select() loop, and dd feeds
 * it through a pipe: under TCG its own system calls, not the path, set the pace.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include "macros.h"

#define BLOCK (128 * 1024)

static char buf[BLOCK];

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void usage(FILE *f) {
        fputs("usage: keel-bench-net recv PORT\n"
              "       keel-bench-net send [-w SECONDS] ADDR PORT MIB\n",
              f);
}

static void on_term(int sig) {
        (void) sig;
        _exit(0);
}

static int parse_port(const char *s, struct sockaddr_in *sa) {
        char *end;
        unsigned long p = strtoul(s, &end, 10);
        if (*s == 0 || *end != 0 || p == 0 || p > 65535) {
                fprintf(stderr, "keel-bench-net: '%s' is not a port\n", s);
                return -EINVAL;
        }
        sa->sin_family = AF_INET;
        sa->sin_port = htons((uint16_t) p);
        return 0;
}

/* One connection: everything to EOF, then the count. */
static void serve(int fd) {
        uint64_t got = 0;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        fprintf(stderr, "recv: read: %m\n");
                        return;
                }
                if (n == 0)
                        break;
                got += (uint64_t) n;
        }
        if (dprintf(fd, "got %llu\n", (unsigned long long) got) < 0)
                fprintf(stderr, "recv: answer: %m\n");
}

static int recv_main(const char *port) {
        struct sockaddr_in sa = { .sin_addr.s_addr = htonl(INADDR_ANY) };
        if (parse_port(port, &sa) < 0)
                return 2;
        struct sigaction term = { .sa_handler = on_term };
        sigaction(SIGTERM, &term, NULL);
        signal(SIGPIPE, SIG_IGN); /* a sender that gave up: an error on that connection only */
        _cleanup_close_ int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            bind(lfd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(lfd, 8) < 0) {
                fprintf(stderr, "recv: listen on port %s: %m\n", port);
                return 1;
        }
        printf("listening on %s\n", port);
        fflush(stdout);
        for (;;) {
                _cleanup_close_ int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno != EINTR && errno != ECONNABORTED)
                                fprintf(stderr, "recv: accept: %m\n");
                        continue;
                }
                serve(fd);
        }
}

/* Connect, retrying while the other side is not there yet (a container still starting). */
static int connect_retry(const struct sockaddr_in *sa, unsigned wait_s) {
        uint64_t deadline = now_ns() + (uint64_t) wait_s * 1000000000u;
        for (;;) {
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return negative_errno();
                if (connect(fd, (const struct sockaddr *) sa, sizeof *sa) == 0)
                        return fd;
                int r = negative_errno();
                close(fd);
                bool later =
                        r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ENETUNREACH || r == -ETIMEDOUT;
                if (!later || now_ns() >= deadline)
                        return r;
                struct timespec ts = { .tv_nsec = 100 * 1000000 };
                nanosleep(&ts, NULL);
        }
}

static int write_all(int fd, const char *p, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static int send_main(const char *addr, const char *port, const char *mib, unsigned wait_s) {
        struct sockaddr_in sa = { 0 };
        if (parse_port(port, &sa) < 0)
                return 2;
        if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
                fprintf(stderr, "send: '%s' is not an IPv4 address\n", addr);
                return 2;
        }
        char *end;
        unsigned long long total = strtoull(mib, &end, 10) * 1024 * 1024;
        if (*mib == 0 || *end != 0 || total == 0) {
                fprintf(stderr, "send: '%s' is not a size in MiB\n", mib);
                return 2;
        }
        memset(buf, 0x5a, sizeof buf);
        _cleanup_close_ int fd = connect_retry(&sa, wait_s);
        if (fd < 0) {
                errno = -fd;
                fprintf(stderr, "send: connect to %s:%s: %m\n", addr, port);
                return 1;
        }
        uint64_t t0 = now_ns();
        for (unsigned long long left = total; left > 0;) {
                size_t n = left < sizeof buf ? (size_t) left : sizeof buf;
                int r = write_all(fd, buf, n);
                if (r < 0) {
                        errno = -r;
                        fprintf(stderr, "send: write after %llu bytes: %m\n", total - left);
                        return 1;
                }
                left -= n;
        }
        if (shutdown(fd, SHUT_WR) < 0) {
                fprintf(stderr, "send: shutdown: %m\n");
                return 1;
        }
        char answer[64];
        size_t len = 0;
        for (;;) {
                ssize_t n = read(fd, answer + len, sizeof answer - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0 || (len += (size_t) n) == sizeof answer - 1)
                        break;
        }
        uint64_t ns = now_ns() - t0;
        answer[len] = 0;
        unsigned long long got = 0;
        if (sscanf(answer, "got %llu", &got) != 1) {
                fprintf(stderr, "send: no count from the receiver (%zu bytes of answer)\n", len);
                return 1;
        }
        printf("bytes=%llu got=%llu us=%llu mib_s=%.2f\n", total, got, (unsigned long long) (ns / 1000),
               (double) total / (1024.0 * 1024.0) / ((double) ns / 1e9));
        return got == total ? 0 : 1;
}

int main(int argc, char **argv) {
        if (argc >= 2 && (streq(argv[1], "-h") || streq(argv[1], "--help"))) {
                usage(stdout);
                return 0;
        }
        if (argc == 3 && streq(argv[1], "recv"))
                return recv_main(argv[2]);
        if (argc >= 5 && streq(argv[1], "send")) {
                unsigned wait_s = 60;
                int i = 2;
                if (streq(argv[i], "-w") && argc == 7) {
                        wait_s = (unsigned) strtoul(argv[i + 1], NULL, 10);
                        i += 2;
                }
                if (argc - i == 3)
                        return send_main(argv[i], argv[i + 1], argv[i + 2], wait_s);
        }
        usage(stderr);
        return 2;
}
