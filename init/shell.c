/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "log.h"
#include "loop.h"
#include "shell.h"
#include "util.h"

static pid_t shell_pid;
static bool stopped;
static uint64_t last_start;
static LoopTimer respawn;

/* /dev/console cannot be a controlling terminal; the device behind it can (job control, ^C). */
static void console_device(char *buf, size_t len) {
        _cleanup_free_ char *active = NULL;
        snprintf(buf, len, "/dev/console");
        if (read_file("/sys/class/tty/console/active", 256, &active, NULL) < 0)
                return;
        /* "tty0 ttyS0": the last one is where the kernel's console output goes */
        char *last = NULL;
        for (char *save = NULL, *w = strtok_r(active, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
                last = w;
        if (last)
                snprintf(buf, len, "/dev/%s", last);
}

static void spawn_shell(void) {
        char tty[64];
        console_device(tty, sizeof tty);
        last_start = now_usec();
        pid_t pid = fork();
        if (pid < 0) {
                log_error_errno(errno, "fork shell: %m");
                return;
        }
        if (pid == 0) {
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                setsid();
                int fd = open(tty, O_RDWR | O_CLOEXEC);
                if (fd < 0) {
                        log_error_errno(errno, "console shell: open %s: %m", tty);
                        _exit(1);
                }
                (void) ioctl(fd, TIOCSCTTY, 1);
                for (int i = 0; i < 3; i++)
                        dup2(fd, i);
                (void) !chdir("/root");
                char *argv[] = { "-sh", NULL };
                char *envp[] = { "HOME=/root",     "TERM=vt100",    "PATH=/sbin:/bin:/usr/sbin:/usr/bin",
                                 "PS1=keel:\\w# ", "SHELL=/bin/sh", NULL };
                execve("/bin/sh", argv, envp);
                /* Say why on the console itself: it is the only place the user is looking. */
                dprintf(STDERR_FILENO, "keel: cannot start the console shell /bin/sh: %s\n",
                        strerror(errno));
                _exit(127);
        }
        shell_pid = pid;
        log_debug("console shell on %s (pid %d)", tty, pid);
}

static void respawn_due(LoopTimer *t) {
        (void) t;
        if (!stopped)
                spawn_shell();
}

void shell_start(void) {
        respawn.handler = respawn_due;
        stopped = false;
        spawn_shell();
}

bool shell_child_exited(pid_t pid) {
        if (pid != shell_pid || pid == 0)
                return false;
        shell_pid = 0;
        if (stopped)
                return true;
        /* A shell that dies at once (no /bin/sh, broken tty) must not spin: wait a second. */
        uint64_t next = last_start + USEC_PER_SEC;
        loop_timer_arm(&respawn, MAX(next, now_usec()));
        return true;
}

void shell_stop(void) {
        stopped = true;
        loop_timer_disarm(&respawn);
        if (shell_pid <= 0)
                return;
        /* The shell leads the console's session: its exit hangs up the tty, and the hangup
         * throws away output still queued for the serial line — the lines just written by
         * initctl and by PID 1 ("reboot requested by initctl", seen lost under load). */
        log_console_drain(500);
        kill(shell_pid, SIGHUP);
}
