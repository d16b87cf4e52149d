/* SPDX-License-Identifier: MIT */
#pragma once

#include "manager.h"

/* After every load: turns the units' After=, Before=, Requires= and Wants= names into
 * pointers, and makes every unit of an ordering cycle invalid with a message naming the
 * cycle. Returns how many units it made invalid, or -ENOMEM. */
int deps_resolve(Manager *m);
void deps_free(Unit *u);
