/* SPDX-License-Identifier: MIT */
/*
 * `initctl reload`: the unit directories are read again and the running set follows them.
 *
 *   new file             → loaded and started
 *   removed file         → stopped, then forgotten
 *   changed file (bytes) → valid: the unit takes the new version and restarts if it was up;
 *                          invalid: the unit keeps running its previous version, and the new
 *                          file's errors are shown by `initctl status` (last known good)
 *   unchanged file       → left alone, whatever state it is in
 *
 * No container stack we know keeps the last good version: Quadlet drops an invalid unit,
 * systemd keeps the old definition only until the next restart of the unit.
 */
#include <stdio.h>

#include "deps.h"
#include "log.h"
#include "manager-internal.h"
#include "reload.h"
#include "unit-net.h"
#include "util.h"

/* FNV-1a over the file's bytes: edits are seen by content, not by mtime. */
uint64_t unit_file_hash(const char *path) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        if (read_file(path, UNIT_FILE_MAX, &buf, &len) < 0)
                return 0;
        uint64_t h = UINT64_C(1469598103934665603);
        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char) buf[i]) * UINT64_C(1099511628211);
        for (const char *c = path; *c; c++) /* moved to the other directory: changed too */
                h = (h ^ (unsigned char) *c) * UINT64_C(1099511628211);
        return h;
}

static bool unit_alive(const Unit *u) {
        return u->state == UNIT_STARTING || u->state == UNIT_RUNNING || u->state == UNIT_STOPPING;
}

/* Removed units that are down leave the table; the others when their exit comes. */
void reload_sweep(Manager *m) {
        size_t k = 0;
        bool freed = false;
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                if (u->removed && !unit_alive(u)) {
                        log_info("%s: removed", u->name);
                        if (m->cfg.on_forget)
                                m->cfg.on_forget(u);
                        unit_free(u);
                        freed = true;
                } else
                        m->units[k++] = u;
        }
        m->n_units = k;
        if (freed)
                (void) deps_resolve(m);
}

/* The changed file of u, parsed on the side: taken if valid, reported if not. */
static void reload_changed(Manager *m, Unit *u, const char *path, uint64_t hash, ReloadReport *rep) {
        Unit *next = unit_new(m, path);
        if (!next)
                return;
        unit_file_load(path, u->name, &next->config, &next->errors);
        bool valid = next->config && strv_length(next->errors) == 0;
        if (!valid && u->state != UNIT_INVALID) {
                log_error("%s: %s has errors; it keeps running its previous version", u->name, path);
                for (char **e = next->errors; e && *e; e++)
                        log_error("%s", *e);
                strv_free(u->reload_errors);
                u->reload_errors = TAKE_PTR(next->errors);
                rep->kept++;
                unit_free(next);
                return;
        }
        /* Take the new version: config, path, errors; the runtime state stays. */
        UnitConfig *old = u->config;
        u->config = TAKE_PTR(next->config);
        unit_config_free(old);
        strv_free(u->errors);
        u->errors = TAKE_PTR(next->errors);
        strv_free(u->reload_errors);
        u->reload_errors = NULL;
        free(u->path);
        u->path = TAKE_PTR(next->path);
        u->content_hash = hash;
        unit_free(next);
        unit_seccomp_release(u);
        free(u->starts); /* StartLimitBurst= may have changed */
        u->starts = NULL;
        u->n_starts = 0;
        u->net_addr = 0; /* assigned again from the new version (the same, unless IP= moved it) */
        UnitState was = u->state;
        if (strv_length(u->errors) == 0)
                (void) unit_seccomp(m, u);
        if (strv_length(u->errors) > 0) { /* an invalid unit edited into another invalid one */
                u->state = UNIT_INVALID;
                for (char **e = u->errors; e && *e; e++)
                        log_error("%s", *e);
                rep->changed++;
                return;
        }
        rep->changed++;
        log_info("%s: %s changed; %s", u->name, u->path,
                 was == UNIT_INACTIVE ? "not running, left stopped" : "restarting it with the new version");
        if (was == UNIT_INVALID)
                u->state = UNIT_FAILED; /* now startable */
        if (was != UNIT_INACTIVE)
                u->reload_restart = true;
}

int manager_reload(Manager *m, const char *const *dirs, ReloadReport *ret) {
        ReloadReport rep = { 0 };
        _cleanup_strv_free_ char **paths = NULL;
        int r = unit_dirs_scan(dirs, &paths);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_units; i++)
                m->units[i]->removed = true;
        for (char **p = paths; p && *p; p++) {
                const char *f = strrchr(*p, '/') + 1;
                char name[256];
                snprintf(name, sizeof name, "%.*s", (int) (strlen(f) - strlen(".container")), f);
                Unit *u = manager_find(m, name);
                uint64_t hash = unit_file_hash(*p);
                if (!u) {
                        u = unit_new(m, *p);
                        if (!u || manager_add_unit(m, u) < 0) {
                                unit_free(u);
                                return -ENOMEM;
                        }
                        unit_load(m, u);
                        u->content_hash = hash;
                        u->reload_restart = u->state != UNIT_INVALID;
                        rep.added++;
                        continue;
                }
                u->removed = false;
                if (u->content_hash == hash && streq(u->path, *p)) {
                        rep.unchanged++;
                        continue;
                }
                reload_changed(m, u, *p, hash, &rep);
        }
        /* New units get addresses; a removed one keeps its own until it is down and freed, so
         * that no newcomer can take it while it still runs. */
        unit_net_assign(m);
        if (deps_resolve(m) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                if (u->removed) {
                        rep.removed++;
                        log_info("%s: its file is gone; stopping it", u->name);
                        (void) unit_dispatch(u, EV_STOP);
                } else if (u->reload_restart) {
                        u->reload_restart = false;
                        (void) manager_restart_unit(m, u);
                }
        }
        reload_sweep(m);
        manager_net_refresh_files(m, false); /* every /etc/hosts lists the units now there */
        log_info("reload: %u new, %u removed, %u changed, %u unchanged, %u kept on their previous version",
                 rep.added, rep.removed, rep.changed, rep.unchanged, rep.kept);
        *ret = rep;
        return 0;
}
