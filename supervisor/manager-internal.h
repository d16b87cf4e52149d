/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by manager.c and reload.c only: the supervisor's own plumbing. */
#include "manager.h"

Unit *unit_new(Manager *m, const char *path);
Unit *unit_free(Unit *u); /* the unit must be down and out of m->units */
void unit_load(Manager *m, Unit *u);
int unit_seccomp(Manager *m, Unit *u);
void unit_seccomp_release(Unit *u);
int unit_dispatch(Unit *u, UnitEvent ev);
int manager_add_unit(Manager *m, Unit *u);
void manager_kick(Manager *m);
/* Every *.container of dirs, later dirs replacing same-named units of earlier ones. */
int unit_dirs_scan(const char *const *dirs, char ***ret_paths);
