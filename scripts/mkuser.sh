#!/bin/sh
# scripts/mkuser.sh - print one sipedge users-file line (docs/registrar.md)
#
#   scripts/mkuser.sh USER REALM [PASSWORD] >> /etc/sipedge/users
#
# The line holds the MD5 and SHA-256 HA1 values of "USER:REALM:PASSWORD"
# (RFC 7616, RFC 8760), never the password. REALM is the served domain;
# it is written in lower case, as sipedge sends it in its challenges.
# Without PASSWORD the password is read from standard input (not echoed
# on a terminal), which keeps it out of the process list and history.
set -eu

usage() {
	echo "usage: $0 USER REALM [PASSWORD]" >&2
	echo "  (the password is read from standard input when omitted)" >&2
	exit 2
}

[ $# -eq 2 ] || [ $# -eq 3 ] || usage
user=$1
realm=$(printf '%s' "$2" | tr 'A-Z' 'a-z')
case $user in
'' | *[[:space:]]* | *@*)
	echo "$0: USER must be non-empty, without white space or '@'" >&2
	exit 2
	;;
esac
case $realm in
'' | *[[:space:]]*)
	echo "$0: REALM must be non-empty, without white space" >&2
	exit 2
	;;
esac
if [ $# -eq 3 ]; then
	pw=$3
elif [ -t 0 ]; then
	trap 'stty echo' EXIT INT TERM
	stty -echo
	printf 'password for %s@%s: ' "$user" "$realm" >&2
	IFS= read -r pw
	stty echo
	printf '\n' >&2
else
	IFS= read -r pw || true
fi
md5=$(printf '%s:%s:%s' "$user" "$realm" "$pw" | md5sum | cut -d' ' -f1)
sha=$(printf '%s:%s:%s' "$user" "$realm" "$pw" | sha256sum | cut -d' ' -f1)
printf '%s@%s md5:%s sha256:%s\n' "$user" "$realm" "$md5" "$sha"
