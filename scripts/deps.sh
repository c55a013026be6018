#!/usr/bin/env bash
# deps.sh - install everything lasync's build, tests and development stack need.
#
# Usage: scripts/deps.sh [--force]
#
# Idempotent and fast when already done (about a second): each step checks
# first and does nothing when its result is in place.
#
#   1. Debian packages (compilers, C libraries, Redis, kcat, Java 17, Maven,
#      curl): installed with apt-get, through sudo when not root, only those
#      dpkg-query reports missing; `apt-get update` runs only then.
#   2. Apache Kafka: the jars of scripts/kafka/pom.xml, copied by Maven from
#      Maven Central into .local/kafka/jars. Redone when the pom changes.
#   3. Python: a virtualenv in .local/venv with the pinned packages of
#      scripts/requirements.txt (scim2-server, aiosmtpd, pytest). Redone when
#      the requirements or the interpreter change.
#   4. Deployment checks: helm, kubeconform and the Kubernetes and KEDA
#      schemas they validate deploy/ against, offline, in
#      .local/deploy-tools (deploy/tools/install.sh; pinned versions).
#      Prometheus (promtool) comes with step 1.
#
# --force redoes steps 2 and 3. Nothing is installed outside .local/ except
# the Debian packages. LASYNC_PYTHON names the interpreter for the venv
# (default python3; Python >= 3.11 is required by scim2-server).
#
# Exit status: 0 when everything is in place; 1 with a message naming the
# failed step and its log file otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL="$ROOT/.local"
KAFKA_DIR="$LOCAL/kafka"
VENV="$LOCAL/venv"
POM="$ROOT/scripts/kafka/pom.xml"
REQUIREMENTS="$ROOT/scripts/requirements.txt"
FORCE=0

APT_PACKAGES=(
	build-essential cmake pkg-config clang libclang-rt-14-dev
	librdkafka-dev libhiredis-dev libcurl4-openssl-dev libprotobuf-c-dev
	protobuf-c-compiler libjansson-dev libcmocka-dev libmicrohttpd-dev
	libzstd-dev libssl-dev libxml2-dev
	redis-server kcat openssl tzdata ca-certificates curl maven
	prometheus
)

die() {
	echo "deps.sh: $*" >&2
	exit 1
}
say() { echo "deps.sh: $*"; }

# as_root - run a command as root: directly when root, else through sudo
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root for: $* (not root, and sudo is not installed)"
	fi
}

# python_ok - tell whether $1 is Python >= 3.11 with a working venv module
python_ok() {
	"$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' \
		>/dev/null 2>&1
}

# java_ok - tell whether `java` is Java 17 or newer
java_ok() {
	local version
	command -v java >/dev/null 2>&1 || return 1
	version=$(java -XshowSettings:properties -version 2>&1 |
		sed -n 's/^ *java\.specification\.version = //p')
	[ -n "$version" ] && [ "${version%%.*}" -ge 17 ] 2>/dev/null
}

# step_apt - install the Debian packages that are missing
step_apt() {
	local wanted=("${APT_PACKAGES[@]}") installed missing=() pkg
	java_ok || wanted+=(openjdk-17-jre-headless)
	# Debian's python3 lacks venv/ensurepip until python3-venv is installed.
	if ! python_ok "${LASYNC_PYTHON:-python3}"; then
		wanted+=(python3 python3-venv)
	fi
	# dpkg-query fails for a package it has never heard of: that one is missing.
	installed=$({ dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${wanted[@]}" \
		2>/dev/null || true; } | awk '$1 == "ii" { print $2 }')
	for pkg in "${wanted[@]}"; do
		grep -qx -- "$pkg" <<<"$installed" || missing+=("$pkg")
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		return 0
	fi
	say "apt: installing ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
		die "apt: 'apt-get update' failed"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt: 'apt-get install ${missing[*]}' failed"
	java_ok || die "apt: java 17 or newer is still not on PATH"
	command -v kcat >/dev/null || die "apt: kcat is still not on PATH"
}

# step_kafka - copy the broker's jars from Maven Central into .local/kafka/jars
step_kafka() {
	local want stamp="$KAFKA_DIR/jars.stamp" log="$KAFKA_DIR/maven.log"
	want=$(sha256sum "$POM" | cut -d' ' -f1)
	if [ "$FORCE" -eq 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
		compgen -G "$KAFKA_DIR/jars/kafka_2.13-*.jar" >/dev/null; then
		return 0
	fi
	say "kafka: fetching jars with Maven (log: $log)"
	mkdir -p "$KAFKA_DIR"
	rm -rf "$KAFKA_DIR/jars.new"
	if ! mvn -q -B -f "$POM" dependency:copy-dependencies \
		-DoutputDirectory="$KAFKA_DIR/jars.new" -DincludeScope=runtime \
		>"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "kafka: Maven could not fetch the jars; see $log"
	fi
	compgen -G "$KAFKA_DIR/jars.new/kafka_2.13-*.jar" >/dev/null ||
		die "kafka: Maven finished but no kafka_2.13 jar arrived; see $log"
	# Swap in whole, so a half-copied set never looks complete.
	rm -rf "$KAFKA_DIR/jars"
	mv "$KAFKA_DIR/jars.new" "$KAFKA_DIR/jars"
	echo "$want" >"$stamp"
}

# step_venv - build .local/venv with the pinned Python packages
step_venv() {
	local python="${LASYNC_PYTHON:-python3}" want stamp="$VENV/.lasync-stamp"
	local log="$LOCAL/pip.log"
	python_ok "$python" || {
		python=/usr/bin/python3
		python_ok "$python" || die "venv: no Python >= 3.11 with venv (tried ${LASYNC_PYTHON:-python3}, $python)"
	}
	want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) $("$python" -c \
		'import sys; print(sys.version.split()[0], sys.base_prefix)')"
	if [ "$FORCE" -eq 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
		"$VENV/bin/python" -c 'import scim2_server, aiosmtpd, pytest' >/dev/null 2>&1; then
		return 0
	fi
	say "venv: installing scripts/requirements.txt into .local/venv (log: $log)"
	mkdir -p "$LOCAL"
	# A venv is tied to its interpreter: rebuild rather than patch it.
	rm -rf "$VENV"
	"$python" -m venv "$VENV" >"$log" 2>&1 || die "venv: '$python -m venv' failed; see $log"
	if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input \
		-q -r "$REQUIREMENTS" >>"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "venv: pip install failed; see $log"
	fi
	"$VENV/bin/python" -m pip check >>"$log" 2>&1 ||
		die "venv: inconsistent packages (pip check); see $log"
	echo "$want" >"$stamp"
}

main() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--force) FORCE=1 ;;
		-h | --help)
			sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
			exit 0
			;;
		*) die "unknown argument '$1' (try --help)" ;;
		esac
		shift
	done

	mkdir -p "$LOCAL"
	# Two runs at once (a demo and a test run) must not both install.
	exec 9>"$LOCAL/deps.lock"
	flock -w 600 9 || die "another deps.sh has held $LOCAL/deps.lock for 10 minutes"

	step_apt
	step_kafka
	step_venv
	"$ROOT/deploy/tools/install.sh" || die "deploy tools: deploy/tools/install.sh failed"
	say "ok: Debian packages, Kafka jars in .local/kafka/jars, Python venv in .local/venv"
}

main "$@"
