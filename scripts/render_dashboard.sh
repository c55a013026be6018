#!/usr/bin/env bash
# render_dashboard.sh - render deploy/grafana/lasync.json's panels from a real
# run of the development stack into docs/images/, and measure the daemons'
# memory for the Helm chart's resource requests.
#
# Usage: scripts/render_dashboard.sh [--instance demo|test] [--students N]
#                                    [--out DIR] [--sizing FILE]
#
#   1. scripts/deps.sh (Prometheus, matplotlib, ...), scripts/build.sh
#      release (RSS is measured without sanitizers), unless LASYNC_BUILD_DIR
#      names a build to use
#   2. starts the stack instance (default demo; idempotent) and loads its
#      environment
#   3. scripts/render_dashboard.py: the daemons under their own topic
#      prefix, a Prometheus scraping them every 2 s, a scripted run (two
#      2,000-student schools, a burst, a quarantine, a held sync, a dead
#      letter, a suggestion e-mail), each panel's PromQL through Prometheus'
#      HTTP API, plotted into DIR (default docs/images) as
#      dashboard-<panel>.png plus dashboard.png; peak RSS per daemon to
#      --sizing (default docs/images/sizing.json)
#
# Takes about 10 minutes on 2 cores. Leaves the stack running.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
INSTANCE=${LASYNC_STACK_INSTANCE:-demo}
ARGS=()
SIZING="$ROOT/docs/images/sizing.json"
while [ $# -gt 0 ]; do
	case "$1" in
	--instance) INSTANCE=$2; shift 2 ;;
	--students | --out) ARGS+=("$1" "$2"); shift 2 ;;
	--sizing) SIZING=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) echo "render_dashboard.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
done

scripts/deps.sh
if [ -z "${LASYNC_BUILD_DIR:-}" ]; then
	LASYNC_BUILD_DIR=$(scripts/build.sh release | tail -n 1)
fi
export LASYNC_BUILD_DIR
scripts/stack.sh start --instance "$INSTANCE"
eval "$(scripts/stack.sh env --instance "$INSTANCE")"
exec .local/venv/bin/python scripts/render_dashboard.py --sizing "$SIZING" "${ARGS[@]}"
