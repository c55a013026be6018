#!/usr/bin/env bash
# certs.sh - test certificates for ESIS over mutual TLS (dev stack, tests).
#
# Usage: scripts/certs.sh [--dir DIR] [--force]
#
# Makes, under DIR (default $LASYNC_CERTS_DIR, else .local/certs), what is
# missing or no longer what its name promises, and leaves the rest alone:
#
#   ca.pem ca.key                  the test CA ("lasync test CA", 10 years)
#   server.pem server.key          the LAS simulator's HTTPS certificate:
#                                  localhost and 127.0.0.1, signed by ca
#   client.pem client.key          a valid client certificate, signed by ca
#   client.enc.key                 the same key, encrypted with client.pass
#   client.p12 client.pass         the same certificate and key as PKCS#12,
#                                  protected by the password in client.pass
#   other-ca.pem other-ca.key      another CA, trusted by nobody
#   client-wrong.pem .key          a client certificate signed by other-ca
#   client-expired.pem .key        signed by ca, valid 2025-01-01 to
#                                  2026-01-01 (openssl ca -startdate/-enddate:
#                                  `req -x509 -days` cannot backdate)
#   client-expiring.pem .key       signed by ca, valid for 10 more days
#
# Idempotent and fast: a run that finds everything in place calls openssl
# only to check (about 0.3 s).  Redone: the CA when it expires within 30 days
# (and then everything it signed), a valid certificate within 30 days of its
# end, the expiring one when less than 2 days are left, anything that no
# longer verifies against its CA, and the PKCS#12 file when older than its
# certificate.  --force makes everything anew.  Concurrent runs on one DIR
# wait for each other.  Keys are EC P-256; key files are mode 600.  These
# are test credentials only: nothing here belongs in production.
#
# Exit status: 0 on success, 1 when openssl fails (its output is shown),
# 2 on a usage error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR="${LASYNC_CERTS_DIR:-$ROOT/.local/certs}"
FORCE=0
PROG=certs.sh
DAY=86400

die() {
	echo "$PROG: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case "$1" in
	--dir)
		[ $# -ge 2 ] || { echo "$PROG: --dir needs a value" >&2; exit 2; }
		DIR=$2
		shift
		;;
	--dir=*) DIR=${1#*=} ;;
	--force) FORCE=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
		exit 0
		;;
	*) echo "$PROG: unknown argument '$1' (usage: certs.sh [--dir DIR] [--force])" >&2; exit 2 ;;
	esac
	shift
done
command -v openssl >/dev/null 2>&1 || die "openssl is not installed; run scripts/deps.sh"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
exec 9>"$DIR/.lock"
flock -w 120 9 || die "another certs.sh has held $DIR/.lock for 2 minutes"

WORK=$(mktemp -d "$DIR/.work.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT
MADE=()

# run - an openssl command, quiet unless it fails
run() {
	if ! openssl "$@" >"$WORK/out" 2>&1; then
		cat "$WORK/out" >&2
		die "openssl $1 failed (see above)"
	fi
}

# valid_for - does the certificate exist and stay valid for $2 more seconds?
valid_for() { [ -s "$1" ] && openssl x509 -in "$1" -noout -checkend "$2" >/dev/null 2>&1; }

# signed_by - was certificate $1 signed by CA $2 (whatever the dates)?
signed_by() {
	[ -s "$1" ] && [ -s "$2" ] &&
		openssl verify -no_check_time -CAfile "$2" "$1" >/dev/null 2>&1
}

# new_key - an EC P-256 key, mode 600
new_key() {
	(umask 077 && run genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1")
}

# new_ca NAME CN - a self-signed CA, 10 years
new_ca() {
	new_key "$WORK/$1.key"
	run req -x509 -new -key "$WORK/$1.key" -sha256 -days 3650 -subj "/O=lasync test/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" -out "$WORK/$1.pem"
	mv "$WORK/$1.key" "$DIR/$1.key"
	mv "$WORK/$1.pem" "$DIR/$1.pem"
	MADE+=("$1")
}

# sign NAME CA CN EXT DATES... - a key and a certificate for NAME signed with
# `openssl ca`, which (unlike `x509 -req` in OpenSSL 3.0) takes explicit
# start and end dates.  EXT: server or client.
sign() {
	local name=$1 ca=$2 cn=$3 ext=$4 db="$WORK/ca-$1"
	shift 4
	mkdir -p "$db"
	: >"$db/index.txt"
	openssl rand -hex 16 >"$db/serial"
	cat >"$db/ca.cnf" <<-EOF
		[ ca ]
		default_ca = test_ca
		[ test_ca ]
		database = $db/index.txt
		new_certs_dir = $db
		serial = $db/serial
		default_md = sha256
		policy = any_name
		unique_subject = no
		copy_extensions = none
		[ any_name ]
		organizationName = optional
		commonName = supplied
		[ server ]
		basicConstraints = critical,CA:FALSE
		keyUsage = critical,digitalSignature
		extendedKeyUsage = serverAuth
		subjectAltName = DNS:localhost,IP:127.0.0.1
		authorityKeyIdentifier = keyid
		[ client ]
		basicConstraints = critical,CA:FALSE
		keyUsage = critical,digitalSignature
		extendedKeyUsage = clientAuth
		authorityKeyIdentifier = keyid
	EOF
	new_key "$WORK/$name.key"
	run req -new -key "$WORK/$name.key" -subj "/O=lasync test/CN=$cn" -out "$db/req.csr"
	run ca -batch -notext -config "$db/ca.cnf" -cert "$DIR/$ca.pem" -keyfile "$DIR/$ca.key" \
		-extensions "$ext" -in "$db/req.csr" -out "$WORK/$name.pem" "$@"
	mv "$WORK/$name.key" "$DIR/$name.key"
	mv "$WORK/$name.pem" "$DIR/$name.pem"
	MADE+=("$name")
}

# utc - a UTC time N seconds from now, in openssl ca's YYYYMMDDHHMMSSZ form
utc() { date -u -d "@$(($(date +%s) + $1))" +%Y%m%d%H%M%SZ; }

# ensure_leaf NAME CA MIN_SECONDS CN EXT DATES... - remake NAME unless it is
# signed by CA and valid for MIN_SECONDS more (MIN_SECONDS "-": any dates)
ensure_leaf() {
	local name=$1 ca=$2 min=$3
	shift 3
	if [ "$FORCE" -eq 0 ] && signed_by "$DIR/$name.pem" "$DIR/$ca.pem" && [ -s "$DIR/$name.key" ] &&
		{ [ "$min" = - ] || valid_for "$DIR/$name.pem" "$min"; }; then
		return 0
	fi
	sign "$name" "$ca" "$@"
}

for ca in ca other-ca; do
	if [ "$FORCE" -eq 1 ] || [ ! -s "$DIR/$ca.key" ] || ! valid_for "$DIR/$ca.pem" $((30 * DAY)); then
		new_ca "$ca" "lasync test $([ $ca = ca ] && echo CA || echo 'other CA')"
	fi
done

ensure_leaf server ca $((30 * DAY)) localhost server -startdate "$(utc -3600)" -days 825
ensure_leaf client ca $((30 * DAY)) lasync-esis-client client -startdate "$(utc -3600)" -days 825
ensure_leaf client-wrong other-ca $((30 * DAY)) lasync-esis-client-wrong client \
	-startdate "$(utc -3600)" -days 825
ensure_leaf client-expired ca - lasync-esis-client-expired client \
	-startdate 20250101000000Z -enddate 20260101000000Z
# The expiring one: 10 days from when it is made, remade when under 2 days.
ensure_leaf client-expiring ca $((2 * DAY)) lasync-esis-client-expiring client \
	-startdate "$(utc -3600)" -enddate "$(utc $((10 * DAY)))"

# client.pass, client.enc.key and client.p12 follow client.pem.
if [ ! -s "$DIR/client.pass" ]; then
	(umask 077 && echo "test-$(openssl rand -hex 8)" >"$DIR/client.pass")
	MADE+=(client.pass)
fi
if [ "$FORCE" -eq 1 ] || [ ! -s "$DIR/client.p12" ] || [ "$DIR/client.pem" -nt "$DIR/client.p12" ] ||
	[ "$DIR/client.pass" -nt "$DIR/client.p12" ]; then
	(umask 077 && run pkcs12 -export -in "$DIR/client.pem" -inkey "$DIR/client.key" \
		-certfile "$DIR/ca.pem" -name lasync-esis-client -passout "file:$DIR/client.pass" \
		-out "$WORK/client.p12")
	mv "$WORK/client.p12" "$DIR/client.p12"
	MADE+=(client.p12)
fi
if [ "$FORCE" -eq 1 ] || [ ! -s "$DIR/client.enc.key" ] || [ "$DIR/client.key" -nt "$DIR/client.enc.key" ] ||
	[ "$DIR/client.pass" -nt "$DIR/client.enc.key" ]; then
	(umask 077 && run pkey -in "$DIR/client.key" -aes-256-cbc -passout "file:$DIR/client.pass" \
		-out "$WORK/client.enc.key")
	mv "$WORK/client.enc.key" "$DIR/client.enc.key"
	MADE+=(client.enc.key)
fi

if [ "${#MADE[@]}" -gt 0 ]; then
	echo "$PROG: made ${MADE[*]} in $DIR" >&2
fi
