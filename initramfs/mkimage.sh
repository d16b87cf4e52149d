#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build a bootable keel image: kernel, initramfs and a hybrid syslinux ISO.
#
#   initramfs/mkimage.sh --out DIR --bin BINDIR [--units DIR] [--rootfs NAME=DIR]...
#                        [--cmdline "OPTS"] [--kernel BZIMAGE] [--file SRC=DST]...
#
#   --out DIR          where vmlinuz, initrd.gz and keel.iso are written
#   --bin BINDIR       directory with keel's static keel-init and initctl (meson build dir)
#   --units DIR        *.container files baked into /etc/keel/units (default: the repo's units/)
#   --rootfs NAME=DIR  copy DIR to /usr/share/keel/rootfs/NAME (repeatable); a BusyBox
#                      rootfs named "busybox" is generated unless one is given
#   --file SRC=DST     copy one host file to DST in the image, keeping its mode (repeatable)
#   --cmdline "OPTS"   kernel options appended after "console=ttyS0 quiet"
#   --kernel BZIMAGE   kernel to boot (default: the one kernel/build.sh builds or reuses)
#   -h, --help         show this text
#
# Environment: SOURCE_DATE_EPOCH clamps file times for reproducible output;
# TMPDIR says where the staging tree is built (it needs mknod, so not nodev).
set -euo pipefail
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# Shared BusyBox/accounts/dirs helpers (keel_bb_*); sourcing runs nothing.
# shellcheck source-path=SCRIPTDIR source=rootfs-busybox.sh
. "$here/rootfs-busybox.sh"

BASE_CMDLINE="console=ttyS0 quiet"
ISOLINUX_BIN=/usr/lib/ISOLINUX/isolinux.bin
ISOHYBRID_MBR=/usr/lib/ISOLINUX/isohdpfx.bin
LDLINUX_C32=/usr/lib/syslinux/modules/bios/ldlinux.c32

log() { printf 'mkimage: %s\n' "$*" >&2; }
die() { printf 'mkimage: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '4,20p' "$here/mkimage.sh" | sed 's/^# \{0,1\}//'; }

# Relative paths are resolved against the caller's cwd before we cd anywhere.
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac; }

out='' bindir='' units='' cmdline='' kernel=''
units_given=0
rootfs_names=() rootfs_dirs=() file_srcs=() file_dsts=()

need_arg() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value (see --help)"; fi; }

while [ $# -gt 0 ]; do
	opt=$1 val=
	# Accept --opt=value as well as --opt value.
	case "$opt" in
	--*=*) val=${opt#*=} opt=${opt%%=*}; set -- "$opt" "$val" "${@:2}" ;;
	esac
	case "$opt" in
	-h | --help) usage; exit 0 ;;
	--out) need_arg "$@"; out=$(abspath "$2") ;;
	--bin) need_arg "$@"; bindir=$(abspath "$2") ;;
	--units) need_arg "$@"; units=$(abspath "$2"); units_given=1 ;;
	--kernel) need_arg "$@"; kernel=$(abspath "$2") ;;
	--cmdline) [ $# -ge 2 ] || die "--cmdline needs a value"; cmdline=$2 ;;
	--rootfs)
		need_arg "$@"
		name=${2%%=*} dir=${2#*=}
		if [ "$name" = "$2" ] || [ -z "$name" ] || [ -z "$dir" ]; then
			die "--rootfs '$2': expected NAME=DIR"
		fi
		case "$name" in
		*/* | . | ..) die "--rootfs '$2': NAME must be a plain name, not a path" ;;
		esac
		for n in "${rootfs_names[@]}"; do
			[ "$n" != "$name" ] || die "--rootfs '$2': rootfs '$name' given twice"
		done
		dir=$(abspath "$dir")
		[ -d "$dir" ] || die "--rootfs '$2': $dir is not a directory"
		rootfs_names+=("$name") rootfs_dirs+=("$dir")
		;;
	--file)
		need_arg "$@"
		src=${2%%=*} dst=${2#*=}
		if [ "$src" = "$2" ] || [ -z "$src" ] || [ -z "$dst" ]; then
			die "--file '$2': expected SRC=DST"
		fi
		src=$(abspath "$src")
		[ -f "$src" ] || die "--file '$2': $src is not a regular file"
		case "/$dst/" in
		*/../*) die "--file '$2': DST must not contain '..'" ;;
		esac
		dst=${dst#/}
		if [ -z "$dst" ] || [ "${dst%/}" != "$dst" ]; then
			die "--file '$2': DST must name a file, not a directory"
		fi
		file_srcs+=("$src") file_dsts+=("$dst")
		;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift 2
done

[ -n "$out" ] || die "--out DIR is required (see --help)"
[ -n "$bindir" ] || die "--bin BINDIR is required (see --help)"
[ -d "$bindir" ] || die "--bin: $bindir is not a directory"
for b in keel-init; do
	[ -f "$bindir/$b" ] || die "--bin: $bindir/$b not found (build keel first: meson compile -C $bindir)"
done
[ "$(id -u)" = 0 ] || die "must run as root (mknod for /dev/console and /dev/null)"
for f in "$ISOLINUX_BIN" "$ISOHYBRID_MBR" "$LDLINUX_C32"; do
	[ -r "$f" ] || die "$f missing (apt-get install isolinux syslinux-common)"
done
for t in cpio gzip xorriso; do
	command -v "$t" >/dev/null || die "$t not found (apt-get install $t)"
done
if [ "$units_given" = 0 ]; then
	units=$repo/units
elif [ ! -d "$units" ]; then
	die "--units: $units is not a directory"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keel-mkimage.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
root=$tmp/root
mkdir -p "$root"
start=$(date +%s)

# Kernel first: the only step that can take minutes, and it may fail cleanly.
if [ -z "$kernel" ]; then
	log "no --kernel: asking kernel/build.sh (builds once, then reuses its cache)"
	kernel=$(bash "$repo/kernel/build.sh" | tail -n 1) || die "kernel/build.sh failed"
fi
if [ ! -f "$kernel" ] || [ ! -s "$kernel" ]; then die "--kernel: $kernel is not a non-empty file"; fi

log "staging the root filesystem in $root"
# keel's binary owns /sbin/init, initctl and the power verbs (it dispatches on argv[0]).
# Stripped: the debug info stays in the build directory for gdb, not in every boot.
install -D -m 0755 -s "$bindir/keel-init" "$root/sbin/init"
# initctl is a name of the same binary (one static libc in the image, not two).
mkdir -p "$root/bin"
ln -sfn /sbin/init "$root/bin/initctl"
for v in poweroff reboot halt; do
	ln -sfn /bin/initctl "$root/sbin/$v"
done
# From an initramfs the kernel runs /init (rdinit=), not /sbin/init; without
# this link it falls through to mounting a root device and panics.
ln -sfn /sbin/init "$root/init"
keel_bb_install "$root" sbin/init sbin/poweroff sbin/reboot sbin/halt bin/initctl
# What BusyBox udhcpc runs on a lease (init/network.c starts udhcpc with it).
install -D -m 0755 "$here/udhcpc.script" "$root/usr/share/keel/udhcpc.script"
keel_bb_accounts "$root"
# The console shell is BusyBox ash, which runs its own applets before searching PATH: its
# `reboot` would signal SIGTERM, which keel reads as poweroff (DESIGN.md). Send the power
# verbs to initctl instead, so they do what they say and report through PID 1.
cat >"$root/etc/profile" <<'PROFILE'
alias poweroff=/sbin/poweroff reboot=/sbin/reboot halt=/sbin/halt
PROFILE
keel_bb_dirs "$root" proc sys dev run tmp root etc var/lib/keel mnt etc/keel/units usr/share/keel/rootfs
# The kernel opens /dev/console for PID 1 before anyone mounts devtmpfs, so
# the node must be in the archive itself; /dev/null serves early redirections.
mknod -m 0600 "$root/dev/console" c 5 1
mknod -m 0666 "$root/dev/null" c 1 3

# Units: a missing or empty directory gives an image with no containers, which
# is legal (the console shell still comes up), so only warn.
nunits=0
if [ -d "$units" ]; then
	for u in "$units"/*.container; do
		[ -e "$u" ] || continue
		install -m 0644 "$u" "$root/etc/keel/units/"
		nunits=$((nunits + 1))
	done
fi
[ "$nunits" -gt 0 ] || log "warning: no *.container files in $units; the image will start no containers"

# A "busybox" rootfs is what the example units use; generate one unless the
# caller brought their own.
have_busybox=0
for n in "${rootfs_names[@]}"; do [ "$n" != busybox ] || have_busybox=1; done
if [ "$have_busybox" = 0 ]; then
	"$here/rootfs-busybox.sh" "$tmp/rootfs-busybox"
	rootfs_names+=(busybox) rootfs_dirs+=("$tmp/rootfs-busybox")
fi
for i in "${!rootfs_names[@]}"; do
	dest=$root/usr/share/keel/rootfs/${rootfs_names[$i]}
	mkdir -p "$dest"
	cp -a "${rootfs_dirs[$i]}/." "$dest/"
	# Same busybox as the host root: store it once. cpio keeps hard links and
	# the rootfs is mounted read-only, so sharing the inode is safe and saves
	# about 1 MiB of compressed initramfs per such rootfs.
	if [ -f "$dest/bin/busybox" ] && [ ! -L "$dest/bin/busybox" ] && cmp -s "$dest/bin/busybox" "$root/bin/busybox"; then
		ln -f "$root/bin/busybox" "$dest/bin/busybox"
	fi
done

for i in "${!file_srcs[@]}"; do
	mkdir -p "$root/$(dirname "${file_dsts[$i]}")"
	# Unlink first: DST may be an applet symlink to /bin/busybox, and copying
	# through it would overwrite the build host's busybox.
	rm -f "$root/${file_dsts[$i]}"
	cp -p "${file_srcs[$i]}" "$root/${file_dsts[$i]}"
done

mkdir -p "$out"
for a in vmlinuz initrd.gz keel.iso; do rm -f "$out/$a"; done
cp "$kernel" "$out/vmlinuz"

# Reproducible archive: sorted names, root ownership, no mtimes newer than
# SOURCE_DATE_EPOCH, no timestamp in the gzip header.
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
	case "$SOURCE_DATE_EPOCH" in *[!0-9]*) die "SOURCE_DATE_EPOCH='$SOURCE_DATE_EPOCH' is not a number" ;; esac
	find "$root" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	touch -d "@$SOURCE_DATE_EPOCH" "$out/vmlinuz"
fi
log "writing initrd.gz"
(cd "$root" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n >"$out/initrd.gz"

log "writing keel.iso"
iso=$tmp/iso
mkdir -p "$iso/isolinux" "$iso/boot"
cp "$ISOLINUX_BIN" "$LDLINUX_C32" "$iso/isolinux/"
cp "$out/vmlinuz" "$out/initrd.gz" "$iso/boot/"
# serial 0 115200 mirrors isolinux to ttyS0 so headless machines show the
# boot; prompt 0 + timeout 0 boot "keel" at once without waiting for a key.
cat >"$iso/isolinux/isolinux.cfg" <<EOF
serial 0 115200
prompt 0
timeout 0
default keel
label keel
  kernel /boot/vmlinuz
  append initrd=/boot/initrd.gz $BASE_CMDLINE${cmdline:+ $cmdline}
EOF
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
	find "$iso" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
fi
# -isohybrid-mbr adds an MBR so the same file can be dd'ed to a USB stick.
xorriso -as mkisofs -quiet -o "$out/keel.iso" -V KEEL -R -J \
	-b isolinux/isolinux.bin -c isolinux/boot.cat \
	-no-emul-boot -boot-load-size 4 -boot-info-table \
	-isohybrid-mbr "$ISOHYBRID_MBR" \
	"$iso" 2>"$tmp/xorriso.log" || { cat "$tmp/xorriso.log" >&2; die "xorriso failed"; }

log "done in $(($(date +%s) - start))s"
for a in vmlinuz initrd.gz keel.iso; do
	awk -v n="$a" -v s="$(stat -c %s "$out/$a")" -v p="$out/$a" \
		'BEGIN { printf "%-10s %6.1f MiB  %s\n", n, s / 1048576, p }'
done
