#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Create a minimal BusyBox root filesystem for containers:
#
#   initramfs/rootfs-busybox.sh DIR
#
# DIR gets a static /bin/busybox, one symlink per applet, a passwd/group pair
# and the empty mount points a container runtime expects. Running it again on
# the same DIR is harmless (everything is created with -p / -f).
#
# mkimage.sh also sources this file to lay out the host root of the initramfs,
# so the BusyBox and account logic lives in one place. When sourced it only
# defines the keel_bb_* functions and runs nothing.

# The static build: containers and the initramfs have no dynamic loader or libc.
KEEL_BUSYBOX=${KEEL_BUSYBOX:-/bin/busybox}

keel_bb_die() { printf 'rootfs-busybox: %s\n' "$*" >&2; exit 1; }

# keel_bb_install DIR [SKIP...]
# Copy busybox to DIR/bin/busybox and create every applet symlink. SKIP are
# image paths (e.g. sbin/init) that must be left alone because something else
# (keel's own init and initctl) owns them.
keel_bb_install() {
	local dir=$1 path skip s
	shift
	[ -x "$KEEL_BUSYBOX" ] || keel_bb_die "$KEEL_BUSYBOX not found or not executable (apt-get install busybox-static)"
	# A dynamically linked busybox would fail inside the image with a
	# confusing "not found" from the kernel; catch it at build time.
	if command -v file >/dev/null 2>&1 && file -L "$KEEL_BUSYBOX" | grep -q 'dynamically linked'; then
		keel_bb_die "$KEEL_BUSYBOX is dynamically linked; install busybox-static"
	fi
	mkdir -p "$dir/bin"
	# Replace, never write through: DIR/bin/busybox may be a hard link.
	rm -f "$dir/bin/busybox"
	cp "$KEEL_BUSYBOX" "$dir/bin/busybox"
	chmod 0755 "$dir/bin/busybox"
	# Ask the binary we ship (not whatever is first in PATH) which applets it
	# has and where they belong (bin/, sbin/, usr/bin/, usr/sbin/, linuxrc).
	while IFS= read -r path; do
		path=${path#/}
		# The list names bin/busybox itself; a link there would replace the
		# binary with a symlink to itself.
		case "$path" in '' | bin/busybox) continue ;; esac
		skip=0
		for s in "$@"; do
			[ "$path" = "${s#/}" ] && { skip=1; break; }
		done
		[ "$skip" = 0 ] || continue
		mkdir -p "$dir/$(dirname "$path")"
		# Absolute target: it resolves to the right file both in the host root
		# and inside a container whose root is this tree.
		ln -sfn /bin/busybox "$dir/$path"
	done < <("$KEEL_BUSYBOX" --list-full)
}

# keel_bb_accounts DIR
# The accounts BusyBox tools (id, ls -l, login, httpd -u) look up.
keel_bb_accounts() {
	local dir=$1
	mkdir -p "$dir/etc"
	printf '%s\n' \
		'root:x:0:0:root:/root:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$dir/etc/passwd"
	printf '%s\n' \
		'root:x:0:' \
		'tty:x:5:' \
		'nogroup:x:65534:' >"$dir/etc/group"
	chmod 0644 "$dir/etc/passwd" "$dir/etc/group"
}

# keel_bb_dirs DIR NAME...
# Create empty directories; tmp-like ones get the sticky, world-writable mode
# because unprivileged container users need them.
keel_bb_dirs() {
	local dir=$1 d
	shift
	for d in "$@"; do
		mkdir -p "$dir/$d"
		case "$d" in
		tmp | var/tmp) chmod 1777 "$dir/$d" ;;
		*) chmod 0755 "$dir/$d" ;;
		esac
	done
}

keel_bb_rootfs_main() {
	set -euo pipefail
	# Predictable modes no matter who calls us.
	umask 022
	case "${1:-}" in
	-h | --help)
		sed -n '4,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		return 0
		;;
	esac
	if [ $# -ne 1 ] || [ -z "$1" ]; then keel_bb_die "usage: $0 DIR"; fi
	local dir=$1
	[ ! -e "$dir" ] || [ -d "$dir" ] || keel_bb_die "$dir exists and is not a directory"
	mkdir -p "$dir"
	keel_bb_install "$dir"
	keel_bb_accounts "$dir"
	# Mount points the runtime fills (proc, sys, dev, tmp, run), root's home,
	# and /www, the document root the example httpd unit serves.
	# No etc/hostname: the container's HostName= is set by the runtime via UTS.
	keel_bb_dirs "$dir" proc sys dev tmp run root www var/tmp
}

# Run only when executed, not when sourced by mkimage.sh.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	keel_bb_rootfs_main "$@"
fi
