/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* initctl lives in the same static binary as PID 1 (as busybox does): one copy of libc in
 * the image instead of two. It answers to initctl, poweroff, reboot and halt. */
int initctl_main(int argc, char **argv);
bool initctl_is_my_name(const char *argv0);
