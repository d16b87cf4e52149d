/* SPDX-License-Identifier: MIT */
#include "cmdline.h"
#include "tap.h"

static int warnings;
static char last_warning[400];
static void warn(const char *m) {
        warnings++;
        snprintf(last_warning, sizeof last_warning, "%s", m);
}

int main(void) {
        KeelOptions o;
        cmdline_defaults(&o);
        CHECK(o.shell && !o.debug);
        CHECK(o.ready_timeout_usec == 30000000);
        CHECK_STR(o.units_dir, "/etc/keel/units");

        cmdline_parse(
                "BOOT_IMAGE=/boot/vmlinuz console=ttyS0 quiet keel.shell=0 keel.debug keel.units=/mnt/u\n",
                &o, warn);
        CHECK(!o.shell);
        CHECK(o.debug);
        CHECK_STR(o.units_dir, "/mnt/u");
        CHECK(warnings == 0);
        cmdline_parse("keel.ready_timeout=1min", &o, warn);
        CHECK(o.ready_timeout_usec == 60000000);

        cmdline_parse("keel.hostname=\"box one\" keel.shell=maybe keel.units=relative keel.bogus=1", &o,
                      warn);
        CHECK_STR(o.hostname, "box one");
        CHECK(!o.shell); /* a bad value keeps the old one */
        CHECK_STR(o.units_dir, "/mnt/u");
        CHECK(warnings == 3);
        CHECK(strstr(last_warning, "keel.bogus") != NULL);

        CHECK(o.bridge.addr == 0x0a580001 && o.bridge.prefix == 16 && !o.uplink_static);
        cmdline_parse("keel.bridge=172.30.0.1/24 keel.ip=192.168.1.10/24,192.168.1.1", &o, warn);
        CHECK(o.bridge.addr == 0xac1e0001 && o.bridge.prefix == 24);
        CHECK(o.uplink_static && o.uplink_addr.addr == 0xc0a8010a && o.uplink_gateway == 0xc0a80101);
        cmdline_parse("keel.bridge=10.0.0.0/33", &o, warn);
        CHECK(warnings == 4 && strstr(last_warning, "keel.bridge=10.0.0.0/33") != NULL);
        CHECK(o.bridge.addr == 0xac1e0001); /* kept */
        cmdline_parse("keel.ip=10.0.0.5/24,10.1.0.1", &o, warn);
        CHECK(warnings == 5 && strstr(last_warning, "outside") != NULL);
        TAP_DONE();
}
