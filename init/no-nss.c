/* SPDX-License-Identifier: MIT */
/*
 * No NSS in PID 1. libnl's address and protocol helpers (nl_addr_info(), nl_str2ip_proto()…)
 * reach glibc's getaddrinfo() and getprotobyname(), which in a static binary would dlopen the
 * NSS modules of whatever glibc the machine has, and glibc warns about it at link time. keel
 * never calls those helpers (every address it handles is numeric, every protocol a number),
 * so these definitions, linked into the static binaries ahead of libc, stand in: they fail
 * cleanly instead of loading anything.
 */
#include <netdb.h>
#include <stddef.h>

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
        (void) node, (void) service, (void) hints;
        *res = NULL;
        return EAI_SYSTEM;
}

void freeaddrinfo(struct addrinfo *res) {
        (void) res;
}

struct protoent *getprotobyname(const char *name) {
        (void) name;
        return NULL;
}

struct protoent *getprotobynumber(int proto) {
        (void) proto;
        return NULL;
}
