/* SPDX-License-Identifier: MIT */
/*
 * NAT for the bridge in keel's own nf_tables table, `ip keel`, rebuilt whole from the
 * supervisor's current state in one transaction.
 *
 * Why raw nf_tables netlink built with libnl-3, rather than a netfilter library: PID 1 is a
 * static binary, and on Debian 12
 *   - libnftables (what nft(8) is built on) exists only as a shared library, and would bring
 *     the nft language parser with libgmp, libjansson and libxtables along;
 *   - libnftnl-dev ships libnftnl.a, but every message libnftnl builds goes through libmnl,
 *     and libmnl-dev ships no libmnl.a: linking it statically would mean building libmnl
 *     from source, outside Debian's packages.
 * libnl-3, which keel links statically already for links and routes, builds and parses
 * netlink attributes just as well, and the nf_tables messages for the eight expressions used
 * here (meta, payload, cmp, bitwise, ct, immediate, nat, masq) are stable kernel ABI
 * (<linux/netfilter/nf_tables.h>). The rules read the same in `nft list table ip keel`.
 *
 * Why one transaction that replaces the table instead of adding and deleting rules one port at
 * a time: no rule handles to remember, nothing left behind when PID 1 loses track of a
 * container (a failed start, a crash in setup), the same call for setup, change and repair, and
 * packets never see a half-updated table. The price is time in PID 1's loop: ~15 ms for a
 * few ports, ~50 ms for NET_PORTS_MAX (1,286 rules), mostly the kernel's commit.
 */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "net.h"
#include "util.h"

#define ERR(...) (err ? (void) snprintf(err, errlen, __VA_ARGS__) : (void) 0)

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

/* What nft(8) stores in a rule's userdata for `comment "..."`: type, length, value with NUL. */
#define UDATA_RULE_COMMENT 0

#define HINT_NAT  " (is CONFIG_NFT_NAT set?)"
#define HINT_MASQ " (is CONFIG_NFT_MASQ set?)"
#define HINT_CT   " (is CONFIG_NFT_CT set?)"

static inline void nlmsg_freep(struct nl_msg **m) {
        if (*m)
                nlmsg_free(*m);
}
#define _cleanup_nlmsg_ _cleanup_(nlmsg_freep)

/* ---- the batch: BEGIN, messages, END, sent in one sendmsg() ---- */

typedef struct BatchStep {
        char what[96 + NET_RULE_COMMENT_MAX]; /* for the error message if the kernel rejects it */
        const char *hint;                     /* config hint for ENOENT/EOPNOTSUPP */
} BatchStep;

typedef struct Batch {
        char *buf;
        size_t len, cap;
        size_t last; /* offset of the last message added */
        uint32_t seq;
        BatchStep *steps; /* step i is the message with sequence seq + i */
        size_t n;
        int r; /* the first failure while building; every call after it does nothing */
} Batch;

static void batch_done(Batch *b) {
        free(b->buf);
        free(b->steps);
}

static struct nl_msg *msg_new(uint16_t type, uint16_t flags, uint8_t family, uint16_t res_id) {
        struct nl_msg *m = nlmsg_alloc_simple(type, NLM_F_REQUEST | flags);
        struct nfgenmsg g = { .nfgen_family = family, .version = NFNETLINK_V0, .res_id = htons(res_id) };
        if (m && nlmsg_append(m, &g, sizeof g, NLMSG_ALIGNTO) < 0) {
                nlmsg_free(m);
                return NULL;
        }
        return m;
}

static struct nl_msg *nft_msg(uint16_t cmd, uint16_t flags) {
        return msg_new((NFNL_SUBSYS_NFTABLES << 8) | cmd, flags, NFPROTO_IPV4, 0);
}

/* Appends m (and frees it) with the description of what it does. */
static void batch_add(Batch *b, struct nl_msg *m, const char *hint, const char *fmt, ...) _printf_(4, 5);
static void batch_add(Batch *b, struct nl_msg *m, const char *hint, const char *fmt, ...) {
        _cleanup_nlmsg_ struct nl_msg *msg = m;
        if (b->r < 0)
                return;
        if (!msg) {
                b->r = -ENOMEM;
                return;
        }
        struct nlmsghdr *h = nlmsg_hdr(msg);
        size_t size = NLMSG_ALIGN(h->nlmsg_len);
        if (b->len + size > b->cap) {
                size_t cap = MAX(b->cap * 2, b->len + size + 16384);
                char *buf = realloc(b->buf, cap);
                if (!buf) {
                        b->r = -ENOMEM;
                        return;
                }
                memset(buf + b->len, 0, cap - b->len);
                b->buf = buf;
                b->cap = cap;
        }
        BatchStep *steps = reallocarray(b->steps, b->n + 1, sizeof *steps);
        if (!steps) {
                b->r = -ENOMEM;
                return;
        }
        b->steps = steps;
        h->nlmsg_seq = b->seq + (uint32_t) b->n;
        h->nlmsg_pid = 0;
        memcpy(b->buf + b->len, h, h->nlmsg_len);
        b->last = b->len;
        b->len += size;

        va_list ap;
        va_start(ap, fmt);
        vsnprintf(steps[b->n].what, sizeof steps[b->n].what, fmt, ap);
        va_end(ap);
        steps[b->n].hint = hint;
        b->n++;
}

static void batch_begin(Batch *b) {
        *b = (Batch){ .seq = (uint32_t) now_usec() };
        batch_add(b, msg_new(NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES),
                  " (is CONFIG_NF_TABLES set?)", "the nf_tables transaction");
}

/*
 * Only the last message asks for an acknowledgement. The kernel handles the whole batch inside
 * our sendmsg() and queues its answers before that returns: a commit failure (against BEGIN's
 * sequence number), then in message order an error for each rejected message, whether or not
 * it asked for an ack, and an ack for each message that asked. So the final ack with no error
 * anywhere means the transaction committed; and asking for no other ack keeps hundreds of them
 * from overflowing the receive buffer.
 */
static void batch_end(Batch *b) {
        if (b->r < 0 || b->n < 2)
                return;
        ((struct nlmsghdr *) (b->buf + b->last))->nlmsg_flags |= NLM_F_ACK;
        batch_add(b, msg_new(NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES), "",
                  "the nf_tables transaction");
}

/* ---- attributes, with the first failure kept in the rule ---- */

typedef struct Rule {
        struct nl_msg *m;
        struct nlattr *exprs;
        int r;
} Rule;

static struct nlattr *nest(Rule *x, int type) {
        struct nlattr *a = x->r < 0 ? NULL : nla_nest_start(x->m, type | NLA_F_NESTED);
        if (!a && x->r == 0)
                x->r = -EMSGSIZE;
        return a;
}
static void nest_end(Rule *x, struct nlattr *a) {
        if (x->r == 0)
                nla_nest_end(x->m, a);
}
static void put(Rule *x, int type, const void *data, size_t len) {
        if (x->r == 0 && nla_put(x->m, type, (int) len, data) < 0)
                x->r = -EMSGSIZE;
}
static void put_be32(Rule *x, int type, uint32_t v) {
        uint32_t be = htonl(v);
        put(x, type, &be, sizeof be);
}
static void put_str(Rule *x, int type, const char *s) {
        put(x, type, s, strlen(s) + 1);
}
/* NFTA_DATA_VALUE nested in type: how cmp, bitwise and immediate take their operands. */
static void put_value(Rule *x, int type, const void *data, size_t len) {
        struct nlattr *a = nest(x, type);
        put(x, NFTA_DATA_VALUE, data, len);
        nest_end(x, a);
}

/* ---- expressions: each one NFTA_LIST_ELEM { NAME, DATA { ... } } ---- */

typedef struct Expr {
        struct nlattr *elem, *data;
} Expr;

static Expr expr_begin(Rule *x, const char *name) {
        Expr e = { .elem = nest(x, NFTA_LIST_ELEM) };
        put_str(x, NFTA_EXPR_NAME, name);
        e.data = nest(x, NFTA_EXPR_DATA);
        return e;
}
static void expr_end(Rule *x, Expr e) {
        nest_end(x, e.data);
        nest_end(x, e.elem);
}

static void e_meta(Rule *x, uint32_t key) { /* meta KEY => reg 1 */
        Expr e = expr_begin(x, "meta");
        put_be32(x, NFTA_META_KEY, key);
        put_be32(x, NFTA_META_DREG, NFT_REG_1);
        expr_end(x, e);
}
static void e_payload(Rule *x, uint32_t base, uint32_t offset, uint32_t len) { /* => reg 1 */
        Expr e = expr_begin(x, "payload");
        put_be32(x, NFTA_PAYLOAD_DREG, NFT_REG_1);
        put_be32(x, NFTA_PAYLOAD_BASE, base);
        put_be32(x, NFTA_PAYLOAD_OFFSET, offset);
        put_be32(x, NFTA_PAYLOAD_LEN, len);
        expr_end(x, e);
}
static void e_ct(Rule *x, uint32_t key) { /* ct KEY => reg 1 */
        Expr e = expr_begin(x, "ct");
        put_be32(x, NFTA_CT_KEY, key);
        put_be32(x, NFTA_CT_DREG, NFT_REG_1);
        expr_end(x, e);
}
static void e_cmp(Rule *x, uint32_t op, const void *data, size_t len) { /* reg 1 OP data */
        Expr e = expr_begin(x, "cmp");
        put_be32(x, NFTA_CMP_SREG, NFT_REG_1);
        put_be32(x, NFTA_CMP_OP, op);
        put_value(x, NFTA_CMP_DATA, data, len);
        expr_end(x, e);
}
static void e_and(Rule *x, const void *mask, size_t len) { /* reg 1 = reg 1 & mask */
        static const uint8_t zero[16];
        Expr e = expr_begin(x, "bitwise");
        put_be32(x, NFTA_BITWISE_SREG, NFT_REG_1);
        put_be32(x, NFTA_BITWISE_DREG, NFT_REG_1);
        put_be32(x, NFTA_BITWISE_LEN, (uint32_t) len);
        put_value(x, NFTA_BITWISE_MASK, mask, len);
        put_value(x, NFTA_BITWISE_XOR, zero, len);
        expr_end(x, e);
}
static void e_immediate(Rule *x, uint32_t reg, const void *data, size_t len) {
        Expr e = expr_begin(x, "immediate");
        put_be32(x, NFTA_IMMEDIATE_DREG, reg);
        put_value(x, NFTA_IMMEDIATE_DATA, data, len);
        expr_end(x, e);
}
static void e_verdict(Rule *x, uint32_t code) {
        Expr e = expr_begin(x, "immediate");
        put_be32(x, NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
        struct nlattr *d = nest(x, NFTA_IMMEDIATE_DATA), *v = nest(x, NFTA_DATA_VERDICT);
        put_be32(x, NFTA_VERDICT_CODE, code);
        nest_end(x, v);
        nest_end(x, d);
        expr_end(x, e);
}
static void e_dnat(Rule *x, uint32_t addr, uint16_t port) {
        uint32_t a = htonl(addr);
        uint16_t p = htons(port);
        e_immediate(x, NFT_REG_1, &a, sizeof a);
        e_immediate(x, NFT_REG_2, &p, sizeof p);
        Expr e = expr_begin(x, "nat");
        put_be32(x, NFTA_NAT_TYPE, NFT_NAT_DNAT);
        put_be32(x, NFTA_NAT_FAMILY, NFPROTO_IPV4);
        put_be32(x, NFTA_NAT_REG_ADDR_MIN, NFT_REG_1);
        put_be32(x, NFTA_NAT_REG_PROTO_MIN, NFT_REG_2);
        expr_end(x, e);
}
static void e_masq(Rule *x) {
        Expr e = expr_begin(x, "masq");
        expr_end(x, e);
}

/* ---- matches, built from the expressions ---- */

static void m_ifname(Rule *x, uint32_t key, uint32_t op, const char *name) {
        char buf[NET_IFNAME_MAX] = {}; /* the kernel loads the whole zero-padded name */
        strncpy(buf, name, sizeof buf - 1);
        e_meta(x, key);
        e_cmp(x, op, buf, sizeof buf);
}
/* offset 12: source address, 16: destination address, in the IPv4 header. */
static void m_net(Rule *x, uint32_t offset, const NetCidr *c) {
        uint32_t mask = htonl(net_mask(c->prefix)), net = htonl(net_network(c));
        e_payload(x, NFT_PAYLOAD_NETWORK_HEADER, offset, 4);
        if (c->prefix < 32)
                e_and(x, &mask, sizeof mask);
        e_cmp(x, NFT_CMP_EQ, &net, sizeof net);
}
static void m_addr(Rule *x, uint32_t offset, uint32_t addr) {
        m_net(x, offset, &(NetCidr){ .addr = addr, .prefix = 32 });
}
static void m_port(Rule *x, uint8_t proto, uint16_t port) {
        uint16_t p = htons(port);
        e_meta(x, NFT_META_L4PROTO);
        e_cmp(x, NFT_CMP_EQ, &proto, sizeof proto);
        e_payload(x, NFT_PAYLOAD_TRANSPORT_HEADER, 2, sizeof p); /* tcp and udp: dport at 2 */
        e_cmp(x, NFT_CMP_EQ, &p, sizeof p);
}
/* ct KEY & bits != 0; the kernel loads ct status and state in host byte order. */
static void m_ct_any(Rule *x, uint32_t key, uint32_t bits) {
        static const uint32_t zero;
        e_ct(x, key);
        e_and(x, &bits, sizeof bits);
        e_cmp(x, NFT_CMP_NEQ, &zero, sizeof zero);
}

static Rule rule_begin(const char *chain) {
        Rule x = { .m = nft_msg(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND) };
        if (!x.m) {
                x.r = -ENOMEM;
                return x;
        }
        put_str(&x, NFTA_RULE_TABLE, NFT_TABLE);
        put_str(&x, NFTA_RULE_CHAIN, chain);
        x.exprs = nest(&x, NFTA_RULE_EXPRESSIONS);
        return x;
}

static void rule_end(Batch *b, Rule *x, const char *chain, const char *hint, const char *comment) {
        uint8_t udata[2 + NET_RULE_COMMENT_MAX];
        size_t len = MIN(strlen(comment), NET_RULE_COMMENT_MAX - 1);

        nest_end(x, x->exprs);
        udata[0] = UDATA_RULE_COMMENT;
        udata[1] = (uint8_t) (len + 1);
        memcpy(udata + 2, comment, len);
        udata[2 + len] = '\0';
        put(x, NFTA_RULE_USERDATA, udata, len + 3);
        if (x->r < 0) {
                nlmsg_free(x->m);
                if (b->r == 0)
                        b->r = x->r;
                return;
        }
        batch_add(b, x->m, hint, "rule '%s' in chain %s", comment, chain);
}

static void add_table(Batch *b, uint16_t cmd, uint16_t flags) {
        Rule x = { .m = nft_msg(cmd, flags) };
        if (x.m)
                put_str(&x, NFTA_TABLE_NAME, NFT_TABLE);
        if (x.r < 0) {
                nlmsg_free(x.m);
                b->r = x.r;
                return;
        }
        batch_add(b, x.m, " (is CONFIG_NF_TABLES_IPV4 set?)", "%s table ip " NFT_TABLE,
                  cmd == NFT_MSG_DELTABLE ? "deleting" : "creating");
}

static void add_chain(Batch *b, const char *name, const char *type, uint32_t hook, int32_t priority) {
        Rule x = { .m = nft_msg(NFT_MSG_NEWCHAIN, NLM_F_CREATE) };
        if (!x.m) {
                b->r = -ENOMEM;
                return;
        }
        put_str(&x, NFTA_CHAIN_TABLE, NFT_TABLE);
        put_str(&x, NFTA_CHAIN_NAME, name);
        put_str(&x, NFTA_CHAIN_TYPE, type);
        struct nlattr *h = nest(&x, NFTA_CHAIN_HOOK);
        put_be32(&x, NFTA_HOOK_HOOKNUM, hook);
        put_be32(&x, NFTA_HOOK_PRIORITY, (uint32_t) priority);
        nest_end(&x, h);
        put_be32(&x, NFTA_CHAIN_POLICY, NF_ACCEPT);
        if (x.r < 0) {
                nlmsg_free(x.m);
                b->r = x.r;
                return;
        }
        batch_add(b, x.m, streq(type, "nat") ? HINT_NAT : "", "creating %s chain %s", type, name);
}

/* ---- the socket ---- */

DEFINE_POINTER_CLEANUP(nl_socket_freep, struct nl_sock, nl_socket_free)

static int nft_socket(struct nl_sock **ret, size_t sndbuf, char *err, size_t errlen) {
        struct nl_sock *sk = nl_socket_alloc();
        if (!sk)
                return -ENOMEM;
        int r = nl_connect(sk, NETLINK_NETFILTER); /* SOCK_CLOEXEC */
        if (r < 0) {
                nl_socket_free(sk);
                r = r == -NLE_PROTO_MISMATCH || r == -NLE_AF_NOSUPPORT ? -EPROTONOSUPPORT : -EIO;
                ERR("nf_tables: netlink socket: %s%s", strerror(-r),
                    r == -EPROTONOSUPPORT ? " (is CONFIG_NETFILTER_NETLINK set?)" : "");
                return r;
        }
        int fd = nl_socket_get_fd(sk), one = 1;
        /* Acks without a copy of the request: smaller answers for big batches. */
        (void) setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
        /* A whole batch goes in one sendmsg(), which netlink refuses past the send buffer. We
         * have CAP_NET_ADMIN (nf_tables needs it anyway), so past the sysctl limit too. */
        if (sndbuf > 32768) {
                int v = (int) sndbuf;
                if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v) < 0)
                        (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
        }
        /* Dumps are answered as we read; never let a silent kernel hang PID 1. */
        struct timeval tv = { .tv_sec = 2 };
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        *ret = sk;
        return 0;
}

static int send_all(int fd, const void *buf, size_t len) {
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        ssize_t k;
        do
                k = sendto(fd, buf, len, 0, (struct sockaddr *) &kernel, sizeof kernel);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return negative_errno();
        return (size_t) k == len ? 0 : -EIO;
}

#define RECV_BUF (64 * 1024) /* larger than any netlink dump chunk */

/* Reads what the kernel queued for the batch (see batch_end()): the first error and the step it
 * was for, and whether the last message was acknowledged. */
static int batch_recv(int fd, const Batch *b, size_t *ret_step, bool *ret_acked) {
        _cleanup_free_ char *buf = malloc(RECV_BUF);
        int first = 0;

        *ret_step = 0;
        *ret_acked = false;
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = recv(fd, buf, RECV_BUF, MSG_DONTWAIT);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN)
                        return first;
                if (k < 0) /* ENOBUFS: answers were dropped; the first error, if any, came first */
                        return first ?: negative_errno();
                int left = (int) k;
                for (struct nlmsghdr *h = (struct nlmsghdr *) buf; nlmsg_ok(h, left);
                     h = nlmsg_next(h, &left)) {
                        if (h->nlmsg_type != NLMSG_ERROR ||
                            h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
                                continue;
                        const struct nlmsgerr *e = nlmsg_data(h);
                        size_t step = h->nlmsg_seq - b->seq; /* unsigned: wraps like the kernel's */
                        if (e->error == 0)
                                *ret_acked = *ret_acked || step == b->n - 2;
                        else if (first == 0) {
                                first = e->error < 0 ? e->error : -EPROTO;
                                *ret_step = step < b->n ? step : 0;
                        }
                }
        }
}

static int batch_send(Batch *b, char *err, size_t errlen) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        size_t step = 0;
        bool acked = false;
        int r;

        if (b->r < 0) {
                ERR("nf_tables: building the transaction: %s", strerror(-b->r));
                return b->r;
        }
        r = nft_socket(&sk, b->len + 4096, err, errlen);
        if (r < 0)
                return r;
        int fd = nl_socket_get_fd(sk);
        r = send_all(fd, b->buf, b->len);
        if (r < 0) {
                ERR("nf_tables: sending %zu messages (%zu bytes): %s%s", b->n, b->len, strerror(-r),
                    r == -EMSGSIZE ? " (too many rules: fewer published ports)" : "");
                return r;
        }
        r = batch_recv(fd, b, &step, &acked);
        if (r < 0) {
                const BatchStep *s = &b->steps[step];
                ERR("nf_tables: %s: %s%s", s->what, strerror(-r),
                    r == -ENOENT || r == -EOPNOTSUPP ? s->hint : "");
                return r;
        }
        if (!acked) {
                ERR("nf_tables: the kernel did not acknowledge the transaction");
                return -EPROTO;
        }
        return 0;
}

/* ---- the table ---- */

static const char *proto_name(uint8_t proto) {
        return proto == IPPROTO_UDP ? "udp" : "tcp";
}

static void add_nat_rules(Batch *b, const NftConfig *cfg) {
        char net[NET_ADDR_STRLEN], comment[NET_RULE_COMMENT_MAX];
        Rule x;

        net_addr_to_string(net_network(&cfg->bridge_net), net);

        /* Egress: what leaves for the world leaves with the uplink's address. */
        x = rule_begin("postrouting");
        m_net(&x, 12, &cfg->bridge_net);
        if (cfg->uplink)
                m_ifname(&x, NFT_META_OIFNAME, NFT_CMP_EQ, cfg->uplink);
        else
                m_ifname(&x, NFT_META_OIFNAME, NFT_CMP_NEQ, cfg->bridge);
        e_masq(&x);
        snprintf(comment, sizeof comment, "masquerade %s/%u out of %s%s", net, cfg->bridge_net.prefix,
                 cfg->uplink ? "" : "any interface but ", cfg->uplink ?: cfg->bridge);
        rule_end(b, &x, "postrouting", HINT_MASQ, comment);

        /* Hairpin: a container reaching another's published port goes out to the gateway and is
         * DNATed back into the bridge; without this the answer would come straight from the
         * other container's address, which the client never talked to, and be dropped. */
        x = rule_begin("postrouting");
        m_ifname(&x, NFT_META_OIFNAME, NFT_CMP_EQ, cfg->bridge);
        m_net(&x, 12, &cfg->bridge_net);
        m_ct_any(&x, NFT_CT_STATUS, IPS_DST_NAT);
        e_masq(&x);
        snprintf(comment, sizeof comment, "hairpin: masquerade %s/%u to published ports on %s", net,
                 cfg->bridge_net.prefix, cfg->bridge);
        rule_end(b, &x, "postrouting", HINT_MASQ, comment);
}

static void add_forward_rules(Batch *b, const NftConfig *cfg) {
        static const struct {
                uint32_t iface, ct_key, ct_bits, verdict;
                const char *what;
        } rules[] = {
                { NFT_META_IIFNAME, 0, 0, NF_ACCEPT, "containers may go out and reach each other" },
                { NFT_META_OIFNAME, NFT_CT_STATE,
                  NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED), NF_ACCEPT,
                  "replies to containers" },
                { NFT_META_OIFNAME, NFT_CT_STATUS, IPS_DST_NAT, NF_ACCEPT, "published ports" },
                { NFT_META_OIFNAME, 0, 0, NF_DROP, "nothing else reaches containers" },
        };
        char comment[NET_RULE_COMMENT_MAX];

        for (size_t i = 0; i < ELEMENTSOF(rules); i++) {
                Rule x = rule_begin("forward");
                m_ifname(&x, rules[i].iface, NFT_CMP_EQ, cfg->bridge);
                if (rules[i].ct_bits) /* NFT_CT_STATE is 0: test the bits, not the key */
                        m_ct_any(&x, rules[i].ct_key, rules[i].ct_bits);
                e_verdict(&x, rules[i].verdict);
                snprintf(comment, sizeof comment, "%s", rules[i].what);
                rule_end(b, &x, "forward", rules[i].ct_bits ? HINT_CT : "", comment);
        }
}

/* One DNAT rule: [iifname (==|!=) IIF] [ip daddr DADDR] PROTO dport HOST_PORT dnat to C:CPORT. */
static void add_dnat(Batch *b, const char *chain, const NetPort *p, uint32_t iif_op, const char *iif,
                     uint32_t daddr, const char *via) {
        char c[NET_ADDR_STRLEN], comment[NET_RULE_COMMENT_MAX];
        Rule x = rule_begin(chain);
        if (iif)
                m_ifname(&x, NFT_META_IIFNAME, iif_op, iif);
        if (daddr)
                m_addr(&x, 16, daddr);
        m_port(&x, p->proto, p->host_port);
        e_dnat(&x, p->container_addr, p->container_port);
        snprintf(comment, sizeof comment, "publish %s %u -> %s:%u%s%s%s %s", proto_name(p->proto),
                 p->host_port, net_addr_to_string(p->container_addr, c), p->container_port,
                 p->owner ? " (" : "", p->owner ?: "", p->owner ? ")" : "", via);
        rule_end(b, &x, chain, HINT_NAT, comment);
}

static void add_port_rules(Batch *b, const NftConfig *cfg, const NetPort *p) {
        char a[NET_ADDR_STRLEN], via[64];

        if (p->host_addr != 0) {
                snprintf(via, sizeof via, "to %s", net_addr_to_string(p->host_addr, a));
                add_dnat(b, "prerouting", p, 0, NULL, p->host_addr, via);
                add_dnat(b, "output", p, 0, NULL, p->host_addr, via);
                return;
        }
        /* From outside: whatever arrives on the uplink, so a DHCP renewal that changes its
         * address changes nothing here. */
        if (cfg->uplink) {
                snprintf(via, sizeof via, "arriving on %s", cfg->uplink);
                add_dnat(b, "prerouting", p, NFT_CMP_EQ, cfg->uplink, 0, via);
        } else {
                snprintf(via, sizeof via, "arriving on any interface but %s", cfg->bridge);
                add_dnat(b, "prerouting", p, NFT_CMP_NEQ, cfg->bridge, 0, via);
        }
        /* From containers (hairpin) and from the machine itself: to the machine's addresses. */
        const uint32_t locals[] = { cfg->uplink_addr, cfg->bridge_net.addr };
        for (size_t i = 0; i < ELEMENTSOF(locals); i++) {
                if (locals[i] == 0)
                        continue;
                snprintf(via, sizeof via, "to %s", net_addr_to_string(locals[i], a));
                add_dnat(b, "prerouting", p, NFT_CMP_EQ, cfg->bridge, locals[i], via);
                add_dnat(b, "output", p, 0, NULL, locals[i], via);
        }
}

int nft_sync(const NftConfig *cfg, char *err, size_t errlen) {
        Batch b;

        if (cfg->n_ports > NET_PORTS_MAX) {
                ERR("nf_tables: %zu published ports, at most %d", cfg->n_ports, NET_PORTS_MAX);
                return -E2BIG;
        }
        batch_begin(&b);
        /* nft's "flush by recreating" idiom: create (a no-op if it exists), delete, create. All
         * inside the transaction, so packets never see the table missing. */
        add_table(&b, NFT_MSG_NEWTABLE, NLM_F_CREATE);
        add_table(&b, NFT_MSG_DELTABLE, 0);
        add_table(&b, NFT_MSG_NEWTABLE, NLM_F_CREATE);
        add_chain(&b, "prerouting", "nat", NF_INET_PRE_ROUTING, -100); /* dstnat */
        add_chain(&b, "output", "nat", NF_INET_LOCAL_OUT, -100);
        add_chain(&b, "postrouting", "nat", NF_INET_POST_ROUTING, 100); /* srcnat */
        add_chain(&b, "forward", "filter", NF_INET_FORWARD, 0);
        add_nat_rules(&b, cfg);
        add_forward_rules(&b, cfg);
        for (size_t i = 0; i < cfg->n_ports; i++)
                add_port_rules(&b, cfg, &cfg->ports[i]);
        batch_end(&b);
        int r = batch_send(&b, err, errlen);
        batch_done(&b);
        return r;
}

int nft_remove(char *err, size_t errlen) {
        Batch b;
        batch_begin(&b);
        add_table(&b, NFT_MSG_NEWTABLE, NLM_F_CREATE);
        add_table(&b, NFT_MSG_DELTABLE, 0);
        batch_end(&b);
        int r = batch_send(&b, err, errlen);
        batch_done(&b);
        return r;
}

/* ---- listing ---- */

/* Sends one request and calls cb for each answer until the ack or the end of the dump. */
static int request(struct nl_sock *sk, struct nl_msg *m, int (*cb)(const struct nlmsghdr *h, void *userdata),
                   void *userdata) {
        struct nlmsghdr *req = nlmsg_hdr(m);
        int fd = nl_socket_get_fd(sk);
        bool dump = req->nlmsg_flags & NLM_F_DUMP;

        req->nlmsg_seq = (uint32_t) now_usec();
        int r = send_all(fd, req, req->nlmsg_len);
        if (r < 0)
                return r;
        _cleanup_free_ char *buf = malloc(RECV_BUF);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = recv(fd, buf, RECV_BUF, 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return errno == EAGAIN ? -ETIMEDOUT : negative_errno();
                int left = (int) k;
                for (struct nlmsghdr *h = (struct nlmsghdr *) buf; nlmsg_ok(h, left);
                     h = nlmsg_next(h, &left)) {
                        if (h->nlmsg_seq != req->nlmsg_seq)
                                continue;
                        if (h->nlmsg_type == NLMSG_DONE)
                                return 0;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = nlmsg_data(h);
                                if (e->error < 0 || !dump)
                                        return e->error;
                                continue;
                        }
                        r = cb(h, userdata);
                        if (r < 0)
                                return r;
                }
        }
}

static int ignore_answer(const struct nlmsghdr *h, void *userdata) {
        return 0;
}

static int collect_rule(const struct nlmsghdr *h, void *userdata) {
        char ***rules = userdata;
        struct nlattr *tb[NFTA_RULE_MAX + 1];

        if (nlmsg_parse((struct nlmsghdr *) h, sizeof(struct nfgenmsg), tb, NFTA_RULE_MAX, NULL) < 0 ||
            !tb[NFTA_RULE_CHAIN])
                return 0;
        const char *comment = "";
        if (tb[NFTA_RULE_USERDATA]) {
                const uint8_t *p = nla_data(tb[NFTA_RULE_USERDATA]);
                size_t len = (size_t) nla_len(tb[NFTA_RULE_USERDATA]);
                for (size_t i = 0; i + 2 <= len && i + 2 + p[i + 1] <= len; i += 2 + p[i + 1])
                        if (p[i] == UDATA_RULE_COMMENT && p[i + 1] > 0 && p[i + 2 + p[i + 1] - 1] == '\0') {
                                comment = (const char *) p + i + 2;
                                break;
                        }
        }
        char *line;
        if (asprintf(&line, "%s: %s", nla_get_string(tb[NFTA_RULE_CHAIN]), comment) < 0)
                return -ENOMEM;
        return strv_push(rules, line);
}

int nft_list(char ***ret) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_strv_free_ char **rules = NULL;
        int r = nft_socket(&sk, 0, NULL, 0);
        if (r < 0)
                return r;

        /* A rule dump filtered on a missing table is merely empty: ask for the table first. */
        _cleanup_nlmsg_ struct nl_msg *get = nft_msg(NFT_MSG_GETTABLE, NLM_F_ACK);
        if (!get)
                return -ENOMEM;
        Rule x = { .m = get };
        put_str(&x, NFTA_TABLE_NAME, NFT_TABLE);
        if (x.r < 0)
                return x.r;
        r = request(sk, get, ignore_answer, NULL);
        if (r < 0)
                return r;

        _cleanup_nlmsg_ struct nl_msg *dump = nft_msg(NFT_MSG_GETRULE, NLM_F_DUMP);
        if (!dump)
                return -ENOMEM;
        x = (Rule){ .m = dump };
        put_str(&x, NFTA_RULE_TABLE, NFT_TABLE);
        if (x.r < 0)
                return x.r;
        r = request(sk, dump, collect_rule, &rules);
        if (r < 0)
                return r;
        if (!rules) {
                rules = calloc(1, sizeof(char *));
                if (!rules)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(rules);
        return 0;
}
