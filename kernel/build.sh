#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build keel's kernel from Debian's linux-source-6.1 and cache the bzImage
# outside the clone, keyed by (config fragment, source package version), so
# that repeated builds, the tests and CI rebuild only when one of those changes.
#
#   kernel/build.sh [OUT_BZIMAGE]
#
# Prints the cached bzImage's path on stdout (progress goes to stderr) and
# copies it to OUT_BZIMAGE when given. KEEL_CACHE (default /var/cache/keel)
# says where the cache lives.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
fragment=$here/keel.config
cache=${KEEL_CACHE:-/var/cache/keel}
tarball=/usr/src/linux-source-6.1.tar.xz

log() { printf 'kernel: %s\n' "$*" >&2; }

[ -r "$tarball" ] || { log "missing $tarball (apt-get install linux-source-6.1)"; exit 1; }
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
key=$( { echo "$srcver"; cat "$fragment"; } | sha256sum | cut -c1-16)
dest=$cache/kernel/$key
out=${1:-}

if [ -s "$dest/bzImage" ]; then
        log "cached: $dest/bzImage (linux-source-6.1 $srcver, fragment $key)"
else
        src=$cache/src/linux-source-6.1-$srcver
        if [ ! -f "$src/.unpacked" ]; then
                log "unpacking $tarball (once per source version)…"
                rm -rf "$src" && mkdir -p "$src"
                tar -xf "$tarball" -C "$src" --strip-components=1
                touch "$src/.unpacked"
        fi
        build=$cache/build/$key
        rm -rf "$build" && mkdir -p "$build"
        mk() { make -C "$src" O="$build" ARCH=x86_64 "$@"; }
        log "configuring: tinyconfig + $(basename "$fragment")"
        mk -s tinyconfig >/dev/null
        "$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "$fragment" >/dev/null
        mk -s olddefconfig >/dev/null
        # A fragment line that did not stick means a missing dependency: fail now,
        # not with an obscure error at boot.
        missing=0
        while IFS= read -r line; do
                case "$line" in CONFIG_*=*) ;; *) continue ;; esac
                opt=${line%%=*} want=${line#*=}
                if [ "$want" = n ]; then
                        grep -q "^$opt=" "$build/.config" && { log "option $opt should be off but is on"; missing=1; }
                else
                        grep -qx "$line" "$build/.config" || { log "option $line did not stick (a dependency is missing)"; missing=1; }
                fi
        done < "$fragment"
        [ "$missing" = 0 ] || exit 1
        jobs=$(nproc)
        log "building bzImage with $jobs jobs (first build: ~6-7 minutes on 2 cores)…"
        start=$(date +%s)
        # One line per compiled file is too much on a console; print a counter instead.
        mk -j"$jobs" bzImage 2>&1 | awk -v t="$start" '
                /^  (CC|AS|LD|AR)/ { n++; if (n % 200 == 0) { printf "kernel: %d objects, %ds\n", n, systime() - t > "/dev/stderr" } next }
                /error|Error|warning: / { print > "/dev/stderr" }'
        [ "${PIPESTATUS[0]}" = 0 ] || { log "kernel build failed (log above; build dir $build)"; exit 1; }
        mkdir -p "$dest"
        cp "$build/arch/x86/boot/bzImage" "$dest/bzImage.tmp" && mv "$dest/bzImage.tmp" "$dest/bzImage"
        cp "$build/.config" "$dest/config"
        cp "$build/System.map" "$dest/System.map" # names initcall addresses in boot profiles
        rm -rf "$build"
        log "built in $(( $(date +%s) - start ))s: $dest/bzImage ($(stat -c %s "$dest/bzImage") bytes)"
fi

if [ -n "$out" ]; then
        mkdir -p "$(dirname "$out")"
        cp "$dest/bzImage" "$out"
fi
echo "$dest/bzImage"
