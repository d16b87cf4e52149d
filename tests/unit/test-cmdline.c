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
        TAP_DONE();
}
