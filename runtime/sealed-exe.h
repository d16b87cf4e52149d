/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Sealed in-memory copies of keel's own binary (sealed-exe.c). */

/* A memfd (CLOEXEC) holding path's contents with the given mode, sealed against any change of
 * its contents or size; or -errno. */
int sealed_exe_copy(const char *path, const char *name, mode_t mode);
/* We run from such a copy (/proc/self/exe is a memfd). */
bool sealed_exe_is_self(void);
/* RunInit='s reaper: a copy of /proc/self/exe, mode 0555, made once per process and kept. */
int sealed_exe_reaper(void);
