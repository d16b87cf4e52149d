/* SPDX-License-Identifier: MIT */
/*
 * Container networking against the real kernel. The whole test runs in a network and mount
 * namespace of its own (unshared first thing), so it never touches the machine's network.
 * Namespaces for "containers" and for an "outside" host are held by small child processes;
 * servers and clients run in forked children that setns() into them, so every check is real
 * traffic: TCP and UDP over the bridge, DNAT from outside, hairpin, masquerade, isolation.
 *
 *   outside ns: ext0 10.99.0.2/24 ── up0 10.99.0.1/24 (test's ns, the "uplink")
 *                                    keel0 10.88.0.1/16 ── keel-* ── eth0 in a, b, c…
 *
 * The atomic-write tests for /etc/hosts and resolv.conf run without root; the rest needs
 * root and is skipped, never passed, without it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "net.h"
#include "tap.h"
#include "util.h"

static NetCidr C(const char *s) {
        NetCidr c = {};
        (void) net_parse_cidr(s, &c, NULL, 0);
        return c;
}
static uint32_t A(const char *s) {
        uint32_t a = 0;
        (void) net_parse_addr(s, &a, NULL, 0);
        return a;
}

/* ---- hosts and resolv.conf (no root needed) ---- */

static bool file_is(const char *path, const char *want) {
        _cleanup_free_ char *got = NULL;
        if (read_file(path, 1 << 16, &got, NULL) < 0)
                return false;
        if (!streq(got, want))
                printf("# %s:\n# got:  %s\n# want: %s\n", path, got, want);
        return streq(got, want);
}

static size_t count_entries(const char *dir) {
        DIR *d = opendir(dir);
        size_t n = 0;
        if (!d)
                return 0;
        for (struct dirent *e; (e = readdir(d));)
                if (!streq(e->d_name, ".") && !streq(e->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

static void test_files(void) {
        char dir[] = "/tmp/keel-test-net.XXXXXX", hosts[64], resolv[64], machine[64];
        NetHost h[3] = { { "web", A("10.88.0.2") }, { "db", A("10.88.0.3") } };
        static const char head[] =
                "# Written by keel: every bridged unit, then AddHost= entries. Rewritten on "
                "change.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
        char want[512];
        struct stat st;

        if (!mkdtemp(dir)) {
                CHECK(!"mkdtemp");
                return;
        }
        snprintf(hosts, sizeof hosts, "%s/hosts", dir);
        snprintf(resolv, sizeof resolv, "%s/resolv.conf", dir);
        snprintf(machine, sizeof machine, "%s/machine", dir);

        CHECK(net_hosts_write(hosts, h, 2) == 0);
        snprintf(want, sizeof want, "%s10.88.0.2\tweb\n10.88.0.3\tdb\n", head);
        CHECK(file_is(hosts, want));
        CHECK(stat(hosts, &st) == 0 && (st.st_mode & 07777) == 0644);

        /* A reader that opened the old file keeps reading it whole; a new open sees the new one. */
        int old = open(hosts, O_RDONLY | O_CLOEXEC);
        h[2] = (NetHost){ "api", A("10.88.0.4") };
        CHECK(net_hosts_write(hosts, h, 3) == 0);
        char buf[512] = {};
        CHECK(old >= 0 && read(old, buf, sizeof buf - 1) > 0 && strstr(buf, "db\n") && !strstr(buf, "api"));
        safe_close(old);
        snprintf(want, sizeof want, "%s10.88.0.2\tweb\n10.88.0.3\tdb\n10.88.0.4\tapi\n", head);
        CHECK(file_is(hosts, want));
        CHECK(count_entries(dir) == 1); /* no temporary file left */

        /* A name that would break the file's syntax is refused, and the file is left alone. */
        NetHost bad = { "two words", A("10.88.0.9") };
        CHECK(net_hosts_write(hosts, &bad, 1) == -EINVAL);
        CHECK(file_is(hosts, want));
        CHECK(net_hosts_write("/nonexistent-dir/hosts", h, 1) == -ENOENT);

        /* Readers racing 300 rewrites only ever see complete files. */
        pid_t pid = fork();
        if (pid == 0) {
                for (int i = 0; i < 300; i++)
                        if (net_hosts_write(hosts, h, (size_t) (i % 3) + 1) < 0)
                                _exit(1);
                _exit(0);
        }
        bool whole = true;
        for (int i = 0; i < 2000 && whole; i++) {
                _cleanup_free_ char *got = NULL;
                if (read_file(hosts, 1 << 16, &got, NULL) < 0)
                        whole = false;
                else
                        whole = strncmp(got, head, strlen(head)) == 0 && strstr(got, "\tweb\n") &&
                                got[strlen(got) - 1] == '\n';
        }
        int status;
        CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK(whole);

        /* resolv.conf: DNS= wins; otherwise the machine's, without loopback or IPv6 servers. */
        uint32_t dns[] = { A("1.1.1.1"), A("9.9.9.9") };
        CHECK(net_resolv_write(resolv, dns, 2, machine) == 0);
        CHECK(file_is(resolv, "# Written by keel from DNS=.\nnameserver 1.1.1.1\nnameserver 9.9.9.9\n"));
        FILE *f = fopen(machine, "we");
        if (f) {
                fputs("# comment\nnameserver 127.0.0.53\nnameserver 192.168.1.1\nsearch lan\n"
                      "options edns0 trust-ad\nnameserver ::1\nnameserver fd00::1\n",
                      f);
                fclose(f);
        }
        CHECK(net_resolv_write(resolv, NULL, 0, machine) == 0);
        CHECK(file_is(resolv, "# Written by keel from the machine's resolv.conf.\nnameserver 192.168.1.1\n"
                              "search lan\noptions edns0 trust-ad\n"));
        CHECK(net_resolv_write(resolv, NULL, 0, "/nonexistent") == 0);
        CHECK(file_is(resolv, "# Written by keel from the machine's resolv.conf.\n"));

        unlink(hosts);
        unlink(resolv);
        unlink(machine);
        rmdir(dir);
}

/* ---- namespaces and processes ---- */

/* For children reporting to a pipe: a failed write shows up as a missing answer. */
static void wr(int fd, const void *buf, size_t len) {
        ssize_t k = write(fd, buf, len);
        (void) k;
}

typedef struct Ns {
        pid_t pid;
        int fd; /* /proc/PID/ns/net */
} Ns;

/* A network namespace, held by a child that sleeps in it until killed. */
static int ns_new(Ns *ns) {
        int p[2];
        char c;
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (unshare(CLONE_NEWNET) < 0)
                        _exit(1);
                wr(p[1], "x", 1);
                for (;;)
                        pause();
        }
        safe_close(p[1]);
        ssize_t k = read(p[0], &c, 1);
        safe_close(p[0]);
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/net", pid);
        ns->pid = pid;
        ns->fd = k == 1 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
        return ns->fd < 0 ? -EIO : 0;
}

static void ns_free(Ns *ns) {
        if (ns->pid > 0) {
                kill(ns->pid, SIGKILL);
                waitpid(ns->pid, NULL, 0);
        }
        safe_close(ns->fd);
        *ns = (Ns){ .fd = -1 };
}

/* Runs fn in a child inside netns; what fn writes into out (up to len) comes back in out.
 * Returns fn's return value (0..255), or -1 if the child died. */
static int run_in(int netns, int (*fn)(const void *arg, char *out, size_t len), const void *arg, char *out,
                  size_t len) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                char buf[512] = {};
                safe_close(p[0]);
                if (setns(netns, CLONE_NEWNET) < 0)
                        _exit(99);
                int r = fn(arg, buf, sizeof buf);
                wr(p[1], buf, strlen(buf));
                _exit(r);
        }
        safe_close(p[1]);
        size_t got = 0;
        for (ssize_t k; got + 1 < len && (k = read(p[0], out + got, len - 1 - got)) > 0;)
                got += (size_t) k;
        if (len > 0)
                out[got] = '\0';
        safe_close(p[0]);
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
                return -1;
        return WEXITSTATUS(status);
}

/* A server in netns that answers each TCP connection or UDP datagram with "TAG PEER\n". */
static pid_t serve_in(int netns, const char *tag, int type, uint16_t port) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                int one = 1;
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
                int s = setns(netns, CLONE_NEWNET) < 0 ? -1 : socket(AF_INET, type | SOCK_CLOEXEC, 0);
                if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
                    bind(s, (struct sockaddr *) &sa, sizeof sa) < 0 ||
                    (type == SOCK_STREAM && listen(s, 16) < 0))
                        _exit(1);
                wr(p[1], "x", 1);
                for (;;) {
                        struct sockaddr_in peer;
                        socklen_t pl = sizeof peer;
                        char reply[64], a[NET_ADDR_STRLEN], dgram[16];
                        if (type == SOCK_STREAM) {
                                int c = accept4(s, (struct sockaddr *) &peer, &pl, SOCK_CLOEXEC);
                                if (c < 0)
                                        continue;
                                int n = snprintf(reply, sizeof reply, "%s %s\n", tag,
                                                 net_addr_to_string(ntohl(peer.sin_addr.s_addr), a));
                                wr(c, reply, (size_t) n);
                                close(c);
                        } else {
                                if (recvfrom(s, dgram, sizeof dgram, 0, (struct sockaddr *) &peer, &pl) < 0)
                                        continue;
                                int n = snprintf(reply, sizeof reply, "%s %s\n", tag,
                                                 net_addr_to_string(ntohl(peer.sin_addr.s_addr), a));
                                (void) sendto(s, reply, (size_t) n, 0, (struct sockaddr *) &peer, pl);
                        }
                }
        }
        safe_close(p[1]);
        char c;
        ssize_t k = read(p[0], &c, 1);
        safe_close(p[0]);
        return k == 1 ? pid : -1;
}

static void kill_wait(pid_t pid) {
        if (pid > 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
        }
}

typedef struct Target {
        uint32_t addr;
        uint16_t port;
        int type;
        int timeout_ms;
} Target;

static int do_talk(const void *arg, char *out, size_t len) {
        const Target *t = arg;
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_port = htons(t->port),
                                  .sin_addr.s_addr = htonl(t->addr) };
        struct timeval tv = { .tv_sec = t->timeout_ms / 1000, .tv_usec = (t->timeout_ms % 1000) * 1000 };
        int s = socket(AF_INET, t->type | SOCK_CLOEXEC, 0);
        if (s < 0 || setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
            setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
                return 2;
        if (connect(s, (struct sockaddr *) &sa, sizeof sa) < 0) {
                snprintf(out, len, "connect: %m");
                return 1;
        }
        if (t->type == SOCK_DGRAM && send(s, "?", 1, 0) != 1)
                return 1;
        ssize_t k = recv(s, out, len - 1, 0);
        if (k <= 0) {
                snprintf(out, len, "recv: %m");
                return 1;
        }
        out[k - (out[k - 1] == '\n')] = '\0';
        return 0;
}

/* "TAG PEER" from the server at addr:port, reached from netns; or the error. */
static const char *talk(int netns, uint32_t addr, uint16_t port, int type, char *out, size_t len) {
        Target t = { addr, port, type, 2000 };
        if (run_in(netns, do_talk, &t, out, len) < 0)
                snprintf(out, len, "(client died)");
        return out;
}

static bool unreachable(int netns, uint32_t addr, uint16_t port) {
        char out[128];
        Target t = { addr, port, SOCK_STREAM, 300 };
        return run_in(netns, do_talk, &t, out, sizeof out) == 1;
}

typedef struct Setup {
        NetCidr addr;
        uint32_t gw;
} Setup;

/* What a spawned child does: configure its own side, with a socket of its own. */
static int do_setup(const void *arg, char *out, size_t len) {
        const Setup *s = arg;
        return net_container_setup(NULL, NET_CONTAINER_IF, &s->addr, s->gw, out, len) < 0 ? 1 : 0;
}

/* "ADDR/PREFIX MTU" of eth0, seen from inside. */
static int do_show(const void *arg, char *out, size_t len) {
        _cleanup_net_socket_ struct nl_sock *sk = NULL;
        NetCidr c;
        unsigned mtu;
        char a[NET_ADDR_STRLEN];
        int r = net_socket_open(&sk);
        if (r >= 0)
                r = net_link_ipv4(sk, NET_CONTAINER_IF, &c);
        if (r >= 0)
                r = net_link_mtu(sk, NET_CONTAINER_IF, &mtu);
        if (r < 0) {
                snprintf(out, len, "%s", strerror(-r));
                return 1;
        }
        snprintf(out, len, "%s/%u %u", net_addr_to_string(c.addr, a), c.prefix, mtu);
        return 0;
}

static bool link_exists(const char *name) {
        char p[128];
        snprintf(p, sizeof p, "/sys/class/net/%s", name);
        return access(p, F_OK) == 0;
}

static bool master_is(const char *name, const char *bridge) {
        char p[128], t[PATH_MAX];
        snprintf(p, sizeof p, "/sys/class/net/%s/master", name);
        ssize_t k = readlink(p, t, sizeof t - 1);
        if (k < 0)
                return false;
        t[k] = '\0';
        const char *base = strrchr(t, '/');
        return base && streq(base + 1, bridge);
}

/* An uplink stand-in: a plain veth pair, one end here, the other in ns (a test-only helper, so
 * libnl directly). */
static int veth_plain(struct nl_sock *sk, const char *name, const char *peer_name, int netns) {
        struct rtnl_link *link = rtnl_link_veth_alloc();
        if (!link)
                return -ENOMEM;
        struct rtnl_link *peer = rtnl_link_veth_get_peer(link);
        rtnl_link_set_name(link, name);
        rtnl_link_set_name(peer, peer_name);
        rtnl_link_set_ns_fd(peer, netns);
        int r = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
        rtnl_link_put(peer);
        rtnl_link_put(link);
        return r < 0 ? -EIO : 0;
}

static bool list_has(char **l, const char *needle) {
        for (char **p = l; p && *p; p++)
                if (strstr(*p, needle))
                        return true;
        return false;
}

static bool have_nft(void) {
        return access("/usr/sbin/nft", X_OK) == 0 && system("nft list tables >/dev/null 2>&1") == 0;
}

static ino_t netns_ino(void) {
        struct stat st;
        return stat("/proc/self/ns/net", &st) == 0 ? st.st_ino : 0;
}

/* ---- the bridge ---- */

static void test_bridge(struct nl_sock *sk) {
        char err[256];
        NetCidr br = C(NET_SUBNET_DEFAULT), other = C("10.77.0.1/16"), got;

        CHECK(net_bridge_ensure(sk, NET_BRIDGE_DEFAULT, &br, err, sizeof err) == 0);
        CHECK(link_exists("keel0/bridge"));
        CHECK(net_link_ipv4(sk, "keel0", &got) == 0 && got.addr == br.addr && got.prefix == 16);
        CHECK(net_bridge_ensure(sk, NET_BRIDGE_DEFAULT, &br, err, sizeof err) == 0); /* idempotent */

        /* A new setting replaces the old address rather than adding to it. */
        CHECK(net_bridge_ensure(sk, NET_BRIDGE_DEFAULT, &other, err, sizeof err) == 0);
        CHECK(net_link_ipv4(sk, "keel0", &got) == 0 && got.addr == other.addr);
        CHECK(net_bridge_ensure(sk, NET_BRIDGE_DEFAULT, &br, err, sizeof err) == 0);
        CHECK(net_link_ipv4(sk, "keel0", &got) == 0 && got.addr == br.addr);

        _cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        CHECK(net_veth_create(sk, "nb0", "notbr", "keel0", self, 0, err, sizeof err) == 0);
        CHECK(master_is("nb0", "keel0") && link_exists("notbr"));
        CHECK(net_bridge_ensure(sk, "notbr", &br, err, sizeof err) == -EEXIST);
        CHECK_STR(err, "notbr exists and is not a bridge (it is a veth link)");
        CHECK(net_veth_delete(sk, "nb0") == 0);
        CHECK(!link_exists("nb0") && !link_exists("notbr")); /* one end takes the other along */
        CHECK(net_veth_delete(sk, "nb0") == 0);              /* already gone: fine */

        CHECK(net_veth_create(sk, "x0", "x1", "nope", self, 0, err, sizeof err) == -ENODEV);
        CHECK_STR(err, "bridge nope: No such device");
        CHECK(net_veth_create(sk, "a-name-far-too-long", "x1", "keel0", self, 0, err, sizeof err) ==
              -EINVAL);

        CHECK(net_ip_forward(true) == 0);
        _cleanup_free_ char *fw = NULL;
        CHECK(read_file("/proc/sys/net/ipv4/ip_forward", 16, &fw, NULL) == 0 && fw[0] == '1');
}

/* ---- containers, NAT, teardown ---- */

/* Two containers a and b on the bridge, and an outside host beyond the uplink up0. */
typedef struct Lab {
        Ns a, b, outside;
        uint32_t addr_a, addr_b;
        char host_a[NET_IFNAME_MAX], host_b[NET_IFNAME_MAX];
        char ab[NET_ADDR_STRLEN], bb[NET_ADDR_STRLEN];
        NetCidr br, up, ext;
        pid_t servers[3];
} Lab;

static void lab_free(Lab *l) {
        for (size_t i = 0; i < ELEMENTSOF(l->servers); i++)
                kill_wait(l->servers[i]);
        ns_free(&l->a);
        ns_free(&l->b);
        ns_free(&l->outside);
}

static bool lab_containers(struct nl_sock *sk, Lab *l) {
        char err[256], out[512], want[128];
        NetHost taken[2] = { { "a", 0 }, { "b", 0 } };

        taken[0].addr = l->addr_a = ipam_derive(&l->br, "a", NULL, 0);
        taken[1].addr = l->addr_b = ipam_derive(&l->br, "b", taken, 1);
        net_veth_name(l->addr_a, l->host_a);
        net_veth_name(l->addr_b, l->host_b);
        net_addr_to_string(l->addr_a, l->ab);
        net_addr_to_string(l->addr_b, l->bb);

        CHECK(net_veth_create(sk, l->host_a, NET_CONTAINER_IF, "keel0", l->a.fd, 1400, err, sizeof err) ==
              0);
        CHECK(net_veth_create(sk, l->host_b, NET_CONTAINER_IF, "keel0", l->b.fd, 1400, err, sizeof err) ==
              0);
        CHECK(master_is(l->host_a, "keel0") && master_is(l->host_b, "keel0"));
        CHECK(!link_exists(NET_CONTAINER_IF)); /* the peers were born in the containers */

        /* a configures itself, as a spawned child would; b is configured from outside. */
        Setup sa = { { l->addr_a, l->br.prefix }, l->br.addr };
        CHECK(run_in(l->a.fd, do_setup, &sa, out, sizeof out) == 0);
        ino_t before = netns_ino();
        _cleanup_net_socket_ struct nl_sock *skb = NULL;
        CHECK(net_socket_open_in(l->b.fd, &skb) == 0);
        CHECK(netns_ino() == before); /* back in our own namespace */
        if (!skb)
                return false;
        NetCidr cb = { l->addr_b, l->br.prefix };
        CHECK(net_container_setup(skb, NET_CONTAINER_IF, &cb, l->br.addr, err, sizeof err) == 0);
        CHECK(net_container_setup(skb, "eth9", &cb, l->br.addr, err, sizeof err) == -ENODEV);
        CHECK_STR(err, "eth9: No such device");
        snprintf(want, sizeof want, "%s/16 1400", l->bb);
        CHECK(run_in(l->b.fd, do_show, NULL, out, sizeof out) == 0);
        CHECK_STR(out, want);

        /* Over the bridge, both protocols. */
        l->servers[0] = serve_in(l->a.fd, "a", SOCK_STREAM, 80);
        l->servers[1] = serve_in(l->a.fd, "a", SOCK_DGRAM, 80);
        CHECK(l->servers[0] > 0 && l->servers[1] > 0);
        snprintf(want, sizeof want, "a %s", l->bb);
        CHECK_STR(talk(l->b.fd, l->addr_a, 80, SOCK_STREAM, out, sizeof out), want);
        CHECK_STR(talk(l->b.fd, l->addr_a, 80, SOCK_DGRAM, out, sizeof out), want);
        return true;
}

/* The uplink and a host beyond it, whose default route points back at us. */
static bool lab_outside(struct nl_sock *sk, Lab *l) {
        char err[256];
        l->up = C("10.99.0.1/24");
        l->ext = C("10.99.0.2/24");
        CHECK(veth_plain(sk, "up0", "ext0", l->outside.fd) == 0);
        CHECK(net_uplink_static(sk, "up0", &l->up, 0, err, sizeof err) == 0);
        _cleanup_net_socket_ struct nl_sock *sko = NULL;
        CHECK(net_socket_open_in(l->outside.fd, &sko) == 0);
        if (!sko)
                return false;
        CHECK(net_container_setup(sko, "ext0", &l->ext, l->up.addr, err, sizeof err) == 0);
        l->servers[2] = serve_in(l->outside.fd, "out", SOCK_STREAM, 9000);
        CHECK(l->servers[2] > 0);
        return l->servers[2] > 0;
}

static void test_nat(Lab *l) {
        char err[256], out[512], want[128];
        bool nft = have_nft();
        NetPort ports[2];

        if (nft)
                CHECK(system("nft add table ip other && nft add chain ip other c") == 0);
        net_parse_publish("8080:80", &ports[0], NULL, 0);
        net_parse_publish("8080:80/udp", &ports[1], NULL, 0);
        ports[0].container_addr = ports[1].container_addr = l->addr_a;
        ports[0].owner = ports[1].owner = "a";
        NftConfig cfg = { .bridge_net = l->br,
                          .bridge = "keel0",
                          .uplink = "up0",
                          .uplink_addr = l->up.addr,
                          .ports = ports,
                          .n_ports = 2 };
        int r = nft_sync(&cfg, err, sizeof err);
        CHECK(r == 0);
        if (r < 0)
                printf("# %s\n", err);
        CHECK(nft_sync(&cfg, err, sizeof err) == 0); /* again: same table */

        _cleanup_strv_free_ char **rules = NULL;
        CHECK(nft_list(&rules) == 0);
        for (char **p = rules; p && *p; p++)
                printf("# %s\n", *p);
        /* 2 postrouting + 4 forward + per port: uplink, 2 hairpin, 2 output. */
        CHECK(strv_length(rules) == 2 + 4 + 2 * 5);
        CHECK(list_has(rules, "postrouting: masquerade 10.88.0.0/16 out of up0"));
        snprintf(want, sizeof want, "prerouting: publish tcp 8080 -> %s:80 (a) arriving on up0", l->ab);
        CHECK(list_has(rules, want));
        if (nft) {
                fflush(stdout);
                CHECK(system("nft list table ip keel | sed 's/^/# /'") == 0);
                CHECK(system("nft list table ip other >/dev/null") == 0);
        }

        /* DNAT from outside keeps the client's address; TCP and UDP. */
        CHECK_STR(talk(l->outside.fd, l->up.addr, 8080, SOCK_STREAM, out, sizeof out), "a 10.99.0.2");
        CHECK_STR(talk(l->outside.fd, l->up.addr, 8080, SOCK_DGRAM, out, sizeof out), "a 10.99.0.2");
        /* Hairpin: b reaches a's published port through either machine address, masqueraded. */
        CHECK_STR(talk(l->b.fd, l->up.addr, 8080, SOCK_STREAM, out, sizeof out), "a 10.88.0.1");
        CHECK_STR(talk(l->b.fd, l->br.addr, 8080, SOCK_STREAM, out, sizeof out), "a 10.88.0.1");
        /* From the machine itself (output chain). */
        _cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        CHECK_STR(talk(self, l->up.addr, 8080, SOCK_STREAM, out, sizeof out), "a 10.99.0.1");
        CHECK_STR(talk(self, l->br.addr, 8080, SOCK_STREAM, out, sizeof out), "a 10.88.0.1");
        /* Egress masquerade: the outside host sees the uplink's address. */
        CHECK_STR(talk(l->b.fd, l->ext.addr, 9000, SOCK_STREAM, out, sizeof out), "out 10.99.0.1");
        /* Isolation: nobody outside reaches a container but through a published port. */
        CHECK(unreachable(l->outside.fd, l->addr_a, 80));

        /* Unpublish: the same call with the current list. */
        cfg.n_ports = 0;
        CHECK(nft_sync(&cfg, err, sizeof err) == 0);
        strv_free(TAKE_PTR(rules));
        CHECK(nft_list(&rules) == 0);
        CHECK(strv_length(rules) == 6 && !list_has(rules, ": publish "));
        CHECK(unreachable(l->outside.fd, l->up.addr, 8080));
        CHECK_STR(talk(l->b.fd, l->ext.addr, 9000, SOCK_STREAM, out, sizeof out), "out 10.99.0.1");

        /* Too many ports is a message, not a truncated table. */
        cfg.n_ports = NET_PORTS_MAX + 1;
        CHECK(nft_sync(&cfg, err, sizeof err) == -E2BIG);
        CHECK_STR(err, "nf_tables: 257 published ports, at most 256");

        CHECK(nft_remove(err, sizeof err) == 0);
        strv_free(TAKE_PTR(rules));
        CHECK(nft_list(&rules) == -ENOENT);
        CHECK(nft_remove(err, sizeof err) == 0); /* idempotent */
        if (nft)                                 /* never touched */
                CHECK(system("nft list table ip other >/dev/null && nft delete table ip other") == 0);
}

static void test_teardown(struct nl_sock *sk, Lab *l) {
        char err[256], out[512];

        /* The host end takes the container's along. */
        CHECK(net_veth_delete(sk, l->host_a) == 0 && net_veth_delete(sk, l->host_b) == 0);
        CHECK(!link_exists(l->host_a) && !link_exists(l->host_b));
        CHECK(run_in(l->b.fd, do_show, NULL, out, sizeof out) == 1);
        CHECK_STR(out, "No such device");

        /* A leftover host end (its namespace still being torn down) is replaced. */
        CHECK(net_veth_create(sk, l->host_a, NET_CONTAINER_IF, "keel0", l->a.fd, 0, err, sizeof err) == 0);
        CHECK(net_veth_create(sk, l->host_a, NET_CONTAINER_IF, "keel0", l->b.fd, 0, err, sizeof err) == 0);
        CHECK(run_in(l->a.fd, do_show, NULL, out, sizeof out) == 1);
        /* ... but an existing name inside the container is an error. */
        CHECK(net_veth_create(sk, l->host_b, NET_CONTAINER_IF, "keel0", l->b.fd, 0, err, sizeof err) ==
              -EEXIST);
        CHECK(net_veth_delete(sk, l->host_a) == 0);
        CHECK(net_link_delete(sk, "up0") == 0 && !link_exists("up0"));
}

static void test_containers(struct nl_sock *sk) {
        Lab l = { .a.fd = -1,
                  .b.fd = -1,
                  .outside.fd = -1,
                  .br = C(NET_SUBNET_DEFAULT),
                  .servers = { -1, -1, -1 } };

        if (ns_new(&l.a) < 0 || ns_new(&l.b) < 0 || ns_new(&l.outside) < 0)
                CHECK(!"namespaces");
        else if (lab_containers(sk, &l) && lab_outside(sk, &l)) {
                test_nat(&l);
                test_teardown(sk, &l);
        }
        lab_free(&l);
}

static size_t count_links(struct nl_sock *sk) {
        struct nl_cache *cache = NULL;
        if (rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache) < 0)
                return 0;
        size_t n = (size_t) nl_cache_nitems(cache);
        nl_cache_free(cache);
        return n;
}

/* Restart after restart: nothing may pile up, in the kernel or in our process. */
static void test_leaks(struct nl_sock *sk) {
        char err[256];
        NetCidr br = C(NET_SUBNET_DEFAULT);
        size_t links = count_links(sk), fds = count_entries("/proc/self/fd");
        bool ok = true;

        for (int i = 0; i < 50 && ok; i++) {
                Ns c = { .fd = -1 };
                char host_if[NET_IFNAME_MAX];
                NetHost me = { "leak", 0 };
                ok = ns_new(&c) == 0;
                me.addr = ipam_derive(&br, "leak", NULL, 0);
                net_veth_name(me.addr, host_if);
                ok = ok &&
                     net_veth_create(sk, host_if, NET_CONTAINER_IF, "keel0", c.fd, 0, err, sizeof err) == 0;
                struct nl_sock *in = NULL;
                ok = ok && net_socket_open_in(c.fd, &in) == 0;
                NetCidr addr = { me.addr, br.prefix };
                ok = ok && net_container_setup(in, NET_CONTAINER_IF, &addr, br.addr, err, sizeof err) == 0;
                net_socket_free(in);
                NetPort p;
                net_parse_publish("8080:80", &p, NULL, 0);
                p.container_addr = me.addr;
                NftConfig cfg = { .bridge_net = br, .bridge = "keel0", .ports = &p, .n_ports = 1 };
                ok = ok && nft_sync(&cfg, err, sizeof err) == 0;
                ok = ok && net_veth_delete(sk, host_if) == 0 && !link_exists(host_if);
                ns_free(&c);
                if (!ok)
                        printf("# iteration %d: %s\n", i, err);
        }
        CHECK(ok);
        CHECK(nft_remove(err, sizeof err) == 0);
        CHECK(count_links(sk) == links);
        CHECK(count_entries("/proc/self/fd") == fds);
}

int main(void) {
        test_files();

        if (geteuid() != 0) {
                printf("ok %d # SKIP kernel tests need root\n", ++tap_n);
                TAP_DONE();
        }
        /* Our own network and mount namespaces: nothing below touches the machine's network,
         * and a fresh sysfs shows this namespace's links under /sys/class/net. */
        if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("sysfs", "/sys", "sysfs", 0, NULL) < 0) {
                printf("ok %d # SKIP no private network namespace: %m\n", ++tap_n);
                TAP_DONE();
        }

        _cleanup_net_socket_ struct nl_sock *sk = NULL;
        CHECK(net_socket_open(&sk) == 0);
        if (!sk)
                TAP_DONE();
        NetCidr lo = C("127.0.0.1/8");
        char err[256];
        CHECK(net_uplink_static(sk, "lo", &lo, 0, err, sizeof err) == 0);

        char ifname[NET_IFNAME_MAX];
        CHECK(net_uplink_find(sk, ifname, sizeof ifname) == -ENODEV); /* only lo here */

        test_bridge(sk);
        test_containers(sk);
        test_leaks(sk);

        CHECK(net_link_delete(sk, NET_BRIDGE_DEFAULT) == 0 && !link_exists(NET_BRIDGE_DEFAULT));
        TAP_DONE();
}
