#!/usr/bin/env bash
# demo.sh - the main job on the local development stack, from nothing.
#
# Usage: scripts/demo.sh        run the demo
#        scripts/demo.sh stop   stop the demo's daemons and stack
#
# Installs what is missing, builds lasync, starts the *demo* instance of the
# development stack (Kafka, Redis, the SCIM portal, the LAS simulator) from
# a clean state, registers a tenant for the ParnasSys example school
# (fixtures/las/parnassys/99ZZ), starts the four daemons, syncs the school
# into the portal, and prints what the portal now holds: users by kind, and
# groups with their members.  The stack keeps running afterwards so the
# portal can be inspected (URLs printed at the end); the daemons are stopped.
#
# The example school's data are of the 2026/2027 school year, so the sync
# runs as of 2026-11-29 whatever today's date is.
#
# scripts/test.sh runs the demo too, on the test instance with the test
# build: LASYNC_DEMO_INSTANCE (demo), LASYNC_DEMO_BUILD (release) and
# LASYNC_DEMO_PORT (19101, the first daemon's /healthz port) say where.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
INSTANCE=${LASYNC_DEMO_INSTANCE:-demo}
STATE="$ROOT/.local/stack/$INSTANCE"
RUN="$STATE/daemons"
AS_OF=2026-11-29

stop_daemons() {
	[ -d "$RUN" ] || return 0
	for f in "$RUN"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		kill -TERM "$pid" 2>/dev/null || true
	done
	for f in "$RUN"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		rm -f "$f"
	done
}

if [ "${1:-}" = stop ]; then
	stop_daemons
	scripts/stack.sh stop --instance "$INSTANCE"
	exit 0
fi

say() { printf '\n== %s\n' "$*"; }

say "installing what is missing"
scripts/deps.sh

say "building lasync"
BUILD=$(scripts/build.sh "${LASYNC_DEMO_BUILD:-release}" | tail -n 1)
BIN_CTL="$BUILD/tools/lasyncctl/lasyncctl"

say "starting the development stack ($INSTANCE instance, clean state)"
stop_daemons
scripts/stack.sh reset --instance "$INSTANCE" >/dev/null
unset LASYNC_LASSIM_FIXTURES
scripts/stack.sh start --instance "$INSTANCE"
eval "$(scripts/stack.sh env --instance "$INSTANCE")"
export LASYNC_TOPIC_PREFIX=lasync
export LASYNC_DEMO_LAS_KEY
LASYNC_DEMO_LAS_KEY=$(tr -d '\n' <fixtures/las/parnassys/99ZZ/leveranciersleutel)

say "registering tenant 'delinde' (BRIN 99ZZ-00, ParnasSys)"
mkdir -p "$RUN"
cat >"$RUN/delinde.json" <<JSON
{
  "tenant_id": "delinde",
  "brand": "basisonline",
  "brin": "99ZZ",
  "dependance": "00",
  "las": {
    "vendor": "parnassys",
    "endpoint": "$LASYNC_LASSIM_URL/parnassys",
    "key_ref": "env:LASYNC_DEMO_LAS_KEY",
    "leveranciernaam": "BasisOnline"
  },
  "portal": {
    "base_url": "$LASYNC_PORTAL_URL/delinde/v2",
    "token_ref": "env:LASYNC_PORTAL_TOKEN"
  },
  "manager_emails": ["ict@delinde.example.nl"]
}
JSON
"$BIN_CTL" topics ensure
"$BIN_CTL" tenant put "$RUN/delinde.json"

say "starting lasync-fetcher, lasync-mapper, lasync-applier, lasync-notifier"
trap stop_daemons EXIT
port=${LASYNC_DEMO_PORT:-19101}
for svc in "fetcher --vendor parnassys" "mapper --vendor parnassys" applier notifier; do
	name=${svc%% *}
	# shellcheck disable=SC2086
	"$BUILD/services/$name/lasync-$name" ${svc#"$name"} --http-port "$port" \
		>"$RUN/$name.log" 2>&1 &
	echo $! >"$RUN/$name.pid"
	for _ in $(seq 100); do
		curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
		kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null ||
			{ tail -n 20 "$RUN/$name.log" >&2; echo "demo.sh: lasync-$name did not start" >&2; exit 1; }
		sleep 0.1
	done
	echo "  lasync-$name  /healthz /metrics on 127.0.0.1:$port  (log $RUN/$name.log)"
	port=$((port + 1))
done

say "syncing the school (as of $AS_OF)"
"$BIN_CTL" sync delinde --as-of "$AS_OF" --wait 120

say "what the portal holds now"
"$BIN_CTL" portal delinde

say "a second sync with an unchanged LAS"
"$BIN_CTL" sync delinde --as-of "$AS_OF" --wait 120

say "status"
"$BIN_CTL" status

cat <<EOF2

The stack is still running:
  portal (SCIM)  $LASYNC_PORTAL_URL/delinde/v2/Users   (Authorization: Bearer $LASYNC_PORTAL_TOKEN)
  LAS simulator  $LASYNC_LASSIM_URL
Stop it with: scripts/demo.sh stop
EOF2
