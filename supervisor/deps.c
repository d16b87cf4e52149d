/* SPDX-License-Identifier: MIT */
/*
 * Dependencies between units, as systemd has them: After=/Before= order starts (and, in
 * reverse, stops); Requires= and Wants= pull units in, and a unit whose Requires= is invalid,
 * failed or missing does not start. Ordering and requirement are separate: Requires= without
 * After= starts both at once.
 *
 * Ordering must be a DAG. A cycle is found at load by a depth-first search over the "after"
 * edges; every member of it becomes invalid with the cycle spelt out (web → db → web), and
 * the other units still start. systemd instead deletes a random job to break the cycle.
 */
#include <stdio.h>

#include "deps.h"
#include "log.h"
#include "util.h"

void deps_free(Unit *u) {
        free(u->after);
        free(u->requires);
        free(u->wants);
        strv_free(u->requires_missing);
        u->after = u->requires = u->wants = NULL;
        u->requires_missing = NULL;
        u->n_after = u->n_requires = u->n_wants = 0;
}

static int push(Unit ***list, size_t *n, Unit *d) {
        for (size_t i = 0; i < *n; i++)
                if ((*list)[i] == d)
                        return 0;
        Unit **l = realloc(*list, (*n + 1) * sizeof *l);
        if (!l)
                return -ENOMEM;
        l[(*n)++] = d;
        *list = l;
        return 0;
}

static int resolve_one(Manager *m, Unit *u) {
        const UnitConfig *c = u->config;
        int r = 0;
        for (char **n = c->after; r >= 0 && n && *n; n++) {
                Unit *d = manager_find(m, *n);
                if (d && d != u)
                        r = push(&u->after, &u->n_after, d);
        }
        /* Before=X in u is After=u in X. */
        for (char **n = c->before; r >= 0 && n && *n; n++) {
                Unit *d = manager_find(m, *n);
                if (d && d != u)
                        r = push(&d->after, &d->n_after, u);
        }
        for (char **n = c->requires; r >= 0 && n && *n; n++) {
                Unit *d = manager_find(m, *n);
                if (d == u)
                        continue;
                if (d)
                        r = push(&u->requires, &u->n_requires, d);
                else {
                        char *s = strdup(*n);
                        r = s ? strv_push(&u->requires_missing, s) : -ENOMEM;
                }
        }
        for (char **n = c->wants; r >= 0 && n && *n; n++) {
                Unit *d = manager_find(m, *n);
                if (d && d != u)
                        r = push(&u->wants, &u->n_wants, d);
        }
        return r;
}

enum { WHITE, GREY, BLACK };

typedef struct Search {
        Manager *m;
        unsigned char *color;
        Unit **stack;
        size_t depth;
        int invalidated;
} Search;

static size_t index_of(Manager *m, const Unit *u) {
        for (size_t i = 0; i < m->n_units; i++)
                if (m->units[i] == u)
                        return i;
        return SIZE_MAX;
}

/* Marks the cycle that closes at stack[from..depth-1] → target. */
static void report_cycle(Search *s, size_t from) {
        char path[512] = "";
        for (size_t i = from; i < s->depth; i++)
                snprintf(path + strlen(path), sizeof path - strlen(path), "%s → ", s->stack[i]->name);
        snprintf(path + strlen(path), sizeof path - strlen(path), "%s", s->stack[from]->name);
        for (size_t i = from; i < s->depth; i++) {
                Unit *u = s->stack[i];
                bool known = false; /* found again by a reload */
                for (char **x = u->errors; x && *x && !known; x++)
                        known = strstr(*x, "ordering cycle") != NULL;
                if (known)
                        continue;
                char *e = NULL;
                if (asprintf(&e, "%s: ordering cycle (After=/Before=): %s", u->path, path) >= 0 &&
                    strv_push(&u->errors, e) >= 0 && u->state != UNIT_INVALID) {
                        u->state = UNIT_INVALID;
                        s->invalidated++;
                }
        }
        log_error("ordering cycle: %s; its units are invalid, the others start", path);
}

static void visit(Search *s, Unit *u) {
        size_t i = index_of(s->m, u);
        s->color[i] = GREY;
        s->stack[s->depth++] = u;
        for (size_t k = 0; k < u->n_after; k++) {
                Unit *d = u->after[k];
                size_t j = index_of(s->m, d);
                if (s->color[j] == GREY) {
                        size_t from = 0;
                        while (s->stack[from] != d)
                                from++;
                        report_cycle(s, from);
                } else if (s->color[j] == WHITE)
                        visit(s, d);
        }
        s->depth--;
        s->color[i] = BLACK;
}

int deps_resolve(Manager *m) {
        for (size_t i = 0; i < m->n_units; i++)
                deps_free(m->units[i]);
        for (size_t i = 0; i < m->n_units; i++)
                if (m->units[i]->config && resolve_one(m, m->units[i]) < 0)
                        return -ENOMEM;
        Search s = { .m = m };
        s.color = calloc(m->n_units ? m->n_units : 1, 1);
        s.stack = calloc(m->n_units ? m->n_units : 1, sizeof(Unit *));
        if (!s.color || !s.stack) {
                free(s.color);
                free(s.stack);
                return -ENOMEM;
        }
        for (size_t i = 0; i < m->n_units; i++)
                if (s.color[i] == WHITE)
                        visit(&s, m->units[i]);
        free(s.color);
        free(s.stack);
        return s.invalidated;
}
