#!/usr/bin/env bash
# Checks the Debian package (debian/, make deb): it builds with debhelper
# outside the tree, lintian finds no errors and no warning without an
# override, its control fields and contents, the man page renders without
# warnings and names every option the binary prints, the systemd units verify.
# Then, as root on a machine where net4mqtt is not installed, it installs it
# for real: the user, the units and the conffile's mode; purge keeps the
# system user and an administrator's file in /etc/net4mqtt. The machine is put back as it was, on failure too.
# Prints PASS:/FAIL:/SKIP: lines (tests/lib.sh) and exits non-zero on any FAIL.
#
#   dist/test-deb.sh BUILD_DIR
set -u
build=${1:?usage: $0 BUILD_DIR}
dist=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$dist")
N4M_BIN=${N4M_BIN:-$(cd "$build" && pwd)/net4mqtt}
# shellcheck disable=SC1091 # tests/lib.sh: pass, fail, check, start_broker, wait_for...
. "$top/tests/lib.sh"
bin=$N4M
man_page=$dist/net4mqtt.8
out=$TEST_TMP
have() { command -v "$1" >/dev/null; }

[ -x "$bin" ] || { fail "no binary at $bin (make first)"; exit 1; }
if [ "${SAN:-}" = 1 ]; then
	# the package is built without sanitizers: under SAN=1 this would only repeat
	# make test's run (half a minute of CI's budget)
	skip "the package under SAN=1 (make test checks it)"
	exit 0
fi
version=$("$bin" -V | awk '{ print $2 }')
arch=$(dpkg --print-architecture)
epoch=$(git -c safe.directory="$top" -C "$top" log -1 --format=%ct)

# --- the package builds: dpkg-buildpackage and dh, in a copy of the tree
tree_before=$(git -c safe.directory="$top" -C "$top" status --porcelain)
touch "$out/start"
t=$SECONDS
jobs=$(nproc)
if make -C "$top" --no-print-directory deb DEB_OUT="$out/deb" DEB_BUILD_OPTIONS="parallel=$jobs" \
	>"$out/build.log" 2>&1; then
	pass "make deb: dpkg-buildpackage -b in $((SECONDS - t)) s"
else
	fail "make deb"
	tail -n 40 "$out/build.log" | sed 's/^/    | /'
	exit 1
fi
deb=$out/deb/net4mqtt_${version}_$arch.deb
ddeb=$out/deb/net4mqtt-dbgsym_${version}_$arch.deb
changes=$out/deb/net4mqtt_${version}_$arch.changes
check "it is built by debhelper (dh: dh_installsystemd, dh_strip)" \
	bash -c "grep -q '^dh_installsystemd --no-enable' '$out/build.log' && grep -Eq '^   dh_strip( |\$)' '$out/build.log'"
check "... with make -j$jobs (DEB_BUILD_OPTIONS=parallel=$jobs)" grep -q "^	make -j$jobs" "$out/build.log"
check "the package build runs no apt-get (make test or make deb's deps did)" \
	bash -c "! sed -n '/^dpkg-buildpackage: info: source package/,\$p' '$out/build.log' | grep -q 'apt-get\|^installing:'"
for f in "$deb" "$ddeb" "$changes" "$out/deb/net4mqtt_${version}_$arch.buildinfo"; do
	check "built: $(basename "$f")" test -s "$f"
done
check "the tree is as it was (git status)" \
	test "$(git -c safe.directory="$top" -C "$top" status --porcelain)" = "$tree_before"
check "nothing written beside the tree ($(dirname "$top"))" \
	test -z "$(find "$(dirname "$top")" -maxdepth 1 -name 'net4mqtt*' -newer "$out/start")"
newest=$(dpkg-deb --fsys-tarfile "$deb" | TZ=UTC tar -tv --full-time | awk '{ print $4 " " $5 }' | sort | tail -n 1)
check "every file dated the last commit ($newest: SOURCE_DATE_EPOCH)" \
	test "$newest" = "$(date -u -d "@$epoch" '+%F %T')"

# --- control fields
field() { dpkg-deb -f "$deb" "$1"; }
check "Package: net4mqtt" [ "$(field Package)" = net4mqtt ]
check "Version: $version (debian/changelog, Makefile, net4mqtt -V)" [ "$(field Version)" = "$version" ]
check "Architecture: $arch" [ "$(field Architecture)" = "$arch" ]
check "Maintainer: $(field Maintainer)" grep -qv '@localhost' <<<"$(field Maintainer)"
depends=$(field Depends)
check "Depends has libmosquitto1 ($depends)" grep -Eq '(^|, )libmosquitto1 \(>= ' <<<"$depends"
check "Depends has libevent" grep -Eq '(^|, )libevent-[^ ]* \(>= ' <<<"$depends"
check "Depends has libc6" grep -Eq '(^|, )libc6 \(>= ' <<<"$depends"
check "Depends has adduser (postinst)" grep -Eq '(^|, )adduser(,|$)' <<<"$depends"
check "Recommends: mosquitto" [ "$(field Recommends)" = mosquitto ]
check "Installed-Size is set" grep -Eq '^[1-9][0-9]*$' <<<"$(field Installed-Size)"
control=$out/control
dpkg-deb -e "$deb" "$control"
check "conffiles lists /etc/net4mqtt/net4mqtt.conf" \
	grep -qx /etc/net4mqtt/net4mqtt.conf "$control/conffiles"
script_ok() { [ -x "$1" ] && sh -n "$1"; }
for s in postinst prerm postrm; do
	check "$s is executable and parses" script_ok "$control/$s"
done
check "postrm removes no user, group or /etc/net4mqtt" \
	bash -c "! grep -Eq 'deluser|userdel|delgroup|groupdel|/etc/net4mqtt' '$control/postrm'"

# --- contents
contents=$(dpkg-deb -c "$deb")
has_file() { # MODE PATH
	awk -v m="$1" -v p="./$2" '$1 == m && $6 == p { found = 1 } END { exit !found }' <<<"$contents"
}
check "contents: /usr/sbin/net4mqtt 0755" has_file -rwxr-xr-x usr/sbin/net4mqtt
check "contents: net4mqtt.service" has_file -rw-r--r-- lib/systemd/system/net4mqtt.service
check "contents: net4mqtt@.service" has_file -rw-r--r-- lib/systemd/system/net4mqtt@.service
check "contents: man page" has_file -rw-r--r-- usr/share/man/man8/net4mqtt.8.gz
check "contents: conffile 0640" has_file -rw-r----- etc/net4mqtt/net4mqtt.conf
check "contents: copyright" has_file -rw-r--r-- usr/share/doc/net4mqtt/copyright
for f in acl agent.conf gateway.conf net4mqtt.conf; do
	check "contents: examples/$f" has_file -rw-r--r-- "usr/share/doc/net4mqtt/examples/$f"
done
check "contents: README.md.gz" has_file -rw-r--r-- usr/share/doc/net4mqtt/README.md.gz
all_root() { ! awk '$2 != "root/root"' <<<"$contents" | grep -q .; }
check "every file is root's" all_root
root=$out/root
dpkg-deb -x "$deb" "$root"
check "copyright: the MIT (Expat) license of LICENSE" \
	grep -qx 'License: Expat' "$root/usr/share/doc/net4mqtt/copyright"
check "units: the same as dist/" bash -c "cmp -s '$dist/net4mqtt.service' '$root/lib/systemd/system/net4mqtt.service' &&
	cmp -s '$dist/net4mqtt@.service' '$root/lib/systemd/system/net4mqtt@.service'"
check "conffile: the same as dist/net4mqtt.conf" cmp -s "$dist/net4mqtt.conf" "$root/etc/net4mqtt/net4mqtt.conf"
th=$(zcat "$root/usr/share/man/man8/net4mqtt.8.gz" | grep '^\.TH')
check "man page: $th" test "$th" = ".TH NET4MQTT 8 $(date -u -d "@$epoch" +%F) \"net4mqtt $version\" \"System Administration\""
stripped() { ! readelf -S "$1" | grep -qF .symtab; }
check "binary is stripped" stripped "$root/usr/sbin/net4mqtt"
build_id=$(readelf -n "$root/usr/sbin/net4mqtt" | awk '/Build ID:/ { print $3 }')
check "net4mqtt-dbgsym has its debug symbols (build-id $build_id)" \
	grep -q "usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug" <<<"$(dpkg-deb -c "$ddeb")"

# --- man page
if have groff; then
	warnings=$(groff -man -ww -z "$man_page" 2>&1)
	check "groff -man -ww: no warnings${warnings:+ ($warnings)}" [ -z "$warnings" ]
else
	skip "groff missing: man page not rendered"
fi
# every command in `net4mqtt -h`, and every long option each prints, is in the page
in_page() { grep -qF -- "${1//-/\\-}" "$man_page"; } # roff writes - as \-
commands=$("$bin" -h | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on { print $1 }')
check "net4mqtt -h lists commands" [ -n "$commands" ]
for opt in $("$bin" -h | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
	check "man page has $opt (net4mqtt -h)" in_page "$opt"
done
for c in $commands; do
	check "man page has command $c" grep -qxF ".B ${c//-/\\-}" "$man_page"
	opts=$("$bin" "$c" -h 2>&1 | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
	check "$c -h prints options" [ -n "$opts" ]
	for opt in $opts; do
		check "man page has $opt ($c -h)" in_page "$opt"
	done
done

# --- systemd units, pointed at the packaged binary and man page
if have systemd-analyze; then
	units=$out/units
	mkdir -p "$units"
	for u in net4mqtt.service net4mqtt@.service; do
		sed "s|/usr/sbin/net4mqtt|$root/usr/sbin/net4mqtt|g" \
			"$root/lib/systemd/system/$u" >"$units/$u"
	done
	if MANPATH=$root/usr/share/man systemd-analyze verify "$units/net4mqtt.service" \
		"$units/net4mqtt@.service" >"$out/verify.log" 2>&1; then
		pass "systemd-analyze verify"
	else
		fail "systemd-analyze verify"
		sed 's/^/    | /' "$out/verify.log"
	fi
else
	skip "systemd-analyze missing: units not verified"
fi

# --- the shell scripts
if have shellcheck; then
	check "shellcheck test-deb.sh" shellcheck "$dist/test-deb.sh"
	for s in postinst prerm postrm; do
		check "shellcheck $s" shellcheck -s sh "$control/$s"
	done
else
	skip "shellcheck missing"
fi

# --- lintian, once, on the .changes (the two packages and the .buildinfo)
if have lintian; then
	lintian --allow-root --info --show-overrides "$changes" >"$out/lintian.log" 2>&1
	tags=$(grep -E '^[EWIPXO]: ' "$out/lintian.log")
	echo "lintian: $(grep -c '^E: ' <<<"$tags") errors, $(grep -c '^W: ' <<<"$tags") warnings," \
		"$(grep -c '^I: ' <<<"$tags") info, $(grep -c '^O: ' <<<"$tags") overridden"
	if [ -n "$tags" ]; then
		mapfile -t lines <<<"$tags"
		printf '    | %s\n' "${lines[@]}"
	fi
	check "lintian: no errors" bash -c "! grep -q '^E: ' <<<\"\$1\"" _ "$tags"
	check "lintian: every warning overridden, with a reason (debian/*lintian-overrides)" \
		bash -c "! grep -q '^W: ' <<<\"\$1\"" _ "$tags"
else
	skip "lintian missing"
fi

# --- installed for real: root, and net4mqtt not installed here already
pkg_status() { dpkg-query -W -f='${db:Status-Status}' net4mqtt 2>/dev/null; }
if [ "$(id -u)" != 0 ]; then
	skip "install and purge: not root"
	finish
	exit
fi
if [ -n "$(pkg_status)" ] && [ "$(pkg_status)" != not-installed ]; then
	skip "install and purge: net4mqtt is $(pkg_status) on this machine, left alone"
	finish
	exit
fi
if [ -e /etc/net4mqtt ]; then
	skip "install and purge: /etc/net4mqtt exists on this machine, left alone"
	finish
	exit
fi

user_existed=$(getent passwd net4mqtt)
group_existed=$(getent group net4mqtt)
main=/etc/net4mqtt/net4mqtt.conf
# put back what the test changed: the package, the files it or the test wrote, the user
restore() {
	[ -z "$(pkg_status)" ] || [ "$(pkg_status)" = not-installed ] || dpkg --purge net4mqtt >/dev/null 2>&1
	rm -f /etc/net4mqtt/extra.conf
	rmdir /etc/net4mqtt 2>/dev/null
	[ -n "$user_existed" ] || ! getent passwd net4mqtt >/dev/null || userdel net4mqtt
	[ -n "$group_existed" ] || ! getent group net4mqtt >/dev/null || groupdel net4mqtt
}
trap 'cleanup; restore' EXIT

dpkg -i "$deb" >"$out/install.log" 2>&1 || sed 's/^/    | /' "$out/install.log"
need "dpkg -i $(basename "$deb")" test "$(pkg_status)" = installed
uid=$(getent passwd net4mqtt | cut -d: -f3)
check "postinst made the system user net4mqtt ($(getent passwd net4mqtt))" test "${uid:-1000}" -lt 1000
check "installed: /lib/systemd/system/net4mqtt.service, net4mqtt@.service" \
	test -f /lib/systemd/system/net4mqtt.service -a -f /lib/systemd/system/net4mqtt@.service
check "installed: $main is $(stat -c '%a %U:%G' "$main")" test "$(stat -c '%a %U:%G' "$main")" = "640 root:net4mqtt"
check "net4mqtt.service is not enabled (the administrator enables it)" \
	test ! -e /etc/systemd/system/multi-user.target.wants/net4mqtt.service
check "/usr/sbin/net4mqtt -V: $version" test "$(/usr/sbin/net4mqtt -V | awk '{ print $2 }')" = "$version"

echo "# edited by the administrator" >>"$main" # in place: the conffile keeps its mode
dpkg -i "$deb" >"$out/reinstall.log" 2>&1
check "dpkg -i again (an upgrade's postinst): the edited conffile stays, $(stat -c '%a %U:%G' "$main")" \
	bash -c "grep -qx '# edited by the administrator' '$main' && [ \"\$(stat -c '%a %U:%G' '$main')\" = '640 root:net4mqtt' ]"

# --- purge: the package's files and conffile go; the user and the administrator's files stay
echo "# the administrator's" >/etc/net4mqtt/extra.conf
dpkg --purge net4mqtt >"$out/purge.log" 2>&1
rc=$?
check "dpkg --purge net4mqtt (rc $rc)" test -z "$(pkg_status)" -o "$(pkg_status)" = not-installed
check "purge keeps the system user and group net4mqtt" \
	bash -c 'getent passwd net4mqtt >/dev/null && getent group net4mqtt >/dev/null'
check "purge keeps /etc/net4mqtt/extra.conf" test -f /etc/net4mqtt/extra.conf
check "purge removes the conffile $main" test ! -e "$main"
check "purge removes /usr/sbin/net4mqtt and the units" \
	test ! -e /usr/sbin/net4mqtt -a ! -e /lib/systemd/system/net4mqtt.service -a ! -e /lib/systemd/system/net4mqtt@.service
finish
