/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the input is a whole unit file. unit_file_load() reads from a path, so the
 * input goes into a memfd that is opened again through /proc/self/fd for every run: no file
 * system is touched and nothing is left behind. Every input must parse (to a config, errors, or
 * both) without a crash, a leak, or a slow run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "unit-file.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char path[64];

static void write_all(int fd, const uint8_t *data, size_t size) {
        if (ftruncate(fd, 0) < 0)
                abort();
        for (size_t done = 0; done < size;) {
                ssize_t k = pwrite(fd, data + done, size - done, (off_t) done);
                if (k <= 0)
                        abort();
                done += (size_t) k;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* Past the parser's cap every input takes the same "file too large" path: a little
         * over it is enough to keep that path covered, more only slows the fuzzer down. */
        if (size > UNIT_FILE_MAX + 1024)
                return 0;
        if (memfd < 0) {
                memfd = memfd_create("fuzz-unit-file", MFD_CLOEXEC);
                if (memfd < 0)
                        abort();
                snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
        }
        write_all(memfd, data, size);

        UnitConfig *config = NULL;
        char **errors = NULL;
        int r = unit_file_load(path, "fuzz", &config, &errors);
        /* The contract: a config for every readable file, and a config with no errors has what a
         * start needs. */
        if (r >= 0 && !config)
                abort();
        if (config && !errors && (!config->rootfs || !config->exec || !config->exec[0]))
                abort();
        unit_config_free(config);
        strv_free(errors);
        return 0;
}
