#!/bin/sh
# mmdebstrap hooks for image/build.sh, on ROOT (the Debian tree being built).
# Plain file editing and `chroot ROOT cmd` only; nothing is mounted.
# Environment (from build.sh): N4M_OVERLAY, N4M_ESP_FILES, N4M_ROOT_PARTUUID,
# N4M_ESP_PARTUUID.
#   customize.sh ROOT essential   (--essential-hook: before the kernel and the
#                                  other packages are installed)
#   customize.sh ROOT             (--customize-hook: at the end)
set -eu
root=$1
esp=$root/boot/efi # the boot partition's contents; build.sh moves them into the FAT

if [ "${2:-}" = essential ]; then
	# the appliance's own files (owned by root whoever checked the repository
	# out), among them the update-initramfs hook that puts each kernel and
	# initramfs on the boot partition: the kernel's installation runs it
	tar -C "$N4M_OVERLAY" --owner=0 --group=0 --numeric-owner -cf - . |
		tar -C "$root" --no-overwrite-dir -xf -
	cat >"$root/etc/fstab" <<FSTAB
# the root file system grows to its partition's size (systemd-repart grows the
# partition to the disk's, /etc/repart.d/50-root.conf)
PARTUUID=$N4M_ROOT_PARTUUID / ext4 defaults,errors=remount-ro,x-systemd.growfs 0 1
# the boot partition (FAT): kernel, systemd-boot, and the user's settings
PARTUUID=$N4M_ESP_PARTUUID /boot/efi vfat umask=0077,shortname=winnt,nofail 0 2
FSTAB
	# systemd-boot's configuration; the hook fills in linux and initrd
	mkdir -p "$esp/EFI/BOOT" "$esp/loader/entries"
	printf 'timeout 0\neditor no\ndefault net4mqtt.conf\n' >"$esp/loader/loader.conf"
	printf 'options root=PARTUUID=%s ro console=tty0 console=ttyS0,115200n8 systemd.firstboot=off\n' \
		"$N4M_ROOT_PARTUUID" >"$esp/loader/entries/net4mqtt.conf"
	cp "$N4M_ESP_FILES"/* "$esp/"
	# one initramfs, made at the end: the kernel's installation and then the
	# initramfs-tools trigger would each make one (a minute each); until then
	# update-initramfs is a stub, and the real one waits under a diversion
	chroot "$root" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs
	printf '#!/bin/sh\nexit 0\n' >"$root/usr/sbin/update-initramfs"
	chmod 0755 "$root/usr/sbin/update-initramfs"
	exit 0
fi

rm "$root/usr/sbin/update-initramfs"
chroot "$root" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs
for modules in "$root"/lib/modules/*; do # its hook puts kernel and initramfs on the boot partition
	chroot "$root" update-initramfs -c -k "${modules##*/}"
done

echo net4mqtt >"$root/etc/hostname"
# no 127.0.1.1 line: systemd-resolved answers "net4mqtt" with the box's own
# addresses, so LAN clients can use the name
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# UTC (no /etc/localtime: no tzdata), the C.UTF-8 locale (built into libc)
echo LANG=C.UTF-8 >"$root/etc/default/locale"
ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
chroot "$root" passwd -q -l root

# each machine makes its own ssh host keys (ssh.service.d/hostkeys.conf)
rm -f "$root"/etc/ssh/ssh_host_*

chroot "$root" systemctl -q enable systemd-networkd.service systemd-resolved.service \
	net4mqtt.service net4mqtt-bootconfig.service
chroot "$root" systemctl -q disable mosquitto.service

# systemd-boot as the fallback boot loader (EFI/BOOT/BOOTX64.EFI): no EFI
# variables needed
cp "$root/usr/lib/systemd/boot/efi/systemd-bootx64.efi" "$esp/EFI/BOOT/BOOTX64.EFI"
if ! grep -q '^linux' "$esp/loader/entries/net4mqtt.conf"; then
	echo "customize.sh: no kernel on the boot partition" >&2
	exit 1
fi
