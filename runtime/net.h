/* SPDX-License-Identifier: MIT */
/*
 * Container networking for Network=bridge: the keel0 bridge, one veth pair per container, the
 * addresses, /etc/hosts and /etc/resolv.conf, and NAT (egress masquerade, PublishPort= DNAT and
 * hairpin) in keel's own nf_tables table.
 *
 * IPv4 only for now. Every address in this API is a uint32_t in HOST byte order (10.88.0.1 is
 * 0x0a580001), so that subnet arithmetic is plain integer arithmetic; the conversions to network
 * order happen at the netlink boundary. 0 (0.0.0.0) means "none" or "any" where a comment says so.
 *
 * Three files:
 *   ipam.c  pure logic, no system calls: parsers, address allocation and the checks behind
 *           "bad CIDR", "address conflict" and "port already published" messages
 *   net.c   links, addresses and routes through libnl-route-3; /etc/hosts and resolv.conf
 *   nft.c   the `ip keel` nf_tables table, through raw nf_tables netlink built with libnl-3
 *           (nft.c says why not libnftables or libnftnl)
 *
 * Functions return 0 (or a positive count) or -errno. Those that take err/errlen write one line
 * saying what failed and on what, with a kernel config hint when the cause is likely a missing
 * feature, e.g. "creating bridge keel0: Operation not supported (is CONFIG_BRIDGE set?)".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macros.h"

#define NET_BRIDGE_DEFAULT   "keel0"
#define NET_SUBNET_DEFAULT   "10.88.0.1/16" /* the bridge's own address (the gateway) and prefix */
#define NET_CONTAINER_IF     "eth0"
#define NET_IFNAME_MAX       16  /* IFNAMSIZ, without <net/if.h>, which clashes with libnl's <linux/if.h> */
#define NET_ADDR_STRLEN      16  /* "255.255.255.255" */
#define NET_NAME_MAX         254 /* a DNS name (253) and its NUL */
#define NET_PORTS_MAX        256 /* published ports in one nft_sync(): bounds the netlink batch */
#define NET_RULE_COMMENT_MAX 128

/* An IPv4 address with a prefix length. As a bridge or uplink setting the address is the
 * interface's own ("10.88.0.1/16": gateway 10.88.0.1 on 10.88.0.0/16), not the network. */
typedef struct NetCidr {
        uint32_t addr;
        unsigned prefix; /* 0..32 */
} NetCidr;

/* A name and its address: an /etc/hosts line, and the allocation table IPAM checks against. */
typedef struct NetHost {
        char name[NET_NAME_MAX];
        uint32_t addr;
} NetHost;

/* A PublishPort=: host_addr:host_port → container_addr:container_port. */
typedef struct NetPort {
        uint32_t host_addr; /* 0: every address of the machine */
        uint16_t host_port;
        uint16_t container_port;
        uint8_t proto;           /* IPPROTO_TCP or IPPROTO_UDP */
        uint32_t container_addr; /* filled by the caller once the unit has an address */
        const char *owner;       /* unit name, for messages and rule comments; may be NULL */
} NetPort;

static inline uint32_t net_mask(unsigned prefix) {
        return prefix == 0 ? 0 : UINT32_MAX << (32 - MIN(prefix, 32u));
}
static inline uint32_t net_network(const NetCidr *c) {
        return c->addr & net_mask(c->prefix);
}
static inline uint32_t net_broadcast(const NetCidr *c) {
        return net_network(c) | ~net_mask(c->prefix);
}
static inline bool net_contains(const NetCidr *c, uint32_t addr) {
        return (addr & net_mask(c->prefix)) == net_network(c);
}
static inline bool net_overlap(const NetCidr *a, const NetCidr *b) {
        unsigned p = MIN(a->prefix, b->prefix);
        return ((a->addr ^ b->addr) & net_mask(p)) == 0;
}

/* ---- ipam.c: parsers and address management (pure) ---------------------------------------- */

/* Formats a host-order address as a dotted quad into buf and returns buf. */
char *net_addr_to_string(uint32_t addr, char buf[static NET_ADDR_STRLEN]);

/* Dotted quad, strictly (no leading zeros, no shorthand like "10.1"). */
int net_parse_addr(const char *s, uint32_t *ret, char *err, size_t errlen);
/* "ADDR/LEN" with LEN 0..32. IPv4 only. */
int net_parse_cidr(const char *s, NetCidr *ret, char *err, size_t errlen);
/* keel.ip=ADDR/LEN,GATEWAY; the gateway must be inside ADDR/LEN and differ from ADDR. */
int net_parse_uplink_static(const char *s, NetCidr *ret_addr, uint32_t *ret_gateway, char *err,
                            size_t errlen);
/* PublishPort=[HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp] (tcp by default). Sets host_addr,
 * host_port, container_port and proto; container_addr 0, owner NULL. */
int net_parse_publish(const char *s, NetPort *ret, char *err, size_t errlen);
/* AddHost=NAME:ADDR (Podman's --add-host form). */
int net_parse_add_host(const char *s, NetHost *ret, char *err, size_t errlen);
/* A name fit for an /etc/hosts line: 1..253 of [A-Za-z0-9._@-], not starting with '-' or '.'. */
bool net_host_name_is_valid(const char *s);

/* Whether a bridge setting leaves room for containers: prefix 8..30, the address neither the
 * network nor the broadcast address, and not loopback, multicast or 0.0.0.0. */
int ipam_check_subnet(const NetCidr *bridge, char *err, size_t errlen);

/* Checks IP= of unit name against the bridge setting (its address is the gateway) and the
 * addresses taken; an entry of taken named name is the unit's own and is skipped. Messages:
 * "10.89.0.5 is outside the bridge subnet 10.88.0.0/16", "... is the network address of ...",
 * "... is the broadcast address of ...", "... is the bridge's own address (the gateway)",
 * "10.88.0.5 is already used by web". Returns -EINVAL or -EADDRINUSE (taken). */
int ipam_check_static(const NetCidr *bridge, const char *name, uint32_t addr, const NetHost *taken, size_t n,
                      char *err, size_t errlen);

/* An address for a unit without IP=, stable for a given name: a hash of the name picks a host
 * of the subnet; linear probing moves past the network, broadcast and gateway addresses and
 * past every taken address. If taken already holds name (the unit has an address), that
 * address is returned, so the caller may pass its whole table. Returns 0 if the subnet is full.
 * Static addresses should be in taken before any derivation, or a derived address may take a
 * slot a later IP= asks for. */
uint32_t ipam_derive(const NetCidr *bridge, const char *name, const NetHost *taken, size_t n);

/* Whether p may be published next to the ports already published: the same protocol and host
 * port on the same host address (0 overlaps every address) is "tcp port 8080 is already
 * published by web". Returns -EADDRINUSE then. */
int ipam_check_port(const NetPort *p, const NetPort *published, size_t n, char *err, size_t errlen);

/* ---- net.c: links, addresses, routes (libnl-route-3) -------------------------------------- */

struct nl_sock;

/* A NETLINK_ROUTE socket (CLOEXEC) in the caller's network namespace. */
int net_socket_open(struct nl_sock **ret);
/* The same, connected in the network namespace netns_fd (an open /proc/PID/ns/net): the caller
 * enters it only to create the socket and returns at once, so PID 1 can configure a
 * container's side of a veth pair without running code in the container. A netlink socket
 * stays bound to the namespace it was created in. */
int net_socket_open_in(int netns_fd, struct nl_sock **ret);
void net_socket_free(struct nl_sock *sk);
static inline void net_socket_freep(struct nl_sock **sk) {
        net_socket_free(*sk);
}
#define _cleanup_net_socket_ _cleanup_(net_socket_freep)

/* Creates the bridge, or reuses a bridge of that name: gives it gw (its address and prefix;
 * other IPv4 addresses on it are removed) and brings it up. Idempotent. Fails if a link of that
 * name exists and is not a bridge. */
int net_bridge_ensure(struct nl_sock *sk, const char *name, const NetCidr *gw, char *err, size_t errlen);

/* The host end's name for a container address: "keel-0a580002" (13 characters). Unique among
 * running containers because their addresses are. */
char *net_veth_name(uint32_t addr, char buf[static NET_IFNAME_MAX]);

/* One RTM_NEWLINK creates the pair: host_if enslaved to bridge and up in the caller's namespace,
 * peer_if created directly in the namespace netns_fd (no transient name on the host, nothing
 * to move or rename later), both with mtu (0: the kernel's default). A leftover host_if (a
 * previous instance's, whose namespace the kernel is still tearing down asynchronously) is
 * deleted and the creation retried once. */
int net_veth_create(struct nl_sock *sk, const char *host_if, const char *peer_if, const char *bridge,
                    int netns_fd, unsigned mtu, char *err, size_t errlen);

/* Deletes a link by name; deleting one end of a veth pair deletes both. A missing link is not an
 * error (0). net_veth_delete() is the same call, named for the teardown path. */
int net_link_delete(struct nl_sock *sk, const char *name);
static inline int net_veth_delete(struct nl_sock *sk, const char *host_if) {
        return net_link_delete(sk, host_if);
}

/* The container's side, in the container's namespace: lo up; ifname gets addr (address and
 * prefix) and comes up; a default route via gateway (0: none). sk must be connected in that
 * namespace (net_socket_open_in()); NULL opens one in the caller's own namespace, for a
 * spawned child that runs this between unshare(CLONE_NEWNET) and execve(). */
int net_container_setup(struct nl_sock *sk, const char *ifname, const NetCidr *addr, uint32_t gateway,
                        char *err, size_t errlen);

/* The uplink: the lowest-numbered link that is ARPHRD_ETHER, not loopback, and has no
 * IFLA_INFO_KIND (a real NIC: veth, bridge, dummy, vlan… all have a kind). -ENODEV if none. */
int net_uplink_find(struct nl_sock *sk, char *ifname, size_t len);
/* keel.ip=: the uplink up, addr on it, a default route via gateway (0: none). DHCP is not here:
 * the integrator runs BusyBox udhcpc with a script of its own. */
int net_uplink_static(struct nl_sock *sk, const char *ifname, const NetCidr *addr, uint32_t gateway,
                      char *err, size_t errlen);
/* The link's MTU (for the veths: the uplink's). */
int net_link_mtu(struct nl_sock *sk, const char *ifname, unsigned *ret);
/* The link's first IPv4 address (for the hairpin rules: the uplink's address after DHCP).
 * -EADDRNOTAVAIL if it has none. */
int net_link_ipv4(struct nl_sock *sk, const char *ifname, NetCidr *ret);

/* /proc/sys/net/ipv4/ip_forward of the caller's network namespace. */
int net_ip_forward(bool on);

/* Files bind-mounted into containers, written atomically: a temporary file in the same
 * directory, then rename(2), so a reader that opens the path sees the old or the new file,
 * never half of one. Because rename replaces the inode, a bind mount of the FILE would keep
 * showing the old one: bind-mount the directory and point /etc/hosts at it (net.c says more). */

/* localhost lines, then "ADDR<TAB>NAME" for each host. -EINVAL for a name that is not
 * net_host_name_is_valid() (it could break the file's syntax). */
int net_hosts_write(const char *path, const NetHost *hosts, size_t n);
/* "nameserver" lines for dns[0..n); with n == 0, the nameserver, search, domain and options
 * lines of machine_resolv (the machine's /etc/resolv.conf, may be missing) minus loopback
 * nameservers, which would be the container's own lo, and IPv6 ones, unreachable from the
 * IPv4-only bridge. */
int net_resolv_write(const char *path, const uint32_t *dns, size_t n, const char *machine_resolv);

/* ---- nft.c: NAT in the `ip keel` table --------------------------------------------------- */

#define NFT_TABLE "keel"

/* Everything the table holds, from the supervisor's current state. */
typedef struct NftConfig {
        NetCidr bridge_net;   /* the bridge's address and prefix: 10.88.0.1/16 */
        const char *bridge;   /* "keel0" */
        const char *uplink;   /* egress interface; NULL: any interface but the bridge */
        uint32_t uplink_addr; /* its address, for hairpin to HOSTPORT on it; 0: unknown */
        const NetPort *ports; /* host_addr 0 means: arriving on the uplink, or addressed to
                               * uplink_addr or to the bridge's address */
        size_t n_ports;
} NftConfig;

/*
 * Replaces the `ip keel` table with cfg in one nf_tables transaction (atomic: packets see the
 * old table or the new one). Other tables are never touched. The table holds:
 *   prerouting  (nat, dstnat)  DNAT of published ports, from outside and from containers
 *   output      (nat, -100)    DNAT of published ports for connections made on the machine
 *   postrouting (nat, srcnat)  masquerade from the subnet out of the uplink, and hairpin
 *                              masquerade (a container reaching a published port of another)
 *   forward     (filter, 0)    containers may go out; only replies and published ports come in
 * Calling it again with the same cfg is a no-op in effect; calling it without a port removes
 * that port's rules. There is no per-port call: the caller passes its current list, so no rule
 * can outlive the container it was for.
 */
int nft_sync(const NftConfig *cfg, char *err, size_t errlen);
/* Deletes the table if present. */
int nft_remove(char *err, size_t errlen);
/* The table's rules as "chain: comment" lines (each rule carries a comment saying what it is
 * for, which `nft list table ip keel` shows too). -ENOENT if there is no table. */
int nft_list(char ***ret);
