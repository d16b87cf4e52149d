/* SPDX-License-Identifier: MIT */
/* The standalone initctl, for hosts and tests; in the image it is a name of /sbin/init. */
#include "initctl.h"

int main(int argc, char **argv) {
        return initctl_main(argc, argv);
}
