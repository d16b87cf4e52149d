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
        fprintf(f,
                "Usage: initctl [--json] COMMAND [ARGS...]\n"
                "\n"
                "Talk to keel's PID 1 over " CONTROL_SOCKET_PATH " (root only).\n"
                "\n"
                "Commands:\n"
                "  status               one line per unit: state, pid, restarts, uptime, memory\n"
                "  status UNIT          one unit in detail: file, state and since when, pid, restart\n"
                "                       policy and countdown, the last 10 exits and why they ended,\n"
                "                       memory, tasks and CPU from its cgroup, errors of an invalid file\n"
                "  logs [-f] [-n N] UNIT\n"
                "                       its last N output lines (default 20), with times; -f keeps\n"
                "                       printing new lines until interrupted\n"
                "  start UNIT...        start units, and what they Requires=/Wants= (a failed unit\n"
                "                       starts afresh: backoff and start limit are reset)\n"
                "  stop UNIT...         stop units (and what Requires= them): KillSignal=, then the\n"
                "                       whole cgroup is killed after TimeoutStopSec=\n"
                "  restart UNIT...      stop, then start\n"
                "  reload               re-read the unit files: start new units, stop removed ones,\n"
                "                       restart changed ones; a changed file with errors is reported\n"
                "                       and the unit keeps running as it was (last known good)\n"
                "  poweroff | reboot | halt\n"
                "                       stop every unit in reverse order, then bring the machine down\n"
                "\n"
                "Options:\n"
                "  --json               status and logs as JSON (schema: supervisor/PROTOCOL.md)\n"
                "  -h, --help           this text\n"
                "\n"
                "Examples:\n"
                "  initctl status web            why did web restart?\n"
                "  initctl logs -f -n 50 web     watch web's output\n"
                "  vi /var/lib/keel/units/web.container && initctl reload\n"
                "\n"
                "Exit status: 0 success, 1 failure, 2 usage error, 3 unit not running.\n"
                "UNIT is the unit file's name, with or without '.container'. Unit files live in\n"
                "/etc/keel/units (baked into the image) and /var/lib/keel/units (the data disk,\n"
                "which replaces same-named baked ones).\n");
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

/* Sends one request line and prints the reply; returns PID 1's verdict. */
static int request(const char *verb, const char *req, size_t len, bool follow) {
        const char *path = getenv("KEEL_CONTROL_SOCKET");
        if (!path)
                path = CONTROL_SOCKET_PATH;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct timeval tv = { .tv_sec = 30 };
        if (fd >= 0) {
                if (!follow || !streq(verb, "logs")) /* a follower waits as long as it likes */
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
                FILE *o = code == 0 || code == 3 ? stdout : stderr;
                fwrite(buf, 1, got, o);
                fflush(o);
                got = 0;
        }
        if (code < 0) {
                fprintf(stderr, "initctl: PID 1 closed the connection without a reply\n");
                return 1;
        }
        /* PID 1 never ends a follower's stream unless it has to: the unit was removed, the
         * machine goes down, or this reader stopped reading for too long. */
        if (follow && streq(verb, "logs") && code == 0) {
                fprintf(stderr,
                        "initctl: PID 1 ended the stream (the unit was removed, the machine is going "
                        "down, or this reader was too slow)\n");
                return 1;
        }
        return code;
}

int initctl_main(int argc, char **argv) {
        char req[CONTROL_REQUEST_MAX + 2];
        size_t len = 0;
        const char *self = basename(argv[0]);
        int first = 1;
        const char *verb;
        bool json = false, follow = false;

        if (streq(self, "poweroff") || streq(self, "reboot") || streq(self, "halt")) {
                verb = self;
                first = argc; /* busybox-style flags such as -f are accepted and ignored */
        } else {
                if (argc < 2) {
                        usage(stderr);
                        return 2;
                }
                int i = 1;
                for (; i < argc && argv[i][0] == '-'; i++) {
                        if (streq(argv[i], "-h") || streq(argv[i], "--help")) {
                                usage(stdout);
                                return 0;
                        }
                        if (!streq(argv[i], "--json")) {
                                fprintf(stderr, "initctl: unknown option '%s' (initctl --help)\n", argv[i]);
                                return 2;
                        }
                        json = true;
                }
                if (i >= argc) {
                        usage(stderr);
                        return 2;
                }
                if (streq(argv[i], "help")) {
                        usage(stdout);
                        return 0;
                }
                verb = argv[i];
                first = i + 1;
        }
        for (int i = first; i < argc; i++)
                if (streq(argv[i], "-f") || streq(argv[i], "--follow"))
                        follow = true;
        /* A request is one line of at most CONTROL_REQUEST_MAX bytes and CONTROL_WORDS_MAX
         * words; unit names that do not fit in one go out in as many requests as they need, one after the
         * other, and the worst verdict is the exit status (failure, then not running, then success). */
        int worst = 0;
        for (int i = first;;) {
                len = (size_t) snprintf(req, sizeof req, "%s %s%s", CONTROL_PROTOCOL, verb,
                                        json ? " --json" : "");
                int taken = 0;
                for (; i < argc && taken < CONTROL_NAMES_MAX; i++, taken++) {
                        size_t w = strlen(argv[i]) + 1;
                        if (len + w + 1 > CONTROL_REQUEST_MAX) /* the line with its '\n' */
                                break;
                        len += (size_t) snprintf(req + len, sizeof req - len, " %s", argv[i]);
                }
                if (i < argc && taken == 0) {
                        fprintf(stderr,
                                "initctl: argument too long (a request is at most %d bytes): %.40s…\n",
                                CONTROL_REQUEST_MAX, argv[i]);
                        return 2;
                }
                req[len++] = '\n';
                int code = request(verb, req, len, follow);
                if (code == 2) /* usage: the same for the rest */
                        return code;
                if (code == 1 || (code == 3 && worst == 0))
                        worst = code;
                if (i >= argc)
                        return worst;
        }
}
