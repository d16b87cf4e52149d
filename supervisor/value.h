/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parsers for systemd's value syntax. Each returns 0 or -EINVAL/-ERANGE/-ENOMEM and, on
 * failure, leaves its out-parameter untouched. */

int parse_boolean(const char *v, bool *ret);
/* "500ms", "5s", "1min 30s", "1.5h", "infinity"; a bare number is seconds. */
int parse_timespan(const char *v, uint64_t *ret_usec);
/* "SIGTERM", "TERM" or "15". */
int parse_signal(const char *v, int *ret);
/* "64M", "1G", "512K", "1048576", "infinity" (UINT64_MAX); K, M, G, T are powers of 1024. */
int parse_size(const char *v, uint64_t *ret);
/* "50%", "250%", "0.5%": in hundredths of a percent (5000 = 50%). */
int parse_percent_basis(const char *v, uint64_t *ret);
const char *signal_name(int sig); /* "SIGTERM"; "SIG?" when unknown */

/* Splits a command line the way systemd splits Exec=: whitespace separates words, '…' and
 * "…" group, C escapes (\n \t \\ \" \x41 …) are decoded. Unbalanced quotes, a trailing
 * backslash or an empty command fail with -EINVAL and a reason in err. */
int parse_words(const char *v, char ***ret, char *err, size_t errlen);

/* Environment=: words as above, each NAME=value with a valid shell name. */
int parse_environment(const char *v, char ***ret, char *err, size_t errlen);
bool env_name_is_valid(const char *s, size_t len);
