/* SPDX-License-Identifier: MIT */
/*
 * initctl: keel's control client. One request line out, the reply printed, PID 1's verdict as
 * the exit status: 0 success, 1 failure, 2 usage, 3 not running. Installed also as poweroff,
 * reboot and halt, which act by the name they are called with.
 */
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "control.h"
#include "initctl.h"
#include "macros.h"

static void usage(FILE *f) {
        fprintf(f, "Usage: initctl [OPTIONS] COMMAND [UNIT...]\n"
                   "\n"
                   "Talk to keel's PID 1 over " CONTROL_SOCKET_PATH ".\n"
                   "\n"
                   "Commands:\n"
                   "  status               one line per unit: state, pid, restarts, uptime, memory\n"
                   "  status UNIT          one unit in detail: file, state, last exit, errors\n"
                   "  start UNIT...        start units (a failed unit starts afresh)\n"
                   "  stop UNIT...         stop units: KillSignal=, then SIGKILL after TimeoutStopSec=\n"
                   "  restart UNIT...      stop, then start\n"
                   "  poweroff | reboot | halt\n"
                   "                       stop every unit in reverse order, then bring the machine down\n"
                   "\n"
                   "Options:\n"
                   "  -h, --help           this text\n"
                   "\n"
                   "Exit status: 0 success, 1 failure, 2 usage error, 3 unit not running.\n"
                   "UNIT is the unit file's name, with or without '.container'.\n");
}

/* When PID 1 cannot be reached, poweroff and friends still work through the signals PID 1
 * understands (../shared/DESIGN.md). */
static int fallback_signal(const char *verb) {
        int sig = streq(verb, "reboot") ? SIGINT : streq(verb, "halt") ? SIGUSR1 : SIGUSR2;
        if (kill(1, sig) < 0) {
                fprintf(stderr, "initctl: cannot signal PID 1: %m\n");
                return 1;
        }
        return 0;
}

bool initctl_is_my_name(const char *argv0) {
        const char *slash = strrchr(argv0, '/');
        const char *n = slash ? slash + 1 : argv0;
        return streq(n, "initctl") || streq(n, "poweroff") || streq(n, "reboot") || streq(n, "halt");
}

int initctl_main(int argc, char **argv) {
        char req[CONTROL_REQUEST_MAX + 2];
        size_t len = 0;
        const char *self = basename(argv[0]);
        int first = 1;
        const char *verb;

        if (streq(self, "poweroff") || streq(self, "reboot") || streq(self, "halt")) {
                verb = self;
                first = argc; /* busybox-style flags such as -f are accepted and ignored */
        } else {
                if (argc < 2) {
                        usage(stderr);
                        return 2;
                }
                if (streq(argv[1], "-h") || streq(argv[1], "--help") || streq(argv[1], "help")) {
                        usage(stdout);
                        return 0;
                }
                if (argv[1][0] == '-') {
                        fprintf(stderr, "initctl: unknown option '%s'\n", argv[1]);
                        return 2;
                }
                verb = argv[1];
                first = 2;
        }
        len = (size_t) snprintf(req, sizeof req, "%s %s", CONTROL_PROTOCOL, verb);
        for (int i = first; i < argc && len < sizeof req; i++)
                len += (size_t) snprintf(req + len, sizeof req - len, " %s", argv[i]);
        if (len + 1 >= sizeof req) {
                fprintf(stderr, "initctl: request too long (limit %d bytes)\n", CONTROL_REQUEST_MAX);
                return 2;
        }
        req[len++] = '\n';

        const char *path = getenv("KEEL_CONTROL_SOCKET");
        if (!path)
                path = CONTROL_SOCKET_PATH;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct timeval tv = { .tv_sec = 30 };
        if (fd >= 0) {
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        }
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int e = errno;
                if (streq(verb, "poweroff") || streq(verb, "reboot") || streq(verb, "halt"))
                        return fallback_signal(verb);
                fprintf(stderr, "initctl: cannot reach keel at %s: %s\n", path, strerror(e));
                return 1;
        }
        if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t) len) {
                fprintf(stderr, "initctl: send: %m\n");
                return 1;
        }

        char buf[65536];
        size_t got = 0;
        int code = -1;
        for (;;) {
                ssize_t k = recv(fd, buf + got, sizeof buf - 1 - got, 0);
                if (k < 0) {
                        fprintf(stderr, "initctl: no answer from PID 1: %m\n");
                        return 1;
                }
                if (k == 0)
                        break;
                got += (size_t) k;
                buf[got] = 0;
                if (code < 0) {
                        char *nl = strchr(buf, '\n');
                        if (!nl) {
                                if (got < sizeof buf - 1)
                                        continue;
                                break;
                        }
                        if (sscanf(buf, CONTROL_PROTOCOL " %d", &code) != 1) {
                                fprintf(stderr, "initctl: garbled reply from PID 1\n");
                                return 1;
                        }
                        size_t hdr = (size_t) (nl - buf) + 1;
                        memmove(buf, buf + hdr, got - hdr);
                        got -= hdr;
                }
                fwrite(buf, 1, got, code == 0 || code == 3 ? stdout : stderr);
                got = 0;
        }
        if (code < 0) {
                fprintf(stderr, "initctl: PID 1 closed the connection without a reply\n");
                return 1;
        }
        return code;
}
