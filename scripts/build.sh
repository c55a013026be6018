#!/usr/bin/env bash
# build.sh - configure and build lasync.
#
# Usage: scripts/build.sh [asan|release|fuzz]
#
#   asan     Debug build with AddressSanitizer + UBSan and the unit tests,
#            in build/asan (what CI tests)
#   release  optimised build in build/release (what the demo runs)
#   fuzz     clang + libFuzzer targets in build/fuzz
#
# Prints the build directory on its last line.  Expects the dependencies of
# scripts/deps.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KIND=${1:-asan}
JOBS=$(nproc 2>/dev/null || echo 2)

case "$KIND" in
asan)
	DIR="$ROOT/build/asan"
	ARGS=(-DCMAKE_BUILD_TYPE=Debug -DLASYNC_SANITIZE=ON -DLASYNC_TESTS=ON)
	;;
release)
	DIR="$ROOT/build/release"
	ARGS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DLASYNC_TESTS=OFF)
	;;
fuzz)
	DIR="$ROOT/build/fuzz"
	ARGS=(-DCMAKE_BUILD_TYPE=Debug -DLASYNC_FUZZ=ON -DLASYNC_TESTS=OFF
		-DCMAKE_C_COMPILER=clang)
	;;
*)
	echo "usage: scripts/build.sh [asan|release|fuzz]" >&2
	exit 2
	;;
esac

mkdir -p "$ROOT/build"
LOG="$DIR.log"
if ! cmake -S "$ROOT" -B "$DIR" "${ARGS[@]}" >"$LOG" 2>&1; then
	tail -n 30 "$LOG" >&2
	echo "build.sh: cmake configure of $KIND failed (log: $LOG)" >&2
	exit 1
fi
TARGETS=()
if [ "$KIND" = fuzz ]; then
	# Only the fuzz targets: the libraries carry coverage instrumentation
	# there, which the daemons cannot link without libFuzzer's runtime.
	mapfile -t TARGETS < <(cmake --build "$DIR" --target help |
		grep -oE 'fuzz_[a-z0-9_]+' | sort -u)
	TARGETS=(--target "${TARGETS[@]}")
fi
if ! cmake --build "$DIR" -j "$JOBS" "${TARGETS[@]}" >>"$LOG" 2>&1; then
	grep -E 'error|warning' "$LOG" | head -n 40 >&2 || tail -n 40 "$LOG" >&2
	echo "build.sh: build of $KIND failed (log: $LOG)" >&2
	exit 1
fi
echo "$DIR"
