/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/wait.h>

#include "cmdline.h"
#include "manager.h"

/* Where mkimage.sh installs init/udhcpc.script. */
#define NETWORK_UDHCPC_SCRIPT "/usr/share/keel/udhcpc.script"

/* Boot, after the event loop exists and before the units load: the keel0 bridge, IP
 * forwarding, the uplink (keel.ip= or DHCP in a supervised udhcpc), NAT. Fills m->net. In a
 * container (host tests) only the bridge and NAT: the uplink is the host's business. Never
 * fails: what cannot be done is logged, and bridged units report it when they start. */
void network_boot(Manager *m, const KeelOptions *o, bool in_container);
/* Whether si was udhcpc (restarted after a delay unless shutting down). */
bool network_child_exited(const siginfo_t *si);
/* Shutdown: udhcpc is not restarted any more. */
void network_shutdown(void);
