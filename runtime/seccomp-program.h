/* SPDX-License-Identifier: MIT */
#pragma once

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A compiled seccomp filter: classic BPF, ready for seccomp(SECCOMP_SET_MODE_FILTER). The
 * parent gets it once per unit (from the build-time table or from libseccomp); the child
 * only hands it to the kernel, so the child neither allocates nor links libseccomp's state
 * into its address space.
 */
typedef struct SeccompProgram {
        struct sock_filter *insns;
        unsigned short len;
} SeccompProgram;

/*
 * Gives the built-in default profile (the effect of moby's profiles/seccomp/default.json)
 * for a container holding the capability set `caps` (bit i = capability i). Syscalls the
 * profile denies fail with EPERM; syscalls libseccomp does not know (newer than the profile)
 * fail with ENOSYS, so that libc falls back to an older one. On x86-64 the i386 and x32 ABIs
 * are filtered too. On failure returns -errno with a message in err; *ret is untouched.
 */
int seccomp_program_default(uint64_t caps, SeccompProgram *ret, char *err, size_t errlen);

/*
 * The same program, always compiled now with libseccomp. seccomp_program_default() copies it
 * from a table compiled at build time (by this function, in seccomp-gen) when it has one for
 * caps & seccomp_default_caps_mask(), and calls this otherwise.
 */
int seccomp_program_compile_default(uint64_t caps, SeccompProgram *ret, char *err, size_t errlen);

/* The capabilities the default profile depends on: the rest make no difference. */
uint64_t seccomp_default_caps_mask(void);

/* The build-time table: NULL if caps & mask was not precompiled. */
typedef struct SeccompPrecompiled {
        uint64_t caps; /* already masked */
        const struct sock_filter *insns;
        unsigned short len;
} SeccompPrecompiled;
extern const SeccompPrecompiled seccomp_precompiled[];
extern const size_t seccomp_n_precompiled;
const SeccompPrecompiled *seccomp_precompiled_find(uint64_t caps);

/*
 * Compiles an OCI / Docker seccomp profile (JSON: defaultAction, defaultErrnoRet,
 * architectures or archMap, syscalls[] with names, action, errnoRet, args, includes and
 * excludes by caps and arches). Errors name the file and the field.
 */
int seccomp_program_from_json(const char *path, uint64_t caps, SeccompProgram *ret, char *err,
                              size_t errlen);

/* The verdict p gives the system call d, as the kernel would compute it (seccomp-eval.c):
 * 0 and *ret, or -EINVAL for a program the kernel would refuse or that falls off its end. */
struct seccomp_data;
int seccomp_program_eval(const SeccompProgram *p, const struct seccomp_data *d, uint32_t *ret);

/* Takes NULL and empty programs. */
void seccomp_program_free(SeccompProgram *p);

/*
 * In the spawned child: installs the program with seccomp(SECCOMP_SET_MODE_FILTER). The
 * caller must hold CAP_SYS_ADMIN or have set no_new_privs. No allocation; -EINVAL for an
 * empty program (refusing to run a container unconfined by mistake), else -errno.
 */
int seccomp_program_install(const SeccompProgram *p);
