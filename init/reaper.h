/* SPDX-License-Identifier: MIT */
#pragma once

/* `keel-init --init STATUS_FD -- CMD ARGS…`: RunInit='s reaper, PID 1 of a container. */
int reaper_main(int argc, char **argv);
