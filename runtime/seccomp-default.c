/* SPDX-License-Identifier: MIT */
/*
 * The default profile without compiling it at boot: compiling it with libseccomp takes PID 1
 * over 100 ms under emulation (a thousand rules on three ABIs), and it is the same program
 * for every unit with the same relevant capabilities. seccomp-gen.c compiles the usual sets
 * at build time with seccomp_program_compile_default() itself, into seccomp-precompiled.c;
 * here they are copied out. Any other set is compiled now, as before.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seccomp-program.h"

const SeccompPrecompiled *seccomp_precompiled_find(uint64_t caps) {
        caps &= seccomp_default_caps_mask();
        for (size_t i = 0; i < seccomp_n_precompiled; i++)
                if (seccomp_precompiled[i].caps == caps)
                        return &seccomp_precompiled[i];
        return NULL;
}

int seccomp_program_default(uint64_t caps, SeccompProgram *ret, char *err, size_t errlen) {
        const SeccompPrecompiled *p = seccomp_precompiled_find(caps);
        if (!p)
                return seccomp_program_compile_default(caps, ret, err, errlen);
        /* A copy: SeccompProgram owns its instructions, and callers free them. */
        struct sock_filter *insns = malloc(p->len * sizeof *insns);
        if (!insns) {
                if (err && errlen > 0)
                        snprintf(err, errlen, "seccomp: out of memory");
                return -ENOMEM;
        }
        memcpy(insns, p->insns, p->len * sizeof *insns);
        *ret = (SeccompProgram){ .insns = insns, .len = p->len };
        return 0;
}
