/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "unit-file.h"

/* Replaces the string at field with a copy of v. */
int unit_field_set_string(void *field, const char *v);

/* Key parsers for structured values (unit-keys.c): value → the UnitConfig field at field. */
int unit_key_volume(const char *v, void *field, char *err, size_t errlen);
int unit_key_tmpfs(const char *v, void *field, char *err, size_t errlen);
int unit_key_mount(const char *v, void *field, char *err, size_t errlen);
int unit_key_ulimit(const char *v, void *field, char *err, size_t errlen);
int unit_key_user(const char *v, void *field, char *err, size_t errlen);
int unit_key_groups(const char *v, void *field, char *err, size_t errlen);
int unit_key_cpus(const char *v, void *field, char *err, size_t errlen);
int unit_key_weight(const char *v, void *field, char *err, size_t errlen);
int unit_key_size0(const char *v, void *field, char *err, size_t errlen);
int unit_key_userns(const char *v, void *field, char *err, size_t errlen);
int unit_key_network(const char *v, void *field, char *err, size_t errlen);
int unit_key_ip(const char *v, void *field, char *err, size_t errlen);
int unit_key_publish(const char *v, void *field, char *err, size_t errlen);
int unit_key_add_host(const char *v, void *field, char *err, size_t errlen);
int unit_key_dns(const char *v, void *field, char *err, size_t errlen);
int unit_key_seccomp(const char *v, void *field, char *err, size_t errlen);
int unit_key_environment_file(const char *v, void *field, char *err, size_t errlen);
