#!/usr/bin/env bash
# shellcheck disable=SC2016 # $(...) in single quotes runs on the appliance, over ssh
# shellcheck disable=SC2054 # commas in qemu options
# image/test.sh IMG NET4MQTT_BINARY: boots a copy of the appliance image in qemu
# (software emulation: -accel tcg; IMAGE_ACCEL=kvm to use KVM) and checks that
# its net4mqtt gateway carries a LAN host's TCP flow to a site behind an agent.
#
#   ns lan               ns hub                                   ns site
#   192.168.77.10 ─tap── qemu: the appliance                      10.98.0.2
#   (route 10.99.0.0/24    wan: user-mode net, 10.0.2.15 ────┐    10.99.0.1:80 (payload)
#    via 192.168.77.1)     lan: 192.168.77.1, DHCP, DNS     │    net4mqtt agent -i site
#                        mosquitto 127.0.0.1:PORT ◄─────────┘         │
#                                  10.98.0.1:PORT ◄── veth ───────────┘
#
# qemu runs inside the hub namespace, so the host side of its user-mode network
# (10.0.2.2) is the hub's loopback, where the broker listens, and nothing the
# guest sends can leave the namespaces this test made. The tap is made in the
# hub, opened by qemu, then moved into the lan namespace (and back for the
# second boot). The guest gets its settings the way a user gives them: files
# copied (mcopy) onto the boot partition of the copy of the image, which is
# also made 512 MiB larger than the image, as a disk would be.
#
# Boot 1 (net4mqtt.conf and authorized_keys on the boot partition): the serial
# console shows net4mqtt.service started and the file applied, ports named wan
# and lan; the gateway's and the agent's retained status online on the broker;
# curl from the lan host to 10.99.0.1 (only the appliance can get it there);
# the LAN port's DNS (dig) and DHCP server (busybox udhcpc), if installed; over
# ssh with the key: net4mqtt.service active, mosquitto off, forwarding on,
# rp_filter loose, the root file system grown to the disk, the kernel hook
# (what an `apt upgrade` of the kernel ends with) rewriting the boot partition,
# no failed unit; the ACPI power button powers it off cleanly.
# Boot 2 (a broken net4mqtt.conf and a mosquitto.conf added): the errors are on
# the console, the previous config is kept and the flow works again; mosquitto
# now runs and answers on the LAN port.
set -u
if [ $# -ne 2 ]; then
	echo "usage: $0 IMG NET4MQTT_BINARY" >&2
	exit 2
fi
IMG=$(realpath "$1")
export N4M_BIN
N4M_BIN=$(realpath "$2")
TOP=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../tests/lib.sh
source "$TOP/tests/lib.sh"
S=$$
# shellcheck source=../tests/netns-lib.sh
source "$TOP/tests/netns-lib.sh"

ACCEL=${IMAGE_ACCEL:-tcg}
BOOT_TIMEOUT=${IMAGE_BOOT_TIMEOUT:-420} # s until net4mqtt.service starts (TCG, 2 cores: 30-40 s measured)
OVMF=${OVMF:-/usr/share/ovmf/OVMF.fd}
NS_HUB=n4m-img-hub-$S NS_LAN=n4m-img-lan-$S NS_SITE=n4m-img-site-$S
TAP=n4mimg$S
PREFIX=n4m-img-$S
GWID=appliance-$S
AGENT=site
PAYLOAD="net4mqtt appliance test $S $RANDOM"
DISK=$TEST_TMP/disk.img
MON=$TEST_TMP/monitor.sock
KEY=$TEST_TMP/id_ed25519

img_cleanup() {
	cleanup # stops qemu, the broker and the agent first
	local ns
	for ns in "$NS_LAN" "$NS_HUB" "$NS_SITE"; do
		ip -n "$ns" link del "$TAP" 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
}
trap img_cleanup EXIT

T0=$SECONDS
info() { echo "info: $* [$((SECONDS - T0)) s]"; }

if [ "$(id -u)" != 0 ] || ! ip netns add "$NS_HUB" 2>/dev/null; then
	skip "image: needs root (network namespaces, tap)"
	exit 0
fi
missing=
for t in qemu-system-x86_64 mcopy sfdisk mosquitto mosquitto_sub curl socat ssh ssh-keygen; do
	command -v "$t" >/dev/null || missing="$missing $t"
done
[ -f "$OVMF" ] || missing="$missing $OVMF"
if [ -n "$missing" ]; then
	fail "image: missing:$missing (apt-get install qemu-system-x86 ovmf mtools fdisk mosquitto mosquitto-clients curl socat openssh-client)"
	exit 1
fi
need "image: $IMG exists" test -s "$IMG"

# --- the copy of the image, 512 MiB larger (a disk is larger than the image)
esp_start=$(sfdisk -d "$IMG" | sed -n 's/.*start= *\([0-9]*\),.*type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B.*/\1/ip')
need "image: has an EFI system partition" test -n "$esp_start"
cp --sparse=always "$IMG" "$DISK"
truncate -s +512M "$DISK"
esp_put() { mcopy -o -i "$DISK@@$((esp_start * 512))" "$1" "::/$2"; } # FILE NAME
BPORT=$(free_port)
cat >"$TEST_TMP/net4mqtt.conf" <<EOF
# image/test.sh $S
[net4mqtt]
mqtt-url = mqtt://10.0.2.2:$BPORT/$PREFIX
log-level = info
user = net4mqtt

[gateway]
id = $GWID
agent-id = $AGENT
route = 10.99.0.0/24=$AGENT
EOF
ssh-keygen -q -t ed25519 -N '' -C "image-test-$S" -f "$KEY"
need "image: net4mqtt.conf and authorized_keys put on the boot partition (mcopy)" \
	bash -c "$(declare -f esp_put); DISK='$DISK' esp_start=$esp_start; esp_put '$TEST_TMP/net4mqtt.conf' net4mqtt.conf && esp_put '$KEY.pub' authorized_keys"

# --- namespaces: hub (qemu, broker), site (agent, web server), lan (client)
ns_up "$NS_HUB" "$NS_SITE" "$NS_LAN"
need "image: hub-site veth" veth "$NS_HUB" h "$NS_SITE" s
addr "$NS_HUB" h 10.98.0.1/30 && addr "$NS_SITE" s 10.98.0.2/30 && addr "$NS_SITE" s 10.99.0.1/24

cat >"$TEST_TMP/mosquitto.conf" <<EOF
listener $BPORT 127.0.0.1
listener $BPORT 10.98.0.1
allow_anonymous true
max_queued_messages 100000
set_tcp_nodelay true
persistence false
EOF
bg_ns "$NS_HUB" broker env $BROKER_ENV mosquitto -c "$TEST_TMP/mosquitto.conf"
need "image: broker listening in the hub" wait_for 10 ns_tcp_listening "$NS_HUB" "$BPORT"

mkdir -p "$TEST_TMP/www"
printf '%s\n' "$PAYLOAD" >"$TEST_TMP/www/index.html"
bg_ns "$NS_SITE" web bash -c "cd '$TEST_TMP/www' && exec /usr/bin/python3 -m http.server --bind 10.99.0.1 80"
need "image: web server at the site" wait_for 10 ns_tcp_listening "$NS_SITE" 80
n4m_ns "$NS_SITE" agent agent -i "$AGENT" -t 10.99.0.1:80 -m "mqtt://10.98.0.1:$BPORT/$PREFIX"
check "image: the site's agent is online" ns_status "$NS_HUB" "mqtt://127.0.0.1:$BPORT/$PREFIX/$AGENT/-/v/-"
need "image: tap device" ip -n "$NS_HUB" tuntap add dev "$TAP" mode tap

# --- helpers
SERIAL='' QEMU_PID=''
console() { sed 's/\x1b\[[0-9;]*[a-zA-Z]//g' "$SERIAL" 2>/dev/null; }
on_console() { console | grep -qE -- "$1"; }
qemu_gone() { ! kill -0 "$QEMU_PID" 2>/dev/null; }
# (the login prompt comes after net4mqtt.service's start, see the getty drop-ins)
booted() { on_console 'Started net4mqtt\.service|Failed to start net4mqtt\.service|net4mqtt login:' || qemu_gone; }
tap_open() { ! ip -n "$NS_HUB" link show "$TAP" 2>/dev/null | grep -q NO-CARRIER; }
fetch() { [ "$(ip netns exec "$NS_LAN" curl -s --max-time 5 http://10.99.0.1/)" = "$PAYLOAD" ]; }
gw_online() { ns_status "$NS_HUB" "mqtt://127.0.0.1:$BPORT/$PREFIX/-/$GWID/v/-"; }
monitor() { echo "$1" | socat - "UNIX-CONNECT:$MON" >/dev/null 2>&1; }
guest() { # command on the appliance, as root over ssh from the lan host (GUEST_SECS: 30)
	ip netns exec "$NS_LAN" timeout -k 2 "${GUEST_SECS:-30}" ssh -q -i "$KEY" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 \
		root@192.168.77.1 "$@" 2>/dev/null
}
guest_says() { [ "$(guest "${@:2}")" = "$1" ]; } # EXPECTED command... (one string for the remote shell)
ssh_up() { guest true; }

# boot N: starts qemu on the disk and moves the tap into the lan namespace;
# waits until net4mqtt.service started or failed.
boot() {
	SERIAL=$TEST_TMP/serial-$1.log
	local args=(
		-machine q35 -accel "$ACCEL" -m 512 -smp 2 -nodefaults -vga none -display none
		-bios "$OVMF"
		-drive "file=$DISK,format=raw,if=virtio"
		-netdev user,id=wan -device virtio-net-pci,netdev=wan,addr=0x3 # first NIC: wan
		-netdev "tap,id=lan,ifname=$TAP,script=no,downscript=no"
		-device virtio-net-pci,netdev=lan,addr=0x4 # second NIC: lan
		-serial "file:$SERIAL" -monitor "unix:$MON,server,nowait"
	)
	info "boot $1: $(basename "$IMG") (accel $ACCEL)"
	local t0=$SECONDS
	bg_ns "$NS_HUB" qemu qemu-system-x86_64 "${args[@]}"
	# shellcheck disable=SC2154 # qemu_PID is set by bg_ns
	QEMU_PID=$qemu_PID
	ip -n "$NS_HUB" link set "$TAP" up
	need "image: boot $1: qemu opened the tap" wait_for 30 tap_open
	need "image: boot $1: tap moved into the lan namespace" ip -n "$NS_HUB" link set "$TAP" netns "$NS_LAN"
	ip -n "$NS_LAN" link set "$TAP" up
	ip -n "$NS_LAN" addr add 192.168.77.10/24 dev "$TAP"
	ip -n "$NS_LAN" route add 10.99.0.0/24 via 192.168.77.1
	wait_for "$BOOT_TIMEOUT" booted
	BOOT_SECS=$((SECONDS - t0))
	info "boot $1: $BOOT_SECS s from qemu's start to net4mqtt.service"
	need "image: boot $1: qemu is running" kill -0 "$QEMU_PID"
}

# power_off N: the ACPI power button; qemu exits once the guest powered off.
power_off() {
	local t0=$SECONDS
	monitor system_powerdown
	check "image: boot $1: ACPI power button powers the appliance off" wait_for 180 qemu_gone
	info "boot $1: power-off took $((SECONDS - t0)) s"
	check "image: boot $1: net4mqtt.service stopped on power-off" on_console 'Stopped net4mqtt\.service'
	if ! qemu_gone; then kill "$QEMU_PID"; wait_for 10 qemu_gone || kill -9 "$QEMU_PID"; fi
	ip -n "$NS_LAN" link set "$TAP" netns "$NS_HUB" 2>/dev/null
}

# --- boot 1
boot 1
BOOT1_SECS=$BOOT_SECS
check "image: boot 1: serial console: net4mqtt.service started" on_console 'Started net4mqtt\.service'
check "image: boot 1: serial console: net4mqtt.conf from the boot partition applied" \
	on_console 'net4mqtt-bootconfig: net4mqtt.conf from the boot partition: applied'
check "image: boot 1: serial console: first NIC named wan" on_console ' wan: renamed from '
check "image: boot 1: serial console: second NIC named lan" on_console ' lan: renamed from '
check "image: boot 1: the gateway's status is online on the broker" wait_for 60 gw_online
# lan -> appliance (TUN) -> MQTT -> agent -> site
check "image: boot 1: lan host reaches http://10.99.0.1/ through the appliance" wait_for 60 fetch
if command -v dig >/dev/null; then
	dns() { ip netns exec "$NS_LAN" dig @192.168.77.1 +short +time=2 +tries=1 net4mqtt A | grep -qx 192.168.77.1; }
	check "image: boot 1: DNS on the LAN port answers for net4mqtt" wait_for 20 dns
else
	skip "image: DNS on the LAN port (no dig: apt-get install dnsutils)"
fi
if command -v busybox >/dev/null && busybox --list | grep -qx udhcpc; then
	lease() {
		ip netns exec "$NS_LAN" timeout -k 1 15 busybox udhcpc -i "$TAP" -n -q -f -t 5 -T 2 -s /bin/true \
			>"$TEST_TMP/udhcpc.log" 2>&1
		grep -qE 'lease of 192\.168\.77\.1[0-9][0-9] obtained' "$TEST_TMP/udhcpc.log"
	}
	check "image: boot 1: DHCP server on the LAN port leases 192.168.77.100-199" lease
else
	skip "image: DHCP server on the LAN port (no busybox udhcpc: apt-get install busybox)"
fi
if check "image: boot 1: ssh as root with the key from the boot partition" wait_for 90 ssh_up; then
	check "image: boot 1: net4mqtt.service is active (systemctl)" guest_says active systemctl is-active net4mqtt.service
	check "image: boot 1: net4mqtt.service is enabled" guest_says enabled systemctl is-enabled net4mqtt.service
	check "image: boot 1: net4mqtt runs as user net4mqtt (config: user = net4mqtt)" \
		guest_says net4mqtt 'ps -o user= -C net4mqtt'
	check "image: boot 1: mosquitto is off (no mosquitto.conf on the boot partition)" \
		guest_says "inactive disabled" 'echo $(systemctl is-active mosquitto; systemctl is-enabled mosquitto)'
	check "image: boot 1: IPv4 forwarding on, rp_filter loose" \
		guest_says "1 2" 'echo $(cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/all/rp_filter)'
	check "image: boot 1: root password locked" guest_says L 'passwd -S root | cut -d" " -f2'
	check "image: boot 1: hostname net4mqtt" guest_says net4mqtt hostname
	img_mb=$(($(stat -c %s "$IMG") / 1048576))
	root_mb=$(guest df -m --output=size / | tail -n 1 | tr -d ' ')
	check "image: boot 1: root file system grown to the disk ($root_mb MiB, image $img_mb MiB, disk +512)" \
		test "${root_mb:-0}" -gt "$((img_mb - 128))"
	# what a kernel upgrade ends with (update-initramfs itself takes minutes
	# under TCG): the hook copies kernel and initramfs onto the boot partition
	# and rewrites the loader entry; boot 2 then boots from the result
	check "image: boot 1: the kernel hook puts kernel and initramfs on the boot partition" \
		guest_says ok 'v=$(uname -r); rm -rf /boot/efi/$v && /etc/initramfs/post-update.d/zz-net4mqtt-esp $v /boot/initrd.img-$v &&
			cmp -s /boot/efi/$v/initrd.img /boot/initrd.img-$v && cmp -s /boot/efi/$v/vmlinuz /boot/vmlinuz-$v &&
			grep -q "^linux  */$v/vmlinuz$" /boot/efi/loader/entries/net4mqtt.conf && echo ok'
	guest systemctl --failed --plain --no-legend >"$TEST_TMP/failed-units.txt"
	check "image: boot 1: no failed unit" test ! -s "$TEST_TMP/failed-units.txt"
	cat "$TEST_TMP/failed-units.txt"
fi
power_off 1

# --- boot 2: a broken net4mqtt.conf (the previous one stays), the local broker on
printf '[gateway]\nmtu = 99\n' >"$TEST_TMP/broken.conf"
printf 'listener 1883\nallow_anonymous true\n' >"$TEST_TMP/mosquitto-guest.conf"
need "image: broken net4mqtt.conf and mosquitto.conf put on the boot partition (mcopy)" \
	bash -c "$(declare -f esp_put); DISK='$DISK' esp_start=$esp_start; esp_put '$TEST_TMP/broken.conf' net4mqtt.conf && esp_put '$TEST_TMP/mosquitto-guest.conf' mosquitto.conf"
boot 2
check "image: boot 2: serial console: the broken net4mqtt.conf is refused, previous kept" \
	on_console 'net4mqtt.conf on the boot partition has errors, kept the previous one'
check "image: boot 2: serial console: the error names the file, line and key" on_console '/boot/efi/net4mqtt.conf:2: mtu'
check "image: boot 2: serial console: net4mqtt.service started" on_console 'Started net4mqtt\.service'
check "image: boot 2: lan host reaches http://10.99.0.1/ through the appliance again" wait_for 60 fetch
local_broker() { ip netns exec "$NS_LAN" timeout -k 1 8 mosquitto_sub -h 192.168.77.1 -t '$SYS/broker/version' -C 1 -W 5 2>/dev/null | grep -q mosquitto; }
check "image: boot 2: mosquitto.conf on the boot partition turned the local broker on" wait_for 60 local_broker
power_off 2

if [ "$N4M_FAILS" -ne 0 ]; then
	echo "--- serial console ($SERIAL), last 60 lines"
	console | tail -n 60
	echo "--- agent log"
	tail -n 20 "$TEST_TMP/agent.log"
fi
echo "boot time: $BOOT1_SECS s, then $BOOT_SECS s (qemu start to net4mqtt.service started, accel $ACCEL)"
finish
