/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"
#include "unit-file.h"
#include "util.h"

static char dir[] = "/tmp/keel-test-unit.XXXXXX";

static const char *write_unit(const char *name, const char *text) {
        static char path[256];
        snprintf(path, sizeof path, "%s/%s.container", dir, name);
        FILE *f = fopen(path, "w");
        fputs(text, f);
        fclose(f);
        return path;
}

static bool has_error(char **errors, const char *needle) {
        for (char **e = errors; e && *e; e++)
                if (strstr(*e, needle))
                        return true;
        printf("# missing error '%s'; have:\n", needle);
        for (char **e = errors; e && *e; e++)
                printf("#   %s\n", *e);
        return false;
}

static void test_good(void) {
        /* A 300-byte value: Debian's inih would cut it at 200. */
        char long_value[301];
        memset(long_value, 'x', 300);
        long_value[300] = 0;
        char text[2048];
        snprintf(text, sizeof text,
                 "# a comment\n"
                 "; another comment\n"
                 "[Unit]\n"
                 "Description=Web ; not a comment\n"
                 "\n"
                 "[Container]\n"
                 "Rootfs=/usr/share/keel/rootfs/busybox\n"
                 "Exec=/bin/sh -c 'echo a ; echo b' \\\n"
                 "     \"two words\"\n"
                 "   Environment=A=1 B=2\n"
                 "Environment=LONG=%s\n"
                 "HostName=web-1\n"
                 "[Service]\n"
                 "Restart=on-failure\n"
                 "RestartSec=1min 30s\n"
                 "KillSignal=SIGINT\n"
                 "TimeoutStopSec=500ms\n"
                 "MemoryMax=64M\n"
                 "TasksMax=32\n"
                 "CPUQuota=20%%\n",
                 long_value);
        const char *p = write_unit("web", text);
        UnitConfig *c = NULL;
        char **errors = NULL;
        CHECK(unit_file_load(p, "web", &c, &errors) == 0);
        CHECK(strv_length(errors) == 0);
        for (char **e = errors; e && *e; e++)
                printf("# unexpected: %s\n", *e);
        CHECK_STR(c->description, "Web ; not a comment");
        CHECK_STR(c->rootfs, "/usr/share/keel/rootfs/busybox");
        CHECK(strv_length(c->exec) == 4);
        CHECK_STR(c->exec[2], "echo a ; echo b");
        CHECK_STR(c->exec[3], "two words");
        CHECK(strv_length(c->environment) == 3);
        CHECK(c->environment[2] && strlen(c->environment[2]) == 305); /* "LONG=" + 300: arrived whole */
        CHECK_STR(c->hostname, "web-1");
        CHECK(c->restart == RESTART_ON_FAILURE);
        CHECK(c->restart_usec == 90 * USEC_PER_SEC);
        CHECK(c->kill_signal == SIGINT);
        CHECK(c->timeout_stop_usec == 500 * USEC_PER_MSEC);
        CHECK(c->memory_max == 64ull << 20);
        CHECK(c->tasks_max == 32);
        CHECK(c->cpu_quota == 2000);
        unit_config_free(c);
        strv_free(errors);
}

static void test_defaults(void) {
        const char *p = write_unit("my_app", "[Container]\nRootfs=/r\nExec=true\n");
        UnitConfig *c = NULL;
        char **errors = NULL;
        CHECK(unit_file_load(p, "my_app", &c, &errors) == 0 && !errors);
        CHECK_STR(c->hostname, "my-app"); /* the unit name, made a valid host name */
        CHECK(c->restart == RESTART_NO);
        CHECK(c->restart_usec == UNIT_DEFAULT_RESTART_USEC);
        CHECK(c->kill_signal == SIGTERM);
        CHECK(c->memory_max == UINT64_MAX && c->tasks_max == UINT64_MAX && c->cpu_quota == 0); /* no limits */
        CHECK(c->no_new_privileges && c->caps_add == 0 && c->caps_drop == 0);
        unit_config_free(c);
}

static void test_capabilities(void) {
        const char *p = write_unit("caps", "[Container]\nRootfs=/r\nExec=true\n"
                                           "AddCapability=NET_ADMIN cap_sys_time\nAddCapability=Sys_Admin\n"
                                           "DropCapability=ALL\nNoNewPrivileges=no\nReadOnly=yes\nWorkingDir=/srv\n");
        UnitConfig *c = NULL;
        char **errors = NULL;
        CHECK(unit_file_load(p, "caps", &c, &errors) == 0 && !errors);
        CHECK(c->caps_add == ((1ull << 12) | (1ull << 25) | (1ull << 21))); /* NET_ADMIN SYS_TIME SYS_ADMIN */
        CHECK(c->caps_drop == UINT64_MAX);
        CHECK(!c->no_new_privileges);
        CHECK(c->read_only);
        CHECK_STR(c->working_dir, "/srv");
        unit_config_free(c);

        p = write_unit("badcaps", "[Container]\nRootfs=/r\nExec=true\nAddCapability=NET_ADMIN FLY\n"
                                  "NoNewPrivileges=perhaps\n");
        errors = NULL;
        unit_file_load(p, "badcaps", &c, &errors);
        CHECK(has_error(errors, "badcaps.container:4: AddCapability=: unknown capability 'FLY'"));
        CHECK(has_error(errors, "badcaps.container:5: NoNewPrivileges=: invalid boolean 'perhaps'"));
        CHECK(c->caps_add == 0); /* refused whole, never half-applied */
        unit_config_free(c);
        strv_free(errors);
}

static void test_limit_errors(void) {
        const char *p = write_unit("lim", "[Container]\nRootfs=/r\nExec=true\n[Service]\n"
                                          "MemoryMax=lots\nTasksMax=0\nCPUQuota=50\nMemoryMax=100\n");
        UnitConfig *c = NULL;
        char **errors = NULL;
        unit_file_load(p, "lim", &c, &errors);
        CHECK(has_error(errors, "lim.container:5: MemoryMax=: invalid size 'lots'"));
        CHECK(has_error(errors, "lim.container:6: TasksMax=: invalid count '0'"));
        CHECK(has_error(errors, "lim.container:7: CPUQuota=: invalid percentage '50'"));
        CHECK(has_error(errors, "lim.container:8: MemoryMax=: invalid size '100'")); /* under a page */
        unit_config_free(c);
        strv_free(errors);
}

static void test_environment_reset(void) {
        const char *p = write_unit(
                "env",
                "[Container]\nRootfs=/r\nExec=true\nEnvironment=A=1\nEnvironment=\nEnvironment=B=2\n");
        UnitConfig *c = NULL;
        char **errors = NULL;
        CHECK(unit_file_load(p, "env", &c, &errors) == 0 && !errors);
        CHECK(strv_length(c->environment) == 1);
        CHECK_STR(c->environment[0], "B=2");
        unit_config_free(c);
}

static void test_errors(void) {
        const char *p = write_unit("bad", "Rootfs=/early\n"                /* 1 */
                                          "[Container]\n"                  /* 2 */
                                          "Exce=/bin/true\n"               /* 3 */
                                          "Restart=always\n"               /* 4 */
                                          "this line has no equals sign\n" /* 5 */
                                          "Rootfs=relative/path\n"         /* 6 */
                                          "[Service]\n"                    /* 7 */
                                          "Restart=sometimes\n"            /* 8 */
                                          "RestartSec=soon\n"              /* 9 */
                                          "[Network]\n"                    /* 10 */
                                          "Foo=bar\n"                      /* 11 */
                                          "[Container]\n"                  /* 12 */
                                          "Environment=1X=y\n"             /* 13 */
                                          "Exec=echo 'open\n");            /* 14 */
        UnitConfig *c = NULL;
        char **errors = NULL;
        unit_file_load(p, "bad", &c, &errors);
        CHECK(has_error(errors, "bad.container:1: key 'Rootfs' outside of a section"));
        CHECK(has_error(errors, "bad.container:3: unknown key 'Exce' in [Container]; did you mean 'Exec'?"));
        CHECK(has_error(errors, "bad.container:4: key 'Restart' belongs in [Service], not [Container]"));
        CHECK(has_error(errors, "bad.container:5: expected 'Key=value' or '[Section]'"));
        CHECK(has_error(errors, "bad.container:6: Rootfs=: 'relative/path' is not an absolute path"));
        CHECK(has_error(errors, "bad.container:8: Restart=: invalid Restart= value 'sometimes'"));
        CHECK(has_error(errors, "bad.container:9: RestartSec=: invalid time span 'soon'"));
        CHECK(has_error(errors, "bad.container:10: unknown section [Network]"));
        CHECK(!has_error(errors, ":11:")); /* keys of an unknown section: reported once, at the header */
        CHECK(has_error(errors, "bad.container:13: Environment=: invalid environment assignment '1X=y'"));
        CHECK(has_error(errors, "bad.container:14: Exec=: unbalanced single quote"));
        CHECK(has_error(errors, "bad.container: missing Rootfs= in [Container]"));
        CHECK(has_error(errors, "bad.container: missing Exec= in [Container]"));
        unit_config_free(c);
        strv_free(errors);
}

static void test_limits(void) {
        /* A 5000-byte line is refused with its line number, not truncated. */
        char *text = malloc(6000);
        strcpy(text, "[Container]\nRootfs=/r\nExec=/bin/echo ");
        size_t l = strlen(text);
        memset(text + l, 'a', 5000);
        strcpy(text + l + 5000, "\n");
        const char *p = write_unit("long", text);
        free(text);
        UnitConfig *c = NULL;
        char **errors = NULL;
        unit_file_load(p, "long", &c, &errors);
        CHECK(has_error(errors, "long.container:3: line too long (limit 4096 bytes)"));
        unit_config_free(c);
        strv_free(errors);

        /* A file over the size cap is refused without being parsed. */
        char *big = malloc(UNIT_FILE_MAX + 100);
        memset(big, '#', UNIT_FILE_MAX + 99);
        big[UNIT_FILE_MAX + 99] = 0;
        p = write_unit("big", big);
        free(big);
        errors = NULL;
        CHECK(unit_file_load(p, "big", &c, &errors) == -EFBIG);
        CHECK(has_error(errors, "file too large"));
        strv_free(errors);

        p = write_unit("bad name!", "[Container]\nRootfs=/r\nExec=true\n");
        errors = NULL;
        unit_file_load(p, "bad name!", &c, &errors);
        CHECK(has_error(errors, "invalid unit name 'bad name!'"));
        unit_config_free(c);
        strv_free(errors);
}

int main(void) {
        if (!mkdtemp(dir))
                return 1;
        test_good();
        test_defaults();
        test_environment_reset();
        test_limit_errors();
        test_capabilities();
        test_errors();
        test_limits();
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        (void) !system(cmd);
        TAP_DONE();
}
