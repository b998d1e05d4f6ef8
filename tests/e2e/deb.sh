#!/usr/bin/env bash
# The Debian package (make deb): builds, control fields, contents, man page, units.
exec "$(dirname "$0")/../../dist/test-deb.sh" "${N4M_BUILD:-build}"
