/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the input is one control request line, as initctl's server hands it to
 * control_handle_request(). The manager holds a single unit whose file is invalid: every verb
 * then has a unit to look at (status prints the whole config and the errors), but none can
 * spawn anything — start and restart of an invalid unit answer -ENOEXEC, stop of one -EALREADY,
 * and unknown names only answer. That is checked after every request, so a verb that ever
 * reaches a spawn stops the fuzzer instead of running containers as root.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
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

static void write_unit(const char *dir, char *path, size_t len) {
        snprintf(path, len, "%s/broken.container", dir);
        FILE *f = fopen(path, "we");
        if (!f || fputs(unit_text, f) < 0 || fclose(f) != 0) {
                perror(path);
                abort();
        }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        char dir[] = "/tmp/keel-fuzz-control.XXXXXX", path[64];
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                abort();
        }
        write_unit(dir, path, sizeof path);

        int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null_fd < 0)
                abort();
        /* No cgroup or state root: nothing outside the process is ever touched. */
        ManagerConfig cfg = { .cgroup_root = NULL, .state_root = NULL, .output_fd = null_fd };
        manager = manager_new(&cfg);
        if (!manager)
                abort();
        const char *const dirs[] = { dir, NULL };
        int valid = manager_load(manager, dirs);
        /* The file is parsed once, at load: it can go now. */
        (void) unlink(path);
        (void) rmdir(dir);
        if (valid != 0 || manager->n_units != 1 || manager->units[0]->state != UNIT_INVALID) {
                fprintf(stderr, "fuzz-control: expected one invalid unit, got %d valid of %zu\n", valid,
                        manager->n_units);
                abort();
        }
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
        Unit *u = manager->units[0];
        if (u->state != UNIT_INVALID || u->pid != 0) {
                fprintf(stderr, "fuzz-control: a request moved the invalid unit to %s (pid %d)\n",
                        unit_state_to_string(u->state), (int) u->pid);
                abort();
        }
        buf_free(&out);
        free(line);
        return 0;
}
