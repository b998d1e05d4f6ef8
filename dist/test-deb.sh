#!/usr/bin/env bash
# Checks the Debian package: it builds, its control fields and contents,
# the man page renders without warnings and names every option the binary
# prints, the systemd units verify. Prints PASS:/FAIL:/SKIP: lines and exits
# non-zero on any FAIL.
#
#   dist/test-deb.sh build
set -u
build=${1:?usage: $0 BUILD_DIR}
dist=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$build" && pwd)/net4mqtt
man_page=$dist/net4mqtt.8
fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
skip() { echo "SKIP: $*"; }
check() { # description command...
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
have() { command -v "$1" >/dev/null; }

out=$(mktemp -d "/tmp/n4m-deb-test.$$.XXXX")
trap 'rm -rf "$out"' EXIT

[ -x "$bin" ] || { fail "no binary at $bin (make first)"; exit 1; }
version=$("$bin" -V | awk '{ print $2 }')
arch=$(dpkg --print-architecture)

# --- the package builds
if "$dist/build-deb.sh" "$bin" "$version" "$out" >"$out/build.log" 2>&1; then
	deb=$(tail -n 1 "$out/build.log")
	check "package builds: $(basename "$deb")" \
		[ "$deb" = "$out/net4mqtt_${version}_$arch.deb" -a -f "$deb" ]
else
	fail "package builds"
	sed 's/^/    | /' "$out/build.log"
	exit 1
fi
staging=$out/net4mqtt_${version}_$arch

# --- control fields
field() { dpkg-deb -f "$deb" "$1"; }
check "Package: net4mqtt" [ "$(field Package)" = net4mqtt ]
check "Version: $version" [ "$(field Version)" = "$version" ]
check "Architecture: $arch" [ "$(field Architecture)" = "$arch" ]
depends=$(field Depends)
check "Depends has libmosquitto1 ($depends)" grep -Eq '(^|, )libmosquitto1 \(>= ' <<<"$depends"
check "Depends has libevent" grep -Eq '(^|, )libevent-[^ ]* \(>= ' <<<"$depends"
check "Depends has libc6" grep -Eq '(^|, )libc6 \(>= ' <<<"$depends"
check "Recommends: mosquitto" [ "$(field Recommends)" = mosquitto ]
check "Installed-Size is set" grep -Eq '^[1-9][0-9]*$' <<<"$(field Installed-Size)"
check "conffiles lists /etc/net4mqtt/net4mqtt.conf" \
	grep -qx /etc/net4mqtt/net4mqtt.conf "$staging/DEBIAN/conffiles"
script_ok() { [ -x "$1" ] && sh -n "$1"; }
for s in postinst prerm postrm; do
	check "$s is executable and parses" script_ok "$staging/DEBIAN/$s"
done

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
copyright_license() { dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/doc/net4mqtt/copyright | grep -x 'License: Expat'; }
check "copyright: the MIT (Expat) license of LICENSE" copyright_license
check "contents: examples/acl" has_file -rw-r--r-- usr/share/doc/net4mqtt/examples/acl
all_root() { ! awk '$2 != "root/root"' <<<"$contents" | grep -q .; }
stripped() { ! readelf -S "$1" | grep -qF .symtab; }
check "every file is root's" all_root
check "binary is stripped" stripped "$staging/usr/sbin/net4mqtt"

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

# --- systemd units, pointed at the staged binary and man page
if have systemd-analyze; then
	units=$out/units
	mkdir -p "$units"
	for u in net4mqtt.service net4mqtt@.service; do
		sed "s|/usr/sbin/net4mqtt|$staging/usr/sbin/net4mqtt|g" \
			"$staging/lib/systemd/system/$u" >"$units/$u"
	done
	if MANPATH=$staging/usr/share/man systemd-analyze verify "$units/net4mqtt.service" \
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
	check "shellcheck build-deb.sh test-deb.sh" shellcheck "$dist/build-deb.sh" "$dist/test-deb.sh"
	for s in postinst prerm postrm; do
		check "shellcheck $s" shellcheck -s sh "$staging/DEBIAN/$s"
	done
else
	skip "shellcheck missing"
fi

# --- lintian: errors other than the placeholder maintainer address
if have lintian; then
	errors=$(lintian --allow-root -E "$deb" 2>/dev/null | grep '^E:' | grep -v 'bogus-mail-host')
	check "lintian: no errors${errors:+ ($errors)}" [ -z "$errors" ]
else
	skip "lintian missing"
fi

[ "$fails" -eq 0 ]
