/* SPDX-License-Identifier: MIT */
/*
 * The cgroup v2 device controller: a BPF_PROG_TYPE_CGROUP_DEVICE program, generated from a rule
 * table in devices.c, that lets a container mknod any node but read or write only the devices
 * its /dev holds (null, zero, full, random, urandom, tty, console, ptmx, pts/N). Everything else
 * fails with EPERM on open, as under Docker's default policy.
 */
#pragma once

#include <stddef.h>

struct bpf_insn;

/* Loads the program once; PID 1 keeps the fd and attaches it to every container's cgroup.
 * Returns the fd (bpf(2) makes it CLOEXEC) or -errno; on failure err says why, with the tail of
 * the verifier log when the kernel rejected the program and a config hint when it lacks BPF. */
int devices_program_load(char *err, size_t errlen);

/* Attaches the program to the cgroup directory cgroup_fd with BPF_F_ALLOW_MULTI (devices.c says
 * why). Attaching the same program twice to one cgroup is not an error. Returns 0 or -errno. */
int devices_program_attach(int prog_fd, int cgroup_fd);

/* For tests and tools: the policy's instructions into insns[max]; returns their count, or
 * -ENOBUFS if max is too small. */
int devices_program_build(struct bpf_insn *insns, size_t max);

/* For tests: loads any instructions as a device program, with the same error reporting. */
int devices_program_load_insns(const struct bpf_insn *insns, size_t n, char *err, size_t errlen);
