/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the input is one control request line, as initctl's server hands it to
 * control_handle_request(). The manager holds a single unit whose file is invalid: every verb
 * then has a unit to look at (status prints the whole config and the errors, logs reads its
 * ring), but none can spawn anything — start and restart of an invalid unit answer -ENOEXEC,
 * stop of one -EALREADY, unknown names only answer, and reload finds the same file unchanged.
 * The unit directory therefore stays in place until exit: `reload` reads it on every request,
 * and an empty directory would make it forget the unit, so that later inputs would no longer
 * see what the first ones saw. That is checked after every request, so a verb that ever
 * reaches a spawn or changes the unit table stops the fuzzer.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "logs.h"
#include "manager.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Invalid only because of the last line; the rest fills every field status shows. */
static const char unit_text[] = "[Unit]\n"
                                "Description=Invalid on purpose: the fuzzer's only unit\n"
                                "[Container]\n"
                                "Rootfs=/usr/share/keel/rootfs/busybox\n"
                                "Exec=/bin/sh -c 'echo never'\n"
                                "User=app\n"
                                "UserNS=auto\n"
                                "Network=host\n"
                                "SeccompProfile=unconfined\n"
                                "RunInit=yes\n"
                                "[Service]\n"
                                "Restart=always\n"
                                "MemoryMax=lots\n";

static Manager *manager;
static Unit *unit;
static char dir[256], path[300];

static void remove_unit_dir(void) {
        (void) unlink(path);
        (void) rmdir(dir);
}

static void write_unit(void) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/keel-fuzz-control.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                abort();
        }
        snprintf(path, sizeof path, "%s/broken.container", dir);
        FILE *f = fopen(path, "we");
        if (!f || fputs(unit_text, f) < 0 || fclose(f) != 0) {
                perror(path);
                abort();
        }
        atexit(remove_unit_dir);
}

/* Output for `logs`: more lines than the smallest ring holds, so some were evicted. */
static void fill_logs(Unit *u) {
        u->logs = log_ring_new(LOG_RING_MIN_BYTES);
        if (!u->logs)
                abort();
        for (unsigned i = 0; i < 400; i++) {
                char line[64];
                int n = snprintf(line, sizeof line, "line %u of the unit's output", i);
                if (log_ring_append(u->logs, log_realtime_usec(),
                                    i % 3 ? LOG_STREAM_STDOUT : LOG_STREAM_STDERR, line, (size_t) n) < 0)
                        abort();
        }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        write_unit();
        int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null_fd < 0)
                abort();
        /* No cgroup, state or log root: nothing outside the process is written. */
        ManagerConfig cfg = { .cgroup_root = NULL, .state_root = NULL, .output_fd = null_fd };
        manager = manager_new(&cfg);
        if (!manager)
                abort();
        const char *const dirs[] = { dir, NULL };
        int valid = manager_load(manager, dirs);
        if (valid != 0 || manager->n_units != 1 || manager->units[0]->state != UNIT_INVALID) {
                fprintf(stderr, "fuzz-control: expected one invalid unit, got %d valid of %zu\n", valid,
                        manager->n_units);
                abort();
        }
        unit = manager->units[0];
        fill_logs(unit);
        /* The load's errors were shown once; `reload` would log a line per input. */
        log_set_max_level(LOG_WARNING);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* What the server passes: at most CONTROL_REQUEST_MAX bytes were read, the line ends at
         * the first newline, and it is NUL-terminated there. */
        size_t n = size < CONTROL_REQUEST_MAX ? size : CONTROL_REQUEST_MAX;
        const uint8_t *nl = memchr(data, '\n', n);
        if (nl)
                n = (size_t) (nl - data);
        /* An exact-size copy, so ASan catches a read one past the end. */
        char *line = malloc(n + 1);
        if (!line)
                return 0;
        memcpy(line, data, n);
        line[n] = 0;

        Buf out = { 0 };
        int code = control_handle_request(manager, NULL, line, &out);
        /* Exit statuses the protocol defines (PROTOCOL.md): 0, 1, 2 and 3. */
        if (code < 0 || code > 3)
                abort();
        if (out.len > 0 && (!out.data || out.len >= out.cap))
                abort();
        if (manager->n_units != 1 || manager->units[0] != unit || unit->state != UNIT_INVALID ||
            unit->pid != 0) {
                fprintf(stderr, "fuzz-control: the request changed the unit table or started the unit\n");
                abort();
        }
        buf_free(&out);
        free(line);
        return 0;
}
