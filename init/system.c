/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "log.h"
#include "system.h"
#include "util.h"

int system_set_hostname(const char *name) {
        if (sethostname(name, strlen(name)) < 0)
                return log_error_errno(errno, "sethostname %s: %m", name);
        return 0;
}

int system_loopback_up(void) {
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(errno, "socket for lo: %m");
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return log_error_errno(errno, "lo: get flags: %m");
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                return log_error_errno(errno, "lo: bring up: %m");
        return 0;
}

#define DATA_LABEL "KEELDATA"
#define DATA_MOUNT "/var/lib/keel"

/* The ext2/3/4 superblock starts at byte 1024: magic 0xEF53 at +56, the label at +120. */
static bool has_data_label(const char *dev) {
        _cleanup_close_ int fd = open(dev, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return false;
        unsigned char sb[136];
        if (pread(fd, sb, sizeof sb, 1024) != (ssize_t) sizeof sb)
                return false;
        if (sb[56] != 0x53 || sb[57] != 0xEF)
                return false;
        return strncmp((const char *) sb + 120, DATA_LABEL, 16) == 0;
}

int system_mount_data_disk(void) {
        DIR *d = opendir("/sys/class/block");
        if (!d)
                return log_warning_errno(errno, "cannot list block devices: %m");
        struct dirent *de;
        char dev[300] = "";
        while ((de = readdir(d))) {
                /* CD-ROMs and RAM disks never carry the data disk; reading sr0 is slow. */
                if (de->d_name[0] == '.' || strncmp(de->d_name, "sr", 2) == 0 ||
                    strncmp(de->d_name, "ram", 3) == 0 || strncmp(de->d_name, "loop", 4) == 0)
                        continue;
                char p[300];
                snprintf(p, sizeof p, "/dev/%s", de->d_name);
                if (has_data_label(p)) {
                        snprintf(dev, sizeof dev, "%s", p);
                        break;
                }
        }
        closedir(d);
        if (!dev[0]) {
                log_info("no data disk (ext4 labelled " DATA_LABEL "): units and state live in RAM only");
                return 0;
        }
        int r = mkdir_p(DATA_MOUNT, 0755);
        if (r < 0)
                return log_error_errno(r, "mkdir " DATA_MOUNT ": %m");
        if (mount(dev, DATA_MOUNT, "ext4", MS_NOSUID | MS_NODEV, NULL) < 0)
                return log_error_errno(errno, "mount %s on " DATA_MOUNT ": %m", dev);
        log_info("data disk %s mounted on " DATA_MOUNT, dev);
        return 1;
}
