#!/usr/bin/env bash
# chaos.sh - the chaos suite alone, against the running test stack.
#
# Usage: scripts/chaos.sh [PYTEST-ARGS...]
#
# Each fault (SIGKILL of every daemon, Kafka and Redis restarts, a Redis
# flush, portal 500/429/timeouts, a failing LAS, two appliers rebalancing)
# is injected while several schools sync; the suite prints what it
# injected and what it verified.  It restarts Kafka and Redis of the test
# instance, so nothing else should use that instance meanwhile.  Bounded:
# pytest is stopped after 40 minutes.  scripts/test.sh runs it too.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/stack.sh start --instance test >/dev/null
eval "$(scripts/stack.sh env --instance test)"
export LASYNC_BUILD_DIR=${LASYNC_BUILD_DIR:-$ROOT/build/asan}
exec timeout --signal=INT 2400 .local/venv/bin/python -m pytest -q -p no:cacheprovider tests/chaos "$@"
