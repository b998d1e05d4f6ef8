#!/bin/sh
# Builds OUTDIR/net4mqtt_VERSION_ARCH.deb from a built binary and the files
# in dist/, with dpkg-deb alone (no debian/ source tree, no root: files are
# owned by root in the package through --root-owner-group). The last line
# printed is the .deb's path.
#
#   dist/build-deb.sh build/net4mqtt 0.1.0 build/deb
set -eu

usage() {
	echo "usage: $0 BINARY VERSION OUTDIR" >&2
	exit 2
}
[ $# -eq 3 ] || usage
binary=$1 version=$2 outdir=$3
dist=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$dist")
pkg=net4mqtt
[ -x "$binary" ] || { echo "$0: $binary: not an executable" >&2; exit 1; }
printf '%s' "$version" | grep -Eq '^[0-9][A-Za-z0-9.+~]*$' ||
	{ echo "$0: bad version '$version' (a native Debian version: 0.1.0)" >&2; exit 2; }
for tool in dpkg dpkg-deb dpkg-query objdump ldd strip gzip; do
	command -v "$tool" >/dev/null || { echo "$0: $tool is missing" >&2; exit 1; }
done

arch=$(dpkg --print-architecture)
umask 022
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
root=$outdir/${pkg}_${version}_$arch
deb=$outdir/${pkg}_${version}_$arch.deb
rm -rf "$root" "$deb"

# One timestamp for the changelog and every file: the last commit's, so
# two builds of one commit give the same package.
: "${SOURCE_DATE_EPOCH:=$(git -c safe.directory="$top" -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)}"
export SOURCE_DATE_EPOCH

doc=$root/usr/share/doc/$pkg
install -d "$root/DEBIAN" "$root/usr/sbin" "$root/lib/systemd/system" \
	"$root/usr/share/man/man8" "$root/etc/$pkg" "$doc/examples"

# the binary, stripped as dh_strip does
install -m 0755 "$binary" "$root/usr/sbin/$pkg"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/sbin/$pkg"

install -m 0644 "$dist/net4mqtt.service" "$dist/net4mqtt@.service" "$root/lib/systemd/system/"
# the page's date and version: this build's
th_date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
sed "s/^\\.TH NET4MQTT 8 [^ ]* \"[^\"]*\"/.TH NET4MQTT 8 $th_date \"net4mqtt $version\"/" "$dist/net4mqtt.8" |
	gzip -9n >"$root/usr/share/man/man8/$pkg.8.gz"
# 0640: it may hold passwords; postinst gives it to group net4mqtt
install -m 0640 "$dist/net4mqtt.conf" "$root/etc/$pkg/net4mqtt.conf"

install -m 0644 "$dist/examples/gateway.conf" "$dist/examples/agent.conf" \
	"$top/examples/mosquitto/acl" "$doc/examples/"
install -m 0644 "$dist/net4mqtt.conf" "$doc/examples/net4mqtt.conf"
install -m 0644 "$top/README.md" "$doc/README.md"
gzip -9n "$doc/README.md" # Policy 12.3: docs over 4 kB are compressed

changelog_date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
cat <<EOF | gzip -9n >"$doc/changelog.gz"
$pkg ($version) unstable; urgency=medium

  * Built from the net4mqtt source tree; see README.md.gz.

 -- net4mqtt developers <net4mqtt@localhost>  $changelog_date
EOF

cat >"$doc/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: net4mqtt
Upstream-Contact: net4mqtt developers <net4mqtt@localhost>
Comment: A C re-implementation of net4mqtt, the Rust crate in
 https://github.com/binbat/live777/tree/main/libs/net4mqtt, with which it is
 wire-compatible; it shares no code with it.

Files: *
Copyright: 2026 net4mqtt developers
License: Expat
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in all
 copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 SOFTWARE.
EOF
chmod 0644 "$doc/copyright"
install -d "$root/usr/share/lintian/overrides"
cat >"$root/usr/share/lintian/overrides/$pkg" <<'EOF'
# the config may hold broker and SOCKS passwords: root:net4mqtt 0640
net4mqtt: non-standard-file-perm 0640 != 0644 [etc/net4mqtt/net4mqtt.conf]
EOF
chmod 0644 "$root/usr/share/lintian/overrides/$pkg"

# Depends: the package of every library the binary is linked against, at
# least at the upstream version installed here (epoch kept, Debian revision
# dropped), plus libc6.
lib_path() { # SONAME: its path, as ld.so resolves it for this binary
	ldd "$binary" | awk -v so="$1" '$1 == so && $2 == "=>" { print $3; exit }'
}
path_package() { # PATH: the package that ships it (usrmerge: /lib or /usr/lib)
	for p in "$1" "$(readlink -f "$1")" "/usr$1" "${1#/usr}"; do
		dpkg -S "$p" 2>/dev/null | sed -n '1s/[:,].*//p' | grep . && return 0
	done
	return 1
}
depends_of() {
	echo libc6
	echo adduser # postinst creates the system user with it
	for so in $(objdump -p "$binary" | awk '$1 == "NEEDED" { print $2 }'); do
		path=$(lib_path "$so")
		[ -n "$path" ] || { echo "$0: $so: not found by ldd" >&2; exit 1; }
		path_package "$path" || { echo "$0: $path: in no package" >&2; exit 1; }
	done
}
packages=$(depends_of | sort -u)
depends=
for p in $packages; do
	if [ "$p" = adduser ]; then
		depends="$depends${depends:+, }$p"
		continue
	fi
	v=$(dpkg-query -W -f='${Version}' "$p")
	depends="$depends${depends:+, }$p (>= ${v%-*})"
done

installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: net4mqtt developers <net4mqtt@localhost>
Installed-Size: $installed_size
Depends: $depends
Recommends: mosquitto
Suggests: mosquitto-clients
Section: net
Priority: optional
Description: TCP and UDP over an MQTT broker
 net4mqtt carries TCP connections and UDP datagrams over an MQTT broker,
 the way Shadowsocks or V2Ray carry them over their own protocols. One
 process plays any of four roles: an agent (exit node) opens the flows
 sent to it; a local-port forwards a local port to a target behind an
 agent; a local-socks is a SOCKS5 server; a gateway routes whole subnets
 through a TUN device for every host behind it, with a DNS server of its
 own.
 .
 It is wire-compatible with the Rust net4mqtt. The package installs a
 systemd service that runs the roles of /etc/net4mqtt/net4mqtt.conf; it
 is not enabled until the administrator enables it.
EOF
echo "/etc/$pkg/net4mqtt.conf" >"$root/DEBIAN/conffiles"

cat >"$root/DEBIAN/postinst" <<'EOF'
#!/bin/sh
# The system user the daemon drops to, and the config's group. The service
# is not enabled here: it should run a config the administrator has written
# (systemctl enable --now net4mqtt); an appliance image enables it itself.
# On upgrade, running instances are restarted onto the new binary.
set -e
conf=/etc/net4mqtt/net4mqtt.conf

add_user() {
	getent passwd net4mqtt >/dev/null && return 0
	if command -v adduser >/dev/null; then
		adduser --quiet --system --group --no-create-home --home /nonexistent \
			--gecos "net4mqtt daemon" net4mqtt
	else
		getent group net4mqtt >/dev/null || groupadd --system net4mqtt
		useradd --system --gid net4mqtt --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --comment "net4mqtt daemon" net4mqtt
	fi
}

case "$1" in
configure)
	add_user
	# the daemon reads its config again on SIGHUP, as user net4mqtt;
	# an administrator's dpkg-statoverride wins
	if [ -f "$conf" ] && ! dpkg-statoverride --list "$conf" >/dev/null 2>&1; then
		chgrp net4mqtt "$conf"
		chmod 0640 "$conf"
	fi
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		if [ -n "$2" ]; then
			for unit in net4mqtt.service $(systemctl list-units --plain --no-legend \
				'net4mqtt@*.service' | awk '{ print $1 }'); do
				deb-systemd-invoke try-restart "$unit" >/dev/null || true
			done
		fi
	fi
	;;
abort-upgrade | abort-remove | abort-deconfigure) ;;
*)
	echo "postinst called with unknown argument '$1'" >&2
	exit 1
	;;
esac
exit 0
EOF

cat >"$root/DEBIAN/prerm" <<'EOF'
#!/bin/sh
# Stops the service when the package is removed (not on upgrade: postinst
# restarts it then).
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
	deb-systemd-invoke stop net4mqtt.service >/dev/null || true
	for unit in $(systemctl list-units --plain --no-legend --all 'net4mqtt@*.service' |
		awk '{ print $1 }'); do
		deb-systemd-invoke stop "$unit" >/dev/null || true
	done
fi
exit 0
EOF

cat >"$root/DEBIAN/postrm" <<'EOF'
#!/bin/sh
# On purge: the configuration (secrets included), the units' enablement
# links and the system user and group go.
set -e
case "$1" in
purge)
	rm -rf /etc/net4mqtt
	find /etc/systemd/system -path '*.wants/net4mqtt*.service' -type l -delete 2>/dev/null || true
	if getent passwd net4mqtt >/dev/null; then
		if command -v deluser >/dev/null; then
			deluser --quiet --system net4mqtt >/dev/null 2>&1 || true
		else
			userdel net4mqtt || true
		fi
	fi
	if getent group net4mqtt >/dev/null; then
		if command -v delgroup >/dev/null; then
			delgroup --quiet --system net4mqtt >/dev/null 2>&1 || true
		else
			groupdel net4mqtt || true
		fi
	fi
	;;
esac
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
exit 0
EOF
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles"

# md5sums of every file but the conffile, as dh_md5sums writes them
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print |
	sed 's|^\./||' | LC_ALL=C sort | xargs md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"

find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
