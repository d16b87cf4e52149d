/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "spec.h"

typedef struct Unit Unit;

/* UserNS=auto: unit slot N maps container ids 0..65535 to host ids BASE + N·65536 onwards,
 * above the ids Debian hands to users (/etc/subuid starts at 100000), never overlapping. */
#define UNIT_USERNS_BASE  UINT32_C(0x10000000)
#define UNIT_USERNS_SIZE  UINT32_C(65536)
#define UNIT_USERNS_SLOTS 4096u

/* A ContainerSpec and the memory it points into; unit_spec_done() frees it. */
typedef struct UnitSpec {
        ContainerSpec spec;
        char **env;
        MountSpec *mounts;
        const char **untrusted; /* spec.untrusted_dirs: pointers into the units' configs */
        RlimitSpec rlimits[17];
        size_t n_rlimits;
} UnitSpec;

/* Builds the spec for one start of u (reads EnvironmentFile=, creates named volumes).
 * On failure err says what is wrong, and s must still be passed to unit_spec_done(). */
int unit_spec_build(Unit *u, UnitSpec *s, char *err, size_t errlen);
void unit_spec_done(UnitSpec *s);

/* Compiles u's seccomp filter into u->seccomp (nothing for SeccompProfile=unconfined). */
int unit_spec_compile_seccomp(Unit *u, char *err, size_t errlen);
