#!/usr/bin/env bash
# run.sh - lasync's benchmarks (BENCHMARKS.md): they print numbers, they
# are not pass/fail tests.
#
# Usage: bench/run.sh mapper|applier|pipeline|memory|all [-- ARGS...]
#
#   mapper    bench_mapper: parse + normalise + rules + diff against the bare
#             libxml2 reader on the same bytes, for national-sample schools
#             of both vendors (first import, steady state, 1%, year)
#   applier   the applier's first import through Kafka, Redis and SCIM
#             against scimload sending the same writes to the same portal
#   pipeline  the sweep: 1,000 schools through the four daemons, four runs
#             (first import, steady state, 1% changes, year transition),
#             each against kcat moving the same snapshots
#   memory    each daemon's peak RSS for 1, 100 and 1,000 tenants, and for
#             one school of growing size
#   all       the four in that order
#
# ARGS go to the benchmark (bench/pipeline.py's options for the last three,
# e.g. `bench/run.sh pipeline -- --schools 200`; bench_mapper's for mapper:
# `-- --reps 9`).  Everything is built first (release, in build/bench) and
# the bench instance of the stack (scripts/stack.sh --instance bench, 39xxx
# ports) is started; it keeps running afterwards (stop it with
# `scripts/stack.sh stop --instance bench`).  Results: key=value lines on
# stdout, JSON and daemon logs under .local/bench/results.  Each benchmark
# waits (up to 30 minutes) for the machine's 1-minute load to fall below 1.0
# before it measures, and records the load with every number.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build/bench"
WORK="$ROOT/.local/bench"
PY="$ROOT/.local/venv/bin/python"

usage() {
	echo "usage: bench/run.sh mapper|applier|pipeline|memory|all [-- ARGS...]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
WHAT=$1
shift
if [ $# -gt 0 ]; then
	[ "$1" = -- ] || usage
	shift
fi
case "$WHAT" in mapper | applier | pipeline | memory | all) ;; *) usage ;; esac

say() { echo "run.sh: $*" >&2; }

# build - the release tree with the benchmark programs
build() {
	"$ROOT/scripts/deps.sh" >&2
	mkdir -p "$BUILD" "$WORK"
	if ! cmake -S "$ROOT/bench" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		>"$WORK/build.log" 2>&1 ||
		! cmake --build "$BUILD" -j "$(nproc)" >>"$WORK/build.log" 2>&1; then
		tail -n 30 "$WORK/build.log" >&2
		say "build failed (log: $WORK/build.log)"
		exit 1
	fi
}

machine() {
	local cpu
	cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
	echo "machine cpu=\"$cpu\" cores=$(nproc) ram_mb=$(free -m | awk '/Mem:/ {print $2}')" \
		"kernel=$(uname -r) load=\"$(cut -d' ' -f1-3 /proc/loadavg)\" date=$(date -u +%FT%TZ)"
}

# wait_quiet - until the 1-minute load is below 1.0 (at most 30 minutes)
wait_quiet() {
	local i
	for i in $(seq 60); do
		awk '{exit !($1 < 1.0)}' /proc/loadavg && return 0
		say "load $(cut -d' ' -f1 /proc/loadavg) >= 1.0; waiting"
		sleep 30
	done
	say "measuring at load $(cut -d' ' -f1 /proc/loadavg) (did not fall below 1.0)"
}

# mapper - the national sample's schools of a few sizes, both vendors
mapper() {
	local fx=$WORK/fixtures/mapper cases=() v dir dep students
	if [ ! -f "$fx/yt/schools.tsv" ]; then
		rm -rf "$fx"
		for variant in base:"" c1:"--change-rate 0.01" yt:"--year-transition"; do
			# shellcheck disable=SC2086 # the flags split on purpose
			python3 "$ROOT/tools/lasgen/lasgen.py" national --schools 40 --seed 11 \
				--out "$fx/${variant%%:*}" ${variant#*:} 2>/dev/null
		done
	fi
	# The largest school, the smallest, and one of median size per vendor.
	while read -r v brin dep students; do
		dir=$brin
		[ "$v" = esis ] && dir=$brin$dep
		cases+=("$v-$students-first=$v:$fx/base/$v/$dir:2026-11-16"
			"$v-$students-steady=$v:$fx/base/$v/$dir:2026-11-16:$fx/base/$v/$dir:2026-11-16"
			"$v-$students-change1=$v:$fx/c1/$v/$dir:2026-11-16:$fx/base/$v/$dir:2026-11-16"
			"$v-$students-year=$v:$fx/yt/$v/$dir:2027-09-15:$fx/c1/$v/$dir:2026-11-16")
	done < <(python3 - "$fx/base/schools.tsv" <<'EOF'
import sys
rows = [l.split("\t") for l in open(sys.argv[1]) if not l.startswith("#")]
for vendor in ("parnassys", "esis"):
    mine = sorted((int(r[3]), r[1], r[2]) for r in rows if r[0] == vendor)
    for s, brin, dep in sorted({mine[0], mine[len(mine) // 2], mine[-1]}):
        print(vendor, brin, dep, s)
EOF
	)
	wait_quiet
	machine
	"$BUILD/bench_mapper" "$@" "${cases[@]}"
	machine
}

stack() {
	"$ROOT/scripts/stack.sh" start --instance bench >&2
}

build
case "$WHAT" in
mapper) mapper "$@" ;;
applier | pipeline | memory)
	stack
	machine
	sub=$WHAT
	[ "$WHAT" = pipeline ] && sub=sweep
	"$PY" "$ROOT/bench/pipeline.py" "$sub" "$@"
	machine
	;;
all)
	mapper
	stack
	for sub in applier sweep memory; do
		machine
		"$PY" "$ROOT/bench/pipeline.py" "$sub"
	done
	machine
	;;
esac
