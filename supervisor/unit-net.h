/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "manager.h"
#include "spec.h"

/* Defaults of m->net before PID 1 configures it: the default subnet, networking off. */
void manager_net_init(Manager *m);

/* After loading or reloading: an address for every valid bridged unit that has none yet
 * (IP= first, then derived ones) and the check of published ports between units. A
 * conflict is an error on the later unit, which becomes invalid; the others are unaffected. */
void unit_net_assign(Manager *m);

/* Before runtime_spawn(): the unit's hosts and resolv.conf, and the spec's network part.
 * Nothing to do (0) unless Network=bridge. */
int unit_net_prepare(Unit *u, ContainerSpec *spec, char *err, size_t errlen);
/* Right after runtime_spawn() of a bridged unit: the veth pair, eth0's address and route in
 * the child's namespace, its published ports; then the child is released. On failure the
 * caller kills the child (runtime_abort()), whose exit is reaped as usual. */
int unit_net_attach(Unit *u, const ContainerProcess *p, char *err, size_t errlen);
/* After the unit's exit: the host end of its veth pair and its published ports go. */
void unit_net_detach(Unit *u);
/* The unit is about to be freed: its files go with it (its address is free again). */
void unit_net_forget(Unit *u);

/* The nft table from the current state: masquerade, and the ports of running units. */
int manager_net_sync(Manager *m);
/* Every bridged unit's /etc/hosts (after a reload added or removed units), and with
 * resolv true its resolv.conf too (the machine's changed, e.g. after DHCP). */
void manager_net_refresh_files(Manager *m, bool resolv);
