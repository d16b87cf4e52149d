/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "net.h"

/* keel.* options on the kernel command line (../shared/DESIGN.md). */
typedef struct KeelOptions {
        bool shell;                  /* keel.shell=0|1: a root shell respawned on the console (default 1) */
        bool debug;                  /* keel.debug: debug messages */
        char units_dir[256];         /* keel.units=DIR: the baked unit directory (default /etc/keel/units) */
        char hostname[65];           /* keel.hostname=NAME (default keel) */
        uint64_t ready_timeout_usec; /* keel.ready_timeout=SPAN: longest wait for units to exec at boot */
        NetCidr bridge;              /* keel.bridge=CIDR: keel0's address and prefix (10.88.0.1/16) */
        bool uplink_static;          /* keel.ip=ADDR/LEN,GATEWAY given: no DHCP */
        NetCidr uplink_addr;
        uint32_t uplink_gateway;
} KeelOptions;

void cmdline_defaults(KeelOptions *o);
/* Parses a command line (as in /proc/cmdline); unknown keel.* options are reported through
 * warn (one call each) and ignored. Quoted values ("a b") are honoured like the kernel does. */
void cmdline_parse(const char *line, KeelOptions *o, void (*warn)(const char *msg));
