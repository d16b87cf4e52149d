/* SPDX-License-Identifier: MIT */
/*
 * sealed_exe_copy(): the copy holds the file's bytes, has the mode asked for, and no write,
 * truncation, growth or new writable mapping changes it, whoever tries (we run as root here:
 * the seals, not permissions, refuse).
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "macros.h"
#include "sealed-exe.h"
#include "tap.h"
#include "util.h"

int main(void) {
        char path[] = "/tmp/keel-sealed-XXXXXX";
        int src = mkstemp(path);
        CHECK(src >= 0);
        const char text[] = "\x7f"
                            "ELF pretend binary\n";
        CHECK(write(src, text, sizeof text - 1) == (ssize_t) (sizeof text - 1));
        close(src);

        _cleanup_close_ int fd = sealed_exe_copy(path, "keel-test-copy", 0555);
        CHECK(fd >= 0);
        struct stat st;
        CHECK(fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0555 && st.st_size == sizeof text - 1);
        char back[64] = { 0 };
        CHECK(pread(fd, back, sizeof back, 0) == (ssize_t) (sizeof text - 1) && streq(back, text));
        int seals = fcntl(fd, F_GET_SEALS);
        CHECK(seals >= 0 && (seals & (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)) ==
                                    (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE));

        /* Through a new writable open of the same file, as /proc/PID/exe would give. */
        char self[64];
        snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
        _cleanup_close_ int w = open(self, O_RDWR | O_CLOEXEC);
        CHECK(w >= 0);
        CHECK(pwrite(w, "X", 1, 0) < 0 && errno == EPERM);
        CHECK(ftruncate(w, 0) < 0 && errno == EPERM);
        CHECK(ftruncate(w, 1 << 20) < 0 && errno == EPERM);
        CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, w, 0) == MAP_FAILED && errno == EPERM);
        CHECK(fcntl(w, F_ADD_SEALS, 0) < 0 && errno == EPERM); /* F_SEAL_SEAL: seals cannot be undone */
        CHECK(pread(fd, back, sizeof back, 0) == (ssize_t) (sizeof text - 1) && streq(back, text));

        CHECK(sealed_exe_copy("/nonexistent/keel", "x", 0555) == -ENOENT);
        unlink(path);
        TAP_DONE();
}
