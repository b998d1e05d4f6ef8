#!/usr/bin/env bash
# Checks the Debian package (debian/, make deb): it builds with debhelper
# outside the tree, lintian finds no errors and no warning without an
# override, its control fields and contents, the man page renders without
# warnings and names every option the binary prints, the systemd units verify.
# Then, as root on a machine where net4mqtt is not installed, it installs it
# for real: the user, the units and the conffile's mode; the units' command
# lines run side by side (net4mqtt.service and two net4mqtt@NAME instances),
# each answering `net4mqtt status -c FILE` or running without a status
# server; purge keeps the system user and an administrator's file in
# /etc/net4mqtt. The machine is put back as it was, on failure too.
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
name=deb$$ bare=deb$$bare # the instances' names, their files NAME.conf
# put back what the test changed: the package, the files it or the test wrote, the user
restore() {
	[ -z "$(pkg_status)" ] || [ "$(pkg_status)" = not-installed ] || dpkg --purge net4mqtt >/dev/null 2>&1
	rm -f /etc/net4mqtt/extra.conf "/etc/net4mqtt/$name.conf" "/etc/net4mqtt/$bare.conf"
	rmdir /etc/net4mqtt 2>/dev/null
	[ -n "$user_existed" ] || ! getent passwd net4mqtt >/dev/null || userdel net4mqtt
	[ -n "$group_existed" ] || ! getent group net4mqtt >/dev/null || groupdel net4mqtt
}
trap 'cleanup; restore' EXIT # the daemons first: userdel refuses a user with processes

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

# --- net4mqtt.service and two instances, as their units run them
pid1=$(ps -p 1 -o comm=)
echo "PID 1 is $pid1: the units' ExecStartPre= and ExecStart= lines run here directly, as root"
start_broker || { fail "mosquitto starts"; exit 1; }
url=$BROKER_URL_BASE/deb$$
# the shipped file's status address if it is free here
main_status=9810
if port_listening "$main_status"; then main_status=$(free_port); fi
while inst_status=$(free_port) && [ "$inst_status" = "$main_status" ]; do :; done
conf() { # FILE AGENT_ID [STATUS_PORT]: a file like the shipped one, an agent on the test broker
	printf '%s\n' "[net4mqtt]" "mqtt-url = $url" "user = net4mqtt" \
		${3:+"status-listen = 127.0.0.1:$3"} "[agent]" "id = $2" >"$1"
}
conf "$main" deb-main "$main_status" # written in place: the conffile keeps its mode
conf "/etc/net4mqtt/$name.conf" "deb-$name" "$inst_status"
conf "/etc/net4mqtt/$bare.conf" "deb-$bare"
chgrp net4mqtt "/etc/net4mqtt/$name.conf" "/etc/net4mqtt/$bare.conf"
chmod 0640 "/etc/net4mqtt/$name.conf" "/etc/net4mqtt/$bare.conf"

dpkg -i "$deb" >"$out/reinstall.log" 2>&1
check "dpkg -i again (an upgrade's postinst): the edited conffile stays, $(stat -c '%a %U:%G' "$main")" \
	bash -c "grep -qx 'mqtt-url = $url' '$main' && [ \"\$(stat -c '%a %U:%G' '$main')\" = '640 root:net4mqtt' ]"

unit_line() { # UNIT KEY INSTANCE: the unit's KEY= line, %i replaced
	sed -n "s/^$2=//p" "/lib/systemd/system/$1" | sed "s/%i/$3/g"
}
run_unit() { # NAME UNIT INSTANCE: ExecStartPre in the foreground, ExecStart in the background
	local pre start
	read -ra pre <<<"$(unit_line "$2" ExecStartPre "$3")"
	read -ra start <<<"$(unit_line "$2" ExecStart "$3")"
	check "$1: ExecStartPre=${pre[*]}" "${pre[@]}"
	"${start[@]}" >"$out/$1.log" 2>&1 &
	bg_track $!
	printf -v "${1}_pid" '%s' $!
	echo "$1: ExecStart=${start[*]} (pid $!)"
}
run_unit main net4mqtt.service ""
run_unit inst net4mqtt@.service "$name"
run_unit bare net4mqtt@.service "$bare"
# shellcheck disable=SC2154 # main_pid inst_pid bare_pid: set by run_unit
for p in main:"$main_pid":deb-main inst:"$inst_pid":deb-$name bare:"$bare_pid":deb-$bare; do
	IFS=: read -r who pid agent <<<"$p"
	check "$who: its agent $agent is online" wait_status "$url/$agent/-/v/-"
	check "$who: runs as user net4mqtt" wait_for 5 bash -c "[ \"\$(ps -o user= -p $pid)\" = net4mqtt ]"
done
status_of() { # FILE AGENT: net4mqtt status -c FILE answers with that file's agent
	timeout 10 /usr/sbin/net4mqtt status -c "$1" >"$out/status.txt" 2>&1 && grep -q "$2" "$out/status.txt"
}
check "net4mqtt.service: net4mqtt status -c $main (127.0.0.1:$main_status)" status_of "$main" deb-main
check "net4mqtt@$name: net4mqtt status -c /etc/net4mqtt/$name.conf (127.0.0.1:$inst_status)" \
	status_of "/etc/net4mqtt/$name.conf" "deb-$name"
check "net4mqtt@$bare (no status-listen): no status server, it listens nowhere" \
	test -z "$(ss -Htulnp | grep "pid=$bare_pid,")"
if [ "$main_status" = 9810 ]; then
	timeout 10 /usr/sbin/net4mqtt status -c "/etc/net4mqtt/$bare.conf" >"$out/status-bare.txt" 2>&1
	rc=$?
	check "net4mqtt status -c $bare.conf fails (rc $rc), not showing net4mqtt.service's: $(head -n 1 "$out/status-bare.txt")" \
		bash -c "[ $rc -ne 0 ] && ! grep -q deb-main '$out/status-bare.txt'"
else
	skip "127.0.0.1:9810 is in use here: status -c of a file without status-listen not tried"
fi
for pid in "$main_pid" "$inst_pid" "$bare_pid"; do kill "$pid" 2>/dev/null; done
check "the three stop on SIGTERM" wait_for 10 bash -c "! kill -0 $main_pid $inst_pid $bare_pid 2>/dev/null"
# (kill -0 A B C fails only when none is left)

# --- purge: the package's files and conffile go; the user and the administrator's files stay
echo "# the administrator's" >/etc/net4mqtt/extra.conf
dpkg --purge net4mqtt >"$out/purge.log" 2>&1
rc=$?
check "dpkg --purge net4mqtt (rc $rc)" test -z "$(pkg_status)" -o "$(pkg_status)" = not-installed
check "purge keeps the system user and group net4mqtt" \
	bash -c 'getent passwd net4mqtt >/dev/null && getent group net4mqtt >/dev/null'
check "purge keeps /etc/net4mqtt/extra.conf and the instances' files" \
	test -f /etc/net4mqtt/extra.conf -a -f "/etc/net4mqtt/$name.conf"
check "purge removes the conffile $main" test ! -e "$main"
check "purge removes /usr/sbin/net4mqtt and the units" \
	test ! -e /usr/sbin/net4mqtt -a ! -e /lib/systemd/system/net4mqtt.service -a ! -e /lib/systemd/system/net4mqtt@.service
finish
