#!/usr/bin/env bash
# fuzz.sh - run every libFuzzer target for a bounded time.
#
# Usage: scripts/fuzz.sh [SECONDS-PER-TARGET]   (default 60)
#
# Builds build/fuzz with clang (scripts/build.sh fuzz), then runs each
# tests/fuzz/fuzz_* target on a scratch copy of its seed corpus (the repo's
# corpus is never written to).  A crash, leak or sanitizer report fails the
# run; the reproducer is left in the scratch directory, whose path is printed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_PER=${1:-60}
DIR=$("$ROOT/scripts/build.sh" fuzz | tail -n 1)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lasync-fuzz.XXXXXX")
status=0
ran=0

for bin in "$DIR"/tests/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	ran=$((ran + 1))
	corpus_src="$ROOT/tests/fuzz/corpus/${name#fuzz_}"
	corpus="$WORK/$name"
	mkdir -p "$corpus"
	[ -d "$corpus_src" ] && cp -r "$corpus_src"/. "$corpus"/
	echo "fuzz.sh: $name for ${SECONDS_PER}s"
	if ! (cd "$WORK" && "$bin" -max_total_time="$SECONDS_PER" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 "$corpus" >"$WORK/$name.log" 2>&1); then
		tail -n 40 "$WORK/$name.log" >&2
		echo "fuzz.sh: $name failed; reproducer and log in $WORK" >&2
		status=1
	else
		grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$WORK/$name.log" | tail -n 2 || true
	fi
done
if [ "$ran" -eq 0 ]; then
	# a build that produced no target must not pass as "nothing crashed"
	echo "fuzz.sh: no fuzz_* target in $DIR/tests/fuzz; the fuzz build is broken" >&2
	status=1
fi
[ "$status" -eq 0 ] && rm -rf "$WORK"
exit "$status"
