/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
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
        CHECK(c->restart.policy == RESTART_ON_FAILURE);
        CHECK(c->restart.sec == 90 * USEC_PER_SEC);
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
        CHECK(c->restart.policy == RESTART_NO);
        CHECK(c->restart.sec == UINT64_MAX); /* keel's backoff */
        CHECK(c->restart.burst == 0);
        CHECK(c->kill_signal == SIGTERM);
        CHECK(c->memory_max == UINT64_MAX && c->tasks_max == UINT64_MAX &&
              c->cpu_quota == 0); /* no limits */
        CHECK(c->no_new_privileges && c->caps_add == 0 && c->caps_drop == 0);
        unit_config_free(c);
}

static void test_capabilities(void) {
        const char *p = write_unit(
                "caps", "[Container]\nRootfs=/r\nExec=true\n"
                        "AddCapability=NET_ADMIN cap_sys_time\nAddCapability=Sys_Admin\n"
                        "DropCapability=ALL\nNoNewPrivileges=no\nReadOnly=yes\nWorkingDir=/srv\n");
        UnitConfig *c = NULL;
        char **errors = NULL;
        CHECK(unit_file_load(p, "caps", &c, &errors) == 0 && !errors);
        CHECK(c->caps_add ==
              ((1ull << 12) | (1ull << 25) | (1ull << 21))); /* NET_ADMIN SYS_TIME SYS_ADMIN */
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

static void test_runtime_keys(void) {
        const char *p = write_unit("rt", "[Container]\nRootfs=/r\nExec=true\n"
                                         "Volume=/srv/www:/www:ro,nosuid\n"
                                         "Volume=data:/var/lib/data\n"
                                         "Mount=type=bind,source=/etc/app,destination=/etc/app,ro=true\n"
                                         "Mount=type=tmpfs,destination=/cache,tmpfs-size=16M\n"
                                         "Tmpfs=/run/x:size=1m,mode=0700,exec\n"
                                         "User=app\nGroup=100\nGroupAdd=wheel 3000\n"
                                         "EnvironmentFile=-/etc/app.env\n"
                                         "Ulimit=nofile=2048:4096\nUlimit=core=-1\nUlimit=nofile=10\n"
                                         "RunInit=yes\nUserNS=auto\nNetwork=host\n"
                                         "SeccompProfile=unconfined\n"
                                         "[Service]\nMemoryHigh=48M\nMemorySwapMax=0\nCPUWeight=200\n"
                                         "IOWeight=50\nAllowedCPUs=0-1,3\n");
        UnitConfig *c = NULL;
        char **errors = NULL;
        CHECK(unit_file_load(p, "rt", &c, &errors) == 0);
        CHECK(!errors);
        CHECK(c->mounts.n == 5);
        CHECK_STR(c->mounts.v[0].source, "/srv/www");
        CHECK(c->mounts.v[0].readonly && (c->mounts.v[0].flags & MS_NOSUID));
        CHECK_STR(c->mounts.v[1].source, "/var/lib/keel/volumes/data");
        CHECK(c->mounts.v[1].named && !c->mounts.v[1].readonly);
        CHECK(c->mounts.v[2].readonly);
        CHECK(!c->mounts.v[3].source);
        CHECK_STR(c->mounts.v[3].options, "size=16M");
        CHECK_STR(c->mounts.v[4].options, "size=1m,mode=0700");
        CHECK(!(c->mounts.v[4].flags & MS_NOEXEC) && (c->mounts.v[4].flags & MS_NODEV));
        CHECK_STR(c->user, "app");
        CHECK_STR(c->group, "100");
        CHECK(strv_length(c->groups_add) == 2);
        CHECK(c->ulimits.n == 2);
        CHECK(c->ulimits.v[0].resource == RLIMIT_NOFILE && c->ulimits.v[0].soft == 10 &&
              c->ulimits.v[0].hard == 10);
        CHECK(c->ulimits.v[1].soft == UINT64_MAX);
        CHECK(c->run_init && c->userns == USERNS_AUTO && c->network == NETWORK_HOST);
        CHECK_STR(c->seccomp_profile, "unconfined");
        CHECK(c->memory_high == 48u << 20 && c->memory_swap_max == 0);
        CHECK(c->cpu_weight == 200 && c->io_weight == 50);
        CHECK_STR(c->allowed_cpus, "0-1,3");
        unit_config_free(c);

        p = write_unit("rtbad", "[Container]\nRootfs=/r\nExec=true\n"
                                "Volume=/srv\n"                             /* 4 */
                                "Volume=rel/path:/x\n"                      /* 5 */
                                "Volume=/a:data\n"                          /* 6 */
                                "Volume=/a:/b:rx\n"                         /* 7 */
                                "Mount=type=nfs,destination=/x\n"           /* 8 */
                                "Mount=type=bind,destination=/x\n"          /* 9 */
                                "Tmpfs=/t:size=1m;rm\n"                     /* 10 */
                                "Ulimit=files=10\n"                         /* 11 */
                                "Ulimit=nofile=20:10\n"                     /* 12 */
                                "User=a:b\n"                                /* 13 */
                                "UserNS=keep-id\n"                          /* 14 */
                                "Network=bridge0\n"                         /* 15 */
                                "SeccompProfile=relative.json\n"            /* 16 */
                                "Volume=/a:/../etc\n"                       /* 17 */
                                "Tmpfs=/a\nTmpfs=/a\n"                      /* 18, 19 */
                                "[Service]\nCPUWeight=0\nAllowedCPUs=1-0\n" /* 21, 22 */
                                "MemorySwapMax=lots\n");                    /* 23 */
        errors = NULL;
        unit_file_load(p, "rtbad", &c, &errors);
        CHECK(has_error(errors, "rtbad.container:4: Volume=: expected SOURCE:DEST[:OPTIONS], got '/srv'"));
        CHECK(has_error(errors, "rtbad.container:5: Volume=: source 'rel/path' is neither an absolute path "
                                "nor a volume name"));
        CHECK(has_error(errors, "rtbad.container:6: Volume=: destination 'data' must be an absolute path"));
        CHECK(has_error(errors, "rtbad.container:7: Volume=: unknown volume option 'rx'"));
        CHECK(has_error(errors, "rtbad.container:8: Mount=: unknown type 'nfs'"));
        CHECK(has_error(errors, "rtbad.container:9: Mount=: type=bind needs source="));
        CHECK(has_error(errors, "rtbad.container:10: Tmpfs=: bad tmpfs option 'size=1m;rm'"));
        CHECK(has_error(errors, "rtbad.container:11: Ulimit=: expected NAME=SOFT[:HARD]"));
        CHECK(has_error(errors, "rtbad.container:12: Ulimit=: soft limit above the hard limit"));
        CHECK(has_error(errors, "rtbad.container:13: User=: invalid user or group 'a:b'"));
        CHECK(has_error(errors,
                        "rtbad.container:14: UserNS=: invalid UserNS= value 'keep-id' (host, auto)"));
        CHECK(has_error(
                errors,
                "rtbad.container:15: Network=: invalid Network= value 'bridge0' (bridge, none, host)"));
        CHECK(has_error(errors, "rtbad.container:16: SeccompProfile=: invalid SeccompProfile="));
        CHECK(has_error(errors, "rtbad.container:17: Volume=: destination '/../etc' contains '..'"));
        CHECK(has_error(errors, "rtbad.container:19: Tmpfs=: /a is already a mount destination"));
        CHECK(has_error(errors, "rtbad.container:21: CPUWeight=: invalid weight '0'"));
        CHECK(has_error(errors, "rtbad.container:22: AllowedCPUs=: invalid CPU list '1-0'"));
        CHECK(has_error(errors, "rtbad.container:23: MemorySwapMax=: invalid size 'lots'"));
        unit_config_free(c);
        strv_free(errors);
}

static void test_dependency_and_restart_keys(void) {
        const char *p =
                write_unit("dep", "[Unit]\nAfter=db.container cache\nRequires=db\nWants=log\nBefore=web\n"
                                  "StartLimitBurst=3\nStartLimitIntervalSec=1min\n"
                                  "[Container]\nRootfs=/r\nExec=true\n"
                                  "[Service]\nRestart=on-abnormal\nRestartSec=2s\nRestartSteps=4\n"
                                  "RestartMaxDelaySec=1min\nSuccessExitStatus=3 SIGUSR1\n"
                                  "RestartPreventExitStatus=42\n");
        UnitConfig *c = NULL;
        char **errors = NULL;
        CHECK(unit_file_load(p, "dep", &c, &errors) == 0 && !errors);
        CHECK(strv_length(c->after) == 2);
        CHECK_STR(c->after[0], "db");
        CHECK_STR(c->requires[0], "db");
        CHECK_STR(c->wants[0], "log");
        CHECK_STR(c->before[0], "web");
        CHECK(c->restart.policy == RESTART_ON_ABNORMAL && c->restart.sec == 2 * USEC_PER_SEC);
        CHECK(c->restart.steps == 4 && c->restart.max_delay == 60 * USEC_PER_SEC);
        CHECK(c->restart.burst == 3 && c->restart.interval == 60 * USEC_PER_SEC);
        CHECK(exit_status_set_has(&c->restart.success, false, 3));
        CHECK(exit_status_set_has(&c->restart.success, true, SIGUSR1));
        CHECK(!exit_status_set_has(&c->restart.success, false, 4));
        CHECK(exit_status_set_has(&c->restart.prevent, false, 42));
        unit_config_free(c);

        p = write_unit("depbad", "[Unit]\nAfter=bad/name\n[Container]\nRootfs=/r\nExec=true\n"
                                 "[Service]\nRestart=sometimes\nSuccessExitStatus=300\nRestartSteps=x\n");
        errors = NULL;
        unit_file_load(p, "depbad", &c, &errors);
        CHECK(has_error(errors, "depbad.container:2: After=: invalid unit name 'bad/name'"));
        CHECK(has_error(errors,
                        "depbad.container:7: Restart=: invalid Restart= value 'sometimes' (no, on-success"));
        CHECK(has_error(errors, "depbad.container:8: SuccessExitStatus=: '300' is neither an exit code"));
        CHECK(has_error(errors, "depbad.container:9: RestartSteps=: invalid number 'x'"));
        unit_config_free(c);
        strv_free(errors);
}

static void test_network_keys(void) {
        const char *p = write_unit("net", "[Container]\nRootfs=/r\nExec=true\n"
                                          "IP=10.88.0.7\n"
                                          "PublishPort=8080:80\n"
                                          "PublishPort=127.0.0.1:5353:53/udp\n"
                                          "AddHost=db.example:192.168.1.5\n"
                                          "DNS=1.1.1.1 9.9.9.9\nDNS=8.8.8.8\n");
        UnitConfig *c = NULL;
        char **errors = NULL;
        CHECK(unit_file_load(p, "net", &c, &errors) == 0);
        CHECK(!errors);
        CHECK(c->network == NETWORK_BRIDGE); /* the default */
        CHECK(c->net.ip == 0x0a580007 && c->net.ip_line == 4);
        CHECK(c->net.n_ports == 2 && c->net.ports_line == 5);
        CHECK(c->net.ports[0].host_port == 8080 && c->net.ports[0].container_port == 80 &&
              c->net.ports[0].proto == 6 && c->net.ports[0].host_addr == 0);
        CHECK(c->net.ports[1].host_addr == 0x7f000001 && c->net.ports[1].proto == 17);
        CHECK(c->net.n_add_hosts == 1 && c->net.add_hosts[0].addr == 0xc0a80105);
        CHECK_STR(c->net.add_hosts[0].name, "db.example");
        CHECK(c->net.n_dns == 3 && c->net.dns[2] == 0x08080808);
        unit_config_free(c);

        p = write_unit("netbad", "[Container]\nRootfs=/r\nExec=true\n"
                                 "IP=10.88.0\n"                               /* 4 */
                                 "PublishPort=80\n"                           /* 5 */
                                 "PublishPort=8080:80\nPublishPort=8080:81\n" /* 6, 7 */
                                 "AddHost=nocolon\n"                          /* 8 */
                                 "DNS=example.com\n");                        /* 9 */
        errors = NULL;
        unit_file_load(p, "netbad", &c, &errors);
        CHECK(has_error(errors, "netbad.container:4: IP=: "));
        CHECK(has_error(errors, "netbad.container:5: PublishPort=: "));
        CHECK(has_error(errors, "netbad.container:7: PublishPort=: tcp port 8080 is already published"));
        CHECK(has_error(errors, "netbad.container:8: AddHost=: "));
        CHECK(has_error(errors, "netbad.container:9: DNS=: "));
        unit_config_free(c);
        strv_free(errors);

        p = write_unit("nethost", "[Container]\nRootfs=/r\nExec=true\nNetwork=none\nPublishPort=80:80\n");
        errors = NULL;
        unit_file_load(p, "nethost", &c, &errors);
        CHECK(has_error(errors, "nethost.container:5: PublishPort= needs Network=bridge (the default), not "
                                "Network=none"));
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
        test_network_keys();
        test_errors();
        test_limits();
        test_runtime_keys();
        test_dependency_and_restart_keys();
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        (void) !system(cmd);
        TAP_DONE();
}
