/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <sys/wait.h>

/* keel.shell=1: a root shell on the console, respawned when it exits. */
void shell_start(void);
/* Returns true if pid was the shell (and schedules a respawn unless shutting down). */
bool shell_child_exited(pid_t pid);
void shell_stop(void);
