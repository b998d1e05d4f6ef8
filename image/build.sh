#!/bin/bash
# image/build.sh DEB OUT.img: a bootable Debian 12 appliance running net4mqtt,
# as a raw disk image (GPT; UEFI; for qemu, a hypervisor or dd to a disk).
#
# Needs root and: mmdebstrap, e2fsprogs (mkfs.ext4 -d), fdisk (sfdisk), mtools.
# Mounts nothing (not even /proc in the chroot) and needs no loop device, so it
# runs in a container too:
#   1. mmdebstrap installs Debian's packages and DEB (one apt run) into a directory;
#      customize.sh adds the files in overlay/ and stages the boot partition's
#      contents (systemd-boot, kernel, initramfs, loader entry) in boot/efi/;
#   2. mformat/mcopy make the FAT boot partition (ESP) from that, in a file;
#   3. mkfs.ext4 -d makes the root file system from the directory, in a file;
#   4. sfdisk writes a GPT into the image file, dd puts both file systems in.
# Boot: UEFI firmware -> EFI/BOOT/BOOTX64.EFI (systemd-boot, the fallback path,
# so no EFI variables are needed) -> loader/entries/net4mqtt.conf -> kernel.
#
# Environment: MIRROR (default http://deb.debian.org/debian), SECURITY_MIRROR
# (default http://deb.debian.org/debian-security), ROOT_FREE_MB (free space in
# the root file system, default 256; it grows to the disk on first boot),
# KEEP_WORK=1 (keep the work directory, for debugging).
set -euo pipefail
if [ $# -ne 2 ]; then
	echo "usage: $0 NET4MQTT.deb OUT.img" >&2
	exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
DEB=$(realpath "$1")
OUT=$2
[ -f "$DEB" ] || { echo "$0: no such file: $1" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$0: must run as root (mmdebstrap --mode=root)" >&2; exit 2; }
for t in mmdebstrap mkfs.ext4 sfdisk mformat mcopy; do
	command -v "$t" >/dev/null || { echo "$0: $t missing (apt-get install mmdebstrap e2fsprogs fdisk mtools)" >&2; exit 2; }
done
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
ROOT_FREE_MB=${ROOT_FREE_MB:-256}
ESP_MB=128

T0=$SECONDS
step() { echo "build.sh: $* [$((SECONDS - T0)) s]"; }

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/n4m-image.XXXXXX")
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
ROOT=$WORK/root

uuid() { cat /proc/sys/kernel/random/uuid; }
export N4M_OVERLAY=$HERE/overlay N4M_ESP_FILES=$HERE/esp
N4M_ESP_PARTUUID=$(uuid) N4M_ROOT_PARTUUID=$(uuid)
export N4M_ESP_PARTUUID N4M_ROOT_PARTUUID
DISK_UUID=$(uuid)

# The generic kernel (linux-image-amd64), not linux-image-cloud-amd64: the
# cloud one lacks most drivers for real NICs, USB and storage, and this image
# is also for small PCs. Its modules for hardware an appliance does not have
# (sound, GPUs, cameras, Wi-Fi, Bluetooth, InfiniBand, staging...) are left
# out by dpkg, as are manuals and translations.
# (quoted: bash would expand them against this machine's own files)
EXCLUDES=(
	'/usr/share/man/*.gz' '/usr/share/info/*.gz' '/usr/share/locale/*.mo' '/usr/share/lintian/overrides/*'
	'/usr/share/doc/*/changelog*.gz' '/usr/share/doc/*/NEWS*.gz'
)
# (patterns end in files: dpkg's * also matches "/", and excluding a directory
# whose subdirectories a package creates makes the unpack fail)
for m in sound drivers/gpu drivers/media drivers/net/wireless net/wireless net/mac80211 \
	drivers/bluetooth net/bluetooth drivers/infiniband drivers/staging drivers/isdn drivers/iio \
	drivers/input/touchscreen drivers/input/joystick drivers/nfc net/nfc drivers/net/can net/can \
	drivers/atm drivers/net/ethernet/mellanox drivers/net/wwan drivers/net/ieee802154 \
	net/ieee802154 drivers/net/fddi drivers/net/arcnet drivers/net/hamradio drivers/net/wan \
	drivers/scsi/lpfc drivers/scsi/qla2xxx drivers/scsi/qla4xxx drivers/scsi/bfa drivers/scsi/cxgbi \
	drivers/scsi/pm8001 drivers/scsi/qedf drivers/scsi/qedi drivers/scsi/be2iscsi drivers/scsi/bnx2fc \
	drivers/scsi/bnx2i drivers/scsi/csiostor drivers/scsi/fnic drivers/scsi/snic \
	fs/xfs fs/btrfs fs/nfsd fs/afs net/rxrpc fs/ubifs fs/nilfs2 fs/reiserfs fs/jfs \
	fs/ocfs2 fs/gfs2 fs/dlm fs/ceph net/ceph; do
	EXCLUDES+=("/lib/modules/*/kernel/$m/*.ko")
done
DPKGOPTS=()
for p in "${EXCLUDES[@]}"; do DPKGOPTS+=(--dpkgopt="path-exclude=$p"); done

PACKAGES=(
	systemd-sysv udev kmod dbus linux-image-amd64 initramfs-tools zstd systemd-boot-efi
	e2fsprogs iproute2 iputils-ping procps nano
	systemd-resolved systemd-timesyncd openssh-server ca-certificates mosquitto
)

# apt (outside) and dpkg (in the chroot) both open the .deb by this path: a
# copy of it in the chroot, at the same path, stands in for a bind mount
mkdir "$WORK/deb"
PKG=$WORK/deb/$(basename "$DEB" | tr -c 'A-Za-z0-9._+~\n-' _)
cp "$DEB" "$PKG"

step "mmdebstrap (bookworm, ${#PACKAGES[@]} packages + $(basename "$DEB"))"
# --skip=chroot/mount: no /proc, /sys or /dev mounted in the chroot either
# (nothing here needs them), so a container without mount rights will do.
# The merged-usr hook makes the /bin etc. symlinks itself: without it the
# essential init-system-helpers pulls in usrmerge, and with it perl.
mmdebstrap --variant=apt --mode=root --format=directory --skip=chroot/mount \
	--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
	--include="$(IFS=,; echo "${PACKAGES[*]}")" --include="$PKG" \
	--setup-hook="mkdir -p \"\$1$WORK/deb\" && cp \"$PKG\" \"\$1$PKG\"" \
	--customize-hook="rm -r \"\$1$WORK\"" \
	"${DPKGOPTS[@]}" \
	--essential-hook="$HERE/customize.sh \"\$1\" essential" \
	--customize-hook="$HERE/customize.sh \"\$1\"" \
	bookworm "$ROOT" \
	"deb $MIRROR bookworm main" \
	"deb $MIRROR bookworm-updates main" \
	"deb $SECURITY_MIRROR bookworm-security main"

step "boot partition (FAT32, ${ESP_MB} MiB)"
ESP=$WORK/esp.img
truncate -s "${ESP_MB}M" "$ESP"
mformat -i "$ESP" -F -v NET4MQTT -N "$(printf %08x $((RANDOM * 65536 + RANDOM)))" -T $((ESP_MB * 2048)) -h 64 -s 32 ::
(cd "$ROOT/boot/efi" && mcopy -i "$ESP" -s -Q ./* ::/)
rm -rf "${ROOT:?}/boot/efi" && mkdir -m 0700 "$ROOT/boot/efi"

step "root file system (ext4)"
used_mb=$(($(du -sxm "$ROOT" | cut -f1) * 11 / 10))
ROOT_MB=$(((used_mb + ROOT_FREE_MB + 3) / 4 * 4))
ROOTFS=$WORK/root.img
mkfs.ext4 -q -F -L n4m-root -b 4096 -T default -E root_owner=0:0 -d "$ROOT" "$ROOTFS" "${ROOT_MB}M"

step "disk image (GPT: ESP ${ESP_MB} MiB, root ${ROOT_MB} MiB)"
mkdir -p "$(dirname "$OUT")"
IMG=$WORK/disk.img
# 1 MiB in front (GPT, alignment), the partitions, 1 MiB at the end (backup GPT)
truncate -s $((1 + ESP_MB + ROOT_MB + 1))M "$IMG"
sfdisk -q --no-reread --no-tell-kernel "$IMG" <<SFDISK
label: gpt
label-id: $DISK_UUID
start=1MiB, size=${ESP_MB}MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=$N4M_ESP_PARTUUID, name="ESP"
start=$((1 + ESP_MB))MiB, size=${ROOT_MB}MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=$N4M_ROOT_PARTUUID, name="root"
SFDISK
dd if="$ESP" of="$IMG" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$ROOTFS" of="$IMG" bs=1M seek=$((1 + ESP_MB)) conv=notrunc,sparse status=none
rm -f "$ESP" "$ROOTFS"
mv -f "$IMG" "$OUT" 2>/dev/null || { cp --sparse=always "$IMG" "$OUT.tmp" && mv -f "$OUT.tmp" "$OUT"; }
step "done: $OUT ($(du -h --apparent-size "$OUT" | cut -f1), $(du -h "$OUT" | cut -f1) allocated)"
