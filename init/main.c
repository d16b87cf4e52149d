/* SPDX-License-Identifier: MIT */
/*
 * keel's PID 1. main() is the boot narrative (../shared/DESIGN.md, "Boot flow"); after it,
 * one epoll loop does everything. From the first line on, we must not die: every failure is
 * logged and the boot goes on without what failed.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/reboot.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

#include "cmdline.h"
#include "control.h"
#include "initctl.h"
#include "log.h"
#include "loop.h"
#include "manager.h"
#include "mount.h"
#include "network.h"
#include "probe.h"
#include "reaper.h"
#include "sealed-exe.h"
#include "shell.h"
#include "system.h"
#include "util.h"

#define KEEL_VERSION "0.1"

/* Container logs persist only on the data disk: the root is RAM, where they would only compete
 * with the containers for memory (the rings keep the recent lines). */
#define LOG_DIR "/var/lib/keel/log"

static KeelOptions options;
static bool data_disk;
static Manager *manager;
static LoopSource signal_source = { .fd = -1 };

/* Shutdown, DESIGN.md step 6: units in reverse order, then every other process, then sync,
 * unmount, reboot(2). */
static struct {
        bool active;
        bool killing; /* units are down; leftover processes got SIGTERM */
        ShutdownMode mode;
        uint64_t start;
        unsigned units_stopped;
        unsigned leftovers;
        LoopTimer timer;
} down;

static const char *const mode_names[] = {
        [SHUTDOWN_POWEROFF] = "poweroff",
        [SHUTDOWN_REBOOT] = "reboot",
        [SHUTDOWN_HALT] = "halt",
};

static double uptime_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_BOOTTIME, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void reap_children(void);

/* PID 1 holds a few fds per container (output pipe, status socket, pidfd): the kernel's
 * default of 1024 would stop it near 250 containers. Containers get their own limit (runc's
 * 1024 by default, Ulimit=), set in the child. */
static void raise_fd_limit(void) {
        _cleanup_free_ char *s = NULL;
        unsigned long max = 1048576;
        if (read_file("/proc/sys/fs/nr_open", 64, &s, NULL) >= 0)
                max = strtoul(s, NULL, 10);
        struct rlimit rl = { .rlim_cur = max, .rlim_max = max };
        if (max == 0 || setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_warning_errno(errno, "cannot raise the open-file limit to %lu: %m", max);
}

/*
 * PID 1 runs from a sealed in-memory copy of its binary, of mode 0 once running: every
 * container is a clone of PID 1 until its execve(), and must find neither the host's file
 * behind /proc/self/exe (to write it, CVE-2019-5736) nor anything it could execute there
 * ("#!/proc/self/exe" in an image). Returns only if the copy could not be made or run, with
 * the error, and PID 1 then goes on from the host's file.
 */
static int run_from_sealed_copy(char **argv) {
        if (sealed_exe_is_self()) {
                _cleanup_close_ int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
                return self < 0 || fchmod(self, 0) < 0 ? negative_errno() : 0;
        }
        _cleanup_close_ int fd = sealed_exe_copy("/proc/self/exe", "keel-init", 0700);
        if (fd < 0)
                return fd;
        extern char **environ;
        fexecve(fd, argv, environ);
        return negative_errno();
}

static _noreturn_ void shutdown_final(void) {
        kill(-1, SIGKILL);
        while (waitpid(-1, NULL, WNOHANG) > 0)
                down.leftovers++;
        /* Our own open files on the data disk are the container logs: without closing them the
         * unmount fails with EBUSY and the disk needs journal recovery at the next boot. */
        if (manager)
                manager_close_logs(manager);
        sync();
        /* Every log file is closed and on the disk: the next boot need not read them. */
        int r = data_disk ? log_dir_put_clean_mark(LOG_DIR) : 0;
        if (r < 0)
                log_warning_errno(r, "%s/%s: %m; the next boot checks every log file", LOG_DIR,
                                  LOG_DIR_CLEAN_MARK);
        bool clean = true;
        if (umount2("/var/lib/keel", 0) < 0 && errno != EINVAL && errno != ENOENT) {
                log_error_errno(errno, "unmount /var/lib/keel: %m");
                clean = false;
        }
        sync();
        char msg[256];
        snprintf(msg, sizeof msg,
                 "system down for %s (%s: %u units stopped, %u leftover processes) after %.2fs",
                 mode_names[down.mode], clean ? "clean" : "unclean", down.units_stopped, down.leftovers,
                 (double) (now_usec() - down.start) / 1e6);
        log_notice("%s", msg);
        /* The serial line is slow: let the last line out before the machine goes. */
        tcdrain(log_console_fd());
        static const int cmds[] = {
                [SHUTDOWN_POWEROFF] = RB_POWER_OFF,
                [SHUTDOWN_REBOOT] = RB_AUTOBOOT,
                [SHUTDOWN_HALT] = RB_HALT_SYSTEM,
        };
        reboot(cmds[down.mode]);
        log_error_errno(errno, "reboot(2) failed: %m; halting here");
        for (;;)
                pause();
}

static void shutdown_timeout(LoopTimer *t) {
        (void) t;
        log_warning("leftover processes did not exit after SIGTERM; sending SIGKILL");
        shutdown_final();
}

static void on_all_stopped(Manager *m) {
        /* Whatever else runs (the shell, orphans, stray processes) gets SIGTERM and a moment. */
        down.killing = true;
        log_info("all units stopped; terminating remaining processes");
        log_console_drain(500); /* a console shell still there hangs up the tty as it goes */
        kill(-1, SIGTERM);
        kill(-1, SIGCONT);
        down.timer.handler = shutdown_timeout;
        loop_timer_arm(&down.timer, now_usec() + 3 * USEC_PER_SEC);
        reap_children();
}

static void shutdown_begin(ShutdownMode mode, const char *why) {
        if (down.active) {
                log_info("%s requested by %s; already going down for %s", mode_names[mode], why,
                         mode_names[down.mode]);
                return;
        }
        down.active = true;
        down.mode = mode;
        down.start = now_usec();
        for (size_t i = 0; i < manager->n_units; i++) {
                UnitState s = manager->units[i]->state;
                down.units_stopped += s == UNIT_RUNNING || s == UNIT_STARTING || s == UNIT_STOPPING;
        }
        log_notice("%s requested by %s: stopping %u units", mode_names[mode], why, down.units_stopped);
        shell_stop();
        network_shutdown();
        manager_stop_all(manager);
}

/* Exits handled per turn of the loop: after a poweroff, or a burst of orphans, thousands
 * come at once, and each unit's costs a cgroup removal and more. The rest wait for
 * reap_timer, due at once, so that the loop serves its fds in between. */
#define REAP_TURN_MAX 64u

static void reap_more(LoopTimer *t) {
        (void) t;
        reap_children();
}

static LoopTimer reap_timer = { .handler = reap_more };

/* Drain exited children: units, the shell, and orphans re-parented to us. */
static void reap_children(void) {
        for (unsigned n = 0;; n++) {
                if (n == REAP_TURN_MAX) {
                        if (!reap_timer.armed)
                                loop_timer_arm(&reap_timer, now_usec() + 1);
                        return;
                }
                siginfo_t si = { 0 };
                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG) < 0) {
                        if (errno == ECHILD && down.killing)
                                shutdown_final();
                        return;
                }
                if (si.si_pid == 0)
                        return;
                if (manager_child_exited(manager, &si) || shell_child_exited(si.si_pid) ||
                    network_child_exited(&si))
                        continue;
                if (down.killing)
                        down.leftovers++;
                log_debug("reaped orphan %d", si.si_pid);
        }
}

static void on_signal(LoopSource *s, uint32_t events) {
        (void) events;
        struct signalfd_siginfo si;
        while (read(s->fd, &si, sizeof si) == (ssize_t) sizeof si) {
                switch (si.ssi_signo) {
                case SIGCHLD:
                        break; /* reaped below, whatever the number of children */
                case SIGTERM:
                case SIGUSR2:
                case SIGPWR:
                        shutdown_begin(SHUTDOWN_POWEROFF, sigabbrev_np((int) si.ssi_signo));
                        break;
                case SIGINT: /* Ctrl-Alt-Del */
                        shutdown_begin(SHUTDOWN_REBOOT, "SIGINT");
                        break;
                case SIGUSR1:
                        shutdown_begin(SHUTDOWN_HALT, "SIGUSR1");
                        break;
                default:
                        log_debug("ignoring signal %u from pid %u", si.ssi_signo, si.ssi_pid);
                }
        }
        reap_children();
}

/* The kernel check only reports, so it runs once the units are up rather than before or beside
 * them: the namespaces it creates cost CPU, and tearing its network namespace down takes the
 * RTNL lock in a kernel worker while PID 1 creates the bridge and the containers' veths (it
 * delayed the first container by ~0.1 s under TCG). Its child is reaped like any other. */
static void start_kernel_check(void) {
        pid_t probe = fork();
        if (probe == 0) {
                prctl(PR_SET_NAME, "keel-probe");
                _exit(probe_kernel("/run/keel/probe") ? 1 : 0);
        } else if (probe < 0)
                probe_kernel("/run/keel/probe");
}

static void on_settled(Manager *m) {
        unsigned running = 0, invalid = 0, other = 0;
        for (size_t i = 0; i < m->n_units; i++) {
                UnitState s = m->units[i]->state;
                running += s == UNIT_RUNNING;
                invalid += s == UNIT_INVALID;
                other += s != UNIT_RUNNING && s != UNIT_INVALID;
        }
        log_notice("ready: %u units running, %u invalid, %u other, %.3fs since boot (initctl status for "
                   "details)",
                   running, invalid, other, uptime_seconds());
        if (options.shell)
                shell_start();
        start_kernel_check();
}

static void warn_option(const char *msg) {
        log_warning("%s", msg);
}

static int tool_main(int argc, char **argv) {
        if (argc > 1 && streq(argv[1], "--check-kernel")) {
                char scratch[] = "/tmp/keel-probe.XXXXXX";
                if (!mkdtemp(scratch))
                        return log_error_errno(errno, "mkdtemp: %m"), 1;
                int missing = probe_kernel(scratch);
                char cmd[128];
                snprintf(cmd, sizeof cmd, "rm -rf %s", scratch);
                (void) !system(cmd);
                return missing ? 1 : 0;
        }
        if (argc > 1 && streq(argv[1], "--version")) {
                printf("keel-init %s\n", KEEL_VERSION);
                return 0;
        }
        fprintf(argc > 1 && streq(argv[1], "--help") ? stdout : stderr,
                "keel-init %s: keel's PID 1. Boot it as /sbin/init.\n"
                "  keel-init --check-kernel   check that this kernel has what keel needs\n"
                "  keel-init --version\n",
                KEEL_VERSION);
        return argc > 1 && streq(argv[1], "--help") ? 0 : 2;
}

int main(int argc, char **argv) {
        if (initctl_is_my_name(argv[0]))
                return initctl_main(argc, argv);
        if (argc > 1 && streq(argv[1], "--init"))
                return reaper_main(argc, argv);

        /* Before anything else: no signal may interrupt or kill PID 1. They arrive through
         * the signalfd, in the loop, one at a time. */
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, NULL);

        if (getpid() != 1)
                return tool_main(argc, argv);

        /* From now on, we must not die. */
        /* Like systemd: `container=` in our environment means we are PID 1 of a container
         * (the host tests run us so), not of a machine. Then we log to stderr, leave the
         * console and kmsg alone, and take our options from $KEEL_CMDLINE. */
        bool in_container = getenv("container") != NULL;
        if (!sealed_exe_is_self()) /* else our first run from the host's file mounted it */
                (void) mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        int sealed = run_from_sealed_copy(argv);
        if (!in_container) {
                log_set_target(LOG_TARGET_KMSG_CONSOLE);
                (void) mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755");
                log_open_console();
        }
        log_info("PID 1 started (keel %s)", KEEL_VERSION);
        if (sealed < 0)
                log_warning_errno(sealed, "cannot run from a sealed copy of our binary: %m; containers can "
                                          "reach the host's /proc/self/exe");

        /* pivot_root(2) cannot leave the initramfs (EINVAL), and every container needs it. */
        if (!in_container && root_is_initramfs())
                root_leave_initramfs();

        mount_api_filesystems(!in_container);
        log_debug("API filesystems mounted");
        cmdline_defaults(&options);
        _cleanup_free_ char *cmdline = NULL;
        if (in_container) {
                options.shell = false;
                cmdline_parse(getenv("KEEL_CMDLINE") ?: "", &options, warn_option);
        } else if (read_file("/proc/cmdline", 4096, &cmdline, NULL) >= 0)
                cmdline_parse(cmdline, &options, warn_option);
        if (options.debug)
                log_set_max_level(LOG_DEBUG);
        reboot(RB_DISABLE_CAD); /* Ctrl-Alt-Del becomes SIGINT to us */
        raise_fd_limit();

        system_set_hostname(options.hostname);
        system_loopback_up();
        log_debug("hostname set, lo up");
        mount_cgroup();
        data_disk = system_mount_data_disk() > 0;
        /* A clean shutdown left its mark: the log files need no reading for damage. */
        int logs_clean = data_disk ? log_dir_take_clean_mark(LOG_DIR) : 0;
        if (logs_clean < 0)
                log_warning_errno(logs_clean, "%s/%s: %m; the log files are checked for damage", LOG_DIR,
                                  LOG_DIR_CLEAN_MARK);

        if (loop_init() < 0) /* only ENOMEM or a kernel without epoll: nothing can run */
                log_error("cannot create the event loop; containers will not be supervised");
        signal_source = (LoopSource){ .handler = on_signal };
        signal_source.fd = signalfd(-1, &all, SFD_NONBLOCK | SFD_CLOEXEC);
        if (signal_source.fd < 0 || loop_add(&signal_source, EPOLLIN) < 0)
                log_error_errno(errno, "signalfd: %m; children will not be reaped");

        int console_nb =
                in_container ? -1 : open("/dev/console", O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        ManagerConfig mc = {
                .cgroup_root = "/sys/fs/cgroup/keel",
                .state_root = "/run/keel",
                .output_fd = console_nb >= 0 ? console_nb : STDOUT_FILENO,
                .boot_timeout_usec = options.ready_timeout_usec,
                .on_settled = on_settled,
                .on_all_stopped = on_all_stopped,
                .log_dir = data_disk ? LOG_DIR : NULL,
                .logs_clean = logs_clean > 0,
                .on_log = control_logs_notify,
                .on_forget = control_forget_unit,
                .on_state = control_state_notify,
        };
        manager = manager_new(&mc);
        if (!manager) {
                log_error("out of memory creating the supervisor");
                for (;;)
                        pause();
        }
        /* Before the units load: their addresses are assigned in the bridge's subnet. */
        network_boot(manager, &options, in_container);
        const char *dirs[] = { options.units_dir, "/var/lib/keel/units", NULL };
        int valid = manager_load(manager, dirs);
        log_info("loaded %zu units (%d valid) from %s and /var/lib/keel/units", manager->n_units, valid,
                 options.units_dir);
        ControlHooks hooks = { .shutdown = shutdown_begin };
        control_listen(manager, CONTROL_SOCKET_PATH, &hooks);
        manager_start_all(manager);

        /* Children may have exited before the signalfd existed: reap once up front. */
        reap_children();
        for (;;) {
                manager_turn_begin(manager);
                loop_run_once();
        }
}
