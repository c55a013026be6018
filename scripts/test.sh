#!/usr/bin/env bash
# test.sh - every test of lasync, exactly as CI runs it (.ci/run calls this).
#
# Usage: scripts/test.sh [--fuzz-seconds N] [--no-chaos] [--keep-stack]
#                        [-- PYTEST-ARGS...]
#
#   1. install what is missing (scripts/deps.sh)
#   2. build with AddressSanitizer + UBSan (build/asan)
#   3. C unit tests (ctest -L unit)
#   4. start the *test* instance of the development stack from a clean
#      state (its own ports, so a running demo is not disturbed); its LAS
#      simulator serves a scratch copy of fixtures/las
#   5. Python unit, integration and end-to-end tests (pytest) against the
#      real Kafka, Redis, portal, SMTP sink and LAS simulator
#   6. the chaos suite (tests/chaos; restarts the test instance's Kafka and
#      Redis; left out with --no-chaos; PYTEST-ARGS do not apply to it)
#   7. libFuzzer targets, each for --fuzz-seconds (default 60)
#   8. stop the test stack (unless --keep-stack)
#
# Exits non-zero when anything fails; a missing component is a failure,
# never a skip.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
FUZZ_SECONDS=60
KEEP=0
CHAOS=1
PYTEST_ARGS=()
while [ $# -gt 0 ]; do
	case "$1" in
	--fuzz-seconds) FUZZ_SECONDS=$2; shift 2 ;;
	--keep-stack) KEEP=1; shift ;;
	--no-chaos) CHAOS=0; shift ;;
	--) shift; PYTEST_ARGS=("$@"); break ;;
	*) echo "usage: scripts/test.sh [--fuzz-seconds N] [--no-chaos] [--keep-stack] [-- PYTEST-ARGS...]" >&2; exit 2 ;;
	esac
done

step() { printf '\n== %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }
T0=$(date +%s)

step "dependencies"
scripts/deps.sh

step "build: ASan + UBSan"
BUILD=$(scripts/build.sh asan | tail -n 1)

step "C unit tests"
ctest --test-dir "$BUILD" -L unit --output-on-failure -j 2

step "test stack"
# A clean instance: its LAS simulator serves a fresh scratch copy of
# fixtures/las (see scripts/stack.sh), which tests may add schools to.
unset LASYNC_LASSIM_FIXTURES
scripts/stack.sh reset --instance test >/dev/null
if [ "$KEEP" -eq 0 ]; then
	trap 'scripts/stack.sh stop --instance test >/dev/null 2>&1 || true' EXIT
fi
scripts/stack.sh start --instance test
eval "$(scripts/stack.sh env --instance test)"
export LASYNC_BUILD_DIR="$BUILD"

step "Python unit, integration and end-to-end tests"
.local/venv/bin/python -m pytest -q -p no:cacheprovider tests/unit_py tests/integration tests/e2e \
	"${PYTEST_ARGS[@]}"

if [ "$CHAOS" -eq 1 ]; then
	step "chaos suite"
	# Last of the stack tests: it restarts Kafka and Redis of the test
	# instance.  Bounded like scripts/chaos.sh.
	timeout --signal=INT 2400 .local/venv/bin/python -m pytest -q -s \
		-p no:cacheprovider tests/chaos
fi

if [ "$FUZZ_SECONDS" -gt 0 ]; then
	step "fuzzing (${FUZZ_SECONDS}s per target)"
	scripts/fuzz.sh "$FUZZ_SECONDS"
fi

step "all tests passed in $(( $(date +%s) - T0 ))s"
