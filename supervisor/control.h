/* SPDX-License-Identifier: MIT */
#pragma once

#include "manager.h"

/* The control socket (protocol: supervisor/PROTOCOL.md). */

typedef enum ShutdownMode {
        SHUTDOWN_POWEROFF,
        SHUTDOWN_REBOOT,
        SHUTDOWN_HALT,
} ShutdownMode;

typedef struct ControlHooks {
        void (*shutdown)(ShutdownMode mode, const char *why);
} ControlHooks;

#define CONTROL_SOCKET_PATH "/run/keel/initctl.sock"
#define CONTROL_PROTOCOL    "keel1"
#define CONTROL_REQUEST_MAX 512
#define CONTROL_WORDS_MAX   15 /* words of a request: "keel1", the verb, options and unit names */
/* Unit names one request always has room for; initctl sends longer lists in several. */
#define CONTROL_NAMES_MAX (CONTROL_WORDS_MAX - 3)
/* Connections at once; at the cap the least recently active client makes way (control.c). */
#define CONTROL_CLIENTS_MAX   1024
#define CONTROL_FOLLOWERS_MAX 256

int control_listen(Manager *m, const char *path, const ControlHooks *hooks);
/* Handles one request line, appending the reply body to out; returns the exit status
 * initctl should use. Exposed for tests and fuzzing. */
typedef struct Buf {
        char *data;
        size_t len, cap;
        bool oom;
} Buf;
void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(Buf *b);
int control_handle_request(Manager *m, const ControlHooks *hooks, char *line, Buf *out);

/* `initctl logs -f`: pushes u's new lines to the clients following it. */
void control_logs_notify(Unit *u);
/* u is going away (reload): its followers are closed. */
void control_forget_unit(Unit *u);
/* A unit changed state: answers `stop` requests waiting for it. */
void control_state_notify(Unit *u);
