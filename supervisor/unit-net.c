/* SPDX-License-Identifier: MIT */
/*
 * Network=bridge for units: which address each unit has, the files it sees as /etc/hosts and
 * /etc/resolv.conf, its veth pair while it runs, and the nf_tables rules of its published
 * ports. The mechanisms are in runtime/net.c, ipam.c and nft.c; this file decides when.
 *
 *   load / reload   addresses assigned (IP= first, so that a derived address never takes a
 *                   slot an IP= asks for), conflicts make the later unit invalid
 *   start           files written, spawn with CLONE_NEWNET and wait_for_parent, then from
 *                   PID 1: veth pair (peer born as eth0 in the child's namespace), address,
 *                   default route, nft sync if it publishes ports, release the child
 *   exit            host end deleted (the kernel would do it when the namespace dies, but
 *                   asynchronously: a restart could race its own leftover), nft sync
 *   removal         files deleted; the address is free again
 *
 * Addresses are stable for as long as the unit exists (restarts, reloads that leave its
 * file alone), and across reboots for derived addresses as long as no collision moves them,
 * so /etc/hosts entries are never removed when a unit merely stops.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "log.h"
#include "loop.h"
#include "net.h"
#include "unit-net.h"
#include "util.h"

void manager_net_init(Manager *m) {
        ManagerNet *n = &m->net;
        (void) net_parse_cidr(NET_SUBNET_DEFAULT, &n->bridge, NULL, 0);
        snprintf(n->bridge_name, sizeof n->bridge_name, "%s", NET_BRIDGE_DEFAULT);
        snprintf(n->why, sizeof n->why, "networking was not set up");
        n->files_root = "/run/keel-net";
        n->machine_resolv = "/etc/resolv.conf";
}

static bool unit_bridged(const Unit *u) {
        return u->config && u->state != UNIT_INVALID && u->config->network == NETWORK_BRIDGE;
}

static bool unit_alive(const Unit *u) {
        return u->state == UNIT_STARTING || u->state == UNIT_RUNNING || u->state == UNIT_STOPPING;
}

/* A conflict found after loading: an error of the unit's file, which makes it invalid. A unit
 * that is running keeps running its previous version; its next start fails with this. */
static _printf_(3, 4) void unit_net_fail(Unit *u, unsigned line, const char *fmt, ...) {
        char msg[400], *full = NULL;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (asprintf(&full, "%s:%u: %s", u->path, line, msg) >= 0) {
                log_error("%s", full);
                strv_push(&u->errors, full);
        }
        u->net_addr = 0;
        if (!unit_alive(u)) {
                u->state = UNIT_INVALID;
                u->reload_restart = false;
                log_error("%s: invalid, not starting it (the other units are not affected)", u->name);
        }
}

/* The table IPAM checks against: every unit that holds an address. */
static size_t collect_taken(Manager *m, NetHost *taken) {
        size_t n = 0;
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                if (!u->net_addr)
                        continue;
                snprintf(taken[n].name, sizeof taken[n].name, "%s", u->name);
                taken[n++].addr = u->net_addr;
        }
        return n;
}

void unit_net_assign(Manager *m) {
        _cleanup_free_ NetHost *taken = calloc(m->n_units + 1, sizeof *taken);
        size_t max_ports = 0;
        for (size_t i = 0; i < m->n_units; i++)
                max_ports += m->units[i]->config ? m->units[i]->config->net.n_ports : 0;
        _cleanup_free_ NetPort *published = calloc(max_ports + 1, sizeof *published);
        if (!taken || !published) {
                log_error("out of memory assigning addresses");
                return;
        }
        for (size_t i = 0; i < m->n_units; i++)
                if (!unit_bridged(m->units[i]))
                        m->units[i]->net_addr = 0; /* released: Network= changed, or invalid */
        size_t n = collect_taken(m, taken);
        char err[256];

        /* IP= first: a derived address must not take the slot a static one asks for. */
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                if (!unit_bridged(u) || u->net_addr || !u->config->net.ip)
                        continue;
                if (ipam_check_static(&m->net.bridge, u->name, u->config->net.ip, taken, n, err,
                                      sizeof err) < 0) {
                        unit_net_fail(u, u->config->net.ip_line, "IP=: %s", err);
                        continue;
                }
                u->net_addr = u->config->net.ip;
                snprintf(taken[n].name, sizeof taken[n].name, "%s", u->name);
                taken[n++].addr = u->net_addr;
        }
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                if (!unit_bridged(u) || u->net_addr || u->config->net.ip)
                        continue;
                u->net_addr = ipam_derive(&m->net.bridge, u->name, taken, n);
                if (!u->net_addr) {
                        char c[NET_ADDR_STRLEN];
                        unit_net_fail(u, 0, "Network=bridge: no free address left in %s/%u",
                                      net_addr_to_string(net_network(&m->net.bridge), c),
                                      m->net.bridge.prefix);
                        continue;
                }
                snprintf(taken[n].name, sizeof taken[n].name, "%s", u->name);
                taken[n++].addr = u->net_addr;
        }

        /* Ports in unit order: units already there come before those a reload added. */
        size_t np = 0;
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                if (!unit_bridged(u) || !u->net_addr)
                        continue;
                const UnitNet *c = &u->config->net;
                bool ok = true;
                for (size_t k = 0; k < c->n_ports && ok; k++) {
                        NetPort p = c->ports[k];
                        p.owner = u->name;
                        if (ipam_check_port(&p, published, np, err, sizeof err) < 0) {
                                unit_net_fail(u, c->ports_line, "PublishPort=: %s", err);
                                ok = false;
                        }
                }
                for (size_t k = 0; k < c->n_ports && ok; k++) {
                        published[np] = c->ports[k];
                        published[np++].owner = u->name;
                }
        }
}

/* /etc/hosts of u: localhost, every bridged unit by name, then its AddHost= lines. */
static int write_hosts(Manager *m, Unit *u) {
        size_t max = m->n_units + u->config->net.n_add_hosts;
        _cleanup_free_ NetHost *hosts = calloc(max + 1, sizeof *hosts);
        if (!hosts)
                return -ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *o = m->units[i];
                if (!o->net_addr || !net_host_name_is_valid(o->name))
                        continue;
                snprintf(hosts[n].name, sizeof hosts[n].name, "%s", o->name);
                hosts[n++].addr = o->net_addr;
        }
        for (size_t i = 0; i < u->config->net.n_add_hosts; i++)
                hosts[n++] = u->config->net.add_hosts[i];
        char path[512];
        snprintf(path, sizeof path, "%s/hosts", u->net_dir);
        return net_hosts_write(path, hosts, n);
}

/* resolv.conf of u: DNS=, or the machine's name servers (written by udhcpc) when it has none;
 * with neither, no name server at all, which the file's comment says: containers still find
 * each other through /etc/hosts. */
static int write_resolv(Manager *m, Unit *u) {
        char path[512];
        snprintf(path, sizeof path, "%s/resolv.conf", u->net_dir);
        return net_resolv_write(path, u->config->net.dns, u->config->net.n_dns, m->net.machine_resolv);
}

int unit_net_prepare(Unit *u, ContainerSpec *spec, char *err, size_t errlen) {
        Manager *m = u->manager;
        if (u->config->network != NETWORK_BRIDGE)
                return 0;
        if (!m->net.enabled) {
                snprintf(err, errlen, "network: the bridge %s is not up (%s)", m->net.bridge_name,
                         m->net.why);
                return -ENETDOWN;
        }
        if (!u->net_addr) {
                snprintf(err, errlen, "network: no address (the unit's IP= or PublishPort= conflicts)");
                return -EADDRNOTAVAIL;
        }
        if (!u->net_dir && asprintf(&u->net_dir, "%s/%s", m->net.files_root, u->name) < 0) {
                u->net_dir = NULL;
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
        }
        int r = mkdir_p(u->net_dir, 0755);
        if (r >= 0 && (r = write_hosts(m, u)) >= 0)
                r = write_resolv(m, u);
        if (r < 0) {
                snprintf(err, errlen, "network: write %s/hosts and resolv.conf: %s", u->net_dir,
                         strerror(-r));
                return r;
        }
        spec->namespaces |= CLONE_NEWNET;
        spec->network.wait_for_parent = true;
        spec->network.files_dir = u->net_dir;
        return 0;
}

static int manager_net_socket(Manager *m) {
        return m->net.sk ? 0 : net_socket_open(&m->net.sk);
}

int unit_net_attach(Unit *u, const ContainerProcess *p, char *err, size_t errlen) {
        Manager *m = u->manager;
        char why[300] = "";
        int r = manager_net_socket(m);
        if (r < 0) {
                snprintf(err, errlen, "network: netlink socket: %s", strerror(-r));
                return r;
        }
        char ns[64];
        snprintf(ns, sizeof ns, "/proc/%d/ns/net", p->pid);
        _cleanup_close_ int nsfd = open(ns, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0) {
                r = negative_errno();
                snprintf(err, errlen, "network: open %s: %s", ns, strerror(-r));
                return r;
        }
        char veth[NET_IFNAME_MAX];
        net_veth_name(u->net_addr, veth);
        r = net_veth_create(m->net.sk, veth, NET_CONTAINER_IF, m->net.bridge_name, nsfd, m->net.mtu, why,
                            sizeof why);
        if (r < 0) {
                snprintf(err, errlen, "network: %s", why);
                return r;
        }
        snprintf(u->veth, sizeof u->veth, "%s", veth); /* from now on, the exit deletes it */
        _cleanup_net_socket_ struct nl_sock *inner = NULL;
        NetCidr addr = { .addr = u->net_addr, .prefix = m->net.bridge.prefix };
        r = net_socket_open_in(nsfd, &inner);
        if (r < 0)
                snprintf(why, sizeof why, "netlink socket in the container's namespace: %s", strerror(-r));
        else
                r = net_container_setup(inner, NET_CONTAINER_IF, &addr, m->net.bridge.addr, why, sizeof why);
        if (r < 0) {
                snprintf(err, errlen, "network: %s", why);
                return r;
        }
        if (u->config->net.n_ports) {
                u->net_ports_live = true;
                (void) manager_net_sync(m); /* logged; the container still runs */
        }
        r = runtime_release(p);
        if (r < 0)
                snprintf(err, errlen, "network: release the container: %s", strerror(-r));
        return r;
}

void unit_net_detach(Unit *u) {
        Manager *m = u->manager;
        if (u->veth[0] && manager_net_socket(m) >= 0) {
                int r = net_veth_delete(m->net.sk, u->veth);
                if (r < 0)
                        log_warning_errno(r, "%s: delete %s: %m", u->name, u->veth);
        }
        u->veth[0] = 0;
        if (u->net_ports_live) {
                u->net_ports_live = false;
                (void) manager_net_sync(m);
        }
}

/* A unit that a reload removed while it ran is freed only at its exit (reload_sweep), after the
 * reload rewrote every /etc/hosts with its name still in: the other containers would keep
 * resolving it for good. Its removal therefore rewrites them, once the loop has handled the
 * current batch of events: a reload removing many units rewrites them once, not once per
 * unit, and by then the unit is out of the table. */
static void hosts_refresh_due(LoopTimer *t) {
        manager_net_refresh_files(t->userdata, false);
}

static LoopTimer hosts_refresh = { .handler = hosts_refresh_due };

void unit_net_forget(Unit *u) {
        if (!u->net_dir)
                return;
        if (u->net_addr) {
                hosts_refresh.userdata = u->manager;
                if (!hosts_refresh.armed)
                        loop_timer_arm(&hosts_refresh, now_usec());
        }
        static const char *const files[] = { "hosts", "resolv.conf" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                char p[512];
                snprintf(p, sizeof p, "%s/%s", u->net_dir, files[i]);
                (void) unlink(p);
        }
        (void) rmdir(u->net_dir);
        free(u->net_dir);
        u->net_dir = NULL;
}

int manager_net_sync(Manager *m) {
        if (!m->net.enabled)
                return 0;
        size_t n = 0;
        for (size_t i = 0; i < m->n_units; i++)
                if (m->units[i]->net_ports_live)
                        n += m->units[i]->config->net.n_ports;
        _cleanup_free_ NetPort *ports = calloc(n + 1, sizeof *ports);
        if (!ports)
                return log_error("out of memory syncing the nft table");
        n = 0;
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                for (size_t k = 0; u->net_ports_live && k < u->config->net.n_ports && n < NET_PORTS_MAX;
                     k++) {
                        ports[n] = u->config->net.ports[k];
                        ports[n].container_addr = u->net_addr;
                        ports[n++].owner = u->name;
                }
        }
        NftConfig cfg = {
                .bridge_net = m->net.bridge,
                .bridge = m->net.bridge_name,
                .uplink = m->net.uplink[0] ? m->net.uplink : NULL,
                .uplink_addr = m->net.uplink_addr,
                .ports = ports,
                .n_ports = n,
        };
        char err[300];
        int r = nft_sync(&cfg, err, sizeof err);
        if (r < 0)
                log_error("nft: %s", err);
        return r;
}

void manager_net_refresh_files(Manager *m, bool resolv) {
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                if (!u->net_dir || !u->config || u->config->network != NETWORK_BRIDGE)
                        continue;
                int r = write_hosts(m, u);
                if (r >= 0 && resolv && !u->config->net.n_dns)
                        r = write_resolv(m, u);
                if (r < 0)
                        log_warning_errno(r, "%s: rewrite %s: %m", u->name, u->net_dir);
        }
}
