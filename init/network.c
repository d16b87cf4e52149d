/* SPDX-License-Identifier: MIT */
/*
 * The machine's side of container networking, at boot: the keel0 bridge with the containers'
 * gateway address, IP forwarding, the uplink and the masquerade rule.
 *
 * The uplink is the first real ethernet interface. keel.ip=ADDR/LEN,GATEWAY configures it
 * over netlink at once; otherwise BusyBox udhcpc does DHCP, as a child of PID 1 that runs in
 * the foreground for the whole uptime (it renews the lease) and is restarted if it dies. PID 1
 * never waits for it: a lease that takes a minute, or never comes (LinuxKit#2226), delays
 * nothing. PID 1 learns the address from a NETLINK_ROUTE socket subscribed to IPv4 address
 * events in its epoll loop, then re-syncs the nft table (the hairpin rules name the uplink's
 * address) and the containers' resolv.conf (udhcpc wrote the machine's).
 */
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "log.h"
#include "loop.h"
#include "net.h"
#include "network.h"
#include "unit-net.h"
#include "util.h"

#define UDHCPC_RESTART_USEC (5 * USEC_PER_SEC)

static struct {
        Manager *manager;
        pid_t udhcpc;
        bool stopping;
        LoopTimer restart;
        LoopSource events; /* RTMGRP_IPV4_IFADDR */
} net = { .events = { .fd = -1 } };

/* udhcpc -f: in the foreground, renewing its lease for ever; the script does the rest. Its own
 * chatter goes to /dev/null: PID 1 logs the address it gets. */
static void udhcpc_start(void) {
        const char *ifname = net.manager->net.uplink;
        pid_t pid = fork();
        if (pid < 0) {
                log_error_errno(errno, "fork udhcpc: %m; %s stays without an address", ifname);
                return;
        }
        if (pid == 0) {
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL); /* PID 1 blocks everything */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                setsid();
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null >= 0) {
                        dup2(null, 0);
                        dup2(null, 1);
                        dup2(null, 2);
                }
                execl("/bin/busybox", "udhcpc", "-f", "-i", ifname, "-s", NETWORK_UDHCPC_SCRIPT,
                      (char *) NULL);
                _exit(127);
        }
        net.udhcpc = pid;
        log_info("uplink %s: DHCP (udhcpc, pid %d)", ifname, pid);
}

static void udhcpc_restart(LoopTimer *t) {
        (void) t;
        if (!net.stopping)
                udhcpc_start();
}

bool network_child_exited(const siginfo_t *si) {
        if (net.udhcpc <= 0 || si->si_pid != net.udhcpc)
                return false;
        net.udhcpc = 0;
        if (net.stopping)
                return true;
        char t[32];
        log_warning("udhcpc on %s %s %d; restarting it in %s", net.manager->net.uplink,
                    si->si_code == CLD_EXITED ? "exited with code" : "was killed by signal", si->si_status,
                    format_timespan(t, sizeof t, UDHCPC_RESTART_USEC));
        loop_timer_arm(&net.restart, now_usec() + UDHCPC_RESTART_USEC);
        return true;
}

void network_shutdown(void) {
        net.stopping = true;
        loop_timer_disarm(&net.restart);
}

/* An IPv4 address came or went somewhere: look at the uplink's, and follow it if it moved. */
static void on_address_event(LoopSource *s, uint32_t events) {
        (void) events;
        char buf[8192];
        while (recv(s->fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
                ; /* the content does not matter: the uplink is asked directly */
        Manager *m = net.manager;
        NetCidr c = { 0 };
        if (net_link_ipv4(m->net.sk, m->net.uplink, &c) < 0)
                c.addr = 0;
        if (c.addr == m->net.uplink_addr)
                return;
        m->net.uplink_addr = c.addr;
        char a[NET_ADDR_STRLEN];
        if (c.addr)
                log_info("uplink %s: %s/%u", m->net.uplink, net_addr_to_string(c.addr, a), c.prefix);
        else
                log_warning("uplink %s: lost its address", m->net.uplink);
        (void) manager_net_sync(m);
        manager_net_refresh_files(m, true);
}

static int watch_addresses(void) {
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
        if (fd < 0)
                return negative_errno();
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_IPV4_IFADDR };
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        net.events = (LoopSource){ .fd = fd, .handler = on_address_event };
        return loop_add(&net.events, EPOLLIN);
}

static void uplink_boot(Manager *m, const KeelOptions *o) {
        ManagerNet *n = &m->net;
        char err[300];
        int r = net_uplink_find(n->sk, n->uplink, sizeof n->uplink);
        if (r < 0) {
                n->uplink[0] = 0;
                log_info("no ethernet interface: containers reach each other and the machine, not beyond");
                return;
        }
        if (net_link_mtu(n->sk, n->uplink, &n->mtu) < 0)
                n->mtu = 0;
        if (o->uplink_static) {
                r = net_uplink_static(n->sk, n->uplink, &o->uplink_addr, o->uplink_gateway, err, sizeof err);
                char a[NET_ADDR_STRLEN];
                if (r < 0)
                        log_error("uplink %s: %s", n->uplink, err);
                else {
                        n->uplink_addr = o->uplink_addr.addr;
                        log_info("uplink %s: %s/%u (keel.ip=)", n->uplink,
                                 net_addr_to_string(n->uplink_addr, a), o->uplink_addr.prefix);
                }
                return;
        }
        r = watch_addresses();
        if (r < 0)
                log_warning_errno(r, "cannot watch %s's address: %m; published ports will not hairpin",
                                  n->uplink);
        udhcpc_start();
}

void network_boot(Manager *m, const KeelOptions *o, bool in_container) {
        ManagerNet *n = &m->net;
        char err[300];
        net.manager = m;
        net.restart = (LoopTimer){ .handler = udhcpc_restart };
        n->bridge = o->bridge;
        int r = net_socket_open(&n->sk);
        if (r < 0) {
                snprintf(n->why, sizeof n->why, "netlink socket: %s", strerror(-r));
                log_error("network: %s; Network=bridge units will not start", n->why);
                return;
        }
        r = net_bridge_ensure(n->sk, n->bridge_name, &n->bridge, err, sizeof err);
        if (r < 0) {
                snprintf(n->why, sizeof n->why, "%.200s", err);
                log_error("network: %s; Network=bridge units will not start", err);
                return;
        }
        if ((r = net_ip_forward(true)) < 0)
                log_warning_errno(
                        r, "network: cannot turn IP forwarding on: %m; containers stay on the bridge");
        n->enabled = true;
        char a[NET_ADDR_STRLEN];
        log_info("bridge %s: %s/%u", n->bridge_name, net_addr_to_string(n->bridge.addr, a),
                 n->bridge.prefix);
        if (!in_container)
                uplink_boot(m, o);
        (void) manager_net_sync(m); /* the masquerade now; published ports as units start */
}
