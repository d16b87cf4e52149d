/* SPDX-License-Identifier: MIT */
/*
 * seccomp-deny: runs a command as if the kernel lacked some features, by failing the system
 * calls that would use them. Lets the host tests show keel-init's kernel check naming the
 * missing CONFIG_ option without building a second kernel.
 *
 *   seccomp-deny netns|overlay|seccomp ... -- COMMAND [ARGS...]
 */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        int i;
        for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
                int r = 0;
                if (strcmp(argv[i], "netns") == 0) /* what a kernel without CONFIG_NET_NS says */
                        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EINVAL), SCMP_SYS(unshare), 1,
                                             SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWNET, CLONE_NEWNET));
                else if (strcmp(argv[i], "overlay") == 0) /* without CONFIG_OVERLAY_FS */
                        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENODEV), SCMP_SYS(mount), 0);
                else if (strcmp(argv[i], "seccomp") == 0) /* without CONFIG_SECCOMP_FILTER */
                        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EINVAL), SCMP_SYS(seccomp), 0);
                else {
                        fprintf(stderr, "seccomp-deny: unknown feature '%s'\n", argv[i]);
                        return 2;
                }
                if (r < 0) {
                        fprintf(stderr, "seccomp-deny: %s: %s\n", argv[i], strerror(-r));
                        return 2;
                }
        }
        if (i + 1 >= argc) {
                fprintf(stderr, "usage: seccomp-deny FEATURE... -- COMMAND [ARGS...]\n");
                return 2;
        }
        if (seccomp_load(ctx) < 0) {
                perror("seccomp-deny: load");
                return 2;
        }
        execvp(argv[i + 1], argv + i + 1);
        perror("seccomp-deny: exec");
        return 127;
}
