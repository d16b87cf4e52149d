/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macros.h"
#include "spec.h"

/* RunInit='s reaper: its argv[0] (it is executed from a sealed memfd, never by a path). */
#define RUNTIME_INIT_NAME "keel-init"
/* Where spec->network.files_dir is bound: in our /dev too, for the same reason, and out of
 * the way of ReadOnly='s tmpfs on /run. */
#define RUNTIME_NET_DIR "/dev/keel-net"

/* The child side of a spawn. Everything here runs between clone3() and execve() in the new
 * process, reports a failing stage over the status socket with child_fail(), and never
 * returns on failure. */
_noreturn_ _printf_(4, 5) void child_fail(int status_fd, SpawnStage stage, int err, const char *fmt, ...);

/* Overlay root, /proc, /sys, /dev, the spec's mounts and pivot_root, inside the child's new
 * mount namespace (rootfs.c). */
void rootfs_setup(const ContainerSpec *spec, int status_fd);

/* In-root resolution and mounts through fds (mounts.c). */
int mount_open_in_root(int rootfd, const char *path, bool file, uint64_t resolve);
int mount_on_fd(int fd, const char *src, const char *type, unsigned long flags, const char *data);
void mount_api_fs(int status_fd, int rootfd, SpawnStage stage, const char *dst, const char *type,
                  unsigned long flags, const char *data, long magic);
void mounts_apply(const ContainerSpec *spec, int status_fd, int rootfd);
/* spec->network.files_dir at RUNTIME_NET_DIR, /etc/hosts and /etc/resolv.conf pointing there. */
void mounts_net_files(const ContainerSpec *spec, int status_fd, int rootfd);
void mounts_chdir(const ContainerSpec *spec, int status_fd);

/* A bind source on the host as an O_PATH fd, walked without following any symlink at or below
 * the untrusted trees (NULL-terminated, parents first); on failure why says what was refused
 * (bind-source.c). */
int bind_source_open(const char *path, const char *const *untrusted, char *why, size_t whylen);

/* Who the process runs as (user.c): resolved in the container's /etc/passwd and /etc/group
 * after pivot_root, never through NSS. */
typedef struct ChildUser {
        uid_t uid;
        gid_t gid;
        gid_t groups[64];
        size_t n_groups;
} ChildUser;
void user_resolve(const ContainerSpec *spec, int status_fd, ChildUser *ret);
void user_apply_rlimits(const ContainerSpec *spec, int status_fd);
/* UserNS=: enters a new user namespace mapped as the spec says and becomes its root. */
void user_enter_userns(const ContainerSpec *spec, int status_fd);
/* setgroups/setresgid/setresuid to u; the bounding set must already be cut. */
void user_switch(const ContainerSpec *spec, int status_fd, const ChildUser *u);

/* Bounding set cut, ambient cleared (before the uid switch); permitted = effective = the
 * spec's set for root, none for any other uid; inheritable empty; no_new_privs (caps.c). */
void caps_drop_bounding(const ContainerSpec *spec, int status_fd);
void caps_apply(const ContainerSpec *spec, int status_fd, uid_t uid);

/* execve() of args[0], searched in the container's PATH; reports "X: not found in where". */
_noreturn_ void child_exec(char *const *args, char *const *env, const char *where, int status_fd);
