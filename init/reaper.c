/* SPDX-License-Identifier: MIT */
/*
 * RunInit=yes: a minimal PID 1 for a container, in the role of tini or Podman's catatonit.
 *
 * Programs written as services rarely reap children they did not start, and PID 1 of a PID
 * namespace inherits every orphan: without a reaper, zombies pile up until pids.max. A PID 1
 * also gets no default signal actions, so a plain `sleep` as PID 1 ignores SIGTERM. The
 * reaper runs the command as its child, forwards every signal to it, reaps everything, and
 * exits with the command's status (128 + N for a signal, as shells report it) — the kernel
 * then kills whatever is left in the namespace.
 *
 * It is keel's own static binary, bind-mounted read-only, so it needs nothing from the image.
 * It receives the runtime's status socket so that "not found in rootfs" still reaches
 * `initctl status` when the command cannot be exec'd.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "child.h"
#include "macros.h"
#include "reaper.h"

extern char **environ;

static int usage(void) {
        fprintf(stderr, "usage: keel-init --init STATUS_FD -- COMMAND [ARGS...]\n");
        return 2;
}

int reaper_main(int argc, char **argv) {
        if (argc < 5 || !streq(argv[1], "--init") || !streq(argv[3], "--"))
                return usage();
        char *end;
        long status_fd = strtol(argv[2], &end, 10);
        if (*end || status_fd < 0 || status_fd > 65535)
                return usage();

        sigset_t all, none;
        sigfillset(&all);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &all, NULL);

        pid_t child = fork();
        if (child < 0) {
                child_fail((int) status_fd, STAGE_INIT, errno, "fork the command");
        }
        if (child == 0) {
                sigprocmask(SIG_SETMASK, &none, NULL);
                /* The socket closes when the command is exec'd: that EOF is "running". */
                (void) fcntl((int) status_fd, F_SETFD, FD_CLOEXEC);
                child_exec(argv + 4, environ, "the container", (int) status_fd);
        }
        close((int) status_fd);
        prctl(PR_SET_NAME, "keel-init");

        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&all, &si);
                if (sig < 0)
                        continue;
                if (sig != SIGCHLD) {
                        (void) kill(child, sig);
                        continue;
                }
                /* Reap everything that is dead: our command, and every orphan handed to us. */
                int status;
                pid_t pid;
                while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                        if (pid == child)
                                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
}
