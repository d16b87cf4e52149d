/* SPDX-License-Identifier: MIT */
/*
 * The pure half of container networking: parsers for the network settings people write
 * (keel.bridge=, keel.ip=, IP=, PublishPort=, AddHost=) and address management for the bridge
 * subnet. No system calls, so test-ipam covers every message without root.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

#include "net.h"

#define ERR(...) (err ? (void) snprintf(err, errlen, __VA_ARGS__) : (void) 0)

char *net_addr_to_string(uint32_t addr, char buf[static NET_ADDR_STRLEN]) {
        snprintf(buf, NET_ADDR_STRLEN, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
                 addr & 0xff);
        return buf;
}

int net_parse_addr(const char *s, uint32_t *ret, char *err, size_t errlen) {
        struct in_addr a;
        /* glibc's inet_pton() takes exactly four decimal octets without leading zeros, unlike
         * inet_aton(), which would read "10.1" as 10.0.0.1 and "010.0.0.1" as octal. */
        if (inet_pton(AF_INET, s, &a) != 1) {
                if (strchr(s, ':'))
                        ERR("'%s': IPv6 addresses are not supported yet", s);
                else
                        ERR("'%s' is not an IPv4 address (a.b.c.d)", s);
                return -EINVAL;
        }
        *ret = ntohl(a.s_addr);
        return 0;
}

/* A decimal number in [min, max], digits only (no sign, no blanks). */
static int parse_uint(const char *s, size_t len, unsigned min, unsigned max, unsigned *ret) {
        unsigned long v = 0;
        if (len == 0 || len > 5)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        if (v < min || v > max)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

int net_parse_cidr(const char *s, NetCidr *ret, char *err, size_t errlen) {
        const char *slash = strchr(s, '/');
        char buf[INET_ADDRSTRLEN];
        uint32_t addr;
        unsigned prefix;

        if (!slash) {
                ERR("'%s' has no prefix length (ADDR/LEN, e.g. 10.88.0.1/16)", s);
                return -EINVAL;
        }
        if ((size_t) (slash - s) >= sizeof buf) {
                ERR("'%.*s' is not an IPv4 address (a.b.c.d)", (int) (slash - s), s);
                return -EINVAL;
        }
        memcpy(buf, s, (size_t) (slash - s));
        buf[slash - s] = '\0';
        int r = net_parse_addr(buf, &addr, err, errlen);
        if (r < 0)
                return r;
        if (parse_uint(slash + 1, strlen(slash + 1), 0, 32, &prefix) < 0) {
                ERR("'%s': prefix length '%s' is not a number from 0 to 32", s, slash + 1);
                return -EINVAL;
        }
        *ret = (NetCidr){ .addr = addr, .prefix = prefix };
        return 0;
}

int net_parse_uplink_static(const char *s, NetCidr *ret_addr, uint32_t *ret_gateway, char *err,
                            size_t errlen) {
        const char *comma = strchr(s, ',');
        char buf[INET_ADDRSTRLEN + 4];
        char a[NET_ADDR_STRLEN], b[NET_ADDR_STRLEN];
        NetCidr c;
        uint32_t gw;

        if (!comma || (size_t) (comma - s) >= sizeof buf) {
                ERR("keel.ip='%s': expected ADDR/LEN,GATEWAY (e.g. 192.168.1.10/24,192.168.1.1)", s);
                return -EINVAL;
        }
        memcpy(buf, s, (size_t) (comma - s));
        buf[comma - s] = '\0';
        int r = net_parse_cidr(buf, &c, err, errlen);
        if (r < 0)
                return r;
        r = net_parse_addr(comma + 1, &gw, err, errlen);
        if (r < 0)
                return r;
        if (c.prefix < 32 && !net_contains(&c, gw)) {
                /* A /32 (some clouds) reaches its gateway through an on-link route; anything
                 * wider must contain it or the default route cannot be added. */
                ERR("keel.ip: gateway %s is outside %s/%u", net_addr_to_string(gw, a),
                    net_addr_to_string(c.addr, b), c.prefix);
                return -EINVAL;
        }
        if (gw == c.addr) {
                ERR("keel.ip: gateway %s is the address itself", net_addr_to_string(gw, a));
                return -EINVAL;
        }
        *ret_addr = c;
        *ret_gateway = gw;
        return 0;
}

int net_parse_publish(const char *s, NetPort *ret, char *err, size_t errlen) {
        static const char usage[] = "expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]";
        char buf[64];
        uint8_t proto = IPPROTO_TCP;
        uint32_t host_addr = 0;
        unsigned hport, cport;

        if (strlen(s) >= sizeof buf || s[0] == '[') {
                ERR("PublishPort='%s': %s%s", s, usage, s[0] == '[' ? " (IPv6 is not supported yet)" : "");
                return -EINVAL;
        }
        strcpy(buf, s);

        char *slash = strchr(buf, '/');
        if (slash) {
                *slash = '\0';
                if (streq(slash + 1, "udp"))
                        proto = IPPROTO_UDP;
                else if (!streq(slash + 1, "tcp")) {
                        ERR("PublishPort='%s': unknown protocol '%s' (tcp or udp)", s, slash + 1);
                        return -EINVAL;
                }
        }

        char *c1 = strrchr(buf, ':');
        if (!c1) {
                ERR("PublishPort='%s': %s (a host port is required)", s, usage);
                return -EINVAL;
        }
        *c1 = '\0';
        char *hp = buf;
        char *c2 = strrchr(buf, ':');
        if (c2) {
                *c2 = '\0';
                hp = c2 + 1;
                if (net_parse_addr(buf, &host_addr, NULL, 0) < 0) {
                        ERR("PublishPort='%s': '%s' is not an IPv4 address", s, buf);
                        return -EINVAL;
                }
        }
        if (parse_uint(hp, strlen(hp), 1, 65535, &hport) < 0) {
                ERR("PublishPort='%s': host port '%s' is not a number from 1 to 65535", s, hp);
                return -EINVAL;
        }
        if (parse_uint(c1 + 1, strlen(c1 + 1), 1, 65535, &cport) < 0) {
                ERR("PublishPort='%s': container port '%s' is not a number from 1 to 65535", s, c1 + 1);
                return -EINVAL;
        }
        *ret = (NetPort){
                .host_addr = host_addr,
                .host_port = (uint16_t) hport,
                .container_port = (uint16_t) cport,
                .proto = proto,
        };
        return 0;
}

bool net_host_name_is_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > NET_NAME_MAX - 1 || s[0] == '-' || s[0] == '.')
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '-' || *p == '_' || *p == '.' || *p == '@'))
                        return false;
        return true;
}

int net_parse_add_host(const char *s, NetHost *ret, char *err, size_t errlen) {
        const char *colon = strchr(s, ':');
        char name[NET_NAME_MAX];
        uint32_t addr;

        if (!colon || colon == s || (size_t) (colon - s) >= sizeof name) {
                ERR("AddHost='%s': expected NAME:ADDRESS", s);
                return -EINVAL;
        }
        memcpy(name, s, (size_t) (colon - s));
        name[colon - s] = '\0';
        if (!net_host_name_is_valid(name)) {
                ERR("AddHost='%s': '%s' is not a valid host name", s, name);
                return -EINVAL;
        }
        if (net_parse_addr(colon + 1, &addr, NULL, 0) < 0) {
                ERR("AddHost='%s': '%s' is not an IPv4 address%s", s, colon + 1,
                    strchr(colon + 1, ':') ? " (IPv6 is not supported yet)" : "");
                return -EINVAL;
        }
        memcpy(ret->name, name, sizeof name);
        ret->addr = addr;
        return 0;
}

int ipam_check_subnet(const NetCidr *bridge, char *err, size_t errlen) {
        char a[NET_ADDR_STRLEN], n[NET_ADDR_STRLEN];
        uint32_t top = bridge->addr >> 24;

        net_addr_to_string(bridge->addr, a);
        net_addr_to_string(net_network(bridge), n);
        if (bridge->prefix < 8 || bridge->prefix > 30) {
                /* /31 and /32 leave no host besides the gateway; below /8 the subnet would
                 * swallow whole swaths of the Internet that containers could no longer reach. */
                ERR("bridge subnet %s/%u: the prefix length must be 8..30", a, bridge->prefix);
                return -EINVAL;
        }
        if (top == 0 || top == 127 || top >= 224) {
                ERR("bridge subnet %s/%u: not a usable unicast range", a, bridge->prefix);
                return -EINVAL;
        }
        if (bridge->addr == net_network(bridge) || bridge->addr == net_broadcast(bridge)) {
                ERR("bridge subnet %s/%u: give the bridge's own address, not the %s address (e.g. %s/%u)", a,
                    bridge->prefix, bridge->addr == net_network(bridge) ? "network" : "broadcast",
                    net_addr_to_string(net_network(bridge) + 1, n), bridge->prefix);
                return -EINVAL;
        }
        return 0;
}

int ipam_check_static(const NetCidr *bridge, const char *name, uint32_t addr, const NetHost *taken, size_t n,
                      char *err, size_t errlen) {
        char a[NET_ADDR_STRLEN], net[NET_ADDR_STRLEN];

        net_addr_to_string(addr, a);
        net_addr_to_string(net_network(bridge), net);
        if (!net_contains(bridge, addr)) {
                ERR("%s is outside the bridge subnet %s/%u", a, net, bridge->prefix);
                return -EINVAL;
        }
        if (addr == net_network(bridge)) {
                ERR("%s is the network address of %s/%u", a, net, bridge->prefix);
                return -EINVAL;
        }
        if (addr == net_broadcast(bridge)) {
                ERR("%s is the broadcast address of %s/%u", a, net, bridge->prefix);
                return -EINVAL;
        }
        if (addr == bridge->addr) {
                ERR("%s is the bridge's own address (the gateway)", a);
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++)
                if (taken[i].addr == addr && !(name && streq(taken[i].name, name))) {
                        ERR("%s is already used by %s", a, taken[i].name);
                        return -EADDRINUSE;
                }
        return 0;
}

/* FNV-1a, then murmur3's finalizer: FNV alone leaves the low bits of similar names ("web1",
 * "web2") close together, and the low bits are what picks the host in a small subnet. */
static uint32_t name_hash(const char *s) {
        uint32_t h = 2166136261u;
        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 16777619u;
        h ^= h >> 16;
        h *= 0x85ebca6bu;
        h ^= h >> 13;
        h *= 0xc2b2ae35u;
        h ^= h >> 16;
        return h;
}

static bool is_taken(uint32_t addr, const NetHost *taken, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (taken[i].addr == addr)
                        return true;
        return false;
}

uint32_t ipam_derive(const NetCidr *bridge, const char *name, const NetHost *taken, size_t n) {
        if (bridge->prefix > 30)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (streq(taken[i].name, name) && net_contains(bridge, taken[i].addr) &&
                    taken[i].addr != net_network(bridge) && taken[i].addr != net_broadcast(bridge) &&
                    taken[i].addr != bridge->addr)
                        return taken[i].addr;

        /* Hosts are offsets 1..size-2 from the network address. Probing visits each once, and
         * stops at the first free one, so it costs at most n + 2 steps. */
        uint64_t hosts = (UINT64_C(1) << (32 - bridge->prefix)) - 2;
        uint64_t start = name_hash(name) % hosts;
        for (uint64_t i = 0; i < hosts; i++) {
                uint32_t addr = net_network(bridge) + 1 + (uint32_t) ((start + i) % hosts);
                if (addr != bridge->addr && !is_taken(addr, taken, n))
                        return addr;
        }
        return 0;
}

static const char *proto_name(uint8_t proto) {
        return proto == IPPROTO_UDP ? "udp" : "tcp";
}

int ipam_check_port(const NetPort *p, const NetPort *published, size_t n, char *err, size_t errlen) {
        char a[NET_ADDR_STRLEN];

        for (size_t i = 0; i < n; i++) {
                const NetPort *q = &published[i];
                if (q->proto != p->proto || q->host_port != p->host_port)
                        continue;
                if (q->host_addr != 0 && p->host_addr != 0 && q->host_addr != p->host_addr)
                        continue;
                if (q->host_addr == 0)
                        ERR("%s port %u is already published by %s", proto_name(p->proto), p->host_port,
                            q->owner ?: "another unit");
                else
                        ERR("%s %s:%u is already published by %s", proto_name(p->proto),
                            net_addr_to_string(q->host_addr, a), p->host_port, q->owner ?: "another unit");
                return -EADDRINUSE;
        }
        return 0;
}
