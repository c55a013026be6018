#!/usr/bin/env bash
# test.sh - every test of lasync, exactly as CI runs it (.ci/run calls this).
#
# Usage: scripts/test.sh [--fuzz-seconds N] [--no-chaos] [--keep-stack]
#                        [-- PYTEST-ARGS...]
#
#   1. install what is missing (scripts/deps.sh)
#   2. build with AddressSanitizer + UBSan (build/asan)
#   3. C unit tests (ctest -L unit)
#   4. the demo (scripts/demo.sh) on the test instance, checked
#      (LASYNC_TEST_INSTANCE=ci runs steps 4-7 on the ci instance instead)
#   5. start the *test* instance of the development stack from a clean
#      state (its own ports, so a running demo is not disturbed); its LAS
#      simulator serves a scratch copy of fixtures/las
#   6. Python unit, integration and end-to-end tests (pytest) against the
#      real Kafka, Redis, portal, SMTP sink and LAS simulator
#   7. the chaos suite (tests/chaos; restarts the test instance's Kafka and
#      Redis; left out with --no-chaos; PYTEST-ARGS do not apply to it)
#   8. libFuzzer targets, each for --fuzz-seconds (default 60)
#   9. stop the test stack (unless --keep-stack)
#
# Exits non-zero when anything fails; a missing component is a failure,
# never a skip.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
FUZZ_SECONDS=60
KEEP=0
CHAOS=1
# The stack instance the tests run on (scripts/stack.sh): test, or ci for a
# second run beside one on test.
INSTANCE=${LASYNC_TEST_INSTANCE:-test}
case "$INSTANCE" in
test) DEMO_PORT=29101 ;;
ci) DEMO_PORT=49101 ;;
*) echo "test.sh: LASYNC_TEST_INSTANCE must be test or ci" >&2; exit 2 ;;
esac
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

step "the demo, as the README gives it (on the test instance)"
# The same script a user runs, with the test build and the test instance's
# ports (a running demo is not disturbed); it must sync the example school
# and then show that an unchanged LAS writes nothing.
DEMO_OUT=$(mktemp)
LASYNC_DEMO_INSTANCE=$INSTANCE LASYNC_DEMO_BUILD=asan LASYNC_DEMO_PORT=$DEMO_PORT \
	scripts/demo.sh 2>&1 | tee "$DEMO_OUT"
grep -q ': ok (stage applier)' "$DEMO_OUT" &&
	grep -q ': ok (stage mapper)' "$DEMO_OUT" &&
	grep -q 'operations=0 skipped=0 failed=0 portal_writes=0' "$DEMO_OUT" &&
	grep -q 'parnassys:student:100001' "$DEMO_OUT" ||
	{ echo "test.sh: the demo did not sync the example school as it should" >&2; exit 1; }
rm -f "$DEMO_OUT"

step "test stack"
# A clean instance: its LAS simulator serves a fresh scratch copy of
# fixtures/las (see scripts/stack.sh), which tests may add schools to.
unset LASYNC_LASSIM_FIXTURES
scripts/stack.sh reset --instance "$INSTANCE" >/dev/null
if [ "$KEEP" -eq 0 ]; then
	trap 'scripts/stack.sh stop --instance "$INSTANCE" >/dev/null 2>&1 || true' EXIT
fi
scripts/stack.sh start --instance "$INSTANCE"
eval "$(scripts/stack.sh env --instance "$INSTANCE")"
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
