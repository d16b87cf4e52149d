/* SPDX-License-Identifier: MIT */
/* The pure half of container networking (runtime/ipam.c): parsers, checks and their messages,
 * and address derivation. */
#include <netinet/in.h>
#include <stdio.h>

#include "net.h"
#include "tap.h"

static uint32_t A(const char *s) {
        uint32_t a = 0;
        if (net_parse_addr(s, &a, NULL, 0) < 0)
                printf("# bad address in test: %s\n", s);
        return a;
}

static NetCidr C(const char *s) {
        NetCidr c = {};
        if (net_parse_cidr(s, &c, NULL, 0) < 0)
                printf("# bad cidr in test: %s\n", s);
        return c;
}

static void test_addr(void) {
        char err[256], buf[NET_ADDR_STRLEN];
        uint32_t a;

        CHECK(net_parse_addr("10.88.0.1", &a, err, sizeof err) == 0 && a == 0x0a580001);
        CHECK_STR(net_addr_to_string(0x0a580001, buf), "10.88.0.1");
        CHECK_STR(net_addr_to_string(0xffffffff, buf), "255.255.255.255");
        CHECK(net_parse_addr("10.1", &a, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "'10.1' is not an IPv4 address (a.b.c.d)");
        CHECK(net_parse_addr("010.0.0.1", &a, err, sizeof err) == -EINVAL);
        CHECK(net_parse_addr("256.0.0.1", &a, err, sizeof err) == -EINVAL);
        CHECK(net_parse_addr("", &a, err, sizeof err) == -EINVAL);
        CHECK(net_parse_addr("fd00::1", &a, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "'fd00::1': IPv6 addresses are not supported yet");
}

static void test_cidr(void) {
        char err[256];
        NetCidr c;

        CHECK(net_parse_cidr("10.88.0.1/16", &c, err, sizeof err) == 0);
        CHECK(c.addr == 0x0a580001 && c.prefix == 16);
        CHECK(net_network(&c) == 0x0a580000 && net_broadcast(&c) == 0x0a58ffff);
        CHECK(net_contains(&c, 0x0a58abcd) && !net_contains(&c, 0x0a590001));
        CHECK(net_parse_cidr("0.0.0.0/0", &c, err, sizeof err) == 0 && net_mask(c.prefix) == 0);
        CHECK(net_parse_cidr("1.2.3.4/32", &c, err, sizeof err) == 0 && net_broadcast(&c) == 0x01020304);

        CHECK(net_parse_cidr("10.88.0.1", &c, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "'10.88.0.1' has no prefix length (ADDR/LEN, e.g. 10.88.0.1/16)");
        CHECK(net_parse_cidr("10.88.0.1/33", &c, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "'10.88.0.1/33': prefix length '33' is not a number from 0 to 32");
        CHECK(net_parse_cidr("10.88.0.1/", &c, err, sizeof err) == -EINVAL);
        CHECK(net_parse_cidr("10.88.0.1/+8", &c, err, sizeof err) == -EINVAL);
        CHECK(net_parse_cidr("10.88.0.1/16 ", &c, err, sizeof err) == -EINVAL);
        CHECK(net_parse_cidr("10.88.0/16", &c, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "'10.88.0' is not an IPv4 address (a.b.c.d)");
        CHECK(net_parse_cidr("10.88.0.1.1.1.1.1.1.1/16", &c, err, sizeof err) == -EINVAL);

        NetCidr a = C("10.88.0.1/16"), b = C("10.88.5.0/24"), d = C("10.89.0.1/16");
        CHECK(net_overlap(&a, &b) && net_overlap(&b, &a) && !net_overlap(&a, &d));
}

static void test_subnet(void) {
        char err[256];
        NetCidr c;

        c = C("10.88.0.1/16");
        CHECK(ipam_check_subnet(&c, err, sizeof err) == 0);
        c = C("192.168.7.1/30");
        CHECK(ipam_check_subnet(&c, err, sizeof err) == 0);
        c = C("10.88.0.1/31");
        CHECK(ipam_check_subnet(&c, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "bridge subnet 10.88.0.1/31: the prefix length must be 8..30");
        c = C("10.0.0.1/4");
        CHECK(ipam_check_subnet(&c, err, sizeof err) == -EINVAL);
        c = C("10.88.0.0/16");
        CHECK(ipam_check_subnet(&c, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "bridge subnet 10.88.0.0/16: give the bridge's own address, not the network address "
                       "(e.g. 10.88.0.1/16)");
        c = C("10.88.255.255/16");
        CHECK(ipam_check_subnet(&c, err, sizeof err) == -EINVAL);
        c = C("127.0.0.1/8");
        CHECK(ipam_check_subnet(&c, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "bridge subnet 127.0.0.1/8: not a usable unicast range");
        c = C("224.0.0.1/24");
        CHECK(ipam_check_subnet(&c, err, sizeof err) == -EINVAL);
}

static void test_static(void) {
        char err[256];
        NetCidr br = C("10.88.0.1/16");
        NetHost taken[] = { { "web", A("10.88.0.5") }, { "db", A("10.88.0.6") } };

        CHECK(ipam_check_static(&br, "api", A("10.88.0.7"), taken, 2, err, sizeof err) == 0);
        CHECK(ipam_check_static(&br, "api", A("10.89.0.5"), taken, 2, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "10.89.0.5 is outside the bridge subnet 10.88.0.0/16");
        CHECK(ipam_check_static(&br, "api", A("10.88.0.0"), taken, 2, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "10.88.0.0 is the network address of 10.88.0.0/16");
        CHECK(ipam_check_static(&br, "api", A("10.88.255.255"), taken, 2, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "10.88.255.255 is the broadcast address of 10.88.0.0/16");
        CHECK(ipam_check_static(&br, "api", A("10.88.0.1"), taken, 2, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "10.88.0.1 is the bridge's own address (the gateway)");
        CHECK(ipam_check_static(&br, "api", A("10.88.0.5"), taken, 2, err, sizeof err) == -EADDRINUSE);
        CHECK_STR(err, "10.88.0.5 is already used by web");
        /* A unit's own entry is not a conflict: a restart re-checks the same address. */
        CHECK(ipam_check_static(&br, "web", A("10.88.0.5"), taken, 2, err, sizeof err) == 0);
        CHECK(ipam_check_static(&br, NULL, A("10.88.0.6"), taken, 2, NULL, 0) == -EADDRINUSE);
}

static void test_derive(void) {
        NetCidr br = C("10.88.0.1/16");
        NetHost taken[300];
        size_t n = 0;

        uint32_t a = ipam_derive(&br, "web", NULL, 0);
        CHECK(a != 0 && net_contains(&br, a) && a != br.addr && a != net_network(&br) &&
              a != net_broadcast(&br));
        CHECK(ipam_derive(&br, "web", NULL, 0) == a); /* stable across calls */
        CHECK(ipam_derive(&br, "db", NULL, 0) != a);

        /* Already assigned: the same address, even if another took the hash slot since. */
        taken[n++] = (NetHost){ "other", a };
        uint32_t b = ipam_derive(&br, "web", taken, n);
        CHECK(b != 0 && b != a); /* collision: probed past */
        CHECK(b == a + 1 || (a == net_broadcast(&br) - 1 && b == net_network(&br) + 2));
        snprintf(taken[n].name, sizeof taken[n].name, "web");
        taken[n++].addr = b;
        CHECK(ipam_derive(&br, "web", taken, n) == b);

        /* A small subnet filled by derivation: every host once, never the reserved ones, then 0. */
        NetCidr small = C("192.168.9.1/29"); /* hosts .1-.6, .1 the gateway: 5 for containers */
        n = 0;
        for (int i = 0; i < 5; i++) {
                char name[16];
                snprintf(name, sizeof name, "c%d", i);
                uint32_t x = ipam_derive(&small, name, taken, n);
                CHECK(x != 0 && x != small.addr && x != net_network(&small) && x != net_broadcast(&small));
                for (size_t j = 0; j < n; j++)
                        if (taken[j].addr == x)
                                CHECK(!"derived an address already taken");
                snprintf(taken[n].name, sizeof taken[n].name, "%s", name);
                taken[n++].addr = x;
        }
        CHECK(ipam_derive(&small, "one-too-many", taken, n) == 0);
        /* The same name in a full subnet still gets its own address back. */
        CHECK(ipam_derive(&small, "c3", taken, n) == taken[3].addr);

        /* A gateway in the middle of the range is skipped too. */
        NetCidr mid = C("192.168.9.3/30"); /* .1, .2, .3 hosts; .3 the gateway */
        NetHost two[] = { { "x", A("192.168.9.1") }, { "y", A("192.168.9.2") } };
        CHECK(ipam_derive(&mid, "z", two, 2) == 0);
        CHECK(ipam_derive(&mid, "z", two, 1) == A("192.168.9.2"));

        /* Spread: 200 names in a /24 collide a little but all get distinct addresses. */
        NetCidr c24 = C("10.0.0.1/24");
        n = 0;
        bool distinct = true;
        for (int i = 0; i < 200; i++) {
                char name[16];
                snprintf(name, sizeof name, "unit%d", i);
                uint32_t x = ipam_derive(&c24, name, taken, n);
                for (size_t j = 0; j < n; j++)
                        distinct = distinct && taken[j].addr != x;
                distinct = distinct && x != 0;
                snprintf(taken[n].name, sizeof taken[n].name, "%s", name);
                taken[n++].addr = x;
        }
        CHECK(distinct);
}

static void test_uplink(void) {
        char err[256];
        NetCidr c;
        uint32_t gw;

        CHECK(net_parse_uplink_static("192.168.1.10/24,192.168.1.1", &c, &gw, err, sizeof err) == 0);
        CHECK(c.addr == A("192.168.1.10") && c.prefix == 24 && gw == A("192.168.1.1"));
        CHECK(net_parse_uplink_static("10.0.0.5/32,10.0.0.1", &c, &gw, err, sizeof err) == 0);
        CHECK(net_parse_uplink_static("192.168.1.10/24", &c, &gw, err, sizeof err) == -EINVAL);
        CHECK_STR(err,
                  "keel.ip='192.168.1.10/24': expected ADDR/LEN,GATEWAY (e.g. 192.168.1.10/24,192.168.1.1)");
        CHECK(net_parse_uplink_static("192.168.1.10/24,10.0.0.1", &c, &gw, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "keel.ip: gateway 10.0.0.1 is outside 192.168.1.10/24");
        CHECK(net_parse_uplink_static("192.168.1.10/24,192.168.1.10", &c, &gw, err, sizeof err) == -EINVAL);
        CHECK(net_parse_uplink_static("192.168.1.10/40,192.168.1.1", &c, &gw, err, sizeof err) == -EINVAL);
}

static void test_publish(void) {
        char err[256];
        NetPort p;

        CHECK(net_parse_publish("8080:80", &p, err, sizeof err) == 0);
        CHECK(p.host_addr == 0 && p.host_port == 8080 && p.container_port == 80 && p.proto == IPPROTO_TCP);
        CHECK(net_parse_publish("127.0.0.1:53:5353/udp", &p, err, sizeof err) == 0);
        CHECK(p.host_addr == A("127.0.0.1") && p.host_port == 53 && p.container_port == 5353 &&
              p.proto == IPPROTO_UDP);
        CHECK(net_parse_publish("1:65535/tcp", &p, err, sizeof err) == 0);

        CHECK(net_parse_publish("80", &p, err, sizeof err) == -EINVAL);
        CHECK_STR(err,
                  "PublishPort='80': expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp] (a host port is "
                  "required)");
        CHECK(net_parse_publish("8080:80/sctp", &p, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "PublishPort='8080:80/sctp': unknown protocol 'sctp' (tcp or udp)");
        CHECK(net_parse_publish("0:80", &p, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "PublishPort='0:80': host port '0' is not a number from 1 to 65535");
        CHECK(net_parse_publish("8080:65536", &p, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "PublishPort='8080:65536': container port '65536' is not a number from 1 to 65535");
        CHECK(net_parse_publish("1.2.3:8080:80", &p, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "PublishPort='1.2.3:8080:80': '1.2.3' is not an IPv4 address");
        CHECK(net_parse_publish("1.2.3.4::80", &p, err, sizeof err) == -EINVAL);
        CHECK(net_parse_publish("[::1]:80:80", &p, err, sizeof err) == -EINVAL);
        CHECK(net_parse_publish("8080-8090:80", &p, err, sizeof err) == -EINVAL);
        CHECK(net_parse_publish("", &p, err, sizeof err) == -EINVAL);
}

static void test_ports(void) {
        char err[256];
        NetPort published[2], p;

        net_parse_publish("8080:80", &published[0], NULL, 0);
        published[0].owner = "web";
        net_parse_publish("10.0.0.5:53:53/udp", &published[1], NULL, 0);
        published[1].owner = "dns";

        net_parse_publish("8081:80", &p, NULL, 0);
        CHECK(ipam_check_port(&p, published, 2, err, sizeof err) == 0);
        net_parse_publish("8080:80/udp", &p, NULL, 0);
        CHECK(ipam_check_port(&p, published, 2, err, sizeof err) == 0);
        net_parse_publish("8080:81", &p, NULL, 0);
        CHECK(ipam_check_port(&p, published, 2, err, sizeof err) == -EADDRINUSE);
        CHECK_STR(err, "tcp port 8080 is already published by web");
        net_parse_publish("10.0.0.9:8080:81", &p, NULL, 0); /* a specific address overlaps "any" */
        CHECK(ipam_check_port(&p, published, 2, err, sizeof err) == -EADDRINUSE);
        net_parse_publish("10.0.0.6:53:53/udp", &p, NULL, 0);
        CHECK(ipam_check_port(&p, published, 2, err, sizeof err) == 0);
        net_parse_publish("53:53/udp", &p, NULL, 0);
        CHECK(ipam_check_port(&p, published, 2, err, sizeof err) == -EADDRINUSE);
        CHECK_STR(err, "udp 10.0.0.5:53 is already published by dns");
}

static void test_add_host(void) {
        char err[256];
        NetHost h;

        CHECK(net_parse_add_host("db.local:10.1.2.3", &h, err, sizeof err) == 0);
        CHECK_STR(h.name, "db.local");
        CHECK(h.addr == A("10.1.2.3"));
        CHECK(net_parse_add_host("db", &h, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "AddHost='db': expected NAME:ADDRESS");
        CHECK(net_parse_add_host(":10.1.2.3", &h, err, sizeof err) == -EINVAL);
        CHECK(net_parse_add_host("bad name:10.1.2.3", &h, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "AddHost='bad name:10.1.2.3': 'bad name' is not a valid host name");
        CHECK(net_parse_add_host("v6:fd00::1", &h, err, sizeof err) == -EINVAL);
        CHECK_STR(err, "AddHost='v6:fd00::1': 'fd00::1' is not an IPv4 address (IPv6 is not supported yet)");
        CHECK(net_host_name_is_valid("web@2") && net_host_name_is_valid("a-b_c.d"));
        CHECK(!net_host_name_is_valid("-x") && !net_host_name_is_valid("") &&
              !net_host_name_is_valid("a\tb") && !net_host_name_is_valid("a#b"));
}

int main(void) {
        test_addr();
        test_cidr();
        test_subnet();
        test_static();
        test_derive();
        test_uplink();
        test_publish();
        test_ports();
        test_add_host();
        TAP_DONE();
}
