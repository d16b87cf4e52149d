/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "manager.h"

typedef struct ReloadReport {
        unsigned added, removed, changed, unchanged;
        unsigned kept; /* changed files with errors: the unit runs its previous version */
} ReloadReport;

/* Re-reads dirs (see reload.c for what happens to each unit). -ENOMEM only. */
int manager_reload(Manager *m, const char *const *dirs, ReloadReport *ret);
/* Frees removed units that are down; called after each exit as well. */
void reload_sweep(Manager *m);
uint64_t unit_file_hash(const char *path);
