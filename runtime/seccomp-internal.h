/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the default profile (seccomp.c) and JSON profiles (seccomp-json.c). */
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macros.h"
#include "seccomp-program.h"

void seccomp_releasep(scmp_filter_ctx *ctx);
#define _cleanup_seccomp_ _cleanup_(seccomp_releasep)

bool seccomp_name_in(const char *name, const char *const *list, size_t n);

/* Formats err and returns r. */
_printf_(4, 5) int seccomp_fail(char *err, size_t errlen, int r, const char *fmt, ...);

/* The ABIs a process on an x86-64 host can enter the kernel with: native, i386, x32. */
extern const uint32_t seccomp_x86_64_arches[3];

/* A filter context with the default action, every ABI of the host, and binary-tree lookup. */
int seccomp_context_new(uint32_t def_action, scmp_filter_ctx *ret, char *err, size_t errlen);

/* The compiled filter as classic BPF in one allocation. */
int seccomp_program_export(scmp_filter_ctx ctx, SeccompProgram *ret, char *err, size_t errlen);
