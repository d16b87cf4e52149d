/* SPDX-License-Identifier: MIT */
/*
 * Sealed in-memory copies of keel's own binary, so that no container ever reaches the host's.
 *
 * A container process is a clone of PID 1 until its execve(): its /proc/self/exe is whatever
 * PID 1 runs. A script in an image that starts "#!/proc/self/exe" would run that binary as
 * the container's PID 1, and a process holding /proc/PID/exe could write to it once nothing
 * runs it any more (runc's CVE-2019-5736). So PID 1 runs from a sealed memfd copy whose mode
 * is 0 (nobody may execute it again, root included: exec needs an x bit), and RunInit='s reaper
 * is executed from a second sealed copy by fd. Seals make the copies immutable whatever the
 * caller's privileges; ETXTBSY is not what protects them.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include "macros.h"
#include "sealed-exe.h"
#include "util.h"

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

int sealed_exe_copy(const char *path, const char *name, mode_t mode) {
        _cleanup_close_ int src = open(path, O_RDONLY | O_CLOEXEC);
        if (src < 0)
                return negative_errno();
        struct stat st;
        if (fstat(src, &st) < 0)
                return negative_errno();
        _cleanup_close_ int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return negative_errno();
        for (off_t done = 0; done < st.st_size;) {
                ssize_t n = sendfile(fd, src, NULL, (size_t) (st.st_size - done));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? negative_errno() : -EIO;
                done += n;
        }
        if (fchmod(fd, mode) < 0 || fcntl(fd, F_ADD_SEALS, SEALS) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

bool sealed_exe_is_self(void) {
        char target[64];
        ssize_t n = readlink("/proc/self/exe", target, sizeof target - 1);
        if (n < 0)
                return false;
        target[n] = 0;
        return strncmp(target, "/memfd:", 7) == 0;
}

/* The reaper's copy: made at the first RunInit= spawn, kept for every later one. */
int sealed_exe_reaper(void) {
        static int fd = -1;
        if (fd < 0)
                fd = sealed_exe_copy("/proc/self/exe", "keel-init", 0555);
        return fd;
}
