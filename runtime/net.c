/* SPDX-License-Identifier: MIT */
/*
 * Links, addresses and routes for Network=bridge through libnl-route-3, and the two files
 * every bridged container gets (/etc/hosts, /etc/resolv.conf).
 *
 * The veth pair is created in one RTM_NEWLINK with its peer born inside the container's
 * namespace: the host never sees the peer, so there is no temporary name that could clash
 * with another container's, no move and no rename, and a failure leaves nothing behind.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>

#include "net.h"
#include "util.h"

#define ERR(...) (err ? (void) snprintf(err, errlen, __VA_ARGS__) : (void) 0)

DEFINE_POINTER_CLEANUP(rtnl_link_putp, struct rtnl_link, rtnl_link_put)
DEFINE_POINTER_CLEANUP(rtnl_addr_putp, struct rtnl_addr, rtnl_addr_put)
DEFINE_POINTER_CLEANUP(rtnl_route_putp, struct rtnl_route, rtnl_route_put)
DEFINE_POINTER_CLEANUP(nl_addr_putp, struct nl_addr, nl_addr_put)
DEFINE_POINTER_CLEANUP(nl_cache_freep, struct nl_cache, nl_cache_free)
#define _cleanup_link_   _cleanup_(rtnl_link_putp)
#define _cleanup_addr_   _cleanup_(rtnl_addr_putp)
#define _cleanup_route_  _cleanup_(rtnl_route_putp)
#define _cleanup_nladdr_ _cleanup_(nl_addr_putp)
#define _cleanup_cache_  _cleanup_(nl_cache_freep)

/* libnl returns its own NLE_* codes, into which nl_syserr2nlerr() folds the kernel's errno
 * (several errnos share a code). Map back to the likeliest errno for these calls, so callers
 * get -errno like everywhere else in keel and strerror() reads right. */
static int nl_errno(int nlerr) {
        switch (nlerr < 0 ? -nlerr : nlerr) {
        case 0:
                return 0;
        case NLE_EXIST:
                return -EEXIST;
        case NLE_NOADDR:
                return -EADDRNOTAVAIL;
        case NLE_OBJ_NOTFOUND:
                return -ENOENT;
        case NLE_NODEV:
                return -ENODEV;
        case NLE_INTR:
                return -EINTR;
        case NLE_AGAIN:
                return -EAGAIN;
        case NLE_BAD_SOCK:
                return -EBADF;
        case NLE_NOACCESS:
                return -EACCES;
        case NLE_INVAL:
                return -EINVAL;
        case NLE_NOMEM:
                return -ENOMEM;
        case NLE_AF_NOSUPPORT:
                return -EAFNOSUPPORT;
        case NLE_PROTO_MISMATCH:
                return -EPROTONOSUPPORT;
        case NLE_OPNOTSUPP:
                return -EOPNOTSUPP;
        case NLE_PERM:
                return -EPERM;
        case NLE_BUSY:
                return -EBUSY;
        case NLE_RANGE:
                return -ERANGE;
        case NLE_MSGSIZE:
                return -EMSGSIZE;
        default:
                return -EIO;
        }
}

/* The config hint after an error that means "the kernel cannot do this at all". */
static const char *hint(int r, const char *text) {
        return r == -EOPNOTSUPP || r == -EPROTONOSUPPORT || r == -EAFNOSUPPORT ? text : "";
}

int net_socket_open(struct nl_sock **ret) {
        struct nl_sock *sk = nl_socket_alloc();
        if (!sk)
                return -ENOMEM;
        /* libnl opens it SOCK_CLOEXEC. */
        int r = nl_connect(sk, NETLINK_ROUTE);
        if (r < 0) {
                nl_socket_free(sk);
                return nl_errno(r);
        }
        *ret = sk;
        return 0;
}

int net_socket_open_in(int netns_fd, struct nl_sock **ret) {
        _cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        struct nl_sock *sk = NULL;
        int r;

        if (self < 0)
                return negative_errno();
        if (setns(netns_fd, CLONE_NEWNET) < 0)
                return negative_errno();
        r = net_socket_open(&sk);
        /* Returning cannot fail short of a kernel bug: we hold our namespace open and have just
         * used the same privilege to leave it. Report it all the same, never ignore it. */
        if (setns(self, CLONE_NEWNET) < 0) {
                r = negative_errno();
                net_socket_free(sk);
                return r;
        }
        if (r < 0)
                return r;
        *ret = sk;
        return 0;
}

void net_socket_free(struct nl_sock *sk) {
        if (sk)
                nl_socket_free(sk);
}

static struct nl_addr *nl_addr_v4(uint32_t addr, unsigned prefix) {
        uint32_t be = htonl(addr);
        struct nl_addr *a = nl_addr_build(AF_INET, &be, sizeof be);
        if (a)
                nl_addr_set_prefixlen(a, (int) prefix);
        return a;
}

static int link_get(struct nl_sock *sk, const char *name, struct rtnl_link **ret) {
        int r = nl_errno(rtnl_link_get_kernel(sk, 0, name, ret));
        return r == -ENOENT ? -ENODEV : r;
}

static int link_set_up(struct nl_sock *sk, struct rtnl_link *link) {
        _cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
        if (!change)
                return -ENOMEM;
        rtnl_link_set_flags(change, IFF_UP);
        return nl_errno(rtnl_link_change(sk, link, change, 0));
}

/* Looks a link up by name and brings it up; returns its ifindex. */
static int link_up(struct nl_sock *sk, const char *name, char *err, size_t errlen) {
        _cleanup_link_ struct rtnl_link *link = NULL;
        int r = link_get(sk, name, &link);
        if (r < 0) {
                ERR("%s: %s", name, strerror(-r));
                return r;
        }
        r = link_set_up(sk, link);
        if (r < 0) {
                ERR("bringing %s up: %s", name, strerror(-r));
                return r;
        }
        return rtnl_link_get_ifindex(link);
}

static int addr_add(struct nl_sock *sk, int ifindex, const NetCidr *c) {
        _cleanup_addr_ struct rtnl_addr *a = rtnl_addr_alloc();
        _cleanup_nladdr_ struct nl_addr *local = nl_addr_v4(c->addr, c->prefix);
        _cleanup_nladdr_ struct nl_addr *brd = nl_addr_v4(net_broadcast(c), c->prefix);
        int r;

        if (!a || !local || !brd)
                return -ENOMEM;
        rtnl_addr_set_ifindex(a, ifindex);
        rtnl_addr_set_family(a, AF_INET);
        r = rtnl_addr_set_local(a, local);
        /* The kernel derives no broadcast address from IFA_LOCAL alone; give it as ip(8)'s
         * "brd +" would, except on /31 and /32 where there is none. */
        if (r >= 0 && c->prefix < 31)
                r = rtnl_addr_set_broadcast(a, brd);
        if (r < 0)
                return nl_errno(r);
        /* REPLACE: adding the address an interface already has is not an error. */
        return nl_errno(rtnl_addr_add(sk, a, NLM_F_REPLACE));
}

static int route_default(struct nl_sock *sk, int ifindex, uint32_t gateway) {
        _cleanup_route_ struct rtnl_route *route = rtnl_route_alloc();
        _cleanup_nladdr_ struct nl_addr *dst = nl_addr_v4(0, 0);
        _cleanup_nladdr_ struct nl_addr *gw = nl_addr_v4(gateway, 32);
        struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
        int r;

        if (!route || !dst || !gw || !nh) {
                if (nh)
                        rtnl_route_nh_free(nh);
                return -ENOMEM;
        }
        rtnl_route_set_family(route, AF_INET);
        rtnl_route_set_table(route, RT_TABLE_MAIN);
        rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
        rtnl_route_set_protocol(route, RTPROT_STATIC);
        r = rtnl_route_set_dst(route, dst);
        if (r < 0) {
                rtnl_route_nh_free(nh);
                return nl_errno(r);
        }
        rtnl_route_nh_set_ifindex(nh, ifindex);
        rtnl_route_nh_set_gateway(nh, gw);
        rtnl_route_add_nexthop(route, nh); /* the route owns nh from here */
        return nl_errno(rtnl_route_add(sk, route, NLM_F_REPLACE));
}

/* Removes the IPv4 addresses of ifindex other than keep. */
static int addr_prune(struct nl_sock *sk, int ifindex, const NetCidr *keep) {
        _cleanup_cache_ struct nl_cache *cache = NULL;
        int r = nl_errno(rtnl_addr_alloc_cache(sk, &cache));
        if (r < 0)
                return r;
        for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
                struct rtnl_addr *a = (struct rtnl_addr *) o;
                struct nl_addr *local = rtnl_addr_get_local(a);
                uint32_t be;
                if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET || !local ||
                    nl_addr_get_len(local) != sizeof be)
                        continue;
                memcpy(&be, nl_addr_get_binary_addr(local), sizeof be);
                if (ntohl(be) == keep->addr && (unsigned) rtnl_addr_get_prefixlen(a) == keep->prefix)
                        continue;
                r = nl_errno(rtnl_addr_delete(sk, a, 0));
                if (r < 0 && r != -EADDRNOTAVAIL)
                        return r;
        }
        return 0;
}

int net_bridge_ensure(struct nl_sock *sk, const char *name, const NetCidr *gw, char *err, size_t errlen) {
        _cleanup_link_ struct rtnl_link *link = NULL;
        char a[NET_ADDR_STRLEN];
        int r = link_get(sk, name, &link);

        if (r == -ENODEV) {
                _cleanup_link_ struct rtnl_link *br = rtnl_link_bridge_alloc();
                if (!br)
                        return -ENOMEM;
                rtnl_link_set_name(br, name);
                r = nl_errno(rtnl_link_add(sk, br, NLM_F_CREATE | NLM_F_EXCL));
                if (r < 0 && r != -EEXIST) { /* EEXIST: created meanwhile; checked below */
                        ERR("creating bridge %s: %s%s", name, strerror(-r),
                            hint(r, " (is CONFIG_BRIDGE set?)"));
                        return r;
                }
                r = link_get(sk, name, &link);
        }
        if (r < 0) {
                ERR("looking up bridge %s: %s", name, strerror(-r));
                return r;
        }
        const char *kind = rtnl_link_get_type(link);
        if (!kind || !streq(kind, "bridge")) {
                ERR("%s exists and is not a bridge (it is a %s link)", name, kind ?: "physical");
                return -EEXIST;
        }

        int ifindex = rtnl_link_get_ifindex(link);
        r = addr_prune(sk, ifindex, gw);
        if (r >= 0)
                r = addr_add(sk, ifindex, gw);
        if (r < 0) {
                ERR("setting %s/%u on %s: %s", net_addr_to_string(gw->addr, a), gw->prefix, name,
                    strerror(-r));
                return r;
        }
        r = link_set_up(sk, link);
        if (r < 0) {
                ERR("bringing %s up: %s", name, strerror(-r));
                return r;
        }
        return 0;
}

char *net_veth_name(uint32_t addr, char buf[static NET_IFNAME_MAX]) {
        snprintf(buf, NET_IFNAME_MAX, "keel-%08x", addr);
        return buf;
}

static int veth_add(struct nl_sock *sk, const char *host_if, const char *peer_if, int master, int netns_fd,
                    unsigned mtu) {
        _cleanup_link_ struct rtnl_link *link = rtnl_link_veth_alloc();
        if (!link)
                return -ENOMEM;
        _cleanup_link_ struct rtnl_link *peer = rtnl_link_veth_get_peer(link); /* a reference */

        rtnl_link_set_name(link, host_if);
        rtnl_link_set_master(link, master);
        rtnl_link_set_flags(link, IFF_UP);
        rtnl_link_set_name(peer, peer_if);
        rtnl_link_set_ns_fd(peer, netns_fd);
        if (mtu > 0) {
                rtnl_link_set_mtu(link, mtu);
                rtnl_link_set_mtu(peer, mtu);
        }
        return nl_errno(rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL));
}

int net_veth_create(struct nl_sock *sk, const char *host_if, const char *peer_if, const char *bridge,
                    int netns_fd, unsigned mtu, char *err, size_t errlen) {
        _cleanup_link_ struct rtnl_link *br = NULL;
        int r;

        if (strlen(host_if) >= NET_IFNAME_MAX || strlen(peer_if) >= NET_IFNAME_MAX) {
                ERR("interface names %s/%s: longer than %d characters", host_if, peer_if,
                    NET_IFNAME_MAX - 1);
                return -EINVAL;
        }
        r = link_get(sk, bridge, &br);
        if (r < 0) {
                ERR("bridge %s: %s", bridge, strerror(-r));
                return r;
        }
        r = veth_add(sk, host_if, peer_if, rtnl_link_get_ifindex(br), netns_fd, mtu);
        if (r == -EEXIST && net_link_delete(sk, host_if) >= 0)
                r = veth_add(sk, host_if, peer_if, rtnl_link_get_ifindex(br), netns_fd, mtu);
        if (r < 0) {
                ERR("creating veth pair %s/%s on %s: %s%s", host_if, peer_if, bridge, strerror(-r),
                    hint(r, " (is CONFIG_VETH set?)"));
                return r;
        }
        return 0;
}

int net_link_delete(struct nl_sock *sk, const char *name) {
        _cleanup_link_ struct rtnl_link *link = rtnl_link_alloc();
        if (!link)
                return -ENOMEM;
        rtnl_link_set_name(link, name);
        int r = nl_errno(rtnl_link_delete(sk, link));
        return r == -ENODEV || r == -ENOENT ? 0 : r;
}

int net_container_setup(struct nl_sock *sk, const char *ifname, const NetCidr *addr, uint32_t gateway,
                        char *err, size_t errlen) {
        _cleanup_net_socket_ struct nl_sock *own = NULL;
        int r;

        if (!sk) {
                r = net_socket_open(&own);
                if (r < 0) {
                        ERR("netlink socket: %s", strerror(-r));
                        return r;
                }
                sk = own;
        }
        r = link_up(sk, "lo", err, errlen);
        if (r < 0)
                return r;
        return net_uplink_static(sk, ifname, addr, gateway, err, errlen);
}

int net_uplink_find(struct nl_sock *sk, char *ifname, size_t len) {
        _cleanup_cache_ struct nl_cache *cache = NULL;
        struct rtnl_link *best = NULL;
        int r = nl_errno(rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache));
        if (r < 0)
                return r;
        for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
                struct rtnl_link *l = (struct rtnl_link *) o;
                if (rtnl_link_get_arptype(l) != ARPHRD_ETHER || (rtnl_link_get_flags(l) & IFF_LOOPBACK) ||
                    rtnl_link_get_type(l))
                        continue;
                if (!best || rtnl_link_get_ifindex(l) < rtnl_link_get_ifindex(best))
                        best = l;
        }
        if (!best)
                return -ENODEV;
        if ((size_t) snprintf(ifname, len, "%s", rtnl_link_get_name(best)) >= len)
                return -ENAMETOOLONG;
        return 0;
}

int net_uplink_static(struct nl_sock *sk, const char *ifname, const NetCidr *addr, uint32_t gateway,
                      char *err, size_t errlen) {
        /* Up, address, default route: a container's eth0 gets the same three steps
         * (net_container_setup), and lo is up on the machine already. */
        char a[NET_ADDR_STRLEN];
        int r = link_up(sk, ifname, err, errlen);
        if (r < 0)
                return r;
        int ifindex = r;
        r = addr_add(sk, ifindex, addr);
        if (r < 0) {
                ERR("setting %s/%u on %s: %s", net_addr_to_string(addr->addr, a), addr->prefix, ifname,
                    strerror(-r));
                return r;
        }
        if (gateway != 0) {
                r = route_default(sk, ifindex, gateway);
                if (r < 0) {
                        ERR("default route via %s on %s: %s", net_addr_to_string(gateway, a), ifname,
                            strerror(-r));
                        return r;
                }
        }
        return 0;
}

int net_link_mtu(struct nl_sock *sk, const char *ifname, unsigned *ret) {
        _cleanup_link_ struct rtnl_link *link = NULL;
        int r = link_get(sk, ifname, &link);
        if (r < 0)
                return r;
        *ret = rtnl_link_get_mtu(link);
        return 0;
}

int net_link_ipv4(struct nl_sock *sk, const char *ifname, NetCidr *ret) {
        _cleanup_link_ struct rtnl_link *link = NULL;
        _cleanup_cache_ struct nl_cache *cache = NULL;
        int r = link_get(sk, ifname, &link);
        if (r < 0)
                return r;
        r = nl_errno(rtnl_addr_alloc_cache(sk, &cache));
        if (r < 0)
                return r;
        for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
                struct rtnl_addr *a = (struct rtnl_addr *) o;
                struct nl_addr *local = rtnl_addr_get_local(a);
                uint32_t be;
                if (rtnl_addr_get_ifindex(a) != rtnl_link_get_ifindex(link) ||
                    rtnl_addr_get_family(a) != AF_INET || !local || nl_addr_get_len(local) != sizeof be)
                        continue;
                memcpy(&be, nl_addr_get_binary_addr(local), sizeof be);
                *ret = (NetCidr){ .addr = ntohl(be), .prefix = (unsigned) rtnl_addr_get_prefixlen(a) };
                return 0;
        }
        return -EADDRNOTAVAIL;
}

int net_ip_forward(bool on) {
        return write_file("/proc/sys/net/ipv4/ip_forward", on ? "1\n" : "0\n");
}

/*
 * Temporary file in the target's directory (rename(2) does not cross filesystems), then
 * rename over the target: a reader opening the path gets the old or the new inode, whole.
 * No fsync: it orders the data before the rename only against a crash, and these files
 * live on /run (tmpfs), are rebuilt at every boot, and would otherwise cost PID 1 a disk
 * flush on every container start and stop.
 *
 * Since the target's inode changes, a container must see these files through a bind mount of
 * their DIRECTORY (e.g. /run/keel/net/UNIT/ on /run/keel-net in the container, with /etc/hosts
 * a symlink into it); a bind mount of the file itself pins the first inode forever.
 */
static int write_atomic(const char *path, const char *data, size_t len) {
        const char *slash = strrchr(path, '/');
        char tmp[PATH_MAX];
        int n;

        if (slash)
                n = snprintf(tmp, sizeof tmp, "%.*s/.%s.XXXXXX", (int) (slash - path), path, slash + 1);
        else
                n = snprintf(tmp, sizeof tmp, ".%s.XXXXXX", path);
        if (n < 0 || (size_t) n >= sizeof tmp)
                return -ENAMETOOLONG;

        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        int r = 0;
        for (size_t done = 0; done < len && r == 0;) {
                ssize_t k = write(fd, data + done, len - done);
                if (k < 0 && errno != EINTR)
                        r = negative_errno();
                else if (k > 0)
                        done += (size_t) k;
        }
        /* mkostemp() makes it 0600; container users other than root must read it. */
        if (r == 0 && fchmod(fd, 0644) < 0)
                r = negative_errno();
        if (r == 0 && close(TAKE_FD(fd)) < 0)
                r = negative_errno();
        if (r == 0 && rename(tmp, path) < 0)
                r = negative_errno();
        if (r < 0)
                unlink(tmp);
        return r;
}

/* Closes the open_memstream() f, which sets *buf and *len only now, and writes the result. */
static int write_stream(const char *path, FILE *f, char **buf, size_t *len) {
        int r = fclose(f) == 0 ? write_atomic(path, *buf, *len) : -ENOMEM;
        free(*buf);
        return r;
}

int net_hosts_write(const char *path, const NetHost *hosts, size_t n) {
        char *buf = NULL;
        size_t len = 0;
        char a[NET_ADDR_STRLEN];

        for (size_t i = 0; i < n; i++)
                if (!net_host_name_is_valid(hosts[i].name))
                        return -EINVAL;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        fputs("# Written by keel: every bridged unit, then AddHost= entries. Rewritten on change.\n"
              "127.0.0.1\tlocalhost\n"
              "::1\tlocalhost ip6-localhost ip6-loopback\n",
              f);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s\t%s\n", net_addr_to_string(hosts[i].addr, a), hosts[i].name);
        return write_stream(path, f, &buf, &len);
}

/* Whether a resolv.conf "nameserver" value may be kept for a container: loopback addresses
 * would be the container's own lo, and IPv6 ones are unreachable from an IPv4-only bridge. */
static bool nameserver_usable(const char *v) {
        uint32_t addr;
        if (net_parse_addr(v, &addr, NULL, 0) < 0)
                return false;
        return (addr >> 24) != 127;
}

int net_resolv_write(const char *path, const uint32_t *dns, size_t n, const char *machine_resolv) {
        _cleanup_free_ char *machine = NULL;
        char *buf = NULL;
        size_t len = 0;
        char a[NET_ADDR_STRLEN];

        if (n == 0 && machine_resolv) {
                int r = read_file(machine_resolv, 64 * 1024, &machine, NULL);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        fputs("# Written by keel", f);
        fputs(n > 0 ? " from DNS=.\n" : " from the machine's resolv.conf.\n", f);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "nameserver %s\n", net_addr_to_string(dns[i], a));
        for (char *line = machine, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                char key[16], value[256];
                if (sscanf(line, "%15s %255s", key, value) != 2)
                        continue;
                if (streq(key, "nameserver")
                            ? nameserver_usable(value)
                            : streq(key, "search") || streq(key, "domain") || streq(key, "options"))
                        fprintf(f, "%s\n", line);
        }
        return write_stream(path, f, &buf, &len);
}
