/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "cmdline.h"
#include "macros.h"
#include "value.h"

void cmdline_defaults(KeelOptions *o) {
        *o = (KeelOptions){ .shell = true };
        snprintf(o->units_dir, sizeof o->units_dir, "/etc/keel/units");
        snprintf(o->hostname, sizeof o->hostname, "keel");
        o->ready_timeout_usec = 30 * 1000000ull;
        (void) net_parse_cidr(NET_SUBNET_DEFAULT, &o->bridge, NULL, 0);
}

static void apply(KeelOptions *o, const char *key, const char *value, void (*warn)(const char *)) {
        char msg[700];
        bool b;
        if (streq(key, "keel.shell")) {
                if (!value)
                        o->shell = true;
                else if (parse_boolean(value, &b) >= 0)
                        o->shell = b;
                else {
                        snprintf(msg, sizeof msg, "keel.shell=%s: not a boolean, keeping %d", value,
                                 o->shell);
                        warn(msg);
                }
        } else if (streq(key, "keel.debug")) {
                o->debug = !value || parse_boolean(value, &b) < 0 || b;
        } else if (streq(key, "keel.units")) {
                if (value && value[0] == '/' && strlen(value) < sizeof o->units_dir)
                        snprintf(o->units_dir, sizeof o->units_dir, "%s", value);
                else {
                        snprintf(msg, sizeof msg, "keel.units=%s: want an absolute path, keeping %s",
                                 value ? value : "", o->units_dir);
                        warn(msg);
                }
        } else if (streq(key, "keel.hostname")) {
                if (value && *value && strlen(value) < sizeof o->hostname)
                        snprintf(o->hostname, sizeof o->hostname, "%s", value);
                else {
                        snprintf(msg, sizeof msg, "keel.hostname: want 1 to 64 characters");
                        warn(msg);
                }
        } else if (streq(key, "keel.ready_timeout")) {
                uint64_t t;
                if (value && parse_timespan(value, &t) >= 0 && t > 0)
                        o->ready_timeout_usec = t;
                else {
                        snprintf(msg, sizeof msg, "keel.ready_timeout=%s: want a time span such as 30s",
                                 value ? value : "");
                        warn(msg);
                }
        } else if (streq(key, "keel.bridge")) {
                char why[200] = "";
                NetCidr c;
                if (value && net_parse_cidr(value, &c, why, sizeof why) >= 0 &&
                    ipam_check_subnet(&c, why, sizeof why) >= 0)
                        o->bridge = c;
                else {
                        snprintf(msg, sizeof msg, "keel.bridge=%s: %s; keeping %s", value ? value : "",
                                 why[0] ? why : "want ADDR/LEN, e.g. 10.88.0.1/16", NET_SUBNET_DEFAULT);
                        warn(msg);
                }
        } else if (streq(key, "keel.ip")) {
                char why[200] = "";
                if (value && net_parse_uplink_static(value, &o->uplink_addr, &o->uplink_gateway, why,
                                                     sizeof why) >= 0)
                        o->uplink_static = true;
                else {
                        /* "using DHCP" must hold after an earlier good keel.ip= too. The address
                         * parsers' own messages ("'10.0.2.300' is not an IPv4 address") do not
                         * name the option: the console line must say which one was bad. */
                        o->uplink_static = false;
                        if (!why[0])
                                snprintf(msg, sizeof msg, "keel.ip: want ADDR/LEN,GATEWAY; using DHCP");
                        else if (strncmp(why, "keel.ip", 7) == 0)
                                snprintf(msg, sizeof msg, "%s; using DHCP", why);
                        else
                                snprintf(msg, sizeof msg, "keel.ip=%.300s: %s; using DHCP", value, why);
                        warn(msg);
                }
        } else if (strncmp(key, "keel.", 5) == 0) {
                snprintf(msg, sizeof msg, "unknown option %s on the kernel command line, ignored", key);
                warn(msg);
        }
}

void cmdline_parse(const char *line, KeelOptions *o, void (*warn)(const char *msg)) {
        char word[512];
        const char *p = line;
        while (*p) {
                while (*p == ' ' || *p == '\t' || *p == '\n')
                        p++;
                if (!*p)
                        break;
                size_t n = 0;
                bool quoted = false;
                for (; *p && (quoted || (*p != ' ' && *p != '\t' && *p != '\n')); p++) {
                        if (*p == '"') {
                                quoted = !quoted;
                                continue;
                        }
                        if (n < sizeof word - 1)
                                word[n++] = *p;
                }
                word[n] = 0;
                char *eq = strchr(word, '=');
                if (eq)
                        *eq = 0;
                apply(o, word, eq ? eq + 1 : NULL, warn);
        }
}
